//! T10 and the two revocation modes. `CheckSession` (the default) reads the session's
//! status once per check, so logout, logout-all and reuse detection revoke a JWT at once
//! even though its signature stays valid. `TrustUntilExpiry` reads nothing: revocation
//! stops refreshes at once, and an access token already handed out works until its `exp`.
#![cfg(feature = "jwt")]

mod common;

use std::sync::atomic::Ordering;

use auth_core::{RefreshOutcome, TokenError};
use common::{Flavor, harness, policy, secs};

#[tokio::test]
async fn check_session_mode_reads_the_session_once_per_check() {
    let h = harness(Flavor::Jwt, policy()).await;
    let issued = h.login(&h.user.id).await;
    let counts = &h.recording.counts;
    let before = (
        counts.session_status.load(Ordering::SeqCst),
        counts.find_access_token.load(Ordering::SeqCst),
        counts.total(),
    );
    let claims = h
        .backend
        .verify_access(&issued.pair.access_token)
        .await
        .unwrap();
    assert_eq!(counts.session_status.load(Ordering::SeqCst), before.0 + 1);
    assert_eq!(counts.find_access_token.load(Ordering::SeqCst), before.1);
    assert_eq!(counts.total(), before.2 + 1, "one read, no write");
    // The read supplies the user.
    assert_eq!(claims.user.map(|u| u.id), Some(h.user.id));
}

#[tokio::test]
async fn check_session_mode_revokes_a_validly_signed_jwt_at_once() {
    let h = harness(Flavor::Jwt, policy()).await;
    // logout
    let a = h.login(&h.user.id).await;
    h.backend.logout(&a.pair.access_token).await.unwrap();
    assert_token_err!(
        h.flavor,
        h.backend.verify_access(&a.pair.access_token).await,
        TokenError::Revoked
    );
    // logout-all (what a password change or reset does)
    let b = h.login(&h.user.id).await;
    let c = h.login(&h.user.id).await;
    h.backend.revoke_all(&h.user.id, None).await.unwrap();
    for t in [&b, &c] {
        assert_token_err!(
            h.flavor,
            h.backend.verify_access(&t.pair.access_token).await,
            TokenError::Revoked
        );
    }
    // A session that was purged after it ended.
    let d = h.login(&h.user.id).await;
    h.backend.logout(&d.pair.access_token).await.unwrap();
    h.advance(secs(1));
    while h.backend.cleanup_expired(100).await.unwrap() > 0 {}
    assert_token_err!(
        h.flavor,
        h.backend.verify_access(&d.pair.access_token).await,
        TokenError::Revoked
    );
}

#[tokio::test]
async fn trust_until_expiry_reads_nothing_and_revocation_waits_for_exp() {
    let h = harness(Flavor::JwtTrustUntilExpiry, policy()).await;
    let issued = h.login(&h.user.id).await;
    let reads = h.recording.counts.reads();
    let claims = h
        .backend
        .verify_access(&issued.pair.access_token)
        .await
        .unwrap();
    assert_eq!(h.recording.counts.reads(), reads, "no read");
    assert!(claims.user.is_none(), "the service loads the user");
    assert_eq!(claims.session_id, issued.session_id);

    // Logout: the session ends, refresh fails at once...
    assert!(
        h.backend
            .logout(&issued.pair.access_token)
            .await
            .unwrap()
            .ended_now
    );
    assert_token_err!(
        h.flavor,
        h.backend.refresh(&issued.pair.refresh_token).await,
        TokenError::Revoked
    );
    // ...but the signed access token is trusted until its exp (documented).
    h.clock.set(issued.access_expires_at - secs(1));
    h.backend
        .verify_access(&issued.pair.access_token)
        .await
        .unwrap();
    h.clock.set(issued.access_expires_at);
    assert_token_err!(
        h.flavor,
        h.backend.verify_access(&issued.pair.access_token).await,
        TokenError::Expired
    );
}

#[tokio::test]
async fn trust_until_expiry_still_rotates_and_detects_reuse() {
    let h = harness(Flavor::JwtTrustUntilExpiry, policy()).await;
    let first = h.login(&h.user.id).await;
    let second = h.rotate(&first.pair.refresh_token).await;
    let outcome = h.backend.refresh(&first.pair.refresh_token).await;
    assert!(matches!(outcome, Ok(RefreshOutcome::ReuseDetected { .. })));
    assert_token_err!(
        h.flavor,
        h.backend.refresh(&second.pair.refresh_token).await,
        TokenError::Revoked
    );
}
