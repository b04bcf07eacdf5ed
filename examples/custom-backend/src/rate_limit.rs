//! [`RateLimiter`] for [`RedisSessionStore`]: [`RateLimitWindow`]'s rules in one Lua
//! script per hit, shared by every instance of the service.
//!
//! [`RateLimitWindow`]: auth_core::RateLimitWindow

use std::time::Duration;

use auth_core::{
    OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter, StoreError, async_trait,
};
use redis::Value;
use redis::aio::ConnectionLike;

use crate::scripts;
use crate::store::{RedisSessionStore, Reply, corrupt, duration_micros, micros};

/// What [`RateLimitWindow`](auth_core::RateLimitWindow) answers while locked: the time
/// left, at least one second.
fn retry_after(locked_until_us: i64, now_us: i64) -> Duration {
    let left = u64::try_from(locked_until_us.saturating_sub(now_us)).unwrap_or(0);
    Duration::from_micros(left).max(Duration::from_secs(1))
}

/// A count as `u32`, saturating.
fn attempts_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[async_trait]
impl<C> RateLimiter for RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        const CONTEXT: &str = "rate_limit_hit";
        let now_us = micros(now);
        let mut invocation = self.invocation(&scripts::RATE_HIT);
        invocation
            .arg(key)
            .arg(now_us)
            .arg(duration_micros(policy.window))
            .arg(duration_micros(policy.lockout))
            .arg(policy.max_attempts);
        let mut r = Reply::new(self.run(&invocation, CONTEXT).await?, CONTEXT);
        let code = r.int()?;
        let attempts = attempts_u32(r.int()?);
        let locked_until = r.int()?;
        match code {
            1 => Ok(RateLimitDecision::Allowed { attempts }),
            // The lockout starts with this hit: the full lockout, as RateLimitWindow says.
            2 => Ok(RateLimitDecision::Limited {
                retry_after: policy.lockout,
                attempts,
            }),
            3 => Ok(RateLimitDecision::Limited {
                retry_after: retry_after(locked_until, now_us),
                attempts,
            }),
            _ => Err(corrupt(CONTEXT, "unexpected script answer")),
        }
    }

    async fn peek(
        &self,
        key: &str,
        _policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        const CONTEXT: &str = "rate_limit_peek";
        let now_us = micros(now);
        let cmd = redis::cmd("HMGET")
            .arg(self.key(&format!("r:{key}")))
            .arg("n")
            .arg("lu")
            .clone();
        let fields: Vec<Value> = self.query(&cmd, CONTEXT).await?;
        let mut r = Reply::new(fields, CONTEXT);
        let attempts = attempts_u32(r.opt_int()?.unwrap_or(0));
        // RateLimitWindow::peek: limited while the lockout runs, else allowed with the count.
        Ok(match r.opt_int()? {
            Some(until) if until > now_us => RateLimitDecision::Limited {
                retry_after: retry_after(until, now_us),
                attempts,
            },
            _ => RateLimitDecision::Allowed { attempts },
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let mut invocation = self.invocation(&scripts::RATE_CLEAR);
        invocation.arg(key);
        let _: i64 = self.run(&invocation, "rate_limit_clear").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after(10_000_000, 0), Duration::from_secs(10));
        assert_eq!(retry_after(1, 0), Duration::from_secs(1));
        assert_eq!(retry_after(0, 5), Duration::from_secs(1));
    }

    #[test]
    fn attempts_saturate() {
        assert_eq!(attempts_u32(-1), 0);
        assert_eq!(attempts_u32(i64::MAX), u32::MAX);
    }
}
