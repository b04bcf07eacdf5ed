use std::time::Duration;

use time::OffsetDateTime;

use crate::error::StoreError;

/// The answer of a [`RateLimiter`] for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitDecision {
    /// The attempt may go ahead.
    Allowed,
    /// The key is over its limit until `retry_after` from now.
    Limited {
        /// How long until the next attempt is allowed.
        retry_after: Duration,
    },
}

/// Counts failed attempts per key (an account, an IP address) in a window.
///
/// A database-backed implementation is shared by every instance of a service; an in-memory
/// one is for a single instance only.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Whether an attempt for `key` may go ahead at `now`. Does not count it.
    async fn check(&self, key: &str, now: OffsetDateTime) -> Result<RateLimitDecision, StoreError>;
    /// Counts a failed attempt for `key`.
    async fn record_failure(&self, key: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    /// Forgets the failures of `key` (after a successful login).
    async fn reset(&self, key: &str) -> Result<(), StoreError>;
}
