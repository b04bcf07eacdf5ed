//! Typed lifecycle events, with the reference's names and fields, and the bus that
//! delivers them to listeners.
//!
//! The facade emits an [`AuthEvent`] after each state change (login, failed login, logout,
//! password change, reset, refresh, reuse, rate limiting, service-token checks).
//! Listeners are where an application writes its audit log, sends "your password was
//! changed" mail, or feeds its metrics.
//!
//! # Delivery
//!
//! - [`EventBus::subscribe`]: the listener runs on the request path, in subscription
//!   order, before the operation returns, so a test can assert on events right after the
//!   call that caused them.
//! - [`EventBus::subscribe_background`]: the listener runs off the request path, on a
//!   task of its own fed by a bounded queue (events beyond its capacity are dropped with a
//!   warning rather than slowing requests down); [`EventBus::flush`] waits until every
//!   queued event was handled.
//!
//! Either way a listener can never fail the operation: an error it returns is logged with
//! `tracing`, and so is a panic (caught; the other listeners still run). Events carry ids,
//! the typed identifier and reasons, never a password or a token.
//!
//! ```
//! use auth_events::{AuthEvent, EventBus, EventRecorder};
//!
//! let bus = EventBus::new();
//! let recorder = EventRecorder::new();
//! bus.subscribe(recorder.clone());
//! bus.subscribe_fn(|event: &AuthEvent| println!("audit: {}", event.name()));
//! assert_eq!(bus.listener_count(), 2);
//! ```

use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use auth_core::{BoxError, OffsetDateTime, SessionId, UserId};
use futures::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

/// Why a login failed. For the application's audit log only: the caller of `login` always
/// gets the same "invalid credentials" (or "rate limited") error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginFailureReason {
    /// No user has this email.
    NotFound,
    /// The user is deactivated.
    Inactive,
    /// The password did not match, or the user has no usable password.
    BadPassword,
    /// The attempt was refused by the rate limiter before any check.
    RateLimited,
    /// The password was right, but the credentials changed (password change,
    /// deactivation, deletion) before the session was written: no session was kept.
    CredentialsChanged,
}

impl LoginFailureReason {
    /// The reference's name: `not_found`, `inactive`, `bad_password`, `rate_limited` (and
    /// ours, `credentials_changed`).
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailureReason::NotFound => "not_found",
            LoginFailureReason::Inactive => "inactive",
            LoginFailureReason::BadPassword => "bad_password",
            LoginFailureReason::RateLimited => "rate_limited",
            LoginFailureReason::CredentialsChanged => "credentials_changed",
        }
    }
}

/// Which counter a rate limit was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitScope {
    /// One account (its canonical email).
    Account,
    /// One client address.
    Address,
}

impl RateLimitScope {
    /// `account` or `address`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitScope::Account => "account",
            RateLimitScope::Address => "address",
        }
    }
}

/// Why a session ended, in [`AuthEvent::SessionRevoked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEndReason {
    /// The user ended it from their session list.
    Revoked,
    /// A new login went over the per-user session cap and this was the oldest.
    SessionLimit,
    /// Its user was deactivated or deleted.
    UserDisabled,
}

impl SessionEndReason {
    /// `revoked`, `session_limit` or `user_disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEndReason::Revoked => "revoked",
            SessionEndReason::SessionLimit => "session_limit",
            SessionEndReason::UserDisabled => "user_disabled",
        }
    }
}

/// Something that happened to a user, a session or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// `user_login`: a login succeeded and started a session.
    UserLogin {
        /// Who.
        user_id: UserId,
        /// The new session.
        session_id: SessionId,
        /// The client's address, when known.
        ip: Option<IpAddr>,
        /// When.
        at: OffsetDateTime,
    },
    /// `user_login_failed`: a login failed.
    UserLoginFailed {
        /// The identifier as presented, in canonical form; it may not belong to any user.
        identifier: String,
        /// The user, when the identifier matched one.
        user_id: Option<UserId>,
        /// Why it failed.
        reason: LoginFailureReason,
        /// The client's address, when known.
        ip: Option<IpAddr>,
        /// When.
        at: OffsetDateTime,
    },
    /// `user_logout`: one session ended by logout, or every session (`all_sessions`).
    UserLogout {
        /// Whose.
        user_id: UserId,
        /// The session, for a single logout.
        session_id: Option<SessionId>,
        /// True for logout-all.
        all_sessions: bool,
        /// How many sessions ended.
        count: u64,
        /// When.
        at: OffsetDateTime,
    },
    /// `password_changed`: a user's password was set, changed or reset.
    PasswordChanged {
        /// Whose.
        user_id: UserId,
        /// How many of the user's sessions the change ended.
        sessions_ended: u64,
        /// When.
        at: OffsetDateTime,
    },
    /// `rate_limit_exceeded`: an attempt was refused by a rate limit.
    RateLimitExceeded {
        /// The operation (`login`, `password_reset`, `email_verification`, ...).
        action: &'static str,
        /// Which counter.
        scope: RateLimitScope,
        /// The identifier for an account limit, the address for an address limit.
        identifier: String,
        /// How long until the next attempt is allowed.
        retry_after: Duration,
        /// When.
        at: OffsetDateTime,
    },
    /// `password_reset_requested`: someone asked for a reset link (whether or not the
    /// address belongs to a user; the token is never in the event).
    PasswordResetRequested {
        /// The address asked for, in canonical form.
        identifier: String,
        /// The user, when the address matched an active one.
        user_id: Option<UserId>,
        /// When.
        at: OffsetDateTime,
    },
    /// `password_reset_completed`: a reset token set a new password; every session ended.
    PasswordResetCompleted {
        /// Whose.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
    /// `s2s_auth_success`: a service token was accepted.
    ServiceAuthSuccess {
        /// The service's configured name, if it has one.
        service: Option<String>,
        /// When.
        at: OffsetDateTime,
    },
    /// `s2s_auth_failed`: a service token was refused.
    ServiceAuthFailed {
        /// When.
        at: OffsetDateTime,
    },
    /// `user_created` (ours): a user was created.
    UserCreated {
        /// The new user.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
    /// `user_deleted` (ours): a user and their sessions were deleted.
    UserDeleted {
        /// The former user.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
    /// `token_refreshed` (ours): a refresh token was exchanged for a new pair.
    TokenRefreshed {
        /// Whose.
        user_id: UserId,
        /// The session, which continues.
        session_id: SessionId,
        /// True when the grace window returned an already issued pair again.
        replayed: bool,
        /// When.
        at: OffsetDateTime,
    },
    /// `refresh_token_reused` (ours): a spent refresh token was presented again: the
    /// session was revoked, since either the client or an attacker holds a stolen copy.
    RefreshTokenReused {
        /// Whose.
        user_id: UserId,
        /// The revoked session.
        session_id: SessionId,
        /// When.
        at: OffsetDateTime,
    },
    /// `session_revoked` (ours): one session ended other than by logout.
    SessionRevoked {
        /// Whose.
        user_id: UserId,
        /// Which (absent when several ended at once, e.g. by the session cap).
        session_id: Option<SessionId>,
        /// How many.
        count: u64,
        /// Why.
        reason: SessionEndReason,
        /// When.
        at: OffsetDateTime,
    },
    /// `user_verified` (ours): a user proved they read their email.
    UserVerified {
        /// Who.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
}

impl AuthEvent {
    /// The event's name: the reference's (`user_login`, `user_login_failed`,
    /// `user_logout`, `password_changed`, `rate_limit_exceeded`,
    /// `password_reset_requested`, `password_reset_completed`, `s2s_auth_success`,
    /// `s2s_auth_failed`) or ours (`user_created`, `user_deleted`, `token_refreshed`,
    /// `refresh_token_reused`, `session_revoked`, `user_verified`).
    pub fn name(&self) -> &'static str {
        match self {
            AuthEvent::UserLogin { .. } => "user_login",
            AuthEvent::UserLoginFailed { .. } => "user_login_failed",
            AuthEvent::UserLogout { .. } => "user_logout",
            AuthEvent::PasswordChanged { .. } => "password_changed",
            AuthEvent::RateLimitExceeded { .. } => "rate_limit_exceeded",
            AuthEvent::PasswordResetRequested { .. } => "password_reset_requested",
            AuthEvent::PasswordResetCompleted { .. } => "password_reset_completed",
            AuthEvent::ServiceAuthSuccess { .. } => "s2s_auth_success",
            AuthEvent::ServiceAuthFailed { .. } => "s2s_auth_failed",
            AuthEvent::UserCreated { .. } => "user_created",
            AuthEvent::UserDeleted { .. } => "user_deleted",
            AuthEvent::TokenRefreshed { .. } => "token_refreshed",
            AuthEvent::RefreshTokenReused { .. } => "refresh_token_reused",
            AuthEvent::SessionRevoked { .. } => "session_revoked",
            AuthEvent::UserVerified { .. } => "user_verified",
        }
    }

    /// The user the event is about, when known.
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            AuthEvent::UserLogin { user_id, .. }
            | AuthEvent::UserLogout { user_id, .. }
            | AuthEvent::PasswordChanged { user_id, .. }
            | AuthEvent::PasswordResetCompleted { user_id, .. }
            | AuthEvent::UserCreated { user_id, .. }
            | AuthEvent::UserDeleted { user_id, .. }
            | AuthEvent::TokenRefreshed { user_id, .. }
            | AuthEvent::RefreshTokenReused { user_id, .. }
            | AuthEvent::SessionRevoked { user_id, .. }
            | AuthEvent::UserVerified { user_id, .. } => Some(user_id),
            AuthEvent::UserLoginFailed { user_id, .. }
            | AuthEvent::PasswordResetRequested { user_id, .. } => user_id.as_ref(),
            AuthEvent::RateLimitExceeded { .. }
            | AuthEvent::ServiceAuthSuccess { .. }
            | AuthEvent::ServiceAuthFailed { .. } => None,
        }
    }
}

/// Receives events. Errors (and panics) are logged by the bus and never fail the emitting
/// operation.
#[async_trait::async_trait]
pub trait EventListener: Send + Sync + 'static {
    /// Handles one event.
    async fn on_event(&self, event: &AuthEvent) -> Result<(), BoxError>;
}

/// A synchronous closure as a listener.
struct FnListener<F>(F);

#[async_trait::async_trait]
impl<F> EventListener for FnListener<F>
where
    F: Fn(&AuthEvent) + Send + Sync + 'static,
{
    async fn on_event(&self, event: &AuthEvent) -> Result<(), BoxError> {
        (self.0)(event);
        Ok(())
    }
}

/// Runs one listener on one event; an error or a panic is logged, never propagated.
async fn deliver(listener: &dyn EventListener, event: &AuthEvent) {
    match AssertUnwindSafe(listener.on_event(event))
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(event = event.name(), %error, "auth event listener failed");
        }
        Err(_) => {
            tracing::error!(event = event.name(), "auth event listener panicked");
        }
    }
}

/// What a background listener's queue carries.
enum Queued {
    Event(AuthEvent),
    Flush(oneshot::Sender<()>),
}

/// A listener run off the request path: its queue, and the listener until its task
/// starts (on the first emit, inside the runtime).
struct Background {
    queue: mpsc::Sender<Queued>,
    pending: Mutex<Option<NotStarted>>,
}

/// A background listener and its queue's receiving end, before its task starts.
type NotStarted = (Arc<dyn EventListener>, mpsc::Receiver<Queued>);

impl Background {
    fn new(listener: Arc<dyn EventListener>, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        Self {
            queue,
            pending: Mutex::new(Some((listener, rx))),
        }
    }

    /// Starts the listener's task if it has not started yet.
    fn start(&self) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((listener, mut rx)) = pending {
            tokio::spawn(async move {
                while let Some(item) = rx.recv().await {
                    match item {
                        Queued::Event(event) => deliver(listener.as_ref(), &event).await,
                        Queued::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        }
    }
}

#[derive(Default)]
struct Listeners {
    inline: Vec<Arc<dyn EventListener>>,
    background: Vec<Arc<Background>>,
}

/// Delivers events to the listeners subscribed to it. Cheap to clone: clones share the
/// listeners.
#[derive(Clone, Default)]
pub struct EventBus {
    listeners: Arc<RwLock<Listeners>>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("listeners", &self.listener_count())
            .finish()
    }
}

/// How many events a background listener's queue holds by default.
pub const DEFAULT_BACKGROUND_CAPACITY: usize = 1024;

impl EventBus {
    /// A bus with no listeners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a listener that runs on the request path; it receives every event emitted
    /// afterwards, before the emitting operation returns.
    pub fn subscribe(&self, listener: impl EventListener) {
        self.write().inline.push(Arc::new(listener));
    }

    /// Adds a synchronous closure as a request-path listener.
    pub fn subscribe_fn(&self, f: impl Fn(&AuthEvent) + Send + Sync + 'static) {
        self.subscribe(FnListener(f));
    }

    /// Adds a listener that runs off the request path, on its own task, fed by a queue of
    /// [`DEFAULT_BACKGROUND_CAPACITY`] events (use it for slow work: mail, webhooks).
    pub fn subscribe_background(&self, listener: impl EventListener) {
        self.subscribe_background_with_capacity(listener, DEFAULT_BACKGROUND_CAPACITY);
    }

    /// Like [`subscribe_background`](Self::subscribe_background) with a queue of
    /// `capacity` events; when it is full, new events for this listener are dropped and
    /// logged.
    pub fn subscribe_background_with_capacity(
        &self,
        listener: impl EventListener,
        capacity: usize,
    ) {
        self.write()
            .background
            .push(Arc::new(Background::new(Arc::new(listener), capacity)));
    }

    /// How many listeners are subscribed (both kinds).
    pub fn listener_count(&self) -> usize {
        let l = self.read();
        l.inline.len() + l.background.len()
    }

    /// Delivers `event`: to every request-path listener in subscription order, awaiting
    /// each, and into every background listener's queue. Listener errors and panics are
    /// logged, and the others still run.
    pub async fn emit(&self, event: AuthEvent) {
        let (inline, background) = {
            let l = self.read();
            (l.inline.clone(), l.background.clone())
        };
        for listener in inline {
            deliver(listener.as_ref(), &event).await;
        }
        for b in background {
            b.start();
            if b.queue.try_send(Queued::Event(event.clone())).is_err() {
                tracing::warn!(
                    event = event.name(),
                    "background listener queue full: event dropped"
                );
            }
        }
    }

    /// Waits until every background listener has handled every event queued before this
    /// call (for tests and graceful shutdown).
    pub async fn flush(&self) {
        let background = self.read().background.clone();
        for b in background {
            b.start();
            let (done, wait) = oneshot::channel();
            if b.queue.send(Queued::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Listeners> {
        self.listeners.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Listeners> {
        self.listeners.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A listener that keeps every event: for tests of applications and of this library.
#[derive(Clone, Default, Debug)]
pub struct EventRecorder {
    events: Arc<Mutex<Vec<AuthEvent>>>,
}

impl EventRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> Vec<AuthEvent> {
        self.lock().clone()
    }

    /// The names of the events received so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.lock().iter().map(AuthEvent::name).collect()
    }

    /// How many events named `name` were received.
    pub fn count(&self, name: &str) -> usize {
        self.lock().iter().filter(|e| e.name() == name).count()
    }

    /// Forgets the events received so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AuthEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl EventListener for EventRecorder {
    async fn on_event(&self, event: &AuthEvent) -> Result<(), BoxError> {
        self.lock().push(event.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Failing;

    #[async_trait::async_trait]
    impl EventListener for Failing {
        async fn on_event(&self, _: &AuthEvent) -> Result<(), BoxError> {
            Err("listener broke".into())
        }
    }

    struct Panicking;

    #[async_trait::async_trait]
    impl EventListener for Panicking {
        async fn on_event(&self, _: &AuthEvent) -> Result<(), BoxError> {
            panic!("listener panicked");
        }
    }

    fn login() -> AuthEvent {
        AuthEvent::UserLogin {
            user_id: UserId::Int(1),
            session_id: SessionId::from_bytes([1; 16]),
            ip: None,
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_survives_failing_and_panicking_listeners() {
        let bus = EventBus::new();
        let recorder = EventRecorder::new();
        let calls = Arc::new(AtomicUsize::new(0));
        bus.subscribe(Failing);
        bus.subscribe(Panicking);
        bus.subscribe(recorder.clone());
        let c = calls.clone();
        bus.subscribe_fn(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        bus.emit(login()).await;
        bus.emit(AuthEvent::PasswordChanged {
            user_id: UserId::Int(1),
            sessions_ended: 0,
            at: OffsetDateTime::UNIX_EPOCH,
        })
        .await;
        assert_eq!(recorder.names(), ["user_login", "password_changed"]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(bus.listener_count(), 4);
    }

    #[tokio::test]
    async fn clones_share_listeners() {
        let bus = EventBus::new();
        let recorder = EventRecorder::new();
        bus.clone().subscribe(recorder.clone());
        bus.emit(login()).await;
        assert_eq!(recorder.events().len(), 1);
        assert_eq!(recorder.events()[0].user_id(), Some(&UserId::Int(1)));
    }

    /// Blocks until released: proves the emitter does not wait for background listeners.
    struct Gate {
        release: tokio::sync::Semaphore,
        seen: EventRecorder,
    }

    #[async_trait::async_trait]
    impl EventListener for Arc<Gate> {
        async fn on_event(&self, event: &AuthEvent) -> Result<(), BoxError> {
            let _permit = self.release.acquire().await?;
            self.seen.on_event(event).await
        }
    }

    #[tokio::test]
    async fn background_listeners_run_off_the_request_path() {
        let bus = EventBus::new();
        let gate = Arc::new(Gate {
            release: tokio::sync::Semaphore::new(0),
            seen: EventRecorder::new(),
        });
        bus.subscribe_background(gate.clone());
        bus.subscribe_background(Panicking);
        // Returns although the background listener is blocked.
        tokio::time::timeout(Duration::from_secs(5), bus.emit(login()))
            .await
            .expect("emit waited for a background listener");
        assert!(gate.seen.events().is_empty());
        gate.release.add_permits(1);
        bus.flush().await;
        assert_eq!(gate.seen.names(), ["user_login"]);
    }

    #[tokio::test]
    async fn a_full_background_queue_drops_instead_of_blocking() {
        let bus = EventBus::new();
        let gate = Arc::new(Gate {
            release: tokio::sync::Semaphore::new(0),
            seen: EventRecorder::new(),
        });
        bus.subscribe_background_with_capacity(gate.clone(), 2);
        for _ in 0..10 {
            tokio::time::timeout(Duration::from_secs(5), bus.emit(login()))
                .await
                .expect("emit blocked on a full queue");
        }
        gate.release.add_permits(100);
        bus.flush().await;
        let n = gate.seen.events().len();
        assert!((1..10).contains(&n), "{n} events delivered of 10");
    }
}
