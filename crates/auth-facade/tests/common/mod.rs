//! Shared set-up for the facade's integration tests: an `AuthService` on the in-memory
//! reference store (behind a wrapper that logs every store call), a manual clock, an event
//! recorder, and fast Argon2 parameters. Store-specific behaviour is proven by each store's
//! own tests and by the conformance suite's service checks on every store.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_conformance::MemoryStore;
use auth_core::{
    AccessTokenRecord, CredentialStore, EndSessions, ExpiredDeletion, NewSession, NewToken,
    NewUser, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter, RotateOutcome,
    Rotation, SessionId, SessionInfo, SessionStatus, SessionStore, SingleUseTokenStore, StoreError,
    TokenDigest, TokenKind, UserCredentials,
};
use auth_facade::crates::hash::HashError;
use auth_facade::{
    AuthConfig, AuthService, AuthServiceBuilder, EventRecorder, IdKind, ManualClock, MultiHasher,
    PasswordHasher, User, UserId, UserStore, Verification,
};

/// A test secret: long and random-looking, not a placeholder.
pub const SECRET: &str = "t3st-0nly-9c2f7a1e5b8d4f6a0c3e7b1d9f2a5c8e";
pub const PASSWORD: &str = "SecurePass123!";

/// Argon2id parameters small enough for fast tests; production defaults are tested in
/// `auth-hash` and in one test here.
pub fn fast_config() -> AuthConfig {
    fast_builder().build().unwrap()
}

/// The fast configuration's builder, to change one setting.
pub fn fast_builder() -> auth_facade::AuthConfigBuilder {
    AuthConfig::builder()
        .signing_secret(SECRET)
        .argon2(1, 1024, 1)
}

pub struct Harness {
    pub auth: AuthService,
    pub store: MemoryStore,
    pub clock: Arc<ManualClock>,
    pub events: EventRecorder,
    pub hasher: Arc<CountingHasher>,
    pub calls: Arc<CallLog>,
}

pub async fn harness() -> Harness {
    harness_with(fast_config(), |b| b)
}

/// A harness whose builder is adjusted by `adjust` (after the store, clock and hasher are
/// set).
pub fn harness_with(
    config: AuthConfig,
    adjust: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> Harness {
    let store = MemoryStore::new(IdKind::Integer);
    let clock = Arc::new(ManualClock::starting_now());
    let events = EventRecorder::new();
    let hasher = Arc::new(CountingHasher::new(&config));
    let calls = Arc::new(CallLog::default());
    let logged = LoggingStore {
        inner: store.clone(),
        calls: calls.clone(),
    };
    let builder = AuthService::builder(config)
        .store(logged)
        .clock(clock.clone())
        .hasher(hasher.clone());
    let auth = adjust(builder).build().unwrap();
    auth.events().subscribe(events.clone());
    Harness {
        auth,
        store,
        clock,
        events,
        hasher,
        calls,
    }
}

impl Harness {
    /// A user with [`PASSWORD`].
    pub async fn user(&self, email: &str) -> User {
        let user = self.auth.create_user(email).await.unwrap();
        self.auth.set_password(&user.id, PASSWORD).await.unwrap();
        user
    }

    pub fn now(&self) -> OffsetDateTime {
        auth_facade::Clock::now(self.clock.as_ref())
    }

    /// The stored password hash of a user.
    pub async fn stored_hash(&self, id: &UserId) -> String {
        self.store
            .find_credentials_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
    }
}

/// Counts every call into the hasher, so tests can prove "exactly one verification".
pub struct CountingHasher {
    inner: MultiHasher,
    pub hashes: AtomicUsize,
    pub verifies: AtomicUsize,
    pub dummy_verifies: AtomicUsize,
}

impl CountingHasher {
    pub fn new(config: &AuthConfig) -> Self {
        let inner = MultiHasher::new(auth_facade::hasher_config(config)).unwrap();
        Self {
            inner,
            hashes: AtomicUsize::new(0),
            verifies: AtomicUsize::new(0),
            dummy_verifies: AtomicUsize::new(0),
        }
    }

    /// Verifications of any kind (real or dummy) so far.
    pub fn verifications(&self) -> usize {
        self.verifies.load(Ordering::SeqCst) + self.dummy_verifies.load(Ordering::SeqCst)
    }

    pub fn dummies(&self) -> usize {
        self.dummy_verifies.load(Ordering::SeqCst)
    }

    pub fn hashes(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.hashes.store(0, Ordering::SeqCst);
        self.verifies.store(0, Ordering::SeqCst);
        self.dummy_verifies.store(0, Ordering::SeqCst);
    }
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        self.inner.hash(password)
    }
    fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(password, encoded)
    }
    fn dummy_verify(&self, password: &str) {
        self.dummy_verifies.fetch_add(1, Ordering::SeqCst);
        self.inner.dummy_verify(password)
    }
    fn is_cheaper_than_primary(&self, encoded: &str) -> bool {
        self.inner.is_cheaper_than_primary(encoded)
    }
}

/// The names of the store methods called, in order.
#[derive(Default)]
pub struct CallLog(Mutex<Vec<&'static str>>);

impl CallLog {
    fn push(&self, name: &'static str) {
        self.0.lock().unwrap().push(name);
    }
    pub fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Delegates to the memory store and logs each call.
pub struct LoggingStore {
    pub inner: MemoryStore,
    pub calls: Arc<CallLog>,
}

#[auth_core::async_trait]
impl UserStore for LoggingStore {
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        self.calls.push("create_user");
        self.inner.create_user(new, now).await
    }
    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.calls.push("find_credentials_by_email");
        self.inner.find_credentials_by_email(email).await
    }
    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.calls.push("find_credentials_by_id");
        self.inner.find_credentials_by_id(id).await
    }
    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.calls.push("find_user_by_id");
        self.inner.find_user_by_id(id).await
    }
    async fn credentials_current(&self, id: &UserId, hash: &str) -> Result<bool, StoreError> {
        self.calls.push("credentials_current");
        self.inner.credentials_current(id, hash).await
    }
    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.calls.push("set_password_hash");
        self.inner.set_password_hash(id, hash, now).await
    }
    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.calls.push("replace_password_hash");
        self.inner
            .replace_password_hash(id, expected, new_hash, now)
            .await
    }
    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        self.calls.push("record_login");
        self.inner.record_login(id, now).await
    }
    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.calls.push("set_active");
        self.inner.set_active(id, active, now).await
    }
    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.calls.push("set_verified");
        self.inner.set_verified(id, verified, now).await
    }
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        self.calls.push("delete_user");
        self.inner.delete_user(id).await
    }
}

#[auth_core::async_trait]
impl CredentialStore for LoggingStore {
    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.calls.push("change_password_hash");
        self.inner
            .change_password_hash(id, hash, sessions, now)
            .await
    }
    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.calls.push("deactivate_user");
        self.inner.deactivate_user(id, now).await
    }
}

#[auth_core::async_trait]
impl SessionStore for LoggingStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        self.calls.push("create_session");
        self.inner.create_session(session, tokens, max_active).await
    }
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.calls.push("find_access_token");
        self.inner.find_access_token(digest).await
    }
    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        self.calls.push("session_status");
        self.inner.session_status(id).await
    }
    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        self.calls.push("rotate_refresh_token");
        self.inner.rotate_refresh_token(rotation).await
    }
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.calls.push("revoke_session");
        self.inner.revoke_session(user_id, session_id, now).await
    }
    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.calls.push("revoke_user_sessions");
        self.inner.revoke_user_sessions(user_id, keep, now).await
    }
    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.calls.push("list_sessions");
        self.inner.list_sessions(user_id, now).await
    }
}

#[auth_core::async_trait]
impl SingleUseTokenStore for LoggingStore {
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.calls.push("insert_single_use_token");
        self.inner
            .insert_single_use_token(user_id, token, void_outstanding, now)
            .await
    }
    async fn find_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        self.calls.push("find_single_use_token");
        self.inner.find_single_use_token(digest, kind, now).await
    }
    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        self.calls.push("consume_single_use_token");
        self.inner.consume_single_use_token(digest, kind, now).await
    }
    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.calls.push("void_single_use_tokens");
        self.inner.void_single_use_tokens(user_id, kind, now).await
    }
}

#[auth_core::async_trait]
impl ExpiredDeletion for LoggingStore {
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.calls.push("delete_expired");
        self.inner.delete_expired(before, batch).await
    }
}

#[auth_core::async_trait]
impl RateLimiter for LoggingStore {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.calls.push("rate_limit_hit");
        self.inner.hit(key, policy, now).await
    }
    async fn peek(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.calls.push("rate_limit_peek");
        self.inner.peek(key, policy, now).await
    }
    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.calls.push("rate_limit_clear");
        self.inner.clear(key).await
    }
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// True for a token error of this kind.
pub fn is_token(err: &auth_facade::AuthError, kind: &str) -> bool {
    use auth_facade::{AuthError, TokenError};
    matches!(
        (err, kind),
        (AuthError::Token(TokenError::Invalid), "invalid")
            | (AuthError::Token(TokenError::Expired), "expired")
            | (AuthError::Token(TokenError::Revoked), "revoked")
    )
}
