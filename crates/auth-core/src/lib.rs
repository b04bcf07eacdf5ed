//! The small, stable core of tortoise-auth: what store and backend authors depend on alone.
//!
//! This crate holds no I/O. It defines
//!
//! - the domain types: [`UserId`], [`User`], [`SessionId`], [`TokenKind`], [`TokenDigest`],
//!   [`TokenPair`], [`ClientInfo`];
//! - the traits the rest of the library is built from, small so that a store implements
//!   only what it holds:
//!   - persistence: [`UserStore`], [`SessionStore`], [`SingleUseTokenStore`],
//!     [`ExpiredDeletion`], and [`CredentialStore`] for a store that holds users and
//!     sessions in one database;
//!   - [`TokenBackend`]: how tokens are issued, checked, rotated and revoked (opaque, JWT,
//!     or your own), with its own error type [`TokenError`];
//!   - [`RateLimiter`] (atomic count-and-decide; [`MemoryRateLimiter`] for one instance),
//!     [`Notifier`] (delivers reset and verification tokens), [`Clock`] (injectable, so tests
//!     never sleep);
//! - the configuration, [`AuthConfig`], validated when it is built;
//! - the errors: [`AuthError`] (what callers branch on), [`TokenError`], [`StoreError`]
//!   with a portable [`StoreErrorKind`], [`ConfigError`] and [`InputError`].
//!
//! An application normally uses the `auth-facade` crate, which re-exports what it needs from
//! here. A custom store or token backend depends on this crate only, and proves it keeps
//! the contract with the `auth-conformance` crate's suite, the same suite every store of
//! this project runs.

mod client;
mod clock;
mod config;
mod error;
mod ids;
mod notify;
mod rate_limit;
mod store;
mod token;
mod user;

pub use client::{ClientInfo, MAX_USER_AGENT_LENGTH};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AuthConfig, AuthConfigBuilder, ConfigError, MAX_REFRESH_GRACE, MIN_SIGNING_SECRET_BYTES,
    SessionPolicy, SigningSecret,
};
pub use error::{
    AuthError, BoxError, InputError, InputField, PasswordRejection, PolicyFailure, StoreError,
    StoreErrorKind, TokenError,
};
pub use ids::{IdKind, SessionId, UserId};
pub use notify::{Notification, NotificationKind, Notifier};
pub use rate_limit::{
    MemoryRateLimiter, RateLimitDecision, RateLimitPolicy, RateLimitWindow, RateLimiter,
};
pub use store::{
    AccessTokenRecord, CredentialStore, EndSessions, ExpiredDeletion, Grace, NewSession, NewToken,
    RotateOutcome, Rotation, SessionInfo, SessionStatus, SessionStore, SingleUseTokenStore,
    UserCredentials, UserStore,
};
pub use token::{
    AccessClaims, Authenticated, ExtraClaims, IssueRequest, IssuedTokens, LoggedOut,
    MAX_TOKEN_LENGTH, RESERVED_CLAIMS, RefreshOutcome, TokenBackend, TokenDigest, TokenKind,
    TokenPair,
};
pub use user::{MAX_EMAIL_LENGTH, NewUser, User, normalize_email};

/// Re-exported so implementors use the same `async_trait` as the traits.
pub use async_trait::async_trait;
/// Re-exported so implementors and applications use the same JSON types as [`ExtraClaims`].
pub use serde_json;
/// Re-exported so implementors use the same time types as the traits.
pub use time::OffsetDateTime;
