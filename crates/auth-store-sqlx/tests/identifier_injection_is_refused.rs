//! Table and column names never carry SQL: anything but `^[A-Za-z_][A-Za-z0-9_]{0,40}$` is a
//! `Schema` error before any SQL runs.

use auth_core::{IdKind, StoreErrorKind, UserId, UserStore};
use auth_store_sqlx::{SqliteStore, UserTable};

const ATTEMPTS: &[&str] = &[
    "users; DROP TABLE victims; --",
    "users\" (x); DROP TABLE victims; --",
    "users WHERE 1=1",
    "",
    "1users",
    "main.users",
    "us\u{0435}rs",
    "users\0",
];

async fn pool_with_victim() -> sqlx::SqlitePool {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE victims (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn victims_intact(pool: &sqlx::SqlitePool) {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'victims'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the victim table survived");
}

#[tokio::test]
async fn bad_table_prefixes_are_refused() {
    let pool = pool_with_victim().await;
    for bad in ATTEMPTS.iter().filter(|s| !s.is_empty()) {
        let store = SqliteStore::from_pool(pool.clone(), UserTable::new("users", IdKind::Integer));
        let err = store
            .with_table_prefix(bad)
            .expect_err("a bad prefix is refused");
        assert_eq!(err.kind(), StoreErrorKind::Schema, "{bad:?}");
    }
    victims_intact(&pool).await;
}

#[tokio::test]
async fn bad_user_table_and_column_names_are_refused() {
    let pool = pool_with_victim().await;
    for bad in ATTEMPTS {
        for users in [
            UserTable::new(bad, IdKind::Integer),
            UserTable::new("users", IdKind::Integer).id_column(bad),
        ] {
            let err = SqliteStore::connect("sqlite::memory:", users.clone())
                .await
                .expect_err("connect refuses bad names");
            assert_eq!(err.kind(), StoreErrorKind::Schema, "{bad:?}");

            // from_pool cannot fail: every operation reports the bad name instead.
            let store = SqliteStore::from_pool(pool.clone(), users);
            let err = store.migrate().await.expect_err("migrate refuses");
            assert_eq!(err.kind(), StoreErrorKind::Schema, "{bad:?}");
            let err = store
                .find_user_by_id(&UserId::Int(1))
                .await
                .expect_err("queries refuse");
            assert_eq!(err.kind(), StoreErrorKind::Schema, "{bad:?}");
            assert!(store.statements().is_none());
        }
    }
    victims_intact(&pool).await;
}

#[tokio::test]
async fn extra_column_ddl_cannot_chain_statements() {
    let pool = pool_with_victim().await;
    let users = UserTable::new("users", IdKind::Integer)
        .extra_columns("nick TEXT); DROP TABLE victims; CREATE TABLE x (y TEXT");
    let store = SqliteStore::from_pool(pool.clone(), users);
    let err = store.migrate().await.expect_err("`;` is refused");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    victims_intact(&pool).await;
}
