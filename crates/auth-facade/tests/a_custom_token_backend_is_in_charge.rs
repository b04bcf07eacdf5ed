//! Issue 9: a custom token backend is fully in charge. The builder accepts one without a
//! session store; listing sessions, revoking one, logout-all and cleanup go through it, not
//! around it; and wrapping the default backend needs no copy of its constructor.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_conformance::MemoryStore;
use auth_core::{
    AccessClaims, IssueRequest, IssuedTokens, LoggedOut, RefreshOutcome, SessionId, SessionInfo,
    TokenBackend, TokenError, UserId,
};
use auth_facade::{AuthService, IdKind, OpaqueTokenBackend, SystemClock};
use common::*;

/// Counts every call, then delegates.
struct Counting {
    inner: Arc<dyn TokenBackend>,
    calls: Arc<AtomicUsize>,
    listed: Arc<AtomicUsize>,
    cleaned: Arc<AtomicUsize>,
}

#[auth_core::async_trait]
impl TokenBackend for Counting {
    async fn issue(&self, r: IssueRequest<'_>) -> Result<IssuedTokens, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.issue(r).await
    }
    async fn verify_access(&self, t: &str) -> Result<AccessClaims, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_access(t).await
    }
    async fn refresh(&self, t: &str) -> Result<RefreshOutcome, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.refresh(t).await
    }
    async fn logout(&self, t: &str) -> Result<LoggedOut, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.logout(t).await
    }
    async fn revoke_session(&self, u: &UserId, s: &SessionId) -> Result<bool, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.revoke_session(u, s).await
    }
    async fn revoke_all(&self, u: &UserId, keep: Option<&SessionId>) -> Result<u64, TokenError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.revoke_all(u, keep).await
    }
    async fn sessions(&self, u: &UserId) -> Result<Vec<SessionInfo>, TokenError> {
        self.listed.fetch_add(1, Ordering::SeqCst);
        self.inner.sessions(u).await
    }
    async fn cleanup_expired(&self, batch: u32) -> Result<u64, TokenError> {
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        self.inner.cleanup_expired(batch).await
    }
}

#[tokio::test]
async fn a_backend_without_a_session_store_does_everything_about_sessions() {
    // Sessions live in a store the service never sees: only the backend holds it.
    let users = MemoryStore::new(IdKind::Integer);
    let hidden = MemoryStore::new(IdKind::Integer);
    let config = fast_config();
    let opaque = OpaqueTokenBackend::new(
        Arc::new(hidden.clone()),
        Arc::new(SystemClock),
        config.session_policy(),
    )
    .with_expired_deletion(Arc::new(hidden.clone()));
    let (calls, listed, cleaned) = (Arc::default(), Arc::default(), Arc::default());
    let backend = Counting {
        inner: Arc::new(opaque),
        calls: Arc::clone(&calls),
        listed: Arc::clone(&listed),
        cleaned: Arc::clone(&cleaned),
    };
    let auth = AuthService::builder(config)
        .user_store(Arc::new(users.clone()))
        .token_backend(Arc::new(backend))
        .build()
        .expect("a backend needs no session store");

    let user = auth
        .register("alice@example.com", "violet-otter-umbrella")
        .await
        .unwrap();
    let first = auth
        .login("alice@example.com", "violet-otter-umbrella")
        .await
        .unwrap();
    let second = auth
        .login("alice@example.com", "violet-otter-umbrella")
        .await
        .unwrap();
    assert_eq!(auth.sessions().list(&user.id).await.unwrap().len(), 2);
    assert_eq!(
        listed.load(Ordering::SeqCst),
        1,
        "the list came from the backend"
    );
    assert!(
        auth.sessions()
            .revoke(&user.id, &first.session_id)
            .await
            .unwrap()
    );
    assert!(auth.authenticate(&first.access_token).await.is_err());
    auth.authenticate(&second.access_token).await.unwrap();
    assert_eq!(auth.logout_all(&user.id).await.unwrap(), 1);
    // The sessions are in the backend's store; the user store never saw one.
    assert!(hidden.dump().contains("session "));
    assert!(!users.dump().contains("session "));
    assert!(
        auth.cleanup_expired().await.unwrap() >= 2,
        "the ended sessions went"
    );
    assert_eq!(
        cleaned.load(Ordering::SeqCst),
        1,
        "cleanup went through the backend"
    );
    assert!(calls.load(Ordering::SeqCst) >= 6);
}

#[tokio::test]
async fn wrapping_the_default_backend_needs_no_constructor() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let h = harness_with(fast_config(), move |b| {
        b.wrap_token_backend(move |default| {
            Arc::new(Counting {
                inner: default,
                calls: c,
                listed: Arc::default(),
                cleaned: Arc::default(),
            })
        })
    });
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth.authenticate(&result.access_token).await.unwrap();
    h.auth.refresh(&result.refresh_token).await.unwrap();
    // set_password's revoke_all goes through the store's transaction, not the backend.
    assert_eq!(calls.load(Ordering::SeqCst), 3, "issue, verify, refresh");
}

#[tokio::test]
async fn a_service_without_any_session_source_is_a_configuration_error() {
    let err = AuthService::builder(fast_config())
        .user_store(Arc::new(MemoryStore::new(IdKind::Integer)))
        .build()
        .unwrap_err();
    assert!(matches!(err, auth_facade::AuthError::Config(_)), "{err:?}");
}
