//! `migrate`: creates or checks the schema, in one transaction under
//! `pg_advisory_xact_lock`. The DDL, the catalog queries and the migrations are
//! `auth-sql`'s [`Schema`] for PostgreSQL: the very tables the sqlx store creates.

use auth_core::{StoreError, StoreErrorKind};
use auth_sql::{Args, ColumnReader, MissingColumns, Schema};

use crate::store::{Inner, PostgresStore, Tx, batch, commit, exec, row, rows};
use crate::values::Cols;

const CTX: &str = "migrate";

impl PostgresStore {
    /// Creates or checks the schema. Idempotent and versioned, and safe when several
    /// instances start at once: it runs in one transaction that first takes a
    /// transaction-scoped advisory lock (`pg_advisory_xact_lock`, one key per table
    /// prefix, released at commit), exactly as `auth-store-sqlx` does, so the two stores
    /// can migrate one database in any order.
    ///
    /// - The user table: created if missing (key per [`IdKind`](auth_core::IdKind), the
    ///   library's eight columns, [`UserTable::extra_columns`](crate::UserTable::extra_columns),
    ///   and a unique index on the ASCII-folded email). If it exists (the application made
    ///   it), its columns are checked: a missing library column fails with
    ///   [`StoreErrorKind::Schema`] whose source names every missing column. The
    ///   application's table is never altered.
    /// - The library's tables: each migration version not yet recorded in
    ///   `{prefix}auth_migrations` runs and is recorded. Their foreign keys to the user
    ///   table use the key column's exact type, read from the catalog (`format_type`); a
    ///   key that cannot be referenced fails with `Schema`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.run(CTX, |inner| async move { inner.migrate().await })
            .await
    }
}

impl Inner {
    async fn migrate(&self) -> Result<(), StoreError> {
        let schema = self.schema(CTX)?;
        let Some(lock) = &schema.transaction_lock else {
            return Err(StoreError::new(StoreErrorKind::Other, CTX));
        };
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        let args = Args::new(lock).bind("key", schema.lock_key()).finish();
        exec(&tx, CTX, lock, &args).await?;
        self.migrate_steps(&tx, schema).await?;
        commit(tx, CTX).await
    }

    async fn migrate_steps(&self, tx: &Tx<'_>, schema: &Schema) -> Result<(), StoreError> {
        let table = schema.catalog_table_name.as_str();
        let args = Args::new(&schema.user_table_exists)
            .bind("table", table)
            .finish();
        let exists = row(tx, CTX, &schema.user_table_exists, &args)
            .await?
            .is_some();
        if exists {
            let args = Args::new(&schema.user_table_columns)
                .bind("table", table)
                .finish();
            let present = rows(tx, CTX, &schema.user_table_columns, &args)
                .await?
                .iter()
                .map(|row| Cols::new(row, CTX).text(0))
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
            batch(tx, CTX, &schema.create_user_table).await?;
            for index in &schema.user_table_indexes {
                batch(tx, CTX, index).await?;
            }
            tracing::info!(
                table = self.users.table(),
                "auth-store-postgres: created the user table"
            );
        }

        let args = Args::new(&schema.user_key_type)
            .bind("table", table)
            .bind("column", self.users.id_column_name())
            .finish();
        let key_type = match row(tx, CTX, &schema.user_key_type, &args).await? {
            Some(row) => Cols::new(&row, CTX).opt_text(0)?,
            None => None,
        };
        let key_type = schema
            .foreign_key_type(key_type.as_deref())
            .map_err(|e| e.into_store_error(CTX))?;

        // DDL goes through the simple query protocol: nothing to prepare or cache.
        batch(tx, CTX, &schema.create_migrations_table).await?;
        let applied = rows(tx, CTX, &schema.applied_versions, &[])
            .await?
            .iter()
            .map(|row| Cols::new(row, CTX).i64(0))
            .collect::<Result<Vec<i64>, _>>()?;
        for migration in schema.migrations(&key_type) {
            if applied.contains(&migration.version) {
                continue;
            }
            for statement in &migration.statements {
                batch(tx, CTX, statement).await?;
            }
            let args = Args::new(&schema.record_version)
                .bind("version", migration.version)
                .bind("name", migration.name)
                .finish();
            exec(tx, CTX, &schema.record_version, &args).await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "auth-store-postgres: applied migration"
            );
        }
        Ok(())
    }
}
