//! [`Sessions`]: login, authenticate, refresh, logout, and the session list.

use std::fmt;
use std::time::Duration;

use auth_core::{
    AuthError, Authenticated, ClientInfo, ExtraClaims, IssueRequest, IssuedTokens, OffsetDateTime,
    RefreshOutcome, SessionId, SessionInfo, StoreErrorKind, TokenError, User, UserId,
    normalize_email,
};
use auth_events::{AuthEvent, LoginFailureReason, SessionEndReason};

use crate::core::{Action, Core, StoreOp, hash_error, store_error};
use crate::passwords::{Checked, Passwords};

/// What a successful login returns. `Debug` redacts the tokens.
#[derive(Clone)]
pub struct AuthResult {
    /// The user, with `last_login` set to this login.
    pub user: User,
    /// Short-lived token for every request (15 minutes by default).
    pub access_token: String,
    /// Long-lived token for [`refresh`](crate::AuthService::refresh) (7 days by default);
    /// single use.
    pub refresh_token: String,
    /// The session this login started.
    pub session_id: SessionId,
    /// When the access token expires.
    pub access_expires_at: OffsetDateTime,
    /// When the refresh token expires.
    pub refresh_expires_at: OffsetDateTime,
}

impl fmt::Debug for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthResult")
            .field("user", &self.user)
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("session_id", &self.session_id)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// Where a login comes from and what its session carries, for
/// [`Sessions::login_with`].
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// The client (address for per-address rate limits, user agent for the session list).
    pub client: ClientInfo,
    /// Claims for every token of the new session (the reference's
    /// `create_tokens(user_id, **extra)`).
    pub extra_claims: ExtraClaims,
}

/// Session operations, reached with [`AuthService::sessions`](crate::AuthService::sessions).
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    pub(crate) core: &'a Core,
}

/// How many rows [`Sessions::cleanup_expired`] deletes per batch.
pub const CLEANUP_BATCH: u32 = 1_000;

impl Sessions<'_> {
    fn passwords(&self) -> Passwords<'_> {
        Passwords { core: self.core }
    }

    /// Logs a user in (see [`login_with`](Self::login_with)).
    pub async fn login(&self, email: &str, password: &str) -> Result<AuthResult, AuthError> {
        self.login_with(email, password, &LoginOptions::default())
            .await
    }

    /// Logs a user in: on success starts a session, sets `last_login`, emits `user_login`
    /// and returns the user with an access and a refresh token.
    ///
    /// - Every failure of the credentials (unknown email, inactive user, unusable or wrong
    ///   password) is the same [`AuthError::InvalidCredentials`] after the same work (one
    ///   primary-strength password verification), so neither the answer nor its timing
    ///   tells which; the reason goes to the `user_login_failed` event.
    /// - Rate limits: each attempt counts against the account (unknown emails too); when
    ///   it is locked the answer is [`AuthError::RateLimited`] whatever the password, after
    ///   the same verification work. Failures also count against the client's address. A
    ///   success clears the account's counter only.
    /// - The session is kept only if the credentials it verified are still current once
    ///   it is written: a password change, deactivation or deletion that lands during the
    ///   login leaves no session behind.
    /// - Malformed arguments are [`AuthError::InvalidInput`], before any work.
    pub async fn login_with(
        &self,
        email: &str,
        password: &str,
        options: &LoginOptions,
    ) -> Result<AuthResult, AuthError> {
        let core = self.core;
        let email = normalize_email(email)?;
        self.passwords().check_input(password)?;
        let ip = options.client.ip();
        let limited = match core.peek_address(Action::Login, ip).await {
            Ok(()) => core.hit_account(Action::Login, &email).await,
            Err(e) => Err(e),
        };
        if let Err(e) = limited {
            if matches!(e, AuthError::RateLimited { .. }) {
                core.hashing
                    .try_dummy_verify(password)
                    .await
                    .map_err(hash_error)?;
                self.failed(&email, None, LoginFailureReason::RateLimited, ip)
                    .await;
            }
            return Err(e);
        }

        let creds = core
            .users
            .find_credentials_by_email(&email)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?;
        let Some(creds) = creds else {
            // Fails as busy exactly when a real verification would: an unknown email is
            // never told apart by a saturated pool's answer.
            core.hashing
                .try_dummy_verify(password)
                .await
                .map_err(hash_error)?;
            return Err(self
                .refuse(&email, None, LoginFailureReason::NotFound, ip)
                .await);
        };
        let user_id = creds.user.id;
        let checked = self.passwords().verify(&creds, password).await?;
        let needs_rehash = match checked {
            Checked::Match { .. } if !creds.user.is_active => {
                return Err(self
                    .refuse(&email, Some(user_id), LoginFailureReason::Inactive, ip)
                    .await);
            }
            Checked::Mismatch | Checked::Unusable => {
                let reason = if creds.user.is_active {
                    LoginFailureReason::BadPassword
                } else {
                    LoginFailureReason::Inactive
                };
                return Err(self.refuse(&email, Some(user_id), reason, ip).await);
            }
            Checked::Match { needs_rehash } => needs_rehash,
        };

        core.clear_account(Action::Login, &email).await;
        let current_hash = if needs_rehash {
            self.passwords().upgrade(&creds, password).await
        } else {
            creds.password_hash.clone()
        };
        let issued = match core
            .backend
            .issue(IssueRequest {
                user_id,
                client: &options.client,
                extra_claims: &options.extra_claims,
            })
            .await
        {
            Ok(issued) => issued,
            // The user was deleted since the password check (the session's foreign key
            // refused it): the credentials are gone, as for any other change.
            Err(TokenError::Storage(e)) if e.kind() == StoreErrorKind::NotFound => {
                self.failed(
                    &email,
                    Some(user_id),
                    LoginFailureReason::CredentialsChanged,
                    ip,
                )
                .await;
                return Err(AuthError::InvalidCredentials);
            }
            Err(e) => return Err(e.into()),
        };
        // The session exists now: if the credentials verified above changed meanwhile, a
        // concurrent change either sees this session (and ends it) or this read sees the
        // change. Either way no session outlives the credentials it was granted on.
        let current = core
            .users
            .credentials_current(&user_id, &current_hash)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?;
        if !current {
            core.backend
                .revoke_session(&user_id, &issued.session_id)
                .await?;
            self.failed(
                &email,
                Some(user_id),
                LoginFailureReason::CredentialsChanged,
                ip,
            )
            .await;
            return Err(AuthError::InvalidCredentials);
        }
        let now = core.now();
        core.users
            .record_login(&user_id, now)
            .await
            .map_err(|e| store_error(StoreOp::UpdateUser, e))?;
        core.emit(AuthEvent::UserLogin {
            user_id,
            session_id: issued.session_id,
            ip,
            at: now,
        })
        .await;
        let mut user = creds.user;
        user.last_login = Some(now);
        Ok(AuthResult {
            user,
            access_token: issued.pair.access_token,
            refresh_token: issued.pair.refresh_token,
            session_id: issued.session_id,
            access_expires_at: issued.access_expires_at,
            refresh_expires_at: issued.refresh_expires_at,
        })
    }

    /// A credential failure: counted against the address, reported, and answered with
    /// the one generic error.
    async fn refuse(
        &self,
        email: &str,
        user_id: Option<UserId>,
        reason: LoginFailureReason,
        ip: Option<std::net::IpAddr>,
    ) -> AuthError {
        self.failed(email, user_id, reason, ip).await;
        if let Err(e) = self.core.hit_address(Action::Login, ip).await
            && e.is_internal()
        {
            return e;
        }
        AuthError::InvalidCredentials
    }

    async fn failed(
        &self,
        email: &str,
        user_id: Option<UserId>,
        reason: LoginFailureReason,
        ip: Option<std::net::IpAddr>,
    ) {
        tracing::info!(reason = reason.as_str(), "login failed");
        self.core
            .emit(AuthEvent::UserLoginFailed {
                identifier: email.to_owned(),
                user_id,
                reason,
                ip,
                at: self.core.now(),
            })
            .await;
    }

    /// Checks an access token and returns its user, session and claims: call it on every
    /// request. One indexed read on SQL stores, no write. Errors: [`AuthError::Token`]
    /// (invalid, expired, revoked), [`AuthError::UserInactive`].
    pub async fn authenticate(&self, access_token: &str) -> Result<Authenticated, AuthError> {
        let claims = self.core.backend.verify_access(access_token).await?;
        let user = match claims.user {
            Some(user) => user,
            None => self
                .core
                .users
                .find_user_by_id(&claims.user_id)
                .await
                .map_err(|e| store_error(StoreOp::Other, e))?
                .ok_or(TokenError::Invalid)?,
        };
        if user.id != claims.user_id {
            return Err(TokenError::Invalid.into());
        }
        if !user.is_active {
            return Err(AuthError::UserInactive);
        }
        Ok(Authenticated {
            user,
            session_id: claims.session_id,
            extra_claims: claims.extra_claims,
        })
    }

    /// Spends a refresh token and returns a new pair in the same session (rotation). The
    /// old refresh token stops working. Presenting an already spent refresh token revokes
    /// the whole session, emits `refresh_token_reused` and fails with
    /// [`TokenError::Revoked`] (inside the configured grace window, the immediate
    /// predecessor instead gets the pair already issued for it). A user deleted or
    /// deactivated meanwhile gets no pair, and the session ends.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, AuthError> {
        let core = self.core;
        match core.backend.refresh(refresh_token).await? {
            RefreshOutcome::Rotated {
                tokens,
                user,
                replayed,
            } => {
                let user = match user {
                    Some(user) => Some(user),
                    None => core
                        .users
                        .find_user_by_id(&tokens.user_id)
                        .await
                        .map_err(|e| store_error(StoreOp::Other, e))?,
                };
                if !user.is_some_and(|u| u.is_active) {
                    core.backend
                        .revoke_session(&tokens.user_id, &tokens.session_id)
                        .await?;
                    return Err(TokenError::Revoked.into());
                }
                core.emit(AuthEvent::TokenRefreshed {
                    user_id: tokens.user_id,
                    session_id: tokens.session_id,
                    replayed,
                    at: core.now(),
                })
                .await;
                Ok(tokens)
            }
            RefreshOutcome::ReuseDetected {
                user_id,
                session_id,
            } => {
                tracing::warn!(%user_id, %session_id, "refresh token reuse: session revoked");
                core.emit(AuthEvent::RefreshTokenReused {
                    user_id,
                    session_id,
                    at: core.now(),
                })
                .await;
                Err(TokenError::Revoked.into())
            }
        }
    }

    /// Ends the session of `access_token` (its access and refresh tokens), even if the
    /// access token has expired, and emits `user_logout`. Logging out a session that
    /// already ended changes nothing and emits nothing.
    pub async fn logout(&self, access_token: &str) -> Result<(), AuthError> {
        let out = self.core.backend.logout(access_token).await?;
        if out.ended_now {
            self.core
                .emit(AuthEvent::UserLogout {
                    user_id: out.user_id,
                    session_id: Some(out.session_id),
                    all_sessions: false,
                    count: 1,
                    at: self.core.now(),
                })
                .await;
        }
        Ok(())
    }

    /// Ends every session of the user, emits `user_logout` with `all_sessions`; returns how
    /// many ended.
    pub async fn logout_all(&self, user_id: &UserId) -> Result<u64, AuthError> {
        let count = self.core.backend.revoke_all(user_id, None).await?;
        self.core
            .emit(AuthEvent::UserLogout {
                user_id: *user_id,
                session_id: None,
                all_sessions: true,
                count,
                at: self.core.now(),
            })
            .await;
        Ok(count)
    }

    /// The user's active sessions, newest first (through the token backend, so a custom
    /// backend lists its own).
    pub async fn list(&self, user_id: &UserId) -> Result<Vec<SessionInfo>, AuthError> {
        Ok(self.core.backend.sessions(user_id).await?)
    }

    /// Ends one session of the user; false if it was not an active session of theirs.
    /// Emits `session_revoked`.
    pub async fn revoke(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, AuthError> {
        let ended = self
            .core
            .backend
            .revoke_session(user_id, session_id)
            .await?;
        if ended {
            self.core
                .emit(AuthEvent::SessionRevoked {
                    user_id: *user_id,
                    session_id: Some(*session_id),
                    count: 1,
                    reason: SessionEndReason::Revoked,
                    at: self.core.now(),
                })
                .await;
        }
        Ok(ended)
    }

    /// Deletes what can never be used again (expired and revoked sessions, spent or
    /// expired single-use tokens, old rate-limit counters), in batches of
    /// [`CLEANUP_BATCH`] until none is left, yielding between batches; keeps what reuse
    /// detection needs until each session's absolute end. Returns how many rows went.
    pub async fn cleanup_expired(&self) -> Result<u64, AuthError> {
        let mut total = 0;
        loop {
            let n = self.core.backend.cleanup_expired(CLEANUP_BATCH).await?;
            total += n;
            if n < u64::from(CLEANUP_BATCH) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// A session's remaining validity for clients (`expires_in` of an access token).
    pub fn expires_in(&self, expires_at: OffsetDateTime) -> Duration {
        Duration::try_from(expires_at - self.core.now()).unwrap_or_default()
    }
}
