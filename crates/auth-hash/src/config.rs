//! Hasher configuration: the primary Argon2id parameters and the caps on stored hashes.

use crate::HashError;

/// Argon2id cost parameters of the primary hasher.
///
/// The default is the reference's: `t=3`, `m=65536` KiB (64 MiB), `p=4`. The salt is always
/// 16 bytes and the tag 32 bytes (RFC 9106 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Number of passes over the memory (`t`).
    pub time_cost: u32,
    /// Memory in KiB (`m`). Must be at least `8 * parallelism`.
    pub memory_kib: u32,
    /// Number of lanes (`p`). With the `parallel` feature the lanes run on several threads.
    pub parallelism: u32,
}

impl Argon2Params {
    /// The reference's (and this crate's) default: `t=3`, `m=65536`, `p=4`.
    pub const DEFAULT: Self = Self {
        time_cost: 3,
        memory_kib: 65536,
        parallelism: 4,
    };

    /// `true` if these parameters meet the OWASP Password Storage Cheat Sheet / ASVS 5.0
    /// minimums for Argon2id (m=47104/t=1, m=19456/t=2, m=12288/t=3, m=9216/t=4, m=7168/t>=5).
    #[must_use]
    pub fn meets_owasp_minimum(&self) -> bool {
        let min_m = match self.time_cost {
            0 => return false,
            1 => 47104,
            2 => 19456,
            3 => 12288,
            4 => 9216,
            _ => 7168,
        };
        self.memory_kib >= min_m
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Caps on the parameters of *stored* hashes, checked before any memory is allocated or any
/// hashing is done, so a tampered database row cannot make a login allocate gigabytes or spin
/// for minutes.
///
/// A stored hash outside these bounds is refused with
/// [`HashError::ParametersOutOfBounds`]. The primary [`Argon2Params`] must lie within them
/// (checked by [`MultiHasher::new`](crate::MultiHasher::new)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHashLimits {
    /// Largest Argon2 memory accepted, in KiB. Default 262144 (256 MiB).
    pub argon2_max_memory_kib: u32,
    /// Largest Argon2 time cost accepted. Default 16.
    pub argon2_max_time_cost: u32,
    /// Largest Argon2 parallelism accepted. Default 16.
    pub argon2_max_parallelism: u32,
    /// Largest bcrypt cost accepted (2^cost rounds). Default 16.
    pub bcrypt_max_cost: u32,
    /// Largest PBKDF2 iteration count accepted. Default 5,000,000 (Django 6.0 uses 1,200,000).
    pub pbkdf2_max_iterations: u32,
}

impl Default for StoredHashLimits {
    fn default() -> Self {
        Self {
            argon2_max_memory_kib: 256 * 1024,
            argon2_max_time_cost: 16,
            argon2_max_parallelism: 16,
            bcrypt_max_cost: 16,
            pbkdf2_max_iterations: 5_000_000,
        }
    }
}

/// Hard ceiling for [`HasherConfig::max_password_length`], in characters.
pub const MAX_PASSWORD_LENGTH_CEILING: usize = 65_536;

/// Configuration of a [`MultiHasher`](crate::MultiHasher).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HasherConfig {
    /// Parameters of new Argon2id hashes; stored hashes with other parameters are reported as
    /// needing a rehash.
    pub argon2: Argon2Params,
    /// Longest password accepted, in characters (Unicode scalar values). Default 4096, like
    /// the reference. Longer passwords are refused before any hashing or normalization.
    pub max_password_length: usize,
    /// Caps on the parameters of stored hashes.
    pub limits: StoredHashLimits,
}

impl Default for HasherConfig {
    fn default() -> Self {
        Self {
            argon2: Argon2Params::DEFAULT,
            max_password_length: 4096,
            limits: StoredHashLimits::default(),
        }
    }
}

impl HasherConfig {
    /// Checks the configuration; [`MultiHasher::new`](crate::MultiHasher::new) calls this.
    ///
    /// # Errors
    /// [`HashError::InvalidConfig`] naming the offending setting.
    pub fn validate(&self) -> Result<(), HashError> {
        let a = self.argon2;
        let l = self.limits;
        let bad = |msg: String| Err(HashError::InvalidConfig(msg));
        if a.time_cost < 1 {
            return bad("argon2 time_cost must be at least 1".into());
        }
        if a.parallelism < 1 {
            return bad("argon2 parallelism must be at least 1".into());
        }
        if u64::from(a.memory_kib) < 8 * u64::from(a.parallelism) {
            return bad(format!(
                "argon2 memory_kib ({}) must be at least 8 * parallelism ({})",
                a.memory_kib,
                8 * u64::from(a.parallelism)
            ));
        }
        if a.time_cost > l.argon2_max_time_cost
            || a.memory_kib > l.argon2_max_memory_kib
            || a.parallelism > l.argon2_max_parallelism
        {
            return bad(format!(
                "argon2 parameters t={} m={} p={} exceed the stored-hash limits t<={} m<={} p<={}",
                a.time_cost,
                a.memory_kib,
                a.parallelism,
                l.argon2_max_time_cost,
                l.argon2_max_memory_kib,
                l.argon2_max_parallelism
            ));
        }
        if self.max_password_length == 0 || self.max_password_length > MAX_PASSWORD_LENGTH_CEILING {
            return bad(format!(
                "max_password_length must be in 1..={MAX_PASSWORD_LENGTH_CEILING}, got {}",
                self.max_password_length
            ));
        }
        if !(4..=31).contains(&l.bcrypt_max_cost) {
            return bad(format!(
                "bcrypt_max_cost must be in 4..=31, got {}",
                l.bcrypt_max_cost
            ));
        }
        if l.pbkdf2_max_iterations == 0 {
            return bad("pbkdf2_max_iterations must be at least 1".into());
        }
        Ok(())
    }
}
