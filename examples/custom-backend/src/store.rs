//! [`RedisSessionStore`]: the connection, the prefix, and what every trait impl shares
//! (time and id encodings, reply decoding, error mapping).

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use auth_core::{IdKind, OffsetDateTime, StoreError, StoreErrorKind, UserId};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

/// A token store on Redis: sessions and their token digests
/// ([`SessionStore`](auth_core::SessionStore)), password-reset and verification tokens
/// ([`SingleUseTokenStore`](auth_core::SingleUseTokenStore)), cleanup
/// ([`ExpiredDeletion`](auth_core::ExpiredDeletion)) and a shared
/// [`RateLimiter`](auth_core::RateLimiter). It holds no users: put it beside a SQL user
/// store (see the [crate documentation](crate)).
///
/// `C` is the async connection: [`ConnectionManager`] (from [`connect`](Self::connect);
/// reconnects by itself) or any other cheap-to-clone [`ConnectionLike`], such as a
/// [`MultiplexedConnection`](redis::aio::MultiplexedConnection). Clones share the
/// connection.
#[derive(Clone)]
pub struct RedisSessionStore<C = ConnectionManager> {
    pub(crate) conn: C,
    pub(crate) prefix: Arc<str>,
}

impl<C> fmt::Debug for RedisSessionStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore<ConnectionManager> {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) with a
    /// [`ConnectionManager`] configured by [`connection_config`](Self::connection_config).
    ///
    /// # Errors
    /// [`StoreErrorKind::Unavailable`] when the server cannot be reached,
    /// [`StoreErrorKind::Other`] for an invalid URL or a refused authentication.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_config(url, Self::connection_config()).await
    }

    /// [`connect`](Self::connect) with your own [`ConnectionManagerConfig`].
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

    /// What [`connect`](Self::connect) uses: 1 s to connect, 2 s per response, at most 2
    /// reconnection retries, so a call fails as [`StoreErrorKind::Unavailable`] within a few
    /// seconds while Redis is down.
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
    }
}

impl<C> RedisSessionStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// The prefix of every key unless [`with_prefix`](Self::with_prefix) sets another.
    pub const DEFAULT_PREFIX: &'static str = "tortoise-auth:";

    /// A store on an open connection, with the [default prefix](Self::DEFAULT_PREFIX).
    pub fn new(conn: C) -> Self {
        Self {
            conn,
            prefix: Arc::from(Self::DEFAULT_PREFIX),
        }
    }

    /// The same store with every key under `prefix` (for example `"myapp:auth:"`), so
    /// several applications, tenants or test runs share one Redis without meeting.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every key under the prefix with its value as text, one line per key, sorted (binary
    /// values are shown lossily). For tests: a test proves that no raw token reached Redis
    /// by checking that no token it handed out appears here. Reads with `SCAN`, so it is
    /// not a snapshot; do not use it on a busy production prefix.
    ///
    /// # Errors
    /// A [`StoreError`] if Redis fails.
    pub async fn dump(&self) -> Result<String, StoreError> {
        let mut keys = self.scan_keys().await?;
        keys.sort();
        let mut conn = self.conn.clone();
        let mut out = String::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(|e| store_error(e, "dump"))?;
            let command = match kind.as_str() {
                "hash" => redis::cmd("HGETALL").arg(&key).clone(),
                "set" => redis::cmd("SMEMBERS").arg(&key).clone(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .clone(),
                "string" => redis::cmd("GET").arg(&key).clone(),
                _ => continue, // expired meanwhile
            };
            let value: Value = command
                .query_async(&mut conn)
                .await
                .map_err(|e| store_error(e, "dump"))?;
            let _ = writeln!(out, "{key} {kind} {}", show(&value));
        }
        Ok(out)
    }

    /// Deletes every key under the prefix and returns how many went: for tests and
    /// teardown. Uses `SCAN` and `UNLINK`; not atomic.
    ///
    /// # Errors
    /// A [`StoreError`] if Redis fails.
    pub async fn delete_all_keys(&self) -> Result<u64, StoreError> {
        let keys = self.scan_keys().await?;
        let mut conn = self.conn.clone();
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            let n: u64 = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .map_err(|e| store_error(e, "delete_all_keys"))?;
            deleted += n;
        }
        Ok(deleted)
    }

    async fn scan_keys(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| store_error(e, "scan"))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// A script invocation with the prefix as `ARGV[1]`.
    pub(crate) fn invocation<'a>(&self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(&*self.prefix);
        invocation
    }

    /// Runs a prepared invocation, mapping errors with `context`.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        context: &'static str,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(|e| store_error(e, context))
    }

    /// A plain command, mapping errors with `context`.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        context: &'static str,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| store_error(e, context))
    }

    /// The full name of a key: the prefix followed by `rest`.
    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

/// Escapes the glob characters of `SCAN MATCH` in a literal prefix.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A reply as one line of text, for [`RedisSessionStore::dump`].
fn show(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Array(items) | Value::Set(items) => {
            let parts: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(pairs) => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", show(k), show(v)))
                .collect();
            format!("{{{}}}", parts.join(" "))
        }
        other => format!("{other:?}"),
    }
}

/// Times are kept within ±2^52 µs of the epoch (about 1827 to 2112), so a time plus any
/// duration the scripts add stays an exact Lua number (below 2^53).
const MAX_TIME_US: i64 = 1 << 52;
/// Durations are capped at 100 years.
const MAX_DURATION_US: i64 = 100 * 366 * 24 * 3600 * 1_000_000;
const _: () = assert!(MAX_TIME_US + MAX_DURATION_US < 1 << 53);

/// `t` in whole microseconds since the Unix epoch (rounded down), within the exact range.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let us = t.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(us)
        .unwrap_or(i64::MAX)
        .clamp(-MAX_TIME_US, MAX_TIME_US)
}

/// `d` in whole microseconds (rounded down), at most 100 years.
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_DURATION_US)
}

/// The time of a stored microsecond count.
pub(crate) fn from_micros(us: i64, context: &'static str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|e| corrupt(context, e))
}

/// A user id as stored: `i:<integer>` or `u:<uuid>`, so it parses back to its kind.
pub(crate) fn user_tag(id: &UserId) -> String {
    match id.kind() {
        IdKind::Integer => format!("i:{id}"),
        IdKind::Uuid => format!("u:{id}"),
    }
}

/// The user id of a stored tag.
pub(crate) fn parse_user_tag(tag: &str, context: &'static str) -> Result<UserId, StoreError> {
    let parsed = match tag.split_once(':') {
        Some(("i", text)) => UserId::parse(IdKind::Integer, text).ok(),
        Some(("u", text)) => UserId::parse(IdKind::Uuid, text).ok(),
        _ => None,
    };
    parsed.ok_or_else(|| corrupt(context, "a stored user id is malformed"))
}

/// A digest's stored form: 64 lowercase hex digits.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A corrupt-row error with its cause.
pub(crate) fn corrupt(context: &'static str, source: impl Into<auth_core::BoxError>) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, context).with_source(source)
}

/// A reply read field by field: what the scripts return as arrays.
pub(crate) struct Reply {
    items: std::vec::IntoIter<Value>,
    context: &'static str,
}

impl Reply {
    pub(crate) fn new(items: Vec<Value>, context: &'static str) -> Self {
        Self {
            items: items.into_iter(),
            context,
        }
    }

    /// The next field's bytes, or `None` for nil (and past the end).
    pub(crate) fn opt_bytes(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        match self.items.next() {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::BulkString(bytes)) => Ok(Some(bytes)),
            Some(Value::SimpleString(s)) => Ok(Some(s.into_bytes())),
            Some(Value::Int(n)) => Ok(Some(n.to_string().into_bytes())),
            Some(_) => Err(corrupt(self.context, "unexpected reply shape")),
        }
    }

    /// The next field as text, or `None` for nil.
    pub(crate) fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        self.opt_bytes()?
            .map(|b| String::from_utf8(b).map_err(|e| corrupt(self.context, e)))
            .transpose()
    }

    /// The next field as text; nil is corrupt.
    pub(crate) fn text(&mut self) -> Result<String, StoreError> {
        self.opt_text()?
            .ok_or_else(|| corrupt(self.context, "a required field is missing"))
    }

    /// The next field as an integer, or `None` for nil.
    pub(crate) fn opt_int(&mut self) -> Result<Option<i64>, StoreError> {
        self.opt_text()?
            .map(|t| t.parse::<i64>().map_err(|e| corrupt(self.context, e)))
            .transpose()
    }

    /// The next field as an integer; nil is corrupt.
    pub(crate) fn int(&mut self) -> Result<i64, StoreError> {
        self.opt_int()?
            .ok_or_else(|| corrupt(self.context, "a required number is missing"))
    }

    /// The next field as a time, or `None` for nil.
    pub(crate) fn opt_time(&mut self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.opt_int()?
            .map(|us| from_micros(us, self.context))
            .transpose()
    }

    /// The next field as a time; nil is corrupt.
    pub(crate) fn time(&mut self) -> Result<OffsetDateTime, StoreError> {
        from_micros(self.int()?, self.context)
    }

    /// The next field as a user id.
    pub(crate) fn user(&mut self) -> Result<UserId, StoreError> {
        parse_user_tag(&self.text()?, self.context)
    }

    /// The next field as a session id.
    pub(crate) fn session(&mut self) -> Result<auth_core::SessionId, StoreError> {
        auth_core::SessionId::from_hex(&self.text()?).map_err(|e| corrupt(self.context, e))
    }

    /// The next field as a nested array.
    pub(crate) fn nested(&mut self) -> Result<Reply, StoreError> {
        match self.items.next() {
            Some(Value::Array(items)) => Ok(Reply::new(items, self.context)),
            _ => Err(corrupt(self.context, "expected a nested array")),
        }
    }

    /// How many fields are left.
    pub(crate) fn remaining(&self) -> usize {
        self.items.len()
    }
}

/// Maps a Redis error to a portable [`StoreError`] (the Redis error stays its source).
pub(crate) fn store_error(e: RedisError, context: &'static str) -> StoreError {
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
    fn times_are_whole_microseconds_and_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_789).unwrap();
        assert_eq!(micros(t), 1_900_000_000_123_456);
        assert_eq!(
            from_micros(micros(t), "test").unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_000).unwrap()
        );
        assert_eq!(duration_micros(Duration::from_secs(300)), 300_000_000);
        assert_eq!(duration_micros(Duration::MAX), MAX_DURATION_US);
    }

    #[test]
    fn user_tags_keep_the_kind() {
        for id in [
            UserId::Int(42),
            UserId::Int(-7),
            UserId::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap()),
        ] {
            assert_eq!(parse_user_tag(&user_tag(&id), "test").unwrap(), id);
        }
        assert_eq!(user_tag(&UserId::Int(42)), "i:42");
        for bad in ["42", "i:x", "u:42", "x:1", ""] {
            assert!(parse_user_tag(bad, "test").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(glob_escape("app:[t]*?\\"), "app:\\[t\\]\\*\\?\\\\");
    }
}
