//! A failure injected between the steps of a rotation (after the presented token was
//! spent and the new access token inserted, while inserting the new refresh token) rolls
//! the whole rotation back: the presented token is still unspent and rotates on retry, and
//! nothing of the failed attempt remains (checklist S3, rust-srec #868). The failure is a
//! database trigger refusing one digest, on every backend.

mod common;

use auth_core::{NewToken, RotateOutcome, Rotation, TokenDigest, TokenKind};
use common::{Store, at, each_backend, refresh, session, users};

/// Makes the database refuse the insert of one token digest.
trait InjectFailure {
    async fn refuse_digest(&self, digest: &TokenDigest);
}

fn hex(d: &TokenDigest) -> String {
    d.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl InjectFailure for auth_store_sqlx::SqliteStore {
    async fn refuse_digest(&self, digest: &TokenDigest) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON auth_tokens \
             WHEN NEW.digest = X'{}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            hex(digest)
        )))
        .execute(self.pool())
        .await
        .expect("create trigger");
    }
}

#[cfg(feature = "postgres")]
impl InjectFailure for auth_store_sqlx::PgStore {
    async fn refuse_digest(&self, digest: &TokenDigest) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.digest = '\\x{}'::bytea THEN RAISE EXCEPTION 'injected failure'; \
             END IF; RETURN NEW; END $$; \
             CREATE TRIGGER inject_failure BEFORE INSERT ON auth_tokens \
             FOR EACH ROW EXECUTE FUNCTION inject_failure();",
            hex(digest)
        )))
        .execute(self.pool())
        .await
        .expect("create trigger");
    }
}

#[cfg(feature = "mysql")]
impl InjectFailure for auth_store_sqlx::MySqlStore {
    async fn refuse_digest(&self, digest: &TokenDigest) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON auth_tokens FOR EACH ROW \
             BEGIN IF NEW.digest = UNHEX('{}') THEN \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END",
            hex(digest)
        )))
        .execute(self.pool())
        .await
        .expect("create trigger");
    }
}

fn successors(access: u8, refresh: u8) -> Vec<NewToken> {
    vec![
        NewToken {
            digest: TokenDigest([access; 32]),
            kind: TokenKind::Access,
            expires_at: at(1_000),
        },
        NewToken {
            digest: TokenDigest([refresh; 32]),
            kind: TokenKind::Refresh,
            expires_at: at(9_000),
        },
    ]
}

async fn rolled_back<S: Store + InjectFailure>(store: S) {
    let user = store
        .create_user(
            &auth_core::NewUser::new("rollback@example.com").unwrap(),
            at(0),
        )
        .await
        .unwrap()
        .id;
    let (new, tokens) = session(7, user, 0);
    store.create_session(&new, &tokens, None).await.unwrap();
    let doomed = successors(40, 41);
    store.refuse_digest(&doomed[1].digest).await;
    let rotation = |new_tokens: &'static [NewToken]| Rotation {
        digest: Box::leak(Box::new(refresh(7))),
        new_tokens,
        refresh_expires_at: at(9_000),
        now: at(100),
        idle_timeout: None,
        grace: None,
    };
    let doomed: &'static [NewToken] = Box::leak(doomed.into_boxed_slice());
    let failed = store.rotate_refresh_token(&rotation(doomed)).await;
    assert!(
        failed.is_err(),
        "the injected failure did not surface: {failed:?}"
    );
    // Nothing of the failed attempt remains: its access token was rolled back...
    assert!(
        store
            .find_access_token(&doomed[0].digest)
            .await
            .unwrap()
            .is_none(),
        "the failed rotation's access token survived the rollback"
    );
    // ...and the presented token was not spent: a retry rotates it, exactly once.
    let retry: &'static [NewToken] = Box::leak(successors(50, 51).into_boxed_slice());
    let outcome = store.rotate_refresh_token(&rotation(retry)).await.unwrap();
    assert!(
        matches!(outcome, RotateOutcome::Rotated { .. }),
        "the presented token was left spent by the failed rotation: {outcome:?}"
    );
    let again = store.rotate_refresh_token(&rotation(retry)).await.unwrap();
    assert!(matches!(again, RotateOutcome::Reused { .. }), "{again:?}");
}

each_backend!(rolled_back, users());
