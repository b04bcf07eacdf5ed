//! What every SQL store of tortoise-auth needs, written once and driver-free.
//!
//! `auth-store-sqlx` (sqlx, for SQLite, PostgreSQL and MySQL/MariaDB) and
//! `auth-store-postgres` (tokio-postgres) both build on this crate, so the SQL, the table
//! description and the row formats cannot drift apart between them. It depends on
//! `auth-core` only: no driver, no I/O.
//!
//! - [`UserTable`]: the application's own user table (name, key column, key kind, extra
//!   columns for a table the library creates), with its name checks.
//! - [`is_valid_identifier`], [`check_identifier`], [`check_prefix`]: the only way a name
//!   reaches SQL text (`^[A-Za-z_][A-Za-z0-9_]{0,40}$`); [`Dialect::quote`] quotes it.
//! - [`Dialect`]: what differs between SQLite, PostgreSQL and MySQL: quoting,
//!   placeholders, ASCII case folding of emails, locking clauses, the write transaction's
//!   `BEGIN`.
//! - [`Statements`]: every statement a store runs, built once per (dialect, table prefix,
//!   user table). Each is a [`Stmt`]: its text and the names of its binds in order. Every
//!   placeholder stands for exactly one value (PostgreSQL's `$n` are never reused), and
//!   [`Args`] binds values by name so a call site in the wrong order panics at once. The
//!   tests of this crate parse every statement of every dialect and check `$1..$n` appear
//!   once each in order (PostgreSQL) or that the `?` count matches (SQLite, MySQL).
//! - [`Schema`]: the DDL of the user table (when the library creates it), the catalog
//!   queries that check an application's table, and the versioned [`Migration`]s.
//! - Row codecs ([`to_micros`], [`from_micros`], [`session_id`], [`token_kind`],
//!   [`user_id_from_text`], [`ip_from_text`]) and the [`MissingColumns`] error source.
//! - [`ColumnReader`]: a driver implements six typed getters for its row type and gets
//!   the decoding of every row the statements return (users, session statuses,
//!   access-token records, session listings, locked refresh tokens, rate-limit states).
//! - The decisions taken from what was read, written once: [`LockedRefresh::plan`] (a
//!   rotation's outcome, in the documented precedence), [`rate_limit_hit_decision`],
//!   [`rate_limit_peek_decision`], [`check_rate_key`], and the bind helpers
//!   [`Statements::rate_limit_hit_args`] and [`Statements::purge_args`].
//!
//! # Storage formats (every dialect)
//!
//! | value | stored as |
//! | --- | --- |
//! | times of the library's tables | unix microseconds, `BIGINT` |
//! | times of the user table | the application's column type (`TIMESTAMPTZ`, `DATETIME`, ...) |
//! | session ids | 32 lowercase hex digits |
//! | token digests | 32 bytes (`BLOB`, `BYTEA`, `BINARY(32)`) |
//! | token kinds | [`TokenKind::code`](auth_core::TokenKind::code), `SMALLINT` |
//! | user keys | the application's key type; read back as text and parsed |
//!
//! # Email case
//!
//! Emails are matched on their ASCII-folded form, exactly like Rust's
//! `str::to_ascii_lowercase` (which is what [`auth_core::normalize_email`] applies): see
//! [`Dialect::fold_ascii`] for the expression per dialect and why it is exact.
//!
//! ```
//! use auth_core::IdKind;
//! use auth_sql::{Args, Dialect, Statements, UserTable, Value};
//!
//! let users = UserTable::new("users", IdKind::Integer);
//! let sql = Statements::new(Dialect::Postgres, "", &users).unwrap();
//! assert_eq!(sql.session_revoke.binds(), ["now", "id"]);
//! let values = Args::new(&sql.session_revoke)
//!     .bind("now", 1_900_000_000_000_000i64)
//!     .bind("id", "00112233445566778899aabbccddeeff")
//!     .finish();
//! assert_eq!(values.len(), 2);
//! assert!(matches!(values[0], Value::Int(_)));
//! ```

mod codec;
mod decide;
mod dialect;
mod ident;
mod rows;
mod schema;
mod statements;
mod stmt;
mod user_table;

pub use codec::{
    MissingColumns, check_id_kind, corrupt, digest_bytes, duration_micros, from_micros,
    from_micros_opt, ip_from_text, session_id, stable_key, to_micros, token_kind,
    user_id_from_text,
};
pub use decide::{
    LockedRefresh, MAX_RATE_KEY_LENGTH, OwnedRotation, RotationPlan, SEALED_SUCCESSOR_KEEP,
    UserUpdate, check_rate_key, grace_until, rate_limit_hit_decision, rate_limit_peek_decision,
};
pub use dialect::Dialect;
pub use ident::{
    BadIdentifier, MAX_IDENTIFIER_LENGTH, check_column_type, check_identifier, check_prefix,
    is_valid_identifier,
};
pub use rows::ColumnReader;
pub use schema::{MIGRATION_LOCK_TIMEOUT_SECS, Migration, Schema};
pub use statements::{
    NamedStmt, SESSION_STATUS_COLUMN_COUNT, Statements, TableNames, USER_COLUMN_COUNT,
};
pub use stmt::{Args, Stmt, Value, placeholders};
pub use user_table::{LIBRARY_COLUMNS, UserTable};
