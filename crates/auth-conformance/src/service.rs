//! Service-level checks (feature `service`): the rules that only show when a whole
//! `AuthService` runs on a store — races between requests, several service instances on
//! one database, what a dump of the database holds — run on every store and on both
//! token backends (opaque and JWT).
//!
//! A store's test implements [`ServiceFactory`] and calls [`run_service`], which prints one
//! line per token backend: `conformance <name>/service-opaque: N passed` and
//! `conformance <name>/service-jwt: N passed`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthError, IdKind, ManualClock, OffsetDateTime, TokenError, UserId, UserStore,
};
use auth_facade::crates::hash::{HashError, MultiHasher, PasswordHasher, Verification};
use auth_facade::{AuthService, AuthServiceBuilder, Store};

use crate::runner::{Check, run};

/// Makes the stores the service checks run on.
#[async_trait::async_trait]
pub trait ServiceFactory: Send + Sync {
    /// The store under test: one object for users, sessions, tokens and rate limits.
    type Store: Store + Clone;

    /// A migrated store of its own for one check (own schema, database or table prefix).
    async fn create(&self) -> Self::Store;

    /// A second handle on the same database and tables with its own connections, as a
    /// second instance of the service would open.
    async fn second_instance(&self, store: &Self::Store) -> Self::Store;

    /// Every value of every table the store writes, as text (binary values as lossy text
    /// and as hex), for the "no raw token is stored" check.
    async fn dump(&self, store: &Self::Store) -> String;

    /// The key kind of the store's users (for the JWT backend's `sub`).
    fn id_kind(&self) -> IdKind {
        IdKind::Integer
    }
}

/// The token backend a service check runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Database-backed opaque access tokens.
    Opaque,
    /// HS256 JWT access tokens checked against the session on every request.
    Jwt,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Opaque => "opaque",
            Backend::Jwt => "jwt",
        }
    }
}

const SECRET: &str = "conformance-5b0c7f2e9a4d1c8e3f6a0b7d2e9c4f1a";
const JWT_KEY: &str = "conformance-jwt-8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c";
const PASSWORD: &str = "SecurePass123!";

fn config(
    adjust: impl FnOnce(auth_core::AuthConfigBuilder) -> auth_core::AuthConfigBuilder,
) -> AuthConfig {
    adjust(
        AuthConfig::builder()
            .signing_secret(SECRET)
            .argon2(1, 1024, 1),
    )
    .build()
    .expect("a valid test configuration")
}

/// A service on `store` with `backend`, a manual clock and the test configuration.
fn service<S: Store + Clone>(
    store: &S,
    backend: Backend,
    id_kind: IdKind,
    config: AuthConfig,
    clock: Arc<ManualClock>,
    adjust: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> AuthService {
    let mut builder = AuthService::builder(config)
        .store(store.clone())
        .clock(clock);
    if backend == Backend::Jwt {
        let jwt = auth_facade::JwtConfig::hs256(JWT_KEY)
            .id_kind(id_kind)
            .build()
            .expect("a valid JWT configuration");
        builder = builder.jwt(jwt);
    }
    adjust(builder).build().expect("the service builds")
}

/// One store, one or two services on it, a shared clock.
struct Setup<S> {
    store: S,
    auth: AuthService,
    clock: Arc<ManualClock>,
    backend: Backend,
    id_kind: IdKind,
}

async fn setup<F: ServiceFactory>(factory: &F, backend: Backend) -> Setup<F::Store> {
    setup_with(factory, backend, config(|b| b), |b| b).await
}

async fn setup_with<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
    config: AuthConfig,
    adjust: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> Setup<F::Store> {
    let store = factory.create().await;
    let clock = Arc::new(ManualClock::starting_now());
    let auth = service(
        &store,
        backend,
        factory.id_kind(),
        config,
        clock.clone(),
        adjust,
    );
    Setup {
        store,
        auth,
        clock,
        backend,
        id_kind: factory.id_kind(),
    }
}

impl<S: Store + Clone> Setup<S> {
    /// A second service instance with its own connections on the same database.
    async fn second<F: ServiceFactory<Store = S>>(&self, factory: &F) -> AuthService {
        let other = factory.second_instance(&self.store).await;
        service(
            &other,
            self.backend,
            self.id_kind,
            config(|b| b),
            self.clock.clone(),
            |b| b,
        )
    }

    async fn user(&self, tag: &str) -> (auth_core::User, String) {
        let email = format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple());
        let user = self
            .auth
            .register(&email, PASSWORD)
            .await
            .expect("register");
        (user, email)
    }

    fn now(&self) -> OffsetDateTime {
        auth_core::Clock::now(self.clock.as_ref())
    }
}

fn is_token(err: &AuthError) -> bool {
    matches!(err, AuthError::Token(_))
}

/// The user can log in, authenticate, refresh, and log out; the Quick Start on this store.
pub async fn quick_start_round_trip<F: ServiceFactory>(factory: &F, backend: Backend) {
    let s = setup(factory, backend).await;
    let (user, email) = s.user("quick").await;
    let result = s
        .auth
        .login(&email.to_uppercase(), PASSWORD)
        .await
        .expect("login");
    assert_eq!(result.user.id, user.id);
    assert_eq!(
        s.auth
            .authenticate(&result.access_token)
            .await
            .expect("authenticate")
            .id,
        user.id
    );
    let pair = s
        .auth
        .refresh(&result.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(
        s.auth
            .authenticate(&pair.access_token)
            .await
            .expect("new access")
            .id,
        user.id
    );
    s.auth.logout(&pair.access_token).await.expect("logout");
    let err = s.auth.authenticate(&pair.access_token).await.unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::Revoked)),
        "after logout: {err:?}"
    );
    assert!(
        s.auth.refresh(&pair.refresh_token).await.is_err(),
        "refresh after logout"
    );
}

/// Rotation chains; a replayed spent token revokes the family, successors included; an
/// access token is no refresh token and the reverse.
pub async fn rotation_chain_and_reuse_revokes_the_family<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup(factory, backend).await;
    let (_, email) = s.user("chain").await;
    let first = s.auth.login(&email, PASSWORD).await.unwrap();
    assert!(
        s.auth.refresh(&first.access_token).await.is_err(),
        "access token refreshed"
    );
    assert!(
        s.auth.authenticate(&first.refresh_token).await.is_err(),
        "refresh token authenticated"
    );
    let second = s.auth.refresh(&first.refresh_token).await.unwrap();
    let third = s.auth.refresh(&second.refresh_token).await.unwrap();
    s.auth.authenticate(&third.access_token).await.unwrap();
    let replay = s.auth.refresh(&first.refresh_token).await.unwrap_err();
    assert!(
        matches!(replay, AuthError::Token(TokenError::Revoked)),
        "{replay:?}"
    );
    for token in [&second.access_token, &third.access_token] {
        assert!(
            s.auth.authenticate(token).await.is_err(),
            "a successor survived reuse"
        );
    }
    assert!(
        s.auth.refresh(&third.refresh_token).await.is_err(),
        "the head survived reuse"
    );
}

/// Fifty tasks refresh one token at once, twenty times: exactly one wins each time.
pub async fn concurrent_refresh_has_exactly_one_winner<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup(factory, backend).await;
    let (_, email) = s.user("race").await;
    for round in 0..20 {
        let result = s.auth.login(&email, PASSWORD).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (auth, token, barrier) = (
                    s.auth.clone(),
                    result.refresh_token.clone(),
                    barrier.clone(),
                );
                tokio::spawn(async move {
                    barrier.wait().await;
                    auth.refresh(&token).await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => wins += 1,
                Err(e) if is_token(&e) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        assert_eq!(
            wins, 1,
            "round {round}: {wins} refreshes of one token succeeded"
        );
    }
}

/// `logout_all` racing a refresh: once both finish, no token of the user works.
pub async fn logout_all_racing_refresh_leaves_no_live_token<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup(factory, backend).await;
    let (user, email) = s.user("revoke-race").await;
    for _ in 0..20 {
        let result = s.auth.login(&email, PASSWORD).await.unwrap();
        let (auth, token) = (s.auth.clone(), result.refresh_token.clone());
        let refresh = tokio::spawn(async move { auth.refresh(&token).await });
        let (auth, id) = (s.auth.clone(), user.id);
        let revoke = tokio::spawn(async move { auth.logout_all(&id).await });
        revoke.await.unwrap().expect("logout_all");
        if let Ok(pair) = refresh.await.unwrap() {
            assert!(
                s.auth.authenticate(&pair.access_token).await.is_err(),
                "a successor minted in the race works"
            );
            assert!(
                s.auth.refresh(&pair.refresh_token).await.is_err(),
                "a successor refresh token works"
            );
        }
        assert!(s.auth.authenticate(&result.access_token).await.is_err());
        assert!(s.auth.sessions().list(&user.id).await.unwrap().is_empty());
    }
}

/// Logout on one instance, password change on another: the other instance's very next
/// call sees it; rate limits are shared.
pub async fn instances_share_revocations_and_rate_limits<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup(factory, backend).await;
    let other = s.second(factory).await;
    let (user, email) = s.user("instances").await;
    let a = s.auth.login(&email, PASSWORD).await.unwrap();
    other
        .authenticate(&a.access_token)
        .await
        .expect("the other instance accepts it");
    s.auth.logout(&a.access_token).await.unwrap();
    assert!(
        other.authenticate(&a.access_token).await.is_err(),
        "logout not seen by the other instance"
    );

    let b = other.login(&email, PASSWORD).await.unwrap();
    s.auth.authenticate(&b.access_token).await.unwrap();
    s.auth
        .set_password(&user.id, "another-fine-passphrase")
        .await
        .unwrap();
    assert!(
        other.authenticate(&b.access_token).await.is_err(),
        "password change not seen"
    );
    assert!(other.refresh(&b.refresh_token).await.is_err());

    for i in 0..5 {
        let auth = if i % 2 == 0 { &s.auth } else { &other };
        assert!(matches!(
            auth.login(&email, "wrong").await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(
        matches!(
            other.login(&email, "another-fine-passphrase").await,
            Err(AuthError::RateLimited { .. })
        ),
        "the lockout is not shared between instances"
    );
}

/// Stops inside the next `verify` (after computing it) until released.
struct PausingHasher {
    inner: MultiHasher,
    armed: AtomicBool,
    entered: tokio::sync::Notify,
    release: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl PasswordHasher for PausingHasher {
    fn hash(&self, p: &str) -> Result<String, HashError> {
        self.inner.hash(p)
    }
    fn verify(&self, p: &str, e: &str) -> Result<Verification, HashError> {
        let result = self.inner.verify(p, e);
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            if let Some(rx) = self
                .release
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                let _ = rx.recv();
            }
        }
        result
    }
    fn dummy_verify(&self, p: &str) {
        self.inner.dummy_verify(p)
    }
}

/// What lands in the middle of a login, in [`login_straddling_a_change_keeps_no_session`].
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// `set_password`.
    Password,
    /// `set_active(false)`.
    Deactivation,
    /// `delete_user`.
    Deletion,
}

/// A password change, deactivation or deletion that lands between a login's password
/// check and its session write leaves no session behind (issue 6, defect 2).
pub async fn login_straddling_a_change_keeps_no_session<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
    change: Change,
) {
    let config = config(|b| b);
    let (tx, rx) = std::sync::mpsc::channel();
    let hasher = Arc::new(PausingHasher {
        inner: MultiHasher::new(auth_facade::hasher_config(&config)).unwrap(),
        armed: AtomicBool::new(false),
        entered: tokio::sync::Notify::new(),
        release: std::sync::Mutex::new(Some(rx)),
    });
    let h = hasher.clone();
    let s = setup_with(factory, backend, config, move |b| b.hasher(h)).await;
    let (user, email) = s.user("straddle").await;
    hasher.armed.store(true, Ordering::SeqCst);
    let (auth, e) = (s.auth.clone(), email.clone());
    let login = tokio::spawn(async move { auth.login(&e, PASSWORD).await });
    hasher.entered.notified().await;
    match change {
        Change::Password => s
            .auth
            .set_password(&user.id, "another-fine-passphrase")
            .await
            .unwrap(),
        Change::Deactivation => s.auth.set_active(&user.id, false).await.unwrap(),
        Change::Deletion => s.auth.delete_user(&user.id).await.unwrap(),
    }
    tx.send(()).unwrap();
    match login.await.unwrap() {
        Err(AuthError::InvalidCredentials) => {}
        Err(other) => panic!("{change:?}: unexpected {other:?}"),
        Ok(result) => panic!(
            "{change:?}: a login that verified stale credentials got a session (refresh: {:?})",
            s.auth.refresh(&result.refresh_token).await.map(|_| ())
        ),
    }
    if let Change::Deactivation = change {
        s.auth.set_active(&user.id, true).await.unwrap();
    }
    assert!(
        s.auth
            .sessions()
            .list(&user.id)
            .await
            .unwrap_or_default()
            .is_empty(),
        "{change:?}: a session survived"
    );
}

/// A user deactivated or deleted by the application's own writes (straight to the store)
/// cannot refresh, and their access tokens stop working.
pub async fn users_changed_behind_the_services_back_lose_their_sessions<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup(factory, backend).await;
    let (user, email) = s.user("app-sql").await;
    let result = s.auth.login(&email, PASSWORD).await.unwrap();
    s.store.set_active(&user.id, false, s.now()).await.unwrap();
    assert!(matches!(
        s.auth.authenticate(&result.access_token).await,
        Err(AuthError::UserInactive) | Err(AuthError::Token(_))
    ));
    assert!(
        s.auth.refresh(&result.refresh_token).await.is_err(),
        "an inactive user got a new pair"
    );
    s.store.set_active(&user.id, true, s.now()).await.unwrap();
    assert!(
        s.auth.authenticate(&result.access_token).await.is_err(),
        "the session revived on reactivation"
    );

    let (gone, email) = s.user("app-delete").await;
    let result = s.auth.login(&email, PASSWORD).await.unwrap();
    assert!(s.store.delete_user(&gone.id).await.unwrap());
    assert!(
        s.auth.authenticate(&result.access_token).await.is_err(),
        "a deleted user's token works"
    );
    assert!(
        s.auth.refresh(&result.refresh_token).await.is_err(),
        "a deleted user's refresh works"
    );
    // A new user never inherits anything of the deleted one.
    let (newcomer, email) = s.user("newcomer").await;
    assert_ne!(newcomer.id, UserId::Int(-1));
    let fresh = s.auth.login(&email, PASSWORD).await.unwrap();
    assert_eq!(
        s.auth.authenticate(&fresh.access_token).await.unwrap().id,
        newcomer.id
    );
    assert!(s.auth.authenticate(&result.access_token).await.is_err());
}

/// The grace window returns the same pair to a replay of the immediate predecessor; a
/// second-generation replay revokes the family.
pub async fn grace_window_replays_only_the_predecessor<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup_with(
        factory,
        backend,
        config(|b| b.refresh_grace(Duration::from_secs(30))),
        |b| b,
    )
    .await;
    let (_, email) = s.user("grace").await;
    let first = s.auth.login(&email, PASSWORD).await.unwrap();
    let second = s.auth.refresh(&first.refresh_token).await.unwrap();
    s.clock.advance(Duration::from_secs(5));
    let replay = s
        .auth
        .refresh(&first.refresh_token)
        .await
        .expect("replay within the window");
    assert_eq!(
        replay, second,
        "the replay did not return the pair already issued"
    );
    let third = s.auth.refresh(&second.refresh_token).await.unwrap();
    let old = s.auth.refresh(&first.refresh_token).await.unwrap_err();
    assert!(
        matches!(old, AuthError::Token(TokenError::Revoked)),
        "{old:?}"
    );
    assert!(
        s.auth.authenticate(&third.access_token).await.is_err(),
        "the family survived a second-generation replay"
    );
}

/// Expiry boundaries with the injected clock: access tokens at exp-1s and exp; the
/// absolute session lifetime caps rotation.
pub async fn expiry_and_absolute_lifetime_boundaries<F: ServiceFactory>(
    factory: &F,
    backend: Backend,
) {
    let s = setup_with(
        factory,
        backend,
        config(|b| b.max_session_lifetime(Duration::from_secs(2 * 86_400))),
        |b| b,
    )
    .await;
    let (_, email) = s.user("expiry").await;
    let result = s.auth.login(&email, PASSWORD).await.unwrap();
    s.clock.advance(Duration::from_secs(899));
    s.auth
        .authenticate(&result.access_token)
        .await
        .expect("valid at exp - 1 s");
    s.clock.advance(Duration::from_secs(1));
    let err = s.auth.authenticate(&result.access_token).await.unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::Expired)),
        "at exp: {err:?}"
    );
    let mut refresh = result.refresh_token;
    for _ in 0..3 {
        s.clock.advance(Duration::from_secs(12 * 3_600));
        let issued = s
            .auth
            .sessions()
            .refresh(&refresh)
            .await
            .expect("refresh within the lifetime");
        assert!(
            issued.refresh_expires_at
                <= result.user.last_login.unwrap() + Duration::from_secs(2 * 86_400)
        );
        refresh = issued.pair.refresh_token;
    }
    s.clock.advance(Duration::from_secs(12 * 3_600));
    let err = s.auth.refresh(&refresh).await.unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::Expired)),
        "past the absolute end: {err:?}"
    );
}

/// No column of any table holds a raw token, or any 8-character piece of one, after
/// issue, refresh, reset request and revocation.
pub async fn no_raw_token_is_stored<F: ServiceFactory>(factory: &F, backend: Backend) {
    let s = setup(factory, backend).await;
    let (user, email) = s.user("scan").await;
    let first = s.auth.login(&email, PASSWORD).await.unwrap();
    let second = s.auth.refresh(&first.refresh_token).await.unwrap();
    let _ = s.auth.refresh(&first.refresh_token).await;
    let third = s.auth.login(&email, PASSWORD).await.unwrap();
    s.auth.logout(&third.access_token).await.unwrap();
    s.auth.logout_all(&user.id).await.unwrap();
    let dump = factory.dump(&s.store).await;
    assert!(dump.contains(&email), "the dump must see the user table");
    assert!(!dump.contains(PASSWORD));
    for token in [
        &first.access_token,
        &first.refresh_token,
        &second.access_token,
        &second.refresh_token,
        &third.access_token,
        &third.refresh_token,
    ] {
        // JWTs carry public claims (their header and payload are not secret); the rule is
        // about what would let someone authenticate: the random part of opaque tokens and
        // a JWT's signature.
        let secret_part = match token.rsplit_once('.') {
            Some((_, signature)) => signature,
            None => &token[4..],
        };
        for start in 0..secret_part.len().saturating_sub(8) {
            let piece = &secret_part[start..start + 8];
            assert!(
                !dump.contains(piece),
                "a piece of a token is stored: {piece}"
            );
        }
    }
}

/// Emails are one account whatever their ASCII letter case, on this store.
pub async fn email_case_is_one_account<F: ServiceFactory>(factory: &F, backend: Backend) {
    let s = setup(factory, backend).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("Case-{tag}@Example.COM");
    let user = s.auth.register(&email, PASSWORD).await.unwrap();
    assert_eq!(user.email, email.to_ascii_lowercase());
    assert!(matches!(
        s.auth.register(&email.to_ascii_lowercase(), PASSWORD).await,
        Err(AuthError::UserExists)
    ));
    assert_eq!(
        s.auth
            .login(&email.to_ascii_uppercase(), PASSWORD)
            .await
            .unwrap()
            .user
            .id,
        user.id
    );
}

fn checks_for<'a, F: ServiceFactory>(factory: &'a F, backend: Backend) -> Vec<Check<'a>> {
    use futures::FutureExt as _;
    let suite = match backend {
        Backend::Opaque => "service_opaque",
        Backend::Jwt => "service_jwt",
    };
    macro_rules! check {
        ($name:ident $(, $arg:expr)*) => {
            Check::new(suite, stringify!($name), $name(factory, backend $(, $arg)*).boxed())
        };
    }
    vec![
        check!(quick_start_round_trip),
        check!(rotation_chain_and_reuse_revokes_the_family),
        check!(concurrent_refresh_has_exactly_one_winner),
        check!(logout_all_racing_refresh_leaves_no_live_token),
        check!(instances_share_revocations_and_rate_limits),
        Check::new(
            suite,
            "login_straddling_a_password_change_keeps_no_session",
            login_straddling_a_change_keeps_no_session(factory, backend, Change::Password).boxed(),
        ),
        Check::new(
            suite,
            "login_straddling_a_deactivation_keeps_no_session",
            login_straddling_a_change_keeps_no_session(factory, backend, Change::Deactivation)
                .boxed(),
        ),
        Check::new(
            suite,
            "login_straddling_a_deletion_keeps_no_session",
            login_straddling_a_change_keeps_no_session(factory, backend, Change::Deletion).boxed(),
        ),
        check!(users_changed_behind_the_services_back_lose_their_sessions),
        check!(grace_window_replays_only_the_predecessor),
        check!(expiry_and_absolute_lifetime_boundaries),
        check!(no_raw_token_is_stored),
        check!(email_case_is_one_account),
    ]
}

/// Every service check with `backend`.
pub fn checks<F: ServiceFactory>(factory: &F, backend: Backend) -> Vec<Check<'_>> {
    checks_for(factory, backend)
}

/// Runs the service checks with both token backends, printing one line per backend:
/// `conformance <name>/service-opaque: N passed`, `conformance <name>/service-jwt: N passed`.
pub async fn run_service<F: ServiceFactory>(name: &str, factory: &F) {
    for backend in [Backend::Opaque, Backend::Jwt] {
        run(
            &format!("{name}/service-{}", backend.name()),
            checks(factory, backend),
        )
        .await;
    }
}
