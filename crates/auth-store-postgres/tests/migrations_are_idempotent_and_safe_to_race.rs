//! `migrate` is idempotent and safe when several instances start at once: eight stores
//! (eight pools) migrate one empty schema at the same moment, under the advisory lock;
//! then migrating again changes nothing. UUID keys get UUID foreign keys; an
//! application's existing table is checked and kept, its own columns untouched.

mod common;

use auth_core::{IdKind, NewUser, SessionStore, UserId, UserStore};
use auth_store_postgres::{PostgresStore, StoreOptions, UserTable};
use common::{TestSchema, at, count, session, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_once() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(
            schema
                .store_with(users(), StoreOptions::default().max_connections(1))
                .await,
        );
    }
    let runs: Vec<_> = stores
        .iter()
        .cloned()
        .map(|store| tokio::spawn(async move { store.migrate().await }))
        .collect();
    for run in runs {
        run.await
            .unwrap()
            .expect("every concurrent migrate succeeds");
    }
    let store = &stores[0];
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM auth_migrations", &[]).await,
        1
    );
    store.migrate().await.expect("again: a no-op");
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM auth_migrations", &[]).await,
        1
    );
    let user = store
        .create_user(&NewUser::new("m@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    drop(stores);
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_keys_and_an_existing_app_table_work() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    // The application's own table: UUID key, plain TIMESTAMP times, its own columns.
    schema
        .client()
        .await
        .batch_execute(
            "CREATE TABLE accounts (account_id UUID PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
             password TEXT NOT NULL DEFAULT '', last_login TIMESTAMP NULL, \
             is_active BOOLEAN NOT NULL DEFAULT TRUE, is_verified BOOLEAN NOT NULL DEFAULT FALSE, \
             joined_at TIMESTAMP NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, \
             nickname TEXT NOT NULL DEFAULT 'anon')",
        )
        .await
        .unwrap();
    let table = UserTable::new("accounts", IdKind::Uuid).id_column("account_id");
    let store: PostgresStore = schema.store(table).await;
    let user = store
        .create_user(&NewUser::new("U@Example.com").unwrap(), at(0))
        .await
        .unwrap();
    assert!(matches!(user.id, UserId::Uuid(_)));
    let found = store.find_user_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(
        found.created_at,
        at(0),
        "TIMESTAMP columns read back as UTC"
    );
    let (s, t) = session(3, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    let fk_type = count(
        &store,
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = 'auth_sessions' AND column_name = 'user_id' AND data_type = 'uuid'",
        &[],
    )
    .await;
    assert_eq!(fk_type, 1, "the foreign key has the key's exact type");
    let nick = count(
        &store,
        "SELECT COUNT(*) FROM accounts WHERE nickname = 'anon'",
        &[],
    )
    .await;
    assert_eq!(nick, 1, "the application's column kept its default");
    drop(store);
    schema.drop().await;
}
