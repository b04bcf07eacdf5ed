//! bcrypt verification (`$2a$`, `$2b$`, `$2y$`; Django's `bcrypt$` prefix). Never used to
//! create hashes.

use crate::config::StoredHashLimits;
use crate::error::HashError;

/// bcrypt's input limit: it ignores every byte after the 72nd.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;
const MIN_COST: u64 = 4;

/// A parsed, bounds-checked bcrypt hash.
pub(crate) struct BcryptHash<'a> {
    /// The 60-character modular-crypt string.
    mcf: &'a str,
}

impl<'a> BcryptHash<'a> {
    /// Parses a 60-character `$2?$NN$<22 salt><31 hash>` string.
    pub(crate) fn parse(mcf: &'a str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let b = mcf.as_bytes();
        if b.len() != 60 || !mcf.is_ascii() || b[0] != b'$' || b[3] != b'$' || b[6] != b'$' {
            return Err(HashError::MalformedHash);
        }
        match &mcf[1..3] {
            "2a" | "2b" | "2y" => {}
            // CVE-2011-2483: `$2x$` marks hashes made by crypt_blowfish's sign-extension bug;
            // they cannot be reproduced correctly, so they are refused, not silently failed.
            "2x" => {
                return Err(HashError::UnsupportedAlgorithm {
                    algorithm: "bcrypt $2x$ (CVE-2011-2483)",
                });
            }
            _ => return Err(HashError::MalformedHash),
        }
        let cost = &mcf[4..6];
        if !cost.bytes().all(|c| c.is_ascii_digit()) {
            return Err(HashError::MalformedHash);
        }
        let cost: u64 = cost.parse().map_err(|_| HashError::MalformedHash)?;
        let max = u64::from(limits.bcrypt_max_cost);
        if !(MIN_COST..=max).contains(&cost) {
            return Err(HashError::ParametersOutOfBounds {
                parameter: "bcrypt cost",
                value: cost,
                min: MIN_COST,
                max,
            });
        }
        if !b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
        {
            return Err(HashError::MalformedHash);
        }
        Ok(Self { mcf })
    }

    /// Checks `password`. A password over 72 bytes is never checked (bcrypt would ignore its
    /// tail, so its 72-byte prefix would match): [`HashError::PasswordTooLongForLegacyHash`].
    pub(crate) fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        if password.len() > BCRYPT_MAX_PASSWORD_BYTES {
            return Err(HashError::PasswordTooLongForLegacyHash {
                max_bytes: BCRYPT_MAX_PASSWORD_BYTES,
            });
        }
        // `bcrypt::verify` compares in constant time (subtle).
        bcrypt::verify(password, self.mcf).map_err(|_| HashError::MalformedHash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> BcryptHash<'_> {
        BcryptHash::parse(s, &StoredHashLimits::default()).unwrap()
    }

    /// Openwall `wrapper.c` vectors with non-UTF-8 input (only reachable as bytes).
    #[test]
    fn openwall_high_bit_vectors() {
        // "\xa3" under $2y$ (and the same body under $2a$/$2b$) verifies.
        let h = parse("$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq");
        assert!(h.matches(b"\xa3").unwrap());
        assert!(!h.matches(b"\xa4").unwrap());
        // "\xff\xff\xa3" under $2b$ verifies...
        let h = parse("$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e");
        assert!(h.matches(b"\xff\xff\xa3").unwrap());
        // ...while crypt_blowfish's `$2a$` countermeasure hash for the same input does not
        // (documented policy: such hashes need a password reset).
        let h = parse("$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.");
        assert!(!h.matches(b"\xff\xff\xa3").unwrap());
    }
}
