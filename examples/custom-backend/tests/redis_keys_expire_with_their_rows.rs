//! What only a Redis store has to prove: every key gets a lifetime measured from the
//! caller's clock (not Redis's), prefixes keep stores apart, and rotation stays atomic
//! across separate connections.

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    ClientInfo, ExpiredDeletion, Grace, NewSession, NewToken, OffsetDateTime, RateLimitPolicy,
    RateLimiter, RotateOutcome, Rotation, SessionId, SessionStore, SingleUseTokenStore,
    TokenDigest, TokenKind, UserId,
};
use custom_backend_example::RedisSessionStore;
use custom_backend_example::redis::{self, AsyncCommands as _};

/// A fixed instant in 2030: far from Redis's own clock, so a lifetime taken from the
/// wrong clock would show.
fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).expect("a valid time")
}

const DAY: i64 = 86_400;

fn digest() -> TokenDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    TokenDigest(bytes)
}

fn hex(d: &TokenDigest) -> String {
    d.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn token(kind: TokenKind, expires_at: OffsetDateTime) -> NewToken {
    NewToken {
        digest: digest(),
        kind,
        expires_at,
    }
}

fn session(user: UserId, created: OffsetDateTime) -> NewSession {
    NewSession {
        id: SessionId::from_bytes(uuid::Uuid::new_v4().into_bytes()),
        user_id: user,
        created_at: created,
        expires_at: created + Duration::from_secs(DAY as u64),
        absolute_expires_at: created + Duration::from_secs(30 * DAY as u64),
        client: ClientInfo::none(),
        claims: None,
    }
}

async fn inspector(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis")
}

/// Asserts a key's remaining lifetime is `expected_s` seconds plus the store's one second
/// of slack, give or take what the test itself took.
async fn assert_ttl(conn: &mut redis::aio::MultiplexedConnection, key: &str, expected_s: i64) {
    let pttl: i64 = conn.pttl(key).await.expect("PTTL");
    let expected_ms = expected_s * 1000 + 1000;
    assert!(
        (expected_ms - 5_000..=expected_ms).contains(&pttl),
        "{key}: lifetime {pttl} ms, expected about {expected_ms} ms"
    );
}

#[tokio::test]
async fn keys_live_until_their_rows_can_no_longer_matter() {
    let Some(url) = common::redis_url("redis key lifetimes") else {
        return;
    };
    let store = common::store(&url, "ttl").await;
    let mut conn = inspector(&url).await;
    let p = store.prefix().to_owned();
    let user = UserId::Int(7);

    let s = session(user, t(0));
    let access = token(TokenKind::Access, t(900));
    let refresh = token(TokenKind::Refresh, t(DAY));
    store
        .create_session(&s, &[access.clone(), refresh.clone()], Some(10))
        .await
        .expect("create_session");
    let sid = s.id.to_hex();
    // A session's keys live until its absolute end (30 days after the caller's `now`).
    for key in [
        format!("{p}s:{sid}"),
        format!("{p}st:{sid}"),
        format!("{p}u:i:7"),
        format!("{p}t:{}", hex(&refresh.digest)),
    ] {
        assert_ttl(&mut conn, &key, 30 * DAY).await;
    }
    // An access row: an hour past its expiry.
    assert_ttl(
        &mut conn,
        &format!("{p}t:{}", hex(&access.digest)),
        900 + 3600,
    )
    .await;

    // A rotation 60 s later: the new refresh row lives to the same absolute end, the sealed
    // pair only for the grace window, and the spent row keeps its lifetime.
    let next = [
        token(TokenKind::Access, t(960)),
        token(TokenKind::Refresh, t(2 * DAY)),
    ];
    let sealed = [1u8, 2, 3];
    let outcome = store
        .rotate_refresh_token(&Rotation {
            digest: &refresh.digest,
            new_tokens: &next,
            refresh_expires_at: t(2 * DAY),
            now: t(60),
            idle_timeout: None,
            grace: Some(Grace {
                window: Duration::from_secs(30),
                sealed_successor: &sealed,
            }),
        })
        .await
        .expect("rotate");
    assert!(
        matches!(outcome, RotateOutcome::Rotated { .. }),
        "{outcome:?}"
    );
    assert_ttl(
        &mut conn,
        &format!("{p}t:{}", hex(&next[1].digest)),
        30 * DAY - 60,
    )
    .await;
    assert_ttl(
        &mut conn,
        &format!("{p}t:{}", hex(&refresh.digest)),
        30 * DAY,
    )
    .await;
    let sealed_ttl: i64 = conn
        .pttl(format!("{p}g:{}", hex(&refresh.digest)))
        .await
        .expect("PTTL");
    assert!(
        (25_000..=30_000).contains(&sealed_ttl),
        "the sealed pair lives for the window: {sealed_ttl} ms"
    );

    // A single-use token until its expiry; a rate-limit key until its window is over.
    let reset = token(TokenKind::PasswordReset, t(3600));
    store
        .insert_single_use_token(&user, &reset, true, t(0))
        .await
        .expect("insert_single_use_token");
    assert_ttl(&mut conn, &format!("{p}t:{}", hex(&reset.digest)), 3600).await;
    assert_ttl(&mut conn, &format!("{p}su:i:7:3"), 3600).await;
    store
        .hit("k", &RateLimitPolicy::LOGIN_DEFAULT, t(0))
        .await
        .expect("hit");
    assert_ttl(&mut conn, &format!("{p}r:k"), 300).await;

    // Only the dead indexes and the ordering counter live without a lifetime.
    let keys: Vec<String> = conn.keys(format!("{p}*")).await.expect("KEYS");
    for key in keys {
        let pttl: i64 = conn.pttl(&key).await.expect("PTTL");
        let rest = &key[p.len()..];
        if ["d:s", "d:a", "d:u", "d:r", "seq"].contains(&rest) {
            assert_eq!(pttl, -1, "{key} is kept");
        } else {
            assert!(pttl > 0, "{key} has a lifetime");
        }
    }

    // Cleanup at a `before` past the access rows' expiry and the rate-limit window drops
    // those three rows and nothing else.
    assert_eq!(
        store.delete_expired(t(1_000), 100).await.expect("delete"),
        3
    );
    assert!(
        store
            .find_access_token(&access.digest)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_access_token(&refresh.digest)
            .await
            .expect("find")
            .is_some()
    );
    assert!(store.session_status(&s.id).await.expect("status").is_some());
    store
        .delete_all_keys()
        .await
        .expect("delete the test's keys");
}

#[tokio::test]
async fn prefixes_keep_stores_apart() {
    let Some(url) = common::redis_url("redis prefixes") else {
        return;
    };
    let a = common::store(&url, "prefix-a").await;
    let b = a.clone().with_prefix(common::unique_prefix("prefix-b"));
    let s = session(UserId::Int(1), t(0));
    let tokens = [
        token(TokenKind::Access, t(900)),
        token(TokenKind::Refresh, t(DAY)),
    ];
    a.create_session(&s, &tokens, None).await.expect("create");
    // The same session id and digests are free under another prefix.
    b.create_session(&s, &tokens, None).await.expect("create b");
    assert!(
        b.revoke_session(&UserId::Int(1), &s.id, t(1))
            .await
            .expect("revoke")
    );
    let in_a = a.find_access_token(&tokens[0].digest).await.expect("find");
    assert!(!in_a.expect("found in a").session.revoked, "a is untouched");
    assert!(b.delete_all_keys().await.expect("delete b") > 0);
    assert!(a.session_status(&s.id).await.expect("status").is_some());
    assert!(b.session_status(&s.id).await.expect("status").is_none());
    a.delete_all_keys().await.expect("delete a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_racing_on_separate_connections_rotate_exactly_once() {
    let Some(url) = common::redis_url("redis rotation race") else {
        return;
    };
    const CONNECTIONS: usize = 8;
    let prefix = common::unique_prefix("race");
    let mut stores: Vec<Arc<RedisSessionStore>> = Vec::new();
    for _ in 0..CONNECTIONS {
        let store = RedisSessionStore::connect(&url)
            .await
            .expect("connect")
            .with_prefix(prefix.clone());
        stores.push(Arc::new(store));
    }
    let user = UserId::Int(99);
    for round in 0..10 {
        let s = session(user, t(0));
        let refresh = token(TokenKind::Refresh, t(DAY));
        stores[0]
            .create_session(&s, std::slice::from_ref(&refresh), None)
            .await
            .expect("create");
        let barrier = Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
        let tasks: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, barrier, presented) = (store.clone(), barrier.clone(), refresh.digest);
                tokio::spawn(async move {
                    let new_tokens = [token(TokenKind::Refresh, t(2 * DAY))];
                    barrier.wait().await;
                    store
                        .rotate_refresh_token(&Rotation {
                            digest: &presented,
                            new_tokens: &new_tokens,
                            refresh_expires_at: t(2 * DAY),
                            now: t(10),
                            idle_timeout: None,
                            grace: None,
                        })
                        .await
                        .expect("rotate")
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task"));
        }
        let winners = outcomes
            .iter()
            .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
            .count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|o| matches!(
                o,
                RotateOutcome::Rotated { .. }
                    | RotateOutcome::Reused { .. }
                    | RotateOutcome::SessionRevoked
            )),
            "round {round}: {outcomes:?}"
        );
    }
    stores[0]
        .delete_all_keys()
        .await
        .expect("delete the test's keys");
}
