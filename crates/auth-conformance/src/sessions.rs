//! Checks of [`SessionStore`]: inserts that never overwrite, lookups, rotation (exactly
//! once, reuse, the outcome order, grace replay, idle timeout, the absolute cap),
//! eviction, revocation and listing.
//!
//! The sessions belong to users from [`StoreFactory::session_user`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use auth_core::{
    ClientInfo, NewSession, NewToken, OffsetDateTime, RotateOutcome, Rotation, SessionId,
    SessionInfo, SessionStore, StoreErrorKind, TokenDigest, TokenKind, UserId,
};

use crate::runner::{Check, StoreFactory};
use crate::support::{
    RotateOpts, Times, digest, is_revoked, login, new_session, pair, race, rotate, rotate_with,
    secs, session_id, session_ids, status, t, token, token_exists,
};

macro_rules! sessions_checks {
    ($($head:tt)*) => {
        suite!($($head)*;
        create_session_round_trips_client_claims_and_times,
        find_access_token_reports_kind_expiry_and_session,
        inserts_never_overwrite_and_a_failed_call_writes_nothing,
        rotation_keeps_the_session_and_reuse_revokes_it,
        rotation_caps_every_expiry_at_the_absolute_end,
        refused_rotations_change_nothing,
        rotation_outcomes_follow_the_documented_order,
        concurrent_rotations_rotate_exactly_once,
        grace_replay_returns_the_sealed_pair_to_the_immediate_predecessor_only,
        idle_timeout_expires_an_unused_session,
        create_session_evicts_the_oldest_active_sessions,
        revoke_session_is_scoped_to_its_user_and_active_sessions,
        revoke_user_sessions_counts_only_active_sessions,
        list_sessions_filters_and_orders_newest_first,
        session_status_reports_the_session_without_changing_it,
        )
    };
}

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    sessions_checks!("sessions", factory)
}

/// Every check of this suite, on stores made by `factory` wrapped in [`WithUsers`](crate::WithUsers), so
/// sessions and tokens belong to users the store holds.
pub fn checks_with_users<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SessionStore + auth_core::UserStore,
{
    sessions_checks!("sessions", factory => WithUsers)
}

/// The parts of a `Rotated` outcome that every store reports the same way.
fn rotated(outcome: &RotateOutcome) -> Option<(SessionId, UserId, OffsetDateTime)> {
    match outcome {
        RotateOutcome::Rotated {
            session_id,
            user_id,
            refresh_expires_at,
            ..
        } => Some((*session_id, *user_id, *refresh_expires_at)),
        _ => None,
    }
}

fn is_rotated(outcome: &RotateOutcome) -> bool {
    matches!(outcome, RotateOutcome::Rotated { .. })
}

fn is_reused(outcome: &RotateOutcome, session: &SessionId) -> bool {
    matches!(outcome, RotateOutcome::Reused { session_id, .. } if session_id == session)
}

/// The sealed successor of a `Replayed` outcome, and its session and refresh expiry.
fn replayed(outcome: &RotateOutcome) -> Option<(SessionId, &[u8], OffsetDateTime)> {
    match outcome {
        RotateOutcome::Replayed {
            session_id,
            sealed_successor,
            refresh_expires_at,
            ..
        } => Some((
            *session_id,
            sealed_successor.as_slice(),
            *refresh_expires_at,
        )),
        _ => None,
    }
}

/// Sealed bytes as a backend would make them: binary, every byte value possible.
fn sealed_bytes(tag: u8) -> Vec<u8> {
    let mut bytes = vec![tag, 0, 0xff, 0x80, b'\'', b'"', b'\\'];
    bytes.extend_from_slice(digest().as_bytes());
    bytes
}

async fn record<S: SessionStore>(store: &S, digest: &TokenDigest) -> auth_core::AccessTokenRecord {
    store
        .find_access_token(digest)
        .await
        .expect("find_access_token")
        .expect("the token is stored")
}

/// `create_session` stores the session's times, client (IPv4/IPv6 address, user agent)
/// and claims text as given; `list_sessions` and `session_status` return them.
pub async fn create_session_round_trips_client_claims_and_times<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let claims = r#"{"role":"admin","tenant":7,"scopes":["a","b"],"note":"ünïcödé 'q' \"d\""}"#;
    let ua = "Mozilla/5.0 (X11; Linux) Safari/17 — ünïcode";
    let full = NewSession {
        client: ClientInfo::none()
            .with_ip(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)))
            .with_user_agent(ua),
        claims: Some(claims.to_owned()),
        ..new_session(user, Times::standard())
    };
    let tokens = pair(t(900), t(86_400));
    assert_eq!(
        store
            .create_session(&full, &tokens, None)
            .await
            .expect("create_session"),
        0,
        "nothing evicted without max_active"
    );
    let v6 = NewSession {
        client: ClientInfo::none()
            .with_ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
        ..new_session(user, Times::new(t(10), t(900), t(86_400)))
    };
    store
        .create_session(&v6, &pair(t(900), t(86_400)), None)
        .await
        .expect("create_session");
    let bare = new_session(user, Times::new(t(20), t(900), t(86_400)));
    store
        .create_session(&bare, &pair(t(900), t(86_400)), None)
        .await
        .expect("create_session");

    let listed = store
        .list_sessions(&user, t(30))
        .await
        .expect("list_sessions");
    let expected = |s: &NewSession| SessionInfo {
        id: s.id,
        user_id: user,
        created_at: s.created_at,
        refreshed_at: None,
        expires_at: s.expires_at,
        absolute_expires_at: s.absolute_expires_at,
        ip: s.client.ip(),
        user_agent: s.client.user_agent().map(str::to_owned),
    };
    assert_eq!(
        listed,
        vec![expected(&bare), expected(&v6), expected(&full)],
        "list_sessions returns every field as created (newest first)"
    );

    let st = status(&store, &full.id).await;
    assert_eq!(st.session_id, full.id);
    assert_eq!(st.user_id, user);
    assert!(!st.revoked);
    assert_eq!(st.expires_at, t(86_400));
    assert_eq!(st.absolute_expires_at, full.absolute_expires_at);
    assert_eq!(
        st.claims.as_deref(),
        Some(claims),
        "claims text is kept as given"
    );
    assert_eq!(
        status(&store, &bare.id).await.claims,
        None,
        "no claims stay none"
    );
}

/// `find_access_token` returns a session token's stored kind and expiry with its
/// session's status, whatever the kind; an unknown digest finds nothing; a revocation is
/// visible to the next lookup.
pub async fn find_access_token_reports_kind_expiry_and_session<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let session = NewSession {
        claims: Some(r#"{"tenant":"acme"}"#.to_owned()),
        ..new_session(user, Times::standard())
    };
    let tokens = pair(t(900), t(86_400));
    store
        .create_session(&session, &tokens, None)
        .await
        .expect("create_session");

    let access = record(&store, &tokens[0].digest).await;
    assert_eq!(
        access.kind,
        TokenKind::Access,
        "the stored kind is reported"
    );
    assert_eq!(
        access.expires_at,
        t(900),
        "the token's own expiry is reported"
    );
    assert_eq!(access.session.session_id, session.id);
    assert_eq!(access.session.user_id, user);
    assert!(!access.session.revoked);
    assert_eq!(access.session.expires_at, t(86_400));
    assert_eq!(
        access.session.absolute_expires_at,
        session.absolute_expires_at
    );
    assert_eq!(
        access.session.claims, session.claims,
        "the session's claims come along"
    );

    let refresh = record(&store, &tokens[1].digest).await;
    assert_eq!(
        refresh.kind,
        TokenKind::Refresh,
        "a refresh token reports its kind"
    );
    assert_eq!(refresh.expires_at, t(86_400));
    assert_eq!(refresh.session.session_id, session.id);

    assert!(
        !token_exists(&store, &digest()).await,
        "an unknown digest finds nothing"
    );

    assert!(
        store
            .revoke_session(&user, &session.id, t(10))
            .await
            .expect("revoke_session")
    );
    assert!(
        record(&store, &tokens[0].digest).await.session.revoked,
        "a revocation is visible to the next lookup"
    );
}

/// Inserts never overwrite: a digest collision (with a stored token, or within one
/// call) or a session-id collision is a `UniqueViolation`, and nothing of the failed
/// call is written (no session, no token, no eviction); a rotation whose new digest
/// collides fails the same way and leaves the presented token unspent.
pub async fn inserts_never_overwrite_and_a_failed_call_writes_nothing<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let first = login(&store, user, Times::standard()).await;

    // A new session whose second token collides with a stored digest, asking to evict.
    let second = new_session(user, Times::new(t(1), t(900), t(86_400)));
    let fresh = token(TokenKind::Access, t(900));
    let colliding = NewToken {
        digest: first.access,
        kind: TokenKind::Refresh,
        expires_at: t(99_000),
    };
    let err = store
        .create_session(&second, &[fresh.clone(), colliding], Some(1))
        .await
        .expect_err("a digest collision must be refused");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "digest collision: {err}"
    );
    assert!(
        store
            .session_status(&second.id)
            .await
            .expect("session_status")
            .is_none(),
        "the failed session was not written"
    );
    assert!(
        !token_exists(&store, &fresh.digest).await,
        "the failed call's other token was not written"
    );
    assert!(
        !is_revoked(&store, &first.session).await,
        "the failed call evicted nothing"
    );
    let kept = record(&store, &first.access).await;
    assert_eq!(
        kept.kind,
        TokenKind::Access,
        "the stored token was not overwritten"
    );
    assert_eq!(
        kept.expires_at,
        t(900),
        "the stored token was not overwritten"
    );
    assert_eq!(kept.session.session_id, first.session);

    // Two tokens of one call with the same digest.
    let third = new_session(user, Times::new(t(2), t(900), t(86_400)));
    let twin = token(TokenKind::Access, t(900));
    let err = store
        .create_session(
            &third,
            &[
                twin.clone(),
                NewToken {
                    kind: TokenKind::Refresh,
                    ..twin.clone()
                },
            ],
            None,
        )
        .await
        .expect_err("a digest repeated within one call must be refused");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "repeated digest: {err}"
    );
    assert!(
        store
            .session_status(&third.id)
            .await
            .expect("session_status")
            .is_none()
    );
    assert!(!token_exists(&store, &twin.digest).await);

    // A session-id collision.
    let dup = NewSession {
        created_at: t(3),
        expires_at: t(99_999),
        ..new_session(user, Times::standard())
    };
    let dup = NewSession {
        id: first.session,
        ..dup
    };
    let other = token(TokenKind::Access, t(900));
    let err = store
        .create_session(&dup, std::slice::from_ref(&other), None)
        .await
        .expect_err("a session-id collision must be refused");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "session-id collision: {err}"
    );
    assert!(
        !token_exists(&store, &other.digest).await,
        "the colliding session's token was not written"
    );
    let st = status(&store, &first.session).await;
    assert_eq!(st.expires_at, t(86_400), "the session was not overwritten");
    assert_eq!(session_ids(&store, &user, t(4)).await, [first.session]);

    // A rotation whose new access token collides.
    let new_refresh = token(TokenKind::Refresh, t(90_000));
    let clash = [
        NewToken {
            digest: first.access,
            kind: TokenKind::Access,
            expires_at: t(1_000),
        },
        new_refresh.clone(),
    ];
    let err = store
        .rotate_refresh_token(&Rotation {
            digest: &first.refresh,
            new_tokens: &clash,
            refresh_expires_at: t(90_000),
            now: t(10),
            idle_timeout: None,
            grace: None,
        })
        .await
        .expect_err("a rotation inserting a taken digest must fail");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "rotation collision: {err}"
    );
    assert!(
        !token_exists(&store, &new_refresh.digest).await,
        "the failed rotation wrote nothing"
    );
    assert_eq!(status(&store, &first.session).await.expires_at, t(86_400));
    let outcome = rotate(&store, &first.refresh, t(11)).await.outcome;
    assert!(
        is_rotated(&outcome),
        "the failed rotation rolled back, so the token is still unspent: {outcome:?}"
    );
}

/// A refresh token rotates once: the new tokens join the session, whose expiry and
/// `refreshed_at` move, and the previous access token stays valid. Presenting the spent
/// token again is `Reused` and revokes the whole session (the successor then answers
/// `SessionRevoked`).
pub async fn rotation_keeps_the_session_and_reuse_revokes_it<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let first = login(&store, user, Times::new(t(0), t(100), t(1_000))).await;

    let next = rotate_with(
        &store,
        &first.refresh,
        t(50),
        t(2_000),
        RotateOpts::default(),
    )
    .await;
    assert_eq!(
        rotated(&next.outcome),
        Some((first.session, user, t(2_000))),
        "rotation names the session, its user and the new expiry: {:?}",
        next.outcome
    );
    let listed = store
        .list_sessions(&user, t(60))
        .await
        .expect("list_sessions");
    assert_eq!(listed.len(), 1, "rotation keeps one session");
    assert_eq!(listed[0].id, first.session, "rotation keeps the session");
    assert_eq!(listed[0].created_at, t(0), "created_at stays");
    assert_eq!(listed[0].refreshed_at, Some(t(50)), "refreshed_at = now");
    assert_eq!(listed[0].expires_at, t(2_000), "the session's expiry moved");
    let access = record(&store, &next.access).await;
    assert_eq!(access.kind, TokenKind::Access);
    assert_eq!(
        access.session.session_id, first.session,
        "new tokens join the session"
    );
    assert_eq!(access.expires_at, t(50) + time::Duration::minutes(15));
    let refresh = record(&store, &next.refresh).await;
    assert_eq!(refresh.kind, TokenKind::Refresh);
    assert_eq!(refresh.expires_at, t(2_000));
    let old = record(&store, &first.access).await;
    assert!(
        !old.session.revoked && old.expires_at == t(100),
        "the previous access token stays valid until its own expiry"
    );

    let third = rotate(&store, &next.refresh, t(60)).await;
    assert!(
        is_rotated(&third.outcome),
        "the successor rotates in turn: {:?}",
        third.outcome
    );

    let reuse = rotate(&store, &first.refresh, t(70)).await;
    assert_eq!(
        reuse.outcome,
        RotateOutcome::Reused {
            session_id: first.session,
            user_id: user
        },
        "a spent refresh token is reuse"
    );
    assert!(
        is_revoked(&store, &first.session).await,
        "reuse revokes the session"
    );
    assert!(
        !token_exists(&store, &reuse.access).await,
        "reuse inserts nothing"
    );
    assert!(
        record(&store, &third.access).await.session.revoked,
        "reuse revokes the tokens issued by later rotations too"
    );
    assert_eq!(
        rotate(&store, &third.refresh, t(80)).await.outcome,
        RotateOutcome::SessionRevoked,
        "the current refresh token dies with its session"
    );
    assert!(session_ids(&store, &user, t(80)).await.is_empty());
}

/// The absolute end caps everything: the tokens of a new session, the session's new
/// expiry and the new rows of a rotation; at the absolute end rotation is `Expired`.
pub async fn rotation_caps_every_expiry_at_the_absolute_end<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let session = new_session(user, Times::new(t(0), t(900), t(1_000)).absolute(t(5_000)));
    let tokens = pair(t(9_000), t(1_000));
    store
        .create_session(&session, &tokens, None)
        .await
        .expect("create_session");
    assert_eq!(
        record(&store, &tokens[0].digest).await.expires_at,
        t(5_000),
        "a session's tokens are capped at its absolute end"
    );

    let new_tokens = pair(t(7_000), t(9_000));
    let outcome = store
        .rotate_refresh_token(&Rotation {
            digest: &tokens[1].digest,
            new_tokens: &new_tokens,
            refresh_expires_at: t(9_000),
            now: t(100),
            idle_timeout: None,
            grace: None,
        })
        .await
        .expect("rotate_refresh_token");
    assert_eq!(
        rotated(&outcome),
        Some((session.id, user, t(5_000))),
        "rotation reports the capped expiry: {outcome:?}"
    );
    let st = status(&store, &session.id).await;
    assert_eq!(
        st.expires_at,
        t(5_000),
        "rotation never moves the session past its absolute end"
    );
    assert_eq!(
        st.absolute_expires_at,
        t(5_000),
        "the absolute end never moves"
    );
    assert_eq!(
        record(&store, &new_tokens[0].digest).await.expires_at,
        t(5_000),
        "new access row capped"
    );
    assert_eq!(
        record(&store, &new_tokens[1].digest).await.expires_at,
        t(5_000),
        "new refresh row capped"
    );
    let listed = store
        .list_sessions(&user, t(200))
        .await
        .expect("list_sessions");
    assert_eq!(listed[0].expires_at, t(5_000));

    let late = rotate(&store, &new_tokens[1].digest, t(5_000)).await;
    assert_eq!(
        late.outcome,
        RotateOutcome::Expired,
        "at the absolute end the session is over"
    );
    assert!(!token_exists(&store, &late.access).await);
}

/// `NotFound` (unknown digest, an access token), `Expired` (token expiry, absolute end)
/// and `SessionRevoked` change nothing: no token is inserted, nothing is spent or
/// revoked, and the token still rotates where it could before.
pub async fn refused_rotations_change_nothing<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;

    let unknown = rotate(&store, &digest(), t(1)).await;
    assert_eq!(
        unknown.outcome,
        RotateOutcome::NotFound,
        "an unknown digest"
    );
    assert!(
        !token_exists(&store, &unknown.access).await,
        "NotFound inserts nothing"
    );

    let live = login(&store, user, Times::standard()).await;
    let wrong_kind = rotate(&store, &live.access, t(1)).await;
    assert_eq!(
        wrong_kind.outcome,
        RotateOutcome::NotFound,
        "an access token is not a refresh token"
    );
    assert!(!token_exists(&store, &wrong_kind.access).await);
    assert!(
        !is_revoked(&store, &live.session).await,
        "NotFound revokes nothing"
    );
    assert!(is_rotated(
        &rotate(&store, &live.refresh, t(2)).await.outcome
    ));

    let short = login(&store, user, Times::new(t(0), t(50), t(100))).await;
    let expired = rotate(&store, &short.refresh, t(100)).await;
    assert_eq!(
        expired.outcome,
        RotateOutcome::Expired,
        "a refresh token is expired at its expiry instant"
    );
    assert!(
        !token_exists(&store, &expired.access).await,
        "Expired inserts nothing"
    );
    assert_eq!(
        rotate(&store, &short.refresh, t(5_000)).await.outcome,
        RotateOutcome::Expired
    );
    assert!(
        !is_revoked(&store, &short.session).await,
        "Expired revokes nothing"
    );
    let before = rotate(&store, &short.refresh, t(99)).await;
    assert!(
        is_rotated(&before.outcome),
        "Expired spent nothing: the token still rotates before its expiry: {:?}",
        before.outcome
    );

    let capped = login(
        &store,
        user,
        Times::new(t(0), t(50), t(1_000)).absolute(t(200)),
    )
    .await;
    assert_eq!(
        rotate(&store, &capped.refresh, t(200)).await.outcome,
        RotateOutcome::Expired,
        "a session is over at its absolute end"
    );
    assert!(is_rotated(
        &rotate(&store, &capped.refresh, t(199)).await.outcome
    ));

    let revoked = login(&store, user, Times::standard()).await;
    assert!(
        store
            .revoke_session(&user, &revoked.session, t(10))
            .await
            .expect("revoke_session")
    );
    let refused = rotate(&store, &revoked.refresh, t(20)).await;
    assert_eq!(refused.outcome, RotateOutcome::SessionRevoked);
    assert!(
        !token_exists(&store, &refused.access).await,
        "SessionRevoked inserts nothing"
    );
    let logged_out = login(&store, user, Times::standard()).await;
    store
        .revoke_user_sessions(&user, None, t(30))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        rotate(&store, &logged_out.refresh, t(40)).await.outcome,
        RotateOutcome::SessionRevoked,
        "revoke_user_sessions revokes the refresh tokens"
    );
}

/// When a token fails several checks the outcome is the first of `NotFound`,
/// `SessionRevoked`, `Reused`/`Replayed` (a spent token, even if expired), `Expired`.
pub async fn rotation_outcomes_follow_the_documented_order<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;

    // NotFound before SessionRevoked: an access token of a revoked session.
    let a = login(&store, user, Times::standard()).await;
    assert!(
        store
            .revoke_session(&user, &a.session, t(5))
            .await
            .expect("revoke_session")
    );
    assert_eq!(
        rotate(&store, &a.access, t(10)).await.outcome,
        RotateOutcome::NotFound,
        "NotFound comes before SessionRevoked (a digest of another kind)"
    );

    // SessionRevoked before Reused: a spent token of a revoked session.
    let b = login(&store, user, Times::standard()).await;
    assert!(is_rotated(&rotate(&store, &b.refresh, t(10)).await.outcome));
    assert!(
        store
            .revoke_session(&user, &b.session, t(20))
            .await
            .expect("revoke_session")
    );
    assert_eq!(
        rotate(&store, &b.refresh, t(30)).await.outcome,
        RotateOutcome::SessionRevoked,
        "SessionRevoked comes before Reused"
    );

    // SessionRevoked before Expired.
    let c = login(&store, user, Times::new(t(0), t(50), t(100))).await;
    assert!(
        store
            .revoke_session(&user, &c.session, t(10))
            .await
            .expect("revoke_session")
    );
    assert_eq!(
        rotate(&store, &c.refresh, t(500)).await.outcome,
        RotateOutcome::SessionRevoked,
        "SessionRevoked comes before Expired"
    );

    // Reused before Expired: a spent token replayed after its expiry and after the
    // session's absolute end.
    let d = login(
        &store,
        user,
        Times::new(t(0), t(50), t(100)).absolute(t(300)),
    )
    .await;
    assert!(is_rotated(
        &rotate_with(&store, &d.refresh, t(50), t(150), RotateOpts::default())
            .await
            .outcome
    ));
    let late = rotate(&store, &d.refresh, t(400)).await;
    assert!(
        is_reused(&late.outcome, &d.session),
        "Reused comes before Expired (a spent token, even if expired): {:?}",
        late.outcome
    );
    assert!(
        is_revoked(&store, &d.session).await,
        "reuse revoked the session"
    );

    // Replayed before Expired: the grace replay of a spent token after the absolute end.
    let e = login(
        &store,
        user,
        Times::new(t(0), t(50), t(1_000)).absolute(t(300)),
    )
    .await;
    let sealed = sealed_bytes(1);
    let opts = RotateOpts {
        grace: Some((secs(60), &sealed)),
        ..RotateOpts::default()
    };
    assert!(is_rotated(
        &rotate_with(&store, &e.refresh, t(290), t(1_000), opts)
            .await
            .outcome
    ));
    let replay = rotate(&store, &e.refresh, t(310)).await;
    assert_eq!(
        replayed(&replay.outcome).map(|r| (r.0, r.1.to_vec())),
        Some((e.session, sealed.clone())),
        "Replayed comes before Expired: {:?}",
        replay.outcome
    );
}

/// Of 50 concurrent rotations of one refresh token exactly one is `Rotated` and only its
/// tokens are written; the others see `Reused` (revoking the session) or
/// `SessionRevoked`. Repeated 20 times.
pub async fn concurrent_rotations_rotate_exactly_once<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    const TASKS: usize = 50;
    const ROUNDS: usize = 20;
    let store = Arc::new(factory.create().await);
    let user = factory.session_user(&store, t(0)).await;
    for round in 0..ROUNDS {
        let first = login(store.as_ref(), user, Times::standard()).await;
        let results = race(&store, TASKS, move |store, _| async move {
            let r = rotate(store.as_ref(), &first.refresh, t(10)).await;
            (r.outcome, r.access)
        })
        .await;
        let outcomes: Vec<&RotateOutcome> = results.iter().map(|(o, _)| o).collect();
        let winners = outcomes.iter().filter(|o| is_rotated(o)).count();
        assert_eq!(
            winners, 1,
            "round {round}: exactly one of {TASKS} concurrent rotations wins: {outcomes:?}"
        );
        assert!(
            outcomes.iter().all(|o| is_rotated(o)
                || is_reused(o, &first.session)
                || **o == RotateOutcome::SessionRevoked),
            "round {round}: losers see reuse or a revoked session: {outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|o| is_reused(o, &first.session)),
            "round {round}: the first loser detects reuse: {outcomes:?}"
        );
        let mut written = 0;
        for (_, access) in &results {
            if token_exists(store.as_ref(), access).await {
                written += 1;
            }
        }
        assert_eq!(
            written, 1,
            "round {round}: only the winner's tokens are written"
        );
        assert!(
            is_revoked(store.as_ref(), &first.session).await,
            "round {round}: reuse revoked the session"
        );
    }
}

/// With a grace window, replaying the immediate predecessor of the current refresh token
/// within the window is `Replayed` with the very sealed bytes kept at rotation (and the
/// successor's expiry), changing nothing; after the window, without a window, or for an
/// older token (second generation) it is `Reused`.
pub async fn grace_replay_returns_the_sealed_pair_to_the_immediate_predecessor_only<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    fn grace(sealed: &[u8]) -> RotateOpts<'_> {
        RotateOpts {
            grace: Some((secs(30), sealed)),
            ..RotateOpts::default()
        }
    }

    // Replays within the window return the same bytes and change nothing; after it, reuse.
    let one = login(&store, user, Times::standard()).await;
    let sealed_b = sealed_bytes(2);
    let b = rotate_with(&store, &one.refresh, t(100), t(50_000), grace(&sealed_b)).await;
    assert!(is_rotated(&b.outcome), "{:?}", b.outcome);
    for at in [100, 110, 129] {
        let replay = rotate(&store, &one.refresh, t(at)).await;
        assert_eq!(
            replayed(&replay.outcome),
            Some((one.session, sealed_b.as_slice(), t(50_000))),
            "a replay {}s into a 30s window returns the sealed pair: {:?}",
            at - 100,
            replay.outcome
        );
        assert!(
            !token_exists(&store, &replay.access).await,
            "a replay inserts nothing"
        );
    }
    assert!(
        !is_revoked(&store, &one.session).await,
        "a replay revokes nothing"
    );
    let after = rotate(&store, &one.refresh, t(131)).await;
    assert!(
        is_reused(&after.outcome, &one.session),
        "a replay after the window is reuse: {:?}",
        after.outcome
    );
    assert!(is_revoked(&store, &one.session).await);

    // A replay leaves the successor current; once it rotates, the old token is second
    // generation.
    let two = login(&store, user, Times::standard()).await;
    let sealed = sealed_bytes(3);
    let b = rotate_with(&store, &two.refresh, t(100), t(50_000), grace(&sealed)).await;
    assert!(replayed(&rotate(&store, &two.refresh, t(105)).await.outcome).is_some());
    let sealed_c = sealed_bytes(4);
    let c = rotate_with(&store, &b.refresh, t(106), t(60_000), grace(&sealed_c)).await;
    assert!(
        is_rotated(&c.outcome),
        "the successor still rotates after a replay: {:?}",
        c.outcome
    );
    assert_eq!(
        replayed(&rotate(&store, &b.refresh, t(110)).await.outcome),
        Some((two.session, sealed_c.as_slice(), t(60_000))),
        "the new predecessor replays its own successor"
    );
    let second_gen = rotate(&store, &two.refresh, t(110)).await;
    assert!(
        is_reused(&second_gen.outcome, &two.session),
        "a second-generation replay within its window is reuse: {:?}",
        second_gen.outcome
    );
    assert!(is_revoked(&store, &two.session).await);
    assert_eq!(
        rotate(&store, &c.refresh, t(111)).await.outcome,
        RotateOutcome::SessionRevoked
    );

    // Without a grace window a replay is reuse at once.
    let three = login(&store, user, Times::standard()).await;
    assert!(is_rotated(
        &rotate(&store, &three.refresh, t(100)).await.outcome
    ));
    let replay = rotate(&store, &three.refresh, t(101)).await;
    assert!(
        is_reused(&replay.outcome, &three.session),
        "without a grace window a replay is reuse: {:?}",
        replay.outcome
    );
}

/// With an idle timeout, a session whose last login or rotation is older than the
/// timeout is `Expired` (changing nothing); activity within it keeps the session going.
pub async fn idle_timeout_expires_an_unused_session<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let idle = RotateOpts {
        idle_timeout: Some(secs(600)),
        ..RotateOpts::default()
    };
    let day = t(86_400);

    let fresh = login(&store, user, Times::standard()).await;
    assert_eq!(
        rotate_with(&store, &fresh.refresh, t(601), day, idle)
            .await
            .outcome,
        RotateOutcome::Expired,
        "idle since login for longer than the timeout"
    );

    let busy = login(&store, user, Times::standard()).await;
    let b = rotate_with(&store, &busy.refresh, t(599), day, idle).await;
    assert!(
        is_rotated(&b.outcome),
        "active within the timeout: {:?}",
        b.outcome
    );
    let c = rotate_with(&store, &b.refresh, t(1_198), day, idle).await;
    assert!(
        is_rotated(&c.outcome),
        "the timeout counts from the last rotation: {:?}",
        c.outcome
    );
    let late = rotate_with(&store, &c.refresh, t(1_800), day, idle).await;
    assert_eq!(
        late.outcome,
        RotateOutcome::Expired,
        "idle for longer than the timeout"
    );
    assert!(!token_exists(&store, &late.access).await);
    assert!(
        !is_revoked(&store, &busy.session).await,
        "Expired revokes nothing"
    );
    assert!(
        is_rotated(&rotate(&store, &c.refresh, t(1_800)).await.outcome),
        "Expired spent nothing: without the timeout the token still rotates"
    );
}

/// `create_session` with `max_active` revokes the user's oldest active sessions so that
/// at most `max_active` remain (the new one included) and returns how many; expired,
/// revoked and other users' sessions do not count and are not touched.
pub async fn create_session_evicts_the_oldest_active_sessions<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let other = factory.session_user(&store, t(0)).await;
    login(&store, user, Times::new(t(0), t(3), t(5))).await;
    let revoked = login(&store, user, Times::new(t(1), t(900), t(86_400))).await;
    assert!(
        store
            .revoke_session(&user, &revoked.session, t(2))
            .await
            .expect("revoke_session")
    );
    let s1 = login(&store, user, Times::new(t(10), t(900), t(86_400))).await;
    let theirs = login(&store, other, Times::new(t(15), t(900), t(86_400))).await;
    let s2 = login(&store, user, Times::new(t(20), t(900), t(86_400))).await;

    let create = |created: i64, max: Option<u32>| {
        let store = &store;
        async move {
            let session = new_session(user, Times::new(t(created), t(900), t(86_400)));
            let n = store
                .create_session(&session, &pair(t(900), t(86_400)), max)
                .await
                .expect("create_session");
            (session.id, n)
        }
    };
    let (s3, n) = create(30, Some(2)).await;
    assert_eq!(
        n, 1,
        "one session evicted to keep 2 (expired and revoked ones do not count)"
    );
    assert!(
        is_revoked(&store, &s1.session).await,
        "the oldest active session goes first"
    );
    assert_eq!(session_ids(&store, &user, t(31)).await, [s3, s2.session]);
    assert_eq!(
        session_ids(&store, &other, t(31)).await,
        [theirs.session],
        "other users untouched"
    );

    let (s4, n) = create(40, Some(3)).await;
    assert_eq!(n, 0, "under the cap nothing is evicted");
    let (s5, n) = create(50, Some(1)).await;
    assert_eq!(n, 3, "a cap of 1 evicts every other active session");
    assert_eq!(session_ids(&store, &user, t(51)).await, [s5]);
    assert!(is_revoked(&store, &s4).await);
    let (s6, n) = create(60, None).await;
    assert_eq!(n, 0, "no cap, no eviction");
    assert_eq!(session_ids(&store, &user, t(61)).await, [s6, s5]);
}

/// `revoke_session` revokes an active session of the given user only: not another
/// user's, not an unknown one, not an expired or already revoked one.
pub async fn revoke_session_is_scoped_to_its_user_and_active_sessions<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let alice = factory.session_user(&store, t(0)).await;
    let bob = factory.session_user(&store, t(0)).await;
    let session = login(&store, alice, Times::standard()).await;
    let revoke = |user: UserId, id: SessionId, at: i64| {
        let store = &store;
        async move {
            store
                .revoke_session(&user, &id, t(at))
                .await
                .expect("revoke_session")
        }
    };
    assert!(
        !revoke(bob, session.session, 10).await,
        "another user cannot revoke it"
    );
    assert!(!is_revoked(&store, &session.session).await);
    assert!(
        revoke(alice, session.session, 11).await,
        "its user revokes it"
    );
    assert!(is_revoked(&store, &session.session).await);
    assert!(
        !revoke(alice, session.session, 12).await,
        "a revoked session is not revoked twice"
    );
    assert!(
        !revoke(alice, session_id(), 12).await,
        "an unknown session is not revoked"
    );
    let short = login(&store, alice, Times::new(t(0), t(50), t(100))).await;
    assert!(
        !revoke(alice, short.session, 100).await,
        "an expired session is not active"
    );
}

/// `revoke_user_sessions` revokes every active session of the user except `keep` and
/// counts only sessions that were active: expired and already revoked ones are not
/// counted; other users' sessions stay.
pub async fn revoke_user_sessions_counts_only_active_sessions<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let alice = factory.session_user(&store, t(0)).await;
    let bob = factory.session_user(&store, t(0)).await;
    let a1 = login(&store, alice, Times::standard()).await;
    let a2 = login(&store, alice, Times::standard()).await;
    let a3 = login(&store, alice, Times::standard()).await;
    login(&store, alice, Times::new(t(0), t(3), t(5))).await;
    let b1 = login(&store, bob, Times::standard()).await;

    let n = store
        .revoke_user_sessions(&alice, Some(&a2.session), t(10))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        n, 2,
        "two active sessions revoked, one kept, the expired one not counted"
    );
    assert_eq!(session_ids(&store, &alice, t(11)).await, [a2.session]);
    assert!(is_revoked(&store, &a1.session).await);
    assert!(is_revoked(&store, &a3.session).await);
    assert!(!is_revoked(&store, &a2.session).await, "`keep` is kept");
    assert_eq!(
        session_ids(&store, &bob, t(11)).await,
        [b1.session],
        "other users are untouched"
    );

    let n = store
        .revoke_user_sessions(&alice, None, t(20))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(n, 1, "without `keep` the last active session goes");
    assert!(is_revoked(&store, &a2.session).await);
    let n = store
        .revoke_user_sessions(&alice, None, t(30))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(n, 0, "revoked and expired sessions are not counted again");
    assert!(
        !is_revoked(&store, &b1.session).await,
        "other users are untouched"
    );
}

/// `list_sessions` returns the user's sessions that are neither revoked nor expired at
/// `now`, newest first, with their times (a session is expired at its expiry instant).
pub async fn list_sessions_filters_and_orders_newest_first<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let alice = factory.session_user(&store, t(0)).await;
    let bob = factory.session_user(&store, t(0)).await;
    let s1 = login(&store, alice, Times::new(t(0), t(500), t(1_000))).await;
    let s2 = login(&store, alice, Times::new(t(10), t(500), t(1_000))).await;
    let s3 = login(&store, alice, Times::new(t(20), t(40), t(50))).await;
    let s4 = login(&store, alice, Times::new(t(30), t(500), t(1_000))).await;
    let b1 = login(&store, bob, Times::new(t(40), t(500), t(1_000))).await;
    assert!(
        store
            .revoke_session(&alice, &s4.session, t(35))
            .await
            .expect("revoke_session")
    );
    let r = rotate_with(&store, &s1.refresh, t(42), t(2_000), RotateOpts::default()).await;
    assert!(is_rotated(&r.outcome));

    let listed = store
        .list_sessions(&alice, t(45))
        .await
        .expect("list_sessions");
    let ids: Vec<SessionId> = listed.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [s3.session, s2.session, s1.session],
        "active sessions, newest first; the revoked one is left out"
    );
    assert_eq!(listed[0].user_id, alice);
    assert_eq!(listed[0].created_at, t(20));
    assert_eq!(listed[0].expires_at, t(50));
    assert_eq!(listed[0].refreshed_at, None);
    assert_eq!(
        listed[2].refreshed_at,
        Some(t(42)),
        "a rotated session shows refreshed_at"
    );
    assert_eq!(listed[2].expires_at, t(2_000));
    assert_eq!(
        session_ids(&store, &alice, t(50)).await,
        [s2.session, s1.session],
        "a session is expired at its expiry instant"
    );
    assert_eq!(session_ids(&store, &bob, t(45)).await, [b1.session]);
    assert_eq!(session_ids(&store, &alice, t(1_500)).await, [s1.session]);
    assert!(
        session_ids(&store, &alice, t(2_000)).await.is_empty(),
        "all expired"
    );
}

/// `session_status` returns a session's state (revoked or not, expiries) whatever it is,
/// `None` for an unknown id, and reading it changes nothing.
pub async fn session_status_reports_the_session_without_changing_it<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    assert!(
        store
            .session_status(&session_id())
            .await
            .expect("session_status")
            .is_none(),
        "an unknown session has no status"
    );
    let short = login(&store, user, Times::new(t(0), t(50), t(100))).await;
    let st = status(&store, &short.session).await;
    assert_eq!(
        (st.session_id, st.user_id, st.revoked),
        (short.session, user, false)
    );
    assert_eq!(st.expires_at, t(100));
    let again = status(&store, &short.session).await;
    assert_eq!(
        (again.revoked, again.expires_at, again.absolute_expires_at),
        (st.revoked, st.expires_at, st.absolute_expires_at),
        "reading the status changes nothing"
    );
    assert!(
        is_rotated(&rotate(&store, &short.refresh, t(10)).await.outcome),
        "reading the status spent nothing"
    );
    assert!(
        store
            .revoke_session(&user, &short.session, t(20))
            .await
            .expect("revoke_session")
    );
    assert!(
        status(&store, &short.session).await.revoked,
        "the status shows the revocation"
    );
}
