//! Single-use tokens are found and consumed only with their kind, before expiry, once;
//! `delete_expired` deletes exactly the dead rows in bounded batches and never the refresh
//! rows of a live session (so a late replay of a spent token is still reuse).

mod common;

use std::time::Duration;

use auth_core::{
    Grace, NewToken, NewUser, RateLimitPolicy, RotateOutcome, Rotation, TokenDigest, TokenKind,
};
use auth_sql::Value;
use auth_store_sqlx::{Backend, SqlxStore};
use common::{access, at, each_backend, raw_count, refresh, session, users};

fn token(b: u8, kind: TokenKind, expires: i64) -> NewToken {
    NewToken {
        digest: TokenDigest([b; 32]),
        kind,
        expires_at: at(expires),
    }
}

async fn single_use<B: Backend>(store: SqlxStore<B>) {
    use auth_core::{SingleUseTokenStore, UserStore};
    let u = store
        .create_user(&NewUser::new("su@example.com").unwrap(), at(0))
        .await
        .unwrap()
        .id;
    let reset = token(1, TokenKind::PasswordReset, 100);
    store
        .insert_single_use_token(&u, &reset, false, at(0))
        .await
        .unwrap();
    let find = |kind, t| {
        let store = store.clone();
        async move {
            store
                .find_single_use_token(&reset.digest, kind, at(t))
                .await
                .unwrap()
        }
    };
    assert_eq!(find(TokenKind::PasswordReset, 1).await, Some(u));
    assert_eq!(
        find(TokenKind::EmailVerification, 1).await,
        None,
        "another kind"
    );
    assert_eq!(find(TokenKind::PasswordReset, 100).await, None, "expired");
    assert_eq!(
        store
            .consume_single_use_token(&reset.digest, TokenKind::EmailVerification, at(1))
            .await
            .unwrap(),
        None
    );
    // A newer request voids the older link.
    let newer = token(2, TokenKind::PasswordReset, 100);
    store
        .insert_single_use_token(&u, &newer, true, at(2))
        .await
        .unwrap();
    assert_eq!(find(TokenKind::PasswordReset, 3).await, None, "voided");
    // Of concurrent consumers exactly one wins.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .consume_single_use_token(&newer.digest, TokenKind::PasswordReset, at(4))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap() == Some(u));
    }
    assert_eq!(won, 1);
    // Voiding counts the outstanding tokens of one kind.
    for b in 3..6 {
        let t = token(b, TokenKind::EmailVerification, 100);
        store
            .insert_single_use_token(&u, &t, false, at(5))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .void_single_use_tokens(&u, TokenKind::EmailVerification, at(6))
            .await
            .unwrap(),
        3
    );
    let err = store
        .insert_single_use_token(&u, &token(3, TokenKind::PasswordReset, 100), false, at(7))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        auth_core::StoreErrorKind::UniqueViolation,
        "never overwrites"
    );
}
each_backend!(single_use, users());

async fn purge<B: Backend>(store: SqlxStore<B>) {
    use auth_core::{ExpiredDeletion, RateLimiter, SessionStore, SingleUseTokenStore, UserStore};
    let u = store
        .create_user(&NewUser::new("old@example.com").unwrap(), at(0))
        .await
        .unwrap()
        .id;
    // 1: past its absolute end. 2: revoked. 3: live, with a spent refresh token (sealed
    // successor) and an expired access token.
    let (mut s1, t1) = session(1, u, 0);
    s1.absolute_expires_at = at(500);
    store.create_session(&s1, &t1, None).await.unwrap();
    let (s2, t2) = session(2, u, 0);
    store.create_session(&s2, &t2, None).await.unwrap();
    store.revoke_session(&u, &s2.id, at(10)).await.unwrap();
    let (s3, t3) = session(3, u, 0);
    store.create_session(&s3, &t3, None).await.unwrap();
    let next = [
        token(40, TokenKind::Access, 2_000),
        token(41, TokenKind::Refresh, 9_000),
    ];
    let rotated = store
        .rotate_refresh_token(&Rotation {
            digest: &refresh(3),
            new_tokens: &next,
            refresh_expires_at: at(9_000),
            now: at(100),
            idle_timeout: None,
            grace: Some(Grace {
                window: Duration::from_secs(10),
                sealed_successor: b"sealed",
            }),
        })
        .await
        .unwrap();
    assert!(matches!(rotated, RotateOutcome::Rotated { .. }));
    // Single-use: one spent, one expired, one live.
    for (b, expires) in [(50u8, 100i64), (51, 10_000), (52, 10_000)] {
        store
            .insert_single_use_token(
                &u,
                &token(b, TokenKind::EmailVerification, expires),
                false,
                at(0),
            )
            .await
            .unwrap();
    }
    store
        .consume_single_use_token(&TokenDigest([51; 32]), TokenKind::EmailVerification, at(1))
        .await
        .unwrap();
    // Rate limits: one stale key, one locked key.
    let p = RateLimitPolicy {
        max_attempts: 1,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(5_000),
    };
    store.hit("stale", &p, at(0)).await.unwrap();
    store.hit("locked", &p, at(0)).await.unwrap();
    store.hit("locked", &p, at(0)).await.unwrap();

    // At 1 000: sessions 1 and 2 (2), session 3's access token (expired at 900) (1),
    // single-use 50 (expired) and 51 (spent) (2), the stale key (1): 6 rows, by 2s.
    let mut total = 0;
    let mut calls = 0;
    loop {
        let n = store.delete_expired(at(1_000), 2).await.unwrap();
        assert!(n <= 2, "bounded batches");
        calls += 1;
        if n == 0 {
            break;
        }
        total += n;
        assert!(calls < 10);
    }
    assert_eq!(total, 6);
    assert!(store.session_status(&s1.id).await.unwrap().is_none());
    assert!(store.session_status(&s2.id).await.unwrap().is_none());
    assert!(store.find_access_token(&access(3)).await.unwrap().is_none());
    assert!(
        store
            .find_access_token(&TokenDigest([40; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .peek("locked", &p, at(1_000))
            .await
            .unwrap()
            .is_limited()
    );
    assert_eq!(
        store
            .find_single_use_token(
                &TokenDigest([52; 32]),
                TokenKind::EmailVerification,
                at(1_000)
            )
            .await
            .unwrap(),
        Some(u)
    );
    // The sealed successor is older than a minute: erased.
    assert_eq!(
        raw_count(
            &store,
            "SELECT COUNT(*) FROM auth_tokens WHERE sealed_successor IS NOT NULL AND kind = :kind",
            vec![Value::Small(TokenKind::Refresh.code())]
        )
        .await,
        0
    );
    // The spent refresh row of the live session is kept: a late replay is reuse.
    let late = store
        .rotate_refresh_token(&Rotation {
            digest: &refresh(3),
            new_tokens: &[token(60, TokenKind::Access, 3_000)],
            refresh_expires_at: at(9_000),
            now: at(1_001),
            idle_timeout: None,
            grace: None,
        })
        .await
        .unwrap();
    assert!(matches!(late, RotateOutcome::Reused { .. }), "{late:?}");
}
each_backend!(purge, users());
