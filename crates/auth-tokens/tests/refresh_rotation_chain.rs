//! R1: `refresh(RT1)` gives `(AT2, RT2)` in the same session, `refresh(RT2)` gives
//! `(AT3, RT3)`; every token is new, and an access token stays valid after the refresh
//! that replaced it, until its own expiry.

mod common;

use auth_core::{Clock, RefreshOutcome};
use common::{FLAVORS, harness, policy, secs};

#[tokio::test]
async fn refresh_rotation_chain_keeps_the_session_and_issues_new_tokens() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let first = h.login(&h.user.id).await;
        assert_eq!(first.user_id, h.user.id);

        h.advance(secs(60));
        let second = h.rotate(&first.pair.refresh_token).await;
        h.advance(secs(60));
        let third = h.rotate(&second.pair.refresh_token).await;

        let all = [&first, &second, &third];
        for t in all {
            assert_eq!(t.session_id, first.session_id, "{flavor:?}: one family");
            assert_eq!(t.user_id, h.user.id);
            assert!(t.access_expires_at <= t.refresh_expires_at);
        }
        let mut texts: Vec<&str> = all
            .iter()
            .flat_map(|t| [t.pair.access_token.as_str(), t.pair.refresh_token.as_str()])
            .collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), 6, "{flavor:?}: every token is new");

        // Lifetimes start at the rotation.
        let now = h.clock.now();
        assert_eq!(
            third.refresh_expires_at,
            now + policy().refresh_token_lifetime
        );
        assert_eq!(
            third.access_expires_at,
            now + policy().access_token_lifetime
        );

        // Every access token of the chain is still valid (none has expired yet).
        for t in all {
            let claims = h.backend.verify_access(&t.pair.access_token).await.unwrap();
            assert_eq!(claims.session_id, first.session_id);
            assert_eq!(claims.user_id, h.user.id);
            assert_eq!(claims.expires_at, t.access_expires_at);
        }
        // The newest refresh token rotates again; the session is listed once.
        let fourth = h.backend.refresh(&third.pair.refresh_token).await.unwrap();
        assert!(matches!(
            fourth,
            RefreshOutcome::Rotated {
                replayed: false,
                ..
            }
        ));
        let sessions = h.backend.sessions(&h.user.id).await.unwrap();
        assert_eq!(sessions.len(), 1, "{flavor:?}");
        assert_eq!(sessions[0].id, first.session_id);
        assert!(sessions[0].refreshed_at.is_some());
    }
}

#[tokio::test]
async fn rotated_outcome_passes_the_stores_user_through() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let first = h.login(&h.user.id).await;
        match h.backend.refresh(&first.pair.refresh_token).await.unwrap() {
            RefreshOutcome::Rotated { user, .. } => {
                assert_eq!(user.map(|u| u.id), Some(h.user.id), "{flavor:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
