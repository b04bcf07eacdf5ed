//! The SQLite backend: [`SqliteStore`].

mod sql;
mod store;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{StoreError, StoreErrorKind};
use sqlx::AssertSqlSafe;
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::store_error;
use crate::ident::{BadIdentifier, check_prefix};
use crate::migrate::{MissingColumns, missing_user_columns};
use crate::user_table::UserTable;

use self::sql::{BEGIN_IMMEDIATE, Sql, TABLE_COLUMNS, TABLE_EXISTS};

/// How long a connection waits for another's write lock before failing with
/// [`StoreErrorKind::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool of a file database (WAL: readers never block the one writer).
const FILE_POOL_CONNECTIONS: u32 = 4;

/// The store on SQLite: the application's user table plus the library's
/// `{prefix}auth_sessions`, `{prefix}auth_tokens` and `{prefix}auth_migrations`.
///
/// Cheap to clone (an `Arc`); every clone shares the pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    users: UserTable,
    prefix: String,
    /// The statements, or why the names were refused (reported by every operation).
    sql: Result<Sql, BadIdentifier>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("users", &self.inner.users)
            .field("table_prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// SQLite's own error codes that the portable [`DatabaseError::kind`] does not cover.
pub(crate) fn classify(err: &dyn DatabaseError) -> Option<StoreErrorKind> {
    let code: i32 = err.code()?.parse().ok()?;
    // The primary result code is the low byte of the extended code.
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED: another connection holds the lock past busy_timeout.
        // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN: the file is unreachable.
        5 | 6 | 10 | 13 | 14 => Some(StoreErrorKind::Unavailable),
        // SQLITE_ERROR covers "no such table" / "no such column": migrations not run, or an
        // app table without the library's columns.
        1 => {
            let msg = err.message();
            (msg.starts_with("no such table")
                || msg.starts_with("no such column")
                || msg.contains("has no column named"))
            .then_some(StoreErrorKind::Schema)
        }
        _ => None,
    }
}

/// Wraps an sqlx error of the operation `context`.
pub(crate) fn err(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| store_error(context, e, classify)
}

/// True for the URL forms of a private in-memory database.
fn is_memory_url(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (db, params) = rest.split_once('?').unwrap_or((rest, ""));
    db == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

impl SqliteStore {
    /// Opens a pool on `url` for the user table `users`.
    ///
    /// - `sqlite::memory:` (or `sqlite://:memory:`): a private in-memory database held by
    ///   one connection that never expires (`min_connections` 1, no idle timeout, no max
    ///   lifetime), so the database lives exactly as long as the store (and its clones).
    ///   Every operation is serialized on that connection.
    /// - a file, `sqlite://path/to/auth.db` or `sqlite:auth.db` (created if missing): a pool
    ///   of 4 connections in WAL mode (readers never block the writer), `synchronous =
    ///   NORMAL` (the WAL default: a crash never corrupts the file; a power loss may lose the
    ///   last committed transactions, i.e. a few logins/refreshes, never half of one),
    ///   `busy_timeout` 5 s, foreign keys on. Use [`SqliteStore::from_pool`] for other
    ///   settings.
    ///
    /// Run [`SqliteStore::migrate`] once before use.
    pub async fn connect(url: &str, users: UserTable) -> Result<Self, StoreError> {
        const CTX: &str = "connect";
        users.validate().map_err(|e| e.into_store_error(CTX))?;
        let options = SqliteConnectOptions::from_str(url)
            .map_err(err(CTX))?
            .foreign_keys(true);
        let pool = if is_memory_url(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .max_connections(FILE_POOL_CONNECTIONS)
                .connect_with(
                    options
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(BUSY_TIMEOUT),
                )
                .await
        }
        .map_err(err(CTX))?;
        Ok(Self::from_pool(pool, users))
    }

    /// Wraps an existing pool. Foreign keys must be on (sqlx's default) so deleting a
    /// session deletes its tokens. Invalid names in `users` are reported by every operation
    /// as [`StoreErrorKind::Schema`].
    pub fn from_pool(pool: SqlitePool, users: UserTable) -> Self {
        Self::build(pool, users, String::new())
    }

    fn build(pool: SqlitePool, users: UserTable, prefix: String) -> Self {
        let sql = check_prefix(&prefix)
            .and_then(|()| users.validate())
            .map(|()| Sql::new(&prefix, &users));
        Self {
            inner: Arc::new(Inner {
                pool,
                users,
                prefix,
                sql,
            }),
        }
    }

    /// Prefixes the library's own tables (`""` by default): `{prefix}auth_sessions`,
    /// `{prefix}auth_tokens`, `{prefix}auth_migrations`, so several stores (tests, apps) can
    /// share one database. The prefix must be empty or match
    /// `^[A-Za-z_][A-Za-z0-9_]{0,40}$`, otherwise [`StoreErrorKind::Schema`].
    pub fn with_table_prefix(self, prefix: &str) -> Result<Self, StoreError> {
        const CTX: &str = "with_table_prefix";
        check_prefix(prefix).map_err(|e| e.into_store_error(CTX))?;
        self.inner
            .users
            .validate()
            .map_err(|e| e.into_store_error(CTX))?;
        Ok(Self::build(
            self.inner.pool.clone(),
            self.inner.users.clone(),
            prefix.to_owned(),
        ))
    }

    /// The pool, for the application's own queries (its own user columns, for example).
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// The user table this store works on.
    pub fn user_table(&self) -> &UserTable {
        &self.inner.users
    }

    /// The prefix of the library's tables.
    pub fn table_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The SQL of the `authenticate` hot path, for plan checks in tests.
    #[doc(hidden)]
    pub fn access_lookup_sql(&self) -> &str {
        self.inner
            .sql
            .as_ref()
            .map(|s| &*s.access_lookup)
            .unwrap_or("")
    }

    fn sql(&self, context: &'static str) -> Result<&Sql, StoreError> {
        self.inner
            .sql
            .as_ref()
            .map_err(|e| e.clone().into_store_error(context))
    }

    /// Creates or checks the schema. Idempotent and versioned; runs in one `BEGIN
    /// IMMEDIATE` transaction, so concurrent calls serialize.
    ///
    /// - The user table: created if missing (key per [`IdKind`](auth_core::IdKind), the
    ///   library's eight columns, then [`UserTable::extra_columns`]). If it exists (the
    ///   application made it), its columns are checked: a missing library column fails with
    ///   [`StoreErrorKind::Schema`] whose source names every missing column. The
    ///   application's table is never altered.
    /// - The library's tables: each migration version not yet recorded in
    ///   `{prefix}auth_migrations` runs and is recorded.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        const CTX: &str = "migrate";
        let sql = self.sql(CTX)?;
        let e = err(CTX);
        let mut tx = self
            .inner
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(&e)?;

        let exists = sqlx::query(TABLE_EXISTS)
            .bind(&sql.users_table_name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(&e)?
            .is_some();
        if exists {
            let present: Vec<String> = sqlx::query_scalar(TABLE_COLUMNS)
                .bind(&sql.users_table_name)
                .fetch_all(&mut *tx)
                .await
                .map_err(&e)?;
            let missing = missing_user_columns(&self.inner.users, &present);
            if !missing.is_empty() {
                return Err(StoreError::new(StoreErrorKind::Schema, CTX).with_source(
                    MissingColumns {
                        table: sql.users_table_name.clone(),
                        missing: missing.into_iter().map(str::to_owned).collect(),
                    },
                ));
            }
        } else {
            sqlx::query(AssertSqlSafe(sql.create_users_table.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(&e)?;
        }

        sqlx::query(AssertSqlSafe(sql.create_migrations_table.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(&e)?;
        let applied: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql.applied_versions.clone()))
            .fetch_all(&mut *tx)
            .await
            .map_err(&e)?;
        for migration in &sql.migrations {
            if applied.contains(&migration.version) {
                continue;
            }
            for statement in &migration.statements {
                sqlx::query(AssertSqlSafe(statement.as_str()))
                    .execute(&mut *tx)
                    .await
                    .map_err(&e)?;
            }
            sqlx::query(AssertSqlSafe(sql.record_version.clone()))
                .bind(migration.version)
                .bind(migration.name)
                .execute(&mut *tx)
                .await
                .map_err(&e)?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "auth-store-sqlx: applied migration"
            );
        }
        tx.commit().await.map_err(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognized() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:x.db?mode=memory&cache=private",
        ] {
            assert!(is_memory_url(url), "{url}");
        }
        for url in [
            "sqlite://auth.db",
            "sqlite:auth.db?mode=rwc",
            "sqlite:///tmp/a.db",
        ] {
            assert!(!is_memory_url(url), "{url}");
        }
    }
}
