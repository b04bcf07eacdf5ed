//! [`AuthService`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthError, Authenticated, Clock, ConfigError, CredentialStore, ExpiredDeletion,
    MemoryRateLimiter, Notifier, RateLimiter, SessionId, SessionStore, SingleUseTokenStore,
    SystemClock, TokenBackend, TokenPair, User, UserId, UserStore,
};
use auth_events::{AuthEvent, EventBus};
use auth_hash::{
    Argon2Params, HasherConfig, HashingPool, MultiHasher, PasswordHasher, PasswordPolicy,
};
use auth_tokens::OpaqueTokenBackend;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::core::Core;
use crate::passwords::Passwords;
use crate::recovery::Recovery;
use crate::service_tokens::{ServicePrincipal, ServiceTokens};
use crate::sessions::{AuthResult, Sessions};
use crate::users::Users;

/// Everything one database store provides: users, sessions, single-use tokens, cleanup,
/// rate limiting, and credential changes that end sessions in the same transaction. Every
/// store of this project implements it (blanket impl), and so does
/// `auth_conformance::MemoryStore`.
pub trait Store:
    UserStore
    + CredentialStore
    + SessionStore
    + SingleUseTokenStore
    + ExpiredDeletion
    + RateLimiter
    + 'static
{
}

impl<S> Store for S where
    S: UserStore
        + CredentialStore
        + SessionStore
        + SingleUseTokenStore
        + ExpiredDeletion
        + RateLimiter
        + 'static
{
}

/// The entry point: every authentication operation. Cheap to clone (shared state behind an
/// `Arc`), so put one in your application state.
///
/// The work is done by sub-services with one job each, reached from here:
/// [`users`](Self::users), [`passwords`](Self::passwords), [`sessions`](Self::sessions),
/// [`recovery`](Self::recovery). The reference's method names ([`login`](Self::login),
/// [`authenticate`](Self::authenticate), [`refresh`](Self::refresh), ...) are kept here as
/// thin delegations.
#[derive(Clone)]
pub struct AuthService {
    core: Arc<Core>,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.core.config)
            .field("events", &self.core.events)
            .finish_non_exhaustive()
    }
}

type BackendWrapper = Box<dyn FnOnce(Arc<dyn TokenBackend>) -> Arc<dyn TokenBackend> + Send>;

/// Assembles an [`AuthService`]. The usual call is [`store`](Self::store) with one
/// database store; the other setters swap single parts.
pub struct AuthServiceBuilder {
    config: AuthConfig,
    users: Option<Arc<dyn UserStore>>,
    credentials: Option<Arc<dyn CredentialStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    deletion: Option<Arc<dyn ExpiredDeletion>>,
    single_use: Option<Arc<dyn SingleUseTokenStore>>,
    limiter: Option<Arc<dyn RateLimiter>>,
    backend: Option<Arc<dyn TokenBackend>>,
    #[cfg(feature = "jwt")]
    jwt: Option<auth_tokens::JwtConfig>,
    wrap_backend: Option<BackendWrapper>,
    notifier: Option<Arc<dyn Notifier>>,
    hasher: Option<Arc<dyn PasswordHasher>>,
    policy: Option<PasswordPolicy>,
    events: EventBus,
    clock: Arc<dyn Clock>,
    service_tokens: ServiceTokens,
}

impl fmt::Debug for AuthServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServiceBuilder")
            .field("config", &self.config)
            .field("has_user_store", &self.users.is_some())
            .field("has_session_store", &self.sessions.is_some())
            .field("has_token_backend", &self.backend.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthServiceBuilder {
    /// One store for everything: users, sessions, single-use tokens, cleanup and rate
    /// limiting (shared by every instance on the same database). Credential changes end
    /// sessions in the same transaction.
    pub fn store<S: Store>(mut self, store: S) -> Self {
        let store = Arc::new(store);
        self.users = Some(store.clone());
        self.credentials = Some(store.clone());
        self.sessions = Some(store.clone());
        self.deletion = Some(store.clone());
        self.single_use = Some(store.clone());
        self.limiter = Some(store);
        self
    }

    /// Users from this store (the rest from elsewhere). Credential changes then write the
    /// user first and end sessions through the token backend after.
    pub fn user_store(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self.credentials = None;
        self
    }

    /// Sessions and their token digests from this store, for the default token backend
    /// (with `deletion` for [`cleanup_expired`](Sessions::cleanup_expired), if it can).
    pub fn session_store(
        mut self,
        sessions: Arc<dyn SessionStore>,
        deletion: Option<Arc<dyn ExpiredDeletion>>,
    ) -> Self {
        self.sessions = Some(sessions);
        self.deletion = deletion;
        self.credentials = None;
        self
    }

    /// Password-reset and verification tokens from this store.
    pub fn single_use_store(mut self, store: Arc<dyn SingleUseTokenStore>) -> Self {
        self.single_use = Some(store);
        self
    }

    /// The rate limiter (default: the store's; without a store, an in-memory one, which
    /// is for a single instance only).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// A token backend of your own, fully in charge of sessions (issue, verify, refresh,
    /// logout, listing, revoking, cleanup); no session store is needed then.
    pub fn token_backend(mut self, backend: Arc<dyn TokenBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// JWT access tokens (HS256/384/512, RS256 or EdDSA, as `config` says) instead of
    /// opaque ones, on the session store: refresh tokens stay opaque and rotate with reuse
    /// detection; by default every request checks the session's status, so revocation is
    /// immediate (see [`auth_tokens::RevocationMode`]).
    #[cfg(feature = "jwt")]
    pub fn jwt(mut self, config: auth_tokens::JwtConfig) -> Self {
        self.jwt = Some(config);
        self
    }

    /// Wraps whatever backend the builder would use (the default opaque one on the
    /// store, or the one given) in your own, e.g. to log or meter it, with no copy of its
    /// constructor.
    pub fn wrap_token_backend(
        mut self,
        wrap: impl FnOnce(Arc<dyn TokenBackend>) -> Arc<dyn TokenBackend> + Send + 'static,
    ) -> Self {
        self.wrap_backend = Some(Box::new(wrap));
        self
    }

    /// Delivers password-reset and verification tokens (default: none, and a warning
    /// each time one cannot be sent). [`ConsoleNotifier`](crate::ConsoleNotifier) prints
    /// them for development.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// A different password hasher (default: [`MultiHasher`] with the config's Argon2id
    /// parameters).
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// The password policy for registration, password changes and resets (default: the
    /// reference's four validators, with the config's maximum length).
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The event bus to emit to (default: a new bus; reach it with
    /// [`AuthService::events`]).
    pub fn events(mut self, events: EventBus) -> Self {
        self.events = events;
        self
    }

    /// The clock for every expiry decision (default: the system clock; tests pass a
    /// [`ManualClock`](auth_core::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Service-to-service tokens accepted by
    /// [`AuthService::authenticate_service`] (default: none;
    /// [`ServiceTokens::from_env`] reads `AUTH_SERVICE_TOKENS`).
    pub fn service_tokens(mut self, tokens: ServiceTokens) -> Self {
        self.service_tokens = tokens;
        self
    }

    /// Checks the parts and builds the service.
    pub fn build(self) -> Result<AuthService, AuthError> {
        let missing = |setting: &'static str, reason: &str| ConfigError::Invalid {
            setting,
            reason: reason.into(),
        };
        let users = self.users.ok_or_else(|| {
            missing(
                "store",
                "an AuthService needs a user store (AuthServiceBuilder::store or ::user_store)",
            )
        })?;
        let config = self.config;
        let backend: Arc<dyn TokenBackend> = match (self.backend, self.sessions) {
            (Some(backend), _) => backend,
            #[cfg(feature = "jwt")]
            (None, Some(sessions)) if self.jwt.is_some() => {
                let jwt = self.jwt.expect("checked");
                let mut backend = auth_tokens::JwtBackend::new(
                    sessions,
                    self.clock.clone(),
                    config.session_policy(),
                    jwt,
                );
                if let Some(deletion) = self.deletion {
                    backend = backend.with_expired_deletion(deletion);
                }
                Arc::new(backend)
            }
            (None, Some(sessions)) => {
                let mut opaque =
                    OpaqueTokenBackend::new(sessions, self.clock.clone(), config.session_policy());
                if let Some(deletion) = self.deletion {
                    opaque = opaque.with_expired_deletion(deletion);
                }
                Arc::new(opaque)
            }
            (None, None) => {
                return Err(missing(
                    "token_backend",
                    "the default token backend needs a session store \
                     (AuthServiceBuilder::store or ::session_store), or give a token_backend",
                )
                .into());
            }
        };
        let backend = match self.wrap_backend {
            Some(wrap) => wrap(backend),
            None => backend,
        };
        let hasher = match self.hasher {
            Some(hasher) => hasher,
            None => Arc::new(MultiHasher::new(hasher_config(&config)).map_err(|e| {
                ConfigError::Invalid {
                    setting: "argon2",
                    reason: e.to_string(),
                }
            })?) as Arc<dyn PasswordHasher>,
        };
        let hashing = HashingPool::new(hasher, config.hashing_concurrency())
            .with_queue_timeout(config.hashing_queue_timeout());
        let policy = self.policy.unwrap_or_else(|| {
            PasswordPolicy::builder()
                .max_length(Some(config.max_password_length()))
                .build()
        });
        let limiter = self.limiter.unwrap_or_else(|| {
            tracing::info!("no rate limiter given: counting in memory (single instance only)");
            Arc::new(MemoryRateLimiter::default())
        });
        Ok(AuthService {
            core: Arc::new(Core {
                config,
                users,
                credentials: self.credentials,
                single_use: self.single_use,
                backend,
                limiter: Some(limiter),
                notifier: self.notifier,
                hashing,
                policy,
                events: self.events,
                clock: self.clock,
                service_tokens: self.service_tokens,
                background: TaskTracker::new(),
                deliveries: Arc::new(Semaphore::new(crate::core::MAX_PENDING_DELIVERIES)),
            }),
        })
    }
}

impl AuthService {
    /// A builder for a service with `config`.
    pub fn builder(config: AuthConfig) -> AuthServiceBuilder {
        AuthServiceBuilder {
            config,
            users: None,
            credentials: None,
            sessions: None,
            deletion: None,
            single_use: None,
            limiter: None,
            backend: None,
            #[cfg(feature = "jwt")]
            jwt: None,
            wrap_backend: None,
            notifier: None,
            hasher: None,
            policy: None,
            events: EventBus::new(),
            clock: Arc::new(SystemClock),
            service_tokens: ServiceTokens::none(),
        }
    }

    /// A service with `config` on `store`, with every other part at its default.
    pub fn new<S: Store>(config: AuthConfig, store: S) -> Result<Self, AuthError> {
        Self::builder(config).store(store).build()
    }

    /// Users: create, register, find, activate, delete.
    pub fn users(&self) -> Users<'_> {
        Users { core: &self.core }
    }

    /// Passwords: set, change, check, validate.
    pub fn passwords(&self) -> Passwords<'_> {
        Passwords { core: &self.core }
    }

    /// Sessions: login, authenticate, refresh, logout, list, revoke, cleanup.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { core: &self.core }
    }

    /// Password reset and email verification.
    pub fn recovery(&self) -> Recovery<'_> {
        Recovery { core: &self.core }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.core.config
    }

    /// The event bus: subscribe listeners here.
    pub fn events(&self) -> &EventBus {
        &self.core.events
    }

    /// The hashing pool (to hash or verify outside the user table).
    pub fn hashing(&self) -> &HashingPool {
        &self.core.hashing
    }

    /// The token backend in use.
    pub fn token_backend(&self) -> &Arc<dyn TokenBackend> {
        &self.core.backend
    }

    /// The rate limiter the service counts with (the store's by default), for
    /// application-level limits such as `auth_axum::RateLimitLayer`.
    pub fn rate_limiter(&self) -> Option<&Arc<dyn RateLimiter>> {
        self.core.limiter.as_ref()
    }

    /// The clock of every expiry decision.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.core.clock
    }

    /// Waits until the work started off the request path (notifications, background
    /// listeners) so far is done: for tests and graceful shutdown.
    pub async fn wait_for_background(&self) {
        let tracker = &self.core.background;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
        self.core.events.flush().await;
    }

    /// Runs [`cleanup_expired`](Sessions::cleanup_expired) every `every` on the current
    /// tokio runtime until the handle is aborted (or the runtime stops); failures are
    /// logged and retried at the next tick.
    pub fn spawn_cleanup(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let auth = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match auth.sessions().cleanup_expired().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "expired sessions and tokens deleted"),
                    Err(error) => tracing::warn!(%error, "cleanup of expired rows failed"),
                }
            }
        })
    }

    // -- The reference's names, as thin delegations ------------------------------------

    /// [`Users::create`].
    pub async fn create_user(&self, email: &str) -> Result<User, AuthError> {
        self.users().create(email).await
    }

    /// [`Users::register`].
    pub async fn register(&self, email: &str, password: &str) -> Result<User, AuthError> {
        self.users().register(email, password).await
    }

    /// [`Users::find`].
    pub async fn find_user(&self, user_id: &UserId) -> Result<Option<User>, AuthError> {
        self.users().find(user_id).await
    }

    /// [`Users::set_active`].
    pub async fn set_active(&self, user_id: &UserId, active: bool) -> Result<(), AuthError> {
        self.users().set_active(user_id, active).await
    }

    /// [`Users::delete`].
    pub async fn delete_user(&self, user_id: &UserId) -> Result<(), AuthError> {
        self.users().delete(user_id).await
    }

    /// [`Passwords::set`].
    pub async fn set_password(&self, user_id: &UserId, password: &str) -> Result<(), AuthError> {
        self.passwords().set(user_id, password).await
    }

    /// [`Passwords::check`].
    pub async fn check_password(
        &self,
        user_id: &UserId,
        password: &str,
    ) -> Result<bool, AuthError> {
        self.passwords().check(user_id, password).await
    }

    /// [`Passwords::change`].
    pub async fn change_password(
        &self,
        user_id: &UserId,
        current_password: &str,
        new_password: &str,
        keep: Option<&SessionId>,
    ) -> Result<(), AuthError> {
        self.passwords()
            .change(user_id, current_password, new_password, keep)
            .await
    }

    /// [`Passwords::validate`].
    pub fn validate_password(&self, password: &str, email: Option<&str>) -> Result<(), AuthError> {
        self.passwords().validate(password, email)
    }

    /// [`Passwords::help_texts`].
    pub fn password_help_texts(&self) -> Vec<String> {
        self.passwords().help_texts()
    }

    /// [`Sessions::login`].
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthResult, AuthError> {
        self.sessions().login(email, password).await
    }

    /// [`Sessions::authenticate`], returning just the user.
    pub async fn authenticate(&self, access_token: &str) -> Result<User, AuthError> {
        Ok(self.sessions().authenticate(access_token).await?.user)
    }

    /// [`Sessions::authenticate`]: the user, the session and its claims.
    pub async fn authenticate_session(
        &self,
        access_token: &str,
    ) -> Result<Authenticated, AuthError> {
        self.sessions().authenticate(access_token).await
    }

    /// [`Sessions::refresh`], returning the new [`TokenPair`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        Ok(self.sessions().refresh(refresh_token).await?.pair)
    }

    /// [`Sessions::logout`].
    pub async fn logout(&self, access_token: &str) -> Result<(), AuthError> {
        self.sessions().logout(access_token).await
    }

    /// [`Sessions::logout_all`].
    pub async fn logout_all(&self, user_id: &UserId) -> Result<u64, AuthError> {
        self.sessions().logout_all(user_id).await
    }

    /// [`Sessions::cleanup_expired`].
    pub async fn cleanup_expired(&self) -> Result<u64, AuthError> {
        self.sessions().cleanup_expired().await
    }

    /// [`Recovery::request_reset`].
    pub async fn request_reset(&self, email: &str) -> Result<(), AuthError> {
        self.recovery().request_reset(email).await
    }

    /// [`Recovery::confirm_reset`].
    pub async fn confirm_reset(&self, token: &str, new_password: &str) -> Result<(), AuthError> {
        self.recovery().confirm_reset(token, new_password).await
    }

    /// Checks a service-to-service token (see [`ServiceTokens`]); emits `s2s_auth_success`
    /// or `s2s_auth_failed`. A refused token is [`TokenError::Invalid`](auth_core::TokenError::Invalid).
    pub async fn authenticate_service(&self, token: &str) -> Result<ServicePrincipal, AuthError> {
        let core = &self.core;
        match core.service_tokens.verify(token) {
            Some(principal) => {
                core.emit(AuthEvent::ServiceAuthSuccess {
                    service: principal.name.clone(),
                    at: core.now(),
                })
                .await;
                Ok(principal)
            }
            None => {
                core.emit(AuthEvent::ServiceAuthFailed { at: core.now() })
                    .await;
                Err(auth_core::TokenError::Invalid.into())
            }
        }
    }
}

/// The [`MultiHasher`] settings an [`AuthConfig`] asks for (Argon2id parameters, maximum
/// password length); for wrapping the default hasher in your own.
pub fn hasher_config(config: &AuthConfig) -> HasherConfig {
    HasherConfig {
        argon2: Argon2Params {
            time_cost: config.argon2_time_cost(),
            memory_kib: config.argon2_memory_kib(),
            parallelism: config.argon2_parallelism(),
        },
        max_password_length: config.max_password_length(),
        ..HasherConfig::default()
    }
}
