//! The reference Quick Start, step by step, with what each step must leave behind.
mod common;

use auth_facade::{AuthError, AuthEvent, IdKind};
use common::*;

#[tokio::test]
async fn quick_start_round_trip_works_and_emits_the_events() {
    let h = harness().await;
    let user = h.auth.create_user("alice@example.com").await.unwrap();
    assert!(user.is_active && !user.is_verified && user.last_login.is_none());
    h.auth.set_password(&user.id, PASSWORD).await.unwrap();

    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    assert_eq!(result.user.email, "alice@example.com");
    assert_eq!(result.user.last_login, Some(h.now()));
    assert!(result.access_token.starts_with("tat_") && result.refresh_token.starts_with("trt_"));
    assert_eq!((result.access_expires_at - h.now()).whole_seconds(), 900);
    assert_eq!(
        (result.refresh_expires_at - h.now()).whole_seconds(),
        604_800
    );
    let stored = h.auth.find_user(&user.id).await.unwrap().unwrap();
    assert_eq!(stored.last_login, Some(h.now()));

    let authenticated = h.auth.authenticate(&result.access_token).await.unwrap();
    assert_eq!(authenticated.id, user.id);

    let new_tokens = h.auth.refresh(&result.refresh_token).await.unwrap();
    assert_ne!(new_tokens.access_token, result.access_token);
    assert_ne!(new_tokens.refresh_token, result.refresh_token);
    assert_eq!(
        h.auth
            .authenticate(&new_tokens.access_token)
            .await
            .unwrap()
            .email,
        "alice@example.com"
    );

    h.auth.logout(&new_tokens.access_token).await.unwrap();
    let err = h
        .auth
        .authenticate(&new_tokens.access_token)
        .await
        .unwrap_err();
    assert!(is_token(&err, "revoked"), "{err:?}");

    assert_eq!(
        h.events.names(),
        [
            "user_created",
            "password_changed",
            "user_login",
            "token_refreshed",
            "user_logout"
        ]
    );
    match &h.events.events()[2] {
        AuthEvent::UserLogin {
            user_id,
            session_id,
            ..
        } => {
            assert_eq!(*user_id, user.id);
            assert_eq!(*session_id, result.session_id);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn debug_output_never_shows_tokens() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let pair = h.auth.refresh(&result.refresh_token).await.unwrap();
    let shown = format!("{result:?} {pair:?} {:?}", h.auth);
    for secret in [
        &result.access_token,
        &result.refresh_token,
        &pair.access_token,
        &pair.refresh_token,
    ] {
        assert!(!shown.contains(secret.as_str()));
        assert!(!shown.contains(&secret[4..20]));
    }
    assert!(!shown.contains(SECRET));
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn uuid_keys_work_through_the_whole_flow() {
    let store = auth_conformance::MemoryStore::new(IdKind::Uuid);
    let auth = auth_facade::AuthService::new(fast_config(), store).unwrap();
    let user = auth.create_user("bob@example.com").await.unwrap();
    assert_eq!(user.id.kind(), IdKind::Uuid);
    auth.set_password(&user.id, PASSWORD).await.unwrap();
    let result = auth.login("bob@example.com", PASSWORD).await.unwrap();
    let pair = auth.refresh(&result.refresh_token).await.unwrap();
    assert_eq!(
        auth.authenticate(&pair.access_token).await.unwrap().id,
        user.id
    );
}

#[tokio::test]
async fn duplicate_email_is_user_exists_whatever_the_letter_case() {
    let h = harness().await;
    h.auth.create_user("alice@example.com").await.unwrap();
    for other in [
        " alice@EXAMPLE.com",
        "Alice@example.com",
        "ALICE@EXAMPLE.COM",
    ] {
        assert!(
            matches!(h.auth.create_user(other).await, Err(AuthError::UserExists)),
            "{other}"
        );
    }
}

#[tokio::test]
async fn production_argon2_defaults_hash_and_log_in() {
    let config = auth_facade::AuthConfig::new(SECRET).unwrap();
    let h = harness_with(config, |b| b);
    let user = h.user("alice@example.com").await;
    let hash = h.stored_hash(&user.id).await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
        "{hash}"
    );
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    assert_eq!(result.user.id, user.id);
}
