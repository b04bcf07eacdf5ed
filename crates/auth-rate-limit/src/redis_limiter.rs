//! [`RedisRateLimiter`]: [`RateLimitWindow`]'s rules in one Lua script.
//!
//! [`RateLimitWindow`]: auth_core::RateLimitWindow

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter, StoreError, StoreErrorKind,
    async_trait,
};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};

/// [`RateLimitWindow::hit`](auth_core::RateLimitWindow::hit) in Lua, run atomically by Redis.
///
/// `KEYS[1]`: the key. `ARGV`: now (µs since the Unix epoch), window (µs), lockout (µs),
/// max_attempts, TTL slack (ms). The key is a hash: `ws` window start, `n` attempts, `lu`
/// locked until (absent when not locked). Returns `{code, attempts, locked_until}`: code 1
/// allowed, 2 limited by this hit (the lockout starts now), 3 limited by a running lockout.
///
/// Numbers are written with `%.0f` (exact integers below 2^53; Lua 5.1 numbers are doubles).
const HIT_SCRIPT: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local lockout = tonumber(ARGV[3])
local max_attempts = tonumber(ARGV[4])
local slack_ms = tonumber(ARGV[5])
local state = redis.call('HMGET', key, 'ws', 'n', 'lu')
local ws = tonumber(state[1])
local n = tonumber(state[2]) or 0
local lu = tonumber(state[3])
if ws == nil then
  -- A fresh key (or one whose TTL ran out): RateLimitWindow::first.
  ws = now
  n = 0
  lu = nil
end
local code = 1
if lu ~= nil and lu > now then
  -- Locked: count, refuse, never extend.
  code = 3
elseif lu ~= nil or now >= ws + window then
  -- After a lockout, or past the window: a new window.
  ws = now
  n = 0
  lu = nil
end
n = math.min(n + 1, 4294967295)
if code == 1 and n > max_attempts then
  lu = now + lockout
  code = 2
end
local function int(x) return string.format('%.0f', x) end
if lu == nil then
  redis.call('HDEL', key, 'lu')
  redis.call('HSET', key, 'ws', int(ws), 'n', int(n))
else
  redis.call('HSET', key, 'ws', int(ws), 'n', int(n), 'lu', int(lu))
end
-- Expire once the key is stale: after its window and its lockout, plus the slack.
local expires = ws + window
if lu ~= nil and lu > expires then
  expires = lu
end
redis.call('PEXPIRE', key, int(math.ceil((expires - now) / 1000) + slack_ms))
return {code, n, lu or 0}
";

/// Extra lifetime of a key past the moment it becomes stale, in milliseconds: the key must
/// never expire while the caller's clock still needs it.
const TTL_SLACK_MS: u64 = 1000;

/// Durations are capped at 100 years (in µs) so every sum stays an exact Lua number.
const MAX_DURATION_US: i64 = 100 * 366 * 24 * 3600 * 1_000_000;
/// Times are kept within ±2^52 µs of the epoch (about ±142 years: 1827 to 2112), so a time
/// plus a duration stays below 2^53, the limit of exact integers in a Lua number.
const MAX_TIME_US: i64 = 1 << 52;
const _: () = assert!(MAX_TIME_US + MAX_DURATION_US < 1 << 53);

/// A [`RateLimiter`] on Redis, shared by every instance of a service. See the [crate
/// documentation](crate#redis) for the rules, the clock, the expiry and the errors.
///
/// `C` is the async connection: [`ConnectionManager`] (from [`connect`](Self::connect);
/// reconnects by itself) or any other cheap-to-clone [`ConnectionLike`], such as a
/// [`MultiplexedConnection`](redis::aio::MultiplexedConnection). Clones share the connection.
#[derive(Clone)]
pub struct RedisRateLimiter<C = ConnectionManager> {
    conn: C,
    prefix: Arc<str>,
    script: Arc<Script>,
}

impl<C> fmt::Debug for RedisRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter<ConnectionManager> {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) with a
    /// [`ConnectionManager`], which reconnects after failures, configured by
    /// [`connection_config`](Self::connection_config).
    ///
    /// # Errors
    /// [`StoreErrorKind::Unavailable`] when the server cannot be reached (refused, timed out),
    /// [`StoreErrorKind::Other`] for an invalid URL or a refused authentication.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_config(url, Self::connection_config()).await
    }

    /// [`connect`](Self::connect) with your own [`ConnectionManagerConfig`] (timeouts,
    /// retries).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with_config(
        url: &str,
        config: ConnectionManagerConfig,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| store_error(e, "redis_connect"))?;
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| store_error(e, "redis_connect"))?;
        Ok(Self::new(conn))
    }

    /// The configuration [`connect`](Self::connect) uses: the `redis` crate's timeouts (1 s
    /// to connect, 500 ms per response) and at most 2 reconnection retries 100 to 500 ms
    /// apart, so a call fails as [`StoreErrorKind::Unavailable`] within about 2 s while Redis
    /// is down (the crate's default of 6 growing retries takes ~10 s) and the next call after
    /// Redis is back reconnects.
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(500)))
    }
}

impl<C> RedisRateLimiter<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// The prefix of every key unless [`with_prefix`](Self::with_prefix) sets another.
    pub const DEFAULT_PREFIX: &'static str = "tortoise-auth:rate-limit:";

    /// A limiter on an open connection, with the [default prefix](Self::DEFAULT_PREFIX).
    pub fn new(conn: C) -> Self {
        Self {
            conn,
            prefix: Arc::from(Self::DEFAULT_PREFIX),
            script: Arc::new(Script::new(HIT_SCRIPT)),
        }
    }

    /// The same limiter with every key under `prefix` (for example `"myapp:login:"`), so
    /// several applications or tenants can share one Redis.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key holding the state of `key`: the prefix followed by the key.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl<C> RateLimiter for RedisRateLimiter<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        let now_us = micros(now);
        let mut conn = self.conn.clone();
        let (code, attempts, locked_until): (i64, i64, i64) = self
            .script
            .key(self.redis_key(key))
            .arg(now_us)
            .arg(duration_micros(policy.window))
            .arg(duration_micros(policy.lockout))
            .arg(policy.max_attempts)
            .arg(TTL_SLACK_MS)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error(e, "rate_limit_hit"))?;
        let attempts = attempts_u32(attempts);
        match code {
            1 => Ok(RateLimitDecision::Allowed { attempts }),
            // The lockout starts with this hit: RateLimitWindow answers the full lockout.
            2 => Ok(RateLimitDecision::Limited {
                retry_after: policy.lockout,
                attempts,
            }),
            3 => Ok(RateLimitDecision::Limited {
                retry_after: retry_after(locked_until, now_us),
                attempts,
            }),
            _ => Err(StoreError::new(StoreErrorKind::Corrupt, "rate_limit_hit")),
        }
    }

    async fn peek(
        &self,
        key: &str,
        _policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        let now_us = micros(now);
        let mut conn = self.conn.clone();
        let (attempts, locked_until): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.redis_key(key))
            .arg("n")
            .arg("lu")
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error(e, "rate_limit_peek"))?;
        let attempts = attempts_u32(attempts.unwrap_or(0));
        // RateLimitWindow::peek: limited while the lockout runs, else allowed with the count.
        Ok(match locked_until {
            Some(until) if until > now_us => RateLimitDecision::Limited {
                retry_after: retry_after(until, now_us),
                attempts,
            },
            _ => RateLimitDecision::Allowed { attempts },
        })
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.redis_key(key))
            .query_async(&mut conn)
            .await
            .map_err(|e| store_error(e, "rate_limit_clear"))?;
        Ok(())
    }
}

/// `t` in whole microseconds since the Unix epoch (rounded down), kept within exact range.
fn micros(t: OffsetDateTime) -> i64 {
    let us = t.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(us)
        .unwrap_or(i64::MAX)
        .clamp(-MAX_TIME_US, MAX_TIME_US)
}

/// `d` in whole microseconds (rounded down), at most 100 years.
fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_DURATION_US)
}

/// What [`RateLimitWindow`](auth_core::RateLimitWindow) answers while locked: the time left,
/// at least one second (a `Retry-After` of 0 would invite an immediate retry that is still
/// refused).
fn retry_after(locked_until_us: i64, now_us: i64) -> Duration {
    let left = u64::try_from(locked_until_us.saturating_sub(now_us)).unwrap_or(0);
    Duration::from_micros(left).max(Duration::from_secs(1))
}

/// A count from Redis as `u32`, saturating like
/// [`RateLimitWindow`](auth_core::RateLimitWindow)'s.
fn attempts_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// Maps a Redis error to a portable [`StoreError`] (the Redis error stays its source).
fn store_error(e: RedisError, context: &'static str) -> StoreError {
    StoreError::new(kind_of(&e), context).with_source(e)
}

fn kind_of(e: &RedisError) -> StoreErrorKind {
    if e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
    {
        return StoreErrorKind::Unavailable;
    }
    match e.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        ) => StoreErrorKind::Unavailable,
        ErrorKind::UnexpectedReturnType | ErrorKind::Parse => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_whole_microseconds_and_stay_exact() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_789).unwrap();
        assert_eq!(micros(t), 1_900_000_000_123_456);
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500).unwrap();
        assert_eq!(micros(before_epoch), -2);
        assert!(micros(OffsetDateTime::now_utc()) < MAX_TIME_US);
        assert_eq!(duration_micros(Duration::from_secs(300)), 300_000_000);
        assert_eq!(duration_micros(Duration::MAX), MAX_DURATION_US);
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after(10_000_000, 0), Duration::from_secs(10));
        assert_eq!(retry_after(1, 0), Duration::from_secs(1));
        assert_eq!(retry_after(0, 5), Duration::from_secs(1));
    }

    #[test]
    fn attempts_saturate() {
        assert_eq!(attempts_u32(-1), 0);
        assert_eq!(attempts_u32(7), 7);
        assert_eq!(attempts_u32(i64::MAX), u32::MAX);
    }

    #[test]
    fn connection_errors_are_unavailable() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(kind_of(&refused), StoreErrorKind::Unavailable);
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(kind_of(&reset), StoreErrorKind::Unavailable);
        let shape = RedisError::from((ErrorKind::UnexpectedReturnType, "not an array"));
        assert_eq!(kind_of(&shape), StoreErrorKind::Corrupt);
    }
}
