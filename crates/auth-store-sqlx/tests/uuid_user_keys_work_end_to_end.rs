//! A UUID-keyed user table works end to end on every backend: keys are library-generated
//! v4 UUIDs (PostgreSQL `uuid`, hyphenated text elsewhere), carried through sessions,
//! rotation, lookups and single-use tokens; an integer id is refused.

mod common;

use auth_core::{
    IdKind, NewToken, NewUser, RotateOutcome, Rotation, SessionStore, SingleUseTokenStore,
    TokenDigest, TokenKind, UserId, UserStore,
};
use auth_store_sqlx::{Backend, SqlxStore, UserTable};
use common::{access, at, each_backend, refresh, session};

async fn uuid_keys<B: Backend>(store: SqlxStore<B>) {
    let user = store
        .create_user(&NewUser::new("u@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let UserId::Uuid(uuid) = user.id else {
        panic!("a UUID key was expected, got {:?}", user.id)
    };
    assert_eq!(uuid.get_version_num(), 4, "a random (v4) UUID");
    assert_eq!(
        store.find_user_by_id(&user.id).await.unwrap(),
        Some(user.clone())
    );

    let (s, t) = session(5, user.id, 0);
    store.create_session(&s, &t, None).await.unwrap();
    let next = [NewToken {
        digest: TokenDigest([3; 32]),
        kind: TokenKind::Access,
        expires_at: at(900),
    }];
    let outcome = store
        .rotate_refresh_token(&Rotation {
            digest: &refresh(5),
            new_tokens: &next,
            refresh_expires_at: at(10_000),
            now: at(1),
            idle_timeout: None,
            grace: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, RotateOutcome::Rotated { user_id, .. } if user_id == user.id),
        "{outcome:?}"
    );
    let record = store
        .find_access_token(&TokenDigest([3; 32]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.session.user.unwrap(), user);
    assert!(store.find_access_token(&access(5)).await.unwrap().is_some());
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
        .insert_single_use_token(&user.id, &reset, false, at(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .consume_single_use_token(&reset.digest, TokenKind::PasswordReset, at(3))
            .await
            .unwrap(),
        Some(user.id)
    );

    let (s, t) = session(6, UserId::Int(1), 0);
    let err = store
        .create_session(&s, &t, None)
        .await
        .expect_err("an integer id is refused by a UUID-keyed store");
    assert_eq!(err.context(), "create_session");
    assert!(store.delete_user(&user.id).await.unwrap());
}
each_backend!(
    uuid_keys,
    UserTable::new("accounts", IdKind::Uuid).id_column("account_id")
);
