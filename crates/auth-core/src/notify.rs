use std::fmt;

use time::OffsetDateTime;

use crate::error::BoxError;
use crate::ids::UserId;

/// What a [`Notification`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotificationKind {
    /// A password-reset token: the link lets the user set a new password.
    PasswordReset,
    /// An email-verification token: the link proves the user reads this address.
    EmailVerification,
}

/// A single-use token to deliver to a user out of band. `Debug` redacts the token; it is
/// never put in an event or a log line.
#[derive(Clone)]
pub struct Notification {
    /// What the token does.
    pub kind: NotificationKind,
    /// Whose it is.
    pub user_id: UserId,
    /// Where to send it: always the address stored for the user, never the one typed.
    pub email: String,
    /// The token (`tpr_...` or `tev_...`), valid once until `expires_at`.
    pub token: String,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Delivers password-reset and verification tokens (email, SMS, a queue). The application
/// implements it; the service calls it off the request path, so a slow or failing
/// transport neither delays the answer nor changes it (no account enumeration). Errors
/// are logged without the token.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one notification.
    async fn notify(&self, notification: Notification) -> Result<(), BoxError>;
}
