//! `MemoryStore`, the reference model, passes every suite, with both key kinds and as a
//! token-only store.

use auth_conformance::{MemoryStore, MemoryStoreFactory};
use auth_core::IdKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_full_suite_with_integer_keys() {
    auth_conformance::run_full("memory", &MemoryStoreFactory::new(IdKind::Integer)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_full_suite_with_uuid_keys() {
    auth_conformance::run_full("memory-uuid", &MemoryStoreFactory::new(IdKind::Uuid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_token_store_suites_without_users() {
    // A closure factory: sessions and tokens belong to made-up users, as in a token-only
    // store beside a SQL user store.
    let factory = || async { MemoryStore::new(IdKind::Uuid) };
    let mut checks = auth_conformance::sessions::checks(&factory);
    checks.extend(auth_conformance::single_use::checks(&factory));
    checks.extend(auth_conformance::deletion::checks(&factory));
    checks.extend(auth_conformance::rate_limiter::checks(&factory));
    auth_conformance::run("memory-tokens", checks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_suite_runner_passes_on_one_shared_store() {
    // One store for every check, as checks sharing one database would see it.
    let shared = MemoryStore::new(IdKind::Integer);
    let factory = SharedFactory(shared);
    auth_conformance::run_full("memory-shared", &factory).await;
}

struct SharedFactory(MemoryStore);

#[auth_core::async_trait]
impl auth_conformance::StoreFactory for SharedFactory {
    type Store = MemoryStore;

    async fn create(&self) -> MemoryStore {
        self.0.clone()
    }

    async fn insert_raw_user(
        &self,
        store: &MemoryStore,
        email: &str,
        now: auth_core::OffsetDateTime,
    ) -> Result<auth_core::UserId, auth_core::StoreError> {
        store.insert_raw_user(email, now)
    }
}
