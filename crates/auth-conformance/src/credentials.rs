//! Checks of [`CredentialStore`]: a credential change and the end of the sessions and
//! tokens it invalidates, in one transaction. Only for stores that hold users, sessions
//! and single-use tokens together.

use auth_core::{
    CredentialStore, EndSessions, NewUser, SessionStore, SingleUseTokenStore, StoreErrorKind,
    TokenKind, User, UserStore,
};

use crate::runner::{Check, StoreFactory};
use crate::support::{Times, email, is_revoked, login, t, token, unknown_id};

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + CredentialStore,
{
    suite!("credentials", factory;
        change_password_hash_ends_the_chosen_sessions_and_voids_reset_tokens,
        change_password_hash_of_an_unknown_user_is_not_found,
        deactivate_user_ends_every_session_and_voids_every_single_use_token,
    )
}

async fn new_user<S: UserStore>(store: &S, tag: &str) -> User {
    let new = NewUser::new(&email(tag)).expect("a valid email");
    store.create_user(&new, t(0)).await.expect("create_user")
}

/// `change_password_hash` stores the hash (and `updated_at`), ends exactly the sessions
/// asked for (`None`, `AllExcept`, `All`), counting only active ones, and voids the
/// user's outstanding password-reset tokens (not verification tokens, not other users').
pub async fn change_password_hash_ends_the_chosen_sessions_and_voids_reset_tokens<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + CredentialStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "change").await;
    let other = new_user(&store, "bystander").await;
    let a = login(&store, user.id, Times::standard()).await;
    let b = login(&store, user.id, Times::standard()).await;
    let c = login(&store, user.id, Times::standard()).await;
    login(&store, user.id, Times::new(t(0), t(20), t(50))).await;
    let theirs = login(&store, other.id, Times::standard()).await;
    let reset = token(TokenKind::PasswordReset, t(3_600));
    let verify = token(TokenKind::EmailVerification, t(3_600));
    let other_reset = token(TokenKind::PasswordReset, t(3_600));
    for (owner, tok) in [(&user, &reset), (&user, &verify), (&other, &other_reset)] {
        store
            .insert_single_use_token(&owner.id, tok, false, t(0))
            .await
            .expect("insert_single_use_token");
    }

    let ended = store
        .change_password_hash(&user.id, "$argon2id$one", EndSessions::None, t(100))
        .await
        .expect("change_password_hash");
    assert_eq!(ended, 0, "EndSessions::None ends nothing");
    let creds = store
        .find_credentials_by_id(&user.id)
        .await
        .expect("find_credentials_by_id")
        .expect("the user exists");
    assert_eq!(
        creds.password_hash, "$argon2id$one",
        "the new hash is stored"
    );
    assert_eq!(creds.user.updated_at, t(100), "updated_at = now");
    for s in [&a, &b, &c] {
        assert!(
            !is_revoked(&store, &s.session).await,
            "EndSessions::None keeps sessions"
        );
    }
    let find = |digest, kind| {
        let store = &store;
        async move {
            store
                .find_single_use_token(&digest, kind, t(150))
                .await
                .expect("find_single_use_token")
        }
    };
    assert_eq!(
        find(reset.digest, TokenKind::PasswordReset).await,
        None,
        "a password change voids the user's reset tokens"
    );
    assert_eq!(
        find(verify.digest, TokenKind::EmailVerification).await,
        Some(user.id),
        "a password change keeps verification tokens"
    );
    assert_eq!(
        find(other_reset.digest, TokenKind::PasswordReset).await,
        Some(other.id),
        "other users' reset tokens stay"
    );

    let ended = store
        .change_password_hash(
            &user.id,
            "$argon2id$two",
            EndSessions::AllExcept(&b.session),
            t(200),
        )
        .await
        .expect("change_password_hash");
    assert_eq!(
        ended, 2,
        "AllExcept ends the other active sessions, and the expired one is not counted"
    );
    assert!(is_revoked(&store, &a.session).await);
    assert!(
        !is_revoked(&store, &b.session).await,
        "the kept session stays"
    );
    assert!(is_revoked(&store, &c.session).await);

    let ended = store
        .change_password_hash(&user.id, "$argon2id$three", EndSessions::All, t(300))
        .await
        .expect("change_password_hash");
    assert_eq!(
        ended, 1,
        "All ends the last active session; ended ones are not counted"
    );
    assert!(is_revoked(&store, &b.session).await);
    assert!(
        !is_revoked(&store, &theirs.session).await,
        "other users' sessions stay"
    );
}

/// `change_password_hash` of an unknown user is `NotFound` and ends nothing.
pub async fn change_password_hash_of_an_unknown_user_is_not_found<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + CredentialStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "known").await;
    let session = login(&store, user.id, Times::standard()).await;
    let nobody = unknown_id(user.id.kind());
    let err = store
        .change_password_hash(&nobody, "h", EndSessions::All, t(10))
        .await
        .expect_err("change_password_hash of an unknown user");
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "{err}");
    let err = store
        .deactivate_user(&nobody, t(10))
        .await
        .expect_err("deactivate_user of an unknown user");
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "{err}");
    assert!(
        !is_revoked(&store, &session.session).await,
        "nothing else changed"
    );
}

/// `deactivate_user` marks the user inactive (and `updated_at`), ends every session
/// (counting only active ones) and voids every outstanding single-use token of every
/// kind; other users are untouched.
pub async fn deactivate_user_ends_every_session_and_voids_every_single_use_token<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + CredentialStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "deactivate").await;
    let other = new_user(&store, "bystander").await;
    let a = login(&store, user.id, Times::standard()).await;
    let b = login(&store, user.id, Times::standard()).await;
    login(&store, user.id, Times::new(t(0), t(20), t(50))).await;
    let theirs = login(&store, other.id, Times::standard()).await;
    let reset = token(TokenKind::PasswordReset, t(3_600));
    let verify = token(TokenKind::EmailVerification, t(3_600));
    let other_verify = token(TokenKind::EmailVerification, t(3_600));
    for (owner, tok) in [(&user, &reset), (&user, &verify), (&other, &other_verify)] {
        store
            .insert_single_use_token(&owner.id, tok, false, t(0))
            .await
            .expect("insert_single_use_token");
    }

    let ended = store
        .deactivate_user(&user.id, t(100))
        .await
        .expect("deactivate_user");
    assert_eq!(
        ended, 2,
        "both active sessions end; the expired one is not counted"
    );
    let after = store
        .find_user_by_id(&user.id)
        .await
        .expect("find_user_by_id")
        .expect("the user exists");
    assert!(!after.is_active, "the user is inactive");
    assert_eq!(after.updated_at, t(100), "updated_at = now");
    assert!(is_revoked(&store, &a.session).await);
    assert!(is_revoked(&store, &b.session).await);
    for tok in [&reset, &verify] {
        assert_eq!(
            store
                .consume_single_use_token(&tok.digest, tok.kind, t(150))
                .await
                .expect("consume_single_use_token"),
            None,
            "deactivation voids every single-use token ({:?})",
            tok.kind
        );
    }
    assert!(
        !is_revoked(&store, &theirs.session).await,
        "other users' sessions stay"
    );
    assert_eq!(
        store
            .consume_single_use_token(&other_verify.digest, TokenKind::EmailVerification, t(150))
            .await
            .expect("consume_single_use_token"),
        Some(other.id),
        "other users' tokens stay"
    );
    assert!(
        !store
            .credentials_current(&user.id, "")
            .await
            .expect("credentials_current"),
        "an inactive user's credentials are not current"
    );
}
