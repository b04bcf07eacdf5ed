//! Shared set-up for the HTTP tests: an `AuthService` on the in-memory reference store
//! (behind a switch that makes every store call fail), a manual clock, a notifier that
//! records what it sends, fast Argon2, and a real server on `127.0.0.1:0`.
#![allow(dead_code)]

pub mod api_suite;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_axum::{ClientIp, TrustedProxies};
use auth_conformance::MemoryStore;
use auth_core::{
    AccessClaims, AccessTokenRecord, BoxError, CredentialStore, EndSessions, ExpiredDeletion,
    IssueRequest, IssuedTokens, LoggedOut, NewSession, NewToken, NewUser, Notification,
    NotificationKind, Notifier, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter,
    RefreshOutcome, RotateOutcome, Rotation, SessionId, SessionInfo, SessionStatus, SessionStore,
    SingleUseTokenStore, StoreError, StoreErrorKind, TokenBackend, TokenDigest, TokenError,
    TokenKind, UserCredentials, UserStore,
};
use auth_facade::{
    AuthConfig, AuthConfigBuilder, AuthService, AuthServiceBuilder, IdKind, ManualClock, User,
    UserId,
};
use axum::Router;

use api_suite::{BoxFut, MailKind, Mailbox, Outage, Target, TimeTravel};

/// A test secret: long and random-looking, not a placeholder.
pub const SECRET: &str = "t3st-0nly-9c2f7a1e5b8d4f6a0c3e7b1d9f2a5c8e";

/// The reference's defaults, with Argon2id small enough for fast tests.
pub fn fast_builder() -> AuthConfigBuilder {
    AuthConfig::builder()
        .signing_secret(SECRET)
        .argon2(1, 1024, 1)
}

/// Records every notification instead of sending it.
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    sent: Arc<Mutex<Vec<Notification>>>,
}

#[auth_core::async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, notification: Notification) -> Result<(), BoxError> {
        self.sent.lock().unwrap().push(notification);
        Ok(())
    }
}

impl RecordingNotifier {
    pub fn latest(&self, email: &str, kind: NotificationKind) -> Option<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|n| n.email == email && n.kind == kind)
            .map(|n| n.token.clone())
    }
}

/// The mailbox of the suite: the notifier, read once background delivery is done.
pub struct MemoryMailbox {
    pub auth: AuthService,
    pub notifier: RecordingNotifier,
}

impl Mailbox for MemoryMailbox {
    fn latest_token<'a>(&'a self, email: &'a str, kind: MailKind) -> BoxFut<'a, Option<String>> {
        Box::pin(async move {
            self.auth.wait_for_background().await;
            let kind = match kind {
                MailKind::PasswordReset => NotificationKind::PasswordReset,
                MailKind::EmailVerification => NotificationKind::EmailVerification,
            };
            self.notifier.latest(email, kind)
        })
    }
}

/// While on, every store call fails as an unreachable database would, with a driver
/// message full of SQL that must never reach a client or a log line.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    pub fn is_down(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Outage for Switch {
    fn set_down(&self, down: bool) {
        self.0.store(down, Ordering::SeqCst);
    }
}

pub struct Clock(pub Arc<ManualClock>);

impl TimeTravel for Clock {
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
}

/// The SQL text a failing driver would carry; it must appear nowhere outside.
pub const LEAKY_SQL: &str =
    "SELECT password FROM users WHERE email = 'victim@example.com' -- connection refused";

/// The memory store behind an outage switch.
#[derive(Clone)]
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub switch: Switch,
}

impl FlakyStore {
    fn check(&self, op: &'static str) -> Result<(), StoreError> {
        if self.switch.is_down() {
            Err(StoreError::new(StoreErrorKind::Unavailable, op).with_source(LEAKY_SQL))
        } else {
            Ok(())
        }
    }
}

/// A running server and what the tests reach behind it.
pub struct Server {
    pub base_url: String,
    pub auth: AuthService,
    pub store: MemoryStore,
    pub notifier: RecordingNotifier,
    pub outage: Switch,
    pub clock: Arc<ManualClock>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The suite's view of this server.
    pub fn target(&self) -> Arc<Target> {
        Arc::new(Target {
            base_url: self.base_url.clone(),
            mailbox: Arc::new(MemoryMailbox {
                auth: self.auth.clone(),
                notifier: self.notifier.clone(),
            }),
            outage: Some(Arc::new(self.outage.clone())),
            time: Some(Arc::new(Clock(self.clock.clone()))),
        })
    }

    /// A user with a password, straight through the service.
    pub async fn user(&self, email: &str) -> User {
        self.auth
            .register(email, api_suite::PASSWORD)
            .await
            .unwrap()
    }
}

/// What [`service`] makes: the service and what tests reach behind it.
pub type Parts = (
    AuthService,
    MemoryStore,
    RecordingNotifier,
    Switch,
    Arc<ManualClock>,
);

/// An `AuthService` on a flaky memory store with a manual clock and a recording
/// notifier; `adjust` changes the configuration.
pub fn service(adjust: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder) -> Parts {
    service_with(adjust, |b| b)
}

/// [`service`] with the service builder adjusted too (after the store, notifier and clock).
pub fn service_with(
    adjust: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    build: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> Parts {
    service_on(IdKind::Integer, adjust, build)
}

/// [`service_with`] on a store with `kind` user ids.
pub fn service_on(
    kind: IdKind,
    adjust: impl FnOnce(AuthConfigBuilder) -> AuthConfigBuilder,
    build: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> Parts {
    let store = MemoryStore::new(kind);
    let switch = Switch::default();
    let notifier = RecordingNotifier::default();
    let clock = Arc::new(ManualClock::starting_now());
    let builder = AuthService::builder(adjust(fast_builder()).build().unwrap())
        .store(FlakyStore {
            inner: store.clone(),
            switch: switch.clone(),
        })
        .notifier(Arc::new(notifier.clone()))
        .clock(clock.clone());
    let auth = build(builder).build().unwrap();
    (auth, store, notifier, switch, clock)
}

/// Wraps the token backend: counts access-token checks, and panics in them on demand.
pub struct WatchedBackend {
    pub inner: Arc<dyn TokenBackend>,
    pub verifies: Arc<AtomicUsize>,
    pub panic: Arc<AtomicBool>,
}

#[auth_core::async_trait]
impl TokenBackend for WatchedBackend {
    async fn issue(&self, request: IssueRequest<'_>) -> Result<IssuedTokens, TokenError> {
        self.inner.issue(request).await
    }
    async fn verify_access(&self, access_token: &str) -> Result<AccessClaims, TokenError> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        if self.panic.load(Ordering::SeqCst) {
            panic!("backend bug in verify_access");
        }
        self.inner.verify_access(access_token).await
    }
    async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, TokenError> {
        self.inner.refresh(refresh_token).await
    }
    async fn logout(&self, access_token: &str) -> Result<LoggedOut, TokenError> {
        self.inner.logout(access_token).await
    }
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, TokenError> {
        self.inner.revoke_session(user_id, session_id).await
    }
    async fn revoke_all(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<u64, TokenError> {
        self.inner.revoke_all(user_id, keep).await
    }
    async fn sessions(&self, user_id: &UserId) -> Result<Vec<SessionInfo>, TokenError> {
        self.inner.sessions(user_id).await
    }
    async fn cleanup_expired(&self, batch: u32) -> Result<u64, TokenError> {
        self.inner.cleanup_expired(batch).await
    }
}

/// Serves `app` on an ephemeral port with connection info; returns the base URL.
pub async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), task)
}

/// The API router on a fresh service, behind a trusted proxy at 127.0.0.1 (so the
/// suite's `X-Forwarded-For` gives each check its own client address).
pub async fn api_server() -> Server {
    api_server_on(IdKind::Integer).await
}

/// [`api_server`] on a store with `kind` user ids.
pub async fn api_server_on(kind: IdKind) -> Server {
    api_server_built(kind, |b| b).await
}

/// [`api_server_on`] with the service builder adjusted (a token backend, ...).
pub async fn api_server_built(
    kind: IdKind,
    build: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
) -> Server {
    let (auth, store, notifier, outage, clock) = service_on(kind, |b| b, build);
    let options = auth_axum::api::ApiOptions::new().client_ip(ClientIp::behind_proxies(
        TrustedProxies::parse("127.0.0.1, ::1").unwrap(),
    ));
    let app: Router = auth_axum::api::router_with(auth.clone(), options);
    let (base_url, task) = serve(app).await;
    Server {
        base_url,
        auth,
        store,
        notifier,
        outage,
        clock,
        task,
    }
}

/// A plain HTTP client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[auth_core::async_trait]
impl UserStore for FlakyStore {
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        self.check("create_user")?;
        self.inner.create_user(new, now).await
    }
    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.check("find_credentials_by_email")?;
        self.inner.find_credentials_by_email(email).await
    }
    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.check("find_credentials_by_id")?;
        self.inner.find_credentials_by_id(id).await
    }
    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.check("find_user_by_id")?;
        self.inner.find_user_by_id(id).await
    }
    async fn credentials_current(&self, id: &UserId, hash: &str) -> Result<bool, StoreError> {
        self.check("credentials_current")?;
        self.inner.credentials_current(id, hash).await
    }
    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.check("set_password_hash")?;
        self.inner.set_password_hash(id, hash, now).await
    }
    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check("replace_password_hash")?;
        self.inner
            .replace_password_hash(id, expected, new_hash, now)
            .await
    }
    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        self.check("record_login")?;
        self.inner.record_login(id, now).await
    }
    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.check("set_active")?;
        self.inner.set_active(id, active, now).await
    }
    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.check("set_verified")?;
        self.inner.set_verified(id, verified, now).await
    }
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        self.check("delete_user")?;
        self.inner.delete_user(id).await
    }
}

#[auth_core::async_trait]
impl CredentialStore for FlakyStore {
    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.check("change_password_hash")?;
        self.inner
            .change_password_hash(id, hash, sessions, now)
            .await
    }
    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.check("deactivate_user")?;
        self.inner.deactivate_user(id, now).await
    }
}

#[auth_core::async_trait]
impl SessionStore for FlakyStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        self.check("create_session")?;
        self.inner.create_session(session, tokens, max_active).await
    }
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.check("find_access_token")?;
        self.inner.find_access_token(digest).await
    }
    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        self.check("session_status")?;
        self.inner.session_status(id).await
    }
    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        self.check("rotate_refresh_token")?;
        self.inner.rotate_refresh_token(rotation).await
    }
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check("revoke_session")?;
        self.inner.revoke_session(user_id, session_id, now).await
    }
    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.check("revoke_user_sessions")?;
        self.inner.revoke_user_sessions(user_id, keep, now).await
    }
    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.check("list_sessions")?;
        self.inner.list_sessions(user_id, now).await
    }
}

#[auth_core::async_trait]
impl SingleUseTokenStore for FlakyStore {
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.check("insert_single_use_token")?;
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
        self.check("find_single_use_token")?;
        self.inner.find_single_use_token(digest, kind, now).await
    }
    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        self.check("consume_single_use_token")?;
        self.inner.consume_single_use_token(digest, kind, now).await
    }
    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.check("void_single_use_tokens")?;
        self.inner.void_single_use_tokens(user_id, kind, now).await
    }
}

#[auth_core::async_trait]
impl ExpiredDeletion for FlakyStore {
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.check("delete_expired")?;
        self.inner.delete_expired(before, batch).await
    }
}

#[auth_core::async_trait]
impl RateLimiter for FlakyStore {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.check("rate_limit_hit")?;
        self.inner.hit(key, policy, now).await
    }
    async fn peek(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.check("rate_limit_peek")?;
        self.inner.peek(key, policy, now).await
    }
    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.check("rate_limit_clear")?;
        self.inner.clear(key).await
    }
}
