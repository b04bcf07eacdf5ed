//! PBKDF2-HMAC-SHA256 verification: PHC (`$pbkdf2-sha256$i=N,l=L$salt$hash`, and passlib's
//! `$pbkdf2-sha256$N$salt$hash`) and Django / the reference (`pbkdf2_sha256$N$salt$hash`).
//! Never used to create hashes.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::b64;
use crate::config::StoredHashLimits;
use crate::error::HashError;

const MIN_DIGEST: usize = 16;
const SHA256_LEN: usize = 32;
const MAX_DIGEST: usize = 64;
const MAX_SALT: usize = 128;

/// A parsed, bounds-checked PBKDF2-SHA256 hash.
pub(crate) struct Pbkdf2Hash {
    iterations: u32,
    /// One salt, or two readings of an ambiguous `pbkdf2_sha256$` salt (see [`Self::parse_django`]).
    salts: Vec<Vec<u8>>,
    digest: Vec<u8>,
}

fn parse_iterations(s: &str, limits: &StoredHashLimits) -> Result<u32, HashError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::MalformedHash);
    }
    let n: u64 = s.parse().map_err(|_| HashError::MalformedHash)?;
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
    /// Parses the part after `$pbkdf2-sha256$`: `i=N[,l=L]$salt$hash` (PHC, standard base64)
    /// or `N$salt$hash` (passlib, `.` in place of `+`).
    pub(crate) fn parse_phc(rest: &str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let mut parts = rest.split('$');
        let (Some(params), Some(salt), Some(digest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HashError::MalformedHash);
        };
        let passlib = params.bytes().all(|b| b.is_ascii_digit());
        let (iterations, length) = if passlib {
            (parse_iterations(params, limits)?, None)
        } else {
            let (mut i, mut l) = (None, None);
            for kv in params.split(',') {
                match kv.split_once('=') {
                    Some(("i", v)) if i.is_none() => i = Some(parse_iterations(v, limits)?),
                    Some(("l", v))
                        if l.is_none()
                            && !v.is_empty()
                            && v.len() <= 3
                            && v.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        l = Some(v.parse::<usize>().map_err(|_| HashError::MalformedHash)?);
                    }
                    _ => return Err(HashError::MalformedHash),
                }
            }
            (i.ok_or(HashError::MalformedHash)?, l)
        };
        let decode = |s: &str, max| {
            if passlib {
                b64::decode_bounded(&b64::PHC, &s.replace('.', "+"), max)
            } else {
                b64::decode_bounded(&b64::PHC, s, max)
            }
        };
        let salt = decode(salt, MAX_SALT).ok_or(HashError::MalformedHash)?;
        let digest = check_digest(decode(digest, MAX_DIGEST))?;
        // PBKDF2 output is a prefix of any longer output: a truncated digest must never be
        // accepted as a shorter `dkLen`. Without `l=`, the length is SHA-256's 32 bytes.
        if digest.len() != length.unwrap_or(SHA256_LEN) {
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
