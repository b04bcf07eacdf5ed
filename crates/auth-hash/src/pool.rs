//! [`HashingPool`]: runs a [`PasswordHasher`] off the async executor with a concurrency bound.

use std::fmt;
use std::sync::Arc;

use tokio::sync::Semaphore;
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
/// The password is copied into a [`Zeroizing`] buffer that is wiped when the task ends. A
/// panic in the hasher becomes [`HashError::TaskFailed`] (never a match) and the pool keeps
/// working.
///
/// Must be used from within a tokio runtime. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct HashingPool {
    inner: Arc<Inner>,
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
            .field("available_permits", &self.inner.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl HashingPool {
    /// Wraps `hasher`; `max_concurrency == 0` means the number of CPUs
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
        }
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
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError::TaskFailed)?;
        let hasher = Arc::clone(&self.inner.hasher);
        let password = Zeroizing::new(password.to_owned());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(hasher.as_ref(), password.as_str())
        })
        .await
        .map_err(|_| HashError::TaskFailed)
    }

    /// [`PasswordHasher::hash`] on the blocking pool.
    ///
    /// # Errors
    /// The hasher's errors, or [`HashError::TaskFailed`] if the task panicked.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        self.run(password, |h, p| h.hash(p)).await?
    }

    /// [`PasswordHasher::verify`] on the blocking pool.
    ///
    /// # Errors
    /// The hasher's errors, or [`HashError::TaskFailed`] if the task panicked (never a match).
    pub async fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        let encoded = encoded.to_owned();
        self.run(password, move |h, p| h.verify(p, &encoded))
            .await?
    }

    /// [`PasswordHasher::dummy_verify`] on the blocking pool. A panic is swallowed (the
    /// result is discarded anyway).
    pub async fn dummy_verify(&self, password: &str) {
        // The outcome is discarded by design: this only costs time.
        let _ = self.run(password, |h, p| h.dummy_verify(p)).await;
    }
}
