//! PBKDF2-HMAC-SHA256 verification: PHC (`$pbkdf2-sha256$i=N,l=L$salt$hash`, and passlib's
//! `$pbkdf2-sha256$N$salt$hash`) and Django / the reference (`pbkdf2_sha256$N$salt$hash`).
//! Never used to create hashes.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use password_hash::phc::{self, Output, ParamsString};

use crate::b64;
use crate::config::StoredHashLimits;
use crate::error::HashError;
use crate::schemes::argon2::{b64_len, phc_decimal};

const MIN_DIGEST: usize = 16;
const SHA256_LEN: usize = 32;
/// The PHC format's (and `phc`'s [`Output`]) maximum.
const MAX_DIGEST: usize = Output::MAX_LENGTH;
const MAX_SALT: usize = 128;

/// A parsed, bounds-checked PBKDF2-SHA256 hash.
pub(crate) struct Pbkdf2Hash {
    iterations: u32,
    /// One salt, or two readings of an ambiguous `pbkdf2_sha256$` salt (see [`Self::parse_django`]).
    salts: Vec<Vec<u8>>,
    digest: Vec<u8>,
}

/// Parses a plain decimal iteration count (passlib and Django forms), then checks the cap.
fn parse_iterations(s: &str, limits: &StoredHashLimits) -> Result<u32, HashError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::MalformedHash);
    }
    let n: u64 = s.parse().map_err(|_| HashError::MalformedHash)?;
    check_iterations(n, limits)
}

/// Checks an iteration count against the cap (before any hashing).
fn check_iterations(n: u64, limits: &StoredHashLimits) -> Result<u32, HashError> {
    let max = u64::from(limits.pbkdf2_max_iterations);
    if !(1..=max).contains(&n) {
        return Err(HashError::ParametersOutOfBounds {
            parameter: "pbkdf2 iterations",
            value: n,
            min: 1,
            max,
        });
    }
    u32::try_from(n).map_err(|_| HashError::MalformedHash)
}

fn check_digest(digest: Option<Vec<u8>>) -> Result<Vec<u8>, HashError> {
    let digest = digest.ok_or(HashError::MalformedHash)?;
    if digest.len() < MIN_DIGEST {
        return Err(HashError::ParametersOutOfBounds {
            parameter: "pbkdf2 digest length",
            value: digest.len() as u64,
            min: MIN_DIGEST as u64,
            max: MAX_DIGEST as u64,
        });
    }
    Ok(digest)
}

impl Pbkdf2Hash {
    /// Parses the part after `$pbkdf2-sha256$`: `i=N[,l=L]$salt$hash` (PHC) or `N$salt$hash`
    /// (passlib, `.` in place of `+`; not a PHC string).
    ///
    /// In the PHC form the parameters are read by the `phc` crate ([`ParamsString`], decimals
    /// per the PHC grammar) and the digest by [`Output::decode`] (canonical "B64", 10 to 64
    /// bytes, on the stack). The salt is decoded with the same canonical "B64" here, because
    /// `phc`'s `Salt` type refuses salts under 8 bytes and the RFC 7914 vectors use 4.
    pub(crate) fn parse_phc(rest: &str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let mut parts = rest.split('$');
        let (Some(params), Some(salt), Some(digest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HashError::MalformedHash);
        };
        if !params.is_empty() && params.bytes().all(|b| b.is_ascii_digit()) {
            return Self::parse_passlib(params, salt, digest, limits);
        }
        let params: ParamsString = params.parse().map_err(|_| HashError::MalformedHash)?;
        let (mut i, mut l) = (None, None);
        for (name, value) in params.iter() {
            let slot = match name.as_str() {
                "i" => &mut i,
                "l" => &mut l,
                _ => return Err(HashError::MalformedHash),
            };
            if slot.replace(phc_decimal(&value)?).is_some() {
                return Err(HashError::MalformedHash);
            }
        }
        let iterations = check_iterations(i.ok_or(HashError::MalformedHash)?, limits)?;
        let salt =
            b64::decode_bounded(&b64::PHC, salt, MAX_SALT).ok_or(HashError::MalformedHash)?;
        let digest_len = b64_len(digest);
        let digest = match Output::decode(digest) {
            Ok(output) => output.as_bytes().to_vec(),
            // `Output::decode` decodes into a 64-byte buffer: a longer digest fails as base64.
            Err(phc::Error::OutputSize { .. } | phc::Error::Base64(_))
                if !(MIN_DIGEST as u64..=MAX_DIGEST as u64).contains(&digest_len) =>
            {
                return Err(HashError::ParametersOutOfBounds {
                    parameter: "pbkdf2 digest length",
                    value: digest_len,
                    min: MIN_DIGEST as u64,
                    max: MAX_DIGEST as u64,
                });
            }
            Err(_) => return Err(HashError::MalformedHash),
        };
        let digest = check_digest(Some(digest))?;
        // PBKDF2 output is a prefix of any longer output: a truncated digest must never be
        // accepted as a shorter `dkLen`. Without `l=`, the length is SHA-256's 32 bytes.
        if digest.len() as u64 != l.unwrap_or(SHA256_LEN as u64) {
            return Err(HashError::MalformedHash);
        }
        Ok(Self {
            iterations,
            salts: vec![salt],
            digest,
        })
    }

    /// passlib's `$pbkdf2-sha256$N$salt$hash`: "adapted base64" (`.` for `+`), no padding.
    fn parse_passlib(
        iterations: &str,
        salt: &str,
        digest: &str,
        limits: &StoredHashLimits,
    ) -> Result<Self, HashError> {
        let iterations = parse_iterations(iterations, limits)?;
        let decode = |s: &str, max| b64::decode_bounded(&b64::PHC, &s.replace('.', "+"), max);
        let salt = decode(salt, MAX_SALT).ok_or(HashError::MalformedHash)?;
        let digest = check_digest(decode(digest, MAX_DIGEST))?;
        if digest.len() != SHA256_LEN {
            return Err(HashError::MalformedHash);
        }
        Ok(Self {
            iterations,
            salts: vec![salt],
            digest,
        })
    }

    /// Parses the part after `pbkdf2_sha256$`: `N$salt$hash`, the hash in padded base64.
    ///
    /// Django uses the salt string's bytes as the salt (its salts are alphanumeric); the Python
    /// reference base64-encodes a random 16-byte salt (24 characters ending in `==`). A salt
    /// with `+`, `/` or `=` is read as base64; a salt that is not valid base64 is read as text;
    /// an alphanumeric salt that is also valid base64 is tried both ways (text first).
    pub(crate) fn parse_django(rest: &str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let mut parts = rest.split('$');
        let (Some(iterations), Some(salt), Some(digest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HashError::MalformedHash);
        };
        let iterations = parse_iterations(iterations, limits)?;
        if salt.is_empty() || salt.len() > MAX_SALT * 4 / 3 + 4 {
            return Err(HashError::MalformedHash);
        }
        let as_b64 = (salt.len() % 4 == 0)
            .then(|| b64::decode_bounded(&b64::PADDED, salt, MAX_SALT))
            .flatten()
            .filter(|s| !s.is_empty());
        let b64_only = salt.bytes().any(|b| matches!(b, b'+' | b'/' | b'='));
        let salts = match (as_b64, b64_only) {
            (Some(decoded), true) => vec![decoded],
            (None, true) => return Err(HashError::MalformedHash),
            (Some(decoded), false) => vec![salt.as_bytes().to_vec(), decoded],
            (None, false) => vec![salt.as_bytes().to_vec()],
        };
        let digest = check_digest(b64::decode_bounded(&b64::PADDED, digest, MAX_DIGEST))?;
        // Django and the reference always store the full 32-byte SHA-256 output.
        if digest.len() != SHA256_LEN {
            return Err(HashError::MalformedHash);
        }
        Ok(Self {
            iterations,
            salts,
            digest,
        })
    }

    /// Recomputes the digest for `password` and compares it in constant time
    /// (`subtle::ConstantTimeEq`).
    pub(crate) fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        let mut out = Zeroizing::new(vec![0u8; self.digest.len()]);
        let mut found = subtle::Choice::from(0);
        for salt in &self.salts {
            derive(password, salt, self.iterations, &mut out);
            found |= out.as_slice().ct_eq(&self.digest);
        }
        Ok(found.into())
    }
}

/// PBKDF2-HMAC-SHA256 into `out`.
///
/// `pbkdf2_hmac_with_params` is not generic, so it is compiled (and optimized) in the `pbkdf2`
/// crate rather than monomorphized here; it only accepts >= 1000 rounds, and fewer are cheap.
fn derive(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    match pbkdf2::Params::new(iterations) {
        Ok(params) => pbkdf2::pbkdf2_hmac_with_params(
            password,
            salt,
            pbkdf2::Algorithm::Pbkdf2Sha256,
            params,
            out,
        ),
        Err(_) => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RustCrypto `pbkdf2/tests/pbkdf2.rs`: SHA-256, 600,000 iterations, NUL bytes in the
    /// password and the salt (RFC 6070's shape). Checked on the parsed scheme: the public API
    /// refuses passwords containing NUL before any hashing.
    #[test]
    fn rustcrypto_600000_vector_with_nul_bytes() {
        let encoded = "i=600000,l=20$c2EAbHQ$78Uoa/vQaByWALXAJLi6G1rg8Ks";
        let h = Pbkdf2Hash::parse_phc(encoded, &StoredHashLimits::default()).unwrap();
        assert!(h.matches(b"pass\0word").unwrap());
        assert!(!h.matches(b"pass").unwrap());
    }

    #[test]
    fn phc_parameters_follow_the_phc_grammar() {
        let limits = StoredHashLimits::default();
        let digest = "Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs";
        assert!(Pbkdf2Hash::parse_phc(&format!("i=1,l=32$c2FsdA${digest}"), &limits).is_ok());
        for params in [
            "i=01",
            "i=1,l=032",
            "i=-1",
            "i=1,i=1",
            "l=32",
            "i=1,x=2",
            "i",
        ] {
            let r = Pbkdf2Hash::parse_phc(&format!("{params}$c2FsdA${digest}"), &limits);
            assert!(matches!(r, Err(HashError::MalformedHash)), "{params}");
        }
        // Over u32: out of bounds, like any count over the cap.
        let r = Pbkdf2Hash::parse_phc(&format!("i=99999999999$c2FsdA${digest}"), &limits);
        assert!(matches!(r, Err(HashError::ParametersOutOfBounds { .. })));
        // A digest over the PHC format's 64 bytes.
        let long = "A".repeat(88);
        let r = Pbkdf2Hash::parse_phc(&format!("i=1,l=66$c2FsdA${long}"), &limits);
        assert!(matches!(
            r,
            Err(HashError::ParametersOutOfBounds {
                parameter: "pbkdf2 digest length",
                ..
            })
        ));
    }
}
