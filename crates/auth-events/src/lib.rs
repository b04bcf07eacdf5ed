//! Typed lifecycle events and the bus that delivers them to async listeners.
//!
//! The facade emits an [`AuthEvent`] after each state change (login, failed login, logout,
//! password change, refresh, refresh-token reuse). Listeners are where an application
//! writes its audit log, sends "your password was changed" mail, or feeds its metrics.
//!
//! Delivery is in-process and awaited: [`EventBus::emit`] calls every listener in
//! subscription order and returns when all are done, so a test can assert on events right
//! after the call that caused them. A listener's error is logged (with `tracing`) and never
//! fails the operation that emitted the event. Events carry ids and reasons, never a
//! password or a token.
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

use std::sync::{Arc, Mutex, RwLock};

use auth_core::{BoxError, OffsetDateTime, SessionId, UserId};

/// Why a login failed. For the application's audit log only: the caller of `login` always
/// gets the same "invalid credentials" error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginFailureReason {
    /// No user has this email.
    UnknownUser,
    /// The user is deactivated.
    InactiveUser,
    /// The user has no usable password (never set, or disabled with `!`).
    UnusablePassword,
    /// The password did not match.
    WrongPassword,
    /// The attempt was refused by the rate limiter before any check.
    RateLimited,
}

impl LoginFailureReason {
    /// A stable snake_case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailureReason::UnknownUser => "unknown_user",
            LoginFailureReason::InactiveUser => "inactive_user",
            LoginFailureReason::UnusablePassword => "unusable_password",
            LoginFailureReason::WrongPassword => "wrong_password",
            LoginFailureReason::RateLimited => "rate_limited",
        }
    }
}

/// Something that happened to a user or a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A user was created.
    UserCreated {
        /// The new user.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
    /// A login succeeded and started a session.
    UserLogin {
        /// Who.
        user_id: UserId,
        /// The new session.
        session_id: SessionId,
        /// When.
        at: OffsetDateTime,
    },
    /// A login failed.
    UserLoginFailed {
        /// The email as given (normalized); it may not belong to any user.
        email: String,
        /// The user, when the email matched one.
        user_id: Option<UserId>,
        /// Why it failed.
        reason: LoginFailureReason,
        /// When.
        at: OffsetDateTime,
    },
    /// A session was ended by logout.
    UserLogout {
        /// Whose.
        user_id: UserId,
        /// Which.
        session_id: SessionId,
        /// When.
        at: OffsetDateTime,
    },
    /// Every session of a user was ended (logout-all, password change or reset).
    AllSessionsRevoked {
        /// Whose.
        user_id: UserId,
        /// How many sessions ended.
        count: u64,
        /// When.
        at: OffsetDateTime,
    },
    /// A user's password was set or changed.
    PasswordChanged {
        /// Whose.
        user_id: UserId,
        /// When.
        at: OffsetDateTime,
    },
    /// A refresh token was exchanged for a new pair.
    TokenRefreshed {
        /// Whose.
        user_id: UserId,
        /// The session, which continues.
        session_id: SessionId,
        /// When.
        at: OffsetDateTime,
    },
    /// A spent refresh token was presented again: the session was revoked, since either
    /// the client or an attacker holds a stolen copy.
    RefreshTokenReused {
        /// Whose.
        user_id: UserId,
        /// The revoked session.
        session_id: SessionId,
        /// When.
        at: OffsetDateTime,
    },
}

impl AuthEvent {
    /// The reference's event name (`user_login`, `user_login_failed`, `user_logout`,
    /// `password_changed`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            AuthEvent::UserCreated { .. } => "user_created",
            AuthEvent::UserLogin { .. } => "user_login",
            AuthEvent::UserLoginFailed { .. } => "user_login_failed",
            AuthEvent::UserLogout { .. } => "user_logout",
            AuthEvent::AllSessionsRevoked { .. } => "all_sessions_revoked",
            AuthEvent::PasswordChanged { .. } => "password_changed",
            AuthEvent::TokenRefreshed { .. } => "token_refreshed",
            AuthEvent::RefreshTokenReused { .. } => "refresh_token_reused",
        }
    }

    /// The user the event is about, when known.
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            AuthEvent::UserCreated { user_id, .. }
            | AuthEvent::UserLogin { user_id, .. }
            | AuthEvent::UserLogout { user_id, .. }
            | AuthEvent::AllSessionsRevoked { user_id, .. }
            | AuthEvent::PasswordChanged { user_id, .. }
            | AuthEvent::TokenRefreshed { user_id, .. }
            | AuthEvent::RefreshTokenReused { user_id, .. } => Some(user_id),
            AuthEvent::UserLoginFailed { user_id, .. } => user_id.as_ref(),
        }
    }
}

/// Receives events. Errors are logged by the bus and do not fail the emitting operation.
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

/// Delivers events to the listeners subscribed to it. Cheap to clone: clones share the
/// listeners.
#[derive(Clone, Default)]
pub struct EventBus {
    listeners: Arc<RwLock<Vec<Arc<dyn EventListener>>>>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("listeners", &self.listener_count())
            .finish()
    }
}

impl EventBus {
    /// A bus with no listeners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a listener; it receives every event emitted afterwards.
    pub fn subscribe(&self, listener: impl EventListener) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(listener));
    }

    /// Adds a synchronous closure as a listener.
    pub fn subscribe_fn(&self, f: impl Fn(&AuthEvent) + Send + Sync + 'static) {
        self.subscribe(FnListener(f));
    }

    /// How many listeners are subscribed.
    pub fn listener_count(&self) -> usize {
        self.listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Delivers `event` to every listener in subscription order, awaiting each. A failing
    /// listener is logged and the others still run.
    pub async fn emit(&self, event: AuthEvent) {
        let listeners: Vec<Arc<dyn EventListener>> = self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for listener in listeners {
            if let Err(error) = listener.on_event(&event).await {
                tracing::warn!(event = event.name(), %error, "auth event listener failed");
            }
        }
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
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The names of the events received so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.events().iter().map(AuthEvent::name).collect()
    }

    /// Forgets the events received so far.
    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[async_trait::async_trait]
impl EventListener for EventRecorder {
    async fn on_event(&self, event: &AuthEvent) -> Result<(), BoxError> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
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

    fn login() -> AuthEvent {
        AuthEvent::UserLogin {
            user_id: UserId::Int(1),
            session_id: SessionId::from_bytes([1; 16]),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_survives_a_failing_listener() {
        let bus = EventBus::new();
        let recorder = EventRecorder::new();
        let calls = Arc::new(AtomicUsize::new(0));
        bus.subscribe(Failing);
        bus.subscribe(recorder.clone());
        let c = calls.clone();
        bus.subscribe_fn(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        bus.emit(login()).await;
        bus.emit(AuthEvent::PasswordChanged {
            user_id: UserId::Int(1),
            at: OffsetDateTime::UNIX_EPOCH,
        })
        .await;
        assert_eq!(recorder.names(), ["user_login", "password_changed"]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(bus.listener_count(), 3);
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
}
