//! tortoise-auth's storage on PostgreSQL through [tokio-postgres], with a
//! [deadpool-postgres] pool and cached prepared statements, and no sqlx anywhere in the
//! dependency tree.
//!
//! [`PostgresStore`] implements every storage trait of `auth-core`:
//! [`UserStore`](auth_core::UserStore), [`CredentialStore`](auth_core::CredentialStore),
//! [`SessionStore`](auth_core::SessionStore),
//! [`SingleUseTokenStore`](auth_core::SingleUseTokenStore),
//! [`ExpiredDeletion`](auth_core::ExpiredDeletion) and
//! [`RateLimiter`](auth_core::RateLimiter), and passes the same conformance suite as every
//! other store of the project.
//!
//! # Swapping stores
//!
//! This store and `auth-store-sqlx`'s `PgStore` run the same SQL on the same tables: both
//! take their statements, DDL, migrations and row formats from the driver-free `auth-sql`
//! crate. An application moves from one to the other by changing one dependency and one
//! constructor; its database, its data and the rest of its code stay as they are (the two
//! can even serve one database at the same time, during a rolling deployment):
//!
//! ```toml
//! [dependencies]
//! # auth-store-sqlx = { version = "0.1", default-features = false, features = ["postgres"] }
//! auth-store-postgres = "0.1"
//! ```
//!
//! ```no_run
//! # use auth_core::IdKind;
//! # async fn demo() -> Result<(), auth_core::StoreError> {
//! # let users = auth_store_postgres::UserTable::new("users", IdKind::Integer);
//! // let store = auth_store_sqlx::PgStore::connect(url, users).await?;
//! let store = auth_store_postgres::PostgresStore::connect("postgres://app@db/app", users).await?;
//! store.migrate().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The names match on purpose: [`PostgresStore::connect`], [`PostgresStore::connect_with`]
//! with [`StoreOptions`] (`acquire_timeout`, `max_connections`, `table_prefix`, same
//! defaults), [`PostgresStore::from_pool`], [`PostgresStore::migrate`],
//! [`PostgresStore::pool`], [`PostgresStore::user_table`],
//! [`PostgresStore::with_table_prefix`], [`migrate_url`], and [`UserTable`] (re-exported
//! from `auth-sql`, the very type the sqlx store re-exports). `examples/store-swap` in the
//! repository runs one application on either store.
//!
//! # Connecting
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use auth_core::{IdKind, NewUser, OffsetDateTime, UserId, UserStore};
//! use auth_store_postgres::{PostgresStore, StoreOptions, UserTable};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = UserTable::new("users", IdKind::Integer)
//!     .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'");
//! let store = PostgresStore::connect_with(
//!     "postgres://app:secret@db.internal:5432/app",
//!     users,
//!     StoreOptions::default()
//!         .acquire_timeout(Duration::from_secs(2))
//!         .max_connections(20)
//!         .table_prefix("app_"),
//! )
//! .await?;
//! store.migrate().await?;
//!
//! let user = store
//!     .create_user(&NewUser::new("Ada@Example.com")?, OffsetDateTime::now_utc())
//!     .await?;
//!
//! // The application's own columns stay the application's: use the pool for them.
//! let UserId::Int(id) = user.id else { unreachable!() };
//! let client = store.pool().get().await?;
//! client
//!     .execute("UPDATE users SET display_name = $1 WHERE id = $2", &[&"Ada", &id])
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # URLs
//!
//! Anything [`tokio_postgres::Config`] parses: a URL
//! `postgres://user:password@host:port/dbname?param=value` (or `postgresql://`, several
//! hosts `host1,host2`, a Unix socket as `host=/var/run/postgresql`) or the key-value form
//! `host=localhost user=app dbname=app`. Useful parameters: `sslmode`
//! (`disable`/`prefer`/`require`, see TLS below), `connect_timeout` (seconds; the acquire
//! timeout when unset), `application_name`, `options` (session settings: percent-encoded
//! `options=-c%20search_path%3Dmyschema` picks a schema, as with the sqlx store),
//! `target_session_attrs=read-write`. Parameters only sqlx knows
//! (`statement-cache-capacity`, `sslrootcert`, ...) are refused with
//! [`StoreErrorKind::Other`](auth_core::StoreErrorKind::Other).
//!
//! # The pool: why deadpool-postgres, and its settings
//!
//! [deadpool-postgres] was chosen over `bb8-postgres` and a hand-made pool because it
//! brings exactly what this store needs and nothing else:
//!
//! - it **recycles** clients: a connection goes back to the pool after each operation and is
//!   checked with [`RecyclingMethod::Fast`](deadpool_postgres::RecyclingMethod::Fast) only
//!   (`Client::is_closed()`, no query), so a checkout costs **no ping** (bb8 runs a test
//!   query on every checkout unless told otherwise);
//! - it **caches prepared statements per connection** (`prepare_typed_cached`, keyed by
//!   the SQL text and parameter types): each statement is parsed and planned once per
//!   connection, then every call is a single Bind/Execute/Sync round trip;
//! - it has **wait, create and recycle timeouts**, so an exhausted pool or a database
//!   that does not answer fails within the acquire timeout instead of hanging;
//! - it is small and Tokio-native, and depends on tokio-postgres only (no TLS library, no
//!   sqlx).
//!
//! | setting | default | what |
//! | --- | --- | --- |
//! | [`StoreOptions::max_connections`] | 10 | the pool's size (the sqlx store's PostgreSQL default) |
//! | [`StoreOptions::acquire_timeout`] | 3 s | the pool's wait, create and recycle timeouts, and `connect_timeout` unless the URL sets one: past it, [`StoreErrorKind::Unavailable`](auth_core::StoreErrorKind::Unavailable) |
//! | recycling | `Fast` | `is_closed()` only, no query. A connection on which a query fails because the connection broke (closed, killed, I/O) is taken out of the pool at once; one killed while idle is noticed by its driver, or at worst by its next query, which fails `Unavailable` |
//! | [`StoreOptions::shared_read_connections`] | 2 | connections the hot-path reads share (below); 0 to give each read its own |
//! | [`StoreOptions::table_prefix`] | `""` | the prefix of the library's tables |
//!
//! [`PostgresStore::connect_with`] opens the first connection before it returns, so a
//! database that cannot be reached fails at start, with `Unavailable`.
//! [`PostgresStore::from_pool`] takes a pool you built (give it a runtime and timeouts).
//!
//! # Prepared statements and concurrency
//!
//! Every statement is prepared once per connection with explicit parameter types (the
//! types sqlx declares for the same values, so PostgreSQL resolves each statement exactly
//! as it does for the sqlx store) and cached; a call then costs one round trip per
//! statement, and a transaction `BEGIN` and `COMMIT` besides.
//!
//! - **The `authenticate` hot path** ([`find_access_token`](auth_core::SessionStore::find_access_token)
//!   and [`session_status`](auth_core::SessionStore::session_status), what the opaque and
//!   JWT backends read on every request) is one prepared statement joining token, session
//!   and user: **one round trip, no ping, no write, no spawned task** (a pure read has
//!   nothing to leave half-done, so it runs on the caller's task and may be cancelled at
//!   any point). Concurrent readers share a few pooled connections
//!   ([`StoreOptions::shared_read_connections`]) and tokio-postgres **pipelines** their
//!   queries on each: requests are written as they come and responses matched in order,
//!   so 16 concurrent requests keep 2 server processes busy instead of waking 10. A
//!   connection is held only while reads are in flight, then goes back to the pool.
//! - **Other reads** (credentials, listings, a rate-limit peek) run on the caller's task
//!   with a connection of their own.
//! - **Writes** run in a task of their own: dropping the caller's future (a client
//!   disconnect, a timeout) never cancels a transaction half-way. A deadlock or
//!   serialization failure rolls the transaction back and the operation runs again (up to
//!   5 times).
//! - Locking is the sqlx store's: `rotate_refresh_token` locks the token and its session
//!   (`FOR UPDATE OF k, s`), so of concurrent rotations exactly one wins;
//!   `credentials_current` is a `FOR SHARE` read that waits for an in-flight password change
//!   or deactivation; `create_session` with a cap locks the user row; the rate limiter
//!   counts and decides in one atomic `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.
//!
//! # TLS
//!
//! [`PostgresStore::connect`] and [`PostgresStore::connect_with`] connect without TLS
//! (`NoTls`: with the default `sslmode=prefer` the connection is plain; with
//! `sslmode=require` it fails). For production over a network, pass a connector to
//! [`PostgresStore::connect_with_tls`]: `tokio-postgres-rustls`' `MakeRustlsConnect` or
//! `postgres-native-tls`' `MakeTlsConnector`, built with your root certificates, and put
//! `sslmode=require` in the URL. This crate depends on no TLS library itself.
//!
//! # Schema: the sqlx store's, table for table
//!
//! [`PostgresStore::migrate`] runs `auth-sql`'s PostgreSQL migrations in one transaction
//! under `pg_advisory_xact_lock` (the same lock key as the sqlx store, one per table
//! prefix), so several instances, and instances of either store, can start at once:
//!
//! | table | what |
//! | --- | --- |
//! | the user table | the application's; created if missing (`BIGINT GENERATED BY DEFAULT AS IDENTITY` or `UUID` key, the eight library columns, `TIMESTAMPTZ` times, a unique index on `lower(email COLLATE "C")`), else checked and never altered |
//! | `{prefix}auth_sessions` | one row per login; `user_id` references the user table's key with the key's exact type (`format_type` from the catalog), `ON DELETE CASCADE` |
//! | `{prefix}auth_tokens` | access and refresh token digests (`BYTEA`, 32 bytes) of a session, `ON DELETE CASCADE` |
//! | `{prefix}auth_single_use_tokens` | password-reset and verification token digests of a user |
//! | `{prefix}auth_rate_limits` | window, attempts and lockout per key |
//! | `{prefix}auth_migrations` | the applied versions |
//!
//! Times of the library's tables are unix microseconds (`BIGINT`), always from the
//! caller's clock. The user table's times may be `TIMESTAMPTZ` or `TIMESTAMP` (read as
//! UTC), its key `BIGINT`, `INTEGER` or `UUID`. Emails are matched on their ASCII-folded
//! form (`lower(email COLLATE "C")`, exactly Rust's `to_ascii_lowercase`). Everything the
//! sqlx store's documentation says about the user table, email case and several instances
//! holds here word for word: it is the same SQL.
//!
//! # Errors
//!
//! Every failure is an [`auth_core::StoreError`] whose message names only the operation
//! (`create_user`, `find_access_token`, ...) and whose [`kind`](auth_core::StoreError::kind)
//! is portable, mapped as the sqlx store maps PostgreSQL's; the tokio-postgres or pool
//! error is the [`source`](std::error::Error::source):
//!
//! | kind | when |
//! | --- | --- |
//! | `UniqueViolation` | `23505`: a duplicate email (in any ASCII case), token digest or session id; inserts never overwrite |
//! | `NotFound` | `23503` (a session or token for a user or session that does not exist); updating a user that does not exist |
//! | `Unavailable` | the pool's wait, create or recycle timeout; a closed connection or pool; I/O and connect errors; `08xxx`, `53xxx`, `57xxx` (a terminated backend, a shutdown); a deadlock (`40P01`) or serialization failure (`40001`) after the retries; `55P03` |
//! | `Schema` | `42P01`, `42703` (run `migrate`), `42830`, `42804`, `3F000`; bad names; a user table missing library columns |
//! | `Corrupt` | a value that does not decode |
//! | `Other` | anything else (a malformed URL, a user id of the wrong kind, an over-long rate-limit key) |
//!
//! # Testing
//!
//! The tests read `AUTH_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`);
//! unset, they print that they skipped; with `AUTH_TEST_REQUIRE_ALL=1` a missing URL is a
//! failure. Each test makes a schema of its own (`search_path` in the connection's
//! `options`) and drops it when it passes. `tests/conformance.rs` runs the whole
//! conformance suite and the service-level checks (`conformance postgres-tokio: N passed`).
//!
//! [tokio-postgres]: https://docs.rs/tokio-postgres
//! [deadpool-postgres]: https://docs.rs/deadpool-postgres

mod error;
mod migrate;
mod ops;
mod store;
mod values;

use auth_core::StoreError;

pub use auth_sql::UserTable;
/// The pool crate, re-exported so an application that builds its own pool
/// ([`PostgresStore::from_pool`]) needs no direct dependency.
pub use deadpool_postgres;
/// The pool type of [`PostgresStore::pool`].
pub use deadpool_postgres::Pool;
/// The driver, re-exported for the application's own queries on [`PostgresStore::pool`].
pub use deadpool_postgres::tokio_postgres;
pub use store::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHARED_READ_CONNECTIONS,
    PostgresStore, StoreOptions,
};

/// Connects to `url` (without TLS) and runs the migrations for the user table `users`
/// and the table prefix `table_prefix`: the tokio-postgres twin of
/// `auth_store_sqlx::migrate_url` for `postgres:` URLs.
pub async fn migrate_url(
    url: &str,
    users: UserTable,
    table_prefix: &str,
) -> Result<(), StoreError> {
    PostgresStore::connect_with(
        url,
        users,
        StoreOptions::default().table_prefix(table_prefix),
    )
    .await?
    .migrate()
    .await
}
