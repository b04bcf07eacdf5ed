//! [`Recovery`]: password reset and email verification, on single-use tokens delivered by
//! the application's [`Notifier`](auth_core::Notifier).

use std::sync::Arc;

use auth_core::{
    AuthError, ClientInfo, EndSessions, NewToken, Notification, NotificationKind, Notifier,
    SingleUseTokenStore, TokenError, TokenKind, UserId, normalize_email,
};
use auth_events::AuthEvent;

use crate::core::{Action, Core, StoreOp, hash_error, store_error};
use crate::passwords::Passwords;

/// Password reset and email verification, reached with
/// [`AuthService::recovery`](crate::AuthService::recovery).
///
/// Tokens are single use (`tpr_...` for reset, `tev_...` for verification; one never works
/// as the other), stored only as digests, handed to the [`Notifier`] off the request path
/// and never put in an event or a log line.
#[derive(Clone, Copy)]
pub struct Recovery<'a> {
    pub(crate) core: &'a Core,
}

impl Recovery<'_> {
    /// Starts a password reset for `email` (see [`request_reset_from`](Self::request_reset_from)).
    pub async fn request_reset(&self, email: &str) -> Result<(), AuthError> {
        self.request_reset_from(email, &ClientInfo::none()).await
    }

    /// Starts a password reset: if `email` belongs to an active user, a new reset token
    /// (valid for [`password_reset_lifetime`](auth_core::AuthConfig::password_reset_lifetime),
    /// voiding any older one) is handed to the notifier, addressed to the email stored for
    /// the user.
    ///
    /// The answer is the same, after the same work on the request path (the rate-limit
    /// counters and one user lookup), whether or not the address belongs to anyone: the
    /// token is created and delivered by a background task. Emits
    /// `password_reset_requested`. Rate limited per address asked for and per client
    /// address ([`AuthError::RateLimited`]).
    pub async fn request_reset_from(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let core = self.core;
        let email = normalize_email(email)?;
        let single_use = core.single_use()?.clone();
        core.hit_address(Action::PasswordReset, client.ip()).await?;
        core.hit_account(Action::PasswordReset, &email).await?;
        let creds = core
            .users
            .find_credentials_by_email(&email)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?;
        let user = creds.map(|c| c.user).filter(|u| u.is_active);
        core.emit(AuthEvent::PasswordResetRequested {
            identifier: email,
            user_id: user.as_ref().map(|u| u.id),
            at: core.now(),
        })
        .await;
        if let Some(user) = user {
            self.send_in_background(
                single_use,
                NotificationKind::PasswordReset,
                user.id,
                user.email,
            );
        }
        Ok(())
    }

    /// Sets a new password with a reset token (see [`confirm_reset_from`](Self::confirm_reset_from)).
    pub async fn confirm_reset(&self, token: &str, new_password: &str) -> Result<(), AuthError> {
        self.confirm_reset_from(token, new_password, &ClientInfo::none())
            .await
    }

    /// Sets a new password with a reset token.
    ///
    /// The new password goes through the password policy first: when it is refused
    /// ([`AuthError::InvalidPassword`]) the token stays usable for another try. Then the
    /// token is spent (once: of concurrent confirmations exactly one succeeds), the
    /// password stored, every session of the user ended and the login lockout of the
    /// account lifted; emits `password_reset_completed` and `password_changed`. A spent,
    /// expired, voided (by a password change or a newer request) or unknown token is
    /// [`TokenError::Invalid`]. Rate limited per client address.
    pub async fn confirm_reset_from(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let core = self.core;
        let passwords = Passwords { core };
        core.hit_address(Action::ResetConfirm, client.ip()).await?;
        let digest = auth_tokens::parse(token, TokenKind::PasswordReset)?;
        let single_use = core.single_use()?;
        let now = core.now();
        let user_id = single_use
            .find_single_use_token(&digest, TokenKind::PasswordReset, now)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?
            .ok_or(TokenError::Invalid)?;
        let user = core
            .users
            .find_user_by_id(&user_id)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?
            .filter(|u| u.is_active)
            .ok_or(TokenError::Invalid)?;
        passwords.check_input(new_password)?;
        passwords.validate(new_password, Some(&user.email))?;
        let hash = core.hashing.hash(new_password).await.map_err(hash_error)?;
        let spent = single_use
            .consume_single_use_token(&digest, TokenKind::PasswordReset, core.now())
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?;
        if spent != Some(user_id) {
            return Err(TokenError::Invalid.into());
        }
        let ended = passwords
            .store_ending(&user_id, &hash, EndSessions::All)
            .await?;
        core.clear_account(Action::Login, &user.email).await;
        let now = core.now();
        core.emit(AuthEvent::PasswordResetCompleted { user_id, at: now })
            .await;
        core.emit(AuthEvent::PasswordChanged {
            user_id,
            sessions_ended: ended,
            at: now,
        })
        .await;
        Ok(())
    }

    /// Sends the user a new email-verification token (voiding older ones), off the
    /// request path. Does nothing for an already verified or inactive user. Rate limited
    /// per user ([`AuthError::RateLimited`]). [`AuthError::UserNotFound`] if there is no
    /// such user.
    pub async fn request_verification(&self, user_id: &UserId) -> Result<(), AuthError> {
        let core = self.core;
        let single_use = core.single_use()?.clone();
        let user = core
            .users
            .find_user_by_id(user_id)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?
            .ok_or(AuthError::UserNotFound)?;
        core.hit_account(Action::Verification, &user.id.to_string())
            .await?;
        if user.is_verified || !user.is_active {
            return Ok(());
        }
        self.send_in_background(
            single_use,
            NotificationKind::EmailVerification,
            user.id,
            user.email,
        );
        Ok(())
    }

    /// Marks a user's email verified with a verification token (spent once; `joined_at`
    /// is set if it was empty) and emits `user_verified`. A spent, expired, unknown or
    /// wrong-kind token is [`TokenError::Invalid`].
    pub async fn confirm_verification(&self, token: &str) -> Result<UserId, AuthError> {
        let core = self.core;
        let digest = auth_tokens::parse(token, TokenKind::EmailVerification)?;
        let user_id = core
            .single_use()?
            .consume_single_use_token(&digest, TokenKind::EmailVerification, core.now())
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?
            .ok_or(TokenError::Invalid)?;
        let now = core.now();
        core.users
            .set_verified(&user_id, true, now)
            .await
            .map_err(|e| store_error(StoreOp::UpdateUser, e))?;
        core.emit(AuthEvent::UserVerified { user_id, at: now })
            .await;
        Ok(user_id)
    }

    /// Creates a single-use token and hands it to the notifier, on a background task: the
    /// request's answer and timing never depend on it. Failures are logged (never the
    /// token). With [`MAX_PENDING_DELIVERIES`](crate::core::MAX_PENDING_DELIVERIES)
    /// already in flight nothing is sent (logged): the caller may ask again.
    fn send_in_background(
        &self,
        single_use: Arc<dyn SingleUseTokenStore>,
        kind: NotificationKind,
        user_id: UserId,
        email: String,
    ) {
        let core = self.core;
        let (token_kind, lifetime) = match kind {
            NotificationKind::PasswordReset => (
                TokenKind::PasswordReset,
                core.config.password_reset_lifetime(),
            ),
            _ => (
                TokenKind::EmailVerification,
                core.config.email_verification_lifetime(),
            ),
        };
        let notifier: Option<Arc<dyn Notifier>> = core.notifier.clone();
        let now = core.now();
        let expires_at = now + lifetime;
        let Ok(permit) = core.deliveries.clone().try_acquire_owned() else {
            tracing::warn!(
                %user_id,
                ?kind,
                limit = crate::core::MAX_PENDING_DELIVERIES,
                "too many deliveries in flight: token not sent"
            );
            return;
        };
        core.background.spawn(async move {
            let _permit = permit;
            let Some(notifier) = notifier else {
                tracing::warn!(%user_id, ?kind, "no notifier configured: token not sent");
                return;
            };
            let (token, digest) = match auth_tokens::generate_token(token_kind) {
                Ok(t) => t,
                Err(error) => {
                    tracing::error!(%user_id, %error, "single-use token not generated");
                    return;
                }
            };
            let row = NewToken {
                digest,
                kind: token_kind,
                expires_at,
            };
            if let Err(error) = single_use
                .insert_single_use_token(&user_id, &row, true, now)
                .await
            {
                tracing::error!(%user_id, %error, "single-use token not stored");
                return;
            }
            let notification = Notification {
                kind,
                user_id,
                email,
                token,
                expires_at,
            };
            if let Err(error) = notifier.notify(notification).await {
                tracing::warn!(%user_id, ?kind, %error, "notifier failed");
            }
        });
    }
}
