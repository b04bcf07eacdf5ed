use std::fmt;

use time::OffsetDateTime;

use crate::error::AuthError;
use crate::ids::{SessionId, UserId};
use crate::user::User;

/// Longest token string any backend accepts; longer input is refused as
/// [`AuthError::TokenInvalid`] before it is hashed or sent to a database.
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
    /// When the refresh token expires.
    pub refresh_expires_at: OffsetDateTime,
}

/// A successfully authenticated access token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The token's user, as stored now (an inactive user never gets here).
    pub user: User,
    /// The token's session.
    pub session_id: SessionId,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The token was spent and a new pair issued in the same session.
    Rotated(IssuedTokens),
    /// The token had already been spent: the whole session was revoked. The caller reports
    /// `refresh_token_reused` and answers [`AuthError::TokenRevoked`].
    ReuseDetected {
        /// The user whose session was revoked.
        user_id: UserId,
        /// The revoked session.
        session_id: SessionId,
    },
}

/// How tokens are issued, checked, rotated and revoked: database-backed opaque tokens, JWT,
/// or an application's own. Implement it against this crate alone.
#[async_trait::async_trait]
pub trait TokenBackend: Send + Sync {
    /// Starts a new session for `user_id` and issues its first pair.
    async fn issue(&self, user_id: &UserId) -> Result<IssuedTokens, AuthError>;

    /// Checks an access token and returns its user. Called on every request: it must not
    /// write. Errors: [`AuthError::TokenInvalid`], [`AuthError::TokenExpired`],
    /// [`AuthError::TokenRevoked`], [`AuthError::UserInactive`].
    async fn authenticate(&self, access_token: &str) -> Result<Authenticated, AuthError>;

    /// Spends a refresh token and issues a new pair in the same session, atomically: of
    /// concurrent calls with one token, exactly one gets [`RefreshOutcome::Rotated`].
    async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, AuthError>;

    /// Ends the session of an access token (even an expired one). Returns its user and
    /// session.
    async fn revoke(&self, access_token: &str) -> Result<(UserId, SessionId), AuthError>;

    /// Ends one session of a user; false if it was not an active session of that user.
    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, AuthError>;

    /// Ends every session of `user_id`, except `keep` if given. Returns how many ended.
    async fn revoke_all(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<u64, AuthError>;
}
