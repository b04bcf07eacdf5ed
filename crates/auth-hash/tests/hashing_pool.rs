//! The hashing pool: results, panics mapped to `TaskFailed`, bound on concurrency, bounded
//! wait for a slot (`Busy`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_hash::{
    Argon2Params, HashError, HashErrorKind, HasherConfig, HashingPool, MultiHasher, PasswordHasher,
    Verification,
};

fn small() -> Arc<dyn PasswordHasher> {
    Arc::new(
        MultiHasher::new(HasherConfig {
            argon2: Argon2Params {
                time_cost: 1,
                memory_kib: 8192,
                parallelism: 1,
            },
            ..HasherConfig::default()
        })
        .unwrap(),
    )
}

struct Panicking;

impl PasswordHasher for Panicking {
    fn hash(&self, _: &str) -> Result<String, HashError> {
        panic!("boom")
    }
    fn verify(&self, _: &str, _: &str) -> Result<Verification, HashError> {
        panic!("boom")
    }
    fn dummy_verify(&self, _: &str) {
        panic!("boom")
    }
}

#[tokio::test]
async fn pool_hashes_and_verifies() {
    let pool = HashingPool::new(small(), 2);
    let encoded = pool.hash("s3cret-password").await.unwrap();
    assert!(
        pool.verify("s3cret-password", &encoded)
            .await
            .unwrap()
            .is_match()
    );
    assert!(
        !pool
            .verify("wrong-password", &encoded)
            .await
            .unwrap()
            .is_match()
    );
    pool.dummy_verify("anything").await;
}

#[tokio::test]
async fn panicking_hasher_yields_task_failed_never_a_match() {
    let pool = HashingPool::new(Arc::new(Panicking), 1);
    assert!(matches!(
        pool.verify("pw", "$argon2id$...").await,
        Err(HashError::TaskFailed)
    ));
    assert!(matches!(pool.hash("pw").await, Err(HashError::TaskFailed)));
    pool.dummy_verify("pw").await;
    // The permit was released: the pool still works after panics.
    assert!(matches!(
        pool.verify("pw", "x").await,
        Err(e) if e.is_internal()
    ));
}

#[test]
fn zero_concurrency_means_cpu_count() {
    let pool = HashingPool::new(small(), 0);
    assert!(pool.max_concurrency() >= 1);
}

/// A hasher whose `verify` signals that it started, then blocks until released.
#[derive(Default)]
struct Gate {
    entered: tokio::sync::Notify,
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl PasswordHasher for Gate {
    fn hash(&self, _: &str) -> Result<String, HashError> {
        Ok(String::new())
    }
    fn verify(&self, _: &str, _: &str) -> Result<Verification, HashError> {
        self.entered.notify_one();
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        Ok(Verification::Mismatch)
    }
    fn dummy_verify(&self, _: &str) {}
}

/// H14: with every slot held, a call waits at most the queue timeout, then fails with the
/// typed `Busy` (an internal error, never a mismatch); once the slot frees, calls go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_answers_busy_after_its_queue_timeout() {
    let gate = Arc::new(Gate::default());
    let timeout = Duration::from_millis(50);
    let pool = HashingPool::new(gate.clone(), 1).with_queue_timeout(timeout);
    assert_eq!(pool.queue_timeout(), timeout);

    let holder = tokio::spawn({
        let pool = pool.clone();
        async move { pool.verify("pw", "x").await }
    });
    gate.entered.notified().await; // the only slot is taken, and stays taken

    let start = Instant::now();
    let err = pool.verify("pw", "x").await.unwrap_err();
    assert!(matches!(err, HashError::Busy), "{err:?}");
    assert_eq!(err.kind(), HashErrorKind::Internal);
    assert!(start.elapsed() >= timeout);
    assert!(matches!(pool.hash("pw").await, Err(HashError::Busy)));
    // An unknown email gets the same answer as a known one.
    assert!(matches!(
        pool.try_dummy_verify("pw").await,
        Err(HashError::Busy)
    ));
    pool.dummy_verify("pw").await; // swallowed, returns after the timeout
    let immediate = pool.clone().with_queue_timeout(Duration::ZERO);
    assert!(matches!(
        immediate.verify("pw", "x").await,
        Err(HashError::Busy)
    ));

    gate.release();
    assert_eq!(holder.await.unwrap().unwrap(), Verification::Mismatch);
    assert_eq!(
        pool.verify("pw", "x").await.unwrap(),
        Verification::Mismatch
    );
}

#[test]
fn the_default_queue_timeout_is_five_seconds() {
    let pool = HashingPool::new(small(), 1);
    assert_eq!(pool.queue_timeout(), Duration::from_secs(5));
    assert_eq!(HashingPool::DEFAULT_QUEUE_TIMEOUT, Duration::from_secs(5));
}
