//! Issue 8: events carry the reference's names and fields; a listener that fails or panics
//! never fails the operation; service-to-service tokens.
mod common;

use std::sync::Arc;

use auth_facade::{AuthError, AuthEvent, EventListener, LoginFailureReason, ServiceTokens};
use common::*;

struct Panics;

#[auth_core::async_trait]
impl EventListener for Panics {
    async fn on_event(&self, _: &AuthEvent) -> Result<(), auth_core::BoxError> {
        panic!("a listener bug");
    }
}

struct Fails;

#[auth_core::async_trait]
impl EventListener for Fails {
    async fn on_event(&self, _: &AuthEvent) -> Result<(), auth_core::BoxError> {
        Err("audit log unavailable".into())
    }
}

#[tokio::test]
async fn a_listener_that_panics_or_errors_does_not_fail_login() {
    let h = harness().await;
    h.auth.events().subscribe(Panics);
    h.auth.events().subscribe(Fails);
    h.auth.events().subscribe_background(Panics);
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.authenticate(&result.access_token).await.unwrap();
    h.auth.wait_for_background().await;
    // Listeners subscribed after the panicking ones still got everything.
    assert!(h.events.names().contains(&"user_login"));
}

#[tokio::test]
async fn failed_logins_report_the_references_reasons_and_identifier() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let _ = h.auth.login("Nobody@Example.com", PASSWORD).await;
    match h.events.events().last() {
        Some(AuthEvent::UserLoginFailed {
            identifier,
            user_id,
            reason,
            ..
        }) => {
            assert_eq!(identifier, "nobody@example.com");
            assert_eq!(*user_id, None);
            assert_eq!(reason.as_str(), "not_found");
        }
        other => panic!("{other:?}"),
    }
    let _ = h.auth.login("alice@example.com", "wrong").await;
    assert!(matches!(
        h.events.events().last(),
        Some(AuthEvent::UserLoginFailed {
            reason: LoginFailureReason::BadPassword,
            user_id: Some(_),
            ..
        })
    ));
}

#[tokio::test]
async fn logout_twice_emits_one_user_logout_and_logout_all_sets_the_flag() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let first = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.events.clear();
    h.auth.logout(&first.access_token).await.unwrap();
    // The session already ended: nothing changes, nothing is reported.
    h.auth.logout(&first.access_token).await.unwrap();
    assert_eq!(h.events.count("user_logout"), 1);
    assert_eq!(h.auth.logout_all(&alice.id).await.unwrap(), 1);
    match h.events.events().last() {
        Some(AuthEvent::UserLogout {
            all_sessions: true,
            count: 1,
            session_id: None,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_event_name_is_the_references_or_ours() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let r = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let p = h.auth.refresh(&r.refresh_token).await.unwrap();
    let _ = h.auth.refresh(&r.refresh_token).await;
    let r2 = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth
        .sessions()
        .revoke(&alice.id, &r2.session_id)
        .await
        .unwrap();
    h.auth.logout(&p.access_token).await.unwrap();
    let allowed = [
        "user_login",
        "user_login_failed",
        "user_logout",
        "password_changed",
        "rate_limit_exceeded",
        "password_reset_requested",
        "password_reset_completed",
        "s2s_auth_success",
        "s2s_auth_failed",
        "user_created",
        "user_deleted",
        "token_refreshed",
        "refresh_token_reused",
        "session_revoked",
        "user_verified",
    ];
    let names = h.events.names();
    for name in &names {
        assert!(allowed.contains(name), "{name}");
    }
    for expected in ["token_refreshed", "refresh_token_reused", "session_revoked"] {
        assert!(names.contains(&expected), "{expected}: {names:?}");
    }
}

const SERVICE: &str = "svc-4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c-billing";

#[tokio::test]
async fn service_tokens_authenticate_and_report_both_outcomes() {
    let tokens = ServiceTokens::parse(&format!("billing:{SERVICE}")).unwrap();
    let h = harness_with(fast_config(), |b| b.service_tokens(tokens));
    let principal = h.auth.authenticate_service(SERVICE).await.unwrap();
    assert_eq!(principal.name.as_deref(), Some("billing"));
    let err = h
        .auth
        .authenticate_service("svc-4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c-billinG")
        .await
        .unwrap_err();
    assert!(is_token(&err, "invalid"), "{err:?}");
    assert_eq!(h.events.names(), ["s2s_auth_success", "s2s_auth_failed"]);
    // A user's access token is no service token, and the reverse.
    h.user("alice@example.com").await;
    let r = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    assert!(h.auth.authenticate_service(&r.access_token).await.is_err());
    assert!(matches!(
        h.auth.authenticate(SERVICE).await,
        Err(AuthError::Token(_))
    ));
}

#[tokio::test]
async fn without_service_tokens_every_token_is_refused() {
    let h = harness_with(fast_config(), |b| b.service_tokens(ServiceTokens::none()));
    assert!(h.auth.authenticate_service(SERVICE).await.is_err());
    let _ = Arc::new(());
}
