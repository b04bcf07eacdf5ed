//! The small, stable core of tortoise-auth: what store and backend authors depend on alone.
//!
//! This crate holds no I/O. It defines
//!
//! - the domain types: [`UserId`], [`User`], [`SessionId`], [`TokenKind`], [`TokenDigest`],
//!   [`TokenPair`];
//! - the traits the rest of the library is built from: [`UserStore`] and [`TokenStore`]
//!   (persistence), [`TokenBackend`] (how tokens are issued and checked), [`RateLimiter`]
//!   and [`Clock`] (time, injectable so tests never sleep);
//! - the configuration, [`AuthConfig`], validated when it is built;
//! - the errors: [`AuthError`] (what callers branch on), [`StoreError`] with a portable
//!   [`StoreErrorKind`], [`ConfigError`] and [`InputError`].
//!
//! An application normally uses the `auth-facade` crate, which re-exports what it needs from
//! here. A custom store or token backend depends on this crate only, and a store proves it
//! keeps the contract with the conformance suite in the `conformance` module (feature `conformance`),
//! the same suite every store of this project runs.

mod clock;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod ids;
mod rate_limit;
mod store;
mod token;
mod user;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AuthConfig, AuthConfigBuilder, ConfigError, MIN_SIGNING_SECRET_BYTES, SigningSecret,
};
pub use error::{
    AuthError, BoxError, InputError, InputField, PasswordRejection, PolicyFailure, StoreError,
    StoreErrorKind,
};
pub use ids::{IdKind, SessionId, UserId};
pub use rate_limit::{RateLimitDecision, RateLimiter};
pub use store::{
    AccessTokenRecord, NewSession, NewToken, RotateOutcome, SessionInfo, TokenStore,
    UserCredentials, UserStore,
};
pub use token::{
    Authenticated, IssuedTokens, MAX_TOKEN_LENGTH, RefreshOutcome, TokenBackend, TokenDigest,
    TokenKind, TokenPair,
};
pub use user::{NewUser, User, normalize_email};

/// Re-exported so implementors use the same `async_trait` as the traits.
pub use async_trait::async_trait;
/// Re-exported so implementors use the same time types as the traits.
pub use time::OffsetDateTime;
