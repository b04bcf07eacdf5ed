//! The crate's error type.

/// What kind of failure a [`HashError`] is, for callers that branch on it.
///
/// A login path should treat [`InvalidPassword`](HashErrorKind::InvalidPassword) and
/// [`UnverifiableHash`](HashErrorKind::UnverifiableHash) exactly like a wrong password
/// (one generic "invalid credentials" answer), and report
/// [`Internal`](HashErrorKind::Internal) as a server error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashErrorKind {
    /// The submitted password was refused before any hashing (empty, too long, contains NUL):
    /// see [`check_password_input`](crate::check_password_input).
    InvalidPassword,
    /// The stored hash cannot be verified: malformed, unsupported scheme, parameters over the
    /// caps, or a legacy scheme that cannot check this password without truncating it.
    UnverifiableHash,
    /// A failure of this process: bad configuration, a panicked or cancelled hashing task, a
    /// saturated hashing pool ([`HashError::Busy`]), the OS random generator, or the hashing
    /// backend.
    Internal,
}

/// Errors from hashing and verifying passwords.
///
/// Messages never contain a password or a hash. Callers may branch on [`HashError::kind`]
/// (stable); the individual variants may grow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The password is empty. Empty passwords are never hashed nor verified.
    #[error("the password is empty")]
    EmptyPassword,

    /// The password is longer than the configured maximum (counted in Unicode scalar values).
    /// Refused before any hashing or normalization work.
    #[error("the password is longer than {max} characters")]
    PasswordTooLong {
        /// The configured maximum, in characters.
        max: usize,
    },

    /// The password contains a NUL character (U+0000). Refused everywhere, before any
    /// hashing: C implementations of legacy schemes stop at the first NUL, so such a password
    /// would mean different things to different systems.
    #[error("the password contains a NUL character")]
    PasswordContainsNul,

    /// The stored hash is a legacy bcrypt hash and the password is longer than bcrypt's
    /// 72-byte input limit. bcrypt would silently ignore the bytes after the 72nd, so such a
    /// password is never checked against it (no truncated matches): the user must reset the
    /// password.
    #[error("the password is longer than the {max_bytes}-byte limit of the stored legacy hash")]
    PasswordTooLongForLegacyHash {
        /// The legacy scheme's limit, in UTF-8 bytes (72 for bcrypt).
        max_bytes: usize,
    },

    /// The stored hash is not a well-formed hash of any supported format.
    #[error("the stored password hash is malformed")]
    MalformedHash,

    /// The stored hash uses a scheme or variant this crate refuses to verify (for example
    /// bcrypt's `$2x$`, produced by the CVE-2011-2483 buggy implementation).
    #[error("the stored password hash uses an unsupported algorithm: {algorithm}")]
    UnsupportedAlgorithm {
        /// A short identifier of the scheme (never the hash itself).
        algorithm: &'static str,
    },

    /// A parameter of the stored hash is above the configured cap (or below the scheme's
    /// minimum). Refused before any memory is allocated or any hashing is done, so a tampered
    /// row cannot ask for 4 GiB of memory or 10^9 iterations.
    #[error(
        "the stored password hash parameter {parameter}={value} is out of bounds (allowed {min}..={max})"
    )]
    ParametersOutOfBounds {
        /// The parameter's name, e.g. `"argon2 m (KiB)"`.
        parameter: &'static str,
        /// The value found in the stored hash.
        value: u64,
        /// The smallest accepted value.
        min: u64,
        /// The largest accepted value.
        max: u64,
    },

    /// The hasher configuration is invalid (detected when the hasher is built).
    #[error("invalid password hasher configuration: {0}")]
    InvalidConfig(String),

    /// The hashing task on the blocking pool panicked or was cancelled. Never a match.
    #[error("the password hashing task failed (panicked or was cancelled)")]
    TaskFailed,

    /// No slot of the [`HashingPool`](crate::HashingPool) became free within its queue timeout
    /// ([`HashingPool::with_queue_timeout`](crate::HashingPool::with_queue_timeout), 5 s by
    /// default): the service is overloaded. Nothing was hashed; answer "try again later"
    /// (HTTP 503), never "wrong password".
    #[error("the password hashing pool is busy: no slot became free in time")]
    Busy,

    /// The operating system's random generator failed while making a salt.
    #[error("the operating system random generator failed")]
    Random,

    /// The hashing backend reported an error for parameters this crate had accepted.
    #[error("the password hashing backend failed: {0}")]
    Backend(String),
}

impl HashError {
    /// The kind of failure, for callers that branch on it.
    #[must_use]
    pub fn kind(&self) -> HashErrorKind {
        match self {
            HashError::EmptyPassword
            | HashError::PasswordTooLong { .. }
            | HashError::PasswordContainsNul => HashErrorKind::InvalidPassword,
            HashError::PasswordTooLongForLegacyHash { .. }
            | HashError::MalformedHash
            | HashError::UnsupportedAlgorithm { .. }
            | HashError::ParametersOutOfBounds { .. } => HashErrorKind::UnverifiableHash,
            HashError::InvalidConfig(_)
            | HashError::TaskFailed
            | HashError::Busy
            | HashError::Random
            | HashError::Backend(_) => HashErrorKind::Internal,
        }
    }

    /// `true` for failures of this process (configuration, task, busy pool, RNG, backend)
    /// rather than of the submitted password or the stored hash.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        self.kind() == HashErrorKind::Internal
    }
}
