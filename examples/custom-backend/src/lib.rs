//! A custom token store written outside the library, against `auth-core` alone:
//! sessions, refresh-token rotation, password-reset and verification tokens, cleanup and
//! rate limiting on Redis.
//!
//! [`RedisSessionStore`] implements four of `auth-core`'s storage traits:
//!
//! | trait | what it holds here |
//! | --- | --- |
//! | [`SessionStore`](auth_core::SessionStore) | sessions and the digests of their access and refresh tokens; atomic rotation with reuse detection and the grace window |
//! | [`SingleUseTokenStore`](auth_core::SingleUseTokenStore) | password-reset and email-verification token digests |
//! | [`ExpiredDeletion`](auth_core::ExpiredDeletion) | `cleanup_expired`: dead sessions and rows, in bounded batches |
//! | [`RateLimiter`](auth_core::RateLimiter) | login attempt counters shared by every instance |
//!
//! It holds no users ([`UserStore`](auth_core::UserStore) stays in SQL): a session names
//! its user by id, lookups answer `user: None`, and the service loads the user from the
//! user store. It passes the token-store part of the `auth-conformance` suite, the same
//! checks every store of the project passes (`tests/conformance.rs`).
//!
//! # Plugging it in
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use auth_facade::{AuthConfig, AuthService, IdKind};
//! use auth_store_sqlx::{SqliteStore, UserTable};
//! use custom_backend_example::RedisSessionStore;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Users stay in SQL...
//! let users = SqliteStore::connect("sqlite://app.db", UserTable::new("users", IdKind::Integer))
//!     .await?;
//! users.migrate().await?;
//! // ...tokens, sessions and attempt counters go to Redis.
//! let redis = RedisSessionStore::connect("redis://127.0.0.1:6379")
//!     .await?
//!     .with_prefix("myapp:auth:");
//!
//! let auth = AuthService::builder(AuthConfig::from_env()?)
//!     .user_store(Arc::new(users))
//!     .session_store(Arc::new(redis.clone()), Some(Arc::new(redis.clone())))
//!     .single_use_store(Arc::new(redis.clone()))
//!     .rate_limiter(Arc::new(redis))
//!     .build()?;
//! let _cleanup = auth.spawn_cleanup(std::time::Duration::from_secs(600));
//! # Ok(()) }
//! ```
//!
//! The default (opaque) token backend, or the JWT one, runs on the store unchanged:
//! rotation, reuse detection, the grace window, the session cap, listing and revocation
//! all go through the [`SessionStore`](auth_core::SessionStore) methods.
//!
//! # Key layout
//!
//! Every key starts with the prefix (default `tortoise-auth:`, set with
//! [`with_prefix`](RedisSessionStore::with_prefix)). Only digests are stored, never a
//! token; the sealed grace-window pair is encrypted under a key only the spent token
//! yields.
//!
//! | key | type | holds | lives |
//! | --- | --- | --- | --- |
//! | `s:<session id>` | hash | `user`, `created`, `refreshed`, `exp`, `abs`, `revoked`, `ip`, `ua`, `claims`, `cur` (current refresh digest), `seq` | until the session's absolute end |
//! | `st:<session id>` | set | the digests of the session's tokens | until the absolute end |
//! | `t:<digest>` | hash | session token: `kind`, `exp`, `sid`, and once spent `spent`, `succ` (successor digest), `gw` (grace window) | refresh rows until the absolute end (spent ones too: reuse detection needs them); access rows until an hour past their expiry |
//! | `t:<digest>` | hash | single-use token: `kind`, `exp`, `user`, `spent` | until its expiry |
//! | `g:<digest>` | string | the sealed successor pair of a spent refresh token | the grace window (at most 60 s) |
//! | `u:<user>` | sorted set | the user's session ids (score: creation time) | as long as the user's longest session |
//! | `su:<user>:<kind>` | set | the user's outstanding single-use digests of one kind | as long as the longest of them |
//! | `r:<key>` | hash | rate limit: `ws` window start, `n` attempts, `lu` locked until | until the window and the lockout are over |
//! | `d:s`, `d:a`, `d:u`, `d:r` | sorted sets | the dead indexes: sessions, access rows, single-use rows, rate keys, scored by when they die | kept trimmed by cleanup |
//! | `seq` | string | a counter ordering sessions started at the same instant | always |
//!
//! A user is stored as `i:<integer>` or `u:<uuid>`, a digest as 64 hex digits, a time as
//! whole microseconds since the Unix epoch.
//!
//! # Atomicity: one Lua script per write
//!
//! Every method that writes is one Lua script, which Redis runs with nothing else
//! interleaved; a script checks everything before its first write, so a refused call
//! writes nothing. Rotation (`rotate_refresh_token`) in brief:
//!
//! 1. The token row: missing, of another kind, or a single-use token: `NotFound`. Its
//!    session hash missing: `NotFound`.
//! 2. The session revoked: `SessionRevoked`.
//! 3. The token already spent: if it is the immediate predecessor of the session's current
//!    refresh token (`succ == cur`), `now < spent + window` and its sealed pair is still
//!    kept, `Replayed` with that pair; otherwise the session is revoked and the answer is
//!    `Reused`. (A spent token is judged before any expiry, as the contract orders.)
//! 4. (`UserInactive` never happens: this store has no users.)
//! 5. The token or session expired, the absolute end reached, or idle for longer than the
//!    timeout (since the last rotation, or the login): `Expired`.
//! 6. A new digest already taken (or repeated): a `UniqueViolation` error, nothing written.
//! 7. Otherwise: insert the new rows (capped at the absolute end), mark the token spent
//!    with its successor (and, with a grace window, keep the sealed pair for the window),
//!    and move the session's `exp`, `refreshed` and `cur`. `Rotated`.
//!
//! Of N concurrent rotations of one token, the first script spends it; every later one
//! sees it spent and answers `Reused` (revoking the session) or `SessionRevoked`.
//!
//! `create_session` checks the session id and the digests, revokes the user's oldest
//! active sessions beyond `max_active` (by creation time, then insertion order), and writes
//! the session, its tokens and the index entries. `revoke_session` and
//! `revoke_user_sessions` count only sessions active at the caller's `now`.
//!
//! # Time
//!
//! Every time comes from the caller (the service's [`Clock`](auth_core::Clock)); the store
//! never reads Redis's clock. Key lifetimes are set relative to the caller's `now`
//! (`PEXPIRE` with the time left, plus a second of slack), so a test clock in another year
//! works, and decisions ("expired at its expiry instant") are made on stored times, never
//! on whether a key is still there.
//!
//! # What key TTLs do, and what cleanup does
//!
//! Key TTLs bound memory without any job: a session's keys go at its absolute end, an
//! access row an hour after its expiry, a single-use token at its expiry, a sealed pair
//! after its window, a rate-limit key once its window and lockout are over.
//!
//! [`delete_expired`](auth_core::ExpiredDeletion::delete_expired) (the service's
//! `cleanup_expired`, or `spawn_cleanup`) removes what is dead as of the caller's
//! `before` *before* its TTL: revoked sessions (with every key of theirs), expired access
//! rows, spent single-use tokens, stale rate-limit keys. It walks the dead indexes, sorted
//! sets scored by when each entry dies, so a batch is one `ZRANGEBYSCORE` and never a
//! `SCAN`. Running it also keeps the indexes small (an entry whose keys already expired is
//! dropped, and counted). It never deletes a refresh row of a session that still exists.
//!
//! # Running Redis for it
//!
//! - Redis 6.2 or newer (`ZADD ... LT`). One server, or a primary with replicas; the
//!   scripts build their key names from the prefix, so on Redis Cluster every key must hash
//!   to one slot (put a hash tag in the prefix, `{auth}:`): untested.
//! - `maxmemory-policy noeviction`: an evicted user index would let `logout_all` miss a
//!   session. (An evicted token or session row only fails closed: the token stops working.)
//! - Persistence (AOF) if a restart must not log everyone out. Replication is asynchronous:
//!   a failover can lose the last writes, including a revocation.
//!
//! # Testing your own store like this one
//!
//! `tests/conformance.rs` runs the session, single-use, deletion and rate-limiter suites
//! of `auth-conformance` as one list of checks, so `.ci/run` prints one line
//! (`conformance redis: N passed`); `tests/auth_service_on_redis.rs` runs the service on
//! it beside a SQL user store. Both read `AUTH_TEST_REDIS_URL` and skip when it is unset
//! (fail with `AUTH_TEST_REQUIRE_ALL=1`).

#![forbid(unsafe_code)]

mod deletion;
mod rate_limit;
mod scripts;
mod sessions;
mod single_use;
mod store;

pub use store::RedisSessionStore;

/// The `redis` crate this store is built on, for its connection types.
pub use redis;
