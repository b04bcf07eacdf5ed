//! Sessions: the client's address and user agent are recorded and listed, newest first;
//! a user has at most `max_sessions_per_user` (a new login ends the oldest); cleanup goes
//! through the backend (and answers 0 without a deletion store).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use auth_core::{ClientInfo, ExtraClaims, SessionPolicy, TokenBackend, TokenError};
use auth_tokens::OpaqueTokenBackend;
use common::{FLAVORS, harness, policy, secs};

#[tokio::test]
async fn client_info_is_recorded_and_listed_newest_first() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        let phone = ClientInfo::none().with_ip(ip).with_user_agent("Phone/1.0");
        let a = h
            .login_with(&h.user.id, &ExtraClaims::new(), &phone)
            .await
            .unwrap();
        h.advance(secs(1));
        let b = h.login(&h.user.id).await;
        let listed = h.backend.sessions(&h.user.id).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, b.session_id, "{flavor:?}: newest first");
        assert_eq!(listed[1].id, a.session_id);
        assert_eq!(listed[1].ip, Some(ip));
        assert_eq!(listed[1].user_agent.as_deref(), Some("Phone/1.0"));
        assert_eq!(listed[0].ip, None);
        assert_eq!(listed[1].created_at, common::start());
        assert_eq!(
            listed[1].absolute_expires_at,
            common::start() + policy().max_session_lifetime
        );
        assert_eq!(listed[1].expires_at, a.refresh_expires_at);
    }
}

#[tokio::test]
async fn a_login_beyond_the_cap_ends_the_oldest_session() {
    let policy = SessionPolicy {
        max_sessions_per_user: Some(2),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let first = h.login(&h.user.id).await;
        h.advance(secs(1));
        let second = h.login(&h.user.id).await;
        h.advance(secs(1));
        let third = h.login(&h.user.id).await;
        assert_token_err!(
            flavor,
            h.backend.verify_access(&first.pair.access_token).await,
            TokenError::Revoked
        );
        assert_token_err!(
            flavor,
            h.backend.refresh(&first.pair.refresh_token).await,
            TokenError::Revoked
        );
        for t in [&second, &third] {
            h.backend.verify_access(&t.pair.access_token).await.unwrap();
        }
        let ids: Vec<_> = h
            .backend
            .sessions(&h.user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, vec![third.session_id, second.session_id]);
    }
}

#[tokio::test]
async fn cleanup_goes_through_the_backend() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let a = h.login(&h.user.id).await;
        let b = h.login(&h.user.id).await;
        h.backend.logout(&a.pair.access_token).await.unwrap();
        h.advance(Duration::from_secs(1));
        let mut deleted = 0;
        loop {
            let n = h.backend.cleanup_expired(1).await.unwrap();
            assert!(n <= 1, "bounded batches");
            if n == 0 {
                break;
            }
            deleted += n;
        }
        assert!(deleted >= 1, "{flavor:?}: the revoked session went");
        assert!(!h.store.dump().contains(&a.session_id.to_hex()));
        // The live session is untouched.
        h.backend.verify_access(&b.pair.access_token).await.unwrap();
        h.rotate(&b.pair.refresh_token).await;
    }
}

#[tokio::test]
async fn cleanup_without_a_deletion_store_deletes_nothing() {
    let h = harness(common::Flavor::Opaque, policy()).await;
    let backend = OpaqueTokenBackend::new(Arc::new(h.store.clone()), h.clock.clone(), policy());
    let a = backend
        .issue(auth_core::IssueRequest {
            user_id: h.user.id,
            client: &ClientInfo::none(),
            extra_claims: &ExtraClaims::new(),
        })
        .await
        .unwrap();
    backend.logout(&a.pair.access_token).await.unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(backend.cleanup_expired(100).await.unwrap(), 0);
    assert!(h.store.dump().contains(&a.session_id.to_hex()));
}
