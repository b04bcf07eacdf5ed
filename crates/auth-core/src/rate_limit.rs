use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::StoreError;

/// How many attempts a key gets in a window, and how long it is locked out after that.
///
/// The reference's login defaults: 5 attempts per 300 s window, then 600 s of lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimitPolicy {
    /// Attempts allowed per window; the next one starts the lockout.
    pub max_attempts: u32,
    /// The counting window, from the key's first attempt.
    pub window: Duration,
    /// How long the key is refused once over the limit. Not extended by attempts made
    /// during it.
    pub lockout: Duration,
}

impl RateLimitPolicy {
    /// The reference's login policy: 5 attempts per 300 s, then 600 s locked.
    pub const LOGIN_DEFAULT: Self = Self {
        max_attempts: 5,
        window: Duration::from_secs(300),
        lockout: Duration::from_secs(600),
    };
}

/// The answer of a [`RateLimiter`] for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitDecision {
    /// The attempt may go ahead.
    Allowed {
        /// Attempts counted in the current window, this one included (0 for a peek at an
        /// unknown key).
        attempts: u32,
    },
    /// The key is locked until `retry_after` from now.
    Limited {
        /// How long until the next attempt is allowed.
        retry_after: Duration,
        /// Attempts counted since the window began, this one included.
        attempts: u32,
    },
}

impl RateLimitDecision {
    /// True for [`RateLimitDecision::Limited`].
    pub fn is_limited(&self) -> bool {
        matches!(self, RateLimitDecision::Limited { .. })
    }
}

/// Counts attempts per key (an account, a client address) and decides, atomically.
///
/// Keys are short ASCII strings (at most 128 bytes; the service passes hex digests, so no
/// email or address is stored). A database-backed limiter is shared by every instance of
/// a service; an in-memory one ([`MemoryRateLimiter`]) is for a single instance only.
///
/// Contract (checked by `auth-conformance`), the same as [`RateLimitWindow`]'s:
/// - [`hit`](RateLimiter::hit) counts and decides in one atomic step: of N concurrent hits
///   on a fresh key exactly `max_attempts` are allowed and the count is N.
/// - While a key is locked, hits are refused and counted but never extend the lockout.
/// - When the lockout or the window is over, the next hit starts a new window.
/// - [`clear`](RateLimiter::clear) forgets a key (after a successful login); other keys are
///   untouched.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one attempt for `key` at `now` and decides whether it may go ahead.
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError>;

    /// Whether `key` is locked at `now`, counting nothing.
    async fn peek(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError>;

    /// Forgets the attempts of `key`, lifting its lockout.
    async fn clear(&self, key: &str) -> Result<(), StoreError>;
}

/// The state of one key and the rules of [`RateLimiter`], as plain data: the in-memory
/// limiters use it directly, and stores can test their SQL or scripts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitWindow {
    /// When the current window began.
    pub window_start: OffsetDateTime,
    /// Attempts counted since.
    pub attempts: u32,
    /// Locked until then, if a lockout was started in this window.
    pub locked_until: Option<OffsetDateTime>,
}

impl RateLimitWindow {
    /// A key's state after its first hit at `now` (a fresh key).
    pub fn first(policy: &RateLimitPolicy, now: OffsetDateTime) -> (Self, RateLimitDecision) {
        let mut state = Self {
            window_start: now,
            attempts: 0,
            locked_until: None,
        };
        let decision = state.hit(policy, now);
        (state, decision)
    }

    /// Counts one attempt at `now` and decides.
    pub fn hit(&mut self, policy: &RateLimitPolicy, now: OffsetDateTime) -> RateLimitDecision {
        if let Some(until) = self.locked_until
            && until > now
        {
            self.attempts = self.attempts.saturating_add(1);
            return RateLimitDecision::Limited {
                retry_after: positive(until - now),
                attempts: self.attempts,
            };
        }
        if self.locked_until.is_some() || now >= self.window_start + policy.window {
            *self = Self {
                window_start: now,
                attempts: 0,
                locked_until: None,
            };
        }
        self.attempts = self.attempts.saturating_add(1);
        if self.attempts > policy.max_attempts {
            self.locked_until = Some(now + policy.lockout);
            RateLimitDecision::Limited {
                retry_after: policy.lockout,
                attempts: self.attempts,
            }
        } else {
            RateLimitDecision::Allowed {
                attempts: self.attempts,
            }
        }
    }

    /// The decision at `now` without counting.
    pub fn peek(&self, now: OffsetDateTime) -> RateLimitDecision {
        match self.locked_until {
            Some(until) if until > now => RateLimitDecision::Limited {
                retry_after: positive(until - now),
                attempts: self.attempts,
            },
            _ => RateLimitDecision::Allowed {
                attempts: self.attempts,
            },
        }
    }

    /// True when nothing about this key matters any more at `now` (window and lockout
    /// over): it can be forgotten.
    pub fn is_stale(&self, policy: &RateLimitPolicy, now: OffsetDateTime) -> bool {
        let window_over = now >= self.window_start + policy.window;
        let lock_over = self.locked_until.is_none_or(|until| until <= now);
        window_over && lock_over
    }
}

/// A `time::Duration` as a std `Duration`, at least one second (a `Retry-After` of 0 would
/// invite an immediate retry that is still refused).
fn positive(d: time::Duration) -> Duration {
    Duration::try_from(d)
        .unwrap_or_default()
        .max(Duration::from_secs(1))
}

/// A [`RateLimiter`] in this process's memory. **Single instance only**: each instance of
/// a service counts on its own, so N instances allow N times the attempts. Use a store's
/// limiter (shared through the database) or Redis when you run more than one.
///
/// Memory is bounded: past `max_keys` keys, stale keys are dropped first, then the oldest.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    keys: Mutex<HashMap<String, RateLimitWindow>>,
    max_keys: usize,
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryRateLimiter {
    /// A limiter that keeps at most `max_keys` keys (at least 1).
    pub fn new(max_keys: usize) -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(1),
        }
    }

    /// How many keys are tracked now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RateLimitWindow>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        let mut keys = self.lock();
        if let Some(state) = keys.get_mut(key) {
            return Ok(state.hit(policy, now));
        }
        if keys.len() >= self.max_keys {
            keys.retain(|_, s| !s.is_stale(policy, now));
            if keys.len() >= self.max_keys {
                let oldest = keys
                    .iter()
                    .min_by_key(|(_, s)| s.window_start)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    keys.remove(&oldest);
                }
            }
        }
        let (state, decision) = RateLimitWindow::first(policy, now);
        keys.insert(key.to_owned(), state);
        Ok(decision)
    }

    async fn peek(
        &self,
        key: &str,
        _policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        Ok(self
            .lock()
            .get(key)
            .map_or(RateLimitDecision::Allowed { attempts: 0 }, |s| s.peek(now)))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000 + s).unwrap()
    }

    const P: RateLimitPolicy = RateLimitPolicy::LOGIN_DEFAULT;

    #[test]
    fn five_allowed_then_locked_for_the_lockout_without_extension() {
        let (mut w, d) = RateLimitWindow::first(&P, t(0));
        assert_eq!(d, RateLimitDecision::Allowed { attempts: 1 });
        for n in 2..=5 {
            assert_eq!(
                w.hit(&P, t(n)),
                RateLimitDecision::Allowed { attempts: n as u32 }
            );
        }
        assert_eq!(
            w.hit(&P, t(10)),
            RateLimitDecision::Limited {
                retry_after: Duration::from_secs(600),
                attempts: 6
            }
        );
        // Attempts while locked are counted but do not move the end of the lockout.
        assert_eq!(
            w.hit(&P, t(500)),
            RateLimitDecision::Limited {
                retry_after: Duration::from_secs(110),
                attempts: 7
            }
        );
        assert!(w.peek(t(609)).is_limited());
        assert!(!w.peek(t(610)).is_limited());
        // After the lockout a new window begins.
        assert_eq!(
            w.hit(&P, t(610)),
            RateLimitDecision::Allowed { attempts: 1 }
        );
    }

    #[test]
    fn the_window_resets_the_count() {
        let (mut w, _) = RateLimitWindow::first(&P, t(0));
        for n in 1..5 {
            w.hit(&P, t(n));
        }
        assert_eq!(
            w.hit(&P, t(300)),
            RateLimitDecision::Allowed { attempts: 1 }
        );
    }

    #[tokio::test]
    async fn memory_limiter_is_bounded_and_clears_one_key() {
        let m = MemoryRateLimiter::new(3);
        for k in ["a", "b", "c", "d"] {
            m.hit(k, &P, t(0)).await.unwrap();
        }
        assert_eq!(m.len(), 3);
        for _ in 0..6 {
            m.hit("x", &P, t(1)).await.unwrap();
        }
        m.hit("y", &P, t(1)).await.unwrap();
        assert!(m.peek("x", &P, t(2)).await.unwrap().is_limited());
        m.clear("y").await.unwrap();
        assert!(m.peek("x", &P, t(2)).await.unwrap().is_limited());
        m.clear("x").await.unwrap();
        assert!(!m.peek("x", &P, t(2)).await.unwrap().is_limited());
    }
}
