//! Isolated, migrated stores for tests, on every backend.
//!
//! - [`sqlite_memory`] / [`sqlite_file`]: a private database per call.
//! - [`postgres`]: its own schema (`search_path` set in the connect options) in the database
//!   of `AUTH_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`).
//! - [`mysql`]: its own database on the server of `AUTH_TEST_MYSQL_URL` (e.g.
//!   `mysql://root@127.0.0.1:3306/test`).
//!
//! When a URL is unset the helper prints a skip notice and returns `None` (the test
//! returns); with `AUTH_TEST_REQUIRE_ALL=1` a missing URL panics. [`each_backend!`]
//! writes one `#[tokio::test]` per backend around a generic check.

#![allow(dead_code, unused_macros, unused_imports)]

use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::{IdKind, OffsetDateTime};
use auth_store_sqlx::{Backend, SqliteStore, SqlxStore, StoreOptions, UserTable};

/// A fixed instant plus `seconds` (tests never read the clock).
pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
}

/// The plain integer-keyed `users` table.
pub fn users() -> UserTable {
    UserTable::new("users", IdKind::Integer)
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

fn required() -> bool {
    std::env::var("AUTH_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The URL in `var`, or `None` after a skip notice (a panic under
/// `AUTH_TEST_REQUIRE_ALL=1`).
pub fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(!required(), "{var} is unset and AUTH_TEST_REQUIRE_ALL=1");
            eprintln!("skipped: {var} is unset");
            None
        }
    }
}

/// A migrated in-memory SQLite store.
pub async fn sqlite_memory(users: UserTable) -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:", users)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// A migrated SQLite store in a new file; keep the directory alive while the store is used.
pub async fn sqlite_file(users: UserTable) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let store = SqliteStore::connect(&url, users).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, dir)
}

/// A URL on a fresh PostgreSQL schema (created here), or `None` when skipped.
#[cfg(feature = "postgres")]
pub async fn postgres_url() -> Option<String> {
    use sqlx::Connection;
    let base = url("AUTH_TEST_POSTGRES_URL")?;
    let schema = unique("tas_");
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("postgres admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// A migrated PostgreSQL store in a fresh schema, or `None` when skipped.
#[cfg(feature = "postgres")]
pub async fn postgres(users: UserTable) -> Option<auth_store_sqlx::PgStore> {
    postgres_with(users, StoreOptions::default()).await
}

/// The same with options.
#[cfg(feature = "postgres")]
pub async fn postgres_with(
    users: UserTable,
    options: StoreOptions,
) -> Option<auth_store_sqlx::PgStore> {
    let url = postgres_url().await?;
    let store = auth_store_sqlx::PgStore::connect_with(&url, users, options)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(store)
}

/// A URL on a fresh MySQL database (created here), or `None` when skipped.
#[cfg(feature = "mysql")]
pub async fn mysql_url() -> Option<String> {
    use sqlx::Connection;
    let base = url("AUTH_TEST_MYSQL_URL")?;
    let db = unique("tad_");
    let mut admin = sqlx::MySqlConnection::connect(&base)
        .await
        .expect("mysql admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (head, query) = base
        .split_once('?')
        .map_or((base.as_str(), None), |(h, q)| (h, Some(q)));
    let server = head.rsplit_once('/').map_or(head, |(s, _)| s);
    Some(match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    })
}

/// A migrated MySQL store in a fresh database, or `None` when skipped.
#[cfg(feature = "mysql")]
pub async fn mysql(users: UserTable) -> Option<auth_store_sqlx::MySqlStore> {
    mysql_with(users, StoreOptions::default()).await
}

/// The same with options.
#[cfg(feature = "mysql")]
pub async fn mysql_with(
    users: UserTable,
    options: StoreOptions,
) -> Option<auth_store_sqlx::MySqlStore> {
    let url = mysql_url().await?;
    let store = auth_store_sqlx::MySqlStore::connect_with(&url, users, options)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Some(store)
}

/// One `#[tokio::test]` per backend calling `$check(store).await` with a migrated store
/// for the user table `$users`: `sqlite_memory`, `sqlite_file`, and with the features,
/// `postgres` and `mysql` (skipped when their URL is unset).
macro_rules! each_backend {
    ($check:ident, $users:expr) => {
        mod $check {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                super::$check(common::sqlite_memory($users).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_file() {
                let (store, _dir) = common::sqlite_file($users).await;
                super::$check(store).await;
            }

            #[cfg(feature = "postgres")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(store) = common::postgres($users).await {
                    super::$check(store).await;
                }
            }

            #[cfg(feature = "mysql")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                if let Some(store) = common::mysql($users).await {
                    super::$check(store).await;
                }
            }
        }
    };
}
pub(crate) use each_backend;

/// Every storage trait, for generic checks.
pub trait Store:
    auth_core::UserStore
    + auth_core::CredentialStore
    + auth_core::SessionStore
    + auth_core::SingleUseTokenStore
    + auth_core::ExpiredDeletion
    + auth_core::RateLimiter
    + Clone
    + 'static
{
}
impl<B: Backend> Store for SqlxStore<B> {}

/// A new session of `user` with one access token (`digest` byte `a`) and one refresh
/// token (`digest` byte `r`), created at `at(t)`, ending at `at(t + 9000)` (refresh) and
/// `at(t + 90000)` (absolute).
pub fn session(
    id: u8,
    user: auth_core::UserId,
    t: i64,
) -> (auth_core::NewSession, Vec<auth_core::NewToken>) {
    use auth_core::{ClientInfo, NewSession, NewToken, SessionId, TokenDigest, TokenKind};
    (
        NewSession {
            id: SessionId::from_bytes([id; 16]),
            user_id: user,
            created_at: at(t),
            expires_at: at(t + 9_000),
            absolute_expires_at: at(t + 90_000),
            client: ClientInfo::none()
                .with_ip("203.0.113.7".parse().unwrap())
                .with_user_agent("test-agent/1.0"),
            claims: Some(r#"{"role":"admin"}"#.to_owned()),
        },
        vec![
            NewToken {
                digest: TokenDigest([id; 32]),
                kind: TokenKind::Access,
                expires_at: at(t + 900),
            },
            NewToken {
                digest: TokenDigest([id.wrapping_add(128); 32]),
                kind: TokenKind::Refresh,
                expires_at: at(t + 9_000),
            },
        ],
    )
}

/// The access digest of [`session`] `id`.
pub fn access(id: u8) -> auth_core::TokenDigest {
    auth_core::TokenDigest([id; 32])
}

/// The refresh digest of [`session`] `id`.
pub fn refresh(id: u8) -> auth_core::TokenDigest {
    auth_core::TokenDigest([id.wrapping_add(128); 32])
}

/// Runs a template (`:name` markers, see `auth_sql::Stmt::render`) through the store's
/// pool: the application's own SQL. Returns the rows affected.
pub async fn raw<B: Backend>(
    store: &SqlxStore<B>,
    template: &str,
    values: Vec<auth_sql::Value>,
) -> u64 {
    let stmt = auth_sql::Stmt::render(B::DIALECT, template);
    let mut conn = store.pool().acquire().await.expect("acquire");
    B::execute(&mut conn, stmt.shared_sql(), values)
        .await
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

/// The first column of the first row of a query, as an integer (a `COUNT(*)`).
pub async fn raw_count<B: Backend>(
    store: &SqlxStore<B>,
    template: &str,
    values: Vec<auth_sql::Value>,
) -> i64 {
    let stmt = auth_sql::Stmt::render(B::DIALECT, template);
    let mut conn = store.pool().acquire().await.expect("acquire");
    let rows = B::fetch_all(&mut conn, stmt.shared_sql(), values)
        .await
        .unwrap_or_else(|e| panic!("{template}: {e}"));
    B::get_i64(&rows[0], 0).unwrap().unwrap_or(0)
}

/// Inserts a user row the way other software would (any email spelling).
pub async fn insert_user_raw<B: Backend>(store: &SqlxStore<B>, email: &str) {
    use auth_sql::Value;
    raw(
        store,
        "INSERT INTO users (email, password, is_active, is_verified, created_at, updated_at) \
         VALUES (:email, '', :active, :verified, :created, :updated)",
        vec![
            Value::Text(email.to_owned()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Time(at(0)),
            Value::Time(at(0)),
        ],
    )
    .await;
}

/// Drops the schema named in a URL made by [`postgres_url`] (after a passing test).
#[cfg(feature = "postgres")]
pub async fn drop_postgres_schema(url: &str) {
    use sqlx::Connection;
    let Some(schema) = url
        .rsplit("search_path%3D")
        .next()
        .filter(|s| s.starts_with("tas_"))
    else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("postgres admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop schema");
}

/// Drops the database named in a URL made by [`mysql_url`] (after a passing test).
#[cfg(feature = "mysql")]
pub async fn drop_mysql_database(url: &str) {
    use sqlx::Connection;
    let head = url.split('?').next().unwrap_or(url);
    let Some(db) = head.rsplit('/').next().filter(|d| d.starts_with("tad_")) else {
        return;
    };
    let mut admin = sqlx::MySqlConnection::connect(url)
        .await
        .expect("mysql admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("drop database");
}
