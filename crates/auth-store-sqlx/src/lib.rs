//! tortoise-auth's storage on [sqlx]: every storage trait of `auth-core` for SQLite,
//! PostgreSQL and MySQL/MariaDB, in one generic implementation.
//!
//! [`SqlxStore<B>`](SqlxStore) implements [`UserStore`](auth_core::UserStore),
//! [`CredentialStore`](auth_core::CredentialStore), [`SessionStore`](auth_core::SessionStore),
//! [`SingleUseTokenStore`](auth_core::SingleUseTokenStore),
//! [`ExpiredDeletion`](auth_core::ExpiredDeletion) and
//! [`RateLimiter`](auth_core::RateLimiter) with one body per method for every backend. What
//! differs per database sits in two small places: the SQL text per dialect (in the
//! driver-free `auth-sql` crate, shared with the tokio-postgres store) and the sealed
//! [`Backend`] trait (opening a pool, binding and decoding values, error codes).
//!
//! # Features
//!
//! | feature | default | adds | URLs |
//! | --- | --- | --- | --- |
//! | `sqlite` | yes | [`SqliteStore`] on a bundled `libsqlite3` | `sqlite::memory:`, `sqlite://path/auth.db`, `sqlite:auth.db` |
//! | `postgres` | no | [`PgStore`] (PostgreSQL 12+) | `postgres://user:pass@host:5432/db` (`?options=-c%20search_path%3Dmyschema` picks a schema) |
//! | `mysql` | no | [`MySqlStore`] (MySQL 8.0+, MariaDB 10.6+) | `mysql://user:pass@host:3306/db` |
//!
//! Each forwards to sqlx's feature of the same name. [`migrate_url`] picks the backend from
//! the URL's scheme among the enabled features (`cargo xtask migrate` uses it).
//!
//! # Connecting
//!
//! ```
//! use auth_core::{IdKind, NewUser, OffsetDateTime, UserStore};
//! use auth_store_sqlx::{SqliteStore, StoreOptions, UserTable};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = UserTable::new("users", IdKind::Integer)
//!     .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'");
//! let store = SqliteStore::connect_with(
//!     "sqlite::memory:",
//!     users,
//!     StoreOptions::default().table_prefix("app_"),
//! )
//! .await?;
//! store.migrate().await?;
//!
//! let now = OffsetDateTime::now_utc();
//! let user = store.create_user(&NewUser::new("Ada@Example.com")?, now).await?;
//! assert_eq!(user.email, "ada@example.com");
//!
//! // The application's own columns stay the application's: use the pool for them.
//! let auth_core::UserId::Int(id) = user.id else { unreachable!() };
//! sqlx::query("UPDATE users SET display_name = ?1 WHERE id = ?2")
//!     .bind("Ada")
//!     .bind(id)
//!     .execute(store.pool())
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`SqlxStore::connect`]`(url, users)` / [`SqlxStore::connect_with`]`(url, users,
//!   `[`StoreOptions`]`)`: opens a pool (options: `acquire_timeout`, default 3 s;
//!   `max_connections`; `table_prefix`). [`SqlxStore::from_pool`] wraps a pool you built;
//!   [`SqlxStore::with_table_prefix`] renames the library's tables; [`SqlxStore::pool`],
//!   [`SqlxStore::user_table`] give them back.
//! - Every pool is built with `test_before_acquire(false)` (no ping, one round trip per
//!   call) and the acquire timeout: a held or exhausted pool answers
//!   [`StoreErrorKind::Unavailable`] within it,
//!   never a hang.
//! - `sqlite::memory:` is a private database shared by the pool's one connection and a
//!   *keeper* connection the store holds for its whole life: the database lives exactly as
//!   long as the store (and its clones), whatever happens to pooled connections.
//! - A SQLite file gets a pool of 4 connections, WAL, `synchronous = NORMAL`,
//!   `busy_timeout` 5 s, foreign keys on.
//! - On SQLite, `find_access_token` and `session_status` (the `authenticate` hot path)
//!   run on the calling thread, on one of a few read-only `rusqlite` connections to the
//!   same database (one per CPU, `query_only`, `busy_timeout` 0, cached statement), not
//!   through the pool's worker thread; anything unusual (a lock, an error, a row only
//!   sqlx decodes) falls back to the pool. On a file they read the last commit; on an
//!   in-memory database they read with `read_uncommitted`, which can only fail closed
//!   (`docs/storage.md`). [`StoreOptions::fast_reads`]`(false)` turns it off.
//! - Every writing operation runs in a Tokio task of its own: dropping the caller's future
//!   (a client disconnect, a timeout) never cancels a transaction half-way; the operation
//!   completes or fails as a whole. The hot-path reads (`find_access_token`,
//!   `session_status`) run on the caller's task: a read has nothing to leave half-done. Deadlocks and serialization failures (PostgreSQL, MySQL) roll the
//!   transaction back and the operation runs again (up to 5 times).
//!
//! # Schema
//!
//! [`SqlxStore::migrate`] creates (or checks) the user table, then runs the library's
//! versioned migrations, recorded in `{prefix}auth_migrations`:
//!
//! | table | what | key |
//! | --- | --- | --- |
//! | `{prefix}auth_sessions` | one row per login: user, created/refreshed/expiry/absolute expiry/revocation times, client address, user agent, claims | `id`, 32 hex digits |
//! | `{prefix}auth_tokens` | access and refresh token digests of a session; spent time, successor digest and sealed successor of a rotated refresh token | `digest`, 32 bytes |
//! | `{prefix}auth_single_use_tokens` | password-reset and verification token digests of a user | `digest` |
//! | `{prefix}auth_rate_limits` | window start/end, attempts, lockout end per key | `rate_key` |
//!
//! Times of these tables are unix microseconds (`BIGINT`); every time comes from the
//! caller's clock, never the database's. Sessions reference the user table's key
//! `ON DELETE CASCADE`, tokens their session, single-use tokens their user. Per dialect:
//!
//! | | SQLite | PostgreSQL | MySQL / MariaDB |
//! | --- | --- | --- | --- |
//! | digests | `BLOB` | `BYTEA` | `BINARY(32)` |
//! | session ids | `TEXT` | `VARCHAR(32)` | `CHAR(32) ascii_bin` |
//! | user key of the library's tables | the key column's declared type | the key column's type (`format_type`) | the key column's `COLUMN_TYPE`, character set and collation |
//! | a created user table's key | `INTEGER PRIMARY KEY AUTOINCREMENT` / `TEXT` | `BIGINT GENERATED BY DEFAULT AS IDENTITY` / `UUID` | `BIGINT AUTO_INCREMENT` / `CHAR(36) ascii_bin` |
//! | a created user table's times | `DATETIME` (RFC 3339 text) | `TIMESTAMPTZ` | `DATETIME(6)`, UTC |
//! | folded-email index (created tables) | `UNIQUE (lower(email))` | `UNIQUE (lower(email COLLATE "C"))` | generated column `email_folded`, `UNIQUE` |
//! | engine | `WITHOUT ROWID` tables | | InnoDB |
//!
//! # The user table
//!
//! The application owns its user table, described by a [`UserTable`]: its name, its key
//! column and the key's [`IdKind`](auth_core::IdKind). The library reads and writes only
//! the key and eight columns: `email`, `password`, `last_login`, `is_active`,
//! `is_verified`, `joined_at`, `created_at`, `updated_at`. Any other column is the
//! application's: never read, never written, never altered; the library's inserts leave
//! them to their SQL defaults.
//!
//! - A missing table is created as above, with [`UserTable::extra_columns`].
//! - An existing table is checked: a missing library column fails with
//!   [`StoreErrorKind::Schema`] whose source names
//!   every missing column. It is never altered.
//! - The key must be the table's primary key (or unique): the library's foreign keys
//!   reference it, with the column's exact type read from the catalog. If they cannot be
//!   created (a MyISAM table, a non-unique key) `migrate` fails with `Schema`. With them,
//!   a user deleted by the application's own SQL takes its sessions and tokens along, so a
//!   reused integer key (SQLite `INTEGER PRIMARY KEY` without `AUTOINCREMENT`) never
//!   inherits a deleted user's tokens; [`UserStore::delete_user`](auth_core::UserStore::delete_user)
//!   also deletes them explicitly, in the same transaction.
//! - UUID keys: PostgreSQL `uuid`; MySQL and SQLite hyphenated text (`CHAR(36)`). The
//!   library generates a v4 UUID in `create_user`.
//! - User-table times: any timestamp type the driver reads as UTC (`TIMESTAMPTZ`,
//!   `TIMESTAMP`, `DATETIME`); booleans `BOOLEAN`/`TINYINT(1)`.
//! - Names must match `^[A-Za-z_][A-Za-z0-9_]{0,40}$` (the prefix too, or be empty):
//!   anything else is a `Schema` error, so no SQL can come in through a name.
//!
//! # Email case
//!
//! Callers pass the canonical email ([`auth_core::normalize_email`]: NFC, ASCII letters
//! lower-cased, other letters kept). The library writes canonical emails; lookups and the
//! uniqueness check of `create_user` compare the ASCII-folded stored email with it, so a
//! row written by other software as `Ada@Example.COM` is found by `ada@example.com` and
//! blocks a new account with that address. The folding is exactly Rust's
//! `to_ascii_lowercase` on every backend, verified against the live servers:
//!
//! - SQLite: `lower(email)` (ASCII-only without ICU).
//! - PostgreSQL: `lower(email COLLATE "C")`. Under the `C` collation `lower` maps only
//!   ASCII letters (`lower('É' COLLATE "C")` is `É`); plain `lower(email)` in a UTF-8 locale
//!   would map `É`, `İ` and others.
//! - MySQL/MariaDB: no collation is ASCII-only (`utf8mb4_general_ci` equates `é`, `É` and
//!   `e`, and `ß` with `s`; `LOWER()` maps `É`), so the folding is 26 nested `REPLACE`s
//!   over `CAST(email AS BINARY)`, compared with `CAST(? AS BINARY)`: byte-exact.
//!
//! Indexes: a table created by `migrate` gets a unique index on the folded form (SQLite,
//! PostgreSQL) or a unique generated column `email_folded` (MySQL). For an existing table,
//! add the same index yourself so lookups do not scan and the database enforces folded
//! uniqueness:
//!
//! ```sql
//! -- SQLite
//! CREATE UNIQUE INDEX users_email_folded ON users (lower(email));
//! -- PostgreSQL
//! CREATE UNIQUE INDEX users_email_folded ON users (lower(email COLLATE "C"));
//! -- MySQL 8.0.13+ (a functional index; the optimizer matches the lookup's expression)
//! ALTER TABLE users ADD UNIQUE INDEX users_email_folded ((REPLACE(...(CAST(email AS BINARY), 'A', 'a')..., 'Z', 'z')));
//! ```
//!
//! (The exact MySQL expression is [`auth_sql::Dialect::fold_ascii`]'s; print it with
//! `auth_sql::Dialect::Mysql.fold_ascii("email")`.) Existing duplicates that differ only
//! in ASCII case must be merged first (the index creation reports them); until then a
//! lookup returns the row whose stored email equals the canonical form exactly, else the
//! lowest key. On MariaDB, which cannot use an index on an expression (before 11.8), email
//! lookups scan the user table; the `email_folded` column of a created table still
//! enforces uniqueness.
//!
//! # Locking and concurrency
//!
//! - Write transactions: SQLite `BEGIN IMMEDIATE` (the write lock up front, so no
//!   transaction fails half-way with `SQLITE_BUSY`); PostgreSQL and MySQL row locks.
//! - `rotate_refresh_token` locks the token, its session and its successor
//!   (`FOR UPDATE OF k, s` on PostgreSQL, `FOR UPDATE` on MySQL), reads the user in the same
//!   transaction, and decides: of concurrent rotations of one token exactly one wins.
//! - `credentials_current` is a locking read (PostgreSQL `FOR SHARE`, MySQL
//!   `LOCK IN SHARE MODE`): it waits for an in-flight password change or deactivation of
//!   the row. SQLite reads the last committed state (writers are serialized).
//! - `create_session` with a cap locks the user row (`FOR UPDATE`) so two logins of one
//!   user cannot both keep the cap.
//! - The rate limiter counts and decides in one atomic upsert (SQLite/PostgreSQL
//!   `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`; MySQL `INSERT ... ON DUPLICATE KEY
//!   UPDATE` and a read in the same transaction).
//!
//! # Several instances on one database
//!
//! All state lives in the database: revocation on one instance is seen by the next call
//! on any other, and the rate limiter is shared. `migrate` is safe when several instances
//! start at once: it runs under a lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL
//! `pg_advisory_xact_lock` inside the migration transaction, MySQL `GET_LOCK` per database
//! and prefix, every DDL statement idempotent since MySQL commits DDL at once). Give
//! separate applications sharing one database separate table prefixes.
//!
//! # Errors
//!
//! Every failure is an [`auth_core::StoreError`] whose message names only the operation
//! (`create_user`, `find_access_token`, ...) and whose [`kind`](auth_core::StoreError::kind)
//! is portable; the sqlx error is the [`source`](std::error::Error::source):
//!
//! | kind | when |
//! | --- | --- |
//! | `UniqueViolation` | a duplicate email (in any ASCII case), token digest or session id: inserts never overwrite |
//! | `NotFound` | updating a user that does not exist; a session or token for a user that does not exist |
//! | `Unavailable` | pool timed out or closed, I/O, connection killed, server shutting down, SQLite busy past `busy_timeout`, lock wait timeout, deadlock after the retries |
//! | `Schema` | tables or columns missing (run `migrate`), bad names, a key that cannot be referenced |
//! | `Corrupt` | a row that does not decode |
//! | `Other` | anything else (a user id of the wrong kind, an over-long rate-limit key) |
//!
//! # Testing
//!
//! The crate's tests run every check on SQLite in memory, a SQLite file, PostgreSQL and
//! MySQL. PostgreSQL and MySQL read `AUTH_TEST_POSTGRES_URL` and `AUTH_TEST_MYSQL_URL`
//! (skipped with a notice when unset, a failure with `AUTH_TEST_REQUIRE_ALL=1`); each test
//! gets its own schema (PostgreSQL, `search_path` in the URL's `options`) or database
//! (MySQL). `tests/common/mod.rs` shows how to build an isolated, migrated store per test.
mod backend;
mod error;
#[cfg(feature = "sqlite")]
mod inline;
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
mod ops;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

use auth_core::{StoreError, StoreErrorKind};

pub use auth_sql::UserTable;
pub use backend::{Backend, BoxFuture, Connected};
pub use store::{DEFAULT_ACQUIRE_TIMEOUT, SqlxStore, StoreOptions};

/// The store on SQLite (feature `sqlite`, the default).
#[cfg(feature = "sqlite")]
pub type SqliteStore = SqlxStore<sqlx::Sqlite>;
/// The store on PostgreSQL (feature `postgres`).
#[cfg(feature = "postgres")]
pub type PgStore = SqlxStore<sqlx::Postgres>;
/// The store on MySQL or MariaDB (feature `mysql`).
#[cfg(feature = "mysql")]
pub type MySqlStore = SqlxStore<sqlx::MySql>;

/// Connects to `url` and runs the migrations for the user table `users` and the table
/// prefix `table_prefix`, picking the backend from the URL's scheme among the enabled
/// features (`sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`). Used by
/// `cargo xtask migrate`.
pub async fn migrate_url(
    url: &str,
    users: UserTable,
    table_prefix: &str,
) -> Result<(), StoreError> {
    let options = StoreOptions::default().table_prefix(table_prefix);
    let scheme = url.split(':').next().unwrap_or_default();
    let _ = (&users, &options);
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            SqliteStore::connect_with(url, users, options)
                .await?
                .migrate()
                .await
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            PgStore::connect_with(url, users, options)
                .await?
                .migrate()
                .await
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            MySqlStore::connect_with(url, users, options)
                .await?
                .migrate()
                .await
        }
        _ => Err(
            StoreError::new(StoreErrorKind::Other, "migrate_url").with_source(
                "no enabled backend for this URL scheme (features: sqlite, postgres, mysql)",
            ),
        ),
    }
}
