//! Isolated, migrated stores for tests: each test makes a schema of its own in the database
//! of `AUTH_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`), reaches
//! it through `search_path` in the connection's `options`, and drops it when it passes.
//!
//! When the URL is unset the helpers print a skip notice and return `None` (the test
//! returns); with `AUTH_TEST_REQUIRE_ALL=1` a missing URL panics.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::{IdKind, OffsetDateTime};
use auth_store_postgres::tokio_postgres::{self, NoTls};
use auth_store_postgres::{PostgresStore, StoreOptions, UserTable};

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

/// `AUTH_TEST_POSTGRES_URL`, or `None` after a skip notice (a panic under
/// `AUTH_TEST_REQUIRE_ALL=1`).
pub fn base_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !required(),
                "AUTH_TEST_POSTGRES_URL is unset and AUTH_TEST_REQUIRE_ALL=1"
            );
            eprintln!("skipped: AUTH_TEST_POSTGRES_URL is unset");
            None
        }
    }
}

/// A direct connection (outside any store), its driver task spawned.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A schema of the test's own. Call [`TestSchema::drop`] at the end of a test that
/// passed (a failed test leaves it for inspection).
pub struct TestSchema {
    base: String,
    /// The schema's name.
    pub name: String,
    /// A URL whose connections work in the schema.
    pub url: String,
}

/// The URL of `base` with `search_path` set to `schema`.
pub fn url_for(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

impl TestSchema {
    /// Creates a fresh schema, or `None` when the URL is unset.
    pub async fn create() -> Option<Self> {
        let base = base_url()?;
        let name = unique("tap_");
        connect(&base)
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        let url = url_for(&base, &name);
        Some(Self { base, name, url })
    }

    /// A store on the schema with `options`, not migrated.
    pub async fn store_with(&self, users: UserTable, options: StoreOptions) -> PostgresStore {
        PostgresStore::connect_with(&self.url, users, options)
            .await
            .expect("connect")
    }

    /// A migrated store on the schema.
    pub async fn store(&self, users: UserTable) -> PostgresStore {
        let store = self.store_with(users, StoreOptions::default()).await;
        store.migrate().await.expect("migrate");
        store
    }

    /// A direct connection in the schema.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        drop_schema(&self.base, &self.name).await;
    }
}

/// Drops `schema` (and everything in it) from the database of `base`.
pub async fn drop_schema(base: &str, schema: &str) {
    connect(base)
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap_or_else(|e| panic!("drop schema {schema}: {e}"));
}

/// The first column of the first row of `sql` as an integer (a `COUNT(*)`), through the
/// store's pool.
pub async fn count(
    store: &PostgresStore,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> i64 {
    let client = store.pool().get().await.expect("pooled connection");
    client
        .query_one(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

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
