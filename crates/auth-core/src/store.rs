use std::fmt;

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::ids::{SessionId, UserId};
use crate::token::{TokenDigest, TokenKind};
use crate::user::{NewUser, User};

/// A user with the stored password hash, read only where a password is checked.
/// `Debug` redacts the hash.
#[derive(Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The stored hash: a PHC string, a legacy format, `""` (never set) or `!...` (unusable).
    pub password_hash: String,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

/// Reads and writes the library's columns of the application's user table, and nothing
/// else: the application's own columns are never read, dropped or overwritten.
///
/// Every timestamp is passed in by the caller (from its [`Clock`](crate::Clock)).
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user with an empty (unusable) password. A duplicate email is a
    /// [`StoreErrorKind::UniqueViolation`](crate::StoreErrorKind::UniqueViolation); an
    /// insert never overwrites.
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError>;

    /// The user with this (normalized) email, with the password hash.
    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError>;

    /// The user with this id, with the password hash.
    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError>;

    /// The user with this id.
    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Replaces the password hash. [`StoreErrorKind::NotFound`](crate::StoreErrorKind::NotFound)
    /// if there is no such user.
    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Replaces the password hash only if it is still `expected` (compare-and-set, for
    /// transparent re-hashing that must lose to a concurrent password change). True if it
    /// was replaced.
    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Sets `last_login`. `NotFound` if there is no such user.
    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Activates or deactivates a user. `NotFound` if there is no such user.
    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Marks the email verified or not. `NotFound` if there is no such user.
    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// A session to insert with its first tokens.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Random id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// When it ends at the latest (its refresh token's expiry; moved by rotation).
    pub expires_at: OffsetDateTime,
}

/// A token row to insert: only the digest, never the token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's digest.
    pub digest: TokenDigest,
    /// Its kind.
    pub kind: TokenKind,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// What the hot path reads for an access token: one indexed query joining the token, its
/// session and its user.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    /// The stored kind (the caller refuses anything but [`TokenKind::Access`]).
    pub kind: TokenKind,
    /// The token's expiry.
    pub expires_at: OffsetDateTime,
    /// Its session.
    pub session_id: SessionId,
    /// Whether the session was revoked.
    pub session_revoked: bool,
    /// The session's user.
    pub user: User,
}

/// The result of [`TokenStore::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token is now spent and the new tokens are in the same session.
    Rotated {
        /// The session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
    /// No refresh token has this digest.
    NotFound,
    /// The token's lifetime is over (nothing was changed).
    Expired,
    /// The token's session was already revoked (nothing was changed).
    SessionRevoked,
    /// The token had been spent before: the store revoked its whole session in the same
    /// transaction.
    Reused {
        /// The session just revoked.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
}

/// One active session, for a "where you're logged in" list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When the login happened.
    pub created_at: OffsetDateTime,
    /// When it was last refreshed, if ever.
    pub refreshed_at: Option<OffsetDateTime>,
    /// When it ends unless refreshed.
    pub expires_at: OffsetDateTime,
}

/// Persists sessions and token digests.
///
/// Contract (checked by the conformance suite): inserts never overwrite (a digest or session
/// id collision is a `UniqueViolation`); rotation is atomic; reading an access token is one
/// query with no write; revocation is visible to the next read on any connection.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Inserts a session and its first tokens in one transaction.
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
    ) -> Result<(), StoreError>;

    /// Looks up a token by digest with its session and user: the `authenticate` hot path.
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Spends the refresh token `digest` and inserts `new_tokens` into its session, in one
    /// transaction, moving the session's expiry to `session_expires_at`. Of concurrent calls
    /// with one digest exactly one gets [`RotateOutcome::Rotated`]; a spent token revokes its
    /// session ([`RotateOutcome::Reused`]). When a token fails several checks the outcome is
    /// the first of: `NotFound` (also for a digest of another kind), `SessionRevoked`,
    /// `Reused` (a spent token, even if also expired), `Expired`.
    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        new_tokens: &[NewToken],
        session_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError>;

    /// Revokes one session of `user_id` if it is active. True if it was.
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Revokes every active session of `user_id` except `keep`. Returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// The user's sessions that are neither revoked nor expired at `now`, newest first.
    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError>;

    /// Deletes up to `batch` rows that can never authenticate again as of `before`: sessions
    /// that expired or were revoked (with their tokens), expired tokens of live sessions
    /// (every rotation leaves one spent pair behind), and spent or expired single-use
    /// tokens. Returns how many rows went; call until 0.
    async fn purge_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;

    /// Inserts a single-use token (password reset, email verification) for `user_id`.
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Spends a single-use token of `kind` if it exists, is unspent and unexpired; returns
    /// its user. Of concurrent calls exactly one gets `Some`.
    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;
}
