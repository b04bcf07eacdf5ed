use time::OffsetDateTime;

use crate::error::{InputError, InputField};
use crate::ids::UserId;

/// The longest email accepted, in characters (the reference's `CharField(255)`).
const MAX_EMAIL_LENGTH: usize = 255;

/// The library's view of a row in the application's user table: the eight columns the
/// library owns, plus the key.
///
/// The application's own columns (display name, role, ...) stay in its table; load them
/// with its own query by [`User::id`]. The password hash is deliberately not here: it is
/// only read by login and password checks ([`UserCredentials`](crate::UserCredentials)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The application's primary key.
    pub id: UserId,
    /// The unique email address, normalized by [`normalize_email`].
    pub email: String,
    /// When the user last logged in, if ever.
    pub last_login: Option<OffsetDateTime>,
    /// Inactive users cannot log in, and their tokens stop authenticating.
    pub is_active: bool,
    /// Whether the email address was verified.
    pub is_verified: bool,
    /// When the user joined (set at creation).
    pub joined_at: Option<OffsetDateTime>,
    /// When the row was created.
    pub created_at: OffsetDateTime,
    /// When the row was last changed by the library.
    pub updated_at: OffsetDateTime,
}

/// What is needed to create a user. Only ever a password *hash* travels with the row (set
/// by registration, so the user and the hash are written in one insert); without one the
/// password is `""`, which never verifies. `Debug` redacts the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    email: String,
    password_hash: Option<String>,
    /// Whether the user may log in; default true.
    pub is_active: bool,
    /// Whether the email is already verified; default false.
    pub is_verified: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("is_active", &self.is_active)
            .field("is_verified", &self.is_verified)
            .finish()
    }
}

impl NewUser {
    /// A new active, unverified user; the email is checked and normalized.
    pub fn new(email: &str) -> Result<Self, InputError> {
        Ok(Self {
            email: normalize_email(email)?,
            password_hash: None,
            is_active: true,
            is_verified: false,
        })
    }

    /// The normalized email.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// Stores `hash` (a PHC string from the hashing pool) as the initial password.
    pub fn with_password_hash(mut self, hash: String) -> Self {
        self.password_hash = Some(hash);
        self
    }

    /// The initial password hash, if any; stores insert `""` without one.
    pub fn password_hash(&self) -> Option<&str> {
        self.password_hash.as_deref()
    }
}

/// Checks an email and returns its canonical form: surrounding white space removed, the
/// domain lower-cased (the local part is kept as given, as RFC 5321 requires).
///
/// Refuses empty, over-long (255 characters), control characters, and anything without
/// exactly one `@` with text on both sides. Deliberately not a full RFC 5322 parser:
/// deliverability is proven by verification, not by syntax.
pub fn normalize_email(email: &str) -> Result<String, InputError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(InputError::Empty(InputField::Email));
    }
    if email.chars().count() > MAX_EMAIL_LENGTH {
        return Err(InputError::TooLong {
            field: InputField::Email,
            max: MAX_EMAIL_LENGTH,
        });
    }
    if email.chars().any(|c| c.is_control()) {
        return Err(InputError::ControlCharacter(InputField::Email));
    }
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or(InputError::Malformed(InputField::Email))?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || email.contains(char::is_whitespace)
    {
        return Err(InputError::Malformed(InputField::Email));
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_domain_only() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "Alice@example.com"
        );
    }

    #[test]
    fn refuses_bad_emails_with_typed_errors() {
        assert_eq!(
            normalize_email(" "),
            Err(InputError::Empty(InputField::Email))
        );
        assert_eq!(
            normalize_email("a\0@x.io"),
            Err(InputError::ControlCharacter(InputField::Email))
        );
        for bad in ["alice", "@x.io", "alice@", "a b@x.io"] {
            assert_eq!(
                normalize_email(bad),
                Err(InputError::Malformed(InputField::Email)),
                "{bad}"
            );
        }
        let long = format!("{}@x.io", "a".repeat(300));
        assert!(matches!(
            normalize_email(&long),
            Err(InputError::TooLong { max: 255, .. })
        ));
    }
}
