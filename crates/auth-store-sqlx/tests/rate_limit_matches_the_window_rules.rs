//! The database rate limiter keeps `auth_core::RateLimitWindow`'s rules exactly, in one
//! atomic step per hit: compared hit by hit with the model, and under 200 concurrent hits
//! on one key (the count is exactly 200 and exactly `max_attempts` are allowed).

mod common;

use std::time::Duration;

use auth_core::{RateLimitDecision, RateLimitPolicy, RateLimitWindow, RateLimiter};
use auth_store_sqlx::{Backend, SqlxStore};
use common::{at, each_backend, users};

async fn same_as_the_model<B: Backend>(store: SqlxStore<B>) {
    let policies = [
        RateLimitPolicy::LOGIN_DEFAULT,
        RateLimitPolicy {
            max_attempts: 3,
            window: Duration::from_secs(100),
            lockout: Duration::from_secs(50),
        },
        RateLimitPolicy {
            max_attempts: 0,
            window: Duration::from_secs(10),
            lockout: Duration::from_secs(0),
        },
        RateLimitPolicy {
            max_attempts: 1,
            window: Duration::from_millis(1500),
            lockout: Duration::from_millis(2500),
        },
    ];
    let times: [i64; 22] = [
        0, 1, 2, 3, 3, 4, 30, 52, 53, 54, 55, 60, 99, 100, 101, 160, 300, 301, 302, 303, 304, 1_000,
    ];
    for (p, policy) in policies.iter().enumerate() {
        let key = format!("model-{p}");
        let mut model: Option<RateLimitWindow> = None;
        for &t in &times {
            let now = at(t);
            assert_eq!(
                store.peek(&key, policy, now).await.unwrap(),
                model.map_or(RateLimitDecision::Allowed { attempts: 0 }, |m| m.peek(now)),
                "peek, policy {p}, t {t}"
            );
            let expected = match &mut model {
                Some(m) => m.hit(policy, now),
                None => {
                    let (m, d) = RateLimitWindow::first(policy, now);
                    model = Some(m);
                    d
                }
            };
            assert_eq!(
                store.hit(&key, policy, now).await.unwrap(),
                expected,
                "hit, policy {p}, t {t}"
            );
        }
    }
    // clear forgets one key only.
    let p = RateLimitPolicy::LOGIN_DEFAULT;
    for _ in 0..6 {
        store.hit("a", &p, at(0)).await.unwrap();
        store.hit("b", &p, at(0)).await.unwrap();
    }
    store.clear("a").await.unwrap();
    assert_eq!(
        store.peek("a", &p, at(1)).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 0 }
    );
    assert!(store.peek("b", &p, at(1)).await.unwrap().is_limited());
    let err = store.hit(&"k".repeat(129), &p, at(0)).await.unwrap_err();
    assert_eq!(err.kind(), auth_core::StoreErrorKind::Other);
}
each_backend!(same_as_the_model, users());

async fn concurrent_hits_count_exactly<B: Backend>(store: SqlxStore<B>) {
    let policy = RateLimitPolicy::LOGIN_DEFAULT;
    let now = at(0);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.hit("storm", &policy, now).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if !task.await.unwrap().is_limited() {
            allowed += 1;
        }
    }
    // The model, hit 200 times at the same instant.
    let (mut model, first) = RateLimitWindow::first(&policy, now);
    let mut model_allowed = u32::from(!first.is_limited());
    for _ in 1..200 {
        model_allowed += u32::from(!model.hit(&policy, now).is_limited());
    }
    assert_eq!(allowed, model_allowed);
    assert_eq!(allowed, policy.max_attempts);
    match store.peek("storm", &policy, now).await.unwrap() {
        RateLimitDecision::Limited { attempts, .. } => assert_eq!(attempts, 200),
        other => panic!("expected Limited, got {other:?}"),
    }
    assert_eq!(model.attempts, 200);
}
each_backend!(concurrent_hits_count_exactly, users());
