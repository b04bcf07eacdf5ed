//! Migrations on every backend: from an empty database several instances migrating at once
//! all succeed and apply each version once; a second run changes nothing and keeps the
//! data; on top of an application's own user table the library checks its columns, never
//! alters the table, and references its key (of the exact catalog type) with a cascading
//! foreign key.

mod common;

use auth_core::{IdKind, NewUser, SessionStore, StoreErrorKind, UserId, UserStore};
use auth_store_sqlx::{Backend, SqlxStore, StoreOptions, UserTable};
use common::{access, at, session, users};
use std::error::Error as _;

async fn race_then_repeat<B: Backend>(name: &str, url: &str, users: UserTable) {
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(
            SqlxStore::<B>::connect_with(
                url,
                users.clone(),
                StoreOptions::default().table_prefix("r_"),
            )
            .await
            .unwrap(),
        );
    }
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| tokio::spawn(async move { s.migrate().await }))
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e:?} {:?}", e.source()));
    }
    let store = &stores[0];
    let versions = common::raw_count(store, "SELECT COUNT(*) FROM r_auth_migrations", vec![]).await;
    assert_eq!(versions, 1, "{name}: version 1 recorded once");
    let user = store
        .create_user(&NewUser::new("m@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    // Again, from a new pool (a restarted instance): nothing changes, the data stays.
    let again =
        SqlxStore::<B>::connect_with(url, users, StoreOptions::default().table_prefix("r_"))
            .await
            .unwrap();
    again.migrate().await.unwrap();
    assert_eq!(
        common::raw_count(&again, "SELECT COUNT(*) FROM r_auth_migrations", vec![]).await,
        1
    );
    assert_eq!(again.find_user_by_id(&user.id).await.unwrap(), Some(user));
    assert!(again.find_access_token(&access(1)).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_from_empty_databases() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    race_then_repeat::<sqlx::Sqlite>("sqlite", &url, users()).await;
    #[cfg(feature = "postgres")]
    if let Some(url) = common::postgres_url().await {
        race_then_repeat::<sqlx::Postgres>("postgres", &url, users()).await;
        let url = common::postgres_url().await.unwrap();
        race_then_repeat::<sqlx::Postgres>(
            "postgres uuid",
            &url,
            UserTable::new("users", IdKind::Uuid),
        )
        .await;
    }
    #[cfg(feature = "mysql")]
    if let Some(url) = common::mysql_url().await {
        race_then_repeat::<sqlx::MySql>("mysql", &url, users()).await;
        let url = common::mysql_url().await.unwrap();
        race_then_repeat::<sqlx::MySql>("mysql uuid", &url, UserTable::new("users", IdKind::Uuid))
            .await;
    }
}

/// The application's table with its own columns; the library works on it unchanged.
async fn on_app_table<B: Backend>(name: &str, url: &str, ddl: &str, table: UserTable) {
    let store = SqlxStore::<B>::connect(url, table.clone()).await.unwrap();
    common::raw(&store, ddl, vec![]).await;
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?} {:?}", e.source()));
    let user = store
        .create_user(&NewUser::new("app@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let nick = common::raw_count(
        &store,
        "SELECT COUNT(*) FROM members WHERE nick = 'member' AND email = 'app@example.com'",
        vec![],
    )
    .await;
    assert_eq!(
        nick, 1,
        "{name}: the app's default applied, its column untouched"
    );
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    store.set_verified(&user.id, true, at(1)).await.unwrap();
    assert!(
        store
            .find_access_token(&access(1))
            .await
            .unwrap()
            .unwrap()
            .session
            .user
            .unwrap()
            .is_verified
    );
    // Deleting with the app's own SQL takes the sessions along (the foreign key).
    common::raw(
        &store,
        "DELETE FROM members WHERE email = 'app@example.com'",
        vec![],
    )
    .await;
    assert!(
        store.find_access_token(&access(1)).await.unwrap().is_none(),
        "{name}"
    );
    // A table lacking library columns is refused by name and left alone.
    let bad = SqlxStore::<B>::connect(url, UserTable::new("people", IdKind::Integer))
        .await
        .unwrap()
        .with_table_prefix("bad_")
        .unwrap();
    common::raw(
        &bad,
        "CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL, nick VARCHAR(20))",
        vec![],
    )
    .await;
    let err = bad.migrate().await.expect_err("columns are missing");
    assert_eq!(err.kind(), StoreErrorKind::Schema, "{name}");
    let source = err.source().unwrap().to_string();
    assert!(
        source.contains("is_verified") && source.contains("password"),
        "{source}"
    );
    assert!(
        !source.contains("email"),
        "present columns are not named: {source}"
    );
    let _ = UserId::Int(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_on_top_of_an_app_table() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    on_app_table::<sqlx::Sqlite>(
        "sqlite",
        &url,
        "CREATE TABLE members (member_id INTEGER PRIMARY KEY, nick TEXT NOT NULL DEFAULT 'member', \
         email TEXT NOT NULL UNIQUE, password TEXT NOT NULL DEFAULT '', last_login TIMESTAMP, \
         is_active BOOLEAN NOT NULL DEFAULT 1, is_verified BOOLEAN NOT NULL DEFAULT 0, \
         joined_at TIMESTAMP, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
        UserTable::new("members", IdKind::Integer).id_column("member_id"),
    )
    .await;
    #[cfg(feature = "postgres")]
    if let Some(url) = common::postgres_url().await {
        // An `integer` (int4) key: the foreign keys use `integer` too.
        on_app_table::<sqlx::Postgres>(
            "postgres",
            &url,
            "CREATE TABLE members (member_id SERIAL PRIMARY KEY, nick TEXT NOT NULL DEFAULT 'member', \
             email VARCHAR(255) NOT NULL UNIQUE, password TEXT NOT NULL DEFAULT '', \
             last_login TIMESTAMP, is_active BOOLEAN NOT NULL DEFAULT TRUE, \
             is_verified BOOLEAN NOT NULL DEFAULT FALSE, joined_at TIMESTAMP, \
             created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
            UserTable::new("members", IdKind::Integer).id_column("member_id"),
        )
        .await;
        let url = common::postgres_url().await.unwrap();
        on_app_table::<sqlx::Postgres>(
            "postgres uuid",
            &url,
            "CREATE TABLE members (member_id UUID PRIMARY KEY, nick TEXT NOT NULL DEFAULT 'member', \
             email TEXT NOT NULL UNIQUE, password TEXT NOT NULL DEFAULT '', \
             last_login TIMESTAMPTZ, is_active BOOLEAN NOT NULL DEFAULT TRUE, \
             is_verified BOOLEAN NOT NULL DEFAULT FALSE, joined_at TIMESTAMPTZ, \
             created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
            UserTable::new("members", IdKind::Uuid).id_column("member_id"),
        )
        .await;
    }
    #[cfg(feature = "mysql")]
    if let Some(url) = common::mysql_url().await {
        // An `int unsigned` key: the foreign keys copy the exact type.
        on_app_table::<sqlx::MySql>(
            "mysql",
            &url,
            "CREATE TABLE members (member_id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             nick VARCHAR(20) NOT NULL DEFAULT 'member', email VARCHAR(255) NOT NULL UNIQUE, \
             password VARCHAR(255) NOT NULL DEFAULT '', last_login DATETIME, \
             is_active TINYINT(1) NOT NULL DEFAULT 1, is_verified TINYINT(1) NOT NULL DEFAULT 0, \
             joined_at DATETIME, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
            UserTable::new("members", IdKind::Integer).id_column("member_id"),
        )
        .await;
        let url = common::mysql_url().await.unwrap();
        // A CHAR(36) UUID key in the table's own character set and collation.
        on_app_table::<sqlx::MySql>(
            "mysql uuid",
            &url,
            "CREATE TABLE members (member_id CHAR(36) NOT NULL PRIMARY KEY, \
             nick VARCHAR(20) NOT NULL DEFAULT 'member', email VARCHAR(255) NOT NULL UNIQUE, \
             password VARCHAR(255) NOT NULL DEFAULT '', last_login DATETIME(6), \
             is_active BOOLEAN NOT NULL DEFAULT TRUE, is_verified BOOLEAN NOT NULL DEFAULT FALSE, \
             joined_at DATETIME(6), created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL) \
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
            UserTable::new("members", IdKind::Uuid).id_column("member_id"),
        )
        .await;
    }
}
