//! Tokens for tortoise-auth: generation, digests, and the database-backed opaque backend.
//!
//! # Token format
//! `<prefix><43 characters>`: a kind prefix (`tat_` access, `trt_` refresh, `tpr_` password
//! reset, `tev_` email verification) and 256 bits from the operating system's generator,
//! base64url without padding. The prefix makes a leaked token recognizable by secret
//! scanners and lets the wrong kind be refused before any lookup.
//!
//! # What is stored
//! Only a [`TokenDigest`]: BLAKE3 in key-derivation mode over the whole token text. A
//! 256-bit random token needs no slow hash (there is nothing to brute-force), and a
//! database leak yields no usable token.
//!
//! # The opaque backend
//! [`OpaqueTokenBackend`] implements [`TokenBackend`] on any [`TokenStore`]: `authenticate`
//! is one indexed read; `refresh` is the store's atomic rotation with reuse detection;
//! revocation is a row update, so it is seen by the next request on every instance.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AccessTokenRecord, AuthError, Authenticated, Clock, IssuedTokens, MAX_TOKEN_LENGTH, NewSession,
    NewToken, OffsetDateTime, RefreshOutcome, RotateOutcome, SessionId, TokenBackend, TokenDigest,
    TokenKind, TokenPair, TokenStore, UserId,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Length of the random part in base64url.
const ENCODED_LEN: usize = 43;
/// BLAKE3 key-derivation context: separates token digests from any other BLAKE3 use.
const DIGEST_CONTEXT: &str = "tortoise-auth-rs 2026-11-27 opaque token digest v1";

/// Fills `buf` from the operating system's generator.
pub fn os_random(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|e| AuthError::Internal {
        context: "operating system random generator",
        source: Some(Box::new(e)),
    })
}

/// A new random token of `kind` and its digest. The token goes to the client; only the
/// digest is stored.
pub fn generate_token(kind: TokenKind) -> Result<(String, TokenDigest), AuthError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    os_random(&mut bytes)?;
    let mut token = String::with_capacity(kind.prefix().len() + ENCODED_LEN);
    token.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(bytes, &mut token);
    let digest = digest(&token);
    Ok((token, digest))
}

/// A new random session id.
pub fn generate_session_id() -> Result<SessionId, AuthError> {
    let mut bytes = [0u8; 16];
    os_random(&mut bytes)?;
    Ok(SessionId::from_bytes(bytes))
}

/// The stored digest of a token.
pub fn digest(token: &str) -> TokenDigest {
    let mut hasher = blake3::Hasher::new_derive_key(DIGEST_CONTEXT);
    hasher.update(token.as_bytes());
    TokenDigest(*hasher.finalize().as_bytes())
}

/// Checks that `token` has the shape of a token of `kind` and returns its digest; anything
/// else (wrong prefix, wrong length, characters outside base64url, over-long input) is
/// [`AuthError::TokenInvalid`], decided without touching a database.
pub fn parse(token: &str, kind: TokenKind) -> Result<TokenDigest, AuthError> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(AuthError::TokenInvalid);
    }
    let body = token
        .strip_prefix(kind.prefix())
        .ok_or(AuthError::TokenInvalid)?;
    if body.len() != ENCODED_LEN {
        return Err(AuthError::TokenInvalid);
    }
    let mut raw = [0u8; TOKEN_BYTES + 2];
    match URL_SAFE_NO_PAD.decode_slice(body, &mut raw) {
        Ok(TOKEN_BYTES) => Ok(digest(token)),
        _ => Err(AuthError::TokenInvalid),
    }
}

/// Database-backed opaque tokens on any [`TokenStore`].
#[derive(Clone)]
pub struct OpaqueTokenBackend {
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
}

impl std::fmt::Debug for OpaqueTokenBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueTokenBackend")
            .field("access_lifetime", &self.access_lifetime)
            .field("refresh_lifetime", &self.refresh_lifetime)
            .finish_non_exhaustive()
    }
}

impl OpaqueTokenBackend {
    /// A backend storing digests in `store`, taking "now" from `clock`.
    pub fn new(
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
        access_lifetime: Duration,
        refresh_lifetime: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            access_lifetime,
            refresh_lifetime,
        }
    }

    /// A fresh pair plus the rows to store for it.
    fn new_pair(&self, now: OffsetDateTime) -> Result<(TokenPair, [NewToken; 2]), AuthError> {
        let (access_token, access_digest) = generate_token(TokenKind::Access)?;
        let (refresh_token, refresh_digest) = generate_token(TokenKind::Refresh)?;
        let rows = [
            NewToken {
                digest: access_digest,
                kind: TokenKind::Access,
                expires_at: now + self.access_lifetime,
            },
            NewToken {
                digest: refresh_digest,
                kind: TokenKind::Refresh,
                expires_at: now + self.refresh_lifetime,
            },
        ];
        Ok((
            TokenPair {
                access_token,
                refresh_token,
            },
            rows,
        ))
    }

    async fn lookup_access(&self, access_token: &str) -> Result<AccessTokenRecord, AuthError> {
        let digest = parse(access_token, TokenKind::Access)?;
        match self.store.find_access_token(&digest).await? {
            Some(record) if record.kind == TokenKind::Access => Ok(record),
            _ => Err(AuthError::TokenInvalid),
        }
    }
}

#[async_trait::async_trait]
impl TokenBackend for OpaqueTokenBackend {
    async fn issue(&self, user_id: &UserId) -> Result<IssuedTokens, AuthError> {
        let now = self.clock.now();
        let (pair, rows) = self.new_pair(now)?;
        let session = NewSession {
            id: generate_session_id()?,
            user_id: *user_id,
            created_at: now,
            expires_at: rows[1].expires_at,
        };
        self.store.create_session(&session, &rows).await?;
        Ok(IssuedTokens {
            pair,
            session_id: session.id,
            user_id: *user_id,
            access_expires_at: rows[0].expires_at,
            refresh_expires_at: rows[1].expires_at,
        })
    }

    async fn authenticate(&self, access_token: &str) -> Result<Authenticated, AuthError> {
        let record = self.lookup_access(access_token).await?;
        if record.session_revoked {
            return Err(AuthError::TokenRevoked);
        }
        if record.expires_at <= self.clock.now() {
            return Err(AuthError::TokenExpired);
        }
        if !record.user.is_active {
            return Err(AuthError::UserInactive);
        }
        Ok(Authenticated {
            user: record.user,
            session_id: record.session_id,
        })
    }

    async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, AuthError> {
        let digest = parse(refresh_token, TokenKind::Refresh)?;
        let now = self.clock.now();
        let (pair, rows) = self.new_pair(now)?;
        let outcome = self
            .store
            .rotate_refresh_token(&digest, &rows, rows[1].expires_at, now)
            .await?;
        match outcome {
            RotateOutcome::Rotated {
                session_id,
                user_id,
            } => Ok(RefreshOutcome::Rotated(IssuedTokens {
                pair,
                session_id,
                user_id,
                access_expires_at: rows[0].expires_at,
                refresh_expires_at: rows[1].expires_at,
            })),
            RotateOutcome::Reused {
                session_id,
                user_id,
            } => Ok(RefreshOutcome::ReuseDetected {
                user_id,
                session_id,
            }),
            RotateOutcome::NotFound => Err(AuthError::TokenInvalid),
            RotateOutcome::Expired => Err(AuthError::TokenExpired),
            RotateOutcome::SessionRevoked => Err(AuthError::TokenRevoked),
        }
    }

    async fn revoke(&self, access_token: &str) -> Result<(UserId, SessionId), AuthError> {
        let record = self.lookup_access(access_token).await?;
        self.store
            .revoke_session(&record.user.id, &record.session_id, self.clock.now())
            .await?;
        Ok((record.user.id, record.session_id))
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, AuthError> {
        Ok(self
            .store
            .revoke_session(user_id, session_id, self.clock.now())
            .await?)
    }

    async fn revoke_all(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<u64, AuthError> {
        Ok(self
            .store
            .revoke_user_sessions(user_id, keep, self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_parse_only_as_their_kind() {
        let (a, da) = generate_token(TokenKind::Access).unwrap();
        let (b, _) = generate_token(TokenKind::Access).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("tat_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(parse(&a, TokenKind::Access).unwrap(), da);
        assert!(matches!(
            parse(&a, TokenKind::Refresh),
            Err(AuthError::TokenInvalid)
        ));
        let (r, _) = generate_token(TokenKind::Refresh).unwrap();
        assert!(matches!(
            parse(&r, TokenKind::Access),
            Err(AuthError::TokenInvalid)
        ));
        // Re-prefixing a refresh token as an access token changes its digest.
        let forged = r.replacen("trt_", "tat_", 1);
        assert_ne!(parse(&forged, TokenKind::Access).unwrap(), digest(&r));
    }

    #[test]
    fn malformed_and_oversized_tokens_are_invalid_without_panicking() {
        let long = format!("tat_{}", "A".repeat(1 << 20));
        let cases = [
            "",
            "tat_",
            "tat_short",
            "tat_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "tat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\0",
            "tat_ÄAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            long.as_str(),
        ];
        for case in cases {
            assert!(
                matches!(parse(case, TokenKind::Access), Err(AuthError::TokenInvalid)),
                "{:?}",
                &case[..case.len().min(20)]
            );
        }
    }

    #[test]
    fn digest_is_deterministic_and_not_the_token() {
        let (t, d) = generate_token(TokenKind::Refresh).unwrap();
        assert_eq!(digest(&t), d);
        assert_ne!(&d.0[..], &t.as_bytes()[..32]);
        assert!(!format!("{d:?}").contains(&t));
    }
}
