//! Failures reach callers as portable `StoreErrorKind`s whose messages name only the
//! operation: missing schema, a database down at start, a connection killed mid-call, an
//! exhausted pool (typed `Unavailable` within the acquire timeout, never a hang).

mod common;

use std::error::Error as _;
use std::time::{Duration, Instant};

use auth_core::{
    IdKind, NewUser, OffsetDateTime, SessionStore, StoreErrorKind, TokenDigest, UserStore,
};
use auth_store_sqlx::{Backend, SqliteStore, SqlxStore, StoreOptions, UserTable};
use common::users;

#[tokio::test]
async fn missing_tables_are_schema_errors() {
    let store = SqliteStore::connect("sqlite::memory:", UserTable::new("users", IdKind::Integer))
        .await
        .unwrap();
    let err = store
        .find_access_token(&TokenDigest([1; 32]))
        .await
        .expect_err("not migrated");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    assert_eq!(err.context(), "find_access_token");
    assert_eq!(
        err.to_string(),
        "store operation `find_access_token` failed: schema mismatch"
    );
    assert!(
        err.source().is_some(),
        "the sqlx error is kept as the source"
    );
    let err = store
        .create_user(
            &NewUser::new("a@example.com").unwrap(),
            OffsetDateTime::UNIX_EPOCH,
        )
        .await
        .expect_err("not migrated");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    assert_eq!(err.context(), "create_user");
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let store = common::sqlite_memory(users()).await;
    store.pool().close().await;
    let err = store
        .find_credentials_by_email("a@example.com")
        .await
        .expect_err("closed");
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
}

#[tokio::test]
async fn an_unreachable_file_is_unavailable() {
    let err = SqliteStore::connect(
        "sqlite:///nonexistent-dir-for-auth-store-test/x/auth.db",
        users(),
    )
    .await
    .expect_err("no such directory");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
}

/// Holds the only pooled connection: the next call fails with `Unavailable` within the
/// acquire timeout.
async fn exhausted<B: Backend>(name: &str, store: SqlxStore<B>) {
    let held = store.pool().acquire().await.unwrap();
    let started = Instant::now();
    let err = store
        .find_credentials_by_email("x@example.com")
        .await
        .expect_err("the pool is exhausted");
    let waited = started.elapsed();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{name}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{name}: failed after {waited:?}"
    );
    drop(held);
    assert!(
        store
            .find_credentials_by_email("x@example.com")
            .await
            .unwrap()
            .is_none(),
        "{name}: works again once the connection is back"
    );
}

fn small_pool() -> StoreOptions {
    StoreOptions::default()
        .acquire_timeout(Duration::from_millis(300))
        .max_connections(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_unavailable_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let store = SqliteStore::connect_with(&url, users(), small_pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    exhausted("sqlite_file", store).await;
    let memory = SqliteStore::connect_with("sqlite::memory:", users(), small_pool())
        .await
        .unwrap();
    memory.migrate().await.unwrap();
    exhausted("sqlite_memory", memory).await;
    #[cfg(feature = "postgres")]
    if let Some(store) = common::postgres_with(users(), small_pool()).await {
        exhausted("postgres", store).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(store) = common::mysql_with(users(), small_pool()).await {
        exhausted("mysql", store).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_at_start_is_unavailable() {
    if common::url("AUTH_TEST_POSTGRES_URL").is_none() {
        return;
    }
    let started = Instant::now();
    let err = auth_store_sqlx::PgStore::connect_with(
        "postgres://postgres@127.0.0.1:1/test",
        users(),
        small_pool(),
    )
    .await
    .expect_err("nothing listens on port 1");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_down_at_start_is_unavailable() {
    if common::url("AUTH_TEST_MYSQL_URL").is_none() {
        return;
    }
    let started = Instant::now();
    let err = auth_store_sqlx::MySqlStore::connect_with(
        "mysql://root@127.0.0.1:1/test",
        users(),
        small_pool(),
    )
    .await
    .expect_err("nothing listens on port 1");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A call waiting on a row lock has its connection killed from another session: it fails
/// with `Unavailable`, and the store recovers on the next call.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_killed_mid_call_is_unavailable() {
    use sqlx::Connection;
    let Some(url) = common::postgres_url().await else {
        return;
    };
    let store = auth_store_sqlx::PgStore::connect_with(&url, users(), small_pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("k@example.com").unwrap(), common::at(0))
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("SELECT 1 FROM users FOR UPDATE")
        .execute(&mut locker)
        .await
        .unwrap();
    let call = {
        let store = store.clone();
        let id = user.id;
        tokio::spawn(async move { store.credentials_current(&id, "").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!call.is_finished(), "the call waits on the row lock");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("no hang")
        .unwrap()
        .expect_err("killed");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert!(store.credentials_current(&user.id, "").await.unwrap());
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_connection_killed_mid_call_is_unavailable() {
    use sqlx::Connection;
    let Some(url) = common::mysql_url().await else {
        return;
    };
    let store = auth_store_sqlx::MySqlStore::connect_with(&url, users(), small_pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("k@example.com").unwrap(), common::at(0))
        .await
        .unwrap();
    let conn_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut admin = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let mut locker = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("SELECT 1 FROM users FOR UPDATE")
        .execute(&mut locker)
        .await
        .unwrap();
    let call = {
        let store = store.clone();
        let id = user.id;
        tokio::spawn(async move { store.credentials_current(&id, "").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!call.is_finished(), "the call waits on the row lock");
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL {conn_id}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("no hang")
        .unwrap()
        .expect_err("killed");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert!(store.credentials_current(&user.id, "").await.unwrap());
}
