//! The hashing pool: results, panics mapped to `TaskFailed`, bound on concurrency.

use std::sync::Arc;

use auth_hash::{
    Argon2Params, HashError, HasherConfig, HashingPool, MultiHasher, PasswordHasher, Verification,
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
