//! Argon2 (`$argon2id$`, `$argon2i$`, `$argon2d$` PHC strings; Django's `argon2$` prefix).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use password_hash::phc::{self, Ident, Output, ParamsString, PasswordHash, Salt, Value};

use crate::config::{Argon2Params, StoredHashLimits};
use crate::error::HashError;

/// Salt length of new hashes, in bytes (RFC 9106: 128 bits).
pub(crate) const SALT_LEN: usize = 16;
/// Tag length of new hashes, in bytes (RFC 9106: 256 bits).
pub(crate) const TAG_LEN: usize = 32;
/// Shortest salt accepted (the PHC string format's minimum, [`Salt::MIN_LENGTH`]).
const MIN_SALT: usize = Salt::MIN_LENGTH;
/// Longest salt accepted (the PHC string format's maximum, [`Salt::MAX_LENGTH`]).
const MAX_SALT: usize = Salt::MAX_LENGTH;
/// Shortest tag accepted (RFC 9106 allows 4 bytes; anything under 128 bits is refused).
const MIN_TAG: usize = 16;
/// Longest tag accepted (the PHC string format's maximum, [`Output::MAX_LENGTH`]).
const MAX_TAG: usize = Output::MAX_LENGTH;

/// A parsed, bounds-checked Argon2 PHC string.
///
/// The salt and the tag live in the `phc` crate's fixed-size stack buffers: parsing allocates
/// nothing.
pub(crate) struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Argon2Params,
    salt: Salt,
    tag: Output,
}

fn out_of_bounds(parameter: &'static str, value: u64, min: u64, max: u64) -> HashError {
    HashError::ParametersOutOfBounds {
        parameter,
        value,
        min,
        max,
    }
}

/// A decimal PHC parameter value as a number.
///
/// The PHC grammar (no sign, no leading zero) is checked by `phc`'s [`Value::decimal`], which
/// stops at `u32::MAX`. A well-formed decimal above that (e.g. `m=9999999999`) is reported as
/// `u64::MAX`-capped so the caller refuses it as *out of bounds* rather than malformed; any
/// other spelling is [`HashError::MalformedHash`].
pub(crate) fn phc_decimal(value: &Value<'_>) -> Result<u64, HashError> {
    if let Ok(n) = value.decimal() {
        return Ok(u64::from(n));
    }
    let s = value.as_str();
    let well_formed = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    if !well_formed {
        return Err(HashError::MalformedHash);
    }
    Ok(s.parse::<u64>().unwrap_or(u64::MAX))
}

/// A value already checked against a `u32` cap.
fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The decoded length of the unpadded base64 text `field`, for error reports.
pub(crate) fn b64_len(field: &str) -> u64 {
    (field.len() as u64 * 3) / 4
}

/// Maps a `phc` parse error to ours. The salt and tag length limits are caps like the others,
/// so they are reported as [`HashError::ParametersOutOfBounds`] with the offending length.
fn phc_error(error: phc::Error, encoded: &str) -> HashError {
    // The salt is the first field after the identifier without `=` (the version and the
    // parameters have one; "B64" text never does); the tag follows it.
    let mut fields = encoded.split('$').skip(2).skip_while(|f| f.contains('='));
    let salt = fields.next().unwrap_or("");
    let tag = fields.next().unwrap_or("");
    let tag_out_of_bounds = || {
        out_of_bounds(
            "argon2 tag length",
            b64_len(tag),
            MIN_TAG as u64,
            MAX_TAG as u64,
        )
    };
    match error {
        phc::Error::SaltTooShort | phc::Error::SaltTooLong => out_of_bounds(
            "argon2 salt length",
            b64_len(salt),
            MIN_SALT as u64,
            MAX_SALT as u64,
        ),
        phc::Error::OutputSize { .. } => tag_out_of_bounds(),
        // `Output::decode` decodes into a 64-byte buffer: a longer tag fails as base64.
        phc::Error::Base64(_) if b64_len(tag) > MAX_TAG as u64 => tag_out_of_bounds(),
        _ => HashError::MalformedHash,
    }
}

impl Argon2Hash {
    /// Parses `encoded` (which starts with `$argon2`) with the `phc` crate's
    /// [`PasswordHash`] parser (stack buffers only: no allocation), then checks every parameter
    /// against `limits`. Nothing is allocated for hashing before all checks pass.
    pub(crate) fn parse(encoded: &str, limits: &StoredHashLimits) -> Result<Self, HashError> {
        let phc = PasswordHash::new(encoded).map_err(|e| phc_error(e, encoded))?;
        let algorithm = match phc.algorithm.as_str() {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return Err(HashError::MalformedHash),
        };
        let version = match phc.version {
            Some(0x13) => Version::V0x13,
            // Strings without `v=` predate version 1.3 (0x13).
            Some(0x10) | None => Version::V0x10,
            Some(_) => {
                return Err(HashError::UnsupportedAlgorithm {
                    algorithm: "argon2 (unknown version)",
                });
            }
        };
        // Exactly m, t and p, once each (`ParamsString` itself does not refuse duplicates;
        // `keyid` and `data` are not supported).
        let (mut m, mut t, mut p) = (None, None, None);
        for (name, value) in phc.params.iter() {
            let slot = match name.as_str() {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                _ => return Err(HashError::MalformedHash),
            };
            if slot.replace(phc_decimal(&value)?).is_some() {
                return Err(HashError::MalformedHash);
            }
        }
        let (Some(m), Some(t), Some(p)) = (m, t, p) else {
            return Err(HashError::MalformedHash);
        };
        let (Some(salt), Some(tag)) = (phc.salt, phc.hash) else {
            return Err(HashError::MalformedHash);
        };

        // The caps. Nothing so far allocated: `phc` parses into fixed-size stack buffers.
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
        // `phc` already holds the salt to 8..=48 bytes and the tag to 10..=64 bytes.
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
        Ok(bool::from(out.as_slice().ct_eq(self.tag.as_bytes())))
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

    /// `true` if verifying against this hash takes less wall-clock time than one primary
    /// verification, whatever the variant (argon2i/argon2d/v1.0 cost what argon2id costs at
    /// the same parameters).
    ///
    /// The cost is the work `m * t` divided by the lanes that run at once: `min(p, threads)`,
    /// where `threads` is the CPU count with the `parallel` feature and 1 without it. So
    /// `m=65536,t=3,p=1` is not cheaper than `m=65536,t=3,p=4` on a multi-core machine (it
    /// runs its lanes one after another), and `m=19456,t=2,p=1` is.
    pub(crate) fn is_cheaper_than(&self, primary: &Argon2Params) -> bool {
        // `available_parallelism` reads cgroup files on Linux: once per process is enough.
        static THREADS: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
        let threads = *THREADS.get_or_init(|| {
            if cfg!(feature = "parallel") {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as u128
            } else {
                1
            }
        });
        let work = |p: &Argon2Params| u128::from(p.memory_kib) * u128::from(p.time_cost);
        let lanes = |p: &Argon2Params| u128::from(p.parallelism).clamp(1, threads);
        // work(stored) / lanes(stored) < work(primary) / lanes(primary), without division.
        work(&self.params) * lanes(primary) < work(primary) * lanes(&self.params)
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

/// Hashes `password` with Argon2id v1.3 and a fresh 16-byte salt into a PHC string, formatted
/// by the `phc` crate's [`PasswordHash`] (`$argon2id$v=19$m=..,t=..,p=..$salt$tag`).
pub(crate) fn hash(
    params: Argon2Params,
    password: &[u8],
    memory: &MemoryPool,
) -> Result<String, HashError> {
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
    let backend = |e: phc::Error| HashError::Backend(e.to_string());
    let mut phc_params = ParamsString::new();
    phc_params
        .add_decimal("m", params.memory_kib)
        .map_err(backend)?;
    phc_params
        .add_decimal("t", params.time_cost)
        .map_err(backend)?;
    phc_params
        .add_decimal("p", params.parallelism)
        .map_err(backend)?;
    let encoded = PasswordHash {
        algorithm: ARGON2ID,
        version: Some(0x13),
        params: phc_params,
        salt: Some(Salt::new(&salt).map_err(backend)?),
        hash: Some(Output::new(tag.as_slice()).map_err(backend)?),
    };
    Ok(encoded.to_string())
}

/// The PHC identifier of new hashes.
const ARGON2ID: Ident = Ident::new_unwrap("argon2id");

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

    fn parse(s: &str) -> Result<Argon2Hash, HashError> {
        Argon2Hash::parse(s, &StoredHashLimits::default())
    }

    fn out_of_bounds_parameter(r: Result<Argon2Hash, HashError>) -> &'static str {
        match r {
            Err(HashError::ParametersOutOfBounds { parameter, .. }) => parameter,
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn new_hashes_are_formatted_by_phc_and_parse_back() {
        let memory = MemoryPool::new(Argon2Params::DEFAULT, 0);
        let params = Argon2Params {
            time_cost: 1,
            memory_kib: 8,
            parallelism: 1,
        };
        let encoded = hash(params, b"password", &memory).unwrap();
        assert!(
            encoded.starts_with("$argon2id$v=19$m=8,t=1,p=1$"),
            "{encoded}"
        );
        let parsed = parse(&encoded).unwrap();
        assert_eq!(parsed.params, params);
        assert_eq!((parsed.salt.len(), parsed.tag.len()), (SALT_LEN, TAG_LEN));
        assert!(parsed.matches(b"password", &memory).unwrap());
        assert!(!parsed.needs_rehash(&params));
        // Byte-for-byte what phc prints for the parsed string.
        assert_eq!(PasswordHash::new(&encoded).unwrap().to_string(), encoded);
    }

    #[test]
    fn salt_and_tag_lengths_are_caps_too() {
        // 49-byte salt, 65-byte tag: over the PHC format's limits.
        let salt49 = "A".repeat(66);
        let r = parse(&format!("$argon2id$v=19$m=8,t=1,p=1${salt49}${TAG}"));
        assert_eq!(out_of_bounds_parameter(r), "argon2 salt length");
        let tag65 = "A".repeat(87);
        let r = parse(&format!("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ${tag65}"));
        assert_eq!(out_of_bounds_parameter(r), "argon2 tag length");
        // 7-byte salt, 12-byte tag: under.
        let r = parse(&format!("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbA${TAG}"));
        assert_eq!(out_of_bounds_parameter(r), "argon2 salt length");
        let r = parse("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAA");
        assert_eq!(out_of_bounds_parameter(r), "argon2 tag length");
        // The limits themselves are accepted: 48-byte salt, 64-byte tag.
        let salt48 = "A".repeat(64);
        let tag64 = format!("{}AA", "A".repeat(84));
        assert!(parse(&format!("$argon2id$v=19$m=8,t=1,p=1${salt48}${tag64}")).is_ok());
    }

    #[test]
    fn decimals_follow_the_phc_grammar_and_huge_values_are_out_of_bounds() {
        for params in [
            "m=08,t=1,p=1",
            "m=8,t=01,p=1",
            "m=8,t=1,p=1,keyid=AAAA",
            "m=8,t=1",
        ] {
            let r = parse(&format!("$argon2id$v=19${params}$c29tZXNhbHQ${TAG}"));
            assert!(matches!(r, Err(HashError::MalformedHash)), "{params}");
        }
        let r = parse(&format!(
            "$argon2id$v=19$m=99999999999999999999999,t=1,p=1$c29tZXNhbHQ${TAG}"
        ));
        assert_eq!(out_of_bounds_parameter(r), "argon2 m (KiB)");
    }

    #[test]
    fn cost_comparison_counts_parallel_lanes() {
        let primary = Argon2Params::DEFAULT;
        let cheaper = |m, t, p| {
            let s = format!("$argon2id$v=19$m={m},t={t},p={p}$c29tZXNhbHQ${TAG}");
            parse(&s).unwrap().is_cheaper_than(&primary)
        };
        assert!(!cheaper(65536, 3, 4));
        assert!(cheaper(19456, 2, 1));
        assert!(cheaper(8, 1, 1));
        assert!(cheaper(65536, 2, 4));
        assert!(!cheaper(262144, 3, 4));
        // One lane at a time is never faster than four (at most as fast on one CPU).
        assert!(!cheaper(65536, 3, 1));
        // argon2i at the primary's parameters costs what argon2id does.
        let i = format!("$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ${TAG}");
        assert!(!parse(&i).unwrap().is_cheaper_than(&primary));
    }
}
