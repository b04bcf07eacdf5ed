//! Failures reach callers as portable `StoreErrorKind`s, within the configured timeout,
//! never as a hang or a panic: a database down at start (nothing listening) or not
//! answering (a socket that accepts and stays silent), a connection killed mid-call
//! (`pg_terminate_backend` from another session, during a locking read and during a
//! transaction), a connection killed while idle in the pool, an exhausted pool, a missing
//! schema, a malformed URL.

mod common;

use std::error::Error as _;
use std::time::{Duration, Instant};

use auth_core::{
    CredentialStore, EndSessions, IdKind, NewUser, SessionStore, StoreErrorKind, TokenDigest,
    UserStore,
};
use auth_store_postgres::{PostgresStore, StoreOptions, UserTable};
use common::{TestSchema, access, at, session, users};

fn small_pool() -> StoreOptions {
    StoreOptions::default()
        .acquire_timeout(Duration::from_millis(300))
        .max_connections(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_down_at_start_is_unavailable() {
    if common::base_url().is_none() {
        return;
    }
    let started = Instant::now();
    let err = PostgresStore::connect_with(
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
    assert_eq!(err.context(), "connect");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_never_answers_is_unavailable_within_the_timeout() {
    if common::base_url().is_none() {
        return;
    }
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let err = PostgresStore::connect_with(
        &format!("postgres://postgres@127.0.0.1:{port}/test"),
        users(),
        small_pool(),
    )
    .await
    .expect_err("the server never answers");
    let waited = started.elapsed();
    assert_eq!(
        err.kind(),
        StoreErrorKind::Unavailable,
        "{:?}",
        err.source()
    );
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "failed after {waited:?}"
    );
    silent.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_unavailable_within_the_timeout() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store_with(users(), small_pool()).await;
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("x@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();

    let held = store.pool().get().await.unwrap();
    for op in ["read", "hot-path read", "write"] {
        let started = Instant::now();
        let err = match op {
            "read" => store
                .find_credentials_by_email("x@example.com")
                .await
                .map(|_| ()),
            "hot-path read" => store.find_access_token(&access(1)).await.map(|_| ()),
            _ => store
                .create_user(&NewUser::new("y@example.com").unwrap(), at(0))
                .await
                .map(|_| ()),
        }
        .expect_err("the pool is exhausted");
        let waited = started.elapsed();
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{op}");
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
            "{op}: failed after {waited:?}"
        );
    }
    drop(held);
    assert!(
        store.find_access_token(&access(1)).await.unwrap().is_some(),
        "works again once the connection is back"
    );
    assert!(
        store
            .find_credentials_by_email("y@example.com")
            .await
            .unwrap()
            .is_none(),
        "the write that timed out waiting for a connection did nothing"
    );
    drop(store);
    schema.drop().await;
}

/// The backend pid of the store's (only) pooled connection.
async fn backend_pid(store: &PostgresStore) -> i32 {
    let client = store.pool().get().await.unwrap();
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_call_is_unavailable_and_nothing_half_applied() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema
        .store_with(
            users(),
            small_pool().acquire_timeout(Duration::from_secs(2)),
        )
        .await;
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("k@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    let admin = schema.client().await;
    let mut locker = schema.client().await;

    // A locking read (credentials_current: FOR SHARE) and a transaction
    // (change_password_hash: the new hash, the sessions, the reset tokens) each wait on
    // the user row locked by another session; their connection is killed.
    for op in ["credentials_current", "change_password_hash"] {
        let pid = backend_pid(&store).await;
        let tx = locker.transaction().await.unwrap();
        tx.execute("SELECT 1 FROM users FOR UPDATE", &[])
            .await
            .unwrap();
        let call = {
            let store = store.clone();
            let id = user.id;
            tokio::spawn(async move {
                match op {
                    "credentials_current" => store.credentials_current(&id, "").await.map(|_| ()),
                    _ => store
                        .change_password_hash(&id, "$new$", EndSessions::All, at(5))
                        .await
                        .map(|_| ()),
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!call.is_finished(), "{op}: the call waits on the row lock");
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
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
            "{op}: {:?}",
            err.source()
        );
        tx.rollback().await.unwrap();
    }
    // The store recovers, and the killed transaction left nothing behind.
    assert!(store.credentials_current(&user.id, "").await.unwrap());
    let status = store.session_status(&s.id).await.unwrap().unwrap();
    assert!(
        !status.revoked,
        "the killed password change revoked nothing"
    );
    drop(store);
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_while_idle_costs_at_most_one_unavailable() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store_with(users(), small_pool()).await;
    store.migrate().await.unwrap();
    let user = store
        .create_user(&NewUser::new("i@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    let admin = schema.client().await;
    for round in 0..3 {
        let pid = backend_pid(&store).await;
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
        // Fast recycling runs no query: if the pool hands out the dead connection before
        // its driver noticed the close, that one call fails `Unavailable`; never a hang.
        let first =
            tokio::time::timeout(Duration::from_secs(5), store.find_access_token(&access(1)))
                .await
                .expect("no hang");
        if let Err(err) = &first {
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "round {round}");
        }
        assert!(
            store.find_access_token(&access(1)).await.unwrap().is_some(),
            "round {round}: the next call runs on a fresh connection"
        );
    }
    drop(store);
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tables_bad_names_and_bad_urls_have_their_kinds() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store_with(users(), StoreOptions::default()).await;
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
    assert!(err.source().is_some(), "the driver's error is the source");
    let err = store
        .create_user(&NewUser::new("a@example.com").unwrap(), at(0))
        .await
        .expect_err("not migrated");
    assert_eq!(err.kind(), StoreErrorKind::Schema);

    let err = store
        .clone()
        .with_table_prefix("bad-prefix")
        .expect_err("bad prefix");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    let err = PostgresStore::connect(&schema.url, UserTable::new("users;", IdKind::Integer))
        .await
        .expect_err("bad table name");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    let err = PostgresStore::connect("postgres://x@127.0.0.1/db?nonsense=1", users())
        .await
        .expect_err("unknown URL parameter");
    assert_eq!(err.kind(), StoreErrorKind::Other);

    // A user table missing library columns: Schema, naming them.
    schema
        .client()
        .await
        .batch_execute("CREATE TABLE members (id BIGINT PRIMARY KEY, email TEXT NOT NULL)")
        .await
        .unwrap();
    let members = schema
        .store_with(
            UserTable::new("members", IdKind::Integer),
            StoreOptions::default(),
        )
        .await;
    let err = members.migrate().await.expect_err("columns missing");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    let why = err.source().unwrap().to_string();
    assert!(
        why.contains("password") && why.contains("updated_at"),
        "{why}"
    );
    drop((store, members));
    schema.drop().await;
}
