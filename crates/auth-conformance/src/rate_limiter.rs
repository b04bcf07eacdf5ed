//! Checks of [`RateLimiter`]: one atomic count-and-decide per hit, the rules of
//! [`RateLimitWindow`](auth_core::RateLimitWindow), `peek` and `clear`.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{RateLimitDecision, RateLimitPolicy, RateLimiter};

use crate::runner::{Check, StoreFactory};
use crate::support::{race, rate_key, secs, t};

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    suite!("rate_limiter", factory;
        hits_are_allowed_up_to_max_attempts_then_locked,
        concurrent_hits_are_all_counted_and_exactly_max_allowed,
        lockout_is_not_extended_by_hits_while_locked,
        window_expiry_starts_a_new_window,
        peek_counts_nothing,
        clear_forgets_one_key_only,
    )
}

/// 3 attempts per 60 s, then 120 s locked.
const POLICY: RateLimitPolicy = RateLimitPolicy {
    max_attempts: 3,
    window: Duration::from_secs(60),
    lockout: Duration::from_secs(120),
};

fn allowed(attempts: u32) -> RateLimitDecision {
    RateLimitDecision::Allowed { attempts }
}

fn limited(retry_after: u64, attempts: u32) -> RateLimitDecision {
    RateLimitDecision::Limited {
        retry_after: secs(retry_after),
        attempts,
    }
}

async fn hit<S: RateLimiter + ?Sized>(store: &S, key: &str, at: i64) -> RateLimitDecision {
    store.hit(key, &POLICY, t(at)).await.expect("hit")
}

async fn peek<S: RateLimiter + ?Sized>(store: &S, key: &str, at: i64) -> RateLimitDecision {
    store.peek(key, &POLICY, t(at)).await.expect("peek")
}

/// A fresh key is allowed `max_attempts` times (counting 1, 2, 3), then the next hit is
/// `Limited` for the whole lockout, counted.
pub async fn hits_are_allowed_up_to_max_attempts_then_locked<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    let store = factory.create().await;
    let key = rate_key("limit");
    for (n, at) in [(1, 0), (2, 1), (3, 2)] {
        assert_eq!(
            hit(&store, &key, at).await,
            allowed(n),
            "attempt {n} is allowed"
        );
    }
    assert_eq!(
        hit(&store, &key, 3).await,
        limited(120, 4),
        "the attempt over the limit starts the lockout"
    );
    assert_eq!(
        peek(&store, &key, 4).await,
        limited(119, 4),
        "peek shows the time left"
    );
}

/// Of 200 concurrent hits on one fresh key exactly `max_attempts` are allowed (with the
/// counts 1..=max) and all 200 are counted (3 rounds).
pub async fn concurrent_hits_are_all_counted_and_exactly_max_allowed<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    const HITS: usize = 200;
    let policy = RateLimitPolicy::LOGIN_DEFAULT;
    let store = Arc::new(factory.create().await);
    for round in 0..3 {
        let key: Arc<str> = rate_key("storm").into();
        let k = Arc::clone(&key);
        let decisions = race(&store, HITS, move |store, _| {
            let key = Arc::clone(&k);
            async move { store.hit(&key, &policy, t(5)).await.expect("hit") }
        })
        .await;
        let mut counts: Vec<u32> = decisions
            .iter()
            .filter_map(|d| match d {
                RateLimitDecision::Allowed { attempts } => Some(*attempts),
                RateLimitDecision::Limited { .. } => None,
            })
            .collect();
        counts.sort_unstable();
        assert_eq!(
            counts,
            (1..=policy.max_attempts).collect::<Vec<_>>(),
            "round {round}: exactly max_attempts of {HITS} concurrent hits are allowed, counting 1..=max"
        );
        let after = store.peek(&key, &policy, t(6)).await.expect("peek");
        assert!(
            after.is_limited(),
            "round {round}: the key is locked: {after:?}"
        );
        assert!(
            matches!(after, RateLimitDecision::Limited { attempts, .. } if attempts as usize == HITS),
            "round {round}: every one of the {HITS} concurrent hits is counted: {after:?}"
        );
    }
}

/// Hits while a key is locked are refused and counted, but never move the end of the
/// lockout; when the lockout is over the next hit starts a new window.
pub async fn lockout_is_not_extended_by_hits_while_locked<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    let store = factory.create().await;
    let key = rate_key("lockout");
    for at in 0..3 {
        hit(&store, &key, at).await;
    }
    assert_eq!(
        hit(&store, &key, 3).await,
        limited(120, 4),
        "locked until t(123)"
    );
    assert_eq!(
        hit(&store, &key, 100).await,
        limited(23, 5),
        "a hit while locked does not extend it"
    );
    assert_eq!(
        hit(&store, &key, 122).await,
        limited(1, 6),
        "still ending at t(123)"
    );
    assert!(peek(&store, &key, 122).await.is_limited());
    assert!(
        !peek(&store, &key, 123).await.is_limited(),
        "the lockout ends on time"
    );
    assert_eq!(
        hit(&store, &key, 123).await,
        allowed(1),
        "after the lockout a new window starts"
    );
    assert_eq!(hit(&store, &key, 124).await, allowed(2));
}

/// When the window is over, the next hit starts a new window with a count of 1.
pub async fn window_expiry_starts_a_new_window<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    let store = factory.create().await;
    let key = rate_key("window");
    assert_eq!(hit(&store, &key, 0).await, allowed(1));
    assert_eq!(hit(&store, &key, 30).await, allowed(2));
    assert_eq!(
        hit(&store, &key, 60).await,
        allowed(1),
        "the window of 60 s is over at t(60)"
    );
    assert_eq!(hit(&store, &key, 61).await, allowed(2));
    assert_eq!(hit(&store, &key, 62).await, allowed(3));
    assert_eq!(
        hit(&store, &key, 63).await,
        limited(120, 4),
        "the new window has its own limit"
    );
}

/// `peek` decides without counting: an unknown key is allowed with 0 attempts, and any
/// number of peeks leaves the count as it was.
pub async fn peek_counts_nothing<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    let store = factory.create().await;
    let key = rate_key("peek");
    assert_eq!(peek(&store, &key, 0).await, allowed(0), "an unknown key");
    assert_eq!(
        peek(&store, &key, 0).await,
        allowed(0),
        "peeking did not create a count"
    );
    hit(&store, &key, 1).await;
    hit(&store, &key, 2).await;
    for _ in 0..10 {
        assert_eq!(
            peek(&store, &key, 3).await,
            allowed(2),
            "peek counts nothing"
        );
    }
    assert_eq!(
        hit(&store, &key, 4).await,
        allowed(3),
        "the peeks were not counted"
    );
    assert_eq!(hit(&store, &key, 5).await, limited(120, 4));
    for _ in 0..5 {
        assert_eq!(
            peek(&store, &key, 6).await,
            limited(119, 4),
            "peeking a locked key counts nothing"
        );
    }
}

/// `clear` forgets one key (lifting its lockout); other keys are untouched; clearing an
/// unknown key is fine.
pub async fn clear_forgets_one_key_only<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    let store = factory.create().await;
    let a = rate_key("clear-a");
    let b = rate_key("clear-b");
    for at in 0..4 {
        hit(&store, &a, at).await;
        hit(&store, &b, at).await;
    }
    assert!(peek(&store, &a, 5).await.is_limited());
    store.clear(&a).await.expect("clear");
    assert_eq!(
        peek(&store, &a, 5).await,
        allowed(0),
        "the cleared key is forgotten"
    );
    assert_eq!(hit(&store, &a, 6).await, allowed(1), "and starts afresh");
    assert_eq!(
        peek(&store, &b, 6).await,
        limited(117, 4),
        "the other key is untouched"
    );
    store
        .clear(&rate_key("never-seen"))
        .await
        .expect("clearing an unknown key");
}
