//! R2, R5, R9: presenting a spent refresh token again revokes its whole session: the
//! successor's refresh and access tokens fail at once; other sessions live on; a new
//! login starts a new family while the old tokens stay dead.

mod common;

use auth_core::{RefreshOutcome, TokenError};
use common::{FLAVORS, assert_reuse, harness, policy, secs};

#[tokio::test]
async fn reuse_of_a_spent_refresh_token_revokes_the_family() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let other_device = h.login(&h.user.id).await;
        let first = h.login(&h.user.id).await;
        let second = h.rotate(&first.pair.refresh_token).await;

        h.advance(secs(5));
        let outcome = h.backend.refresh(&first.pair.refresh_token).await;
        match &outcome {
            Ok(RefreshOutcome::ReuseDetected {
                user_id,
                session_id,
            }) => {
                assert_eq!(*user_id, h.user.id);
                assert_eq!(*session_id, first.session_id);
            }
            other => panic!("{flavor:?}: expected reuse, got {other:?}"),
        }

        // Then the successor's refresh and access tokens fail too.
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
        assert_token_err!(
            flavor,
            h.backend.verify_access(&first.pair.access_token).await,
            TokenError::Revoked
        );
        // A second replay changes nothing and is still refused.
        assert_token_err!(
            flavor,
            h.backend.refresh(&first.pair.refresh_token).await,
            TokenError::Revoked
        );

        // The other device's session is untouched.
        h.backend
            .verify_access(&other_device.pair.access_token)
            .await
            .unwrap();
        h.rotate(&other_device.pair.refresh_token).await;

        // No resurrection: a new login is a new family; the old tokens stay dead.
        let again = h.login(&h.user.id).await;
        assert_ne!(again.session_id, first.session_id);
        h.backend
            .verify_access(&again.pair.access_token)
            .await
            .unwrap();
        assert_token_err!(
            flavor,
            h.backend.verify_access(&second.pair.access_token).await,
            TokenError::Revoked
        );
    }
}

#[tokio::test]
async fn reuse_after_several_rotations_still_revokes() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let mut tokens = vec![h.login(&h.user.id).await];
        for _ in 0..4 {
            h.advance(secs(30));
            let next = h.rotate(&tokens.last().unwrap().pair.refresh_token).await;
            tokens.push(next);
        }
        // The oldest token, four generations back.
        assert_reuse(
            flavor,
            h.backend.refresh(&tokens[0].pair.refresh_token).await,
        );
        let head = tokens.last().unwrap();
        assert_token_err!(
            flavor,
            h.backend.refresh(&head.pair.refresh_token).await,
            TokenError::Revoked
        );
        assert_token_err!(
            flavor,
            h.backend.verify_access(&head.pair.access_token).await,
            TokenError::Revoked
        );
    }
}
