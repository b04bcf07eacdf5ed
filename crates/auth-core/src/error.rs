use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::config::ConfigError;

/// A boxed error from a lower layer (a driver, a hasher, a listener).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything an authentication call can fail with.
///
/// Callers may branch on every variant except the internal ones ([`AuthError::Storage`],
/// [`AuthError::Hashing`], [`AuthError::Internal`], and a [`TokenError`] that is itself
/// internal), which carry their source for logs but must never be shown to an HTTP client:
/// use [`AuthError::is_internal`] to tell them apart. The messages of the client-facing
/// variants are safe to show.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Login failed. Deliberately one variant for unknown user, inactive user, unusable
    /// password and wrong password; the reason goes to the `user_login_failed` event only.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A token was refused: see [`TokenError`] (invalid, expired, revoked).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token is valid but its user is deactivated.
    #[error("user inactive")]
    UserInactive,
    /// Too many attempts; try again after `retry_after`.
    #[error("too many attempts; retry after {} s", retry_after.as_secs())]
    RateLimited {
        /// How long the caller should wait before the next attempt.
        retry_after: Duration,
    },
    /// A new password was refused by the password policy.
    #[error(transparent)]
    InvalidPassword(#[from] PasswordRejection),
    /// An argument is empty, too long or contains forbidden characters.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// A user with this email already exists.
    #[error("a user with this email already exists")]
    UserExists,
    /// No user has this id.
    #[error("user not found")]
    UserNotFound,
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Internal: the store failed. [`StoreError::kind`] tells an outage
    /// ([`StoreErrorKind::Unavailable`]) from the rest.
    #[error("storage failure")]
    Storage(#[source] StoreError),
    /// Internal: password hashing failed or was too busy to start in time (not a wrong
    /// password: a wrong password is [`AuthError::InvalidCredentials`]).
    #[error("password hashing failure")]
    Hashing(#[source] BoxError),
    /// Internal: any other failure, such as a corrupt row.
    #[error("internal failure: {context}")]
    Internal {
        /// What was being done; static text, never user data.
        context: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl AuthError {
    /// True for failures of the system rather than of the caller's input: log them, and
    /// answer the client with a generic "service unavailable".
    pub fn is_internal(&self) -> bool {
        match self {
            AuthError::Storage(_) | AuthError::Hashing(_) | AuthError::Internal { .. } => true,
            AuthError::Token(e) => e.is_internal(),
            _ => false,
        }
    }

    /// An internal error with a static context and no source.
    pub fn internal(context: &'static str) -> Self {
        AuthError::Internal {
            context,
            source: None,
        }
    }
}

impl From<StoreError> for AuthError {
    /// A store failure is internal unless the caller maps its kind first (the facade maps
    /// [`StoreErrorKind::UniqueViolation`] on user creation to [`AuthError::UserExists`]).
    fn from(err: StoreError) -> Self {
        AuthError::Storage(err)
    }
}

/// Why a [`TokenBackend`](crate::TokenBackend) refused or failed. Nested in
/// [`AuthError::Token`]; a backend can only answer with these, never "user exists" or a
/// password error.
///
/// Callers may branch on [`Invalid`](TokenError::Invalid), [`Expired`](TokenError::Expired)
/// and [`Revoked`](TokenError::Revoked); the other variants are internal
/// ([`TokenError::is_internal`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is unknown, malformed, tampered with, or of the wrong type for this call.
    #[error("token invalid")]
    Invalid,
    /// The token was valid once but its lifetime (or its session's) is over.
    #[error("token expired")]
    Expired,
    /// The token's session was ended (logout, logout-all, password change, deactivation,
    /// reuse detection).
    #[error("token revoked")]
    Revoked,
    /// Internal: the backend's store failed.
    #[error("token storage failure")]
    Storage(#[source] StoreError),
    /// Internal: any other failure of the backend.
    #[error("token backend failure: {context}")]
    Internal {
        /// What was being done; static text, never token material.
        context: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl TokenError {
    /// True for failures of the system (storage, internal), not of the presented token.
    pub fn is_internal(&self) -> bool {
        matches!(self, TokenError::Storage(_) | TokenError::Internal { .. })
    }

    /// An internal error with a static context and a source.
    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        TokenError::Internal {
            context,
            source: Some(source.into()),
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(err: StoreError) -> Self {
        TokenError::Storage(err)
    }
}

/// The portable kind of a [`StoreError`], the same for every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// An insert hit a unique constraint (duplicate email, token digest collision).
    /// Inserts never overwrite.
    UniqueViolation,
    /// The row to change does not exist.
    NotFound,
    /// The database could not be reached or timed out; retrying may help.
    Unavailable,
    /// The schema is missing or does not match (run the migrations; check the user table).
    Schema,
    /// A row held a value the store could not decode.
    Corrupt,
    /// Anything else.
    Other,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::UniqueViolation => "unique violation",
            StoreErrorKind::NotFound => "not found",
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Schema => "schema mismatch",
            StoreErrorKind::Corrupt => "corrupt row",
            StoreErrorKind::Other => "other",
        })
    }
}

/// A failure inside a store, with a portable [`kind`](StoreError::kind).
///
/// The message names the operation and the kind; the driver's error is only reachable as
/// [`source`](std::error::Error::source), so no SQL or value reaches a client by accident.
#[derive(Debug, thiserror::Error)]
#[error("store operation `{context}` failed: {kind}")]
pub struct StoreError {
    kind: StoreErrorKind,
    context: &'static str,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// A new error of `kind` during the operation named `context`.
    pub fn new(kind: StoreErrorKind, context: &'static str) -> Self {
        Self {
            kind,
            context,
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The portable kind, to branch on.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The operation that failed (static text such as `"create_user"`).
    pub fn context(&self) -> &'static str {
        self.context
    }
}

/// Which argument an [`InputError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputField {
    /// The email address.
    Email,
    /// The password.
    Password,
    /// A token string.
    Token,
    /// A user id in text form.
    UserId,
    /// A session id in text form.
    SessionId,
}

impl fmt::Display for InputField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputField::Email => "email",
            InputField::Password => "password",
            InputField::Token => "token",
            InputField::UserId => "user id",
            InputField::SessionId => "session id",
        })
    }
}

/// A malformed argument, refused before any work is done. Messages never echo the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The value is empty (or only white space, for an email).
    #[error("{0} must not be empty")]
    Empty(InputField),
    /// The value is longer than allowed.
    #[error("{field} is too long (at most {max} characters)")]
    TooLong {
        /// The argument.
        field: InputField,
        /// The limit, in characters.
        max: usize,
    },
    /// The value contains a NUL or other control character.
    #[error("{0} contains a control character")]
    ControlCharacter(InputField),
    /// The value contains an invisible or formatting character (zero-width space, bidi
    /// override, ...), which would let two different values look the same.
    #[error("{0} contains an invisible character")]
    InvisibleCharacter(InputField),
    /// The value does not have the expected shape (an email without `@`, a bad id).
    #[error("{0} is malformed")]
    Malformed(InputField),
}

/// One reason a password policy refused a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFailure {
    /// Machine-readable code such as `password_too_short`.
    pub code: Cow<'static, str>,
    /// Human-readable message, safe to show to the user.
    pub message: String,
}

/// A password refused by the password policy, with every reason at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRejection {
    /// Every failed rule, in policy order. Never empty.
    pub failures: Vec<PolicyFailure>,
}

impl fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("password rejected: ")?;
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&failure.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for PasswordRejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_error_message_hides_the_source() {
        let err = StoreError::new(StoreErrorKind::Other, "find_user")
            .with_source("SELECT secret FROM users WHERE password = 'hunter2'");
        let shown = AuthError::from(err).to_string();
        assert_eq!(shown, "storage failure");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn store_errors_are_internal_by_default() {
        let err = StoreError::new(StoreErrorKind::UniqueViolation, "create_session");
        assert_eq!(err.kind(), StoreErrorKind::UniqueViolation);
        assert!(AuthError::from(err).is_internal());
        assert!(!AuthError::Token(TokenError::Revoked).is_internal());
        let nested = TokenError::from(StoreError::new(StoreErrorKind::Unavailable, "x"));
        assert!(AuthError::from(nested).is_internal());
    }

    #[test]
    fn rejection_lists_every_message() {
        let r = PasswordRejection {
            failures: vec![
                PolicyFailure {
                    code: "password_too_short".into(),
                    message: "too short".into(),
                },
                PolicyFailure {
                    code: "password_entirely_numeric".into(),
                    message: "entirely numeric".into(),
                },
            ],
        };
        assert_eq!(
            r.to_string(),
            "password rejected: too short; entirely numeric"
        );
    }
}
