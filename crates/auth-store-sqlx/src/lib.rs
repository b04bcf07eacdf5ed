//! `UserStore` and `TokenStore` for tortoise-auth on [sqlx]: embedded SQLite by default.
//!
//! This crate persists users, sessions and token digests for `auth-core`'s traits
//! ([`UserStore`](auth_core::UserStore), [`TokenStore`](auth_core::TokenStore)). It runs its
//! own tiny versioned migrations, never uses the database's clock (every time comes from the
//! caller's injectable clock), builds every statement once per store with bound parameters,
//! and passes `auth-core`'s store conformance suite.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `sqlite` | yes | [`SqliteStore`], on a bundled `libsqlite3` (no system library needed) |
//!
//! PostgreSQL and MySQL backends will come as features `postgres` and `mysql`; each adds a
//! module with its SQL, sharing the backend-neutral parts (row decoding, the migration
//! runner's logic, name validation, [`UserTable`]).
//!
//! # Connection URLs (`sqlite`)
//!
//! | URL | database |
//! | --- | --- |
//! | `sqlite::memory:` or `sqlite://:memory:` | private, in memory, one connection that never expires: lives as long as the store |
//! | `sqlite://auth.db`, `sqlite:auth.db`, `sqlite:///abs/path/auth.db` | a file, created if missing; WAL, `synchronous = NORMAL`, `busy_timeout` 5 s, foreign keys on, a pool of 4 connections |
//!
//! For anything else (more connections, another `synchronous`), build an
//! [`sqlx::SqlitePool`] yourself (with foreign keys on, sqlx's default) and use
//! [`SqliteStore::from_pool`].
//!
//! # Schema
//!
//! [`SqliteStore::migrate`] creates, in one `BEGIN IMMEDIATE` transaction:
//!
//! ```sql
//! -- only if the application has no such table (see "The user table" below)
//! CREATE TABLE users (
//!   id INTEGER PRIMARY KEY AUTOINCREMENT,   -- or: id TEXT(36) NOT NULL PRIMARY KEY (IdKind::Uuid)
//!   email TEXT NOT NULL UNIQUE,
//!   password TEXT NOT NULL DEFAULT '',
//!   last_login DATETIME NULL,
//!   is_active BOOLEAN NOT NULL DEFAULT 1,
//!   is_verified BOOLEAN NOT NULL DEFAULT 0,
//!   joined_at DATETIME NULL,
//!   created_at DATETIME NOT NULL,
//!   updated_at DATETIME NOT NULL
//!   -- , UserTable::extra_columns
//! );
//! CREATE TABLE {prefix}auth_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL);
//! -- version 1
//! CREATE TABLE {prefix}auth_sessions (
//!   id TEXT NOT NULL PRIMARY KEY,           -- 32 hex digits
//!   user_id <key type> NOT NULL,            -- INTEGER, or TEXT for UUID keys
//!   created_at_us INTEGER NOT NULL,         -- unix microseconds
//!   refreshed_at_us INTEGER NULL,
//!   expires_at_us INTEGER NOT NULL,
//!   revoked_at_us INTEGER NULL
//! ) WITHOUT ROWID;
//! CREATE INDEX {prefix}auth_sessions_user_id ON {prefix}auth_sessions (user_id, created_at_us);
//! CREATE TABLE {prefix}auth_tokens (
//!   digest BLOB NOT NULL PRIMARY KEY,       -- 32 bytes: only the digest, never the token
//!   kind INTEGER NOT NULL,                  -- TokenKind::code()
//!   session_id TEXT NULL REFERENCES {prefix}auth_sessions (id) ON DELETE CASCADE,
//!                                           -- NULL for single-use tokens
//!   user_id <key type> NOT NULL,
//!   expires_at_us INTEGER NOT NULL,
//!   spent_at_us INTEGER NULL
//! ) WITHOUT ROWID;
//! CREATE INDEX {prefix}auth_tokens_session_id ON {prefix}auth_tokens (session_id);
//! ```
//!
//! Token and session times are unix microseconds (sub-microsecond precision is dropped);
//! user-table times are sqlx's `time` encoding (RFC 3339 text, UTC). UUID keys are
//! hyphenated text. The table prefix ([`SqliteStore::with_table_prefix`], empty by default)
//! lets several stores share one database.
//!
//! # The user table
//!
//! The application owns its user table, described by a [`UserTable`]: its name, its key
//! column and the key's [`IdKind`](auth_core::IdKind). The library reads and writes only the
//! key and eight columns: `email`, `password`, `last_login`, `is_active`, `is_verified`,
//! `joined_at`, `created_at`, `updated_at`. Any other column (display name, role, phone) is
//! the application's: never read, never written, never altered or dropped; an insert by the
//! library leaves them to their SQL defaults, so give them one (or make them nullable).
//!
//! - If the table does not exist, `migrate` creates it as above, with the application's
//!   [`UserTable::extra_columns`].
//! - If it exists (the application made it with its own DDL), `migrate` checks that the
//!   key and the eight columns exist and otherwise fails with
//!   [`StoreErrorKind::Schema`](auth_core::StoreErrorKind::Schema), naming every missing
//!   column in the error's source. It never alters the table.
//! - For integer keys, declare `INTEGER PRIMARY KEY AUTOINCREMENT` (as `migrate` does): a
//!   reused id of a deleted user could otherwise inherit stale session rows. For UUID keys
//!   the library generates a v4 UUID on `create_user`.
//! - Names must match `^[A-Za-z_][A-Za-z0-9_]{0,40}$` (and the prefix too, or be empty):
//!   anything else is a `Schema` error, so no SQL can come in through a name.
//!
//! # Errors
//!
//! Every failure is an [`auth_core::StoreError`] whose message names only the operation
//! (`create_user`, `find_access_token`, ...) and whose [`kind`](auth_core::StoreError::kind)
//! is portable: `UniqueViolation` (duplicate email, token digest or session id: inserts never
//! overwrite), `NotFound` (updating a user that does not exist), `Unavailable` (pool closed or
//! timed out, I/O, database locked past `busy_timeout`), `Schema` (tables or columns missing,
//! bad names), `Corrupt` (a row that does not decode), `Other`. The sqlx error is the
//! [`source`](std::error::Error::source).
//!
//! # Example
//!
//! ```
//! use auth_core::{IdKind, NewUser, OffsetDateTime, UserStore};
//! use auth_store_sqlx::{SqliteStore, UserTable};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = UserTable::new("users", IdKind::Integer)
//!     .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'");
//! let store = SqliteStore::connect("sqlite::memory:", users).await?;
//! store.migrate().await?;
//!
//! let now = OffsetDateTime::now_utc();
//! let user = store.create_user(&NewUser::new("ada@example.com")?, now).await?;
//! assert!(user.is_active && !user.is_verified);
//!
//! // The application's own columns stay the application's: use the pool for them.
//! let auth_core::UserId::Int(id) = user.id else { unreachable!() };
//! sqlx::query("UPDATE users SET display_name = ?1 WHERE id = ?2")
//!     .bind("Ada")
//!     .bind(id)
//!     .execute(store.pool())
//!     .await?;
//!
//! let creds = store.find_credentials_by_email("ada@example.com").await?.unwrap();
//! assert_eq!(creds.password_hash, ""); // no usable password until one is set
//! # Ok(())
//! # }
//! ```
mod codec;
mod error;
mod ident;
mod migrate;
#[cfg(feature = "sqlite")]
mod sqlite;
mod user_table;

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use user_table::UserTable;
