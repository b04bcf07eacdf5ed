//! `migrate` is idempotent and versioned: a second run changes nothing and keeps the data.

use auth_core::{IdKind, NewUser, OffsetDateTime, UserStore};
use auth_store_sqlx::{SqliteStore, UserTable};

async fn schema(store: &SqliteStore) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT name, sql FROM sqlite_master ORDER BY name")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn second_migrate_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let users = UserTable::new("users", IdKind::Integer);
    let store = SqliteStore::connect(&url, users.clone()).await.unwrap();
    store.migrate().await.expect("first migrate");
    let user = store
        .create_user(
            &NewUser::new("a@example.com").unwrap(),
            OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
        )
        .await
        .unwrap();
    let before = schema(&store).await;
    let versions: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM auth_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");

    store.migrate().await.expect("second migrate");
    // A second store on the same file (a restarted process) migrates too.
    let again = SqliteStore::connect(&url, users).await.unwrap();
    again.migrate().await.expect("migrate from another pool");

    assert_eq!(schema(&store).await, before, "the schema is unchanged");
    let versions_after: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM auth_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(versions_after, versions, "no version recorded twice");
    assert_eq!(
        again.find_user_by_id(&user.id).await.unwrap(),
        Some(user),
        "the data is kept"
    );
}
