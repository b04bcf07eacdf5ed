//! The session and refresh machinery both backends share: sessions, lifetimes, rotation
//! with reuse detection, the grace window, revocation, listing and cleanup. A backend only
//! says how its access tokens are minted and checked ([`AccessFormat`]).

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AccessClaims, Clock, ExpiredDeletion, ExtraClaims, Grace, IssueRequest, IssuedTokens,
    LoggedOut, MAX_REFRESH_GRACE, NewSession, NewToken, OffsetDateTime, RESERVED_CLAIMS,
    RefreshOutcome, RotateOutcome, Rotation, SessionId, SessionInfo, SessionPolicy, SessionStore,
    TokenError, TokenKind, TokenPair, UserId,
};

use crate::generate::{OsRng, generate_session_id, generate_token, parse};
use crate::seal;

/// Who an access token is minted for. Only the formats that carry it in the token (JWT)
/// need it at rotation time; the engine then reads it before rotating.
#[cfg_attr(not(feature = "jwt"), allow(dead_code))] // read by the JWT format only
pub(crate) struct Subject<'a> {
    pub(crate) user_id: UserId,
    pub(crate) session_id: SessionId,
    pub(crate) extra_claims: &'a ExtraClaims,
}

/// What [`AccessFormat::mint`] is asked for.
#[cfg_attr(not(feature = "jwt"), allow(dead_code))] // `now`, `subject`: JWT format only
pub(crate) struct MintRequest<'a> {
    /// Now, from the backend's clock.
    pub(crate) now: OffsetDateTime,
    /// The latest expiry allowed (access lifetime, capped at the session's absolute end
    /// when known).
    pub(crate) expires_at: OffsetDateTime,
    /// Present when known, always when [`AccessFormat::NEEDS_SUBJECT`].
    pub(crate) subject: Option<Subject<'a>>,
}

/// A minted access token.
pub(crate) struct Minted {
    /// The token text for the client.
    pub(crate) token: String,
    /// The row to store with it (opaque tokens), or none (self-contained tokens).
    pub(crate) row: Option<NewToken>,
    /// Its actual expiry (a JWT's is whole seconds).
    pub(crate) expires_at: OffsetDateTime,
}

/// How a backend's access tokens are minted and checked.
pub(crate) trait AccessFormat: Send + Sync + 'static {
    /// Whether [`mint`](AccessFormat::mint) needs the session's user, id and claims. When
    /// true, `refresh` reads the presented refresh token's session (one indexed read)
    /// before rotating.
    const NEEDS_SUBJECT: bool;

    /// A new access token.
    fn mint(&self, request: &MintRequest<'_>) -> Result<Minted, TokenError>;

    /// Checks an access token (no write).
    fn verify(
        &self,
        store: &dyn SessionStore,
        now: OffsetDateTime,
        token: &str,
    ) -> impl Future<Output = Result<AccessClaims, TokenError>> + Send;

    /// The user and session of an authentic access token, expired or not (for logout).
    fn identify(
        &self,
        store: &dyn SessionStore,
        now: OffsetDateTime,
        token: &str,
    ) -> impl Future<Output = Result<(UserId, SessionId), TokenError>> + Send;
}

/// Sessions on a [`SessionStore`], with access tokens of format `A`.
pub(crate) struct Engine<A> {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) deletion: Option<Arc<dyn ExpiredDeletion>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: SessionPolicy,
    pub(crate) access: A,
}

impl<A: Clone> Clone for Engine<A> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            deletion: self.deletion.clone(),
            clock: Arc::clone(&self.clock),
            policy: self.policy,
            access: self.access.clone(),
        }
    }
}

/// Refuses extra claims that use a name the backends set themselves.
pub(crate) fn check_extra_claims(claims: &ExtraClaims) -> Result<(), TokenError> {
    if claims.keys().any(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(TokenError::Invalid);
    }
    Ok(())
}

/// The session's stored claims (JSON object text) as a map; none is an empty map.
pub(crate) fn decode_claims(stored: Option<&str>) -> Result<ExtraClaims, TokenError> {
    match stored {
        None => Ok(ExtraClaims::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| TokenError::internal("stored session claims are not a JSON object", e)),
    }
}

impl<A: AccessFormat> Engine<A> {
    pub(crate) fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        mut policy: SessionPolicy,
        access: A,
    ) -> Self {
        // `AuthConfig` refuses a longer window; a hand-made policy is held to it too.
        policy.refresh_grace = policy.refresh_grace.min(MAX_REFRESH_GRACE);
        Self {
            store,
            deletion: None,
            clock,
            policy,
            access,
        }
    }

    pub(crate) async fn issue(
        &self,
        request: IssueRequest<'_>,
    ) -> Result<IssuedTokens, TokenError> {
        check_extra_claims(request.extra_claims)?;
        let claims = if request.extra_claims.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(request.extra_claims)
                    .map_err(|e| TokenError::internal("encoding extra claims", e))?,
            )
        };
        let now = self.clock.now();
        let absolute = now + self.policy.max_session_lifetime;
        let refresh_expires_at = (now + self.policy.refresh_token_lifetime).min(absolute);
        let session_id = generate_session_id()?;
        let access = self.access.mint(&MintRequest {
            now,
            expires_at: (now + self.policy.access_token_lifetime).min(absolute),
            subject: Some(Subject {
                user_id: request.user_id,
                session_id,
                extra_claims: request.extra_claims,
            }),
        })?;
        let (refresh_token, refresh_digest) = generate_token(TokenKind::Refresh)?;
        let refresh_row = NewToken {
            digest: refresh_digest,
            kind: TokenKind::Refresh,
            expires_at: refresh_expires_at,
        };
        let rows: Vec<NewToken> = access.row.into_iter().chain([refresh_row]).collect();
        let session = NewSession {
            id: session_id,
            user_id: request.user_id,
            created_at: now,
            expires_at: refresh_expires_at,
            absolute_expires_at: absolute,
            client: request.client.clone(),
            claims,
        };
        self.store
            .create_session(&session, &rows, self.policy.max_sessions_per_user)
            .await?;
        Ok(IssuedTokens {
            pair: TokenPair {
                access_token: access.token,
                refresh_token,
            },
            session_id,
            user_id: request.user_id,
            access_expires_at: access.expires_at,
            refresh_expires_at,
        })
    }

    pub(crate) async fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.access
            .verify(self.store.as_ref(), self.clock.now(), token)
            .await
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<RefreshOutcome, TokenError> {
        let digest = parse(refresh_token, TokenKind::Refresh)?;
        let now = self.clock.now();
        let mut access_expires_at = now + self.policy.access_token_lifetime;
        let refresh_expires_at = now + self.policy.refresh_token_lifetime;

        // A format that names the session in the token reads it first; the rotation below
        // still decides everything (the digest's session never changes).
        let session = if A::NEEDS_SUBJECT {
            let record = self
                .store
                .find_access_token(&digest)
                .await?
                .filter(|r| r.kind == TokenKind::Refresh)
                .ok_or(TokenError::Invalid)?;
            access_expires_at = access_expires_at.min(record.session.absolute_expires_at);
            let claims = decode_claims(record.session.claims.as_deref())?;
            Some((record.session.user_id, record.session.session_id, claims))
        } else {
            None
        };
        let access = self.access.mint(&MintRequest {
            now,
            expires_at: access_expires_at,
            subject: session
                .as_ref()
                .map(|(user_id, session_id, claims)| Subject {
                    user_id: *user_id,
                    session_id: *session_id,
                    extra_claims: claims,
                }),
        })?;
        let (new_refresh, new_refresh_digest) = generate_token(TokenKind::Refresh)?;
        let rows: Vec<NewToken> = access
            .row
            .into_iter()
            .chain([NewToken {
                digest: new_refresh_digest,
                kind: TokenKind::Refresh,
                expires_at: refresh_expires_at,
            }])
            .collect();
        let pair = TokenPair {
            access_token: access.token,
            refresh_token: new_refresh,
        };
        // The store keeps the pair only for a replay within the window, sealed under a key
        // only the presented token yields; it is made before the store answers, so an
        // attempt that turns out to be reuse drops it.
        let sealed = if self.policy.refresh_grace > Duration::ZERO {
            Some(seal::seal(
                &mut OsRng,
                refresh_token,
                &pair,
                access.expires_at,
            )?)
        } else {
            None
        };
        let rotation = Rotation {
            digest: &digest,
            new_tokens: &rows,
            refresh_expires_at,
            now,
            idle_timeout: self.policy.idle_timeout,
            grace: sealed.as_deref().map(|sealed_successor| Grace {
                window: self.policy.refresh_grace,
                sealed_successor,
            }),
        };
        match self.store.rotate_refresh_token(&rotation).await? {
            RotateOutcome::Rotated {
                session_id,
                user_id,
                refresh_expires_at,
                user,
            } => Ok(RefreshOutcome::Rotated {
                tokens: IssuedTokens {
                    pair,
                    session_id,
                    user_id,
                    // The store capped the rows at the session's absolute end; the refresh
                    // token outlives the access token unless both were capped.
                    access_expires_at: access.expires_at.min(refresh_expires_at),
                    refresh_expires_at,
                },
                user,
                replayed: false,
            }),
            RotateOutcome::Replayed {
                session_id,
                user_id,
                sealed_successor,
                refresh_expires_at,
                user,
            } => {
                let opened = seal::open(refresh_token, &sealed_successor)?;
                Ok(RefreshOutcome::Rotated {
                    tokens: IssuedTokens {
                        pair: opened.pair,
                        session_id,
                        user_id,
                        access_expires_at: opened.access_expires_at.min(refresh_expires_at),
                        refresh_expires_at,
                    },
                    user,
                    replayed: true,
                })
            }
            RotateOutcome::Reused {
                session_id,
                user_id,
            } => Ok(RefreshOutcome::ReuseDetected {
                user_id,
                session_id,
            }),
            RotateOutcome::NotFound => Err(TokenError::Invalid),
            RotateOutcome::SessionRevoked | RotateOutcome::UserInactive { .. } => {
                Err(TokenError::Revoked)
            }
            RotateOutcome::Expired => Err(TokenError::Expired),
        }
    }

    pub(crate) async fn logout(&self, access_token: &str) -> Result<LoggedOut, TokenError> {
        let now = self.clock.now();
        let (user_id, session_id) = self
            .access
            .identify(self.store.as_ref(), now, access_token)
            .await?;
        let ended_now = self
            .store
            .revoke_session(&user_id, &session_id, now)
            .await?;
        Ok(LoggedOut {
            user_id,
            session_id,
            ended_now,
        })
    }

    pub(crate) async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<bool, TokenError> {
        Ok(self
            .store
            .revoke_session(user_id, session_id, self.clock.now())
            .await?)
    }

    pub(crate) async fn revoke_all(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<u64, TokenError> {
        Ok(self
            .store
            .revoke_user_sessions(user_id, keep, self.clock.now())
            .await?)
    }

    pub(crate) async fn sessions(&self, user_id: &UserId) -> Result<Vec<SessionInfo>, TokenError> {
        Ok(self.store.list_sessions(user_id, self.clock.now()).await?)
    }

    pub(crate) async fn cleanup_expired(&self, batch: u32) -> Result<u64, TokenError> {
        match &self.deletion {
            Some(deletion) => Ok(deletion.delete_expired(self.clock.now(), batch).await?),
            None => Ok(0),
        }
    }
}

/// Implements [`auth_core::TokenBackend`] for a backend struct with an `engine` field by
/// handing every call to the shared engine.
macro_rules! delegate_token_backend {
    ($backend:ty) => {
        #[async_trait::async_trait]
        impl auth_core::TokenBackend for $backend {
            async fn issue(
                &self,
                request: auth_core::IssueRequest<'_>,
            ) -> Result<auth_core::IssuedTokens, auth_core::TokenError> {
                self.engine.issue(request).await
            }

            async fn verify_access(
                &self,
                access_token: &str,
            ) -> Result<auth_core::AccessClaims, auth_core::TokenError> {
                self.engine.verify_access(access_token).await
            }

            async fn refresh(
                &self,
                refresh_token: &str,
            ) -> Result<auth_core::RefreshOutcome, auth_core::TokenError> {
                self.engine.refresh(refresh_token).await
            }

            async fn logout(
                &self,
                access_token: &str,
            ) -> Result<auth_core::LoggedOut, auth_core::TokenError> {
                self.engine.logout(access_token).await
            }

            async fn revoke_session(
                &self,
                user_id: &auth_core::UserId,
                session_id: &auth_core::SessionId,
            ) -> Result<bool, auth_core::TokenError> {
                self.engine.revoke_session(user_id, session_id).await
            }

            async fn revoke_all(
                &self,
                user_id: &auth_core::UserId,
                keep: Option<&auth_core::SessionId>,
            ) -> Result<u64, auth_core::TokenError> {
                self.engine.revoke_all(user_id, keep).await
            }

            async fn sessions(
                &self,
                user_id: &auth_core::UserId,
            ) -> Result<Vec<auth_core::SessionInfo>, auth_core::TokenError> {
                self.engine.sessions(user_id).await
            }

            async fn cleanup_expired(&self, batch: u32) -> Result<u64, auth_core::TokenError> {
                self.engine.cleanup_expired(batch).await
            }
        }
    };
}
pub(crate) use delegate_token_backend;
