//! T4, R8: with the injected clock, an access token works at `exp - 1s` and fails at
//! `exp`; a refresh token likewise; an idle session cannot be refreshed; and a session
//! cannot outlive its absolute end, however often it is rotated.

mod common;

use std::time::Duration;

use auth_core::{Clock, SessionPolicy, TokenError};
use common::{FLAVORS, harness, policy, secs};

#[tokio::test]
async fn access_token_works_until_one_second_before_exp() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let issued = h.login(&h.user.id).await;
        assert_eq!(
            issued.access_expires_at,
            common::start() + policy().access_token_lifetime
        );
        h.clock.set(issued.access_expires_at - secs(1));
        let claims = h
            .backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();
        assert_eq!(claims.expires_at, issued.access_expires_at);
        h.clock.set(issued.access_expires_at);
        assert_token_err!(
            flavor,
            h.backend.verify_access(&issued.pair.access_token).await,
            TokenError::Expired
        );
        // Still within the refresh token's life: refresh works and gives a live token.
        let next = h.rotate(&issued.pair.refresh_token).await;
        h.backend
            .verify_access(&next.pair.access_token)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn refresh_token_works_until_one_second_before_its_expiry() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let a = h.login(&h.user.id).await;
        let b = h.login(&h.user.id).await;
        assert_eq!(
            a.refresh_expires_at,
            common::start() + policy().refresh_token_lifetime
        );
        h.clock.set(a.refresh_expires_at - secs(1));
        h.rotate(&a.pair.refresh_token).await;
        h.clock.set(b.refresh_expires_at);
        assert_token_err!(
            flavor,
            h.backend.refresh(&b.pair.refresh_token).await,
            TokenError::Expired
        );
    }
}

#[tokio::test]
async fn idle_session_cannot_be_refreshed() {
    let idle = Duration::from_secs(3600);
    let policy = SessionPolicy {
        idle_timeout: Some(idle),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let issued = h.login(&h.user.id).await;
        // Active: each refresh restarts the idle clock.
        h.advance(idle - secs(1));
        let next = h.rotate(&issued.pair.refresh_token).await;
        h.advance(idle - secs(1));
        let next = h.rotate(&next.pair.refresh_token).await;
        // Idle for exactly the timeout: over.
        h.advance(idle);
        assert_token_err!(
            flavor,
            h.backend.refresh(&next.pair.refresh_token).await,
            TokenError::Expired
        );
    }
}

#[tokio::test]
async fn rotation_never_extends_a_session_past_its_absolute_end() {
    let policy = SessionPolicy {
        access_token_lifetime: Duration::from_secs(15 * 60),
        refresh_token_lifetime: Duration::from_secs(86_400),
        max_session_lifetime: Duration::from_secs(3 * 86_400),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let absolute_end = common::start() + policy.max_session_lifetime;
        let mut current = h.login(&h.user.id).await;
        // Refresh every 20 hours: sliding use that would run forever without the cap.
        let mut rotations = 0;
        loop {
            h.advance(Duration::from_secs(20 * 3600));
            if h.clock.now() >= absolute_end {
                break;
            }
            current = h.rotate(&current.pair.refresh_token).await;
            rotations += 1;
            assert!(current.refresh_expires_at <= absolute_end, "{flavor:?}");
            assert!(current.access_expires_at <= absolute_end, "{flavor:?}");
        }
        assert!(rotations >= 3);
        // The last pair was issued within 15 minutes of the end: both are capped.
        h.clock.set(absolute_end - Duration::from_secs(10 * 60));
        let last = h.rotate(&current.pair.refresh_token).await;
        assert_eq!(last.refresh_expires_at, absolute_end, "{flavor:?}");
        assert_eq!(last.access_expires_at, absolute_end, "{flavor:?}");
        h.clock.set(absolute_end - secs(1));
        h.backend
            .verify_access(&last.pair.access_token)
            .await
            .unwrap();
        h.clock.set(absolute_end);
        assert_token_err!(
            flavor,
            h.backend.verify_access(&last.pair.access_token).await,
            TokenError::Expired
        );
        assert_token_err!(
            flavor,
            h.backend.refresh(&last.pair.refresh_token).await,
            TokenError::Expired
        );
    }
}

#[tokio::test]
async fn first_tokens_are_capped_by_a_short_session() {
    let policy = SessionPolicy {
        access_token_lifetime: Duration::from_secs(600),
        refresh_token_lifetime: Duration::from_secs(7200),
        max_session_lifetime: Duration::from_secs(600),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let issued = h.login(&h.user.id).await;
        let end = common::start() + Duration::from_secs(600);
        assert_eq!(issued.refresh_expires_at, end, "{flavor:?}");
        assert_eq!(issued.access_expires_at, end, "{flavor:?}");
        let listed = h.backend.sessions(&h.user.id).await.unwrap();
        assert_eq!(listed[0].absolute_expires_at, end);
        assert_eq!(listed[0].expires_at, end);
    }
}
