//! A UUID-keyed user table works end to end: keys are library-generated v4 UUIDs stored as
//! hyphenated text, carried through sessions, rotation, lookups and single-use tokens.

use auth_core::{
    IdKind, NewSession, NewToken, NewUser, OffsetDateTime, RotateOutcome, SessionId, TokenDigest,
    TokenKind, TokenStore, UserId, UserStore,
};
use auth_store_sqlx::{SqliteStore, UserTable};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
}

#[tokio::test]
async fn uuid_keys_round_trip_through_every_table() {
    let store = SqliteStore::connect(
        "sqlite::memory:",
        UserTable::new("accounts", IdKind::Uuid).id_column("account_id"),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();

    let user = store
        .create_user(&NewUser::new("u@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let UserId::Uuid(uuid) = user.id else {
        panic!("a UUID key was expected, got {:?}", user.id)
    };
    assert_eq!(uuid.get_version_num(), 4, "a random (v4) UUID");

    let (stored, ty): (String, String) =
        sqlx::query_as("SELECT account_id, typeof(account_id) FROM accounts")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(ty, "text");
    assert_eq!(stored, uuid.hyphenated().to_string(), "hyphenated text");

    let refresh = NewToken {
        digest: TokenDigest([2; 32]),
        kind: TokenKind::Refresh,
        expires_at: at(9_000),
    };
    let session = SessionId::from_bytes([5; 16]);
    store
        .create_session(
            &NewSession {
                id: session,
                user_id: user.id,
                created_at: at(0),
                expires_at: at(9_000),
            },
            std::slice::from_ref(&refresh),
        )
        .await
        .unwrap();
    let session_user: String = sqlx::query_scalar("SELECT user_id FROM auth_sessions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(session_user, stored, "sessions store the same text key");

    let access = NewToken {
        digest: TokenDigest([3; 32]),
        kind: TokenKind::Access,
        expires_at: at(900),
    };
    let outcome = store
        .rotate_refresh_token(
            &refresh.digest,
            std::slice::from_ref(&access),
            at(10_000),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            session_id: session,
            user_id: user.id
        }
    );
    let record = store
        .find_access_token(&access.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.user, user);
    assert_eq!(
        store.list_sessions(&user.id, at(2)).await.unwrap()[0].user_id,
        user.id
    );

    let reset = NewToken {
        digest: TokenDigest([4; 32]),
        kind: TokenKind::PasswordReset,
        expires_at: at(900),
    };
    store
        .insert_single_use_token(&user.id, &reset, at(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .consume_single_use_token(&reset.digest, TokenKind::PasswordReset, at(3))
            .await
            .unwrap(),
        Some(user.id)
    );

    let err = store
        .create_session(
            &NewSession {
                id: SessionId::from_bytes([6; 16]),
                user_id: UserId::Int(1),
                created_at: at(0),
                expires_at: at(9_000),
            },
            &[],
        )
        .await
        .expect_err("an integer id is refused by a UUID-keyed store");
    assert_eq!(err.context(), "create_session");
}
