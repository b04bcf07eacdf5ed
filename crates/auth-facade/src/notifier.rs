//! Notifiers for development: [`ConsoleNotifier`].

use auth_core::{BoxError, Notification, NotificationKind, Notifier};

/// Prints reset and verification links to standard output. **Development only**: the
/// printed link is a working credential. In production implement [`Notifier`] with your
/// mail or SMS transport.
#[derive(Debug, Clone)]
pub struct ConsoleNotifier {
    base_url: String,
}

impl ConsoleNotifier {
    /// Links start with `base_url` (e.g. `http://127.0.0.1:3000`), followed by
    /// `/reset-password?token=...` or `/verify-email?token=...`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The link a notification would print.
    pub fn link(&self, notification: &Notification) -> String {
        let path = match notification.kind {
            NotificationKind::PasswordReset => "reset-password",
            _ => "verify-email",
        };
        format!("{}/{path}?token={}", self.base_url, notification.token)
    }
}

#[auth_core::async_trait]
impl Notifier for ConsoleNotifier {
    async fn notify(&self, notification: Notification) -> Result<(), BoxError> {
        let what = match notification.kind {
            NotificationKind::PasswordReset => "password reset",
            _ => "email verification",
        };
        println!(
            "[console notifier] {what} for {} (until {}): {}",
            notification.email,
            notification.expires_at,
            self.link(&notification)
        );
        Ok(())
    }
}
