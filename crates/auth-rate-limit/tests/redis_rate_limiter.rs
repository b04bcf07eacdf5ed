//! `RedisRateLimiter` against a real Redis: `AUTH_TEST_REDIS_URL` (for example
//! `redis://127.0.0.1:6379`). Unset: each test prints that it skipped; with
//! `AUTH_TEST_REQUIRE_ALL=1` an unset URL is a failure. Every test works under its own key
//! prefix, so tests run in parallel and against a shared server.
#![cfg(feature = "redis")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    Clock, ManualClock, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimitWindow,
    RateLimiter, StoreErrorKind,
};
use auth_rate_limit::RedisRateLimiter;

const LOGIN: RateLimitPolicy = RateLimitPolicy::LOGIN_DEFAULT;

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("AUTH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("AUTH_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "AUTH_TEST_REDIS_URL is not set and AUTH_TEST_REQUIRE_ALL=1: Redis is required"
            );
            eprintln!(
                "skipped {test}: set AUTH_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run it"
            );
            None
        }
    }
}

/// A limiter under a prefix no other test (or run) uses.
async fn limiter(test: &str) -> Option<RedisRateLimiter> {
    let url = redis_url(test)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!(
        "auth-rate-limit-test:{test}:{}:{nanos}:",
        std::process::id()
    );
    Some(
        RedisRateLimiter::connect(&url)
            .await
            .expect("connect to AUTH_TEST_REDIS_URL")
            .with_prefix(prefix),
    )
}

/// A plain connection for looking at the keys themselves.
async fn raw(test: &str) -> redis::aio::MultiplexedConnection {
    let url = redis_url(test).unwrap();
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn at(seconds: f64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap() + Duration::from_secs_f64(seconds)
}

/// Issue 8 / checklist L2: 200 concurrent failures on one account are 200 counted attempts,
/// exactly `max_attempts` of them allowed, and the account is locked afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_failures_count_200_and_allow_exactly_max_attempts() {
    let Some(limiter) = limiter("concurrent").await else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.hit("account", &LOGIN, now).await })
        })
        .collect();
    let mut allowed = 0;
    let mut counts = BTreeSet::new();
    for task in tasks {
        let decision = task.await.unwrap().unwrap();
        let attempts = match decision {
            RateLimitDecision::Allowed { attempts } => {
                allowed += 1;
                attempts
            }
            RateLimitDecision::Limited {
                retry_after,
                attempts,
            } => {
                assert_eq!(retry_after, LOGIN.lockout);
                attempts
            }
        };
        assert!(counts.insert(attempts), "attempt {attempts} counted twice");
    }
    assert_eq!(allowed, LOGIN.max_attempts);
    assert_eq!(
        counts,
        (1..=200).collect::<BTreeSet<u32>>(),
        "no lost update"
    );
    assert_eq!(
        limiter.peek("account", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Limited {
            retry_after: LOGIN.lockout,
            attempts: 200
        }
    );
    // A correct password now would be refused too: the next hit is limited.
    assert!(
        limiter
            .hit("account", &LOGIN, now)
            .await
            .unwrap()
            .is_limited()
    );
    limiter.clear("account").await.unwrap();
}

/// The same decisions as `RateLimitWindow` (the rules every limiter shares) for a scripted
/// series of hits and peeks under a manual clock: the window expires, the lockout is not
/// extended by attempts made during it, and a new window starts after it.
#[tokio::test]
async fn decisions_match_rate_limit_window_step_by_step() {
    let Some(limiter) = limiter("sequence").await else {
        return;
    };
    // (policy, clock times in seconds; a negative time is a peek at its absolute value)
    let short = RateLimitPolicy {
        max_attempts: 2,
        window: Duration::from_secs(10),
        lockout: Duration::from_millis(500),
    };
    let scripts: [(&str, RateLimitPolicy, &[f64]); 2] = [
        (
            "login",
            LOGIN,
            &[
                0.0, 1.0, 2.0, 3.0, 299.0, // five allowed in the first window
                -299.5, 300.0, // the window is over: a new one starts at 300
                301.0, 302.0, 303.0, 304.0, 305.0, // the sixth of that window locks until 905
                -305.0, 500.0, 904.0, 904.75, -904.75, // refused, counted, never extended
                905.0,   // the lockout is over: a new window
                906.0, -906.0, 907.0, 908.0, 909.0, 910.0, 911.0, -1510.0, 1511.0, 1811.0, 1812.5,
            ],
        ),
        (
            "short",
            short,
            &[
                0.0, 0.25, 0.5, // the third locks for 0.5 s: Limited with exactly 500 ms
                0.75, -0.75, 1.0, // over at 1.0: a new window
                1.1, 1.2, 11.0, 11.1, 11.2, 11.3, -11.3, 11.7, 30.0,
            ],
        ),
    ];
    for (key, policy, times) in scripts {
        let clock = ManualClock::new(at(0.0));
        let mut model: Option<RateLimitWindow> = None;
        for &t in times {
            clock.set(at(t.abs()));
            let now = clock.now();
            if t < 0.0 {
                let expected =
                    model.map_or(RateLimitDecision::Allowed { attempts: 0 }, |m| m.peek(now));
                let got = limiter.peek(key, &policy, now).await.unwrap();
                assert_eq!(got, expected, "{key}: peek at {}", t.abs());
                continue;
            }
            let expected = match &mut model {
                Some(m) => m.hit(&policy, now),
                None => {
                    let (m, d) = RateLimitWindow::first(&policy, now);
                    model = Some(m);
                    d
                }
            };
            let got = limiter.hit(key, &policy, now).await.unwrap();
            assert_eq!(got, expected, "{key}: hit at {t}");
        }
    }
}

/// `clear` (a successful login) forgets that key only; other keys and other prefixes keep
/// their counts.
#[tokio::test]
async fn clear_forgets_one_key_only() {
    let Some(limiter) = limiter("clear").await else {
        return;
    };
    let other_app = limiter
        .clone()
        .with_prefix(format!("{}other-app:", limiter.prefix()));
    let now = at(0.0);
    for _ in 0..6 {
        limiter.hit("alice", &LOGIN, now).await.unwrap();
    }
    limiter.hit("bob", &LOGIN, now).await.unwrap();
    limiter.hit("bob", &LOGIN, now).await.unwrap();
    other_app.hit("alice", &LOGIN, now).await.unwrap();
    assert!(
        limiter
            .peek("alice", &LOGIN, now)
            .await
            .unwrap()
            .is_limited()
    );

    limiter.clear("alice").await.unwrap();
    assert_eq!(
        limiter.peek("alice", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 0 }
    );
    assert_eq!(
        limiter.peek("bob", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 2 }
    );
    assert_eq!(
        other_app.peek("alice", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 1 }
    );
    assert_eq!(
        limiter.hit("alice", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 1 }
    );
    limiter.clear("never-seen").await.unwrap();
    for (l, key) in [
        (&limiter, "alice"),
        (&limiter, "bob"),
        (&other_app, "alice"),
    ] {
        l.clear(key).await.unwrap();
    }
}

/// Keys expire by themselves once stale: the TTL runs to the end of the window, or of the
/// lockout when that is later (plus one second), counted from the caller's clock, and an
/// attempt during the lockout does not move it.
#[tokio::test]
async fn keys_get_a_ttl_to_the_end_of_their_window_or_lockout() {
    let Some(limiter) = limiter("ttl").await else {
        return;
    };
    let mut conn = raw("ttl").await;
    let key = limiter.redis_key("carol");
    assert!(key.starts_with(limiter.prefix()) && key.ends_with("carol"));
    let pttl = |conn: &mut redis::aio::MultiplexedConnection| {
        let key = key.clone();
        let mut conn = conn.clone();
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap();
    let slack = 1000;
    // The TTL is set from the caller's times, so any clock works.
    let t0 = at(0.0);

    limiter.hit("carol", &LOGIN, t0).await.unwrap();
    let ttl = pttl(&mut conn).await;
    assert!(
        ttl > ms(LOGIN.window) && ttl <= ms(LOGIN.window) + slack,
        "window TTL {ttl}"
    );

    // 100 s later, the key is locked for 600 s: the lockout outlives the window.
    for _ in 0..5 {
        limiter
            .hit("carol", &LOGIN, t0 + Duration::from_secs(100))
            .await
            .unwrap();
    }
    let ttl = pttl(&mut conn).await;
    assert!(
        ttl > ms(LOGIN.lockout) && ttl <= ms(LOGIN.lockout) + slack,
        "lockout TTL {ttl}"
    );

    // 300 s into the lockout: the TTL still ends with the lockout (not extended).
    let d = limiter
        .hit("carol", &LOGIN, t0 + Duration::from_secs(400))
        .await
        .unwrap();
    assert!(d.is_limited());
    let ttl = pttl(&mut conn).await;
    assert!(
        ttl > 300_000 && ttl <= 300_000 + slack,
        "TTL during lockout {ttl}"
    );

    limiter.clear("carol").await.unwrap();
    assert_eq!(pttl(&mut conn).await, -2, "cleared: the key is gone");
}

/// The limiter is cheap to share: clones use one connection and see the same counts.
#[tokio::test]
async fn clones_share_the_counts() {
    let Some(limiter) = limiter("clones").await else {
        return;
    };
    let shared = Arc::new(limiter.clone());
    let now = at(0.0);
    limiter.hit("dave", &LOGIN, now).await.unwrap();
    assert_eq!(
        shared.hit("dave", &LOGIN, now).await.unwrap(),
        RateLimitDecision::Allowed { attempts: 2 }
    );
    limiter.clear("dave").await.unwrap();
}

/// A server that cannot be reached is `Unavailable` (retrying may help), not a panic and
/// never "allowed". Needs no Redis.
#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let err = RedisRateLimiter::connect("redis://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err:?}");
    let err = RedisRateLimiter::connect("not a url").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Other, "{err:?}");
}
