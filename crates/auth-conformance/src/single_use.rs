//! Checks of [`SingleUseTokenStore`]: password-reset and verification tokens are found
//! and consumed only with their kind, before their expiry, once; voiding.
//!
//! The tokens belong to users from [`StoreFactory::session_user`].

use std::sync::Arc;

use auth_core::{
    NewToken, OffsetDateTime, SingleUseTokenStore, StoreErrorKind, TokenDigest, TokenKind, UserId,
};

use crate::runner::{Check, StoreFactory};
use crate::support::{digest, race, t, token};

macro_rules! single_use_checks {
    ($($head:tt)*) => {
        suite!($($head)*;
        single_use_tokens_are_consumed_by_kind_once_before_expiry,
        concurrent_consumers_exactly_one_wins,
        insert_with_void_outstanding_spends_older_tokens_of_that_kind,
        void_single_use_tokens_spends_the_outstanding_tokens_of_one_kind,
        single_use_digest_collision_is_unique_violation_and_changes_nothing,
        )
    };
}

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    single_use_checks!("single_use", factory)
}

/// Every check of this suite, on stores made by `factory` wrapped in [`WithUsers`](crate::WithUsers), so
/// sessions and tokens belong to users the store holds.
pub fn checks_with_users<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore + auth_core::UserStore,
{
    single_use_checks!("single_use", factory => WithUsers)
}

async fn insert<S: SingleUseTokenStore + ?Sized>(
    store: &S,
    user: &UserId,
    tok: &NewToken,
    void: bool,
    now: OffsetDateTime,
) {
    store
        .insert_single_use_token(user, tok, void, now)
        .await
        .expect("insert_single_use_token");
}

async fn find<S: SingleUseTokenStore + ?Sized>(
    store: &S,
    d: &TokenDigest,
    kind: TokenKind,
    now: OffsetDateTime,
) -> Option<UserId> {
    store
        .find_single_use_token(d, kind, now)
        .await
        .expect("find_single_use_token")
}

async fn consume<S: SingleUseTokenStore + ?Sized>(
    store: &S,
    d: &TokenDigest,
    kind: TokenKind,
    now: OffsetDateTime,
) -> Option<UserId> {
    store
        .consume_single_use_token(d, kind, now)
        .await
        .expect("consume_single_use_token")
}

/// A single-use token is found (without being spent) and consumed only with its own
/// kind, only before its expiry (expired at the instant), and once; refused attempts
/// spend nothing.
pub async fn single_use_tokens_are_consumed_by_kind_once_before_expiry<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let reset = token(TokenKind::PasswordReset, t(100));
    insert(&store, &user, &reset, false, t(0)).await;
    let d = &reset.digest;

    assert_eq!(
        find(&store, d, TokenKind::EmailVerification, t(10)).await,
        None,
        "another kind does not find it"
    );
    assert_eq!(
        consume(&store, d, TokenKind::EmailVerification, t(10)).await,
        None,
        "another kind does not consume it"
    );
    assert_eq!(
        find(&store, d, TokenKind::PasswordReset, t(100)).await,
        None,
        "expired at its expiry instant"
    );
    assert_eq!(
        consume(&store, d, TokenKind::PasswordReset, t(100)).await,
        None,
        "an expired token is not consumed"
    );
    assert_eq!(
        find(&store, d, TokenKind::PasswordReset, t(10)).await,
        Some(user),
        "found with its kind"
    );
    assert_eq!(
        find(&store, d, TokenKind::PasswordReset, t(10)).await,
        Some(user),
        "finding spends nothing"
    );
    assert_eq!(
        consume(&store, d, TokenKind::PasswordReset, t(10)).await,
        Some(user),
        "the refused attempts spent nothing"
    );
    assert_eq!(
        consume(&store, d, TokenKind::PasswordReset, t(11)).await,
        None,
        "consumed once"
    );
    assert_eq!(
        find(&store, d, TokenKind::PasswordReset, t(11)).await,
        None,
        "a spent token is not found"
    );
    assert_eq!(
        consume(&store, &digest(), TokenKind::PasswordReset, t(10)).await,
        None,
        "an unknown digest"
    );

    let verify = token(TokenKind::EmailVerification, t(100));
    insert(&store, &user, &verify, false, t(0)).await;
    assert_eq!(
        consume(&store, &verify.digest, TokenKind::PasswordReset, t(10)).await,
        None
    );
    assert_eq!(
        consume(&store, &verify.digest, TokenKind::EmailVerification, t(99)).await,
        Some(user)
    );
}

/// Of 50 concurrent consumers of one token exactly one gets its user (5 rounds).
pub async fn concurrent_consumers_exactly_one_wins<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    const TASKS: usize = 50;
    let store = Arc::new(factory.create().await);
    let user = factory.session_user(&store, t(0)).await;
    for round in 0..5 {
        let reset = token(TokenKind::PasswordReset, t(3_600));
        insert(store.as_ref(), &user, &reset, false, t(0)).await;
        let d = reset.digest;
        let results = race(&store, TASKS, move |store, _| async move {
            consume(store.as_ref(), &d, TokenKind::PasswordReset, t(10)).await
        })
        .await;
        let winners: Vec<&UserId> = results.iter().flatten().collect();
        assert_eq!(
            winners,
            [&user],
            "round {round}: exactly one consumer wins: {results:?}"
        );
    }
}

/// Inserting with `void_outstanding` spends the user's unspent tokens of the same kind
/// in the same transaction (a newer reset request kills the older link); other kinds and
/// other users' tokens stay; without it older tokens stay.
pub async fn insert_with_void_outstanding_spends_older_tokens_of_that_kind<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let other = factory.session_user(&store, t(0)).await;
    let r1 = token(TokenKind::PasswordReset, t(3_600));
    let v1 = token(TokenKind::EmailVerification, t(3_600));
    let theirs = token(TokenKind::PasswordReset, t(3_600));
    insert(&store, &user, &r1, false, t(0)).await;
    insert(&store, &user, &v1, false, t(0)).await;
    insert(&store, &other, &theirs, false, t(0)).await;

    let r2 = token(TokenKind::PasswordReset, t(3_600));
    insert(&store, &user, &r2, true, t(10)).await;
    assert_eq!(
        find(&store, &r1.digest, TokenKind::PasswordReset, t(20)).await,
        None,
        "the older reset token is void"
    );
    assert_eq!(
        find(&store, &r2.digest, TokenKind::PasswordReset, t(20)).await,
        Some(user),
        "the new one works"
    );
    assert_eq!(
        find(&store, &v1.digest, TokenKind::EmailVerification, t(20)).await,
        Some(user),
        "tokens of another kind stay"
    );
    assert_eq!(
        find(&store, &theirs.digest, TokenKind::PasswordReset, t(20)).await,
        Some(other),
        "other users' tokens stay"
    );

    let r3 = token(TokenKind::PasswordReset, t(3_600));
    insert(&store, &user, &r3, false, t(30)).await;
    assert_eq!(
        find(&store, &r2.digest, TokenKind::PasswordReset, t(40)).await,
        Some(user),
        "without void_outstanding older tokens stay"
    );
    assert_eq!(
        find(&store, &r3.digest, TokenKind::PasswordReset, t(40)).await,
        Some(user)
    );
}

/// `void_single_use_tokens` spends every outstanding (unspent, unexpired) token of one
/// kind of one user and returns how many; other kinds and other users' tokens stay.
pub async fn void_single_use_tokens_spends_the_outstanding_tokens_of_one_kind<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let other = factory.session_user(&store, t(0)).await;
    let r1 = token(TokenKind::PasswordReset, t(3_600));
    let r2 = token(TokenKind::PasswordReset, t(3_600));
    let expired = token(TokenKind::PasswordReset, t(5));
    let spent = token(TokenKind::PasswordReset, t(3_600));
    let verify = token(TokenKind::EmailVerification, t(3_600));
    let theirs = token(TokenKind::PasswordReset, t(3_600));
    for tok in [&r1, &r2, &expired, &spent, &verify] {
        insert(&store, &user, tok, false, t(0)).await;
    }
    insert(&store, &other, &theirs, false, t(0)).await;
    assert_eq!(
        consume(&store, &spent.digest, TokenKind::PasswordReset, t(1)).await,
        Some(user)
    );

    let n = store
        .void_single_use_tokens(&user, TokenKind::PasswordReset, t(10))
        .await
        .expect("void_single_use_tokens");
    assert_eq!(
        n, 2,
        "the two outstanding reset tokens (not the spent or expired one)"
    );
    for tok in [&r1, &r2] {
        assert_eq!(
            find(&store, &tok.digest, TokenKind::PasswordReset, t(20)).await,
            None,
            "voided"
        );
    }
    assert_eq!(
        find(&store, &verify.digest, TokenKind::EmailVerification, t(20)).await,
        Some(user),
        "another kind stays"
    );
    assert_eq!(
        find(&store, &theirs.digest, TokenKind::PasswordReset, t(20)).await,
        Some(other),
        "other users' tokens stay"
    );
    assert_eq!(
        store
            .void_single_use_tokens(&user, TokenKind::PasswordReset, t(30))
            .await
            .expect("void_single_use_tokens"),
        0,
        "nothing left to void"
    );
}

/// Inserts never overwrite: a taken digest is a `UniqueViolation`, the stored token
/// stays usable, and the failed insert's `void_outstanding` voided nothing.
pub async fn single_use_digest_collision_is_unique_violation_and_changes_nothing<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    let store = factory.create().await;
    let user = factory.session_user(&store, t(0)).await;
    let other = factory.session_user(&store, t(0)).await;
    let reset = token(TokenKind::PasswordReset, t(3_600));
    let verify = token(TokenKind::EmailVerification, t(3_600));
    insert(&store, &user, &reset, false, t(0)).await;
    insert(&store, &user, &verify, false, t(0)).await;

    let clash = NewToken {
        digest: reset.digest,
        kind: TokenKind::EmailVerification,
        expires_at: t(9_999),
    };
    let err = store
        .insert_single_use_token(&other, &clash, false, t(5))
        .await
        .expect_err("a taken digest must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    let err = store
        .insert_single_use_token(&user, &clash, true, t(5))
        .await
        .expect_err("a taken digest must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    assert_eq!(
        find(&store, &verify.digest, TokenKind::EmailVerification, t(10)).await,
        Some(user),
        "the failed insert voided nothing"
    );
    assert_eq!(
        consume(&store, &reset.digest, TokenKind::PasswordReset, t(10)).await,
        Some(user),
        "the stored token was not overwritten"
    );
}
