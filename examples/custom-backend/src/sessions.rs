//! [`SessionStore`] for [`RedisSessionStore`].

use std::net::IpAddr;

use auth_core::{
    AccessTokenRecord, NewSession, NewToken, OffsetDateTime, RotateOutcome, Rotation, SessionId,
    SessionInfo, SessionStatus, SessionStore, StoreError, StoreErrorKind, TokenDigest, TokenKind,
    UserId, async_trait,
};
use redis::Value;
use redis::aio::ConnectionLike;

use crate::scripts;
use crate::store::{
    RedisSessionStore, Reply, corrupt, duration_micros, hex, micros, parse_user_tag, user_tag,
};

fn collision(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::UniqueViolation, context)
}

/// Appends `n, (digest, kind, exp)*` to a script invocation.
fn push_tokens(invocation: &mut redis::ScriptInvocation<'_>, tokens: &[NewToken]) {
    invocation.arg(tokens.len());
    for t in tokens {
        invocation
            .arg(hex(t.digest.as_bytes()))
            .arg(t.kind.code())
            .arg(micros(t.expires_at));
    }
}

fn token_kind(code: i64, context: &'static str) -> Result<TokenKind, StoreError> {
    i16::try_from(code)
        .ok()
        .and_then(TokenKind::from_code)
        .ok_or_else(|| corrupt(context, "unknown token kind code"))
}

#[async_trait]
impl<C> SessionStore for RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        const CONTEXT: &str = "create_session";
        let mut invocation = self.invocation(&scripts::CREATE_SESSION);
        invocation
            .arg(session.id.to_hex())
            .arg(user_tag(&session.user_id))
            .arg(micros(session.created_at))
            .arg(micros(session.expires_at))
            .arg(micros(session.absolute_expires_at))
            .arg(
                session
                    .client
                    .ip()
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
            )
            .arg(session.client.user_agent().unwrap_or_default())
            .arg(u8::from(session.claims.is_some()))
            .arg(session.claims.as_deref().unwrap_or_default())
            .arg(max_active.map(|m| m.to_string()).unwrap_or_default());
        push_tokens(&mut invocation, tokens);
        let mut reply = Reply::new(self.run(&invocation, CONTEXT).await?, CONTEXT);
        match reply.text()?.as_str() {
            "ok" => Ok(u64::try_from(reply.int()?).unwrap_or(0)),
            "collision" => Err(collision(CONTEXT)),
            _ => Err(corrupt(CONTEXT, "unexpected script answer")),
        }
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        const CONTEXT: &str = "find_access_token";
        let mut invocation = self.invocation(&scripts::FIND_TOKEN);
        invocation.arg(hex(digest.as_bytes()));
        let value: Value = self.run(&invocation, CONTEXT).await?;
        let items = match value {
            Value::Nil => return Ok(None),
            Value::Array(items) => items,
            _ => return Err(corrupt(CONTEXT, "unexpected reply shape")),
        };
        let mut r = Reply::new(items, CONTEXT);
        let kind = token_kind(r.int()?, CONTEXT)?;
        let expires_at = r.time()?;
        let session_id = r.session()?;
        let user_id = r.user()?;
        let revoked = r.opt_text()?.is_some();
        Ok(Some(AccessTokenRecord {
            kind,
            expires_at,
            session: SessionStatus {
                session_id,
                user_id,
                revoked,
                expires_at: r.time()?,
                absolute_expires_at: r.time()?,
                claims: r.opt_text()?,
                user: None,
            },
        }))
    }

    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        const CONTEXT: &str = "session_status";
        let cmd = redis::cmd("HMGET")
            .arg(self.key(&format!("s:{}", id.to_hex())))
            .arg(&["user", "revoked", "exp", "abs", "claims"][..])
            .clone();
        let fields: Vec<Value> = self.query(&cmd, CONTEXT).await?;
        let mut r = Reply::new(fields, CONTEXT);
        let Some(user) = r.opt_text()? else {
            return Ok(None);
        };
        Ok(Some(SessionStatus {
            session_id: *id,
            user_id: parse_user_tag(&user, CONTEXT)?,
            revoked: r.opt_text()?.is_some(),
            expires_at: r.time()?,
            absolute_expires_at: r.time()?,
            claims: r.opt_text()?,
            user: None,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        const CONTEXT: &str = "rotate_refresh_token";
        // A zero window keeps nothing (the backend passes no grace then anyway).
        let grace = rotation.grace.filter(|g| !g.window.is_zero());
        let mut invocation = self.invocation(&scripts::ROTATE);
        invocation
            .arg(hex(rotation.digest.as_bytes()))
            .arg(micros(rotation.now))
            .arg(
                rotation
                    .idle_timeout
                    .map(|d| duration_micros(d).to_string())
                    .unwrap_or_default(),
            )
            .arg(micros(rotation.refresh_expires_at))
            .arg(
                grace
                    .map(|g| duration_micros(g.window).to_string())
                    .unwrap_or_default(),
            )
            .arg(grace.map_or(&[][..], |g| g.sealed_successor));
        push_tokens(&mut invocation, rotation.new_tokens);
        let mut r = Reply::new(self.run(&invocation, CONTEXT).await?, CONTEXT);
        Ok(match r.text()?.as_str() {
            "rotated" => RotateOutcome::Rotated {
                session_id: r.session()?,
                user_id: r.user()?,
                refresh_expires_at: r.time()?,
                user: None,
            },
            "replayed" => RotateOutcome::Replayed {
                session_id: r.session()?,
                user_id: r.user()?,
                sealed_successor: r
                    .opt_bytes()?
                    .ok_or_else(|| corrupt(CONTEXT, "sealed successor missing"))?,
                refresh_expires_at: r.time()?,
                user: None,
            },
            "reused" => RotateOutcome::Reused {
                session_id: r.session()?,
                user_id: r.user()?,
            },
            "not_found" => RotateOutcome::NotFound,
            "revoked" => RotateOutcome::SessionRevoked,
            "expired" => RotateOutcome::Expired,
            "collision" => return Err(collision(CONTEXT)),
            _ => return Err(corrupt(CONTEXT, "unexpected script answer")),
        })
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.invocation(&scripts::REVOKE_SESSION);
        invocation
            .arg(user_tag(user_id))
            .arg(session_id.to_hex())
            .arg(micros(now));
        let n: i64 = self.run(&invocation, "revoke_session").await?;
        Ok(n == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut invocation = self.invocation(&scripts::REVOKE_USER_SESSIONS);
        invocation
            .arg(user_tag(user_id))
            .arg(keep.map(SessionId::to_hex).unwrap_or_default())
            .arg(micros(now));
        let n: i64 = self.run(&invocation, "revoke_user_sessions").await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        const CONTEXT: &str = "list_sessions";
        let mut invocation = self.invocation(&scripts::LIST_SESSIONS);
        invocation.arg(user_tag(user_id));
        let rows: Vec<Value> = self.run(&invocation, CONTEXT).await?;
        let mut rows = Reply::new(rows, CONTEXT);
        let mut listed = Vec::with_capacity(rows.remaining());
        while rows.remaining() > 0 {
            let mut r = rows.nested()?;
            let id = r.session()?;
            let owner = r.user()?;
            let created_at = r.time()?;
            let refreshed_at = r.opt_time()?;
            let expires_at = r.time()?;
            let absolute_expires_at = r.time()?;
            let revoked = r.opt_text()?.is_some();
            let ip = r
                .opt_text()?
                .map(|text| text.parse::<IpAddr>().map_err(|e| corrupt(CONTEXT, e)))
                .transpose()?;
            let user_agent = r.opt_text()?;
            let seq = r.opt_int()?.unwrap_or(0);
            if owner != *user_id || revoked || expires_at <= now || absolute_expires_at <= now {
                continue;
            }
            listed.push((
                (created_at, seq),
                SessionInfo {
                    id,
                    user_id: owner,
                    created_at,
                    refreshed_at,
                    expires_at,
                    absolute_expires_at,
                    ip,
                    user_agent,
                },
            ));
        }
        // Newest first; sessions started at the same instant by insertion order.
        listed.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.0));
        Ok(listed.into_iter().map(|(_, info)| info).collect())
    }
}
