//! Cancelling a store call at any poll point loses nothing and never leaves a transaction
//! half-applied: every write is dropped after 0..400 µs in 5 µs steps
//! (`tokio::time::timeout`) and after 1..=40 polls, then the data is checked: every write
//! that was started completed as a whole (writes run in a task of their own), every
//! rotation is all-or-nothing, every cancelled rate-limit hit was counted. The reads
//! (`find_access_token`, `list_sessions`), which run on the caller's task, are cut the same
//! way and leave the shared connections usable.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use auth_core::{
    NewToken, NewUser, RateLimitDecision, RateLimitPolicy, RateLimiter, Rotation, SessionId,
    SessionStore, TokenDigest, TokenKind, UserId, UserStore,
};
use auth_store_postgres::PostgresStore;
use common::{TestSchema, at, count, session, users};

/// Polls `fut` at most `n` times, then drops it.
async fn poll_n_then_drop<F: Future>(fut: F, n: usize) {
    let mut fut = pin!(fut);
    let mut polls = 0;
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(_) => Poll::Ready(()),
        Poll::Pending => {
            polls += 1;
            if polls >= n {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    })
    .await;
}

fn digest(tag: u8, n: u16) -> TokenDigest {
    let mut d = [tag; 32];
    d[..2].copy_from_slice(&n.to_be_bytes());
    TokenDigest(d)
}

/// How a call is cut short.
#[derive(Clone, Copy)]
enum Cut {
    /// Dropped by `tokio::time::timeout` after this long.
    After(Duration),
    /// Dropped after this many polls.
    Polls(usize),
}

impl Cut {
    async fn run(self, fut: impl Future<Output = ()>) {
        match self {
            Cut::After(d) => {
                let _ = tokio::time::timeout(d, fut).await;
            }
            Cut::Polls(n) => poll_n_then_drop(fut, n).await,
        }
    }
}

/// Runs round `n`'s calls, each cut short by `c`.
async fn round(store: &PostgresStore, user: UserId, n: u16, c: Cut) {
    let email = format!("u{n}@example.com");
    c.run(async {
        let _ = store
            .create_user(&NewUser::new(&email).unwrap(), at(0))
            .await;
    })
    .await;
    // A session whose creation is not cut, then a cut rotation of its refresh token.
    let (mut s, _) = session(0, user, 0);
    s.id = SessionId::from_bytes({
        let mut b = [7u8; 16];
        b[..2].copy_from_slice(&n.to_be_bytes());
        b
    });
    let first = [NewToken {
        digest: digest(1, n),
        kind: TokenKind::Refresh,
        expires_at: at(9_000),
    }];
    store.create_session(&s, &first, None).await.unwrap();
    let next = [
        NewToken {
            digest: digest(2, n),
            kind: TokenKind::Access,
            expires_at: at(900),
        },
        NewToken {
            digest: digest(3, n),
            kind: TokenKind::Refresh,
            expires_at: at(9_000),
        },
    ];
    let old = digest(1, n);
    c.run(async {
        let _ = store
            .rotate_refresh_token(&Rotation {
                digest: &old,
                new_tokens: &next,
                refresh_expires_at: at(9_000),
                now: at(10),
                idle_timeout: None,
                grace: None,
            })
            .await;
    })
    .await;
    c.run(async {
        let _ = store.find_access_token(&digest(2, n)).await;
    })
    .await;
    c.run(async {
        let _ = store
            .hit("cut", &RateLimitPolicy::LOGIN_DEFAULT, at(0))
            .await;
    })
    .await;
    c.run(async {
        let _ = store.list_sessions(&user, at(1)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_lose_nothing() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let store = schema.store(users()).await;
    let owner = store
        .create_user(&NewUser::new("owner@example.com").unwrap(), at(0))
        .await
        .unwrap()
        .id;
    let mut n: u16 = 0;
    for micros in (0..=400).step_by(5) {
        round(&store, owner, n, Cut::After(Duration::from_micros(micros))).await;
        n += 1;
    }
    for polls in 1..=40 {
        round(&store, owner, n, Cut::Polls(polls)).await;
        n += 1;
    }
    // Let the detached writes finish: the last ones are the last round's hits.
    for _ in 0..100 {
        let done = store
            .peek("cut", &RateLimitPolicy::LOGIN_DEFAULT, at(0))
            .await
            .unwrap();
        if matches!(done, RateLimitDecision::Limited { attempts, .. } if attempts == u32::from(n)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    for i in 0..n {
        assert!(
            store
                .find_credentials_by_email(&format!("u{i}@example.com"))
                .await
                .unwrap()
                .is_some(),
            "user {i} was created even though its call was cancelled"
        );
        let spent = count(
            &store,
            "SELECT COUNT(*) FROM auth_tokens WHERE digest = $1 AND spent_at_us IS NOT NULL",
            &[&digest(1, i).0.to_vec()],
        )
        .await;
        let inserted = count(
            &store,
            "SELECT COUNT(*) FROM auth_tokens WHERE digest = $1 OR digest = $2",
            &[&digest(2, i).0.to_vec(), &digest(3, i).0.to_vec()],
        )
        .await;
        assert!(
            (spent, inserted) == (1, 2) || (spent, inserted) == (0, 0),
            "round {i}: half a rotation ({spent} spent, {inserted} inserted)"
        );
        assert_eq!(
            (spent, inserted),
            (1, 2),
            "round {i}: the rotation completed"
        );
        // The reads cut short left the connections usable: the rotated pair is found.
        assert!(
            store
                .find_access_token(&digest(2, i))
                .await
                .unwrap()
                .is_some(),
            "round {i}: lookup after cancelled lookups"
        );
    }
    match store
        .peek("cut", &RateLimitPolicy::LOGIN_DEFAULT, at(0))
        .await
        .unwrap()
    {
        RateLimitDecision::Limited { attempts, .. } => {
            assert_eq!(u32::from(n), attempts, "every cancelled hit was counted")
        }
        other => panic!("{other:?}"),
    }
    drop(store);
    schema.drop().await;
}
