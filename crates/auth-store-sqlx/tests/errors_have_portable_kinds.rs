//! sqlx errors reach callers as portable `StoreErrorKind`s, with messages naming only the
//! operation and the driver error kept as the source.

use std::error::Error as _;

use auth_core::{
    IdKind, NewUser, OffsetDateTime, StoreErrorKind, TokenDigest, TokenStore, UserStore,
};
use auth_store_sqlx::{SqliteStore, UserTable};

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
    let store = SqliteStore::connect("sqlite::memory:", UserTable::new("users", IdKind::Integer))
        .await
        .unwrap();
    store.migrate().await.unwrap();
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
        UserTable::new("users", IdKind::Integer),
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
