//! Shared by the integration tests: a backend of either kind over `MemoryStore`, a manual
//! clock, and a store wrapper that counts reads and keeps what the backend handed it.
#![allow(dead_code)] // each test binary uses a part

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_conformance::MemoryStore;
use auth_core::{
    AccessTokenRecord, ClientInfo, Clock, ExtraClaims, IdKind, IssueRequest, IssuedTokens,
    ManualClock, NewSession, NewToken, NewUser, OffsetDateTime, RefreshOutcome, RotateOutcome,
    Rotation, SessionId, SessionInfo, SessionPolicy, SessionStatus, SessionStore, StoreError,
    TokenBackend, TokenDigest, TokenError, User, UserId, UserStore,
};
use auth_tokens::OpaqueTokenBackend;

/// A secret good enough for `SigningSecret` (test only).
pub const HMAC_SECRET: &[u8] = b"k8Jq2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4jK";

/// The tests' start: a whole second, so JWT times (whole seconds) line up.
pub fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a valid time")
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The policy the tests start from: 15 min access, 7 day refresh, 30 day sessions, no idle
/// timeout, no grace, 100 sessions per user.
pub fn policy() -> SessionPolicy {
    SessionPolicy {
        access_token_lifetime: secs(15 * 60),
        refresh_token_lifetime: secs(7 * 86_400),
        max_session_lifetime: secs(30 * 86_400),
        idle_timeout: None,
        refresh_grace: Duration::ZERO,
        max_sessions_per_user: Some(100),
    }
}

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `OpaqueTokenBackend`.
    Opaque,
    /// `JwtBackend`, HS256, checking the session on every request (the default).
    #[cfg(feature = "jwt")]
    Jwt,
    /// `JwtBackend`, HS256, trusting the signature until `exp`.
    #[cfg(feature = "jwt")]
    JwtTrustUntilExpiry,
}

/// The backends every behaviour is proven on.
#[cfg(feature = "jwt")]
pub const FLAVORS: &[Flavor] = &[Flavor::Opaque, Flavor::Jwt];
#[cfg(not(feature = "jwt"))]
pub const FLAVORS: &[Flavor] = &[Flavor::Opaque];

/// Calls of the store, counted.
#[derive(Debug, Default)]
pub struct Counts {
    pub create_session: AtomicUsize,
    pub find_access_token: AtomicUsize,
    pub session_status: AtomicUsize,
    pub rotate: AtomicUsize,
    pub writes: AtomicUsize,
}

impl Counts {
    pub fn reads(&self) -> usize {
        self.find_access_token.load(Ordering::SeqCst) + self.session_status.load(Ordering::SeqCst)
    }
    pub fn total(&self) -> usize {
        self.reads()
            + self.create_session.load(Ordering::SeqCst)
            + self.rotate.load(Ordering::SeqCst)
            + self.writes.load(Ordering::SeqCst)
    }
}

/// `MemoryStore` behind a wrapper that counts calls and keeps every sealed successor and
/// every session handed to it.
#[derive(Clone)]
pub struct Recording {
    pub inner: MemoryStore,
    pub counts: Arc<Counts>,
    pub sealed: Arc<Mutex<Vec<Vec<u8>>>>,
    pub sessions: Arc<Mutex<Vec<NewSession>>>,
}

#[auth_core::async_trait]
impl SessionStore for Recording {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        self.counts.create_session.fetch_add(1, Ordering::SeqCst);
        self.sessions.lock().unwrap().push(session.clone());
        self.inner.create_session(session, tokens, max_active).await
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.counts.find_access_token.fetch_add(1, Ordering::SeqCst);
        self.inner.find_access_token(digest).await
    }

    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        self.counts.session_status.fetch_add(1, Ordering::SeqCst);
        self.inner.session_status(id).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        self.counts.rotate.fetch_add(1, Ordering::SeqCst);
        if let Some(grace) = rotation.grace {
            self.sealed
                .lock()
                .unwrap()
                .push(grace.sealed_successor.to_vec());
        }
        self.inner.rotate_refresh_token(rotation).await
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.revoke_session(user_id, session_id, now).await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.revoke_user_sessions(user_id, keep, now).await
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.inner.list_sessions(user_id, now).await
    }
}

/// A backend, its store and clock, and a user.
pub struct Harness {
    pub flavor: Flavor,
    pub store: MemoryStore,
    pub recording: Recording,
    pub clock: Arc<ManualClock>,
    pub backend: Arc<dyn TokenBackend>,
    pub user: User,
}

/// The JWT settings the behaviour tests use.
#[cfg(feature = "jwt")]
pub fn jwt_config(mode: auth_tokens::RevocationMode) -> auth_tokens::JwtConfig {
    auth_tokens::JwtConfig::hs256(HMAC_SECRET.to_vec())
        .issuer("https://auth.test")
        .audience("api")
        .revocation(mode)
        .build()
        .expect("a valid JWT configuration")
}

/// A `JwtBackend` with `config` and `policy` over a fresh `MemoryStore` holding one user.
#[cfg(feature = "jwt")]
pub async fn jwt_harness(config: auth_tokens::JwtConfig, policy: SessionPolicy) -> Harness {
    let mut h = harness(Flavor::Opaque, policy).await;
    let sessions: Arc<dyn SessionStore> = Arc::new(h.recording.clone());
    h.backend = Arc::new(auth_tokens::JwtBackend::new(
        sessions,
        h.clock.clone(),
        policy,
        config,
    ));
    h.flavor = Flavor::Jwt;
    h
}

/// A backend of `flavor` with `policy` over a fresh `MemoryStore` holding one user.
pub async fn harness(flavor: Flavor, policy: SessionPolicy) -> Harness {
    let store = MemoryStore::new(IdKind::Integer);
    let clock = Arc::new(ManualClock::new(start()));
    let recording = Recording {
        inner: store.clone(),
        counts: Arc::default(),
        sealed: Arc::default(),
        sessions: Arc::default(),
    };
    let sessions: Arc<dyn SessionStore> = Arc::new(recording.clone());
    let backend: Arc<dyn TokenBackend> = match flavor {
        Flavor::Opaque => Arc::new(
            OpaqueTokenBackend::new(sessions, clock.clone(), policy)
                .with_expired_deletion(Arc::new(store.clone())),
        ),
        #[cfg(feature = "jwt")]
        Flavor::Jwt => Arc::new(
            auth_tokens::JwtBackend::new(
                sessions,
                clock.clone(),
                policy,
                jwt_config(auth_tokens::RevocationMode::CheckSession),
            )
            .with_expired_deletion(Arc::new(store.clone())),
        ),
        #[cfg(feature = "jwt")]
        Flavor::JwtTrustUntilExpiry => Arc::new(
            auth_tokens::JwtBackend::new(
                sessions,
                clock.clone(),
                policy,
                jwt_config(auth_tokens::RevocationMode::TrustUntilExpiry),
            )
            .with_expired_deletion(Arc::new(store.clone())),
        ),
    };
    let user = store
        .create_user(&NewUser::new("alice@example.com").unwrap(), start())
        .await
        .unwrap();
    Harness {
        flavor,
        store,
        recording,
        clock,
        backend,
        user,
    }
}

impl Harness {
    /// A second user of the same store.
    pub async fn other_user(&self, email: &str) -> User {
        self.store
            .create_user(&NewUser::new(email).unwrap(), self.clock.now())
            .await
            .unwrap()
    }

    /// Logs `user` in with no extra claims.
    pub async fn login(&self, user: &UserId) -> IssuedTokens {
        self.login_with(user, &ExtraClaims::new(), &ClientInfo::none())
            .await
            .unwrap()
    }

    pub async fn login_with(
        &self,
        user: &UserId,
        claims: &ExtraClaims,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, TokenError> {
        self.backend
            .issue(IssueRequest {
                user_id: *user,
                client,
                extra_claims: claims,
            })
            .await
    }

    /// Refreshes and expects a fresh rotation.
    pub async fn rotate(&self, refresh_token: &str) -> IssuedTokens {
        match self.backend.refresh(refresh_token).await {
            Ok(RefreshOutcome::Rotated {
                tokens,
                replayed: false,
                ..
            }) => tokens,
            other => panic!("{:?}: expected a rotation, got {other:?}", self.flavor),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// Asserts a refresh was answered as reuse.
pub fn assert_reuse(flavor: Flavor, outcome: Result<RefreshOutcome, TokenError>) {
    assert!(
        matches!(outcome, Ok(RefreshOutcome::ReuseDetected { .. })),
        "{flavor:?}: expected reuse, got {outcome:?}"
    );
}

/// Asserts a result is the given token error.
#[macro_export]
macro_rules! assert_token_err {
    ($flavor:expr, $result:expr, $variant:pat) => {{
        let result = $result;
        assert!(
            matches!(result, Err($variant)),
            "{:?}: expected {}, got {:?}",
            $flavor,
            stringify!($variant),
            result
        );
    }};
}
