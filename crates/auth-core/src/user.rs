use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{InputError, InputField};
use crate::ids::UserId;

/// The longest email accepted, in characters (the reference's `CharField(255)`).
pub const MAX_EMAIL_LENGTH: usize = 255;

/// The library's view of a row in the application's user table: the eight columns the
/// library owns, plus the key.
///
/// The application's own columns (display name, role, ...) stay in its table; load them
/// with its own query by [`User::id`]. The password hash is deliberately not here: it is
/// only read by login and password checks ([`UserCredentials`](crate::UserCredentials)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct User {
    /// The application's primary key.
    pub id: UserId,
    /// The unique email address, in the canonical form of [`normalize_email`] when the
    /// library wrote it (rows written by other software keep their spelling).
    pub email: String,
    /// When the user last logged in, if ever.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub last_login: Option<OffsetDateTime>,
    /// Inactive users cannot log in, and their tokens stop authenticating.
    pub is_active: bool,
    /// Whether the email address was verified.
    pub is_verified: bool,
    /// When the user joined (set at creation, or at verification if it was empty).
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub joined_at: Option<OffsetDateTime>,
    /// When the row was created.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub created_at: OffsetDateTime,
    /// When the row was last changed by the library.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
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
    /// A new active, unverified user; the email is checked and put in canonical form.
    pub fn new(email: &str) -> Result<Self, InputError> {
        Ok(Self {
            email: normalize_email(email)?,
            password_hash: None,
            is_active: true,
            is_verified: false,
        })
    }

    /// The canonical email.
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

/// Checks an email and returns its canonical form, the one key every store matches on.
///
/// 1. Surrounding white space is removed and the text is put in Unicode NFC, so a
///    precomposed `é` and `e` + combining accent are one address.
/// 2. Refused: empty; over 255 characters; control characters; invisible characters
///    (format characters such as zero-width spaces, joiners and bidi overrides, variation
///    selectors, Hangul fillers), so no look-alike account can be registered; anything
///    without an `@` with text on both sides, or with white space inside.
/// 3. ASCII letters are lower-cased, in the local part too: `Alice@Example.COM` and
///    `alice@example.com` are one account on every store. Other letters are kept as typed
///    (no Unicode case mapping), so `mıke@` (dotless i) never matches `mike@`.
///
/// Deliberately not a full RFC 5322 parser: deliverability is proven by verification, not
/// by syntax. Mail always goes to the address stored for the user.
pub fn normalize_email(email: &str) -> Result<String, InputError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(InputError::Empty(InputField::Email));
    }
    // Bound the work before normalizing: NFC never shrinks text by more than a factor of
    // four in characters, and an address over the limit is refused anyway.
    if email.len() > MAX_EMAIL_LENGTH * 16 {
        return Err(InputError::TooLong {
            field: InputField::Email,
            max: MAX_EMAIL_LENGTH,
        });
    }
    let email: String = email.nfc().collect();
    if email.chars().count() > MAX_EMAIL_LENGTH {
        return Err(InputError::TooLong {
            field: InputField::Email,
            max: MAX_EMAIL_LENGTH,
        });
    }
    if email.chars().any(char::is_control) {
        return Err(InputError::ControlCharacter(InputField::Email));
    }
    if email.chars().any(is_invisible) {
        return Err(InputError::InvisibleCharacter(InputField::Email));
    }
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or(InputError::Malformed(InputField::Email))?;
    if local.is_empty() || domain.is_empty() || email.contains(char::is_whitespace) {
        return Err(InputError::Malformed(InputField::Email));
    }
    Ok(email.to_ascii_lowercase())
}

/// Characters that render as nothing: format characters (Unicode category Cf: zero-width
/// space and joiners, bidi controls, soft hyphen, word joiner, BOM, tags) and the other
/// default-ignorable letters and marks that are not Cf.
fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
        || matches!(
            c,
            '\u{034F}'                    // combining grapheme joiner
            | '\u{115F}' | '\u{1160}'     // Hangul choseong/jungseong fillers
            | '\u{17B4}' | '\u{17B5}'     // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'     // Mongolian variation selectors
            | '\u{3164}' | '\u{FFA0}'     // Hangul fillers
            | '\u{FE00}'..='\u{FE0F}'     // variation selectors
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_case_everywhere() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
    }

    #[test]
    fn keeps_non_ascii_letters_as_typed() {
        // No Unicode case mapping: the dotless i stays distinct from i (GitHub 2019).
        assert_eq!(
            normalize_email("M\u{131}ke@example.org").unwrap(),
            "m\u{131}ke@example.org"
        );
        assert_ne!(
            normalize_email("m\u{131}ke@example.org").unwrap(),
            normalize_email("mike@example.org").unwrap()
        );
        assert_eq!(
            normalize_email("\u{C4}rger@x.io").unwrap(),
            "\u{C4}rger@x.io"
        );
    }

    #[test]
    fn nfc_and_nfd_spellings_are_one_address() {
        assert_eq!(
            normalize_email("jose\u{301}@example.com").unwrap(),
            normalize_email("jos\u{e9}@example.com").unwrap()
        );
    }

    #[test]
    fn refuses_invisible_characters() {
        for bad in [
            "ali\u{200B}ce@example.com",
            "alice\u{200D}@example.com",
            "\u{202E}alice@example.com",
            "alice@exa\u{2060}mple.com",
            "alice@example.com\u{FEFF}x",
            "al\u{AD}ice@example.com",
            "alice\u{FE0F}@example.com",
            "a\u{3164}@example.com",
            "alice@example.com\u{E0001}",
        ] {
            assert_eq!(
                normalize_email(bad),
                Err(InputError::InvisibleCharacter(InputField::Email)),
                "{bad:?}"
            );
        }
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
        let huge = "a".repeat(1 << 20);
        assert!(matches!(
            normalize_email(&huge),
            Err(InputError::TooLong { .. })
        ));
    }
}
