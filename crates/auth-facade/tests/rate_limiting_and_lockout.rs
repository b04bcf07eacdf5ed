//! Issue 8: login rate limiting with the reference's defaults (5 attempts per 300 s, then
//! 600 s locked), on an atomic limiter, with the injected clock.
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use auth_facade::{
    AuthError, AuthEvent, ClientInfo, LoginFailureReason, LoginOptions, RateLimitScope,
};
use common::*;

fn limited(r: Result<auth_facade::AuthResult, AuthError>) -> Option<Duration> {
    match r {
        Err(AuthError::RateLimited { retry_after }) => Some(retry_after),
        _ => None,
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_and_the_right_password_is_refused_too() {
    let h = harness().await;
    h.user("alice@example.com").await;
    for _ in 0..5 {
        assert!(matches!(
            h.auth.login("alice@example.com", "wrong-guess").await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    h.hasher.reset();
    let retry = limited(h.auth.login("alice@example.com", PASSWORD).await)
        .expect("the sixth attempt, with the right password, must be refused");
    assert_eq!(retry, secs(600));
    // Refused after the same verification work as any failure.
    assert_eq!(h.hasher.verifications(), 1);
    assert!(h.events.names().contains(&"rate_limit_exceeded"));
    match h
        .events
        .events()
        .iter()
        .rev()
        .find(|e| e.name() == "user_login_failed")
    {
        Some(AuthEvent::UserLoginFailed { reason, .. }) => {
            assert_eq!(*reason, LoginFailureReason::RateLimited)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn attempts_during_the_lockout_do_not_extend_it() {
    let h = harness().await;
    h.user("alice@example.com").await;
    for _ in 0..6 {
        let _ = h.auth.login("alice@example.com", "wrong-guess").await;
    }
    h.clock.advance(secs(300));
    assert_eq!(
        limited(h.auth.login("alice@example.com", PASSWORD).await),
        Some(secs(300))
    );
    h.clock.advance(secs(299));
    assert_eq!(
        limited(h.auth.login("alice@example.com", PASSWORD).await),
        Some(secs(1))
    );
    h.clock.advance(secs(1));
    h.auth.login("alice@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn the_window_forgets_old_failures() {
    let h = harness().await;
    h.user("alice@example.com").await;
    for _ in 0..4 {
        let _ = h.auth.login("alice@example.com", "wrong-guess").await;
    }
    h.clock.advance(secs(300));
    for _ in 0..5 {
        let _ = h.auth.login("alice@example.com", "wrong-guess").await;
    }
    h.auth
        .login("alice@example.com", "wrong-guess")
        .await
        .unwrap_err();
    assert!(limited(h.auth.login("alice@example.com", PASSWORD).await).is_some());
}

#[tokio::test]
async fn unknown_emails_count_and_lock_like_real_ones() {
    let h = harness().await;
    for _ in 0..5 {
        assert!(matches!(
            h.auth.login("ghost@example.com", PASSWORD).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(limited(h.auth.login("ghost@example.com", PASSWORD).await).is_some());
    // The same canonical email whatever its letter case: one counter.
    assert!(limited(h.auth.login("GHOST@Example.com", PASSWORD).await).is_some());
}

#[tokio::test]
async fn a_success_clears_that_accounts_counter_only() {
    let h = harness().await;
    h.user("alice@example.com").await;
    h.user("bob@example.com").await;
    let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let from_ip = LoginOptions {
        client: ClientInfo::none().with_ip(ip),
        ..LoginOptions::default()
    };
    for _ in 0..4 {
        let _ = h
            .auth
            .sessions()
            .login_with("alice@example.com", "wrong", &from_ip)
            .await;
        let _ = h
            .auth
            .sessions()
            .login_with("bob@example.com", "wrong", &from_ip)
            .await;
    }
    h.auth
        .sessions()
        .login_with("alice@example.com", PASSWORD, &from_ip)
        .await
        .unwrap();
    // Alice starts again from zero; Bob's four failures still stand.
    for _ in 0..5 {
        let _ = h.auth.login("alice@example.com", "wrong").await;
    }
    assert!(limited(h.auth.login("alice@example.com", PASSWORD).await).is_some());
    let _ = h.auth.login("bob@example.com", "wrong").await;
    assert!(limited(h.auth.login("bob@example.com", PASSWORD).await).is_some());
}

#[tokio::test]
async fn an_address_spraying_many_accounts_is_locked_out() {
    let config = fast_builder()
        .ip_rate_limit(Some(auth_facade::RateLimitPolicy {
            max_attempts: 10,
            window: secs(300),
            lockout: secs(600),
        }))
        .build()
        .unwrap();
    let h = harness_with(config, |b| b);
    h.user("victim@example.com").await;
    let from = LoginOptions {
        client: ClientInfo::none().with_ip("198.51.100.7".parse().unwrap()),
        ..LoginOptions::default()
    };
    // Ten failures are allowed per window; the eleventh starts the lockout.
    for i in 0..11 {
        let r = h
            .auth
            .sessions()
            .login_with(&format!("user{i}@example.com"), "guess", &from)
            .await;
        assert!(
            matches!(r, Err(AuthError::InvalidCredentials)),
            "{i}: {r:?}"
        );
    }
    let r = h
        .auth
        .sessions()
        .login_with("victim@example.com", PASSWORD, &from)
        .await;
    assert!(limited(r).is_some());
    assert!(h.events.events().iter().any(|e| matches!(
        e,
        AuthEvent::RateLimitExceeded {
            scope: RateLimitScope::Address,
            ..
        }
    )));
    // Another address is not affected.
    h.auth.login("victim@example.com", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn the_change_password_check_is_under_the_same_lockout() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    for _ in 0..5 {
        let _ = h.auth.login("alice@example.com", "wrong").await;
    }
    assert!(matches!(
        h.auth
            .change_password(&alice.id, PASSWORD, "violet-otter-umbrella", None)
            .await,
        Err(AuthError::RateLimited { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_failures_are_all_counted() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let auth = h.auth.clone();
            tokio::spawn(async move { auth.login("alice@example.com", "wrong").await })
        })
        .collect();
    let mut refused = 0;
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(AuthError::RateLimited { .. }) => refused += 1,
            Err(AuthError::InvalidCredentials) => checked += 1,
            other => panic!("{other:?}"),
        }
    }
    // The limiter counts and decides in one step: only five ever reached the password.
    assert_eq!((checked, refused), (5, 195));
    assert!(limited(h.auth.login("alice@example.com", PASSWORD).await).is_some());
}
