//! Sessions never outlive their user: deleting a user (through the store or with the
//! application's own SQL) deletes its sessions and tokens, so a reused key never inherits
//! them; deactivation and password changes end sessions in the same transaction; and
//! `credentials_current` tells a login whether what it verified still holds.

mod common;

use auth_core::{
    CredentialStore, EndSessions, IdKind, NewToken, NewUser, SessionStore, SingleUseTokenStore,
    TokenDigest, TokenKind, UserId, UserStore,
};
use auth_sql::Value;
use auth_store_sqlx::{Backend, SqliteStore, SqlxStore, UserTable};
use common::{access, at, each_backend, raw, session, users};

#[tokio::test]
async fn a_reused_integer_key_does_not_inherit_the_deleted_users_sessions() {
    let store = SqliteStore::connect(
        "sqlite::memory:",
        UserTable::new("members", IdKind::Integer),
    )
    .await
    .unwrap();
    // The application's table: `INTEGER PRIMARY KEY` without AUTOINCREMENT, so SQLite
    // hands a deleted row's id to the next insert.
    sqlx::query(
        "CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
         password TEXT NOT NULL DEFAULT '', last_login TIMESTAMP, \
         is_active BOOLEAN NOT NULL DEFAULT 1, is_verified BOOLEAN NOT NULL DEFAULT 0, \
         joined_at TIMESTAMP, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.migrate().await.unwrap();

    let old = store
        .create_user(&NewUser::new("old@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, old.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    assert!(store.find_access_token(&access(1)).await.unwrap().is_some());

    // The application deletes the user with its own SQL...
    sqlx::query("DELETE FROM members WHERE email = 'old@example.com'")
        .execute(store.pool())
        .await
        .unwrap();
    // ...and the next registration gets the same id.
    let new = store
        .create_user(&NewUser::new("new@example.com").unwrap(), at(1))
        .await
        .unwrap();
    assert_eq!(new.id, old.id, "SQLite reused the key");
    assert!(
        store.find_access_token(&access(1)).await.unwrap().is_none(),
        "the old token must not authenticate as the newcomer"
    );
    assert!(
        store
            .list_sessions(&new.id, at(2))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn deletion_takes_everything<B: Backend>(store: SqlxStore<B>) {
    let reset = |b: u8| NewToken {
        digest: TokenDigest([b; 32]),
        kind: TokenKind::PasswordReset,
        expires_at: at(900),
    };
    // Through the store.
    let ann = store
        .create_user(&NewUser::new("ann@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(1, ann.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    store
        .insert_single_use_token(&ann.id, &reset(200), false, at(0))
        .await
        .unwrap();
    assert!(store.delete_user(&ann.id).await.unwrap());
    assert!(!store.delete_user(&ann.id).await.unwrap(), "already gone");
    assert!(store.find_access_token(&access(1)).await.unwrap().is_none());
    assert!(store.session_status(&s.id).await.unwrap().is_none());
    assert!(
        store
            .find_single_use_token(&TokenDigest([200; 32]), TokenKind::PasswordReset, at(1))
            .await
            .unwrap()
            .is_none()
    );

    // With the application's own SQL (the foreign keys cascade).
    let ben = store
        .create_user(&NewUser::new("ben@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (s, t) = session(2, ben.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    store
        .insert_single_use_token(&ben.id, &reset(201), false, at(0))
        .await
        .unwrap();
    raw(
        &store,
        "DELETE FROM users WHERE email = :email",
        vec![Value::Text("ben@example.com".into())],
    )
    .await;
    assert!(store.find_access_token(&access(2)).await.unwrap().is_none());
    assert_eq!(
        common::raw_count(
            &store,
            "SELECT COUNT(*) FROM auth_single_use_tokens WHERE kind = :kind",
            vec![Value::Small(TokenKind::PasswordReset.code())]
        )
        .await,
        0
    );

    // A session for a user that does not exist is refused.
    let (s, t) = session(3, UserId::Int(987_654), 0);
    let err = store.create_session(&s, &t, None).await.unwrap_err();
    assert_eq!(err.kind(), auth_core::StoreErrorKind::NotFound);
}
each_backend!(deletion_takes_everything, users());

async fn credential_changes_end_sessions<B: Backend>(store: SqlxStore<B>) {
    let cy = store
        .create_user(
            &NewUser::new("cy@example.com")
                .unwrap()
                .with_password_hash("$argon2id$old".into()),
            at(0),
        )
        .await
        .unwrap();
    assert!(
        store
            .credentials_current(&cy.id, "$argon2id$old")
            .await
            .unwrap()
    );
    assert!(
        !store
            .credentials_current(&cy.id, "$argon2id$other")
            .await
            .unwrap()
    );
    assert!(
        !store
            .credentials_current(&UserId::Int(424_242), "x")
            .await
            .unwrap()
    );
    for id in [1, 2, 3] {
        let (s, t) = session(id, cy.id, 0);
        store.create_session(&s, &t, None).await.unwrap();
    }
    let reset = NewToken {
        digest: TokenDigest([210; 32]),
        kind: TokenKind::PasswordReset,
        expires_at: at(900),
    };
    store
        .insert_single_use_token(&cy.id, &reset, false, at(0))
        .await
        .unwrap();

    // A password change ends the other sessions and voids reset tokens, in one transaction.
    let keep = auth_core::SessionId::from_bytes([1; 16]);
    let ended = store
        .change_password_hash(
            &cy.id,
            "$argon2id$new",
            EndSessions::AllExcept(&keep),
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(
        !store
            .credentials_current(&cy.id, "$argon2id$old")
            .await
            .unwrap()
    );
    assert!(
        store
            .credentials_current(&cy.id, "$argon2id$new")
            .await
            .unwrap()
    );
    assert!(
        !store
            .find_access_token(&access(1))
            .await
            .unwrap()
            .unwrap()
            .session
            .revoked
    );
    assert!(
        store
            .find_access_token(&access(2))
            .await
            .unwrap()
            .unwrap()
            .session
            .revoked
    );
    assert!(
        store
            .consume_single_use_token(&reset.digest, TokenKind::PasswordReset, at(6))
            .await
            .unwrap()
            .is_none(),
        "the reset link died with the change"
    );
    let err = store
        .change_password_hash(&UserId::Int(424_242), "x", EndSessions::All, at(6))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::StoreErrorKind::NotFound);

    // Deactivation ends every session and makes the credentials stale.
    assert_eq!(store.deactivate_user(&cy.id, at(7)).await.unwrap(), 1);
    assert!(
        !store
            .credentials_current(&cy.id, "$argon2id$new")
            .await
            .unwrap()
    );
    let user = store.find_user_by_id(&cy.id).await.unwrap().unwrap();
    assert!(!user.is_active);
    assert_eq!(user.updated_at, at(7));
}
each_backend!(credential_changes_end_sessions, users());
