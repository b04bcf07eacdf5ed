//! The storage traits. Small on purpose (after tower-sessions): a store implements only
//! what it holds. A SQL store implements all of them; a Redis or in-memory token store
//! implements [`SessionStore`] (and perhaps [`SingleUseTokenStore`] and
//! [`ExpiredDeletion`]) and sits beside a SQL [`UserStore`].
//!
//! Every rule below is checked by the `auth-conformance` crate's suite, which every store
//! of this project passes.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use time::OffsetDateTime;

use crate::client::ClientInfo;
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
/// Rules:
/// - Every timestamp is passed in by the caller (from its [`Clock`](crate::Clock)); a
///   store never asks the database for the time.
/// - Emails are matched on their canonical form ([`normalize_email`](crate::normalize_email)):
///   a stored address that differs from the argument only in the case of ASCII letters is
///   the same address (rows written by other software with mixed case are found), for
///   lookups and for uniqueness.
/// - An update of a user that does not exist is [`StoreErrorKind::NotFound`](crate::StoreErrorKind::NotFound).
/// - When the store also holds sessions and single-use tokens, deleting a user deletes
///   them in the same transaction (and a user deleted by the application's own SQL takes
///   them along through a foreign key where the table allows one): sessions never outlive
///   their user, even if the key is reused.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user (with `new`'s password hash, or `""`). An email already taken, in
    /// any ASCII letter case, is a
    /// [`StoreErrorKind::UniqueViolation`](crate::StoreErrorKind::UniqueViolation); an insert
    /// never overwrites.
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError>;

    /// The user with this canonical email, with the password hash.
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

    /// Whether the user still exists, is active and has exactly `password_hash`, read from
    /// the latest committed state: if a change of that row is in flight, the read waits for
    /// it (a locking read). The service calls it after writing a new session, so a login
    /// that verified credentials changed meanwhile keeps no session.
    async fn credentials_current(
        &self,
        id: &UserId,
        password_hash: &str,
    ) -> Result<bool, StoreError>;

    /// Replaces the password hash. `NotFound` if there is no such user.
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

    /// Marks the email verified or not; marking it verified also sets `joined_at` if it
    /// is empty. `NotFound` if there is no such user.
    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Deletes the user (and, in the same transaction, whatever of theirs this store
    /// holds: sessions, tokens). False if there was no such user.
    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError>;
}

/// Which sessions a credential change ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSessions<'a> {
    /// None.
    None,
    /// Every session of the user.
    All,
    /// Every session but this one (the session making the change).
    AllExcept(&'a SessionId),
}

impl<'a> EndSessions<'a> {
    /// `AllExcept(keep)` if a session is given, else `All`.
    pub fn all_but(keep: Option<&'a SessionId>) -> Self {
        keep.map_or(EndSessions::All, EndSessions::AllExcept)
    }
}

/// A store that holds users and their sessions and single-use tokens in one database, so
/// a credential change and the end of the sessions it invalidates commit together: no
/// crash, cancellation or concurrent login can leave a session that outlives the change.
///
/// The service uses it when one store was given for everything; with separate stores it
/// writes the change first and then ends the sessions, which a concurrent login's
/// [`UserStore::credentials_current`] check still closes.
#[async_trait::async_trait]
pub trait CredentialStore: Send + Sync {
    /// In one transaction: stores the new hash, ends `sessions`, and voids the user's
    /// outstanding password-reset tokens. Returns how many sessions ended. `NotFound` if
    /// there is no such user (nothing changed).
    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// In one transaction: marks the user inactive, ends every session, and voids every
    /// outstanding single-use token. Returns how many sessions ended. `NotFound` if there
    /// is no such user.
    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError>;
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
    /// When it ends unless refreshed (its refresh token's expiry; moved by rotation, never
    /// past `absolute_expires_at`; a store caps it there at creation too).
    pub expires_at: OffsetDateTime,
    /// When it ends at the latest, whatever rotation does.
    pub absolute_expires_at: OffsetDateTime,
    /// Where the login came from.
    pub client: ClientInfo,
    /// The session's extra claims as JSON text (the backend encodes them; stores keep the
    /// text as given), or `None`.
    pub claims: Option<String>,
}

/// A token row to insert: only the digest, never the token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's digest.
    pub digest: TokenDigest,
    /// Its kind.
    pub kind: TokenKind,
    /// When it expires (a store caps the tokens of a session at the session's absolute
    /// end).
    pub expires_at: OffsetDateTime,
}

/// The state of one session, as the hot path and the JWT backend read it.
#[derive(Debug, Clone)]
pub struct SessionStatus {
    /// Its id.
    pub session_id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// Whether it was ended.
    pub revoked: bool,
    /// When it ends unless refreshed.
    pub expires_at: OffsetDateTime,
    /// When it ends at the latest.
    pub absolute_expires_at: OffsetDateTime,
    /// The session's extra claims as stored (JSON text), if any.
    pub claims: Option<String>,
    /// The user, joined in the same round trip. SQL stores must supply it (`authenticate`
    /// is one round trip); a token-only store returns `None` and the service loads it.
    pub user: Option<User>,
}

/// What the `authenticate` hot path reads for an access token: one indexed query joining
/// the token, its session and (for SQL stores) its user. No write.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    /// The stored kind (the caller refuses anything but [`TokenKind::Access`]).
    pub kind: TokenKind,
    /// The token's expiry.
    pub expires_at: OffsetDateTime,
    /// Its session.
    pub session: SessionStatus,
}

/// The grace window's part of a rotation.
#[derive(Debug, Clone, Copy)]
pub struct Grace<'a> {
    /// How long after its rotation the spent token may be replayed (at most 60 s).
    pub window: Duration,
    /// The new pair, sealed by the backend under a key derived from the spent token (a
    /// store never sees it in the clear). Kept with the spent row for the window.
    pub sealed_successor: &'a [u8],
}

/// One refresh-token rotation, for [`SessionStore::rotate_refresh_token`].
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    /// The presented refresh token's digest.
    pub digest: &'a TokenDigest,
    /// The new access and refresh token rows (the refresh row is the successor).
    pub new_tokens: &'a [NewToken],
    /// The session's new expiry (the new refresh token's); the store caps it, and the new
    /// rows' expiries, at the session's absolute end.
    pub refresh_expires_at: OffsetDateTime,
    /// Now, from the caller's clock.
    pub now: OffsetDateTime,
    /// When set, a session whose last login or rotation is older than this is `Expired`.
    pub idle_timeout: Option<Duration>,
    /// When set, keep the sealed successor for the replay of the spent token.
    pub grace: Option<Grace<'a>>,
}

/// The result of [`SessionStore::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token is now spent and the new tokens are in the same session.
    Rotated {
        /// The session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
        /// The session's new expiry (after capping at its absolute end).
        refresh_expires_at: OffsetDateTime,
        /// The user, read in the same transaction (SQL stores), or `None`.
        user: Option<User>,
    },
    /// Within the grace window, the token was the immediate predecessor of the session's
    /// current refresh token: nothing changed, and here is the pair issued for it, sealed.
    Replayed {
        /// The session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
        /// The pair sealed at rotation.
        sealed_successor: Vec<u8>,
        /// The successor refresh token's expiry.
        refresh_expires_at: OffsetDateTime,
        /// The user, read in the same transaction (SQL stores), or `None`.
        user: Option<User>,
    },
    /// No refresh token has this digest (or the digest is of another kind).
    NotFound,
    /// The token's session was already ended (nothing changed).
    SessionRevoked,
    /// The token had been spent before (and is not a grace replay): the store revoked its
    /// whole session in the same transaction.
    Reused {
        /// The session just revoked.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
    /// The session's user is deactivated (stores that hold users): the store revoked the
    /// session in the same transaction.
    UserInactive {
        /// The session just revoked.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
    /// The token's or the session's lifetime is over, or the session was idle too long
    /// (nothing changed).
    Expired,
}

/// One active session, for a "where you're logged in" list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// Its user.
    pub user_id: UserId,
    /// When the login happened.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub created_at: OffsetDateTime,
    /// When it was last refreshed, if ever.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub refreshed_at: Option<OffsetDateTime>,
    /// When it ends unless refreshed.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub expires_at: OffsetDateTime,
    /// When it ends at the latest.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub absolute_expires_at: OffsetDateTime,
    /// The address the login came from, if known.
    pub ip: Option<IpAddr>,
    /// The user agent of the login, if known.
    pub user_agent: Option<String>,
}

/// Persists sessions and their access/refresh token digests.
///
/// Contract (checked by the conformance suite):
/// - Inserts never overwrite: a digest or session id collision is a `UniqueViolation` and
///   nothing of the call is written.
/// - Reading an access token or a session's status is one query with no write.
/// - Rotation is atomic: of concurrent calls with one digest exactly one gets `Rotated`.
///   When a token fails several checks the outcome is the first of: `NotFound` (also for
///   a digest of another kind), `SessionRevoked`, `Reused` or `Replayed` (a spent token,
///   even if also expired), `UserInactive`, `Expired`. Every outcome but `Rotated`,
///   `Reused` and `UserInactive` changes nothing.
/// - Revocation is visible to the next read on any connection; revoking counts only
///   sessions that were active (not expired, not already revoked).
/// - Spent refresh rows of a session that still exists are kept (reuse detection needs
///   them until the session's absolute end; see [`ExpiredDeletion`]).
/// - Every time comes from the caller; the store never reads the database's clock.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session and its first tokens in one transaction. With `max_active`, the
    /// user's oldest active sessions are revoked in the same transaction so that at most
    /// `max_active` remain (this one included). Returns how many were revoked that way.
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError>;

    /// Looks up a token by digest with its session (and user): the `authenticate` hot path.
    /// Returns the row whatever its kind (the caller checks [`AccessTokenRecord::kind`]; the
    /// JWT backend reads a refresh token's session this way before rotating it). Single-use
    /// tokens have no session and are never returned.
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// The status of a session by id (and its user), for backends whose access tokens
    /// name their session (JWT): one indexed read.
    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError>;

    /// Spends a refresh token and inserts the new tokens in its session, in one
    /// transaction; see [`RotateOutcome`] for every answer and their precedence.
    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
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
}

/// Persists single-use tokens: password reset and email verification.
///
/// Contract: a token is found and consumed only with its own kind, before its expiry, and
/// once (of concurrent consumers exactly one gets `Some`); voiding spends every
/// outstanding token of a kind of a user.
#[async_trait::async_trait]
pub trait SingleUseTokenStore: Send + Sync {
    /// Inserts a single-use token for `user_id`. With `void_outstanding`, the user's
    /// unspent tokens of the same kind are spent in the same transaction (a newer reset
    /// request kills the older link).
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The user of an unspent, unexpired token of `kind`, without spending it.
    async fn find_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;

    /// Spends a token of `kind` if it exists, is unspent and unexpired; returns its user.
    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;

    /// Spends every outstanding token of `kind` of `user_id`. Returns how many.
    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// Deletes what can never be used again, in bounded batches.
#[async_trait::async_trait]
pub trait ExpiredDeletion: Send + Sync {
    /// Deletes up to `batch` rows that are dead as of `before` and returns how many went;
    /// call until 0. Dead means: a session past its absolute end, or revoked at or before
    /// `before` (with all its tokens); an access token past its expiry; a single-use token
    /// spent (at or before `before`) or expired; a rate-limit key whose window and lockout
    /// ended by `before` (a store keeps, with each key, when its last window or lockout ends,
    /// since this call gets no policy). Never a refresh-token row of a session that still
    /// exists: a replay of a spent token must stay `Reused` until the session's absolute
    /// end. Sealed grace-window successors older than a minute are erased too (not
    /// counted). How rows are counted (a session with its tokens as one or several) is the
    /// store's choice; the bound on `batch` is not.
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;
}
