//! Checks that need users, sessions, single-use tokens, deletion and the rate limiter in
//! one store: deleting a user ends its sessions, a deactivated user's rotation is
//! `UserInactive`, lookups join the current user, token families never mix.

use std::time::Duration;

use auth_core::{
    ExpiredDeletion, NewSession, NewToken, NewUser, RateLimitPolicy, RateLimiter, RotateOutcome,
    SessionStore, SingleUseTokenStore, StoreErrorKind, TokenKind, User, UserStore,
};

use crate::deletion::delete_until_zero;
use crate::runner::{Check, StoreFactory};
use crate::support::{
    RotateOpts, Times, email, is_revoked, login, new_session, rate_key, rotate, rotate_with, secs,
    session_ids, status, t, t_old, token, token_exists,
};

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    suite!("combined", factory;
        delete_user_deletes_its_sessions_and_tokens,
        rotation_for_a_deactivated_user_is_user_inactive_and_revokes,
        user_inactive_comes_after_reuse_and_replay_and_before_expiry,
        lookups_join_the_current_user,
        session_and_single_use_tokens_never_pass_as_each_other,
        delete_expired_forgets_stale_rate_limit_keys,
    )
}

async fn new_user<S: UserStore>(store: &S, tag: &str) -> User {
    let new = NewUser::new(&email(tag)).expect("a valid email");
    store.create_user(&new, t(0)).await.expect("create_user")
}

async fn deactivate<S: UserStore>(store: &S, user: &User, at: i64) {
    store
        .set_active(&user.id, false, t(at))
        .await
        .expect("set_active");
}

/// `delete_user` deletes the user's sessions (with every token, spent ones included) and
/// single-use tokens in the same transaction: nothing of theirs is found or rotates any
/// more; other users keep theirs.
pub async fn delete_user_deletes_its_sessions_and_tokens<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;
    let user = new_user(&store, "deleted").await;
    let other = new_user(&store, "stays").await;
    let a = login(&store, user.id, Times::standard()).await;
    let b = login(&store, user.id, Times::standard()).await;
    let b2 = rotate(&store, &b.refresh, t(10)).await;
    assert!(matches!(b2.outcome, RotateOutcome::Rotated { .. }));
    let reset = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user.id, &reset, false, t(0))
        .await
        .expect("insert_single_use_token");
    let theirs = login(&store, other.id, Times::standard()).await;
    let their_token = token(TokenKind::EmailVerification, t(3_600));
    store
        .insert_single_use_token(&other.id, &their_token, false, t(0))
        .await
        .expect("insert_single_use_token");

    assert!(store.delete_user(&user.id).await.expect("delete_user"));
    for digest in [
        a.access, a.refresh, b.access, b.refresh, b2.access, b2.refresh,
    ] {
        assert!(
            !token_exists(&store, &digest).await,
            "the deleted user's tokens are gone"
        );
    }
    for session in [a.session, b.session] {
        assert!(
            store
                .session_status(&session)
                .await
                .expect("session_status")
                .is_none(),
            "the deleted user's sessions are gone"
        );
    }
    assert_eq!(
        rotate(&store, &b2.refresh, t(20)).await.outcome,
        RotateOutcome::NotFound
    );
    assert_eq!(
        rotate(&store, &b.refresh, t(20)).await.outcome,
        RotateOutcome::NotFound,
        "even the spent refresh rows went with the user"
    );
    assert!(session_ids(&store, &user.id, t(20)).await.is_empty());
    store
        .insert_single_use_token(&other.id, &reset, false, t(20))
        .await
        .unwrap_or_else(|e| panic!("the deleted user's single-use tokens are gone: {e}"));

    assert!(
        !is_revoked(&store, &theirs.session).await,
        "other users keep their sessions"
    );
    assert!(matches!(
        rotate(&store, &theirs.refresh, t(20)).await.outcome,
        RotateOutcome::Rotated { .. }
    ));
    assert_eq!(
        store
            .find_single_use_token(&their_token.digest, TokenKind::EmailVerification, t(20))
            .await
            .expect("find_single_use_token"),
        Some(other.id),
        "other users keep their tokens"
    );
}

/// Rotating a token of a deactivated user is `UserInactive`, which revokes the session in
/// the same transaction (nothing inserted; reactivation does not revive it).
pub async fn rotation_for_a_deactivated_user_is_user_inactive_and_revokes<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;
    let user = new_user(&store, "inactive").await;
    let other = new_user(&store, "active").await;
    let s = login(&store, user.id, Times::standard()).await;
    let theirs = login(&store, other.id, Times::standard()).await;
    deactivate(&store, &user, 5).await;

    let refused = rotate(&store, &s.refresh, t(10)).await;
    assert_eq!(
        refused.outcome,
        RotateOutcome::UserInactive {
            session_id: s.session,
            user_id: user.id
        },
        "a deactivated user's refresh token"
    );
    assert!(
        is_revoked(&store, &s.session).await,
        "UserInactive revokes the session"
    );
    assert!(
        !token_exists(&store, &refused.access).await,
        "UserInactive inserts nothing"
    );
    store
        .set_active(&user.id, true, t(20))
        .await
        .expect("set_active");
    assert_eq!(
        rotate(&store, &s.refresh, t(30)).await.outcome,
        RotateOutcome::SessionRevoked,
        "reactivation does not revive the session"
    );
    assert!(
        matches!(
            rotate(&store, &theirs.refresh, t(30)).await.outcome,
            RotateOutcome::Rotated { .. }
        ),
        "active users are unaffected"
    );
}

/// `UserInactive` is ordered after `Reused` and `Replayed` and before `Expired`.
pub async fn user_inactive_comes_after_reuse_and_replay_and_before_expiry<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;

    let reused = new_user(&store, "reused").await;
    let s = login(&store, reused.id, Times::standard()).await;
    assert!(matches!(
        rotate(&store, &s.refresh, t(10)).await.outcome,
        RotateOutcome::Rotated { .. }
    ));
    deactivate(&store, &reused, 20).await;
    assert_eq!(
        rotate(&store, &s.refresh, t(30)).await.outcome,
        RotateOutcome::Reused {
            session_id: s.session,
            user_id: reused.id
        },
        "Reused comes before UserInactive"
    );

    let replayed = new_user(&store, "replayed").await;
    let s = login(&store, replayed.id, Times::standard()).await;
    let sealed = b"sealed pair".to_vec();
    let opts = RotateOpts {
        grace: Some((secs(30), &sealed)),
        ..RotateOpts::default()
    };
    assert!(matches!(
        rotate_with(&store, &s.refresh, t(10), t(86_400), opts)
            .await
            .outcome,
        RotateOutcome::Rotated { .. }
    ));
    deactivate(&store, &replayed, 11).await;
    let outcome = rotate(&store, &s.refresh, t(12)).await.outcome;
    assert!(
        matches!(&outcome, RotateOutcome::Replayed { sealed_successor, .. } if *sealed_successor == sealed),
        "Replayed comes before UserInactive: {outcome:?}"
    );

    let expired = new_user(&store, "expired").await;
    let s = login(&store, expired.id, Times::new(t(0), t(50), t(100))).await;
    deactivate(&store, &expired, 20).await;
    assert_eq!(
        rotate(&store, &s.refresh, t(500)).await.outcome,
        RotateOutcome::UserInactive {
            session_id: s.session,
            user_id: expired.id
        },
        "UserInactive comes before Expired"
    );
    assert!(
        is_revoked(&store, &s.session).await,
        "and revokes the session"
    );
}

/// A store that holds users joins the current user row into `find_access_token`,
/// `session_status` and `Rotated` (one round trip for `authenticate`).
pub async fn lookups_join_the_current_user<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;
    let user = new_user(&store, "joined").await;
    let s = login(&store, user.id, Times::standard()).await;
    let joined = |u: &Option<User>| u.clone().expect("a store with users joins the user");

    let record = store
        .find_access_token(&s.access)
        .await
        .expect("find_access_token")
        .expect("the token exists");
    assert_eq!(
        joined(&record.session.user),
        user,
        "find_access_token joins the user"
    );
    assert_eq!(
        joined(&status(&store, &s.session).await.user),
        user,
        "session_status joins the user"
    );
    match rotate(&store, &s.refresh, t(10)).await.outcome {
        RotateOutcome::Rotated { user: u, .. } => {
            assert_eq!(joined(&u), user, "Rotated carries the user")
        }
        other => panic!("expected Rotated, got {other:?}"),
    }

    store
        .record_login(&user.id, t(20))
        .await
        .expect("record_login");
    deactivate(&store, &user, 30).await;
    let now = store
        .find_access_token(&s.access)
        .await
        .expect("find_access_token")
        .expect("the token exists");
    let current = joined(&now.session.user);
    assert!(
        !current.is_active,
        "the lookup reads the user's current state"
    );
    assert_eq!(current.last_login, Some(t(20)));
    assert!(!joined(&status(&store, &s.session).await.user).is_active);
}

/// Session tokens and single-use tokens never pass as each other: a session token is not
/// consumed as a single-use token, a single-use token is not found as a session token nor
/// rotated, and inserting a digest the other family holds is refused (`UniqueViolation`)
/// or kept apart, never changing the other token.
pub async fn session_and_single_use_tokens_never_pass_as_each_other<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;
    let user = new_user(&store, "families").await;
    let s = login(&store, user.id, Times::standard()).await;
    let reset = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user.id, &reset, false, t(0))
        .await
        .expect("insert_single_use_token");

    for (digest, kind) in [
        (s.access, TokenKind::Access),
        (s.refresh, TokenKind::Refresh),
    ] {
        assert_eq!(
            store
                .find_single_use_token(&digest, kind, t(10))
                .await
                .expect("find_single_use_token"),
            None,
            "a session token is not a single-use token"
        );
        assert_eq!(
            store
                .consume_single_use_token(&digest, kind, t(10))
                .await
                .expect("consume_single_use_token"),
            None,
            "a session token is not consumed as a single-use token"
        );
    }
    assert!(!is_revoked(&store, &s.session).await);
    assert!(
        !token_exists(&store, &reset.digest).await,
        "a single-use token has no session"
    );
    assert_eq!(
        rotate(&store, &reset.digest, t(10)).await.outcome,
        RotateOutcome::NotFound,
        "a single-use token is not a refresh token"
    );

    // A digest taken by the other kind of token (impossible by chance with 256-bit
    // tokens) is either refused (one table for both kinds) or kept apart (one table per
    // kind): never does it overwrite, revive or re-kind the other token.
    let cross = store
        .insert_single_use_token(
            &user.id,
            &NewToken {
                digest: s.refresh,
                kind: TokenKind::PasswordReset,
                expires_at: t(3_600),
            },
            false,
            t(20),
        )
        .await;
    if let Err(err) = &cross {
        assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    }
    let record = store
        .find_access_token(&s.refresh)
        .await
        .expect("find_access_token")
        .expect("the session token is intact");
    assert_eq!(
        record.kind,
        TokenKind::Refresh,
        "the session token changed kind"
    );
    assert_eq!(record.session.session_id, s.session);
    let session: NewSession = new_session(user.id, Times::standard());
    let cross = store
        .create_session(
            &session,
            &[NewToken {
                digest: reset.digest,
                kind: TokenKind::Access,
                expires_at: t(900),
            }],
            None,
        )
        .await;
    if let Err(err) = &cross {
        assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
        assert!(
            store
                .session_status(&session.id)
                .await
                .expect("session_status")
                .is_none(),
            "a refused create_session wrote its session"
        );
    }
    assert_eq!(
        store
            .consume_single_use_token(&reset.digest, TokenKind::PasswordReset, t(30))
            .await
            .expect("consume_single_use_token"),
        Some(user.id),
        "the single-use token is intact"
    );
}

/// `delete_expired` forgets a rate-limit key once its window and lockout are over as of
/// `before`, and keeps a key still locked.
pub async fn delete_expired_forgets_stale_rate_limit_keys<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    let store = factory.create().await;
    let short = RateLimitPolicy {
        max_attempts: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(120),
    };
    let long = RateLimitPolicy {
        max_attempts: 1,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(10 * 86_400),
    };
    let stale = rate_key("stale");
    let locked = rate_key("locked");
    store.hit(&stale, &short, t_old(0)).await.expect("hit");
    store.hit(&stale, &short, t_old(1)).await.expect("hit");
    store.hit(&locked, &long, t_old(0)).await.expect("hit");
    assert!(
        store
            .hit(&locked, &long, t_old(1))
            .await
            .expect("hit")
            .is_limited()
    );

    let before = t_old(1_000);
    let key = stale.clone();
    delete_until_zero(&store, before, 2, || {
        let store = &store;
        let key = key.clone();
        async move {
            store.peek(&key, &short, before).await.expect("peek")
                == auth_core::RateLimitDecision::Allowed { attempts: 0 }
        }
    })
    .await;
    assert_eq!(
        store.peek(&stale, &short, before).await.expect("peek"),
        auth_core::RateLimitDecision::Allowed { attempts: 0 },
        "a key whose window and lockout are over is forgotten"
    );
    assert!(
        store
            .peek(&locked, &long, before)
            .await
            .expect("peek")
            .is_limited(),
        "a key still locked is kept"
    );
}
