//! Argon2 (`$argon2id$`, `$argon2i$`, `$argon2d$` PHC strings; Django's `argon2$` prefix).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::b64;
use crate::config::{Argon2Params, StoredHashLimits};
use crate::error::HashError;

/// Salt length of new hashes, in bytes (RFC 9106: 128 bits).
pub(crate) const SALT_LEN: usize = 16;
/// Tag length of new hashes, in bytes (RFC 9106: 256 bits).
pub(crate) const TAG_LEN: usize = 32;
const MIN_SALT: usize = 8;
const MAX_SALT: usize = 64;
const MIN_TAG: usize = 16;
const MAX_TAG: usize = 128;

/// A parsed, bounds-checked Argon2 PHC string.
pub(crate) struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Argon2Params,
    salt: Vec<u8>,
    tag: Vec<u8>,
}

fn out_of_bounds(parameter: &'static str, value: u64, min: u64, max: u64) -> HashError {
    HashError::ParametersOutOfBounds {
        parameter,
        value,
        min,
        max,
    }
}

/// Parses a decimal parameter value (at most 10 digits, so it fits a `u64` exactly).
fn parse_number(s: &str) -> Result<u64, HashError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::MalformedHash);
    }
    s.parse().map_err(|_| HashError::MalformedHash)
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Argon2Hash {
    /// Parses `encoded` (which starts with `$argon2`), checking every parameter against
    /// `limits` before anything is allocated for hashing.
    pub(crate) fn parse(encoded: &str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let mut parts = encoded.split('$');
        if parts.next() != Some("") {
            return Err(HashError::MalformedHash);
        }
        let algorithm = match parts.next() {
            Some("argon2id") => Algorithm::Argon2id,
            Some("argon2i") => Algorithm::Argon2i,
            Some("argon2d") => Algorithm::Argon2d,
            _ => return Err(HashError::MalformedHash),
        };
        let mut field = parts.next().ok_or(HashError::MalformedHash)?;
        let version = if let Some(v) = field.strip_prefix("v=") {
            let version = match parse_number(v)? {
                0x13 => Version::V0x13,
                0x10 => Version::V0x10,
                _ => {
                    return Err(HashError::UnsupportedAlgorithm {
                        algorithm: "argon2 (unknown version)",
                    });
                }
            };
            field = parts.next().ok_or(HashError::MalformedHash)?;
            version
        } else {
            // Strings without `v=` predate version 1.3 (0x13).
            Version::V0x10
        };
        let (mut m, mut t, mut p) = (None, None, None);
        for kv in field.split(',') {
            let (k, v) = kv.split_once('=').ok_or(HashError::MalformedHash)?;
            let slot = match k {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                _ => return Err(HashError::MalformedHash),
            };
            if slot.replace(parse_number(v)?).is_some() {
                return Err(HashError::MalformedHash);
            }
        }
        let (Some(m), Some(t), Some(p)) = (m, t, p) else {
            return Err(HashError::MalformedHash);
        };
        let salt_b64 = parts.next().ok_or(HashError::MalformedHash)?;
        let tag_b64 = parts.next().ok_or(HashError::MalformedHash)?;
        if parts.next().is_some() {
            return Err(HashError::MalformedHash);
        }

        // Caps first: nothing below allocates more than a few hundred bytes.
        let max_p = u64::from(limits.argon2_max_parallelism);
        if !(1..=max_p).contains(&p) {
            return Err(out_of_bounds("argon2 p", p, 1, max_p));
        }
        let max_t = u64::from(limits.argon2_max_time_cost);
        if !(1..=max_t).contains(&t) {
            return Err(out_of_bounds("argon2 t", t, 1, max_t));
        }
        let max_m = u64::from(limits.argon2_max_memory_kib);
        if !(8 * p..=max_m).contains(&m) {
            return Err(out_of_bounds("argon2 m (KiB)", m, 8 * p, max_m));
        }
        let salt =
            b64::decode_bounded(&b64::PHC, salt_b64, MAX_SALT).ok_or(HashError::MalformedHash)?;
        if salt.len() < MIN_SALT {
            return Err(out_of_bounds(
                "argon2 salt length",
                salt.len() as u64,
                MIN_SALT as u64,
                MAX_SALT as u64,
            ));
        }
        let tag =
            b64::decode_bounded(&b64::PHC, tag_b64, MAX_TAG).ok_or(HashError::MalformedHash)?;
        if tag.len() < MIN_TAG {
            return Err(out_of_bounds(
                "argon2 tag length",
                tag.len() as u64,
                MIN_TAG as u64,
                MAX_TAG as u64,
            ));
        }
        Ok(Self {
            algorithm,
            version,
            params: Argon2Params {
                time_cost: to_u32(t),
                memory_kib: to_u32(m),
                parallelism: to_u32(p),
            },
            salt,
            tag,
        })
    }

    /// Recomputes the tag for `password` and compares it in constant time.
    pub(crate) fn matches(&self, password: &[u8], memory: &MemoryPool) -> Result<bool, HashError> {
        let mut out = Zeroizing::new(vec![0u8; self.tag.len()]);
        compute(
            self.algorithm,
            self.version,
            self.params,
            password,
            &self.salt,
            &mut out,
            memory,
        )?;
        Ok(bool::from(out.as_slice().ct_eq(&self.tag)))
    }

    /// `true` unless this is an Argon2id v1.3 hash with exactly the `primary` parameters, a
    /// 32-byte tag and a salt of at least 16 bytes.
    pub(crate) fn needs_rehash(&self, primary: &Argon2Params) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.params != *primary
            || self.tag.len() != TAG_LEN
            || self.salt.len() < SALT_LEN
    }
}

/// Argon2 working memory kept for reuse between calls.
///
/// A fresh 64 MiB buffer costs about 40 ms of page faults and zero-filling on the 2-core
/// machine this was measured on (87 ms vs 47 ms per hash at t=3 m=65536 p=4), so buffers of the
/// primary size are kept, up to `max_cached` of them (one per CPU by default), and reused.
/// Every buffer is zeroized after use, so no password-derived state stays in memory. Buffers of
/// other sizes (legacy hashes) are allocated and freed per call.
pub(crate) struct MemoryPool {
    blocks: usize,
    max_cached: usize,
    free: Mutex<Vec<Vec<Block>>>,
}

impl fmt::Debug for MemoryPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.free.lock().map_or(0, |v| v.len());
        f.debug_struct("MemoryPool")
            .field("blocks", &self.blocks)
            .field("max_cached", &self.max_cached)
            .field("cached", &cached)
            .finish()
    }
}

impl MemoryPool {
    /// A pool for the memory size of `primary`, keeping at most `max_cached` buffers.
    pub(crate) fn new(primary: Argon2Params, max_cached: usize) -> Self {
        let blocks = Params::new(
            primary.memory_kib,
            primary.time_cost,
            primary.parallelism,
            Some(TAG_LEN),
        )
        .map_or(0, |p| p.block_count());
        Self {
            blocks,
            max_cached,
            free: Mutex::new(Vec::new()),
        }
    }

    fn take(&self, blocks: usize) -> Vec<Block> {
        if blocks == self.blocks
            && let Some(buf) = self
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
        {
            return buf;
        }
        vec![Block::default(); blocks]
    }

    fn give_back(&self, mut buf: Vec<Block>) {
        for block in &mut buf {
            block.zeroize();
        }
        if buf.len() == self.blocks {
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            if free.len() < self.max_cached {
                free.push(buf);
            }
        }
    }
}

/// Runs Argon2 into `out`, with working memory from `memory`.
pub(crate) fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Argon2Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &MemoryPool,
) -> Result<(), HashError> {
    let params = Params::new(
        params.memory_kib,
        params.time_cost,
        params.parallelism,
        Some(out.len()),
    )
    .map_err(|e| HashError::Backend(e.to_string()))?;
    let blocks = params.block_count();
    let mut buf = memory.take(blocks);
    let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut buf[..],
    );
    memory.give_back(buf);
    result.map_err(|e| HashError::Backend(e.to_string()))
}

/// Hashes `password` with Argon2id v1.3 and a fresh 16-byte salt into a PHC string.
pub(crate) fn hash(
    params: Argon2Params,
    password: &[u8],
    memory: &MemoryPool,
) -> Result<String, HashError> {
    use base64::Engine as _;
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| HashError::Random)?;
    let mut tag = Zeroizing::new([0u8; TAG_LEN]);
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        &salt,
        tag.as_mut_slice(),
        memory,
    )?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.time_cost,
        params.parallelism,
        b64::PHC.encode(salt),
        b64::PHC.encode(tag.as_slice()),
    ))
}
