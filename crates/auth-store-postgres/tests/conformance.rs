//! The whole conformance suite (`run_full`) and the service-level checks (`run_service`,
//! opaque and JWT token backends) on the tokio-postgres store: prints
//! `conformance postgres-tokio: N passed`, `conformance postgres-tokio/service-opaque: N
//! passed` and `conformance postgres-tokio/service-jwt: N passed`.
//!
//! Every check gets a migrated schema of its own (the deletion checks of two checks
//! sharing tables would purge each other's dead rows) and a pool of its own; a service
//! check's second instance opens a second pool on its schema. Every schema is dropped
//! once everything passed.

mod common;

use std::sync::Mutex;

use auth_conformance::StoreFactory;
use auth_conformance::service::ServiceFactory;
use auth_core::{OffsetDateTime, StoreError, StoreErrorKind, UserId};
use auth_store_postgres::tokio_postgres;
use auth_store_postgres::{PostgresStore, StoreOptions};
use common::{TestSchema, url_for, users};

struct Factory {
    base: String,
    /// Every schema made, to drop at the end.
    schemas: Mutex<Vec<String>>,
}

/// Pools small enough for 4 checks at a time, each with a second instance, to stay well
/// inside the server's connection limit, and large enough for the races to overlap.
fn options() -> StoreOptions {
    StoreOptions::default().max_connections(8)
}

impl Factory {
    async fn schema(&self) -> String {
        let schema = TestSchema::create().await.expect("checked before");
        self.schemas.lock().unwrap().push(schema.name.clone());
        schema.url
    }

    /// A migrated store on a schema of its own.
    async fn fresh(&self) -> PostgresStore {
        let url = self.schema().await;
        let store = PostgresStore::connect_with(&url, users(), options())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    async fn drop_all(&self) {
        let schemas = std::mem::take(&mut *self.schemas.lock().unwrap());
        for schema in schemas {
            common::drop_schema(&self.base, &schema).await;
        }
    }
}

/// The schema a store's connections work in.
async fn current_schema(store: &PostgresStore) -> String {
    let client = store.pool().get().await.expect("pooled connection");
    client
        .query_one("SELECT CAST(current_schema() AS TEXT)", &[])
        .await
        .expect("current_schema")
        .get(0)
}

fn store_error(e: tokio_postgres::Error) -> StoreError {
    let kind = match e.code().map(|c| c.code()) {
        Some("23505") => StoreErrorKind::UniqueViolation,
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, "insert_raw_user").with_source(e)
}

#[auth_core::async_trait]
impl StoreFactory for Factory {
    type Store = PostgresStore;

    async fn create(&self) -> PostgresStore {
        self.fresh().await
    }

    async fn insert_raw_user(
        &self,
        store: &PostgresStore,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        let client = store.pool().get().await.expect("pooled connection");
        let row = client
            .query_one(
                "INSERT INTO users (email, password, last_login, is_active, is_verified, \
                 joined_at, created_at, updated_at) \
                 VALUES ($1, '', NULL, TRUE, FALSE, NULL, $2, $2) RETURNING id",
                &[&email, &now],
            )
            .await
            .map_err(store_error)?;
        Ok(UserId::Int(row.get(0)))
    }
}

#[auth_core::async_trait]
impl ServiceFactory for Factory {
    type Store = PostgresStore;

    async fn create(&self) -> PostgresStore {
        self.fresh().await
    }

    async fn second_instance(&self, store: &PostgresStore) -> PostgresStore {
        let url = url_for(&self.base, &current_schema(store).await);
        PostgresStore::connect_with(&url, users(), options())
            .await
            .expect("connect a second instance")
    }

    async fn dump(&self, store: &PostgresStore) -> String {
        let schema = current_schema(store).await;
        let client = store.pool().get().await.expect("pooled connection");
        let tables = client
            .query(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = $1 ORDER BY 1",
                &[&schema],
            )
            .await
            .expect("tables");
        let mut dump = String::new();
        for table in tables {
            let table: String = table.get(0);
            // Every column of every row as text (bytea as `\x` hex)...
            for row in client
                .query(
                    &format!("SELECT CAST(t AS TEXT) FROM \"{table}\" AS t"),
                    &[],
                )
                .await
                .expect("rows")
            {
                dump.push_str(&row.get::<_, String>(0));
                dump.push('\n');
            }
            // ...and the binary columns as lossy text too.
            let binary = client
                .query(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = $1 AND table_name = $2 AND data_type = 'bytea'",
                    &[&schema, &table],
                )
                .await
                .expect("columns");
            for column in binary {
                let column: String = column.get(0);
                for row in client
                    .query(&format!("SELECT \"{column}\" FROM \"{table}\""), &[])
                    .await
                    .expect("binary column")
                {
                    if let Some(bytes) = row.get::<_, Option<Vec<u8>>>(0) {
                        dump.push_str(&String::from_utf8_lossy(&bytes));
                        dump.push('\n');
                    }
                }
            }
        }
        dump
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(base) = common::base_url() else {
        return;
    };
    let factory = Factory {
        base,
        schemas: Mutex::new(Vec::new()),
    };
    auth_conformance::run_full("postgres-tokio", &factory).await;
    auth_conformance::service::run_service("postgres-tokio", &factory).await;
    factory.drop_all().await;
}
