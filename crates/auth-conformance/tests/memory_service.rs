//! The service-level checks on the reference store.
#![cfg(feature = "service")]

use auth_conformance::MemoryStore;
use auth_conformance::service::{ServiceFactory, run_service};
use auth_core::IdKind;

struct Memory;

#[auth_core::async_trait]
impl ServiceFactory for Memory {
    type Store = MemoryStore;
    async fn create(&self) -> MemoryStore {
        MemoryStore::new(IdKind::Integer)
    }
    async fn second_instance(&self, store: &MemoryStore) -> MemoryStore {
        store.clone()
    }
    async fn dump(&self, store: &MemoryStore) -> String {
        store.dump()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_service_checks() {
    run_service("memory", &Memory).await;
}
