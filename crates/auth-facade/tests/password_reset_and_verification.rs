//! Issue 8: password reset and email verification on single-use tokens delivered through
//! the application's notifier.
mod common;

use std::sync::{Arc, Mutex};

use auth_facade::{AuthError, AuthEvent, Notification, NotificationKind, Notifier};
use common::*;

/// Keeps every notification, so a test can read the token a user would get.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<Notification>>>);

#[auth_core::async_trait]
impl Notifier for Outbox {
    async fn notify(&self, n: Notification) -> Result<(), auth_core::BoxError> {
        self.0.lock().unwrap().push(n);
        Ok(())
    }
}

impl Outbox {
    fn last(&self, kind: NotificationKind) -> Notification {
        self.0
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|n| n.kind == kind)
            .cloned()
            .expect("a notification was sent")
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

fn with_outbox() -> (Harness, Outbox) {
    let outbox = Outbox::default();
    let o = outbox.clone();
    let h = harness_with(fast_config(), |b| b.notifier(Arc::new(o)));
    (h, outbox)
}

async fn reset_token(h: &Harness, outbox: &Outbox, email: &str) -> String {
    h.auth.request_reset(email).await.unwrap();
    h.auth.wait_for_background().await;
    outbox.last(NotificationKind::PasswordReset).token
}

const NEW: &str = "violet-otter-umbrella";

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_is_single_use() {
    let (h, outbox) = with_outbox();
    let alice = h.user("alice@example.com").await;
    let session = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let token = reset_token(&h, &outbox, "Alice@Example.com").await;
    let sent = outbox.last(NotificationKind::PasswordReset);
    assert!(token.starts_with("tpr_"));
    assert_eq!(
        sent.email, "alice@example.com",
        "mail goes to the stored address"
    );
    assert_eq!(sent.user_id, alice.id);
    assert_eq!((sent.expires_at - h.now()).whole_seconds(), 3_600);

    h.auth.confirm_reset(&token, NEW).await.unwrap();
    assert!(h.auth.authenticate(&session.access_token).await.is_err());
    assert!(h.auth.login("alice@example.com", PASSWORD).await.is_err());
    h.auth.login("alice@example.com", NEW).await.unwrap();
    let again = h
        .auth
        .confirm_reset(&token, "another-fine-passphrase")
        .await;
    assert!(
        is_token(&again.unwrap_err(), "invalid"),
        "a spent token worked again"
    );
    assert!(h.events.names().contains(&"password_reset_completed"));
    // Tokens never travel in events.
    let events = format!("{:?}", h.events.events());
    assert!(!events.contains(&token[4..]));
}

#[tokio::test]
async fn a_refused_new_password_leaves_the_token_usable() {
    let (h, outbox) = with_outbox();
    h.user("alice@example.com").await;
    let token = reset_token(&h, &outbox, "alice@example.com").await;
    assert!(matches!(
        h.auth.confirm_reset(&token, "12345678").await,
        Err(AuthError::InvalidPassword(_))
    ));
    h.auth.confirm_reset(&token, NEW).await.unwrap();
}

#[tokio::test]
async fn a_reset_token_dies_on_expiry_on_a_password_change_and_on_a_newer_request() {
    let (h, outbox) = with_outbox();
    let alice = h.user("alice@example.com").await;

    let expiring = reset_token(&h, &outbox, "alice@example.com").await;
    h.clock.advance(secs(3_600));
    assert!(is_token(
        &h.auth.confirm_reset(&expiring, NEW).await.unwrap_err(),
        "invalid"
    ));

    let before_change = reset_token(&h, &outbox, "alice@example.com").await;
    h.auth
        .set_password(&alice.id, "a-changed-passphrase")
        .await
        .unwrap();
    assert!(is_token(
        &h.auth.confirm_reset(&before_change, NEW).await.unwrap_err(),
        "invalid"
    ));

    let older = reset_token(&h, &outbox, "alice@example.com").await;
    h.clock.advance(secs(1));
    let newer = reset_token(&h, &outbox, "alice@example.com").await;
    assert!(is_token(
        &h.auth.confirm_reset(&older, NEW).await.unwrap_err(),
        "invalid"
    ));
    h.auth.confirm_reset(&newer, NEW).await.unwrap();
}

#[tokio::test]
async fn reset_and_verification_tokens_never_pass_as_each_other() {
    let (h, outbox) = with_outbox();
    let alice = h.user("alice@example.com").await;
    let reset = reset_token(&h, &outbox, "alice@example.com").await;
    h.auth
        .recovery()
        .request_verification(&alice.id)
        .await
        .unwrap();
    h.auth.wait_for_background().await;
    let verify = outbox.last(NotificationKind::EmailVerification).token;
    assert!(verify.starts_with("tev_"));
    assert!(
        h.auth
            .recovery()
            .confirm_verification(&reset)
            .await
            .is_err()
    );
    assert!(h.auth.confirm_reset(&verify, NEW).await.is_err());
    // Re-prefixed, a token is another token.
    let forged = verify.replacen("tev_", "tpr_", 1);
    assert!(h.auth.confirm_reset(&forged, NEW).await.is_err());
    // Both still work for their own purpose.
    h.auth
        .recovery()
        .confirm_verification(&verify)
        .await
        .unwrap();
    h.auth.confirm_reset(&reset, NEW).await.unwrap();
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_after_the_same_store_work() {
    let (h, outbox) = with_outbox();
    h.user("alice@example.com").await;
    h.calls.take();
    h.auth.request_reset("alice@example.com").await.unwrap();
    let known = h.calls.take();
    h.auth.request_reset("nobody@example.com").await.unwrap();
    let unknown = h.calls.take();
    assert_eq!(known, unknown, "the request path did different work");
    // The token is created and sent off the request path, for the known address only.
    h.auth.wait_for_background().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(h.calls.take(), ["insert_single_use_token"]);
    let requested: Vec<_> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.name() == "password_reset_requested")
        .collect();
    assert_eq!(requested.len(), 2);
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_address_asked_for() {
    let (h, _outbox) = with_outbox();
    h.user("alice@example.com").await;
    for _ in 0..5 {
        h.auth.request_reset("alice@example.com").await.unwrap();
    }
    assert!(matches!(
        h.auth.request_reset("ALICE@example.com").await,
        Err(AuthError::RateLimited { .. })
    ));
    // Unknown addresses are limited the same way (no difference to observe).
    for _ in 0..5 {
        h.auth.request_reset("ghost@example.com").await.unwrap();
    }
    assert!(matches!(
        h.auth.request_reset("ghost@example.com").await,
        Err(AuthError::RateLimited { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_confirmations_of_one_token_let_one_win() {
    let (h, outbox) = with_outbox();
    h.user("alice@example.com").await;
    let token = reset_token(&h, &outbox, "alice@example.com").await;
    let tasks: Vec<_> = ["first-fine-passphrase", "second-fine-passphrase"]
        .into_iter()
        .map(|pw| {
            let (auth, token) = (h.auth.clone(), token.clone());
            tokio::spawn(async move { auth.confirm_reset(&token, pw).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn verification_marks_the_user_verified_once() {
    let (h, outbox) = with_outbox();
    let alice = h.user("alice@example.com").await;
    h.auth
        .recovery()
        .request_verification(&alice.id)
        .await
        .unwrap();
    h.auth.wait_for_background().await;
    let token = outbox.last(NotificationKind::EmailVerification).token;
    assert_eq!(
        h.auth
            .recovery()
            .confirm_verification(&token)
            .await
            .unwrap(),
        alice.id
    );
    let user = h.auth.find_user(&alice.id).await.unwrap().unwrap();
    assert!(user.is_verified && user.joined_at.is_some());
    assert!(
        h.auth
            .recovery()
            .confirm_verification(&token)
            .await
            .is_err()
    );
    assert!(matches!(
        h.events.events().last(),
        Some(AuthEvent::UserVerified { .. })
    ));
    // A verified user gets no new link.
    h.auth
        .recovery()
        .request_verification(&alice.id)
        .await
        .unwrap();
    h.auth.wait_for_background().await;
    assert_eq!(outbox.len(), 1);
}

#[tokio::test]
async fn verification_requests_are_rate_limited() {
    let (h, _outbox) = with_outbox();
    let alice = h.user("alice@example.com").await;
    for _ in 0..5 {
        h.auth
            .recovery()
            .request_verification(&alice.id)
            .await
            .unwrap();
    }
    assert!(matches!(
        h.auth.recovery().request_verification(&alice.id).await,
        Err(AuthError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_failing_notifier_changes_nothing_for_the_caller() {
    struct Broken;
    #[auth_core::async_trait]
    impl Notifier for Broken {
        async fn notify(&self, _: Notification) -> Result<(), auth_core::BoxError> {
            Err("smtp down".into())
        }
    }
    let h = harness_with(fast_config(), |b| b.notifier(Arc::new(Broken)));
    h.user("alice@example.com").await;
    h.auth.request_reset("alice@example.com").await.unwrap();
    h.auth.request_reset("nobody@example.com").await.unwrap();
    h.auth.wait_for_background().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_reset_requests_keeps_a_bounded_number_of_deliveries_in_flight() {
    /// Holds every delivery until the gate opens, counting those that reached it.
    struct Gate {
        open: tokio::sync::Semaphore,
        reached: std::sync::atomic::AtomicUsize,
    }
    struct Held(Arc<Gate>);
    #[auth_core::async_trait]
    impl Notifier for Held {
        async fn notify(&self, _: Notification) -> Result<(), auth_core::BoxError> {
            self.0
                .reached
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.open.acquire().await?.forget();
            Ok(())
        }
    }
    let gate = Arc::new(Gate {
        open: tokio::sync::Semaphore::new(0),
        reached: Default::default(),
    });
    let config = fast_builder()
        .recovery_rate_limit(None)
        .ip_rate_limit(None)
        .build()
        .unwrap();
    let g = gate.clone();
    let h = harness_with(config, |b| b.notifier(Arc::new(Held(g))));
    h.user("alice@example.com").await;
    let reached = || gate.reached.load(std::sync::atomic::Ordering::SeqCst);

    for _ in 0..400 {
        h.auth.request_reset("alice@example.com").await.unwrap();
    }
    // Every delivery admitted reaches the gate; wait for them (bounded).
    for _ in 0..2_000 {
        if reached() >= 256 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(reached(), 256, "deliveries in flight beyond the bound");

    gate.open.add_permits(10_000);
    h.auth.wait_for_background().await;
    assert_eq!(reached(), 256, "the requests over the bound sent nothing");
    h.auth.request_reset("alice@example.com").await.unwrap();
    h.auth.wait_for_background().await;
    assert_eq!(reached(), 257, "a request after the flood is delivered");
}
