//! Password hashing for tortoise-auth: Argon2id for new hashes, verification (and transparent
//! migration) of bcrypt and PBKDF2-SHA256 hashes, a bounded hashing pool for async code, and
//! the reference's password validators.
//!
//! This crate depends on nothing else of tortoise-auth: a service that only hashes passwords
//! adds only `auth-hash`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use auth_hash::{
//!     HashErrorKind, HasherConfig, HashingPool, MultiHasher, PasswordPolicy, ValidationContext,
//!     Verification,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Check a new password against the policy (every failure is reported at once).
//! let policy = PasswordPolicy::default();
//! let ctx = ValidationContext::with_email("ada@example.com");
//! policy.validate("correct horse battery staple", &ctx)?;
//! assert!(policy.validate("12345678", &ctx).is_err());
//!
//! // Argon2id t=3 m=65536 p=4 by default; hash and verify off the async executor.
//! let pool = HashingPool::new(Arc::new(MultiHasher::new(HasherConfig::default())?), 0);
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let stored = pool.hash("correct horse battery staple").await?;
//!     assert!(stored.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
//!
//!     // A login: legacy hashes verify too, and say when they should be replaced.
//!     let legacy = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";
//!     match pool.verify("correctbatteryhorsestapler", legacy).await {
//!         Ok(Verification::Match { needs_rehash }) => {
//!             assert!(needs_rehash); // bcrypt: store pool.hash(password) instead
//!         }
//!         Ok(Verification::Mismatch) => unreachable!("wrong password"),
//!         // Bad input or an unverifiable stored hash: answer "invalid credentials".
//!         Err(e) if e.kind() != HashErrorKind::Internal => unreachable!("{e}"),
//!         Err(e) => return Err(e), // internal (including a busy pool): a server error
//!     }
//!
//!     // Unknown user: spend the same time as a real verification (and fail the same way
//!     // when the pool is saturated: `HashError::Busy`).
//!     pool.try_dummy_verify("whatever was typed").await?;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Formats
//!
//! | stored value | verify | new hashes | `needs_rehash` on match |
//! | --- | --- | --- | --- |
//! | `$argon2id$v=19$m=..,t=..,p=..$salt$tag` (PHC) | yes | **yes** (16-byte salt, 32-byte tag) | if t/m/p differ from the config, tag ≠ 32 bytes or salt < 16 bytes |
//! | `$argon2i$`, `$argon2d$`, no `v=` (version 0x10), Django's `argon2$argon2..` | yes | no | always |
//! | `$2a$`, `$2b$`, `$2y$` bcrypt (also Django's `bcrypt$$2b$..`) | yes | no | always |
//! | `$2x$` bcrypt (CVE-2011-2483) | refused: [`HashError::UnsupportedAlgorithm`] | no | – |
//! | `$pbkdf2-sha256$i=N[,l=L]$salt$hash` (PHC) and passlib's `$pbkdf2-sha256$N$salt$hash` | yes | no | always |
//! | `pbkdf2_sha256$N$salt$hash` (Django and the Python reference) | yes | no | always |
//! | `""` or `!...` (unusable password) | never matches | – | – |
//! | anything else (md5crypt, `sha1$`, scrypt, `bcrypt_sha256$`, ...) | refused | – | – |
//!
//! In `pbkdf2_sha256$N$salt$hash`, Django uses the salt text as the salt, while the Python
//! reference base64-encodes 16 random bytes (24 characters ending in `==`). A salt containing
//! `+`, `/` or `=` is decoded; one that is not valid base64 is used as text; an alphanumeric
//! salt that is also valid base64 is tried both ways (text first). The digest must be the full
//! 32 bytes (PBKDF2 output is a prefix of longer output, so a truncated digest is refused).
//!
//! PHC strings are parsed and written by the `phc` crate of RustCrypto's `password-hash`
//! ([`password_hash::phc::PasswordHash`]): Argon2 strings whole, and the parameters and digest
//! of `$pbkdf2-sha256$` strings (its salt with the same canonical "B64": `phc`'s `Salt` type
//! needs at least 8 bytes and the RFC 7914 vectors use 4). bcrypt's modular-crypt strings,
//! passlib's `$pbkdf2-sha256$N$` and Django's `pbkdf2_sha256$` are not PHC strings and have
//! their own small parsers. Base64 in stored values is decoded canonically (no stray padding,
//! no non-zero trailing bits), so one hash has exactly one spelling. All digest comparisons
//! are constant-time (`subtle`; bcrypt's own comparison also uses `subtle`).
//!
//! # Caps on stored hashes
//!
//! A stored hash is parsed and its parameters checked against [`StoredHashLimits`] before any
//! memory is allocated or any hashing is done: values longer than 1024 bytes are refused
//! first ([`HashError::MalformedHash`]); `phc` parses into fixed-size stack buffers (no heap
//! allocation); then every parameter is checked, and only then does hashing allocate anything.
//! Defaults: Argon2 `m` ≤ 256 MiB, `t` ≤ 16, `p` ≤ 16 (salt 8..=48 bytes, tag 16..=64 bytes:
//! the PHC format's own limits); bcrypt cost 4..=16; PBKDF2 iterations 1..=5,000,000 (digest
//! 16..=64 bytes). A tampered row asking for 4 GiB of Argon2 memory or 10^9 PBKDF2 iterations
//! is refused with [`HashError::ParametersOutOfBounds`], as are salts and tags of the wrong
//! length and numbers too large for the PHC grammar (`m=9999999999`). The configured primary
//! parameters must lie within the caps.
//!
//! # Passwords
//!
//! * **One input rule.** [`check_password_input`] is the rule `hash` and `verify` apply
//!   first, before any normalization or hashing, and the one the facade applies too: empty
//!   ([`HashError::EmptyPassword`]), more than [`HasherConfig::max_password_length`]
//!   characters (Unicode scalar values; default 4096, like the reference;
//!   [`HashError::PasswordTooLong`]), or containing NUL ([`HashError::PasswordContainsNul`]:
//!   C implementations of legacy schemes stop at the first NUL, so `"pass\0word"` would be
//!   `"pass"` there). Nothing is trimmed, case-folded or truncated.
//! * **Unicode normalization.** Passwords are NFC-normalized before hashing *and* verifying, so
//!   the same password typed as NFC (`ma\u{f1}ana`, most keyboards) or NFD (`man\u{303}ana`,
//!   some macOS inputs) logs in either way (RFC 8265 OpaqueString uses NFC; NFKC is not used, so
//!   compatibility characters such as `ﬁ` stay distinct from `fi`). Hashes made by other
//!   implementations from non-normalized input (the Python reference does not normalize) still
//!   verify: when the input is not already NFC, `verify` tries the NFC form first and then the
//!   input exactly as received, and a match through the raw form reports
//!   `needs_rehash: true`. Such a legacy hash only matches the exact spelling that was hashed.
//!   ASCII input is never changed (and costs no allocation).
//! * **bcrypt's 72-byte limit.** bcrypt silently ignores input after 72 bytes. A password of
//!   more than 72 UTF-8 bytes is never checked against a bcrypt hash (so it cannot match a hash
//!   of its 72-byte prefix, the Okta 2024 bug class): `verify` returns
//!   [`HashError::PasswordTooLongForLegacyHash`] (kind [`HashErrorKind::UnverifiableHash`]);
//!   the user must reset the password. Exactly 72 bytes is fine. bcrypt hashes are never
//!   created. crypt_blowfish's `$2a$` "countermeasure" hashes of 8-bit input do not verify.
//!
//! # Timing
//!
//! [`PasswordHasher::dummy_verify`] runs one Argon2id with the primary parameters (two when the
//! input is not NFC, as `verify` would) and discards the result: call it for unknown users.
//! `verify` itself does the same dummy work before returning for unusable (`!`) or unparseable
//! stored values, so those paths cost what a real primary verification costs. Input-rule
//! errors return immediately (they depend on the input only).
//!
//! Verifying against a hash cheaper than the primary (bcrypt, PBKDF2, Argon2 with weaker
//! parameters: [`PasswordHasher::is_cheaper_than_primary`]) would answer faster and show which
//! accounts still have a legacy hash (checklist H12). [`HashingPool::verify`] pads it: it runs
//! `dummy_verify` right after `verify`, in the same blocking task, whatever the outcome, so
//! every verification through the pool costs at least one primary-strength verification
//! (bcrypt cost 12, slower than the primary on its own, then costs both). Code calling a
//! [`MultiHasher`] directly must do the same (the trait documentation shows how).
//!
//! # The pool
//!
//! [`HashingPool`] runs the hasher in [`tokio::task::spawn_blocking`] behind a
//! [`tokio::sync::Semaphore`] of `max_concurrency` permits (0 = CPU count), so Argon2 never
//! runs on the async executor and at most `max_concurrency × m` of Argon2 memory is in use under
//! a login storm. The wait for a permit is bounded ([`HashingPool::with_queue_timeout`],
//! default 5 s): past it the call fails with [`HashError::Busy`] (an internal error: answer
//! 503, never "wrong password") instead of queueing without end (checklist H14). The password
//! is copied into a [`zeroize::Zeroizing`] buffer for the task; a panicking hasher yields
//! [`HashError::TaskFailed`], never a match. Only tokio's `rt`, `sync` and `time` features are
//! used; the timer is armed only when every permit is taken, and needs a runtime with its time
//! driver (`#[tokio::main]`, `#[tokio::test]`, `Builder::enable_all`).
//!
//! [`MultiHasher`] reuses Argon2 working memory of the primary size between calls (a fresh
//! 64 MiB buffer costs ~40 ms of page faults on the 2-core machine measured: 87 ms vs 52 ms per
//! hash). It keeps at most one buffer per CPU and zeroizes every buffer after use, so the
//! resident memory is `min(peak concurrency, CPU count) × m` after a burst, on top of the
//! `max_concurrency × m` bound while hashing.
//!
//! # Features
//!
//! | feature | default | effect |
//! | --- | --- | --- |
//! | `parallel` | yes | Argon2 lanes (`p` > 1) run on rayon threads (`argon2/parallel`): ~52 ms instead of ~92 ms per hash at the default parameters on 2 cores |
//!
//! # Debug builds of applications
//!
//! Cargo applies only the root workspace's profiles, so an application's debug build compiles
//! `argon2` without optimizations: about 1 s per hash at the default parameters instead of
//! ~55 ms. Copy [`DEV_PROFILE_ADVICE`] into the application's root `Cargo.toml`:
//!
//! ```toml
//! [profile.dev.package.argon2]
//! opt-level = 3
//! [profile.dev.package.blake2]
//! opt-level = 3
//! [profile.dev.package.bcrypt]
//! opt-level = 3
//! [profile.dev.package.blowfish]
//! opt-level = 3
//! [profile.dev.package.pbkdf2]
//! opt-level = 3
//! [profile.dev.package.sha2]
//! opt-level = 3
//! [profile.dev.package.blake3]
//! opt-level = 3
//! [profile.dev.package.libsqlite3-sys]
//! opt-level = 3
//! ```
//!
//! The first [`MultiHasher::new`] of a process times a tiny Argon2id (m=512 KiB, t=1, p=1; best
//! of up to 5 runs, ~0.3 ms when optimized, ~11 ms when not) and logs one `tracing` warning
//! naming these lines when every run takes longer than 2.5 ms ([`argon2_is_unoptimized`]).
//! `cfg!(debug_assertions)` would describe this crate's build, not `argon2`'s: it would keep
//! warning an application that followed the advice.
//!
//! # Password validation
//!
//! [`validation`] has the [`PasswordValidator`] trait and the reference's four validators
//! (minimum length 8 in characters, common passwords, entirely numeric, similarity to the
//! email), combined by [`PasswordPolicy`], which reports every failure with a machine-readable
//! code. The bundled common-password list (40,101 distinct entries) is the union of:
//! - Django's `common-passwords.txt.gz` (Django 5.2.19, BSD-3-Clause, © Django Software
//!   Foundation and individual contributors; "20,000 common passwords created by Royce
//!   Williams", 19,640 distinct once lowercased), shipped decompressed in
//!   `data/common-passwords.txt` with its license and checksums in
//!   `data/LICENSE-common-passwords.txt`; the list the Python reference ships;
//! - zxcvbn 4.5.0's `passwords` frequency list (MIT, © 2016 Daniel Wolf; the 30,000 most
//!   common passwords of Mark Burnett's 10-million corpus), in
//!   `data/common-passwords-zxcvbn.txt` with `data/LICENSE-common-passwords-zxcvbn.txt`.
//!
//! So a password the reference accepts may be refused here as common; never the reverse.
//!
//! # Errors
//!
//! [`HashError`] is `#[non_exhaustive]`; branch on [`HashError::kind`] /
//! [`HashError::is_internal`]: `InvalidPassword` (empty, too long, NUL), `UnverifiableHash`
//! (malformed, unsupported, over the caps, bcrypt over 72 bytes) or `Internal` (configuration,
//! task, [`HashError::Busy`], RNG, backend). No error message or `Debug` output contains a
//! password or a hash.

mod b64;
mod build_check;
mod config;
mod error;
mod hasher;
mod input;
mod normalize;
mod pool;
mod schemes;
pub mod validation;

pub use build_check::{DEV_PROFILE_ADVICE, argon2_is_unoptimized};
pub use config::{Argon2Params, HasherConfig, MAX_PASSWORD_LENGTH_CEILING, StoredHashLimits};
pub use error::{HashError, HashErrorKind};
pub use hasher::{MultiHasher, PasswordHasher, Verification, is_usable};
pub use input::check_password_input;
pub use normalize::normalize_password;
pub use pool::HashingPool;
pub use schemes::bcrypt::BCRYPT_MAX_PASSWORD_BYTES;
pub use schemes::{Scheme, identify};
pub use validation::{
    CommonPasswordValidator, MinimumLengthValidator, NumericPasswordValidator, PasswordPolicy,
    PasswordPolicyBuilder, PasswordValidationError, PasswordValidator,
    UserAttributeSimilarityValidator, ValidationContext, ValidationFailure,
};
