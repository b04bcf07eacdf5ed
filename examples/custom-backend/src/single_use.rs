//! [`SingleUseTokenStore`] for [`RedisSessionStore`]: password-reset and verification
//! tokens, by digest, with their user.

use auth_core::{
    NewToken, OffsetDateTime, SingleUseTokenStore, StoreError, StoreErrorKind, TokenDigest,
    TokenKind, UserId, async_trait,
};
use redis::Value;
use redis::aio::ConnectionLike;

use crate::scripts;
use crate::store::{RedisSessionStore, Reply, corrupt, hex, micros, parse_user_tag, user_tag};

#[async_trait]
impl<C> SingleUseTokenStore for RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "insert_single_use_token";
        let mut invocation = self.invocation(&scripts::INSERT_SINGLE_USE);
        invocation
            .arg(user_tag(user_id))
            .arg(hex(token.digest.as_bytes()))
            .arg(token.kind.code())
            .arg(micros(token.expires_at))
            .arg(u8::from(void_outstanding))
            .arg(micros(now));
        let answer: String = self.run(&invocation, CONTEXT).await?;
        match answer.as_str() {
            "ok" => Ok(()),
            "collision" => Err(StoreError::new(StoreErrorKind::UniqueViolation, CONTEXT)),
            _ => Err(corrupt(CONTEXT, "unexpected script answer")),
        }
    }

    async fn find_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        const CONTEXT: &str = "find_single_use_token";
        let cmd = redis::cmd("HMGET")
            .arg(self.key(&format!("t:{}", hex(digest.as_bytes()))))
            .arg(&["user", "kind", "exp", "spent"][..])
            .clone();
        let fields: Vec<Value> = self.query(&cmd, CONTEXT).await?;
        let mut r = Reply::new(fields, CONTEXT);
        let Some(user) = r.opt_text()? else {
            return Ok(None); // unknown, or a session token
        };
        let stored_kind = r.int()?;
        let expires_at = r.time()?;
        let spent = r.opt_text()?.is_some();
        if stored_kind != i64::from(kind.code()) || spent || expires_at <= now {
            return Ok(None);
        }
        parse_user_tag(&user, CONTEXT).map(Some)
    }

    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        const CONTEXT: &str = "consume_single_use_token";
        let mut invocation = self.invocation(&scripts::CONSUME_SINGLE_USE);
        invocation
            .arg(hex(digest.as_bytes()))
            .arg(kind.code())
            .arg(micros(now));
        let user: Option<String> = self.run(&invocation, CONTEXT).await?;
        user.map(|tag| parse_user_tag(&tag, CONTEXT)).transpose()
    }

    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut invocation = self.invocation(&scripts::VOID_SINGLE_USE);
        invocation
            .arg(user_tag(user_id))
            .arg(kind.code())
            .arg(micros(now));
        let n: i64 = self.run(&invocation, "void_single_use_tokens").await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
