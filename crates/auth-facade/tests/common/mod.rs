//! Shared set-up for the facade's integration tests: an `AuthService` on in-memory SQLite
//! with a manual clock, an event recorder, and fast Argon2 parameters.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{
    AccessTokenRecord, NewSession, NewToken, NewUser, OffsetDateTime, RotateOutcome, SessionId,
    SessionInfo, StoreError, TokenDigest, TokenKind, UserCredentials,
};
use auth_facade::crates::hash::HashError;
use auth_facade::{
    AuthConfig, AuthService, EventRecorder, IdKind, ManualClock, MultiHasher, PasswordHasher,
    SqliteStore, TokenStore, User, UserId, UserStore, UserTable, Verification,
};

/// A test secret: long and random-looking, not a placeholder.
pub const SECRET: &str = "t3st-0nly-9c2f7a1e5b8d4f6a0c3e7b1d9f2a5c8e";
pub const PASSWORD: &str = "SecurePass123!";

/// Argon2id parameters small enough for fast tests; production defaults are tested in
/// `auth-hash` and in one test here.
pub fn fast_config() -> AuthConfig {
    AuthConfig::builder()
        .signing_secret(SECRET)
        .argon2(1, 1024, 1)
        .build()
        .unwrap()
}

pub struct Harness {
    pub auth: AuthService,
    pub store: SqliteStore,
    pub clock: Arc<ManualClock>,
    pub events: EventRecorder,
    pub hasher: Arc<CountingHasher>,
    pub calls: Arc<CallLog>,
    pub logged: Arc<LoggingStore>,
}

pub async fn harness() -> Harness {
    harness_with(fast_config(), UserTable::new("users", IdKind::Integer)).await
}

pub async fn harness_with(config: AuthConfig, users: UserTable) -> Harness {
    let store = SqliteStore::connect("sqlite::memory:", users)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let events = EventRecorder::new();
    let hasher = Arc::new(CountingHasher::new(&config));
    let calls = Arc::new(CallLog::default());
    let logged = Arc::new(LoggingStore {
        inner: store.clone(),
        calls: calls.clone(),
        concurrent_change: Mutex::new(None),
    });
    let auth = AuthService::builder(config)
        .user_store(logged.clone())
        .token_store(logged.clone())
        .clock(clock.clone())
        .hasher(hasher.clone())
        .build()
        .unwrap();
    auth.events().subscribe(events.clone());
    Harness {
        auth,
        store,
        clock,
        events,
        hasher,
        calls,
        logged,
    }
}

impl Harness {
    pub async fn user(&self, email: &str) -> User {
        let user = self.auth.create_user(email).await.unwrap();
        self.auth.set_password(&user.id, PASSWORD).await.unwrap();
        user
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

/// Delegates to the SQLite store and logs each call.
pub struct LoggingStore {
    inner: SqliteStore,
    calls: Arc<CallLog>,
    /// When set, the next `replace_password_hash` is preceded by this password change, as
    /// if another request changed the password between the verify and the upgrade.
    pub concurrent_change: Mutex<Option<String>>,
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
        let concurrent = self.concurrent_change.lock().unwrap().take();
        if let Some(hash) = concurrent {
            self.inner.set_password_hash(id, &hash, now).await?;
        }
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
}

#[auth_core::async_trait]
impl TokenStore for LoggingStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
    ) -> Result<(), StoreError> {
        self.calls.push("create_session");
        self.inner.create_session(session, tokens).await
    }
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.calls.push("find_access_token");
        self.inner.find_access_token(digest).await
    }
    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        new_tokens: &[NewToken],
        session_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError> {
        self.calls.push("rotate_refresh_token");
        self.inner
            .rotate_refresh_token(digest, new_tokens, session_expires_at, now)
            .await
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
    async fn purge_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.calls.push("purge_expired");
        self.inner.purge_expired(before, batch).await
    }
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.calls.push("insert_single_use_token");
        self.inner
            .insert_single_use_token(user_id, token, now)
            .await
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
}

/// Every value of every row of every table, as text (BLOBs as lossy UTF-8 and as hex), for
/// "never stored" scans.
pub async fn dump_database(store: &SqliteStore) -> String {
    use sqlx::Row;
    let pool = store.pool();
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(
        tables.len() >= 3,
        "expected the user table and the library tables: {tables:?}"
    );
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\"")))
            .fetch_all(pool)
            .await
            .unwrap();
        for row in rows {
            for i in 0..row.len() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    out.push_str(&text);
                } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                    for b in bytes {
                        out.push_str(&format!("{b:02x}"));
                    }
                }
                out.push('\n');
            }
        }
    }
    out
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

/// `ManualClock::now` without importing the `Clock` trait everywhere.
pub trait NowValue {
    fn now_value(&self) -> OffsetDateTime;
}

impl NowValue for ManualClock {
    fn now_value(&self) -> OffsetDateTime {
        auth_facade::Clock::now(self)
    }
}
