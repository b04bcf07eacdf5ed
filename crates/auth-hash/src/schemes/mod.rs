//! Parsing of stored hashes into bounds-checked, verifiable values.

pub(crate) mod argon2;
pub(crate) mod bcrypt;
pub(crate) mod pbkdf2;

use crate::config::{Argon2Params, StoredHashLimits};
use crate::error::HashError;

/// Longest stored value looked at; anything longer is malformed (no format here needs more).
const MAX_ENCODED_LEN: usize = 1024;

/// A stored hash whose parameters have been checked against the caps.
pub(crate) enum StoredHash<'a> {
    Argon2(argon2::Argon2Hash),
    Bcrypt(bcrypt::BcryptHash<'a>),
    Pbkdf2(pbkdf2::Pbkdf2Hash),
}

/// The scheme a stored value claims, from its prefix alone (no parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` (also with Django's `argon2` prefix).
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$`, `$2x$` (also with Django's `bcrypt$` prefix).
    Bcrypt,
    /// `$pbkdf2-sha256$` or `pbkdf2_sha256$`.
    Pbkdf2Sha256,
    /// Empty, or starting with `!`: an unusable password.
    Unusable,
    /// Anything else.
    Unknown,
}

/// Identifies the scheme of a stored value from its prefix.
#[must_use]
pub fn identify(encoded: &str) -> Scheme {
    if !crate::is_usable(encoded) {
        Scheme::Unusable
    } else if encoded.starts_with("$argon2") || encoded.starts_with("argon2$argon2") {
        Scheme::Argon2
    } else if encoded.starts_with("$2") || encoded.starts_with("bcrypt$$2") {
        Scheme::Bcrypt
    } else if encoded.starts_with("$pbkdf2-sha256$") || encoded.starts_with("pbkdf2_sha256$") {
        Scheme::Pbkdf2Sha256
    } else {
        Scheme::Unknown
    }
}

impl<'a> StoredHash<'a> {
    /// Parses a stored value (which must be usable).
    pub(crate) fn parse(encoded: &'a str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(HashError::MalformedHash);
        }
        // Django's `argon2$argon2id$...`: the PHC string follows the `argon2` prefix.
        if let Some(rest) = encoded.strip_prefix("argon2")
            && rest.starts_with("$argon2")
        {
            return argon2::Argon2Hash::parse(rest, limits).map(Self::Argon2);
        }
        if encoded.starts_with("$argon2") {
            return argon2::Argon2Hash::parse(encoded, limits).map(Self::Argon2);
        }
        if let Some(rest) = encoded.strip_prefix("bcrypt$") {
            return bcrypt::BcryptHash::parse(rest, limits).map(Self::Bcrypt);
        }
        if encoded.starts_with("$2") {
            return bcrypt::BcryptHash::parse(encoded, limits).map(Self::Bcrypt);
        }
        if let Some(rest) = encoded.strip_prefix("$pbkdf2-sha256$") {
            return pbkdf2::Pbkdf2Hash::parse_phc(rest, limits).map(Self::Pbkdf2);
        }
        if let Some(rest) = encoded.strip_prefix("pbkdf2_sha256$") {
            return pbkdf2::Pbkdf2Hash::parse_django(rest, limits).map(Self::Pbkdf2);
        }
        const UNSUPPORTED: &[(&str, &str)] = &[
            ("bcrypt_sha256$", "bcrypt_sha256 (Django)"),
            ("pbkdf2_sha1$", "pbkdf2_sha1 (Django)"),
            ("$pbkdf2-sha512$", "pbkdf2-sha512"),
            ("$pbkdf2$", "pbkdf2-sha1"),
            ("$scrypt$", "scrypt"),
            ("scrypt$", "scrypt (Django)"),
            ("$7$", "scrypt"),
            ("$1$", "md5crypt"),
            ("$5$", "sha256crypt"),
            ("$6$", "sha512crypt"),
            ("md5$", "md5 (Django)"),
            ("sha1$", "sha1 (Django)"),
        ];
        let Some(&(_, algorithm)) = UNSUPPORTED.iter().find(|(p, _)| encoded.starts_with(p)) else {
            return Err(HashError::MalformedHash);
        };
        Err(HashError::UnsupportedAlgorithm { algorithm })
    }

    /// Checks one form of the password.
    pub(crate) fn matches(
        &self,
        password: &[u8],
        memory: &argon2::MemoryPool,
    ) -> Result<bool, HashError> {
        match self {
            Self::Argon2(h) => h.matches(password, memory),
            Self::Bcrypt(h) => h.matches(password),
            Self::Pbkdf2(h) => h.matches(password),
        }
    }

    /// Whether a successful match should be followed by a rehash with the primary.
    pub(crate) fn needs_rehash(&self, primary: &Argon2Params) -> bool {
        match self {
            Self::Argon2(h) => h.needs_rehash(primary),
            Self::Bcrypt(_) | Self::Pbkdf2(_) => true,
        }
    }
}
