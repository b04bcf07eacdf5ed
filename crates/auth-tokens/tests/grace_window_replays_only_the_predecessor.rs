//! R3: with a grace window, replaying the immediate predecessor of the current refresh
//! token within the window returns the pair already issued for it (no revocation); after
//! the window, or a token two generations back, it is reuse and the family ends. With no
//! window (the default) every replay is reuse.

mod common;

use std::time::Duration;

use auth_core::{RefreshOutcome, SessionPolicy, TokenError};
use common::{FLAVORS, assert_reuse, harness, policy, secs};

fn with_grace() -> SessionPolicy {
    SessionPolicy {
        refresh_grace: Duration::from_secs(30),
        ..policy()
    }
}

#[tokio::test]
async fn replay_within_the_window_returns_the_same_pair() {
    for &flavor in FLAVORS {
        let h = harness(flavor, with_grace()).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;

        h.advance(secs(5));
        for _ in 0..3 {
            match h.backend.refresh(&first.pair.refresh_token).await {
                Ok(RefreshOutcome::Rotated {
                    tokens,
                    replayed,
                    user,
                }) => {
                    assert!(replayed, "{flavor:?}");
                    assert_eq!(tokens.pair, second.pair, "{flavor:?}: the same pair");
                    assert_eq!(tokens.session_id, second.session_id);
                    assert_eq!(tokens.user_id, h.user.id);
                    assert_eq!(tokens.refresh_expires_at, second.refresh_expires_at);
                    assert_eq!(tokens.access_expires_at, second.access_expires_at);
                    assert_eq!(user.map(|u| u.id), Some(h.user.id));
                }
                other => panic!("{flavor:?}: expected a replay, got {other:?}"),
            }
        }
        // No revocation: the pair works and is the live head.
        h.backend
            .verify_access(&second.pair.access_token)
            .await
            .unwrap();
        h.rotate(&second.pair.refresh_token).await;
    }
}

#[tokio::test]
async fn replay_after_the_window_revokes_the_family() {
    for &flavor in FLAVORS {
        let h = harness(flavor, with_grace()).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;
        h.advance(secs(30));
        assert_reuse(flavor, h.backend.refresh(&first.pair.refresh_token).await);
        assert_token_err!(
            flavor,
            h.backend.refresh(&second.pair.refresh_token).await,
            TokenError::Revoked
        );
        assert_token_err!(
            flavor,
            h.backend.verify_access(&second.pair.access_token).await,
            TokenError::Revoked
        );
    }
}

#[tokio::test]
async fn replay_one_second_before_the_window_closes_still_works() {
    for &flavor in FLAVORS {
        let h = harness(flavor, with_grace()).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;
        h.advance(secs(29));
        match h.backend.refresh(&first.pair.refresh_token).await {
            Ok(RefreshOutcome::Rotated {
                tokens,
                replayed: true,
                ..
            }) => assert_eq!(tokens.pair, second.pair),
            other => panic!("{flavor:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn second_generation_replay_revokes_even_within_the_window() {
    for &flavor in FLAVORS {
        let h = harness(flavor, with_grace()).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;
        let third = h.rotate(&second.pair.refresh_token).await;
        h.advance(secs(5));
        // RT1 is now two generations behind RT3.
        assert_reuse(flavor, h.backend.refresh(&first.pair.refresh_token).await);
        for t in [&second, &third] {
            assert_token_err!(
                flavor,
                h.backend.verify_access(&t.pair.access_token).await,
                TokenError::Revoked
            );
        }
        assert_token_err!(
            flavor,
            h.backend.refresh(&third.pair.refresh_token).await,
            TokenError::Revoked
        );
    }
}

#[tokio::test]
async fn without_a_window_every_replay_is_reuse() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;
        assert_reuse(flavor, h.backend.refresh(&first.pair.refresh_token).await);
        assert_token_err!(
            flavor,
            h.backend.verify_access(&second.pair.access_token).await,
            TokenError::Revoked
        );
        // And nothing was sealed.
        assert!(h.recording.sealed.lock().unwrap().is_empty());
    }
}
