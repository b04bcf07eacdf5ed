//! While 8 tasks keep authenticating, a logout, a logout-all, a password change, a
//! deactivation and the replay of a spent refresh token each make the very next
//! `authenticate` of the affected tokens fail: on SQLite's inline read path and on its
//! fallback (every read through the pool), in memory and in a file, with opaque and JWT
//! access tokens (the JWT path reads `session_status`).
//!
//! On the inline path each "very next" call is shown to have been answered by a reader,
//! not by the fallback: the store's fallback count did not move across it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use auth_core::{AuthConfig, AuthError, TokenError};
use auth_facade::AuthService;
use auth_store_sqlx::{SqliteStore, StoreOptions};
use common::users;

const PASSWORD: &str = "SecurePass123!";
const NEW_PASSWORD: &str = "EvenBetterPass456?";
const LOAD_TASKS: usize = 8;
const ROUNDS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    Inline,
    Fallback,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tokens {
    Opaque,
    Jwt,
}

fn service(store: &SqliteStore, tokens: Tokens) -> AuthService {
    let config = AuthConfig::builder()
        .signing_secret("inline-reads-9b1d4e7a2f6c8d0e3a5b7f9c1e4d6a8b")
        .argon2(1, 1024, 1)
        .build()
        .unwrap();
    let mut builder = AuthService::builder(config).store(store.clone());
    if tokens == Tokens::Jwt {
        builder = builder.jwt(
            auth_facade::JwtConfig::hs256("inline-reads-jwt-key-0123456789abcdef0123")
                .build()
                .unwrap(),
        );
    }
    builder.build().unwrap()
}

/// Whether an `authenticate` outcome is the refusal a revocation must cause.
fn refused(r: &Result<auth_core::User, AuthError>) -> bool {
    matches!(
        r,
        Err(AuthError::Token(TokenError::Revoked | TokenError::Invalid) | AuthError::UserInactive)
    )
}

struct Check<'a> {
    auth: &'a AuthService,
    store: &'a SqliteStore,
    path: Path,
    /// Very-next calls the inline path answered itself.
    answered_inline: usize,
}

impl Check<'_> {
    /// The very next `authenticate` of `token` after a revocation: refused; on the inline
    /// path, answered by a reader (no fallback happened meanwhile, on any task).
    async fn refuses(&mut self, token: &str, what: &str) {
        let (_, fell_before) = self.store.fast_read_counts();
        let outcome = self.auth.authenticate(token).await;
        let (_, fell_after) = self.store.fast_read_counts();
        assert!(
            refused(&outcome),
            "{:?}: the very next authenticate after {what} was {outcome:?}",
            self.path
        );
        if self.path == Path::Inline && fell_after == fell_before {
            self.answered_inline += 1;
        }
    }

    async fn accepts(&self, token: &str, what: &str) {
        let outcome = self.auth.authenticate(token).await;
        assert!(outcome.is_ok(), "{:?}: {what}: {outcome:?}", self.path);
    }
}

async fn revocations_are_seen_at_once(store: SqliteStore, path: Path, tokens: Tokens) {
    let store = match path {
        Path::Inline => store,
        Path::Fallback => store.without_fast_reads(),
    };
    assert_eq!(store.has_fast_reads(), path == Path::Inline);
    let auth = service(&store, tokens);

    // The load: 8 tasks authenticating their own users' tokens until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for i in 0..LOAD_TASKS {
        let email = format!("load{i}@example.com");
        auth.register(&email, PASSWORD).await.unwrap();
        let access = auth.login(&email, PASSWORD).await.unwrap().access_token;
        let (auth, stop, calls) = (auth.clone(), stop.clone(), calls.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                auth.authenticate(&access)
                    .await
                    .expect("the load's token works");
                calls.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }

    let mut check = Check {
        auth: &auth,
        store: &store,
        path,
        answered_inline: 0,
    };
    for round in 0..ROUNDS {
        let email = format!("victim{round}@example.com");
        let user = auth.register(&email, PASSWORD).await.unwrap().id;

        // logout
        let a = auth.login(&email, PASSWORD).await.unwrap();
        check.accepts(&a.access_token, "before logout").await;
        auth.logout(&a.access_token).await.unwrap();
        check.refuses(&a.access_token, "logout").await;

        // logout_all
        let a = auth.login(&email, PASSWORD).await.unwrap();
        let b = auth.login(&email, PASSWORD).await.unwrap();
        check.accepts(&b.access_token, "before logout_all").await;
        auth.logout_all(&user).await.unwrap();
        check.refuses(&a.access_token, "logout_all").await;
        check.refuses(&b.access_token, "logout_all").await;

        // a password change ends the other sessions (the kept one stays)
        let (password, next) = (PASSWORD, NEW_PASSWORD);
        let kept = auth.login(&email, password).await.unwrap();
        let other = auth.login(&email, password).await.unwrap();
        check
            .accepts(&other.access_token, "before the change")
            .await;
        auth.change_password(&user, password, next, Some(&kept.session_id))
            .await
            .unwrap();
        check
            .refuses(&other.access_token, "a password change")
            .await;
        check.accepts(&kept.access_token, "the kept session").await;
        auth.change_password(&user, next, password, Some(&kept.session_id))
            .await
            .unwrap();

        // the replay of a spent refresh token revokes the session, successor included
        let a = auth.login(&email, PASSWORD).await.unwrap();
        let next = auth.refresh(&a.refresh_token).await.unwrap();
        check.accepts(&next.access_token, "the successor").await;
        let replay = auth.refresh(&a.refresh_token).await;
        assert!(
            matches!(replay, Err(AuthError::Token(TokenError::Revoked))),
            "{replay:?}"
        );
        check
            .refuses(&next.access_token, "a refresh-token replay")
            .await;
        check
            .refuses(&a.access_token, "a refresh-token replay")
            .await;

        // deactivation (last: the user stays inactive)
        let a = auth.login(&email, PASSWORD).await.unwrap();
        check.accepts(&a.access_token, "before deactivation").await;
        auth.set_active(&user, false).await.unwrap();
        check.refuses(&a.access_token, "a deactivation").await;
        check.refuses(&kept.access_token, "a deactivation").await;
    }

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let very_next = ROUNDS * 8;
    let (served, fell) = store.fast_read_counts();
    eprintln!(
        "{path:?} {tokens:?}: {} load calls; {very_next} very-next checks, {} answered \
         inline; inline path served {served}, fell back {fell}",
        calls.load(Ordering::Relaxed),
        check.answered_inline
    );
    assert!(calls.load(Ordering::Relaxed) > 0);
    match path {
        Path::Inline => {
            // Nothing in this test holds a write transaction while a check runs: every
            // very-next call is answered by a reader.
            assert_eq!(check.answered_inline, very_next, "answered inline");
            assert!(served > 0);
        }
        Path::Fallback => assert_eq!((served, fell), (0, 0)),
    }
}

async fn memory() -> SqliteStore {
    common::sqlite_memory(users()).await
}

async fn file() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let store = SqliteStore::connect_with(&url, users(), StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

macro_rules! cases {
    ($($name:ident: $db:ident, $path:ident, $tokens:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            cases!(@run $db, Path::$path, Tokens::$tokens);
        }
    )*};
    (@run memory, $path:expr, $tokens:expr) => {
        revocations_are_seen_at_once(memory().await, $path, $tokens).await
    };
    (@run file, $path:expr, $tokens:expr) => {{
        let (store, _dir) = file().await;
        revocations_are_seen_at_once(store, $path, $tokens).await
    }};
}

cases! {
    memory_inline_opaque: memory, Inline, Opaque;
    memory_inline_jwt: memory, Inline, Jwt;
    memory_fallback_opaque: memory, Fallback, Opaque;
    memory_fallback_jwt: memory, Fallback, Jwt;
    file_inline_opaque: file, Inline, Opaque;
    file_inline_jwt: file, Inline, Jwt;
    file_fallback_opaque: file, Fallback, Opaque;
    file_fallback_jwt: file, Fallback, Jwt;
}
