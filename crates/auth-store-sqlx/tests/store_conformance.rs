//! The store conformance suite of `auth-core`, run against SQLite in memory and in a file.

use auth_core::IdKind;
use auth_store_sqlx::{SqliteStore, UserTable};

/// Every check gets its own private in-memory database.
mod sqlite_memory {
    use super::*;

    async fn store() -> SqliteStore {
        let store =
            SqliteStore::connect("sqlite::memory:", UserTable::new("users", IdKind::Integer))
                .await
                .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    auth_core::store_conformance_tests!(store());
}

/// Same suite with UUID user keys, in memory.
mod sqlite_memory_uuid {
    use super::*;

    async fn store() -> SqliteStore {
        let store = SqliteStore::connect(
            "sqlite://:memory:",
            UserTable::new("accounts", IdKind::Uuid).id_column("account_id"),
        )
        .await
        .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    auth_core::store_conformance_tests!(store());
}

/// Every check gets its own database file (WAL, a pool of several connections), in one
/// temporary directory for the whole test binary.
mod sqlite_file {
    use super::*;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn dir() -> &'static tempfile::TempDir {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            tempfile::Builder::new()
                .prefix("auth-store-sqlx-conformance-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .expect("temporary directory")
        })
    }

    async fn store() -> SqliteStore {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = dir()
            .path()
            .join(format!("check-{}.db", N.fetch_add(1, Ordering::Relaxed)));
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::connect(&url, UserTable::new("users", IdKind::Integer))
            .await
            .expect("connect")
            .with_table_prefix("t_")
            .expect("prefix");
        store.migrate().await.expect("migrate");
        store
    }

    auth_core::store_conformance_tests!(store());
}
