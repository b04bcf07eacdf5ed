//! [`ExpiredDeletion`] for [`RedisSessionStore`].

use auth_core::{ExpiredDeletion, OffsetDateTime, StoreError, async_trait};
use redis::aio::ConnectionLike;

use crate::scripts;
use crate::store::{RedisSessionStore, micros};

#[async_trait]
impl<C> ExpiredDeletion for RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Deletes what is dead as of `before` through the dead indexes (see the [crate
    /// documentation](crate#what-key-ttls-do-and-what-cleanup-does)): sessions past their
    /// absolute end or revoked, with every key of theirs; access rows past their expiry;
    /// single-use tokens spent or expired; rate-limit keys whose window and lockout are
    /// over. Each index entry counts as one row, even when its keys had already expired.
    /// Never a refresh row of a session that still exists.
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let mut invocation = self.invocation(&scripts::DELETE_EXPIRED);
        invocation.arg(micros(before)).arg(batch);
        let n: i64 = self.run(&invocation, "delete_expired").await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
