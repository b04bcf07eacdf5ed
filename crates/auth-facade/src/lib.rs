//! tortoise-auth for Rust: login, tokens and password handling that are secure by default.
//!
//! [`AuthService`] is the one entry point. Give it an [`AuthConfig`] and a store, then:
//!
//! | call | what it does |
//! | --- | --- |
//! | [`create_user`](AuthService::create_user) / [`register`](AuthService::register) | inserts a user (with a password checked by the policy) |
//! | [`set_password`](AuthService::set_password) | hashes (Argon2id) off the async executor, stores, ends the user's sessions in the same transaction, emits `password_changed` |
//! | [`login`](AuthService::login) | rate-limited; checks the password, starts a session, returns [`AuthResult`] (user, access token, refresh token) |
//! | [`authenticate`](AuthService::authenticate) | checks an access token on every request: one indexed read, no write |
//! | [`refresh`](AuthService::refresh) | spends a refresh token for a new [`TokenPair`]; a spent token presented again revokes the session |
//! | [`logout`](AuthService::logout) / [`logout_all`](AuthService::logout_all) | ends one session / every session of a user |
//! | [`request_reset`](AuthService::request_reset) / [`confirm_reset`](AuthService::confirm_reset) | password reset through your [`Notifier`] |
//! | [`check_password`](AuthService::check_password) | verifies, and upgrades a legacy (bcrypt, PBKDF2) or outdated hash |
//!
//! Behind these, sub-services with one job each: [`AuthService::users`],
//! [`AuthService::passwords`], [`AuthService::sessions`] (also listing and revoking
//! sessions, cleanup), [`AuthService::recovery`] (also email verification).
//!
//! Errors are one enum, [`AuthError`]: branch on its client-facing variants; log the
//! internal ones ([`AuthError::is_internal`]) and answer "service unavailable".
//!
//! # Features
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `sqlite` | yes | [`SqliteStore`], the embedded store (`sqlite::memory:` or a file) |
//! | `jwt` | no | JWT access tokens: [`AuthServiceBuilder::jwt`] with a `JwtConfig` |
//! | `serde` | no | `Serialize`/`Deserialize` on [`User`], [`UserId`], [`SessionId`], [`SessionInfo`] |
//!
//! # Example
//! ```
//! use auth_facade::{AuthConfig, AuthService, IdKind, SqliteStore, UserTable};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::connect("sqlite::memory:", UserTable::new("users", IdKind::Integer)).await?;
//! store.migrate().await?;
//! let secret = std::env::var("AUTH_SIGNING_SECRET")
//!     .unwrap_or_else(|_| "docs-only-4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c".into());
//! # let config = AuthConfig::builder().signing_secret(secret).argon2(1, 8192, 1).build()?;
//! # /*
//! let config = AuthConfig::new(secret)?;
//! # */
//! let auth = AuthService::new(config, store)?;
//!
//! let user = auth.create_user("alice@example.com").await?;
//! auth.set_password(&user.id, "SecurePass123!").await?;
//! let result = auth.login("alice@example.com", "SecurePass123!").await?;
//! assert_eq!(auth.authenticate(&result.access_token).await?.email, "alice@example.com");
//! let pair = auth.refresh(&result.refresh_token).await?;
//! auth.logout(&pair.access_token).await?;
//! # Ok(())
//! # }
//! ```

mod core;
mod notifier;
mod passwords;
mod recovery;
mod service;
mod service_tokens;
mod sessions;
mod users;

pub use notifier::ConsoleNotifier;
pub use passwords::Passwords;
pub use recovery::Recovery;
pub use service::{AuthService, AuthServiceBuilder, Store, hasher_config};
pub use service_tokens::{SERVICE_TOKENS_ENV, ServicePrincipal, ServiceTokens};
pub use sessions::{AuthResult, CLEANUP_BATCH, LoginOptions, Sessions};
pub use users::Users;

pub use auth_core::{
    AuthConfig, AuthConfigBuilder, AuthError, Authenticated, ClientInfo, Clock, ConfigError,
    ExtraClaims, IdKind, InputError, InputField, IssuedTokens, ManualClock, MemoryRateLimiter,
    Notification, NotificationKind, Notifier, PasswordRejection, PolicyFailure, RateLimitPolicy,
    RateLimiter, SessionId, SessionInfo, StoreError, StoreErrorKind, SystemClock, TokenBackend,
    TokenError, TokenPair, User, UserId, UserStore,
};
pub use auth_events::{
    AuthEvent, EventBus, EventListener, EventRecorder, LoginFailureReason, RateLimitScope,
    SessionEndReason,
};
pub use auth_hash::{
    HashingPool, MultiHasher, PasswordHasher, PasswordPolicy, PasswordValidator, ValidationContext,
    ValidationFailure, Verification,
};
#[cfg(feature = "sqlite")]
pub use auth_store_sqlx::{SqliteStore, UserTable};
pub use auth_tokens::OpaqueTokenBackend;
#[cfg(feature = "jwt")]
pub use auth_tokens::{JwtAlgorithm, JwtBackend, JwtConfig, RevocationMode};

/// The crates underneath, for what the re-exports above do not cover.
pub mod crates {
    pub use auth_core as core;
    pub use auth_events as events;
    pub use auth_hash as hash;
    #[cfg(feature = "sqlite")]
    pub use auth_store_sqlx as store_sqlx;
    pub use auth_tokens as tokens;
}
