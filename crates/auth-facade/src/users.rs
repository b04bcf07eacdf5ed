//! [`Users`]: creating, finding, activating and deleting users.

use auth_core::{AuthError, NewUser, TokenKind, User, UserId};
use auth_events::{AuthEvent, SessionEndReason};

use crate::core::{Core, StoreOp, hash_error, store_error};
use crate::passwords::Passwords;

/// User operations, reached with [`AuthService::users`](crate::AuthService::users).
#[derive(Clone, Copy)]
pub struct Users<'a> {
    pub(crate) core: &'a Core,
}

impl Users<'_> {
    /// Creates a user with no usable password yet (set it with
    /// [`Passwords::set`](crate::Passwords::set)). The email is put in canonical form (see
    /// [`normalize_email`](auth_core::normalize_email)). Errors: [`AuthError::InvalidInput`],
    /// [`AuthError::UserExists`] (whatever the letter case of the existing address).
    pub async fn create(&self, email: &str) -> Result<User, AuthError> {
        self.insert(NewUser::new(email)?).await
    }

    /// Creates a user with a password in one insert, after checking the password against
    /// the password policy (with the email, so a password too similar to it is refused).
    /// Nothing is written when any check fails. Errors: [`AuthError::InvalidInput`],
    /// [`AuthError::InvalidPassword`] (every failed rule at once), [`AuthError::UserExists`].
    pub async fn register(&self, email: &str, password: &str) -> Result<User, AuthError> {
        let new = NewUser::new(email)?;
        let passwords = Passwords { core: self.core };
        passwords.check_input(password)?;
        passwords.validate(password, Some(new.email()))?;
        let hash = self.core.hashing.hash(password).await.map_err(hash_error)?;
        self.insert(new.with_password_hash(hash)).await
    }

    async fn insert(&self, new: NewUser) -> Result<User, AuthError> {
        let now = self.core.now();
        let user = self
            .core
            .users
            .create_user(&new, now)
            .await
            .map_err(|e| store_error(StoreOp::CreateUser, e))?;
        self.core
            .emit(AuthEvent::UserCreated {
                user_id: user.id,
                at: now,
            })
            .await;
        Ok(user)
    }

    /// The user with this id, if any.
    pub async fn find(&self, user_id: &UserId) -> Result<Option<User>, AuthError> {
        self.core
            .users
            .find_user_by_id(user_id)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))
    }

    /// Activates or deactivates a user. Deactivation also ends every session of the user
    /// and voids their outstanding reset and verification links, so nothing issued before
    /// works again, even after reactivation (with one store for everything, in the same
    /// transaction). A user deactivated by the application's own SQL cannot log in or
    /// refresh, and their access tokens fail with [`AuthError::UserInactive`].
    pub async fn set_active(&self, user_id: &UserId, active: bool) -> Result<(), AuthError> {
        let core = self.core;
        let now = core.now();
        if active {
            return core
                .users
                .set_active(user_id, true, now)
                .await
                .map_err(|e| store_error(StoreOp::UpdateUser, e));
        }
        let ended = match &core.credentials {
            Some(credentials) => credentials
                .deactivate_user(user_id, now)
                .await
                .map_err(|e| store_error(StoreOp::UpdateUser, e))?,
            None => {
                core.users
                    .set_active(user_id, false, now)
                    .await
                    .map_err(|e| store_error(StoreOp::UpdateUser, e))?;
                let ended = core.backend.revoke_all(user_id, None).await?;
                if let Some(single_use) = &core.single_use {
                    for kind in [TokenKind::PasswordReset, TokenKind::EmailVerification] {
                        single_use
                            .void_single_use_tokens(user_id, kind, now)
                            .await
                            .map_err(|e| store_error(StoreOp::Other, e))?;
                    }
                }
                ended
            }
        };
        if ended > 0 {
            core.emit(AuthEvent::SessionRevoked {
                user_id: *user_id,
                session_id: None,
                count: ended,
                reason: SessionEndReason::UserDisabled,
                at: now,
            })
            .await;
        }
        Ok(())
    }

    /// Deletes a user with every session and token of theirs, and emits `user_deleted`.
    /// The sessions are ended through the token backend first (a custom backend's too),
    /// then the row goes (with one SQL store for everything, the rest cascades in the same
    /// transaction). [`AuthError::UserNotFound`] if there is no such user.
    pub async fn delete(&self, user_id: &UserId) -> Result<(), AuthError> {
        let core = self.core;
        core.backend.revoke_all(user_id, None).await?;
        let deleted = core
            .users
            .delete_user(user_id)
            .await
            .map_err(|e| store_error(StoreOp::Other, e))?;
        if !deleted {
            return Err(AuthError::UserNotFound);
        }
        core.emit(AuthEvent::UserDeleted {
            user_id: *user_id,
            at: core.now(),
        })
        .await;
        Ok(())
    }
}
