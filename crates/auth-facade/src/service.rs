use std::fmt;
use std::sync::Arc;

use auth_core::{
    AuthConfig, AuthError, Authenticated, Clock, ConfigError, InputError, InputField, NewUser,
    OffsetDateTime, RefreshOutcome, SessionId, SessionInfo, StoreErrorKind, SystemClock,
    TokenBackend, TokenPair, TokenStore, User, UserCredentials, UserId, UserStore, normalize_email,
};
use auth_core::{PasswordRejection, PolicyFailure};
use auth_events::{AuthEvent, EventBus, LoginFailureReason};
use auth_hash::{
    Argon2Params, HashError, HasherConfig, HashingPool, MultiHasher, PasswordHasher,
    PasswordPolicy, PasswordValidationError, ValidationContext, Verification, is_usable,
};
use auth_tokens::OpaqueTokenBackend;

/// What a successful [`AuthService::login`] returns. `Debug` redacts the tokens.
#[derive(Clone)]
pub struct AuthResult {
    /// The user, with `last_login` set to this login.
    pub user: User,
    /// Short-lived token for every request (15 minutes by default).
    pub access_token: String,
    /// Long-lived token for [`AuthService::refresh`] (7 days by default); single use.
    pub refresh_token: String,
    /// The session this login started.
    pub session_id: SessionId,
    /// When the access token expires.
    pub access_expires_at: OffsetDateTime,
    /// When the refresh token expires.
    pub refresh_expires_at: OffsetDateTime,
}

impl fmt::Debug for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthResult")
            .field("user", &self.user)
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("session_id", &self.session_id)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// The entry point: every authentication operation. Cheap to clone (shared state behind an
/// `Arc`), so put one in your application state.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    users: Arc<dyn UserStore>,
    tokens: Arc<dyn TokenStore>,
    backend: Arc<dyn TokenBackend>,
    hashing: HashingPool,
    policy: PasswordPolicy,
    events: EventBus,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.inner.config)
            .field("events", &self.inner.events)
            .finish_non_exhaustive()
    }
}

/// Assembles an [`AuthService`]; only the store is required.
pub struct AuthServiceBuilder {
    config: AuthConfig,
    users: Option<Arc<dyn UserStore>>,
    tokens: Option<Arc<dyn TokenStore>>,
    backend: Option<Arc<dyn TokenBackend>>,
    hasher: Option<Arc<dyn PasswordHasher>>,
    policy: Option<PasswordPolicy>,
    events: EventBus,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AuthServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServiceBuilder")
            .field("config", &self.config)
            .field("has_store", &self.users.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthServiceBuilder {
    /// The store for users, sessions and token digests (e.g. `SqliteStore`).
    pub fn store<S: UserStore + TokenStore + 'static>(mut self, store: S) -> Self {
        let store = Arc::new(store);
        self.users = Some(store.clone());
        self.tokens = Some(store);
        self
    }

    /// Users from one store and sessions/tokens from another (both default to
    /// [`store`](Self::store)).
    pub fn user_store(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }

    /// Sessions and token digests from this store (see [`user_store`](Self::user_store)).
    pub fn token_store(mut self, tokens: Arc<dyn TokenStore>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// A different token backend (default: database-backed opaque tokens on the store).
    pub fn token_backend(mut self, backend: Arc<dyn TokenBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// A different password hasher (default: [`MultiHasher`] with the config's Argon2id
    /// parameters).
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// The password policy for [`register`](AuthService::register),
    /// [`change_password`](AuthService::change_password) and
    /// [`validate_password`](AuthService::validate_password) (default: the reference's four
    /// validators, with the config's maximum length).
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

    /// Checks the parts and builds the service.
    pub fn build(self) -> Result<AuthService, AuthError> {
        let missing_store = || ConfigError::Invalid {
            setting: "store",
            reason: "an AuthService needs a store (AuthServiceBuilder::store)".into(),
        };
        let users = self.users.ok_or_else(missing_store)?;
        let tokens = self.tokens.ok_or_else(missing_store)?;
        let config = self.config;
        let hasher = match self.hasher {
            Some(hasher) => hasher,
            None => {
                let hasher =
                    MultiHasher::new(hasher_config(&config)).map_err(|e| ConfigError::Invalid {
                        setting: "argon2",
                        reason: e.to_string(),
                    })?;
                Arc::new(hasher) as Arc<dyn PasswordHasher>
            }
        };
        let backend = self.backend.unwrap_or_else(|| {
            Arc::new(OpaqueTokenBackend::new(
                tokens.clone(),
                self.clock.clone(),
                config.access_token_lifetime(),
                config.refresh_token_lifetime(),
            ))
        });
        let hashing = HashingPool::new(hasher, config.hashing_concurrency());
        let policy = self.policy.unwrap_or_else(|| {
            PasswordPolicy::builder()
                .max_length(Some(config.max_password_length()))
                .build()
        });
        Ok(AuthService {
            inner: Arc::new(Inner {
                config,
                users,
                tokens,
                backend,
                hashing,
                policy,
                events: self.events,
                clock: self.clock,
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
            tokens: None,
            backend: None,
            hasher: None,
            policy: None,
            events: EventBus::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A service with `config` on `store`, with every other part at its default.
    pub fn new<S: UserStore + TokenStore + 'static>(
        config: AuthConfig,
        store: S,
    ) -> Result<Self, AuthError> {
        Self::builder(config).store(store).build()
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The event bus: subscribe listeners here.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The hashing pool (to hash or verify outside the user table).
    pub fn hashing(&self) -> &HashingPool {
        &self.inner.hashing
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Creates a user with no usable password yet (set it with
    /// [`set_password`](Self::set_password)). The email is normalized (see
    /// [`normalize_email`]). Errors: [`AuthError::InvalidInput`], [`AuthError::UserExists`].
    pub async fn create_user(&self, email: &str) -> Result<User, AuthError> {
        let new = NewUser::new(email)?;
        let now = self.now();
        let user = self
            .inner
            .users
            .create_user(&new, now)
            .await
            .map_err(|e| match e.kind() {
                StoreErrorKind::UniqueViolation => AuthError::UserExists,
                _ => AuthError::Storage(e),
            })?;
        self.emit(AuthEvent::UserCreated {
            user_id: user.id,
            at: now,
        })
        .await;
        Ok(user)
    }

    /// The user with this id, if any.
    pub async fn find_user(&self, user_id: &UserId) -> Result<Option<User>, AuthError> {
        Ok(self.inner.users.find_user_by_id(user_id).await?)
    }

    /// Creates a user with a password in one insert, after checking the password against
    /// the password policy (with the email, so a password too similar to it is refused).
    /// Nothing is written when any check fails. Errors: [`AuthError::InvalidInput`],
    /// [`AuthError::InvalidPassword`] (every failed rule at once), [`AuthError::UserExists`].
    pub async fn register(&self, email: &str, password: &str) -> Result<User, AuthError> {
        let new = NewUser::new(email)?;
        self.check_password_input(password)?;
        self.validate_password(password, Some(new.email()))?;
        let hash = self
            .inner
            .hashing
            .hash(password)
            .await
            .map_err(hash_error)?;
        let now = self.now();
        let user = self
            .inner
            .users
            .create_user(&new.with_password_hash(hash), now)
            .await
            .map_err(|e| match e.kind() {
                StoreErrorKind::UniqueViolation => AuthError::UserExists,
                _ => AuthError::Storage(e),
            })?;
        self.emit(AuthEvent::UserCreated {
            user_id: user.id,
            at: now,
        })
        .await;
        Ok(user)
    }

    /// Checks a candidate password against the password policy; `email` enables the
    /// similarity rule. Every failed rule is reported at once in
    /// [`AuthError::InvalidPassword`].
    pub fn validate_password(&self, password: &str, email: Option<&str>) -> Result<(), AuthError> {
        let ctx = ValidationContext {
            email,
            ..ValidationContext::default()
        };
        self.inner
            .policy
            .validate(password, &ctx)
            .map_err(|e| AuthError::InvalidPassword(rejection(e)))
    }

    /// The help text of every rule of the password policy, for forms.
    pub fn password_help_texts(&self) -> Vec<String> {
        self.inner.policy.help_texts()
    }

    /// Hashes `password` with the primary hasher (off the async executor) and stores it.
    /// Ends every session of the user when
    /// [`revoke_sessions_on_password_change`](AuthConfig::revoke_sessions_on_password_change)
    /// is on (the default), then emits `password_changed`.
    ///
    /// An administrative setter, like the reference's: the password is checked for shape
    /// only (empty, over-long, NUL). For passwords users choose, use
    /// [`register`](Self::register) and [`change_password`](Self::change_password), which
    /// apply the password policy.
    pub async fn set_password(&self, user_id: &UserId, password: &str) -> Result<(), AuthError> {
        self.check_password_input(password)?;
        let hash = self
            .inner
            .hashing
            .hash(password)
            .await
            .map_err(hash_error)?;
        self.store_password(user_id, &hash, None).await
    }

    /// Changes a password the user chose: checks `current_password` (one verification;
    /// wrong gives [`AuthError::InvalidCredentials`]), checks the new one against the password
    /// policy, stores it, and ends the user's other sessions (all but `keep`, normally the
    /// session making the request) when configured.
    pub async fn change_password(
        &self,
        user_id: &UserId,
        current_password: &str,
        new_password: &str,
        keep: Option<&SessionId>,
    ) -> Result<(), AuthError> {
        self.check_password_input(current_password)?;
        self.check_password_input(new_password)?;
        let creds = self
            .inner
            .users
            .find_credentials_by_id(user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if self.verify_credentials(&creds, current_password).await? != Checked::Match {
            return Err(AuthError::InvalidCredentials);
        }
        self.validate_password(new_password, Some(&creds.user.email))?;
        let hash = self
            .inner
            .hashing
            .hash(new_password)
            .await
            .map_err(hash_error)?;
        self.store_password(user_id, &hash, keep).await
    }

    /// Stores a new hash, ends the sessions (but `keep`) if configured, emits the events.
    async fn store_password(
        &self,
        user_id: &UserId,
        hash: &str,
        keep: Option<&SessionId>,
    ) -> Result<(), AuthError> {
        let now = self.now();
        self.inner
            .users
            .set_password_hash(user_id, hash, now)
            .await
            .map_err(user_not_found)?;
        if self.inner.config.revoke_sessions_on_password_change() {
            let count = self.inner.backend.revoke_all(user_id, keep).await?;
            if count > 0 {
                self.emit(AuthEvent::AllSessionsRevoked {
                    user_id: *user_id,
                    count,
                    at: now,
                })
                .await;
            }
        }
        self.emit(AuthEvent::PasswordChanged {
            user_id: *user_id,
            at: now,
        })
        .await;
        Ok(())
    }

    /// Whether `password` is the user's password. On a match against an outdated hash
    /// (bcrypt, PBKDF2, weaker Argon2 parameters) the hash is replaced with the primary one,
    /// only if the stored hash is still the one checked. A wrong password writes nothing.
    pub async fn check_password(
        &self,
        user_id: &UserId,
        password: &str,
    ) -> Result<bool, AuthError> {
        self.check_password_input(password)?;
        let creds = self
            .inner
            .users
            .find_credentials_by_id(user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        Ok(self.verify_credentials(&creds, password).await? == Checked::Match)
    }

    /// Logs a user in: on success starts a session, sets `last_login`, emits `user_login`
    /// and returns the user with an access and a refresh token.
    ///
    /// Every failure of the credentials (unknown email, inactive user, unusable or wrong
    /// password) is the same [`AuthError::InvalidCredentials`] after the same work (one
    /// password verification), so neither the answer nor its timing tells which; the reason
    /// goes to the `user_login_failed` event. Malformed arguments are
    /// [`AuthError::InvalidInput`].
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthResult, AuthError> {
        let email = normalize_email(email)?;
        self.check_password_input(password)?;
        let creds = self.inner.users.find_credentials_by_email(&email).await?;
        let Some(creds) = creds else {
            self.inner.hashing.dummy_verify(password).await;
            return Err(self
                .login_failed(email, None, LoginFailureReason::UnknownUser)
                .await);
        };
        let user_id = creds.user.id;
        let checked = self.verify_credentials(&creds, password).await?;
        let reason = match checked {
            Checked::Unusable => Some(LoginFailureReason::UnusablePassword),
            Checked::Mismatch => Some(LoginFailureReason::WrongPassword),
            Checked::Match if !creds.user.is_active => Some(LoginFailureReason::InactiveUser),
            Checked::Match => None,
        };
        if let Some(reason) = reason {
            return Err(self.login_failed(email, Some(user_id), reason).await);
        }

        let issued = self.inner.backend.issue(&user_id).await?;
        let now = self.now();
        self.inner
            .users
            .record_login(&user_id, now)
            .await
            .map_err(user_not_found)?;
        self.emit(AuthEvent::UserLogin {
            user_id,
            session_id: issued.session_id,
            at: now,
        })
        .await;
        let mut user = creds.user;
        user.last_login = Some(now);
        Ok(AuthResult {
            user,
            access_token: issued.pair.access_token,
            refresh_token: issued.pair.refresh_token,
            session_id: issued.session_id,
            access_expires_at: issued.access_expires_at,
            refresh_expires_at: issued.refresh_expires_at,
        })
    }

    /// Checks an access token and returns its user: call it on every request. One indexed
    /// read, no write. Errors: [`AuthError::TokenInvalid`] (unknown, malformed, wrong
    /// type), [`AuthError::TokenExpired`], [`AuthError::TokenRevoked`],
    /// [`AuthError::UserInactive`].
    pub async fn authenticate(&self, access_token: &str) -> Result<User, AuthError> {
        Ok(self.inner.backend.authenticate(access_token).await?.user)
    }

    /// Like [`authenticate`](Self::authenticate), also returning the session id (for
    /// "log out this device" or "log out everywhere else").
    pub async fn authenticate_session(
        &self,
        access_token: &str,
    ) -> Result<Authenticated, AuthError> {
        self.inner.backend.authenticate(access_token).await
    }

    /// Spends a refresh token and returns a new pair in the same session (rotation). The
    /// old refresh token stops working. Presenting an already spent refresh token revokes
    /// the whole session, emits `refresh_token_reused` and fails with
    /// [`AuthError::TokenRevoked`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        match self.inner.backend.refresh(refresh_token).await? {
            RefreshOutcome::Rotated(issued) => {
                self.emit(AuthEvent::TokenRefreshed {
                    user_id: issued.user_id,
                    session_id: issued.session_id,
                    at: self.now(),
                })
                .await;
                Ok(issued.pair)
            }
            RefreshOutcome::ReuseDetected {
                user_id,
                session_id,
            } => {
                tracing::warn!(%user_id, %session_id, "refresh token reuse: session revoked");
                self.emit(AuthEvent::RefreshTokenReused {
                    user_id,
                    session_id,
                    at: self.now(),
                })
                .await;
                Err(AuthError::TokenRevoked)
            }
        }
    }

    /// Ends the session of `access_token` (its access and refresh tokens), even if the
    /// access token has expired, and emits `user_logout`.
    pub async fn logout(&self, access_token: &str) -> Result<(), AuthError> {
        let (user_id, session_id) = self.inner.backend.revoke(access_token).await?;
        self.emit(AuthEvent::UserLogout {
            user_id,
            session_id,
            at: self.now(),
        })
        .await;
        Ok(())
    }

    /// Ends every session of the user; returns how many ended.
    pub async fn logout_all(&self, user_id: &UserId) -> Result<u64, AuthError> {
        let count = self.inner.backend.revoke_all(user_id, None).await?;
        self.emit(AuthEvent::AllSessionsRevoked {
            user_id: *user_id,
            count,
            at: self.now(),
        })
        .await;
        Ok(count)
    }

    /// The user's active sessions, newest first.
    pub async fn sessions(&self, user_id: &UserId) -> Result<Vec<SessionInfo>, AuthError> {
        Ok(self.inner.tokens.list_sessions(user_id, self.now()).await?)
    }

    /// Ends one session of the user; false if it was not an active session of theirs.
    pub async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, AuthError> {
        self.inner.backend.revoke_session(user_id, session_id).await
    }

    /// Deletes up to `batch` expired or revoked rows; call until it returns 0.
    pub async fn purge_expired(&self, batch: u32) -> Result<u64, AuthError> {
        Ok(self.inner.tokens.purge_expired(self.now(), batch).await?)
    }

    /// Activates or deactivates a user. Deactivation also ends every session of the user, so
    /// neither their access nor their refresh tokens work again, even after reactivation. (A
    /// user deactivated by the application's own SQL cannot log in, and their access tokens
    /// fail with [`AuthError::UserInactive`].)
    pub async fn set_active(&self, user_id: &UserId, active: bool) -> Result<(), AuthError> {
        let now = self.now();
        self.inner
            .users
            .set_active(user_id, active, now)
            .await
            .map_err(user_not_found)?;
        if !active {
            let count = self.inner.backend.revoke_all(user_id, None).await?;
            if count > 0 {
                self.emit(AuthEvent::AllSessionsRevoked {
                    user_id: *user_id,
                    count,
                    at: now,
                })
                .await;
            }
        }
        Ok(())
    }

    /// Refuses passwords that cannot be hashed: empty, longer than the configured maximum
    /// (counted in characters, before any hashing), or containing NUL.
    fn check_password_input(&self, password: &str) -> Result<(), InputError> {
        if password.is_empty() {
            return Err(InputError::Empty(InputField::Password));
        }
        let max = self.inner.config.max_password_length();
        // Bytes bound chars from above: only count when the byte length could exceed it.
        if password.len() > max && password.chars().count() > max {
            return Err(InputError::TooLong {
                field: InputField::Password,
                max,
            });
        }
        if password.contains('\0') {
            return Err(InputError::ControlCharacter(InputField::Password));
        }
        Ok(())
    }

    /// Verifies `password` against the stored hash with exactly one hash verification
    /// (a dummy one for unusable hashes), and upgrades an outdated hash on a match.
    async fn verify_credentials(
        &self,
        creds: &UserCredentials,
        password: &str,
    ) -> Result<Checked, AuthError> {
        let hashing = &self.inner.hashing;
        if !is_usable(&creds.password_hash) {
            hashing.dummy_verify(password).await;
            return Ok(Checked::Unusable);
        }
        let verification = match hashing.verify(password, &creds.password_hash).await {
            Ok(v) => v,
            Err(e) if e.is_internal() => return Err(hash_error(e)),
            Err(e) => {
                tracing::warn!(user_id = %creds.user.id, error = %e, "stored password hash cannot be verified");
                return Ok(Checked::Unusable);
            }
        };
        match verification {
            Verification::Mismatch => Ok(Checked::Mismatch),
            Verification::Match { needs_rehash } => {
                if needs_rehash {
                    self.upgrade_hash(creds, password).await;
                }
                Ok(Checked::Match)
            }
        }
    }

    /// Replaces an outdated hash with the primary one, only if it is still the stored one
    /// (a concurrent password change wins). Failure is logged, never fatal: the password
    /// was right.
    async fn upgrade_hash(&self, creds: &UserCredentials, password: &str) {
        let user_id = creds.user.id;
        let new_hash = match self.inner.hashing.hash(password).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "password re-hash failed");
                return;
            }
        };
        match self
            .inner
            .users
            .replace_password_hash(&user_id, &creds.password_hash, &new_hash, self.now())
            .await
        {
            Ok(true) => tracing::info!(%user_id, "password hash upgraded to the primary hasher"),
            Ok(false) => {
                tracing::info!(%user_id, "password hash changed concurrently; upgrade skipped")
            }
            Err(e) => tracing::warn!(%user_id, error = %e, "password hash upgrade not stored"),
        }
    }

    async fn login_failed(
        &self,
        email: String,
        user_id: Option<UserId>,
        reason: LoginFailureReason,
    ) -> AuthError {
        tracing::info!(reason = reason.as_str(), "login failed");
        self.emit(AuthEvent::UserLoginFailed {
            email,
            user_id,
            reason,
            at: self.now(),
        })
        .await;
        AuthError::InvalidCredentials
    }

    async fn emit(&self, event: AuthEvent) {
        self.inner.events.emit(event).await;
    }
}

/// The outcome of one password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Match,
    Mismatch,
    Unusable,
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

fn hash_error(e: HashError) -> AuthError {
    match e {
        HashError::EmptyPassword => InputError::Empty(InputField::Password).into(),
        HashError::PasswordTooLong { max } => InputError::TooLong {
            field: InputField::Password,
            max,
        }
        .into(),
        other => AuthError::Hashing(Box::new(other)),
    }
}

fn rejection(e: PasswordValidationError) -> PasswordRejection {
    PasswordRejection {
        failures: e
            .failures
            .into_iter()
            .map(|f| PolicyFailure {
                code: f.code.into(),
                message: f.message,
            })
            .collect(),
    }
}

fn user_not_found(e: auth_core::StoreError) -> AuthError {
    match e.kind() {
        StoreErrorKind::NotFound => AuthError::UserNotFound,
        _ => AuthError::Storage(e),
    }
}
