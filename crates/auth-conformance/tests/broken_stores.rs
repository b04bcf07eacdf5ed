//! The suite catches what it used to miss: each deliberately broken store (a wrapper
//! around `MemoryStore` with one fault) makes the relevant runner panic, naming the
//! broken rule.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_conformance::MemoryStore;
use auth_core::{
    AccessTokenRecord, ExpiredDeletion, IdKind, NewSession, NewToken, OffsetDateTime,
    RateLimitDecision, RateLimitPolicy, RateLimitWindow, RateLimiter, RotateOutcome, Rotation,
    SessionId, SessionInfo, SessionStatus, SessionStore, SingleUseTokenStore, StoreError,
    TokenDigest, TokenKind, UserId,
};
use futures::FutureExt as _;

/// The one fault a [`Broken`] store has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `delete_expired` also purges spent but unexpired refresh tokens of live sessions.
    PurgesSpentRefreshTokens,
    /// `revoke_user_sessions` counts expired sessions too.
    CountsExpiredSessionsInRevokeAll,
    /// Rotation checks expiry before spent-ness: a late replay is `Expired`, not `Reused`.
    ExpiredBeforeReused,
    /// Rotation reads "unspent", then writes: two concurrent rotations both succeed.
    NonAtomicRotation,
    /// The rate limiter reads, then writes: concurrent hits lose updates.
    LosesRateLimitUpdates,
}

/// What the wrapper remembers about the rows it passed to the inner store.
#[derive(Default)]
struct Shadow {
    /// Session tokens: session, user, expiry (capped), kind.
    tokens: HashMap<TokenDigest, (SessionId, UserId, OffsetDateTime, TokenKind)>,
    /// Sessions: user, expiry, absolute end, whether revoke-all already counted it.
    sessions: HashMap<SessionId, (UserId, OffsetDateTime, OffsetDateTime, bool)>,
    /// Refresh tokens this wrapper saw spent.
    spent: HashSet<TokenDigest>,
    /// Refresh tokens "deleted" by the faulty purge.
    purged: HashSet<TokenDigest>,
    /// The faulty rate limiter's own state.
    rate: HashMap<String, RateLimitWindow>,
}

#[derive(Clone)]
struct Broken {
    inner: MemoryStore,
    fault: Fault,
    shadow: Arc<Mutex<Shadow>>,
}

impl Broken {
    fn new(fault: Fault) -> Self {
        Self {
            inner: MemoryStore::new(IdKind::Integer),
            fault,
            shadow: Arc::default(),
        }
    }

    fn shadow(&self) -> std::sync::MutexGuard<'_, Shadow> {
        self.shadow.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember_tokens(
        &self,
        session: SessionId,
        user: UserId,
        cap: OffsetDateTime,
        tokens: &[NewToken],
    ) {
        let mut shadow = self.shadow();
        for t in tokens {
            shadow
                .tokens
                .insert(t.digest, (session, user, t.expires_at.min(cap), t.kind));
        }
    }
}

#[auth_core::async_trait]
impl SessionStore for Broken {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        let n = self
            .inner
            .create_session(session, tokens, max_active)
            .await?;
        self.remember_tokens(
            session.id,
            session.user_id,
            session.absolute_expires_at,
            tokens,
        );
        self.shadow().sessions.insert(
            session.id,
            (
                session.user_id,
                session.expires_at,
                session.absolute_expires_at,
                false,
            ),
        );
        Ok(n)
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.inner.find_access_token(digest).await
    }

    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        self.inner.session_status(id).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        let known = self.shadow().tokens.get(rotation.digest).copied();
        match self.fault {
            Fault::PurgesSpentRefreshTokens if self.shadow().purged.contains(rotation.digest) => {
                // The row is gone: the store cannot tell a replay from garbage.
                return Ok(RotateOutcome::NotFound);
            }
            Fault::ExpiredBeforeReused => {
                if let Some((session, _, expires_at, TokenKind::Refresh)) = known {
                    let revoked = self
                        .inner
                        .session_status(&session)
                        .await?
                        .is_some_and(|s| s.revoked);
                    if !revoked && expires_at <= rotation.now {
                        return Ok(RotateOutcome::Expired);
                    }
                }
            }
            Fault::NonAtomicRotation => {
                let was_spent = self.shadow().spent.contains(rotation.digest);
                // The gap between the read and the write that a transaction would close.
                tokio::time::sleep(Duration::from_millis(2)).await;
                if !was_spent && let Some((session, user, _, TokenKind::Refresh)) = known {
                    self.shadow().spent.insert(*rotation.digest);
                    let outcome = self.inner.rotate_refresh_token(rotation).await?;
                    return Ok(match outcome {
                        RotateOutcome::Rotated { .. } => {
                            self.remember_tokens(
                                session,
                                user,
                                rotation.refresh_expires_at,
                                rotation.new_tokens,
                            );
                            outcome
                        }
                        // Another call spent it meanwhile, but this one "read" the
                        // token unspent, so it reports success too.
                        RotateOutcome::Reused { .. } => RotateOutcome::Rotated {
                            session_id: session,
                            user_id: user,
                            refresh_expires_at: rotation.refresh_expires_at,
                            user: None,
                        },
                        other => other,
                    });
                }
            }
            _ => {}
        }
        let outcome = self.inner.rotate_refresh_token(rotation).await?;
        if let RotateOutcome::Rotated {
            session_id,
            user_id,
            ..
        } = outcome
        {
            let cap = self
                .inner
                .session_status(&session_id)
                .await?
                .map_or(rotation.refresh_expires_at, |s| s.absolute_expires_at);
            self.remember_tokens(session_id, user_id, cap, rotation.new_tokens);
            self.shadow().spent.insert(*rotation.digest);
        }
        Ok(outcome)
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_session(user_id, session_id, now).await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n = self.inner.revoke_user_sessions(user_id, keep, now).await?;
        if self.fault != Fault::CountsExpiredSessionsInRevokeAll {
            return Ok(n);
        }
        // `UPDATE sessions SET revoked = true WHERE user_id = ? AND NOT revoked`: expired
        // sessions are counted (once) as if they had been active.
        let mut extra = 0;
        for (id, (user, expires, absolute, counted)) in &mut self.shadow().sessions {
            if user == user_id
                && Some(id) != keep
                && !*counted
                && (*expires <= now || *absolute <= now)
            {
                *counted = true;
                extra += 1;
            }
        }
        Ok(n + extra)
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.inner.list_sessions(user_id, now).await
    }
}

#[auth_core::async_trait]
impl SingleUseTokenStore for Broken {
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
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
        self.inner.find_single_use_token(digest, kind, now).await
    }

    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        self.inner.consume_single_use_token(digest, kind, now).await
    }

    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.inner.void_single_use_tokens(user_id, kind, now).await
    }
}

#[auth_core::async_trait]
impl ExpiredDeletion for Broken {
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        let n = self.inner.delete_expired(before, batch).await?;
        if self.fault != Fault::PurgesSpentRefreshTokens {
            return Ok(n);
        }
        // "Spent tokens are useless": purged even though unexpired and their session lives.
        let mut shadow = self.shadow();
        let room = u64::from(batch).saturating_sub(n);
        let victims: Vec<TokenDigest> = shadow
            .spent
            .iter()
            .filter(|d| shadow.tokens.get(*d).is_some_and(|t| t.2 > before))
            .take(usize::try_from(room).unwrap_or(usize::MAX))
            .copied()
            .collect();
        for d in &victims {
            shadow.spent.remove(d);
            shadow.purged.insert(*d);
        }
        Ok(n + victims.len() as u64)
    }
}

#[auth_core::async_trait]
impl RateLimiter for Broken {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        if self.fault != Fault::LosesRateLimitUpdates {
            return self.inner.hit(key, policy, now).await;
        }
        // SELECT, decide in the application, then UPDATE: no lock between them.
        let read = self.shadow().rate.get(key).copied();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let (state, decision) = match read {
            Some(mut state) => {
                let decision = state.hit(policy, now);
                (state, decision)
            }
            None => RateLimitWindow::first(policy, now),
        };
        self.shadow().rate.insert(key.to_owned(), state);
        Ok(decision)
    }

    async fn peek(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        if self.fault != Fault::LosesRateLimitUpdates {
            return self.inner.peek(key, policy, now).await;
        }
        Ok(self
            .shadow()
            .rate
            .get(key)
            .map_or(RateLimitDecision::Allowed { attempts: 0 }, |s| s.peek(now)))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        if self.fault != Fault::LosesRateLimitUpdates {
            return self.inner.clear(key).await;
        }
        self.shadow().rate.remove(key);
        Ok(())
    }
}

/// Runs `suite` and asserts that it panics with a message naming `check` and containing
/// `rule`.
async fn must_fail(suite: impl std::future::Future<Output = ()>, check: &str, rule: &str) {
    let payload = AssertUnwindSafe(suite)
        .catch_unwind()
        .await
        .expect_err("the suite must fail on a broken store");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(
        message.contains(check),
        "the failure must name the check `{check}`:\n{message}"
    );
    assert!(
        message.contains(rule),
        "the failure must state the rule ({rule:?}):\n{message}"
    );
    println!("caught as expected: {check}");
}

fn factory(fault: Fault) -> impl Fn() -> std::future::Ready<Broken> + Send + Sync {
    move || std::future::ready(Broken::new(fault))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_spent_unexpired_refresh_tokens_of_a_live_session_fails_the_deletion_suite() {
    let f = factory(Fault::PurgesSpentRefreshTokens);
    must_fail(
        auth_conformance::run_expired_deletion("broken-purge", &f),
        "deletion::delete_expired_keeps_the_refresh_rows_of_live_sessions",
        "stays Reused",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_expired_sessions_in_revoke_all_fails_the_session_suite() {
    let f = factory(Fault::CountsExpiredSessionsInRevokeAll);
    must_fail(
        auth_conformance::run_session_store("broken-revoke-all", &f),
        "sessions::revoke_user_sessions_counts_only_active_sessions",
        "the expired one not counted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporting_expired_before_reused_fails_the_session_suite() {
    let f = factory(Fault::ExpiredBeforeReused);
    must_fail(
        auth_conformance::run_session_store("broken-order", &f),
        "sessions::rotation_outcomes_follow_the_documented_order",
        "Reused comes before Expired",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_rotations_both_succeeding_fails_the_session_suite() {
    let f = factory(Fault::NonAtomicRotation);
    must_fail(
        auth_conformance::run_session_store("broken-race", &f),
        "sessions::concurrent_rotations_rotate_exactly_once",
        "exactly one of 50 concurrent rotations wins",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_rate_limit_updates_fails_the_rate_limiter_suite() {
    let f = factory(Fault::LosesRateLimitUpdates);
    must_fail(
        auth_conformance::run_rate_limiter("broken-limiter", &f),
        "rate_limiter::concurrent_hits_are_all_counted_and_exactly_max_allowed",
        "concurrent hits",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrapper_without_a_fault_in_play_passes() {
    // Each broken wrapper passes the suites its fault does not touch, so the failures
    // above come from the fault alone.
    let f = factory(Fault::LosesRateLimitUpdates);
    auth_conformance::run_session_store("wrapper-sessions", &f).await;
    auth_conformance::run_expired_deletion("wrapper-deletion", &f).await;
    let f = factory(Fault::PurgesSpentRefreshTokens);
    auth_conformance::run_rate_limiter("wrapper-limiter", &f).await;
}
