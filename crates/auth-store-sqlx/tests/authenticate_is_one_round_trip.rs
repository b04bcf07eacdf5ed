//! `find_access_token` and `session_status` are one statement each (one round trip, the
//! joined user included) on every backend, counted from sqlx's own statement log; on
//! SQLite with the inline read path (the default) they run no pool statement at all; on
//! SQLite the plan searches every table by key and never scans, and the lookup writes
//! nothing.

mod common;

use std::sync::{Arc, Mutex};

use auth_core::{NewUser, SessionStore, TokenDigest, UserStore};
use auth_store_sqlx::{Backend, SqliteStore, SqlxStore, StoreOptions};
use common::{access, at, session, users};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the statements sqlx logs (target `sqlx::query`).
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

struct Text(String);
impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl Subscriber for Statements {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("sqlx")
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push(text.0);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Statements {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn count<B: Backend>(name: &str, store: SqlxStore<B>, log: &Statements) {
    let user = store
        .create_user(&NewUser::new("rt@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    // Warm the connection's statement cache (the first use prepares).
    store.find_access_token(&access(1)).await.unwrap().unwrap();
    store.session_status(&s.id).await.unwrap().unwrap();

    log.take();
    let record = store.find_access_token(&access(1)).await.unwrap().unwrap();
    assert_eq!(record.session.user.as_ref().unwrap().id, user.id, "{name}");
    let seen = log.take();
    assert_eq!(seen.len(), 1, "{name}: find_access_token ran {seen:#?}");
    assert!(seen[0].contains("auth_tokens"), "{name}: {seen:?}");

    let status = store.session_status(&s.id).await.unwrap().unwrap();
    assert!(status.user.is_some(), "{name}");
    let seen = log.take();
    assert_eq!(seen.len(), 1, "{name}: session_status ran {seen:#?}");

    assert!(
        store
            .find_access_token(&TokenDigest([0xee; 32]))
            .await
            .unwrap()
            .is_none()
    );
    let seen = log.take();
    assert_eq!(seen.len(), 1, "{name}: a miss ran {seen:#?}");
    eprintln!("{name}: one statement per lookup");
}

/// One pooled connection, so no connection is opened (and its session set up) during a
/// count: what is counted is the lookup's own statements.
fn one_connection() -> StoreOptions {
    StoreOptions::default().max_connections(1)
}

/// The same, with SQLite's inline read path off: every read through the pool.
fn through_pool() -> StoreOptions {
    one_connection().fast_reads(false)
}

/// The inline read path answers both lookups (hit and miss) without a pool statement.
async fn inline_reads_skip_the_pool(name: &str, store: SqliteStore, log: &Statements) {
    assert!(store.has_fast_reads(), "{name}");
    let user = store
        .create_user(&NewUser::new("inline@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    log.take();
    for _ in 0..3 {
        let record = store.find_access_token(&access(1)).await.unwrap().unwrap();
        assert_eq!(record.session.user.as_ref().unwrap().id, user.id, "{name}");
        assert!(
            store.session_status(&s.id).await.unwrap().is_some(),
            "{name}"
        );
        assert!(
            store
                .find_access_token(&TokenDigest([0xee; 32]))
                .await
                .unwrap()
                .is_none()
        );
    }
    let seen = log.take();
    assert!(seen.is_empty(), "{name}: the pool ran {seen:#?}");
    eprintln!("{name}: no pool statement per lookup");
}

/// One test function, so the process-wide log sees one store at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_are_one_statement_on_every_backend() {
    let log = Statements::default();
    tracing::subscriber::set_global_default(log.clone()).expect("the only subscriber");

    // SQLite through the pool (the fallback of the inline read path).
    let memory = SqliteStore::connect_with("sqlite::memory:", users(), through_pool())
        .await
        .unwrap();
    memory.migrate().await.unwrap();
    count("sqlite_memory", memory, &log).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let file = SqliteStore::connect_with(&url, users(), through_pool())
        .await
        .unwrap();
    file.migrate().await.unwrap();
    count("sqlite_file", file, &log).await;
    // With the inline read path (the default), SQLite lookups run no sqlx statement at
    // all: one statement on a read-only connection, on the calling thread.
    inline_reads_skip_the_pool(
        "sqlite_memory inline",
        common::sqlite_memory(users()).await,
        &log,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let file = SqliteStore::connect(&url, users()).await.unwrap();
    file.migrate().await.unwrap();
    inline_reads_skip_the_pool("sqlite_file inline", file, &log).await;
    #[cfg(feature = "postgres")]
    if let Some(url) = common::postgres_url().await {
        let store = auth_store_sqlx::PgStore::connect_with(&url, users(), one_connection())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        count("postgres", store, &log).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(url) = common::mysql_url().await {
        let store = auth_store_sqlx::MySqlStore::connect_with(&url, users(), one_connection())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        count("mysql", store, &log).await;
    }

    // SQLite: the plan searches by key everywhere, and the lookup writes nothing.
    let store: SqliteStore = common::sqlite_memory(users()).await;
    for i in 0..20u8 {
        let u = store
            .create_user(&NewUser::new(&format!("p{i}@example.com")).unwrap(), at(0))
            .await
            .unwrap();
        let (s, t) = session(i, u.id, 0);
        store.create_session(&s, &t, None).await.unwrap();
    }
    let sql = format!(
        "EXPLAIN QUERY PLAN {}",
        store.statements().unwrap().access_lookup.sql()
    );
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vec![0u8; 32])
        .fetch_all(store.pool())
        .await
        .unwrap();
    let plan: Vec<String> = rows.into_iter().map(|r| r.3).collect();
    assert!(
        plan.iter()
            .any(|d| d.starts_with("SEARCH k USING PRIMARY KEY (digest=?)")),
        "{plan:?}"
    );
    for table in ["s", "u"] {
        assert!(
            plan.iter()
                .any(|d| d.starts_with(&format!("SEARCH {table} USING"))),
            "{table} is searched by key: {plan:?}"
        );
    }
    assert!(
        !plan.iter().any(|d| d.starts_with("SCAN")),
        "no scan: {plan:?}"
    );

    let changes = || async {
        sqlx::query_scalar::<_, i64>("SELECT total_changes()")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let before = changes().await;
    for _ in 0..10 {
        store.find_access_token(&access(3)).await.unwrap().unwrap();
        store
            .find_access_token(&TokenDigest([0xee; 32]))
            .await
            .unwrap();
    }
    assert_eq!(changes().await, before, "find_access_token changed no row");
}
