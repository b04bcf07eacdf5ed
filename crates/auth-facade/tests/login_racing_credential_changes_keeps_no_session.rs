//! Issue 6, defect 2: a login verifies the password (~50-90 ms) and only then writes its
//! session. A password change, a deactivation or a deletion that lands in between used to
//! leave that session alive (and refreshing forever). Now the session is written, then the
//! credentials it was granted on are checked again, and a change ends its sessions in the
//! same transaction as the change: whichever way the race goes, no session survives.
//!
//! Deterministic: a hasher that stops inside `verify` until the change has landed.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use auth_facade::crates::hash::HashError;
use auth_facade::{
    AuthConfig, AuthError, AuthEvent, AuthService, LoginFailureReason, MultiHasher, PasswordHasher,
    UserId, Verification,
};
use common::*;

/// Stops in the next `verify` (after computing it) until released.
struct PausingHasher {
    inner: MultiHasher,
    armed: AtomicBool,
    entered: tokio::sync::Notify,
    release: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl PausingHasher {
    fn new(config: &AuthConfig) -> (Arc<Self>, std::sync::mpsc::Sender<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let hasher = Arc::new(Self {
            inner: MultiHasher::new(auth_facade::hasher_config(config)).unwrap(),
            armed: AtomicBool::new(false),
            entered: tokio::sync::Notify::new(),
            release: std::sync::Mutex::new(Some(rx)),
        });
        (hasher, tx)
    }
}

impl PasswordHasher for PausingHasher {
    fn hash(&self, p: &str) -> Result<String, HashError> {
        self.inner.hash(p)
    }
    fn verify(&self, p: &str, e: &str) -> Result<Verification, HashError> {
        let result = self.inner.verify(p, e);
        if self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            if let Some(rx) = self.release.lock().unwrap().take() {
                let _ = rx.recv();
            }
        }
        result
    }
    fn dummy_verify(&self, p: &str) {
        self.inner.dummy_verify(p)
    }
}

/// Logs in while `change` runs between the password check and the session write; the
/// login must fail, or its session must be dead.
async fn login_straddling(change: impl AsyncFnOnce(&AuthService, UserId)) -> Harness {
    let config = fast_config();
    let (hasher, release) = PausingHasher::new(&config);
    let h = harness_with(config, |b| b.hasher(hasher.clone()));
    let user = h.user("race@example.com").await;
    hasher.armed.store(true, Ordering::SeqCst);
    let auth = h.auth.clone();
    let login = tokio::spawn(async move { auth.login("race@example.com", PASSWORD).await });
    hasher.entered.notified().await;
    change(&h.auth, user.id).await;
    release.send(()).unwrap();
    match login.await.unwrap() {
        Err(AuthError::InvalidCredentials) => {}
        Err(other) => panic!("unexpected {other:?}"),
        Ok(result) => panic!(
            "a login that verified stale credentials got a session (refresh: {:?})",
            h.auth.refresh(&result.refresh_token).await.map(|_| ())
        ),
    }
    assert!(h.auth.sessions().list(&user.id).await.unwrap().is_empty());
    h
}

fn reason_of_last_failure(h: &Harness) -> LoginFailureReason {
    match h
        .events
        .events()
        .into_iter()
        .rev()
        .find(|e| e.name() == "user_login_failed")
    {
        Some(AuthEvent::UserLoginFailed { reason, .. }) => reason,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_during_login_leaves_no_session() {
    let h = login_straddling(async |auth: &AuthService, id| {
        auth.set_password(&id, "AnotherPass456!").await.unwrap();
    })
    .await;
    assert_eq!(
        reason_of_last_failure(&h),
        LoginFailureReason::CredentialsChanged
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_during_login_leaves_no_session_to_revive() {
    let h = login_straddling(async |auth: &AuthService, id| {
        auth.set_active(&id, false).await.unwrap();
    })
    .await;
    // Reactivation revives nothing; the user can log in afresh.
    let id = h
        .auth
        .users()
        .find(&auth_facade::UserId::Int(1))
        .await
        .unwrap()
        .unwrap()
        .id;
    h.auth.set_active(&id, true).await.unwrap();
    assert!(h.auth.sessions().list(&id).await.unwrap().is_empty());
    h.auth.login("race@example.com", PASSWORD).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_during_login_leaves_no_session() {
    login_straddling(async |auth: &AuthService, id| {
        auth.delete_user(&id).await.unwrap();
    })
    .await;
}
