//! The conformance suite (every storage rule) and its service-level checks (whole
//! `AuthService`s on both token backends) on every sqlx backend: SQLite in memory and in a
//! file, PostgreSQL and MySQL/MariaDB. Each run prints `conformance <store>: N passed`.
//!
//! On the server backends and the SQLite file, one schema (or database, or file) holds a
//! run; each check gets tables of its own (a table prefix: the library's tables of two
//! checks never mix, so one check's cleanup cannot delete another's rows), its own pool,
//! and the schema is dropped when the run passes.
mod common;

use auth_conformance::StoreFactory;
use auth_conformance::service::ServiceFactory;
use auth_core::{OffsetDateTime, StoreError, UserId};
use std::sync::atomic::{AtomicU32, Ordering};

use auth_store_sqlx::{Backend, SqliteStore, SqlxStore, StoreOptions, UserTable};
use common::users;
use sqlx::AssertSqlSafe;

/// Inserts a user as other software would and returns its key.
async fn insert_raw<B: Backend>(
    store: &SqlxStore<B>,
    email: &str,
    now: OffsetDateTime,
) -> Result<UserId, StoreError> {
    use auth_sql::Value;
    common::raw(
        store,
        "INSERT INTO users (email, password, is_active, is_verified, created_at, updated_at) \
         VALUES (:email, '', :active, :verified, :created, :updated)",
        vec![
            Value::Text(email.to_owned()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Time(now),
            Value::Time(now),
        ],
    )
    .await;
    let id = common::raw_count(
        store,
        "SELECT id FROM users WHERE email = :email",
        vec![Value::Text(email.to_owned())],
    )
    .await;
    Ok(UserId::Int(id))
}

/// A factory of stores on one database: each check gets its own table prefix (its own
/// session, token and rate-limit tables beside the shared user table) and its own pool.
struct OnOneDatabase<B: Backend> {
    url: String,
    users: UserTable,
    next: AtomicU32,
    /// Keeps a SQLite file's directory alive for the run.
    _dir: Option<tempfile::TempDir>,
    _backend: std::marker::PhantomData<fn() -> B>,
}

impl<B: Backend> OnOneDatabase<B> {
    async fn new(url: String, dir: Option<tempfile::TempDir>) -> Self {
        let first = SqlxStore::<B>::connect(&url, users())
            .await
            .expect("connect");
        first.migrate().await.expect("migrate");
        Self {
            url,
            users: users(),
            next: AtomicU32::new(0),
            _dir: dir,
            _backend: std::marker::PhantomData,
        }
    }

    /// A migrated store on tables of its own.
    async fn fresh(&self) -> SqlxStore<B> {
        let prefix = format!("c{}_", self.next.fetch_add(1, Ordering::Relaxed));
        let store = self.connect(&prefix).await;
        store.migrate().await.expect("migrate");
        store
    }

    async fn connect(&self, prefix: &str) -> SqlxStore<B> {
        let options = StoreOptions::default().table_prefix(prefix);
        SqlxStore::<B>::connect_with(&self.url, self.users.clone(), options)
            .await
            .expect("connect")
    }
}

#[auth_core::async_trait]
impl<B: Backend> StoreFactory for OnOneDatabase<B>
where
    SqlxStore<B>: Send + Sync,
{
    type Store = SqlxStore<B>;
    async fn create(&self) -> SqlxStore<B> {
        self.fresh().await
    }
    async fn insert_raw_user(
        &self,
        store: &SqlxStore<B>,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        insert_raw(store, email, now).await
    }
}

/// What each backend dumps: every value of every table, as text.
trait Dump {
    fn dump(&self) -> impl std::future::Future<Output = String> + Send;
}

impl Dump for SqliteStore {
    async fn dump(&self) -> String {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(self.pool())
                .await
                .unwrap();
        let mut out = String::new();
        for table in tables {
            let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                .bind(&table)
                .fetch_all(self.pool())
                .await
                .unwrap();
            let expr = cols
                .iter()
                .map(|c| format!("coalesce(quote(\"{c}\"), '')"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let rows: Vec<String> =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT {expr} FROM \"{table}\"")))
                    .fetch_all(self.pool())
                    .await
                    .unwrap();
            out.push_str(&rows.join("\n"));
            out.push('\n');
        }
        out
    }
}

#[cfg(feature = "postgres")]
impl Dump for auth_store_sqlx::PgStore {
    async fn dump(&self) -> String {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        )
        .fetch_all(self.pool())
        .await
        .unwrap();
        let mut out = String::new();
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT CAST(t AS text) FROM \"{table}\" t"
            )))
            .fetch_all(self.pool())
            .await
            .unwrap();
            out.push_str(&rows.join("\n"));
            out.push('\n');
        }
        out
    }
}

#[cfg(feature = "mysql")]
impl Dump for auth_store_sqlx::MySqlStore {
    async fn dump(&self) -> String {
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(self.pool())
        .await
        .unwrap();
        let mut out = String::new();
        let mut tables: Vec<&str> = cols.iter().map(|(t, _)| t.as_str()).collect();
        tables.dedup();
        for table in tables {
            let expr = cols
                .iter()
                .filter(|(t, _)| t == table)
                .map(|(_, c)| {
                    format!("COALESCE(HEX(`{c}`), ''), COALESCE(CAST(`{c}` AS CHAR), '')")
                })
                .collect::<Vec<_>>()
                .join(", ");
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT CAST(CONCAT_WS('|', {expr}) AS BINARY) FROM `{table}`"
            )))
            .fetch_all(self.pool())
            .await
            .unwrap();
            for row in rows {
                out.push_str(&String::from_utf8_lossy(&row));
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }
}

#[auth_core::async_trait]
impl<B: Backend> ServiceFactory for OnOneDatabase<B>
where
    SqlxStore<B>: Dump + Send + Sync,
{
    type Store = SqlxStore<B>;
    async fn create(&self) -> SqlxStore<B> {
        self.fresh().await
    }
    async fn second_instance(&self, store: &SqlxStore<B>) -> SqlxStore<B> {
        self.connect(store.table_prefix()).await
    }
    async fn dump(&self, store: &SqlxStore<B>) -> String {
        Dump::dump(store).await
    }
}

/// A fresh in-memory database per check: a second instance is a clone (the in-memory
/// database lives in this process; the file and server runs cover separate pools).
struct Memory;

#[auth_core::async_trait]
impl StoreFactory for Memory {
    type Store = SqliteStore;
    async fn create(&self) -> SqliteStore {
        common::sqlite_memory(users()).await
    }
    async fn insert_raw_user(
        &self,
        store: &SqliteStore,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        insert_raw(store, email, now).await
    }
}

#[auth_core::async_trait]
impl ServiceFactory for Memory {
    type Store = SqliteStore;
    async fn create(&self) -> SqliteStore {
        common::sqlite_memory(users()).await
    }
    async fn second_instance(&self, store: &SqliteStore) -> SqliteStore {
        store.clone()
    }
    async fn dump(&self, store: &SqliteStore) -> String {
        Dump::dump(store).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_passes_the_conformance_suite() {
    auth_conformance::run_full("sqlite-memory", &Memory).await;
    auth_conformance::service::run_service("sqlite-memory", &Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let factory = OnOneDatabase::<sqlx::Sqlite>::new(url, Some(dir)).await;
    auth_conformance::run_full("sqlite-file", &factory).await;
    auth_conformance::service::run_service("sqlite-file", &factory).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    let Some(url) = common::postgres_url().await else {
        return;
    };
    let factory = OnOneDatabase::<sqlx::Postgres>::new(url.clone(), None).await;
    auth_conformance::run_full("postgres", &factory).await;
    auth_conformance::service::run_service("postgres", &factory).await;
    common::drop_postgres_schema(&url).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_passes_the_conformance_suite() {
    let Some(url) = common::mysql_url().await else {
        return;
    };
    let factory = OnOneDatabase::<sqlx::MySql>::new(url.clone(), None).await;
    auth_conformance::run_full("mysql", &factory).await;
    auth_conformance::service::run_service("mysql", &factory).await;
    common::drop_mysql_database(&url).await;
}
