//! Logout ends the session of an access token (access and refresh) at once, also with an
//! expired access token; a second logout changes nothing; logout-all (`revoke_all`) ends
//! every session of the user, optionally but one. On the JWT backend's default mode too.

mod common;

use auth_core::{SessionId, TokenError, UserId};
use common::{FLAVORS, harness, policy, secs};

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let kept = h.login(&h.user.id).await;
        let issued = h.login(&h.user.id).await;
        h.backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();

        let out = h.backend.logout(&issued.pair.access_token).await.unwrap();
        assert_eq!(out.user_id, h.user.id);
        assert_eq!(out.session_id, issued.session_id);
        assert!(out.ended_now);

        assert_token_err!(
            flavor,
            h.backend.verify_access(&issued.pair.access_token).await,
            TokenError::Revoked
        );
        assert_token_err!(
            flavor,
            h.backend.refresh(&issued.pair.refresh_token).await,
            TokenError::Revoked
        );
        // Twice: nothing more ends.
        let again = h.backend.logout(&issued.pair.access_token).await.unwrap();
        assert!(!again.ended_now, "{flavor:?}");
        // The other session lives.
        h.backend
            .verify_access(&kept.pair.access_token)
            .await
            .unwrap();
        assert_eq!(h.backend.sessions(&h.user.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn logout_works_with_an_expired_access_token() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let issued = h.login(&h.user.id).await;
        h.clock.set(issued.access_expires_at + secs(3600));
        assert_token_err!(
            flavor,
            h.backend.verify_access(&issued.pair.access_token).await,
            TokenError::Expired
        );
        let out = h.backend.logout(&issued.pair.access_token).await.unwrap();
        assert!(out.ended_now, "{flavor:?}");
        assert_token_err!(
            flavor,
            h.backend.refresh(&issued.pair.refresh_token).await,
            TokenError::Revoked
        );
    }
}

#[tokio::test]
async fn logout_refuses_what_is_not_an_access_token() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let issued = h.login(&h.user.id).await;
        for bad in ["", "tat_x", issued.pair.refresh_token.as_str()] {
            assert_token_err!(flavor, h.backend.logout(bad).await, TokenError::Invalid);
        }
        h.backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn logout_all_ends_every_session_at_once() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let bob = h.other_user("bob@example.com").await;
        let bobs = h.login(&bob.id).await;
        let mut issued = Vec::new();
        for _ in 0..3 {
            issued.push(h.login(&h.user.id).await);
        }
        let rotated = h.rotate(&issued[0].pair.refresh_token).await;

        assert_eq!(h.backend.revoke_all(&h.user.id, None).await.unwrap(), 3);
        for t in issued.iter().chain([&rotated]) {
            assert_token_err!(
                flavor,
                h.backend.verify_access(&t.pair.access_token).await,
                TokenError::Revoked
            );
        }
        assert_token_err!(
            flavor,
            h.backend.refresh(&rotated.pair.refresh_token).await,
            TokenError::Revoked
        );
        assert!(h.backend.sessions(&h.user.id).await.unwrap().is_empty());
        // Another user is untouched.
        h.backend
            .verify_access(&bobs.pair.access_token)
            .await
            .unwrap();
        assert_eq!(h.backend.revoke_all(&h.user.id, None).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn logout_all_can_keep_the_current_session() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let current = h.login(&h.user.id).await;
        let other = h.login(&h.user.id).await;
        assert_eq!(
            h.backend
                .revoke_all(&h.user.id, Some(&current.session_id))
                .await
                .unwrap(),
            1
        );
        h.backend
            .verify_access(&current.pair.access_token)
            .await
            .unwrap();
        assert_token_err!(
            flavor,
            h.backend.verify_access(&other.pair.access_token).await,
            TokenError::Revoked
        );
    }
}

#[tokio::test]
async fn revoke_session_ends_one_session_of_its_user_only() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let a = h.login(&h.user.id).await;
        let b = h.login(&h.user.id).await;
        let stranger = UserId::Int(999);
        assert!(
            !h.backend
                .revoke_session(&stranger, &a.session_id)
                .await
                .unwrap()
        );
        let unknown = SessionId::from_bytes([7; 16]);
        assert!(
            !h.backend
                .revoke_session(&h.user.id, &unknown)
                .await
                .unwrap()
        );
        assert!(
            h.backend
                .revoke_session(&h.user.id, &a.session_id)
                .await
                .unwrap()
        );
        assert!(
            !h.backend
                .revoke_session(&h.user.id, &a.session_id)
                .await
                .unwrap()
        );
        assert_token_err!(
            flavor,
            h.backend.verify_access(&a.pair.access_token).await,
            TokenError::Revoked
        );
        h.backend.verify_access(&b.pair.access_token).await.unwrap();
    }
}
