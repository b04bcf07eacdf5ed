//! Two stores with different table prefixes share one database file (and its user table)
//! without seeing each other's sessions or tokens.

use auth_core::{
    ClientInfo, IdKind, NewSession, NewToken, NewUser, OffsetDateTime, SessionId, SessionStore,
    TokenDigest, TokenKind, UserStore,
};
use auth_store_sqlx::{SqliteStore, UserTable};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
}

#[tokio::test]
async fn prefixed_stores_do_not_see_each_others_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let users = UserTable::new("users", IdKind::Integer);
    let a = SqliteStore::connect(&url, users.clone())
        .await
        .unwrap()
        .with_table_prefix("app_a_")
        .unwrap();
    let b = SqliteStore::connect(&url, users)
        .await
        .unwrap()
        .with_table_prefix("app_b_")
        .unwrap();
    assert_eq!(a.table_prefix(), "app_a_");
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();

    let user = a
        .create_user(&NewUser::new("shared@example.com").unwrap(), at(0))
        .await
        .unwrap();
    assert!(
        b.find_user_by_id(&user.id).await.unwrap().is_some(),
        "the user table is the app's, shared by both"
    );

    let session = SessionId::from_bytes([9; 16]);
    let access = NewToken {
        digest: TokenDigest([3; 32]),
        kind: TokenKind::Access,
        expires_at: at(900),
    };
    let new_session = NewSession {
        id: session,
        user_id: user.id,
        created_at: at(1),
        expires_at: at(9_000),
        absolute_expires_at: at(90_000),
        client: ClientInfo::none(),
        claims: None,
    };
    a.create_session(&new_session, std::slice::from_ref(&access), None)
        .await
        .unwrap();

    assert!(a.find_access_token(&access.digest).await.unwrap().is_some());
    assert!(
        b.find_access_token(&access.digest).await.unwrap().is_none(),
        "b does not see a's tokens"
    );
    assert_eq!(a.list_sessions(&user.id, at(2)).await.unwrap().len(), 1);
    assert!(b.list_sessions(&user.id, at(2)).await.unwrap().is_empty());
    assert!(
        !b.revoke_session(&user.id, &session, at(3)).await.unwrap(),
        "b cannot revoke a's session"
    );
    assert_eq!(
        b.revoke_user_sessions(&user.id, None, at(3)).await.unwrap(),
        0
    );
    // The same ids can exist in both without colliding.
    b.create_session(&new_session, std::slice::from_ref(&access), None)
        .await
        .unwrap();
    assert!(
        !a.find_access_token(&access.digest)
            .await
            .unwrap()
            .unwrap()
            .session
            .revoked
    );

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'app_%' ORDER BY name",
    )
    .fetch_all(a.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "app_a_auth_migrations",
            "app_a_auth_rate_limits",
            "app_a_auth_sessions",
            "app_a_auth_single_use_tokens",
            "app_a_auth_tokens",
            "app_b_auth_migrations",
            "app_b_auth_rate_limits",
            "app_b_auth_sessions",
            "app_b_auth_single_use_tokens",
            "app_b_auth_tokens"
        ]
    );
}
