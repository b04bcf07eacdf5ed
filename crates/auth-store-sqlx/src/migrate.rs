//! `migrate`: creates or checks the schema, under a database lock.

use auth_core::{StoreError, StoreErrorKind};
use auth_sql::{Args, ColumnReader, MIGRATION_LOCK_TIMEOUT_SECS, MissingColumns, Schema, Stmt};

use crate::backend::Backend;
use crate::store::{Cols, Inner, SqlxStore};

const CTX: &str = "migrate";

impl<B: Backend> SqlxStore<B> {
    /// Creates or checks the schema. Idempotent and versioned, and safe when several
    /// instances start at once: it runs under a database lock (SQLite `BEGIN IMMEDIATE`,
    /// PostgreSQL `pg_advisory_xact_lock`, MySQL `GET_LOCK`), in one transaction where
    /// DDL is transactional (SQLite, PostgreSQL).
    ///
    /// - The user table: created if missing (key per [`IdKind`](auth_core::IdKind), the
    ///   library's eight columns, [`UserTable::extra_columns`](crate::UserTable::extra_columns),
    ///   and a unique index on the ASCII-folded email). If it exists (the application
    ///   made it), its columns are checked: a missing library column fails with
    ///   [`StoreErrorKind::Schema`] whose source names every missing column. The
    ///   application's table is never altered.
    /// - The library's tables: each migration version not yet recorded in
    ///   `{prefix}auth_migrations` runs and is recorded. Their foreign keys to the user
    ///   table use the key column's exact type, read from the catalog; a key that cannot
    ///   be referenced (not unique, another engine) fails with `Schema`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.run(CTX, |inner| async move { inner.migrate().await })
            .await
    }
}

impl<B: Backend> Inner<B> {
    async fn migrate(&self) -> Result<(), StoreError> {
        let schema = self.schema(CTX)?;
        if B::DIALECT.transactional_ddl() {
            let mut tx = self.begin(CTX).await?;
            if let Some(lock) = &schema.transaction_lock {
                let args = Args::new(lock).bind("key", schema.lock_key()).finish();
                self.exec(&mut tx, CTX, lock, args).await?;
            }
            self.migrate_steps(&mut tx, schema).await?;
            self.commit(CTX, tx).await
        } else {
            // MySQL commits at every DDL statement: a named lock held by this session
            // keeps other instances out instead, and every statement is idempotent.
            let (Some(lock), Some(unlock)) = (&schema.mysql_lock, &schema.mysql_unlock) else {
                return Err(StoreError::new(StoreErrorKind::Other, CTX));
            };
            let mut conn = self.acquire(CTX).await?;
            let args = Args::new(lock)
                .bind("name", schema.lock_name())
                .bind("timeout", MIGRATION_LOCK_TIMEOUT_SECS)
                .finish();
            let row = self.row(&mut conn, CTX, lock, args).await?;
            let taken = match &row {
                Some(row) => Cols::<B>::new(row, CTX).opt_i64(0)? == Some(1),
                None => false,
            };
            if !taken {
                return Err(StoreError::new(StoreErrorKind::Unavailable, CTX)
                    .with_source("timed out waiting for another instance's migration"));
            }
            let result = self.migrate_steps(&mut conn, schema).await;
            let args = Args::new(unlock).bind("name", schema.lock_name()).finish();
            let released = self.exec(&mut conn, CTX, unlock, args).await;
            if result.is_err() || released.is_err() {
                // Closing the session releases the lock whatever state it is in.
                let _ = conn.close().await;
            }
            result
        }
    }

    async fn plain(&self, conn: &mut B::Connection, sql: &str) -> Result<u64, StoreError> {
        self.exec(conn, CTX, &Stmt::plain(sql), vec![]).await
    }

    async fn migrate_steps(
        &self,
        conn: &mut B::Connection,
        schema: &Schema,
    ) -> Result<(), StoreError> {
        let table = schema.catalog_table_name.as_str();
        let args = Args::new(&schema.user_table_exists)
            .bind("table", table)
            .finish();
        let exists = self
            .row(conn, CTX, &schema.user_table_exists, args)
            .await?
            .is_some();
        if exists {
            let args = Args::new(&schema.user_table_columns)
                .bind("table", table)
                .finish();
            let rows = self
                .rows(conn, CTX, &schema.user_table_columns, args)
                .await?;
            let present = rows
                .iter()
                .map(|row| Cols::<B>::new(row, CTX).text(0))
                .collect::<Result<Vec<String>, _>>()?;
            let missing = self.users.missing_columns(&present);
            if !missing.is_empty() {
                return Err(MissingColumns {
                    table: self.users.table().to_owned(),
                    missing: missing.into_iter().map(str::to_owned).collect(),
                }
                .into_store_error(CTX));
            }
        } else {
            self.plain(conn, &schema.create_user_table).await?;
            for index in &schema.user_table_indexes {
                self.plain(conn, index).await?;
            }
            tracing::info!(
                table = self.users.table(),
                "auth-store-sqlx: created the user table"
            );
        }

        let args = Args::new(&schema.user_key_type)
            .bind("table", table)
            .bind("column", self.users.id_column_name())
            .finish();
        let key_type = match self.row(conn, CTX, &schema.user_key_type, args).await? {
            Some(row) => Cols::<B>::new(&row, CTX).opt_text(0)?,
            None => None,
        };
        let key_type = schema
            .foreign_key_type(key_type.as_deref())
            .map_err(|e| e.into_store_error(CTX))?;

        self.plain(conn, &schema.create_migrations_table).await?;
        let rows = self
            .rows(conn, CTX, &schema.applied_versions, vec![])
            .await?;
        let applied = rows
            .iter()
            .map(|row| Cols::<B>::new(row, CTX).i64(0))
            .collect::<Result<Vec<i64>, _>>()?;
        for migration in schema.migrations(&key_type) {
            if applied.contains(&migration.version) {
                continue;
            }
            for statement in &migration.statements {
                self.plain(conn, statement).await?;
            }
            let args = Args::new(&schema.record_version)
                .bind("version", migration.version)
                .bind("name", migration.name)
                .finish();
            self.exec(conn, CTX, &schema.record_version, args).await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "auth-store-sqlx: applied migration"
            );
        }
        Ok(())
    }
}
