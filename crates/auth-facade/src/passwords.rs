//! [`Passwords`]: setting, changing and checking passwords, and the password policy.

use auth_core::{AuthError, EndSessions, SessionId, TokenKind, UserCredentials, UserId};
use auth_events::AuthEvent;
use auth_hash::{ValidationContext, Verification, is_usable};

use crate::core::{Action, Core, StoreOp, hash_error, rejection, store_error};

/// Password operations, reached with [`AuthService::passwords`](crate::AuthService::passwords).
#[derive(Clone, Copy)]
pub struct Passwords<'a> {
    pub(crate) core: &'a Core,
}

/// The outcome of one password check against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// The password matches; `needs_rehash` when the hash is legacy or outdated.
    Match { needs_rehash: bool },
    /// It does not.
    Mismatch,
    /// The stored value can never match (unset, disabled, unverifiable).
    Unusable,
}

impl Passwords<'_> {
    /// Refuses passwords that cannot be hashed: empty, longer than the configured maximum
    /// (counted in characters, before any hashing), or containing NUL. The same rule as
    /// `auth-hash`'s, so no password is accepted by one layer and refused by the other.
    pub fn check_input(&self, password: &str) -> Result<(), AuthError> {
        auth_hash::check_password_input(password, self.core.config.max_password_length())
            .map_err(hash_error)
    }

    /// Checks a candidate password against the password policy; `email` enables the
    /// similarity rule. Every failed rule is reported at once in
    /// [`AuthError::InvalidPassword`].
    pub fn validate(&self, password: &str, email: Option<&str>) -> Result<(), AuthError> {
        let ctx = ValidationContext {
            email,
            ..ValidationContext::default()
        };
        self.core
            .policy
            .validate(password, &ctx)
            .map_err(|e| AuthError::InvalidPassword(rejection(e)))
    }

    /// The help text of every rule of the password policy, for forms.
    pub fn help_texts(&self) -> Vec<String> {
        self.core.policy.help_texts()
    }

    /// Hashes `password` with the primary hasher (off the async executor) and stores it,
    /// ending every session of the user when
    /// [`revoke_sessions_on_password_change`](auth_core::AuthConfig::revoke_sessions_on_password_change)
    /// is on (the default); emits `password_changed`.
    ///
    /// An administrative setter, like the reference's: the password is checked for shape
    /// only (empty, over-long, NUL). For passwords users choose, use
    /// [`AuthService::register`](crate::AuthService::register) and [`change`](Self::change),
    /// which apply the password policy.
    pub async fn set(&self, user_id: &UserId, password: &str) -> Result<(), AuthError> {
        self.check_input(password)?;
        let hash = self.core.hashing.hash(password).await.map_err(hash_error)?;
        self.store(user_id, &hash, None).await.map(drop)
    }

    /// Changes a password the user chose: checks `current_password` (one verification,
    /// under the account's login rate limit; wrong gives [`AuthError::InvalidCredentials`]),
    /// checks the new one against the password policy, stores it, and ends the user's other
    /// sessions (all but `keep`, normally the session making the request) when configured.
    pub async fn change(
        &self,
        user_id: &UserId,
        current_password: &str,
        new_password: &str,
        keep: Option<&SessionId>,
    ) -> Result<(), AuthError> {
        self.check_input(current_password)?;
        self.check_input(new_password)?;
        let creds = self.credentials(user_id).await?;
        self.core
            .hit_account(Action::Login, &creds.user.email)
            .await?;
        match self.verify(&creds, current_password).await? {
            Checked::Match { .. } => {}
            Checked::Mismatch | Checked::Unusable => return Err(AuthError::InvalidCredentials),
        }
        self.core
            .clear_account(Action::Login, &creds.user.email)
            .await;
        self.validate(new_password, Some(&creds.user.email))?;
        let hash = self
            .core
            .hashing
            .hash(new_password)
            .await
            .map_err(hash_error)?;
        self.store(user_id, &hash, keep).await.map(drop)
    }

    /// Whether `password` is the user's password. On a match against an outdated hash
    /// (bcrypt, PBKDF2, weaker Argon2 parameters) of an active user, the hash is replaced
    /// with the primary one, only if the stored hash is still the one checked. A wrong
    /// password writes nothing.
    pub async fn check(&self, user_id: &UserId, password: &str) -> Result<bool, AuthError> {
        self.check_input(password)?;
        let creds = self.credentials(user_id).await?;
        match self.verify(&creds, password).await? {
            Checked::Match { needs_rehash } => {
                if needs_rehash && creds.user.is_active {
                    self.upgrade(&creds, password).await;
                }
                Ok(true)
            }
            Checked::Mismatch | Checked::Unusable => Ok(false),
        }
    }

    async fn credentials(&self, user_id: &UserId) -> Result<UserCredentials, AuthError> {
        self.core
            .users
            .find_credentials_by_id(user_id)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?
            .ok_or(AuthError::UserNotFound)
    }

    /// Stores a new hash and ends the sessions the configuration says (all, or all but
    /// `keep`), then emits `password_changed`. Returns how many sessions ended.
    ///
    /// With one store for everything, the hash, the sessions and outstanding reset tokens
    /// change in one transaction. With separate stores the hash is written first and the
    /// sessions ended after: a login that verified the old password either sees the new
    /// hash in its post-check, or its session is ended here.
    pub(crate) async fn store(
        &self,
        user_id: &UserId,
        hash: &str,
        keep: Option<&SessionId>,
    ) -> Result<u64, AuthError> {
        let core = self.core;
        let now = core.now();
        let sessions = if core.config.revoke_sessions_on_password_change() {
            EndSessions::all_but(keep)
        } else {
            EndSessions::None
        };
        let ended = self.store_ending(user_id, hash, sessions).await?;
        core.emit(AuthEvent::PasswordChanged {
            user_id: *user_id,
            sessions_ended: ended,
            at: now,
        })
        .await;
        Ok(ended)
    }

    /// The write of [`store`](Self::store), with the sessions to end given explicitly
    /// (a reset ends them all whatever the configuration).
    pub(crate) async fn store_ending(
        &self,
        user_id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
    ) -> Result<u64, AuthError> {
        let core = self.core;
        let now = core.now();
        if let Some(credentials) = &core.credentials {
            return credentials
                .change_password_hash(user_id, hash, sessions, now)
                .await
                .map_err(|e| store_error(StoreOp::UpdateUser, e));
        }
        core.users
            .set_password_hash(user_id, hash, now)
            .await
            .map_err(|e| store_error(StoreOp::UpdateUser, e))?;
        let ended = match sessions {
            EndSessions::None => 0,
            EndSessions::All => core.backend.revoke_all(user_id, None).await?,
            EndSessions::AllExcept(keep) => core.backend.revoke_all(user_id, Some(keep)).await?,
        };
        if let Some(single_use) = &core.single_use {
            single_use
                .void_single_use_tokens(user_id, TokenKind::PasswordReset, now)
                .await
                .map_err(|e| store_error(StoreOp::Other, e))?;
        }
        Ok(ended)
    }

    /// Verifies `password` against the stored hash: exactly one verification at primary
    /// strength or more (the hashing pool pads cheaper legacy hashes), a dummy one for
    /// unusable hashes. Never writes.
    pub(crate) async fn verify(
        &self,
        creds: &UserCredentials,
        password: &str,
    ) -> Result<Checked, AuthError> {
        let hashing = &self.core.hashing;
        if !is_usable(&creds.password_hash) {
            hashing
                .try_dummy_verify(password)
                .await
                .map_err(hash_error)?;
            return Ok(Checked::Unusable);
        }
        match hashing.verify(password, &creds.password_hash).await {
            Ok(Verification::Mismatch) => Ok(Checked::Mismatch),
            Ok(Verification::Match { needs_rehash }) => Ok(Checked::Match { needs_rehash }),
            Err(e) if e.is_internal() => Err(hash_error(e)),
            Err(e) => {
                tracing::warn!(user_id = %creds.user.id, error = %e, "stored password hash cannot be verified");
                Ok(Checked::Unusable)
            }
        }
    }

    /// Replaces an outdated hash with the primary one, only if it is still the stored one
    /// (a concurrent password change wins). Returns the hash now stored, as far as this
    /// call knows. Failure is logged, never fatal: the password was right.
    pub(crate) async fn upgrade(&self, creds: &UserCredentials, password: &str) -> String {
        let user_id = creds.user.id;
        let new_hash = match self.core.hashing.hash(password).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "password re-hash failed");
                return creds.password_hash.clone();
            }
        };
        match self
            .core
            .users
            .replace_password_hash(&user_id, &creds.password_hash, &new_hash, self.core.now())
            .await
        {
            Ok(true) => {
                tracing::info!(%user_id, "password hash upgraded to the primary hasher");
                new_hash
            }
            Ok(false) => {
                tracing::info!(%user_id, "password hash changed concurrently; upgrade skipped");
                creds.password_hash.clone()
            }
            Err(e) => {
                tracing::warn!(%user_id, error = %e, "password hash upgrade not stored");
                creds.password_hash.clone()
            }
        }
    }
}
