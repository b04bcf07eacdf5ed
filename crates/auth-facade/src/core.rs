//! The state every sub-service shares, and the glue they all use: the clock, events, the
//! one mapping of lower-layer errors to [`AuthError`], and rate limiting.

use std::net::IpAddr;
use std::sync::Arc;

use auth_core::{
    AuthConfig, AuthError, Clock, CredentialStore, InputError, InputField, Notifier,
    OffsetDateTime, PasswordRejection, PolicyFailure, RateLimitDecision, RateLimitPolicy,
    RateLimiter, SingleUseTokenStore, StoreError, StoreErrorKind, TokenBackend, UserStore,
};
use auth_events::{AuthEvent, EventBus, RateLimitScope};
use auth_hash::{HashError, HashingPool, PasswordPolicy, PasswordValidationError};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::service_tokens::ServiceTokens;

/// Everything the sub-services share. Built once by the builder, behind an `Arc`.
pub(crate) struct Core {
    pub(crate) config: AuthConfig,
    pub(crate) users: Arc<dyn UserStore>,
    /// Set when one store holds users and sessions: credential changes then end sessions
    /// in the same transaction.
    pub(crate) credentials: Option<Arc<dyn CredentialStore>>,
    pub(crate) single_use: Option<Arc<dyn SingleUseTokenStore>>,
    pub(crate) backend: Arc<dyn TokenBackend>,
    pub(crate) limiter: Option<Arc<dyn RateLimiter>>,
    pub(crate) notifier: Option<Arc<dyn Notifier>>,
    pub(crate) hashing: HashingPool,
    pub(crate) policy: PasswordPolicy,
    pub(crate) events: EventBus,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) service_tokens: ServiceTokens,
    /// Work done off the request path (notifications), awaited by
    /// [`AuthService::wait_for_background`](crate::AuthService::wait_for_background).
    pub(crate) background: TaskTracker,
    /// One permit per delivery in flight ([`MAX_PENDING_DELIVERIES`]): a flood of reset or
    /// verification requests cannot queue unbounded writes in front of the store.
    pub(crate) deliveries: Arc<Semaphore>,
}

/// Most reset and verification deliveries (token insert + notifier call) in flight at
/// once per service. A request beyond it answers as usual and sends nothing (logged):
/// rate limits keep real traffic far below it; a flood that gets past them must not
/// queue work without bound (each queued insert delays every request behind it).
pub(crate) const MAX_PENDING_DELIVERIES: usize = 256;

impl Core {
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) async fn emit(&self, event: AuthEvent) {
        self.events.emit(event).await;
    }

    /// The single-use token store, or a configuration error naming what is missing.
    pub(crate) fn single_use(&self) -> Result<&Arc<dyn SingleUseTokenStore>, AuthError> {
        self.single_use.as_ref().ok_or_else(|| {
            AuthError::Config(auth_core::ConfigError::Invalid {
                setting: "single_use_store",
                reason: "password reset and email verification need a single-use token store \
                         (AuthServiceBuilder::store or ::single_use_store)"
                    .into(),
            })
        })
    }
}

/// What a store call was doing, for [`store_error`]: the one place store errors become
/// [`AuthError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreOp {
    /// Inserting a user: a unique violation means the email is taken.
    CreateUser,
    /// Changing a user by id: not found means no such user.
    UpdateUser,
    /// Anything else: every failure is internal.
    Other,
}

/// Maps a store failure to the caller-facing error for the operation.
pub(crate) fn store_error(op: StoreOp, e: StoreError) -> AuthError {
    match (op, e.kind()) {
        (StoreOp::CreateUser, StoreErrorKind::UniqueViolation) => AuthError::UserExists,
        (StoreOp::UpdateUser, StoreErrorKind::NotFound) => AuthError::UserNotFound,
        _ => AuthError::Storage(e),
    }
}

/// Maps a hashing failure: refused input is the caller's, everything else internal.
pub(crate) fn hash_error(e: HashError) -> AuthError {
    match e {
        HashError::EmptyPassword => InputError::Empty(InputField::Password).into(),
        HashError::PasswordTooLong { max } => InputError::TooLong {
            field: InputField::Password,
            max,
        }
        .into(),
        HashError::PasswordContainsNul => InputError::ControlCharacter(InputField::Password).into(),
        other => AuthError::Hashing(Box::new(other)),
    }
}

/// The policy's verdict as the caller-facing rejection (every failure, with its code).
pub(crate) fn rejection(e: PasswordValidationError) -> PasswordRejection {
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

/// What a rate-limited operation is, in keys and in `rate_limit_exceeded` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Password logins and current-password checks (one counter per account: a lockout
    /// applies to every way of presenting the password).
    Login,
    /// Reset-link requests.
    PasswordReset,
    /// Reset confirmations (per address).
    ResetConfirm,
    /// Verification-link requests.
    Verification,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::PasswordReset => "password_reset",
            Action::ResetConfirm => "password_reset_confirm",
            Action::Verification => "email_verification",
        }
    }

    fn account_policy(self, config: &AuthConfig) -> Option<RateLimitPolicy> {
        match self {
            Action::Login => config.login_rate_limit(),
            Action::PasswordReset | Action::Verification => config.recovery_rate_limit(),
            Action::ResetConfirm => None,
        }
    }

    fn address_policy(self, config: &AuthConfig) -> Option<RateLimitPolicy> {
        match self {
            Action::Login => config.ip_rate_limit(),
            Action::PasswordReset | Action::ResetConfirm | Action::Verification => {
                config.recovery_rate_limit()
            }
        }
    }
}

/// A limiter key: a digest of the action, the scope and the value, so no email or address
/// is stored by the limiter and every key has the same short length.
fn key(action: Action, scope: RateLimitScope, value: &str) -> String {
    let mut h = blake3::Hasher::new_derive_key("tortoise-auth-rs 2026-11-28 rate limit key v1");
    h.update(action.as_str().as_bytes());
    h.update(&[0]);
    h.update(scope.as_str().as_bytes());
    h.update(&[0]);
    h.update(value.as_bytes());
    h.finalize().to_hex()[..32].to_owned()
}

impl Core {
    /// Counts an attempt on an account's counter; refuses it (and reports it) when the
    /// account is locked. A failing limiter fails the attempt (closed).
    pub(crate) async fn hit_account(
        &self,
        action: Action,
        identifier: &str,
    ) -> Result<(), AuthError> {
        let (Some(limiter), Some(policy)) = (&self.limiter, action.account_policy(&self.config))
        else {
            return Ok(());
        };
        let k = key(action, RateLimitScope::Account, identifier);
        let decision = limiter.hit(&k, &policy, self.now()).await?;
        self.decide(action, RateLimitScope::Account, identifier, decision)
            .await
    }

    /// Refuses an attempt from a locked address, counting nothing.
    pub(crate) async fn peek_address(
        &self,
        action: Action,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let (Some(limiter), Some(policy), Some(ip)) =
            (&self.limiter, action.address_policy(&self.config), ip)
        else {
            return Ok(());
        };
        let ip = ip.to_string();
        let k = key(action, RateLimitScope::Address, &ip);
        let decision = limiter.peek(&k, &policy, self.now()).await?;
        self.decide(action, RateLimitScope::Address, &ip, decision)
            .await
    }

    /// Counts an attempt on an address's counter (a failure, for logins; every request,
    /// for recovery); refuses it when the address is over its limit.
    pub(crate) async fn hit_address(
        &self,
        action: Action,
        ip: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let (Some(limiter), Some(policy), Some(ip)) =
            (&self.limiter, action.address_policy(&self.config), ip)
        else {
            return Ok(());
        };
        let ip = ip.to_string();
        let k = key(action, RateLimitScope::Address, &ip);
        let decision = limiter.hit(&k, &policy, self.now()).await?;
        self.decide(action, RateLimitScope::Address, &ip, decision)
            .await
    }

    /// Forgets an account's counter after a genuine success (never the address's).
    pub(crate) async fn clear_account(&self, action: Action, identifier: &str) {
        let Some(limiter) = &self.limiter else { return };
        if action.account_policy(&self.config).is_none() {
            return;
        }
        let k = key(action, RateLimitScope::Account, identifier);
        if let Err(error) = limiter.clear(&k).await {
            tracing::warn!(%error, action = action.as_str(), "rate limit counter not cleared");
        }
    }

    async fn decide(
        &self,
        action: Action,
        scope: RateLimitScope,
        identifier: &str,
        decision: RateLimitDecision,
    ) -> Result<(), AuthError> {
        match decision {
            RateLimitDecision::Allowed { .. } => Ok(()),
            RateLimitDecision::Limited { retry_after, .. } => {
                tracing::info!(
                    action = action.as_str(),
                    scope = scope.as_str(),
                    "rate limited"
                );
                self.emit(AuthEvent::RateLimitExceeded {
                    action: action.as_str(),
                    scope,
                    identifier: identifier.to_owned(),
                    retry_after,
                    at: self.now(),
                })
                .await;
                Err(AuthError::RateLimited { retry_after })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_digests_separated_by_action_and_scope() {
        let a = key(Action::Login, RateLimitScope::Account, "alice@example.com");
        assert_eq!(a.len(), 32);
        assert!(!a.contains("alice"));
        assert_ne!(
            a,
            key(
                Action::PasswordReset,
                RateLimitScope::Account,
                "alice@example.com"
            )
        );
        assert_ne!(
            a,
            key(Action::Login, RateLimitScope::Address, "alice@example.com")
        );
        assert_eq!(
            a,
            key(Action::Login, RateLimitScope::Account, "alice@example.com")
        );
    }

    #[test]
    fn store_errors_map_by_operation() {
        let unique = || StoreError::new(StoreErrorKind::UniqueViolation, "x");
        let missing = || StoreError::new(StoreErrorKind::NotFound, "x");
        assert!(matches!(
            store_error(StoreOp::CreateUser, unique()),
            AuthError::UserExists
        ));
        assert!(matches!(
            store_error(StoreOp::UpdateUser, missing()),
            AuthError::UserNotFound
        ));
        assert!(store_error(StoreOp::Other, unique()).is_internal());
        assert!(store_error(StoreOp::CreateUser, missing()).is_internal());
    }
}
