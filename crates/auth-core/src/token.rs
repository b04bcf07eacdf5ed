use std::fmt;

use time::OffsetDateTime;

use crate::client::ClientInfo;
use crate::error::TokenError;
use crate::ids::{SessionId, UserId};
use crate::store::SessionInfo;
use crate::user::User;

/// Longest token string any backend accepts; longer input is refused as
/// [`TokenError::Invalid`] before it is hashed or sent to a database.
pub const MAX_TOKEN_LENGTH: usize = 4096;

/// What a token is for. A token of one kind never passes as another: the kind is both in
/// the token's text prefix and in its stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// Short-lived, presented on every request.
    Access,
    /// Long-lived, exchanged once for a new pair.
    Refresh,
    /// Single use: sets a new password.
    PasswordReset,
    /// Single use: marks the email verified.
    EmailVerification,
}

impl TokenKind {
    /// The stable small integer stores keep in the `kind` column.
    pub const fn code(self) -> i16 {
        match self {
            TokenKind::Access => 1,
            TokenKind::Refresh => 2,
            TokenKind::PasswordReset => 3,
            TokenKind::EmailVerification => 4,
        }
    }

    /// The kind for a stored code.
    pub const fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(TokenKind::Access),
            2 => Some(TokenKind::Refresh),
            3 => Some(TokenKind::PasswordReset),
            4 => Some(TokenKind::EmailVerification),
            _ => None,
        }
    }

    /// The text prefix of tokens of this kind, so a leaked token is recognizable (secret
    /// scanners) and a token of the wrong kind is refused without a lookup.
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::Access => "tat_",
            TokenKind::Refresh => "trt_",
            TokenKind::PasswordReset => "tpr_",
            TokenKind::EmailVerification => "tev_",
        }
    }
}

/// The 32-byte digest under which a token is stored. The raw token is never stored, so a
/// database leak does not leak usable tokens.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenDigest {
    /// Shows a short prefix only: enough to correlate log lines, useless to an attacker.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenDigest({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// An access token and a refresh token. `Debug` redacts both.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Presented on every request; valid for the access-token lifetime.
    pub access_token: String,
    /// Exchanged for a new pair by `refresh`; valid once, for the refresh-token lifetime.
    pub refresh_token: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// Claims an application adds to the tokens of a session (the reference's
/// `create_tokens(user_id, **extra)`): roles, tenant, scopes. The JWT backend puts them in
/// the access token; the opaque backend keeps them with the session. Names the backends
/// set themselves (`sub`, `sid`, `exp`, `iat`, `nbf`, `iss`, `aud`, `jti`, `typ`) are
/// refused as [`TokenError::Invalid`] at issue.
pub type ExtraClaims = serde_json::Map<String, serde_json::Value>;

/// The claim names a backend sets itself, never taken from [`ExtraClaims`].
pub const RESERVED_CLAIMS: [&str; 9] = [
    "sub", "sid", "exp", "iat", "nbf", "iss", "aud", "jti", "typ",
];

/// What a new session is issued for.
#[derive(Debug, Clone, Copy)]
pub struct IssueRequest<'a> {
    /// The user who logged in.
    pub user_id: UserId,
    /// The client the login came from (recorded with the session and listed).
    pub client: &'a ClientInfo,
    /// Claims to carry with every token of the session.
    pub extra_claims: &'a ExtraClaims,
}

/// A pair just issued, with the session it belongs to.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The tokens to hand to the client.
    pub pair: TokenPair,
    /// The session (token family) they belong to.
    pub session_id: SessionId,
    /// The user they were issued to.
    pub user_id: UserId,
    /// When the access token expires.
    pub access_expires_at: OffsetDateTime,
    /// When the refresh token expires (never after the session's absolute end).
    pub refresh_expires_at: OffsetDateTime,
}

/// What a valid access token says.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    /// Its user.
    pub user_id: UserId,
    /// Its session.
    pub session_id: SessionId,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// The claims the session was issued with.
    pub extra_claims: ExtraClaims,
    /// The user as stored now, when the backend's store read it in the same round trip
    /// (SQL stores do); `None` means the service loads it.
    pub user: Option<User>,
}

/// A successfully authenticated access token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The token's user, as stored now (an inactive user never gets here).
    pub user: User,
    /// The token's session.
    pub session_id: SessionId,
    /// The claims the session was issued with.
    pub extra_claims: ExtraClaims,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // returned once per refresh; the common variant is the big one
pub enum RefreshOutcome {
    /// The token was spent and a new pair issued in the same session; or, inside the grace
    /// window, the token was the immediate predecessor of the current one and the pair
    /// already issued for it is returned again (`replayed`).
    Rotated {
        /// The pair.
        tokens: IssuedTokens,
        /// The user as stored now, when the store read it in the same transaction;
        /// `None` means the service loads it (and ends the session if the user is gone or
        /// inactive).
        user: Option<User>,
        /// True when this is the grace window's replay of an already issued pair.
        replayed: bool,
    },
    /// The token had already been spent: the whole session was revoked. The caller reports
    /// `refresh_token_reused` and answers [`TokenError::Revoked`].
    ReuseDetected {
        /// The user whose session was revoked.
        user_id: UserId,
        /// The revoked session.
        session_id: SessionId,
    },
}

/// What logging out with an access token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedOut {
    /// The token's user.
    pub user_id: UserId,
    /// The token's session.
    pub session_id: SessionId,
    /// False if the session had already ended (a second logout): nothing changed.
    pub ended_now: bool,
}

/// How tokens are issued, checked, rotated and revoked: database-backed opaque tokens, JWT,
/// or an application's own. Implement it against this crate alone; the service does
/// everything about sessions through it (listing, revoking, cleanup), never around it.
#[async_trait::async_trait]
pub trait TokenBackend: Send + Sync {
    /// Starts a new session and issues its first pair.
    async fn issue(&self, request: IssueRequest<'_>) -> Result<IssuedTokens, TokenError>;

    /// Checks an access token: called on every request, it must not write. Errors:
    /// [`TokenError::Invalid`] (unknown, malformed, tampered, wrong type),
    /// [`TokenError::Expired`], [`TokenError::Revoked`].
    async fn verify_access(&self, access_token: &str) -> Result<AccessClaims, TokenError>;

    /// Spends a refresh token and issues a new pair in the same session, atomically: of
    /// concurrent calls with one token, exactly one rotates (the others are reuse, or the
    /// grace window's replay of the same pair).
    async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, TokenError>;

    /// Ends the session of an access token (even an expired one): logout.
    async fn logout(&self, access_token: &str) -> Result<LoggedOut, TokenError>;

    /// Ends one session of a user; false if it was not an active session of that user.
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, TokenError>;

    /// Ends every session of `user_id`, except `keep` if given. Returns how many ended.
    async fn revoke_all(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<u64, TokenError>;

    /// The user's active sessions, newest first.
    async fn sessions(&self, user_id: &UserId) -> Result<Vec<SessionInfo>, TokenError>;

    /// Deletes up to `batch` rows that can never be used again (keeping what reuse
    /// detection needs); returns how many went. Call until 0.
    async fn cleanup_expired(&self, batch: u32) -> Result<u64, TokenError>;
}
