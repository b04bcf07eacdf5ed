//! Tokens for tortoise-auth: generation, digests, and the two token backends.
//!
//! | item | what it is |
//! | --- | --- |
//! | [`generate_token`], [`generate_token_with`] | a new token of a [`TokenKind`] and its digest |
//! | [`parse`], [`digest`] | shape check (before any lookup) and the stored digest |
//! | [`OsRng`] | the operating system's generator as a `rand_core` 0.10 generator |
//! | [`OpaqueTokenBackend`] | database-backed opaque access and refresh tokens (the default) |
//! | `JwtBackend`, `JwtConfig` (feature `jwt`) | JWT access tokens, opaque rotating refresh tokens |
//!
//! | feature | default | adds |
//! | --- | --- | --- |
//! | `jwt` | off | `JwtBackend` on the `jsonwebtoken` crate with pure-Rust (RustCrypto) signatures: HS256/384/512, RS256, EdDSA |
//!
//! # Token format
//! `<prefix><43 characters>`: a kind prefix (`tat_` access, `trt_` refresh, `tpr_` password
//! reset, `tev_` email verification) and 256 bits from a cryptographically secure
//! generator, base64url without padding. The prefix makes a leaked token recognizable by
//! secret scanners and lets a token of the wrong kind be refused before any lookup; the
//! generator is a parameter ([`generate_token_with`]) so a test can replace it.
//!
//! # What is stored
//! Only a [`TokenDigest`]: BLAKE3 in key-derivation mode over the whole token text. A
//! 256-bit random token needs no slow hash (there is nothing to brute-force), and a
//! database leak yields no usable token.
//!
//! # Sessions, rotation, reuse and grace
//! Both backends share one implementation of sessions: a login starts a session (token
//! family) with an absolute end (`max_session_lifetime`) that rotation never extends, an
//! optional idle timeout, and a per-user cap. `refresh` spends the presented refresh token
//! and issues a new pair atomically (of concurrent calls exactly one wins); presenting a
//! spent token again revokes the whole session. With a grace window (`refresh_grace`,
//! at most 60 s), the immediate predecessor of the current refresh token may be replayed
//! within the window and gets the pair already issued for it, which the store keeps only
//! encrypted (XChaCha20-Poly1305) under a key derived from that predecessor token.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::{AuthConfig, SystemClock, SessionStore};
//! use auth_tokens::OpaqueTokenBackend;
//!
//! fn backend(store: Arc<dyn SessionStore>, config: &AuthConfig) -> OpaqueTokenBackend {
//!     OpaqueTokenBackend::new(store, Arc::new(SystemClock), config.session_policy())
//! }
//! ```
//!
//! The guide is `docs/tokens.md` in the repository: lifetimes, the JWT trade-offs and
//! revocation modes, and how to write a custom backend against `auth-core` alone.

mod engine;
mod generate;
#[cfg(feature = "jwt")]
mod jwt;
mod opaque;
mod seal;

pub use auth_core::{TokenDigest, TokenKind};
pub use generate::{
    OsRng, TOKEN_BODY_LENGTH, TOKEN_BYTES, digest, fill_random, generate_session_id,
    generate_session_id_with, generate_token, generate_token_with, parse,
};
#[cfg(feature = "jwt")]
pub use jwt::{
    DEFAULT_JWT_TYP, JwtAlgorithm, JwtBackend, JwtConfig, JwtConfigBuilder, MAX_JWT_LEEWAY,
    MIN_RSA_BITS, RevocationMode,
};
pub use opaque::OpaqueTokenBackend;
/// Re-exported so callers name the same generator traits as [`generate_token_with`].
pub use rand_core;
