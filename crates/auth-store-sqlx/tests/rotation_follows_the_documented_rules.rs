//! `rotate_refresh_token` on every backend: one transaction, the documented outcome
//! precedence (NotFound > SessionRevoked > Reused/Replayed > UserInactive > Expired),
//! expiries capped at the session's absolute end, the idle timeout, the grace window, and
//! exactly one winner among concurrent rotations.

mod common;

use std::time::Duration;

use auth_core::{
    Grace, NewToken, NewUser, RotateOutcome, Rotation, TokenDigest, TokenKind, UserId,
};
use common::{Store, access, at, each_backend, refresh, session, users};

/// A digest no session of `common::session` uses: `[a, b, 0x5a, 0x5a, ...]`.
fn distinct(a: u8, b: u8) -> TokenDigest {
    let mut d = [0x5a; 32];
    d[0] = a;
    d[1] = b;
    TokenDigest(d)
}

fn next(byte: u8, t: i64) -> Vec<NewToken> {
    vec![
        NewToken {
            digest: TokenDigest([byte; 32]),
            kind: TokenKind::Access,
            expires_at: at(t + 900),
        },
        NewToken {
            digest: TokenDigest([byte.wrapping_add(1); 32]),
            kind: TokenKind::Refresh,
            expires_at: at(t + 9_000),
        },
    ]
}

async fn rotate<S: Store>(
    store: &S,
    digest: TokenDigest,
    new: &[NewToken],
    t: i64,
    idle: Option<Duration>,
    grace: Option<Grace<'_>>,
) -> RotateOutcome {
    store
        .rotate_refresh_token(&Rotation {
            digest: &digest,
            new_tokens: new,
            refresh_expires_at: at(t + 9_000),
            now: at(t),
            idle_timeout: idle,
            grace,
        })
        .await
        .expect("rotate")
}

async fn new_user<S: Store>(store: &S, email: &str) -> UserId {
    store
        .create_user(&NewUser::new(email).unwrap(), at(0))
        .await
        .unwrap()
        .id
}

async fn rules<S: Store>(store: S) {
    let alice = new_user(&store, "alice@example.com").await;
    let (mut s1, t1) = session(1, alice, 0);
    s1.absolute_expires_at = at(5_000);
    store.create_session(&s1, &t1, None).await.unwrap();

    // Unknown digests and digests of another kind are NotFound.
    assert_eq!(
        rotate(&store, TokenDigest([0xee; 32]), &[], 1, None, None).await,
        RotateOutcome::NotFound
    );
    assert_eq!(
        rotate(&store, access(1), &[], 1, None, None).await,
        RotateOutcome::NotFound
    );

    // A rotation: the new expiry is capped at the absolute end (5 000 s).
    let new = next(20, 100);
    match rotate(&store, refresh(1), &new, 100, None, None).await {
        RotateOutcome::Rotated {
            session_id,
            user_id,
            refresh_expires_at,
            user,
        } => {
            assert_eq!(session_id, s1.id);
            assert_eq!(user_id, alice);
            assert_eq!(refresh_expires_at, at(5_000), "capped at the absolute end");
            assert_eq!(user.unwrap().email, "alice@example.com");
        }
        other => panic!("expected Rotated, got {other:?}"),
    }
    let rec = store
        .find_access_token(&TokenDigest([20; 32]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.expires_at, at(1_000));
    assert_eq!(rec.session.expires_at, at(5_000));
    assert_eq!(rec.session.absolute_expires_at, at(5_000));
    assert!(!rec.session.revoked);

    // Replaying the spent token (no grace window) is reuse: the session is revoked.
    assert!(matches!(
        rotate(&store, refresh(1), &next(30, 101), 101, None, None).await,
        RotateOutcome::Reused { session_id, .. } if session_id == s1.id
    ));
    let rec = store
        .find_access_token(&TokenDigest([20; 32]))
        .await
        .unwrap()
        .unwrap();
    assert!(rec.session.revoked, "reuse revoked the whole session");
    // Its current token now answers SessionRevoked (revocation comes first)...
    assert_eq!(
        rotate(
            &store,
            TokenDigest([21; 32]),
            &next(31, 102),
            102,
            None,
            None
        )
        .await,
        RotateOutcome::SessionRevoked
    );
    // ...and so does the spent one.
    assert_eq!(
        rotate(&store, refresh(1), &next(32, 103), 103, None, None).await,
        RotateOutcome::SessionRevoked
    );

    // Expired token: Expired, nothing changes; a spent and expired token is still reuse.
    let (s2, t2) = session(2, alice, 0);
    store.create_session(&s2, &t2, None).await.unwrap();
    assert_eq!(
        rotate(&store, refresh(2), &next(40, 9_000), 9_000, None, None).await,
        RotateOutcome::Expired
    );
    assert!(matches!(
        rotate(&store, refresh(2), &next(40, 10), 10, None, None).await,
        RotateOutcome::Rotated { .. }
    ));
    assert!(matches!(
        rotate(&store, refresh(2), &next(42, 95_000), 95_000, None, None).await,
        RotateOutcome::Reused { .. }
    ));

    // Idle timeout: measured from the last rotation (or the login).
    let (s3, t3) = session(3, alice, 0);
    store.create_session(&s3, &t3, None).await.unwrap();
    let idle = Some(Duration::from_secs(60));
    assert_eq!(
        rotate(&store, refresh(3), &next(50, 61), 61, idle, None).await,
        RotateOutcome::Expired
    );
    assert!(matches!(
        rotate(&store, refresh(3), &next(50, 60), 60, idle, None).await,
        RotateOutcome::Rotated { .. }
    ));
    assert!(matches!(
        rotate(
            &store,
            TokenDigest([51; 32]),
            &next(52, 110),
            110,
            idle,
            None
        )
        .await,
        RotateOutcome::Rotated { .. }
    ));

    // Grace window: the immediate predecessor replays the sealed pair within the window;
    // later, or once its successor is spent, it is reuse.
    let (s4, t4) = session(4, alice, 0);
    store.create_session(&s4, &t4, None).await.unwrap();
    let grace = Grace {
        window: Duration::from_secs(10),
        sealed_successor: b"sealed pair",
    };
    assert!(matches!(
        rotate(&store, refresh(4), &next(60, 100), 100, None, Some(grace)).await,
        RotateOutcome::Rotated { .. }
    ));
    // The window ends 10 s after the rotation, exclusive (the store grants `now < until`).
    match rotate(&store, refresh(4), &next(62, 109), 109, None, Some(grace)).await {
        RotateOutcome::Replayed {
            session_id,
            sealed_successor,
            refresh_expires_at,
            user,
            ..
        } => {
            assert_eq!(session_id, s4.id);
            assert_eq!(sealed_successor, b"sealed pair");
            assert_eq!(refresh_expires_at, at(9_100), "the successor's expiry");
            assert!(user.is_some());
        }
        other => panic!("expected Replayed, got {other:?}"),
    }
    assert!(
        store
            .find_access_token(&TokenDigest([62; 32]))
            .await
            .unwrap()
            .is_none(),
        "a replay writes nothing"
    );
    assert!(matches!(
        rotate(&store, refresh(4), &next(62, 110), 110, None, Some(grace)).await,
        RotateOutcome::Reused { .. }
    ));

    // A deactivated user: the session is revoked, UserInactive.
    let bob = new_user(&store, "bob@example.com").await;
    let (s5, t5) = session(5, bob, 0);
    store.create_session(&s5, &t5, None).await.unwrap();
    store.set_active(&bob, false, at(1)).await.unwrap();
    assert!(matches!(
        rotate(&store, refresh(5), &next(70, 2), 2, None, None).await,
        RotateOutcome::UserInactive { session_id, user_id } if session_id == s5.id && user_id == bob
    ));
    assert!(
        store
            .find_access_token(&access(5))
            .await
            .unwrap()
            .unwrap()
            .session
            .revoked
    );

    // A deleted user: its rows are gone, NotFound.
    let carol = new_user(&store, "carol@example.com").await;
    let (s6, t6) = session(6, carol, 0);
    store.create_session(&s6, &t6, None).await.unwrap();
    assert!(store.delete_user(&carol).await.unwrap());
    assert_eq!(
        rotate(&store, refresh(6), &next(80, 2), 2, None, None).await,
        RotateOutcome::NotFound
    );
}
each_backend!(rules, users());

async fn one_winner<S: Store>(store: S) {
    let dave = new_user(&store, "dave@example.com").await;
    for round in 0..5u8 {
        let id = 100 + round;
        let (s, t) = session(id, dave, 0);
        store.create_session(&s, &t, None).await.unwrap();
        let tasks: Vec<_> = (0..20u8)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let new = vec![
                        NewToken {
                            digest: distinct(round, n * 2),
                            kind: TokenKind::Access,
                            expires_at: at(900),
                        },
                        NewToken {
                            digest: distinct(round, n * 2 + 1),
                            kind: TokenKind::Refresh,
                            expires_at: at(9_000),
                        },
                    ];
                    rotate(&store, refresh(id), &new, 10, None, None).await
                })
            })
            .collect();
        let mut rotated = 0;
        for task in tasks {
            match task.await.unwrap() {
                RotateOutcome::Rotated { .. } => rotated += 1,
                RotateOutcome::Reused { .. } | RotateOutcome::SessionRevoked => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(rotated, 1, "exactly one of 20 concurrent rotations wins");
    }
}
each_backend!(one_winner, users());

async fn max_active<S: Store>(store: S) {
    let erin = new_user(&store, "erin@example.com").await;
    for (i, id) in [1u8, 2, 3].into_iter().enumerate() {
        let (s, t) = session(id, erin, i as i64);
        assert_eq!(store.create_session(&s, &t, None).await.unwrap(), 0);
    }
    let (s, t) = session(4, erin, 10);
    assert_eq!(
        store.create_session(&s, &t, Some(2)).await.unwrap(),
        2,
        "the two oldest are revoked"
    );
    let listed = store.list_sessions(&erin, at(11)).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [
            auth_core::SessionId::from_bytes([4; 16]),
            auth_core::SessionId::from_bytes([3; 16])
        ],
        "newest first"
    );
    assert_eq!(listed[0].ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(listed[0].user_agent.as_deref(), Some("test-agent/1.0"));
    assert_eq!(listed[0].absolute_expires_at, at(90_010));
    let status = store
        .session_status(&auth_core::SessionId::from_bytes([4; 16]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.claims.as_deref(), Some(r#"{"role":"admin"}"#));
    assert_eq!(status.user.unwrap().id, erin);
    assert!(
        store
            .session_status(&auth_core::SessionId::from_bytes([1; 16]))
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    // Revocation counts only active sessions.
    assert_eq!(
        store
            .revoke_user_sessions(&erin, None, at(12))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_user_sessions(&erin, None, at(13))
            .await
            .unwrap(),
        0
    );
    // A collision writes nothing.
    let err = store.create_session(&s, &t, None).await.unwrap_err();
    assert_eq!(err.kind(), auth_core::StoreErrorKind::UniqueViolation);
}
each_backend!(max_active, users());
