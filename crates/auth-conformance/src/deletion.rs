//! Checks of [`ExpiredDeletion`]: dead rows go in bounded batches; what reuse detection
//! needs stays.
//!
//! These checks work on rows timed in 2029 (a year before every other check) and call
//! `delete_expired` with a `before` in 2029, so they never touch the rows of checks
//! running beside them on one database. Because another run sharing the database may
//! delete the same dead rows at the same moment, they assert what holds even then:
//! each call deletes at most `batch`, the calls reach 0, every dead row of the check is
//! gone, every live one stays.

use auth_core::{
    ExpiredDeletion, OffsetDateTime, RotateOutcome, SessionStore, SingleUseTokenStore,
    StoreErrorKind, TokenDigest, TokenKind, UserId,
};

use crate::runner::{Check, StoreFactory};
use crate::support::{
    Login, RotateOpts, Times, login, rotate, rotate_with, status, t, t_old, token, token_exists,
};

macro_rules! deletion_checks {
    ($($head:tt)*) => {
        suite!($($head)*;
        delete_expired_deletes_dead_rows_in_batches_until_zero,
        delete_expired_keeps_the_refresh_rows_of_live_sessions,
        delete_expired_keeps_rows_that_die_after_before,
        )
    };
}

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion,
{
    deletion_checks!("deletion", factory)
}

/// Every check of this suite, on stores made by `factory` wrapped in [`WithUsers`](crate::WithUsers), so
/// sessions and tokens belong to users the store holds.
pub fn checks_with_users<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion + auth_core::UserStore,
{
    deletion_checks!("deletion", factory => WithUsers)
}

/// Calls `delete_expired(before, batch)` until it answers 0, checking the batch bound;
/// `own_rows_gone` tells whether the check's own dead rows are all gone (another run may
/// have deleted them first). Returns the number of calls.
pub(crate) async fn delete_until_zero<S, G, Fut>(
    store: &S,
    before: OffsetDateTime,
    batch: u32,
    own_rows_gone: G,
) -> u32
where
    S: ExpiredDeletion + ?Sized,
    G: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut calls = 0u32;
    loop {
        let n = store
            .delete_expired(before, batch)
            .await
            .expect("delete_expired");
        calls += 1;
        assert!(
            n <= u64::from(batch),
            "a call deletes at most `batch` ({batch}) rows, this one {n}"
        );
        if calls == 1 && n < u64::from(batch) {
            assert!(
                own_rows_gone().await,
                "the first call deleted {n} < batch {batch} rows though dead rows were left"
            );
        }
        if n == 0 {
            break;
        }
        assert!(calls < 100_000, "delete_expired never reached 0");
    }
    calls
}

/// `delete_expired` deletes, at most `batch` per call, what is dead as of `before`:
/// sessions past their absolute end or revoked (with all their tokens), expired access
/// tokens, spent or expired single-use tokens; it returns 0 once nothing is left, and a
/// batch of 0 deletes nothing. Live sessions, their refresh tokens, live access tokens
/// and live single-use tokens stay.
pub async fn delete_expired_deletes_dead_rows_in_batches_until_zero<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t_old(0)).await;
    let days = |n: i64| t_old(0) + time::Duration::days(n);
    let mut dead_sessions = Vec::new();
    for i in 0..3 {
        dead_sessions.push(
            login(
                &store,
                user,
                Times::new(t_old(i), t_old(50), t_old(100)).absolute(t_old(100)),
            )
            .await,
        );
    }
    let revoked = login(&store, user, Times::new(t_old(0), t_old(500), days(20))).await;
    assert!(
        store
            .revoke_session(&user, &revoked.session, t_old(10))
            .await
            .expect("revoke_session")
    );
    dead_sessions.push(revoked);
    // A live session whose access token expired, and one whose access token lives.
    let live = login(&store, user, Times::new(t_old(0), t_old(500), days(20))).await;
    let live2 = login(&store, user, Times::new(t_old(0), days(1), days(20))).await;

    let expired_single = [
        token(TokenKind::PasswordReset, t_old(100)),
        token(TokenKind::EmailVerification, t_old(100)),
    ];
    let spent_single = token(TokenKind::PasswordReset, days(10));
    let live_single = token(TokenKind::EmailVerification, days(10));
    for tok in expired_single.iter().chain([&spent_single, &live_single]) {
        store
            .insert_single_use_token(&user, tok, false, t_old(0))
            .await
            .expect("insert_single_use_token");
    }
    assert_eq!(
        store
            .consume_single_use_token(&spent_single.digest, TokenKind::PasswordReset, t_old(5))
            .await
            .expect("consume_single_use_token"),
        Some(user)
    );

    let before = t_old(1_000);
    // Dead: 3 expired + 1 revoked session, 1 expired access token, 3 single-use tokens.
    let gone = || {
        let store = &store;
        let sessions = dead_sessions.clone();
        let live_access = live.access;
        async move {
            for s in &sessions {
                if store
                    .session_status(&s.session)
                    .await
                    .expect("session_status")
                    .is_some()
                {
                    return false;
                }
            }
            !token_exists(store, &live_access).await
        }
    };
    let calls = delete_until_zero(&store, before, 3, gone).await;
    assert!(
        calls >= 2,
        "dead rows were deleted and a last call answered 0"
    );

    for s in &dead_sessions {
        assert!(
            store
                .session_status(&s.session)
                .await
                .expect("session_status")
                .is_none(),
            "a session past its absolute end, or revoked, is deleted"
        );
        assert!(
            !token_exists(&store, &s.access).await,
            "its access token went with it"
        );
        assert!(
            !token_exists(&store, &s.refresh).await,
            "its refresh token went with it"
        );
    }
    assert!(
        !token_exists(&store, &live.access).await,
        "an expired access token is deleted"
    );
    assert!(
        token_exists(&store, &live.refresh).await,
        "a live session's refresh token stays"
    );
    assert!(
        !status(&store, &live.session).await.revoked,
        "a live session stays"
    );
    assert!(
        token_exists(&store, &live2.access).await,
        "a live access token stays"
    );
    assert!(token_exists(&store, &live2.refresh).await);
    for tok in expired_single.iter().chain([&spent_single]) {
        // Inserting the digest again succeeds only if the row is gone.
        store
            .insert_single_use_token(&user, tok, false, t_old(2_000))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "a spent or expired single-use token ({:?}) is deleted: {e}",
                    tok.kind
                )
            });
    }
    assert_eq!(
        store
            .find_single_use_token(
                &live_single.digest,
                TokenKind::EmailVerification,
                t_old(2_000)
            )
            .await
            .expect("find_single_use_token"),
        Some(user),
        "a live single-use token stays"
    );
    assert_eq!(
        store
            .delete_expired(before, 0)
            .await
            .expect("delete_expired"),
        0,
        "a batch of 0 deletes nothing"
    );
}

/// A session whose first refresh token A was spent at `t_old(50)` (and expires at
/// `t_old(100)`), whose second B was spent at `t_old(60)` (and expires at `t_old(5_000)`),
/// and whose third is current. Returns the session and B.
async fn spent_chain<S: SessionStore>(
    store: &S,
    user: UserId,
    times: Times,
) -> (Login, TokenDigest) {
    let s = login(store, user, times).await;
    let b = rotate_with(
        store,
        &s.refresh,
        t_old(50),
        t_old(5_000),
        RotateOpts::default(),
    )
    .await;
    assert!(
        matches!(b.outcome, RotateOutcome::Rotated { .. }),
        "{:?}",
        b.outcome
    );
    let c = rotate_with(
        store,
        &b.refresh,
        t_old(60),
        t(3_600),
        RotateOpts::default(),
    )
    .await;
    assert!(
        matches!(c.outcome, RotateOutcome::Rotated { .. }),
        "{:?}",
        c.outcome
    );
    (s, b.refresh)
}

/// `delete_expired` never deletes a refresh-token row of a session that still exists:
/// a late replay of a spent token (expired or not) stays `Reused`, and the current
/// refresh token of a session whose expiry passed stays `Expired`, not `NotFound`.
pub async fn delete_expired_keeps_the_refresh_rows_of_live_sessions<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t_old(0)).await;
    // Sessions started in 2029 whose absolute end is in 2030: alive for every `before`
    // of the deletion checks.
    let times = Times::new(t_old(0), t_old(10), t_old(100)).absolute(t(86_400));
    let (x, x_b) = spent_chain(&store, user, times).await;
    let (y, _) = spent_chain(&store, user, times).await;
    let stale = login(&store, user, times).await;

    let before = t_old(1_000);
    let x_access = x.access;
    delete_until_zero(&store, before, 2, || {
        let store = &store;
        async move { !token_exists(store, &x_access).await }
    })
    .await;

    let spent_alive = rotate(&store, &x_b, t_old(1_100)).await.outcome;
    assert!(
        matches!(spent_alive, RotateOutcome::Reused { session_id, .. } if session_id == x.session),
        "a late replay of a spent, unexpired refresh token of a live session stays Reused after \
         delete_expired (the row must be kept until the session's absolute end): {spent_alive:?}"
    );
    let spent_expired = rotate(&store, &y.refresh, t_old(1_100)).await.outcome;
    assert!(
        matches!(spent_expired, RotateOutcome::Reused { session_id, .. } if session_id == y.session),
        "a late replay of a spent, expired refresh token of a live session stays Reused after \
         delete_expired: {spent_expired:?}"
    );
    assert_eq!(
        rotate(&store, &stale.refresh, t_old(1_100)).await.outcome,
        RotateOutcome::Expired,
        "the expired current refresh token of a live session is kept (Expired, not NotFound)"
    );
}

/// "Dead as of `before`" is judged at `before`: a session revoked, or a single-use token
/// spent, after `before` is kept (so several runs can share one database), as are
/// sessions and tokens that expire after it.
pub async fn delete_expired_keeps_rows_that_die_after_before<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion,
{
    let store = factory.create().await;
    let user: UserId = factory.session_user(&store, t(0)).await;
    let revoked = login(&store, user, Times::standard()).await;
    assert!(
        store
            .revoke_session(&user, &revoked.session, t(10))
            .await
            .expect("revoke_session")
    );
    let live = login(&store, user, Times::standard()).await;
    let spent = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user, &spent, false, t(0))
        .await
        .expect("insert_single_use_token");
    assert_eq!(
        store
            .consume_single_use_token(&spent.digest, TokenKind::PasswordReset, t(10))
            .await
            .expect("consume_single_use_token"),
        Some(user)
    );

    delete_until_zero(&store, t_old(1_000), 100, || async { true }).await;

    assert!(
        store
            .session_status(&revoked.session)
            .await
            .expect("session_status")
            .is_some_and(|st| st.revoked),
        "a session revoked after `before` is kept"
    );
    assert_eq!(
        rotate(&store, &revoked.refresh, t(20)).await.outcome,
        RotateOutcome::SessionRevoked,
        "its refresh token is kept"
    );
    assert!(
        token_exists(&store, &live.access).await,
        "a live session's access token is kept"
    );
    let err = store
        .insert_single_use_token(&user, &spent, false, t(20))
        .await
        .expect_err("a single-use token spent after `before` is kept");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
}
