//! [`SqlxStore`]: the one generic store, its constructors and its plumbing.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{IdKind, OffsetDateTime, StoreError, StoreErrorKind};
use auth_sql::{
    BadIdentifier, ColumnReader, Schema, Statements, Stmt, UserTable, Value, check_prefix,
};
use sqlx::Pool;
use sqlx::pool::PoolConnection;

use crate::backend::{Backend, Readers};
use crate::error::{is_retryable, store_error};

/// Default [`StoreOptions::acquire_timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How a store opens its pool.
///
/// ```
/// use std::time::Duration;
/// use auth_store_sqlx::StoreOptions;
///
/// let options = StoreOptions::default()
///     .acquire_timeout(Duration::from_secs(1))
///     .max_connections(20)
///     .table_prefix("app_");
/// assert_eq!(options.acquire_timeout, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// How long an operation waits for a pooled connection before failing with
    /// [`StoreErrorKind::Unavailable`] (default 3 s): a held or exhausted pool never
    /// hangs a request.
    pub acquire_timeout: Duration,
    /// The pool's size; `None` picks the backend's default (SQLite file 4, PostgreSQL and
    /// MySQL 10). An in-memory SQLite database always has one pooled connection.
    pub max_connections: Option<u32>,
    /// The prefix of the library's tables (see [`SqlxStore::with_table_prefix`]).
    pub table_prefix: String,
    /// SQLite only (default `true`): answer `find_access_token` and `session_status` on
    /// the calling thread from a few read-only connections on the same database (one per
    /// CPU), instead of through the pool's worker thread; anything unusual (a lock, an
    /// error, a row that does not decode) falls back to the pool. `false` sends every
    /// read through the pool. Ignored by PostgreSQL and MySQL.
    pub fast_reads: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            max_connections: None,
            table_prefix: String::new(),
            fast_reads: true,
        }
    }
}

impl StoreOptions {
    /// Sets [`StoreOptions::acquire_timeout`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`StoreOptions::max_connections`].
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Sets [`StoreOptions::table_prefix`].
    pub fn table_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.table_prefix);
        self
    }

    /// Sets [`StoreOptions::fast_reads`].
    pub fn fast_reads(mut self, on: bool) -> Self {
        self.fast_reads = on;
        self
    }
}

/// The store: every storage trait of `auth-core` on one sqlx pool, for backend `B`
/// ([`SqliteStore`](crate::SqliteStore), [`PgStore`](crate::PgStore),
/// [`MySqlStore`](crate::MySqlStore)).
///
/// Cheap to clone (an `Arc`); clones share the pool. Every writing operation runs in a
/// task of its own on the Tokio runtime, so dropping the caller's future (a client
/// disconnect, a timeout) never cancels a transaction half-way: the operation completes,
/// or fails as a whole, and its result is dropped. The hot-path reads
/// (`find_access_token`, `session_status`) run on the caller's task.
pub struct SqlxStore<B: Backend> {
    pub(crate) inner: Arc<Inner<B>>,
}

impl<B: Backend> Clone for SqlxStore<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<B: Backend> fmt::Debug for SqlxStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxStore")
            .field("backend", &B::DIALECT.name())
            .field("users", &self.inner.users)
            .field("table_prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// A connection held for the store's lifetime (in-memory SQLite), never used.
struct Keeper<B: Backend>(#[allow(dead_code)] Mutex<B::Connection>);

pub(crate) struct Inner<B: Backend> {
    pub(crate) pool: Pool<B>,
    pub(crate) users: UserTable,
    pub(crate) prefix: String,
    /// The statements, or why the names were refused (reported by every operation).
    sql: Result<Arc<(Statements, Schema)>, BadIdentifier>,
    _keeper: Option<Arc<Keeper<B>>>,
    /// The inline read path (SQLite), shared with `with_table_prefix` stores.
    pub(crate) readers: Option<Readers>,
    /// Some handle on this database reads uncommitted rows (in-memory SQLite with the
    /// read path): a failed operation waits for its rollback (see [`SqlxStore::run`]).
    /// Kept by [`SqlxStore::without_fast_reads`] handles, which share the database.
    settle_failures: bool,
}

impl<B: Backend> SqlxStore<B> {
    /// Opens a pool on `url` for the user table `users`, with the default
    /// [`StoreOptions`]. Run [`SqlxStore::migrate`] once before use.
    ///
    /// A database that cannot be reached fails with [`StoreErrorKind::Unavailable`];
    /// invalid names in `users` with [`StoreErrorKind::Schema`].
    pub async fn connect(url: &str, users: UserTable) -> Result<Self, StoreError> {
        Self::connect_with(url, users, StoreOptions::default()).await
    }

    /// Opens a pool on `url` with `options` (acquire timeout, pool size, table prefix).
    pub async fn connect_with(
        url: &str,
        users: UserTable,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        const CTX: &str = "connect";
        users.validate().map_err(|e| e.into_store_error(CTX))?;
        check_prefix(&options.table_prefix).map_err(|e| e.into_store_error(CTX))?;
        let connected = B::connect(url, &options)
            .await
            .map_err(|e| store_error::<B>(CTX, e))?;
        Ok(Self::build(
            connected.pool,
            users,
            options.table_prefix,
            connected.keeper.map(|c| Arc::new(Keeper(Mutex::new(c)))),
            readers_read_uncommitted(connected.readers.as_ref()),
            connected.readers,
        ))
    }

    /// Wraps an existing pool (build it with `test_before_acquire(false)` and an
    /// `acquire_timeout`; for SQLite, with foreign keys on, sqlx's default). Invalid
    /// names in `users` are reported by every operation as [`StoreErrorKind::Schema`].
    /// An in-memory SQLite database behind such a pool lives only as long as the pool's
    /// connections (no keeper connection): prefer [`SqlxStore::connect`] for it. Every
    /// read goes through the pool (no inline SQLite read path).
    pub fn from_pool(pool: Pool<B>, users: UserTable) -> Self {
        Self::build(pool, users, String::new(), None, false, None)
    }

    fn build(
        pool: Pool<B>,
        users: UserTable,
        prefix: String,
        keeper: Option<Arc<Keeper<B>>>,
        settle_failures: bool,
        readers: Option<Readers>,
    ) -> Self {
        let sql = Statements::new(B::DIALECT, &prefix, &users).and_then(|statements| {
            Ok(Arc::new((
                statements,
                Schema::new(B::DIALECT, &prefix, &users)?,
            )))
        });
        Self {
            inner: Arc::new(Inner {
                pool,
                users,
                prefix,
                sql,
                _keeper: keeper,
                settle_failures,
                readers,
            }),
        }
    }

    /// The same store with its own tables named `{prefix}auth_sessions`,
    /// `{prefix}auth_tokens`, `{prefix}auth_single_use_tokens`,
    /// `{prefix}auth_rate_limits` and `{prefix}auth_migrations` (empty prefix by
    /// default), so several stores (apps, tests) can share one database. The pool is
    /// shared. The prefix must be empty or match `^[A-Za-z_][A-Za-z0-9_]{0,40}$`, else
    /// [`StoreErrorKind::Schema`].
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
            self.inner._keeper.clone(),
            self.inner.settle_failures,
            self.inner.readers.clone(),
        ))
    }

    /// The pool, for the application's own queries (its own user columns, for example).
    pub fn pool(&self) -> &Pool<B> {
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

    /// The statements this store runs (for tests and query-plan checks), or `None` if
    /// the names were refused.
    pub fn statements(&self) -> Option<&Statements> {
        self.inner.sql.as_ref().ok().map(|s| &s.0)
    }

    /// True if `find_access_token` and `session_status` are served by the inline SQLite
    /// read path (SQLite, [`StoreOptions::fast_reads`], and its connections opened); a
    /// call still falls back to the pool when a read cannot be served there.
    pub fn has_fast_reads(&self) -> bool {
        self.inner.readers.is_some()
    }

    /// The same store (same pool, tables and database) with every read through the
    /// pool: the inline read path's fallback, for comparisons and tests.
    pub fn without_fast_reads(&self) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool: self.inner.pool.clone(),
                users: self.inner.users.clone(),
                prefix: self.inner.prefix.clone(),
                sql: self.inner.sql.clone(),
                _keeper: self.inner._keeper.clone(),
                readers: None,
                settle_failures: self.inner.settle_failures,
            }),
        }
    }

    /// How many lookups the inline read path answered and how many fell back to the
    /// pool, since the store opened (shared by its clones); `(0, 0)` without it. For
    /// tests and benchmarks.
    #[doc(hidden)]
    pub fn fast_read_counts(&self) -> (u64, u64) {
        #[cfg(feature = "sqlite")]
        if let Some(readers) = &self.inner.readers {
            return readers.0.counts();
        }
        (0, 0)
    }

    /// Runs a read on the inline SQLite read path, on this thread: `None` to fall back
    /// to the pool (no readers, refused names, or the read itself fell back).
    #[cfg(feature = "sqlite")]
    pub(crate) fn inline<T>(
        &self,
        read: impl FnOnce(&crate::inline::SqliteReaders, &Statements, IdKind) -> Option<T>,
    ) -> Option<T> {
        let readers = self.inner.readers.as_ref()?;
        let st = self.inner.sql.as_ref().ok()?;
        read(&readers.0, &st.0, self.inner.kind())
    }

    /// Runs `op` to completion in a task of its own: the caller may drop the returned
    /// future at any point without cancelling the operation.
    pub(crate) async fn run<T, F, Fut>(&self, context: &'static str, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner<B>>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = tokio::spawn(op(self.inner.clone()));
        let result = match task.await {
            Ok(result) => result,
            Err(join) => Err(StoreError::new(StoreErrorKind::Other, context).with_source(join)),
        };
        if result.is_err() && self.inner.settle_failures {
            // A failed operation may have dropped a transaction after writing: sqlx rolls
            // it back when the connection returns to the pool (after a ping that flushes
            // the rollback). The in-memory pool has one connection, so once it can be
            // acquired again the rollback ran, and `read_uncommitted` readers no longer
            // see the failed call's rows. Waiting here makes the caller see the error
            // only then (see `inline.rs`).
            if let Ok(conn) = self.inner.pool.acquire().await {
                drop(conn);
            }
        }
        result
    }
}

/// True if `readers` read uncommitted rows (SQLite in memory).
fn readers_read_uncommitted(readers: Option<&Readers>) -> bool {
    #[cfg(feature = "sqlite")]
    if let Some(readers) = readers {
        return readers.0.reads_uncommitted();
    }
    let _ = readers;
    false
}

/// Runs an operation again (up to 4 more times, with a short pause) after a deadlock or
/// serialization failure, which rolled the whole transaction back.
macro_rules! retrying {
    ($inner:expr, $op:expr) => {{
        let mut attempt = 0u32;
        loop {
            match $op {
                Err(err) if attempt < 4 && $inner.retryable(&err) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2u64 << attempt)).await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retrying;

impl<B: Backend> Inner<B> {
    pub(crate) fn statements(&self, context: &'static str) -> Result<&Statements, StoreError> {
        self.sql
            .as_ref()
            .map(|s| &s.0)
            .map_err(|e| e.clone().into_store_error(context))
    }

    pub(crate) fn schema(&self, context: &'static str) -> Result<&Schema, StoreError> {
        self.sql
            .as_ref()
            .map(|s| &s.1)
            .map_err(|e| e.clone().into_store_error(context))
    }

    pub(crate) fn kind(&self) -> IdKind {
        self.users.id_kind()
    }

    pub(crate) fn retryable(&self, err: &StoreError) -> bool {
        is_retryable::<B>(err)
    }

    pub(crate) async fn acquire(
        &self,
        context: &'static str,
    ) -> Result<PoolConnection<B>, StoreError> {
        self.pool
            .acquire()
            .await
            .map_err(|e| store_error::<B>(context, e))
    }

    pub(crate) async fn begin(
        &self,
        context: &'static str,
    ) -> Result<sqlx::Transaction<'static, B>, StoreError> {
        self.pool
            .begin_with(B::DIALECT.begin_write())
            .await
            .map_err(|e| store_error::<B>(context, e))
    }

    pub(crate) async fn commit(
        &self,
        context: &'static str,
        tx: sqlx::Transaction<'static, B>,
    ) -> Result<(), StoreError> {
        tx.commit().await.map_err(|e| store_error::<B>(context, e))
    }

    pub(crate) async fn rows(
        &self,
        conn: &mut B::Connection,
        context: &'static str,
        stmt: &Stmt,
        args: Vec<Value>,
    ) -> Result<Vec<B::Row>, StoreError> {
        B::fetch_all(conn, stmt.shared_sql(), args)
            .await
            .map_err(|e| store_error::<B>(context, e))
    }

    pub(crate) async fn row(
        &self,
        conn: &mut B::Connection,
        context: &'static str,
        stmt: &Stmt,
        args: Vec<Value>,
    ) -> Result<Option<B::Row>, StoreError> {
        Ok(self
            .rows(conn, context, stmt, args)
            .await?
            .into_iter()
            .next())
    }

    pub(crate) async fn exec(
        &self,
        conn: &mut B::Connection,
        context: &'static str,
        stmt: &Stmt,
        args: Vec<Value>,
    ) -> Result<u64, StoreError> {
        B::execute(conn, stmt.shared_sql(), args)
            .await
            .map_err(|e| store_error::<B>(context, e))
    }
}

/// One result row, read through [`ColumnReader`] (the decoding `auth-sql` writes once for
/// every SQL store), with the errors of one operation.
pub(crate) struct Cols<'r, B: Backend> {
    row: &'r B::Row,
    context: &'static str,
}

impl<'r, B: Backend> Cols<'r, B> {
    pub(crate) fn new(row: &'r B::Row, context: &'static str) -> Self {
        Self { row, context }
    }

    fn e(&self) -> impl Fn(sqlx::Error) -> StoreError {
        let context = self.context;
        move |e| store_error::<B>(context, e)
    }
}

impl<B: Backend> ColumnReader for Cols<'_, B> {
    fn context(&self) -> &'static str {
        self.context
    }
    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        B::get_i64(self.row, i).map_err(self.e())
    }
    fn opt_i16(&self, i: usize) -> Result<Option<i16>, StoreError> {
        B::get_i16(self.row, i).map_err(self.e())
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        B::get_text(self.row, i).map_err(self.e())
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        B::get_bytes(self.row, i).map_err(self.e())
    }
    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        B::get_bool(self.row, i).map_err(self.e())
    }
    fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError> {
        B::get_time(self.row, i).map_err(self.e())
    }
}
