//! Database-backed opaque access tokens.

use std::fmt;
use std::sync::Arc;

use auth_core::{
    AccessClaims, AccessTokenRecord, Clock, ExpiredDeletion, NewToken, OffsetDateTime, SessionId,
    SessionPolicy, SessionStore, TokenError, TokenKind, UserId,
};

use crate::engine::{AccessFormat, Engine, MintRequest, Minted, decode_claims};
use crate::generate::{generate_token, parse};

/// Access tokens that are random strings stored as digests: one indexed read per check.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpaqueAccess;

async fn lookup(store: &dyn SessionStore, token: &str) -> Result<AccessTokenRecord, TokenError> {
    let digest = parse(token, TokenKind::Access)?;
    match store.find_access_token(&digest).await? {
        Some(record) if record.kind == TokenKind::Access => Ok(record),
        _ => Err(TokenError::Invalid),
    }
}

impl AccessFormat for OpaqueAccess {
    const NEEDS_SUBJECT: bool = false;

    fn mint(&self, request: &MintRequest<'_>) -> Result<Minted, TokenError> {
        let (token, digest) = generate_token(TokenKind::Access)?;
        Ok(Minted {
            token,
            row: Some(NewToken {
                digest,
                kind: TokenKind::Access,
                expires_at: request.expires_at,
            }),
            expires_at: request.expires_at,
        })
    }

    async fn verify(
        &self,
        store: &dyn SessionStore,
        now: OffsetDateTime,
        token: &str,
    ) -> Result<AccessClaims, TokenError> {
        let record = lookup(store, token).await?;
        let session = record.session;
        if session.revoked {
            return Err(TokenError::Revoked);
        }
        let expires_at = record.expires_at.min(session.absolute_expires_at);
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(AccessClaims {
            user_id: session.user_id,
            session_id: session.session_id,
            expires_at,
            extra_claims: decode_claims(session.claims.as_deref())?,
            user: session.user,
        })
    }

    async fn identify(
        &self,
        store: &dyn SessionStore,
        _now: OffsetDateTime,
        token: &str,
    ) -> Result<(UserId, SessionId), TokenError> {
        let record = lookup(store, token).await?;
        Ok((record.session.user_id, record.session.session_id))
    }
}

/// Database-backed opaque tokens on any [`SessionStore`]: the default backend.
///
/// - `issue` writes a session and its first pair in one call.
/// - `verify_access` is one indexed read (the token, its session and, on SQL stores, its
///   user), and never writes.
/// - `refresh` is the store's atomic rotation: reuse detection, idle timeout, absolute
///   lifetime and, when the policy sets `refresh_grace`, the grace window.
/// - Revocation is a row update, seen by the next request on every instance.
///
/// Cloning is cheap (shared handles); a wrapper can hold one and delegate to it.
#[derive(Clone)]
pub struct OpaqueTokenBackend {
    engine: Engine<OpaqueAccess>,
}

impl fmt::Debug for OpaqueTokenBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueTokenBackend")
            .field("policy", &self.engine.policy)
            .field("cleanup", &self.engine.deletion.is_some())
            .finish_non_exhaustive()
    }
}

impl OpaqueTokenBackend {
    /// A backend storing sessions and token digests in `store`, taking "now" from `clock`,
    /// with the lifetimes and limits of `policy` (normally
    /// [`AuthConfig::session_policy`](auth_core::AuthConfig::session_policy)).
    ///
    /// Without [`with_expired_deletion`](Self::with_expired_deletion),
    /// `cleanup_expired` deletes nothing and answers 0.
    pub fn new(store: Arc<dyn SessionStore>, clock: Arc<dyn Clock>, policy: SessionPolicy) -> Self {
        Self {
            engine: Engine::new(store, clock, policy, OpaqueAccess),
        }
    }

    /// Purges dead rows through `deletion` in `cleanup_expired` (usually the same store).
    pub fn with_expired_deletion(mut self, deletion: Arc<dyn ExpiredDeletion>) -> Self {
        self.engine.deletion = Some(deletion);
        self
    }

    /// The lifetimes and limits in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.engine.policy
    }
}

crate::engine::delegate_token_backend!(OpaqueTokenBackend);
