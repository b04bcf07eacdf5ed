//! The [`PasswordHasher`] trait and the [`MultiHasher`] implementation.

use std::sync::Arc;

use argon2::{Algorithm, Version};

use crate::config::HasherConfig;
use crate::error::HashError;
use crate::input::check_password_input;
use crate::normalize::Candidates;
use crate::schemes::{self, StoredHash};

/// The outcome of checking a password against a stored hash.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match (or the stored value is an unusable password).
    Mismatch,
    /// The password matches.
    Match {
        /// The stored hash should be replaced by a fresh primary hash of this password: it uses
        /// another algorithm (bcrypt, PBKDF2, argon2i/argon2d), other Argon2id parameters than
        /// the configured ones, or it matched only the non-normalized form of the password.
        needs_rehash: bool,
    },
}

impl Verification {
    /// `true` for [`Verification::Match`].
    #[must_use]
    pub fn is_match(&self) -> bool {
        matches!(self, Verification::Match { .. })
    }

    /// `true` for a match whose hash should be upgraded.
    #[must_use]
    pub fn needs_rehash(&self) -> bool {
        matches!(self, Verification::Match { needs_rehash: true })
    }
}

/// An algorithm-level password hasher. Implementations are blocking and CPU-heavy: call them
/// through a [`HashingPool`](crate::HashingPool) from async code.
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes `password` with the primary algorithm and a fresh salt.
    ///
    /// # Errors
    /// [`HashError::EmptyPassword`], [`HashError::PasswordTooLong`], or an internal error.
    fn hash(&self, password: &str) -> Result<String, HashError>;

    /// Checks `password` against the stored value `encoded`.
    ///
    /// # Errors
    /// Invalid password input, an unverifiable stored hash (malformed, unsupported, over the
    /// caps), or an internal error. An error is never a match.
    fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError>;

    /// Does the same work as verifying against a real primary hash, result discarded: used for
    /// unknown users/unusable hashes so timing reveals nothing.
    fn dummy_verify(&self, password: &str);

    /// `true` if verifying against `encoded` costs less than one verification with the
    /// primary parameters (a legacy bcrypt or PBKDF2 hash, weaker Argon2 parameters), so that
    /// its timing would tell such accounts apart from the others (checklist H12).
    ///
    /// [`HashingPool::verify`](crate::HashingPool::verify) then runs
    /// [`dummy_verify`](PasswordHasher::dummy_verify) right after
    /// [`verify`](PasswordHasher::verify), in the same blocking task, whatever the outcome:
    /// every verification through the pool costs at least one primary-strength verification.
    /// Code that calls a hasher directly should do the same:
    ///
    /// ```
    /// # use auth_hash::{HashError, PasswordHasher, Verification};
    /// fn verify_padded(
    ///     h: &dyn PasswordHasher,
    ///     password: &str,
    ///     encoded: &str,
    /// ) -> Result<Verification, HashError> {
    ///     let cheaper = h.is_cheaper_than_primary(encoded);
    ///     let outcome = h.verify(password, encoded);
    ///     if cheaper {
    ///         h.dummy_verify(password);
    ///     }
    ///     outcome
    /// }
    /// ```
    ///
    /// Must be cheap (parse, no hashing) and never panic. The default, `false`, suits hashers
    /// with a single cost.
    fn is_cheaper_than_primary(&self, encoded: &str) -> bool {
        let _ = encoded;
        false
    }
}

/// `false` for values that can never verify: the empty string and anything starting with `!`
/// (Django's and the reference's "unusable password" marker).
#[must_use]
pub fn is_usable(encoded: &str) -> bool {
    !encoded.is_empty() && !encoded.starts_with('!')
}

/// Argon2id primary hasher that also verifies bcrypt and PBKDF2-SHA256 hashes.
///
/// See the [crate documentation](crate) for the formats, the normalization rule, the bcrypt
/// 72-byte rule and the caps.
///
/// Argon2 working memory of the primary size is reused between calls (up to one buffer per
/// CPU is kept, zeroized after each use): a fresh 64 MiB allocation costs ~40 ms of page faults
/// here. Clones share these buffers.
#[derive(Debug, Clone)]
pub struct MultiHasher {
    config: HasherConfig,
    memory: Arc<schemes::argon2::MemoryPool>,
}

/// Fixed salt of the dummy verification (its result is thrown away).
const DUMMY_SALT: [u8; schemes::argon2::SALT_LEN] = *b"auth-hash-dummy!";

impl MultiHasher {
    /// Builds a hasher after checking `config`.
    ///
    /// The first hasher built in a process also checks that Argon2 was compiled with
    /// optimizations and logs one `tracing` warning with the `Cargo.toml` lines to copy if not
    /// (see [`argon2_is_unoptimized`](crate::argon2_is_unoptimized)).
    ///
    /// # Errors
    /// [`HashError::InvalidConfig`] if the configuration is invalid.
    pub fn new(config: HasherConfig) -> Result<Self, HashError> {
        config.validate()?;
        if !config.argon2.meets_owasp_minimum() {
            tracing::warn!(
                time_cost = config.argon2.time_cost,
                memory_kib = config.argon2.memory_kib,
                parallelism = config.argon2.parallelism,
                "argon2id parameters are below the OWASP minimum; use them for tests only"
            );
        }
        crate::build_check::warn_once_if_unoptimized();
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Self {
            memory: Arc::new(schemes::argon2::MemoryPool::new(config.argon2, cpus)),
            config,
        })
    }

    /// The configuration this hasher was built with.
    #[must_use]
    pub fn config(&self) -> &HasherConfig {
        &self.config
    }

    /// One primary verification per candidate form, result discarded.
    fn dummy_work(&self, candidates: &Candidates<'_>) {
        for form in candidates.all() {
            let mut out = [0u8; schemes::argon2::TAG_LEN];
            let result = schemes::argon2::compute(
                Algorithm::Argon2id,
                Version::V0x13,
                self.config.argon2,
                form.as_bytes(),
                &DUMMY_SALT,
                &mut out,
                &self.memory,
            );
            std::hint::black_box((result.is_ok(), out));
        }
    }
}

impl PasswordHasher for MultiHasher {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        check_password_input(password, self.config.max_password_length)?;
        let candidates = Candidates::new(password);
        schemes::argon2::hash(
            self.config.argon2,
            candidates.primary().as_bytes(),
            &self.memory,
        )
    }

    fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        check_password_input(password, self.config.max_password_length)?;
        let candidates = Candidates::new(password);
        if !is_usable(encoded) {
            self.dummy_work(&candidates);
            return Ok(Verification::Mismatch);
        }
        let stored = match StoredHash::parse(encoded, &self.config.limits) {
            Ok(stored) => stored,
            Err(e) => {
                self.dummy_work(&candidates);
                return Err(e);
            }
        };
        let mut refused = None;
        let mut checked = false;
        for (i, form) in candidates.all().enumerate() {
            match stored.matches(form.as_bytes(), &self.memory) {
                Ok(true) => {
                    return Ok(Verification::Match {
                        needs_rehash: i > 0 || stored.needs_rehash(&self.config.argon2),
                    });
                }
                Ok(false) => checked = true,
                Err(e @ HashError::PasswordTooLongForLegacyHash { .. }) => refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        match refused {
            // No dummy work here: bcrypt is cheaper than the primary, so the caller pads
            // (`is_cheaper_than_primary`), as for any other outcome against this hash.
            Some(e) if !checked => Err(e),
            _ => Ok(Verification::Mismatch),
        }
    }

    fn dummy_verify(&self, password: &str) {
        if check_password_input(password, self.config.max_password_length).is_ok() {
            self.dummy_work(&Candidates::new(password));
        }
    }

    /// `true` for bcrypt and PBKDF2 hashes (always: their cost is not comparable to Argon2's
    /// without a calibration that would drift between machines, and the rule is "at least one
    /// primary verification"), and for Argon2 hashes (any variant) whose wall-clock cost is
    /// below the primary's: `m * t / min(p, threads)` smaller, with `threads` the CPU count
    /// under the `parallel` feature, 1 without. `false` for unusable and unparseable values:
    /// [`verify`](PasswordHasher::verify) already does one primary verification for those.
    fn is_cheaper_than_primary(&self, encoded: &str) -> bool {
        if !is_usable(encoded) {
            return false;
        }
        match StoredHash::parse(encoded, &self.config.limits) {
            Ok(StoredHash::Argon2(h)) => h.is_cheaper_than(&self.config.argon2),
            Ok(StoredHash::Bcrypt(_) | StoredHash::Pbkdf2(_)) => true,
            Err(_) => false,
        }
    }
}
