//! Rate-limiter backends for tortoise-auth that live outside the SQL stores.
//!
//! Every limiter implements [`auth_core::RateLimiter`]: one atomic call counts an attempt for a
//! key (a canonical email's digest, a client address's digest) and decides, with the rules of
//! [`RateLimitWindow`] (the reference's defaults: 5 attempts per 300 s window, then 600 s
//! locked; see [`RateLimitPolicy::LOGIN_DEFAULT`]):
//!
//! - every hit is counted, refused ones included;
//! - while a key is locked, hits are refused and never extend the lockout;
//! - once the lockout or the window is over, the next hit starts a new window;
//! - the hit that goes past `max_attempts` starts the lockout;
//! - [`clear`](RateLimiter::clear) forgets one key (after a successful login), nothing else.
//!
//! # Which limiter
//!
//! | limiter | shared between instances | needs | use it for |
//! | --- | --- | --- | --- |
//! | [`MemoryRateLimiter`] (re-exported from `auth-core`) | **no** | nothing | one process only: development, tests, a single-instance service |
//! | the SQL stores' limiter (`auth-store-sqlx`, `auth-store-postgres`) | yes, through the database | the database you already have | several instances, no extra infrastructure |
//! | [`RedisRateLimiter`] (feature `redis`) | yes, through Redis | a Redis server | several instances, and keeping the counter writes of a login storm off the database |
//!
//! **[`MemoryRateLimiter`] is single-instance only.** Each process counts on its own, so N
//! instances behind a load balancer allow N times the attempts, and a restart forgets every
//! lockout. It keeps at most `max_keys` keys (100,000 by default; stale keys are dropped
//! first, then the oldest), so a flood of unknown emails cannot exhaust memory.
//!
//! # Redis
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_core::{OffsetDateTime, RateLimitPolicy, RateLimiter};
//! use auth_rate_limit::RedisRateLimiter;
//!
//! let limiter = RedisRateLimiter::connect("redis://127.0.0.1:6379")
//!     .await?
//!     .with_prefix("myapp:login-limit:");
//! let policy = RateLimitPolicy::LOGIN_DEFAULT;
//! let decision = limiter.hit("3f1c…digest", &policy, OffsetDateTime::now_utc()).await?;
//! if decision.is_limited() {
//!     // refuse, with `Retry-After`
//! }
//! # Ok(())
//! # }
//! ```
//!
//! - **Atomic.** [`hit`](RateLimiter::hit) is one Lua script ([`EVALSHA`, falling back to
//!   `EVAL`](https://redis.io/docs/latest/develop/interact/programmability/eval-intro/)): the
//!   read, the decision and the write happen inside Redis with nothing in between, so 200
//!   concurrent failures on one key count 200 and exactly `max_attempts` of them are
//!   allowed, whatever the number of service instances.
//! - **The caller's clock.** The time of each hit is the `now` the caller passes (the
//!   service's injectable [`Clock`](auth_core::Clock)), never Redis's `TIME`, so tests drive
//!   it with a manual clock and every instance decides as [`RateLimitWindow`] would. Times
//!   and durations are kept to the microsecond (Lua numbers are doubles, exact for integers
//!   below 2^53: times up to the year 2112, durations up to 100 years).
//! - **Expiry.** Each key is a small hash (`ws` window start, `n` attempts, `lu` locked
//!   until) whose TTL is set on every hit to the end of its window or lockout, whichever is
//!   later, plus one second: a key expires by itself once nothing about it matters any more
//!   (what [`RateLimitWindow::is_stale`] means), so unknown emails leave nothing behind. The
//!   TTL only collects garbage: the decisions never depend on it.
//! - **Keys.** `prefix + key`; the prefix defaults to
//!   [`RedisRateLimiter::DEFAULT_PREFIX`] and can be set per limiter (one per application or
//!   per tenant on a shared Redis).
//! - **Connections.** [`RedisRateLimiter::connect`] opens a
//!   [`ConnectionManager`]: one multiplexed connection that
//!   every clone of the limiter shares and that reconnects by itself after a Redis restart
//!   (connection timeout 1 s, response timeout 500 ms, 2 reconnection retries: a call fails
//!   within about 2 s while Redis is down; see [`RedisRateLimiter::connection_config`], or
//!   pass your own to [`RedisRateLimiter::connect_with_config`]).
//!   [`RedisRateLimiter::new`] takes any cheap-to-clone async connection, such as a
//!   [`MultiplexedConnection`] built with your own
//!   settings.
//! - **Errors** are [`StoreError`](auth_core::StoreError)s: a refused, dropped or timed-out
//!   connection is [`StoreErrorKind::Unavailable`](auth_core::StoreErrorKind::Unavailable)
//!   (retrying may help), a reply of the wrong shape is
//!   [`Corrupt`](auth_core::StoreErrorKind::Corrupt), anything else
//!   [`Other`](auth_core::StoreErrorKind::Other). The service above treats any error as an
//!   internal failure (a 503), never as "allowed".
//!
//! # Features
//!
//! | feature | default | effect |
//! | --- | --- | --- |
//! | `redis` | no | [`RedisRateLimiter`], on the `redis` crate (tokio, `ConnectionManager`, scripts; no TLS, no cluster) |
//!
#![cfg_attr(
    feature = "redis",
    doc = r"
[`RedisRateLimiter`]: crate::RedisRateLimiter
[`RedisRateLimiter::DEFAULT_PREFIX`]: crate::RedisRateLimiter::DEFAULT_PREFIX
[`RedisRateLimiter::connect`]: crate::RedisRateLimiter::connect
[`RedisRateLimiter::connect_with_config`]: crate::RedisRateLimiter::connect_with_config
[`RedisRateLimiter::connection_config`]: crate::RedisRateLimiter::connection_config
[`RedisRateLimiter::new`]: crate::RedisRateLimiter::new
[`ConnectionManager`]: crate::redis::aio::ConnectionManager
[`MultiplexedConnection`]: crate::redis::aio::MultiplexedConnection
"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = r"
[`RedisRateLimiter`]: #redis
[`RedisRateLimiter::DEFAULT_PREFIX`]: #redis
[`RedisRateLimiter::connect`]: #redis
[`RedisRateLimiter::connect_with_config`]: #redis
[`RedisRateLimiter::connection_config`]: #redis
[`RedisRateLimiter::new`]: #redis
[`ConnectionManager`]: #redis
[`MultiplexedConnection`]: #redis
"
)]

#[cfg(feature = "redis")]
mod redis_limiter;

pub use auth_core::{
    MemoryRateLimiter, RateLimitDecision, RateLimitPolicy, RateLimitWindow, RateLimiter,
};

#[cfg(feature = "redis")]
pub use redis_limiter::RedisRateLimiter;

/// The `redis` crate this limiter is built on, for building connections with your own
/// settings ([`RedisRateLimiter::new`]).
#[cfg(feature = "redis")]
pub use redis;
