//! [`HashingPool`]: runs a [`PasswordHasher`] off the async executor with a concurrency bound.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use zeroize::Zeroizing;

use crate::error::HashError;
use crate::hasher::{PasswordHasher, Verification};

/// Runs password hashing on tokio's blocking thread pool, at most `max_concurrency` at a time.
///
/// Every call waits for a permit of a [`tokio::sync::Semaphore`], then runs the hasher in
/// [`tokio::task::spawn_blocking`], so the async executor never runs Argon2 and memory stays
/// bounded (`max_concurrency` x Argon2 memory) under a login storm. The permit is held by the
/// blocking task itself: if the calling future is dropped, the running hash still counts
/// against the bound until it finishes.
///
/// The wait for a permit is bounded ([`with_queue_timeout`](Self::with_queue_timeout),
/// [`DEFAULT_QUEUE_TIMEOUT`](Self::DEFAULT_QUEUE_TIMEOUT) = 5 s): past it the call fails with
/// [`HashError::Busy`] instead of queueing without end (checklist H14). The timer is only
/// armed when no permit is free at once, and needs the runtime's time driver
/// (`#[tokio::main]`, `#[tokio::test]` and `Builder::enable_all` have it).
///
/// [`verify`](Self::verify) pads verifications against hashes cheaper than the primary with
/// one [`PasswordHasher::dummy_verify`] (see
/// [`PasswordHasher::is_cheaper_than_primary`]), so every verification through the pool costs
/// at least one primary-strength verification.
///
/// The password is copied into a [`Zeroizing`] buffer that is wiped when the task ends. A
/// panic in the hasher becomes [`HashError::TaskFailed`] (never a match) and the pool keeps
/// working.
///
/// Must be used from within a tokio runtime. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct HashingPool {
    inner: Arc<Inner>,
    queue_timeout: Duration,
}

struct Inner {
    hasher: Arc<dyn PasswordHasher>,
    permits: Arc<Semaphore>,
    max_concurrency: usize,
}

impl fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashingPool")
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("queue_timeout", &self.queue_timeout)
            .field("available_permits", &self.inner.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl HashingPool {
    /// How long a call waits for a free slot by default before failing with
    /// [`HashError::Busy`]: 5 s.
    pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

    /// Wraps `hasher`, with the [default queue timeout](Self::DEFAULT_QUEUE_TIMEOUT);
    /// `max_concurrency == 0` means the number of CPUs
    /// ([`std::thread::available_parallelism`], 1 if unknown).
    #[must_use]
    pub fn new(hasher: Arc<dyn PasswordHasher>, max_concurrency: usize) -> Self {
        let max_concurrency = if max_concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            max_concurrency.min(Semaphore::MAX_PERMITS)
        };
        Self {
            inner: Arc::new(Inner {
                hasher,
                permits: Arc::new(Semaphore::new(max_concurrency)),
                max_concurrency,
            }),
            queue_timeout: Self::DEFAULT_QUEUE_TIMEOUT,
        }
    }

    /// The same pool (clones share its slots) with another bound on the wait for a slot: a
    /// call that finds every slot taken for `timeout` fails with [`HashError::Busy`].
    /// `Duration::ZERO` fails at once when no slot is free.
    #[must_use]
    pub fn with_queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// The bound on the wait for a slot.
    #[must_use]
    pub fn queue_timeout(&self) -> Duration {
        self.queue_timeout
    }

    /// The wrapped hasher.
    #[must_use]
    pub fn hasher(&self) -> &Arc<dyn PasswordHasher> {
        &self.inner.hasher
    }

    /// The concurrency bound.
    #[must_use]
    pub fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency
    }

    /// Runs `f(hasher, password)` on the blocking pool under a permit.
    async fn run<T, F>(&self, password: &str, f: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn PasswordHasher, &str) -> T + Send + 'static,
    {
        let permit = self.acquire().await?;
        let hasher = Arc::clone(&self.inner.hasher);
        let password = Zeroizing::new(password.to_owned());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(hasher.as_ref(), password.as_str())
        })
        .await
        .map_err(|_| HashError::TaskFailed)
    }

    /// A permit, waiting at most the queue timeout (the timer is armed only when none is free).
    async fn acquire(&self) -> Result<OwnedSemaphorePermit, HashError> {
        let permits = &self.inner.permits;
        match Arc::clone(permits).try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::Closed) => return Err(HashError::TaskFailed),
            Err(TryAcquireError::NoPermits) => {}
        }
        match tokio::time::timeout(self.queue_timeout, Arc::clone(permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(HashError::TaskFailed),
            Err(_elapsed) => Err(HashError::Busy),
        }
    }

    /// [`PasswordHasher::hash`] on the blocking pool.
    ///
    /// # Errors
    /// The hasher's errors, [`HashError::Busy`] if no slot became free in time, or
    /// [`HashError::TaskFailed`] if the task panicked.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.run(password, |h, p| h.hash(p)).await?
    }

    /// [`PasswordHasher::verify`] on the blocking pool, padded to at least one primary-strength
    /// verification: when [`PasswordHasher::is_cheaper_than_primary`] says `encoded` is
    /// cheaper (a legacy bcrypt or PBKDF2 hash, weaker Argon2 parameters),
    /// [`PasswordHasher::dummy_verify`] runs right after `verify` in the same blocking task,
    /// whatever the outcome, so legacy accounts cannot be told apart by a fast answer
    /// (checklist H12).
    ///
    /// # Errors
    /// The hasher's errors, [`HashError::Busy`] if no slot became free in time, or
    /// [`HashError::TaskFailed`] if the task panicked (never a match).
    pub async fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        let encoded = encoded.to_owned();
        self.run(password, move |h, p| {
            let cheaper = h.is_cheaper_than_primary(&encoded);
            let outcome = h.verify(p, &encoded);
            if cheaper {
                h.dummy_verify(p);
            }
            outcome
        })
        .await?
    }

    /// [`PasswordHasher::dummy_verify`] on the blocking pool, for a login whose user does not
    /// exist. A panic or a [`HashError::Busy`] is swallowed; a login path should prefer
    /// [`try_dummy_verify`](Self::try_dummy_verify), so that a saturated pool answers
    /// [`HashError::Busy`] for unknown emails exactly as it does for known ones.
    pub async fn dummy_verify(&self, password: &str) {
        // The outcome is discarded by design: this only costs time.
        let _ = self.try_dummy_verify(password).await;
    }

    /// [`dummy_verify`](Self::dummy_verify) that reports why no dummy work was done.
    ///
    /// # Errors
    /// [`HashError::Busy`] if no slot became free in time (answer as for a known user:
    /// [`verify`](Self::verify) fails the same way then), or [`HashError::TaskFailed`] if the
    /// task panicked.
    pub async fn try_dummy_verify(&self, password: &str) -> Result<(), HashError> {
        self.run(password, |h, p| h.dummy_verify(p)).await
    }
}
