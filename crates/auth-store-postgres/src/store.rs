//! [`PostgresStore`]: its options, constructors and plumbing (the pool, the shared read
//! connections, running statements, running writes to completion).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use auth_core::{IdKind, StoreError, StoreErrorKind};
use auth_sql::{BadIdentifier, Dialect, Schema, Statements, Stmt, UserTable, Value, check_prefix};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Socket, Statement};

use crate::error::{breaks_connection, pg_error, pool_error};
use crate::values::{Bind, pg_types};

/// Default [`StoreOptions::acquire_timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Default [`StoreOptions::max_connections`] (the sqlx store's PostgreSQL default too).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Default [`StoreOptions::shared_read_connections`].
pub const DEFAULT_SHARED_READ_CONNECTIONS: usize = 2;

/// How a store opens its pool: the same options, with the same names and defaults, as
/// `auth_store_sqlx::StoreOptions`, plus [`StoreOptions::shared_read_connections`].
///
/// ```
/// use std::time::Duration;
/// use auth_store_postgres::StoreOptions;
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
    /// How long an operation waits for a pooled connection (and how long opening one may
    /// take) before failing with [`StoreErrorKind::Unavailable`] (default 3 s): a held or
    /// exhausted pool, or a database that does not answer, never hangs a request.
    pub acquire_timeout: Duration,
    /// The pool's size; `None` is [`DEFAULT_MAX_CONNECTIONS`] (10).
    pub max_connections: Option<u32>,
    /// The prefix of the library's tables (see [`PostgresStore::with_table_prefix`]).
    pub table_prefix: String,
    /// How many pooled connections the two hot-path reads (`find_access_token`,
    /// `session_status`) share between concurrent callers, their queries pipelined on
    /// each connection (default 2, at most the pool's size). `0`: each read checks a
    /// connection out of the pool for itself, like every other operation.
    pub shared_read_connections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            max_connections: None,
            table_prefix: String::new(),
            shared_read_connections: DEFAULT_SHARED_READ_CONNECTIONS,
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

    /// Sets [`StoreOptions::shared_read_connections`].
    pub fn shared_read_connections(mut self, n: usize) -> Self {
        self.shared_read_connections = n;
        self
    }
}

/// The store: every storage trait of `auth-core` on one tokio-postgres pool
/// (`deadpool-postgres`), with cached prepared statements.
///
/// Cheap to clone (an `Arc`); clones share the pool. Writes run in a task of their own,
/// so dropping the caller's future (a client disconnect, a timeout) never cancels a
/// transaction half-way; reads run on the caller's task (a read has nothing to leave
/// half-done).
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("users", &self.inner.users)
            .field("table_prefix", &self.inner.prefix)
            .field("pool", &self.inner.pool.status())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) users: UserTable,
    pub(crate) prefix: String,
    /// The statements, or why the names were refused (reported by every operation).
    sql: Result<Arc<(Statements, Schema)>, BadIdentifier>,
    readers: Arc<Readers>,
}

impl PostgresStore {
    /// Opens a pool on `url` for the user table `users`, with the default
    /// [`StoreOptions`], without TLS. Run [`PostgresStore::migrate`] once before use.
    ///
    /// One connection is opened at once: a database that cannot be reached fails here
    /// with [`StoreErrorKind::Unavailable`] (within the acquire timeout); invalid names in
    /// `users` fail with [`StoreErrorKind::Schema`]; a malformed URL with
    /// [`StoreErrorKind::Other`].
    pub async fn connect(url: &str, users: UserTable) -> Result<Self, StoreError> {
        Self::connect_with(url, users, StoreOptions::default()).await
    }

    /// Opens a pool on `url` with `options` (acquire timeout, pool size, table prefix),
    /// without TLS.
    pub async fn connect_with(
        url: &str,
        users: UserTable,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        Self::connect_with_tls(url, users, options, NoTls).await
    }

    /// Opens a pool on `url` with `options`, making connections with `tls`: any
    /// tokio-postgres TLS connector, such as `tokio_postgres_rustls::MakeRustlsConnect` or
    /// `postgres_native_tls::MakeTlsConnector` (this crate depends on no TLS library).
    /// The URL's `sslmode` applies (`prefer` by default, `require` to refuse plain
    /// connections).
    pub async fn connect_with_tls<T>(
        url: &str,
        users: UserTable,
        options: StoreOptions,
        tls: T,
    ) -> Result<Self, StoreError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        const CTX: &str = "connect";
        users.validate().map_err(|e| e.into_store_error(CTX))?;
        check_prefix(&options.table_prefix).map_err(|e| e.into_store_error(CTX))?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::new(StoreErrorKind::Other, CTX).with_source(e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.acquire_timeout);
        }
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                // `is_closed()` only: no query before handing a connection out.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let max = options
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS)
            .max(1);
        let timeout = Some(options.acquire_timeout);
        let pool = Pool::builder(manager)
            .max_size(usize::try_from(max).unwrap_or(usize::MAX))
            .runtime(Runtime::Tokio1)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .build()
            .map_err(|e| StoreError::new(StoreErrorKind::Other, CTX).with_source(e))?;
        // Opens the first connection, so an unreachable database fails now.
        drop(pool.get().await.map_err(|e| pool_error(CTX, e))?);
        let readers = Arc::new(Readers::new(options.shared_read_connections, &pool));
        Ok(Self::build(pool, users, options.table_prefix, readers))
    }

    /// Wraps a pool you built. Give it a [`Runtime`] and wait and create timeouts
    /// (without a wait timeout an exhausted pool makes callers wait for ever), and keep
    /// [`RecyclingMethod::Fast`] (no query before each checkout). Invalid names in `users`
    /// are reported by every operation as [`StoreErrorKind::Schema`]. The hot-path reads
    /// share [`DEFAULT_SHARED_READ_CONNECTIONS`] connections.
    pub fn from_pool(pool: Pool, users: UserTable) -> Self {
        let readers = Arc::new(Readers::new(DEFAULT_SHARED_READ_CONNECTIONS, &pool));
        Self::build(pool, users, String::new(), readers)
    }

    fn build(pool: Pool, users: UserTable, prefix: String, readers: Arc<Readers>) -> Self {
        let sql = Statements::new(Dialect::Postgres, &prefix, &users).and_then(|statements| {
            Ok(Arc::new((
                statements,
                Schema::new(Dialect::Postgres, &prefix, &users)?,
            )))
        });
        Self {
            inner: Arc::new(Inner {
                pool,
                users,
                prefix,
                sql,
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
            self.inner.readers.clone(),
        ))
    }

    /// The pool, for the application's own queries (its own user columns, for example).
    pub fn pool(&self) -> &Pool {
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

    /// Runs `op` to completion in a task of its own: the caller may drop the returned
    /// future at any point without cancelling the operation.
    pub(crate) async fn run<T, F, Fut>(&self, context: &'static str, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = tokio::spawn(op(self.inner.clone()));
        match task.await {
            Ok(result) => result,
            Err(join) => Err(StoreError::new(StoreErrorKind::Other, context).with_source(join)),
        }
    }
}

/// Runs an operation again (up to 4 more times, with a short pause) after a deadlock or
/// serialization failure, which rolled the whole transaction back.
macro_rules! retrying {
    ($op:expr) => {{
        let mut attempt = 0u32;
        loop {
            match $op {
                Err(err) if attempt < 4 && $crate::error::is_retryable(&err) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2u64 << attempt)).await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retrying;

impl Inner {
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

    /// A connection of the pool, for this operation alone.
    pub(crate) async fn conn(&self, context: &'static str) -> Result<Conn, StoreError> {
        Ok(Conn::new(
            self.pool.get().await.map_err(|e| pool_error(context, e))?,
        ))
    }

    /// The hot-path read: one prepared statement (cached per connection), one round trip,
    /// on a connection shared with concurrent readers (or checked out alone when sharing
    /// is off). No write: safe to run on the caller's task and to cancel.
    pub(crate) async fn read_shared(
        &self,
        context: &'static str,
        stmt: &Stmt,
        args: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        let conn = if self.readers.is_enabled() {
            self.readers.get(&self.pool, context).await?
        } else {
            Arc::new(self.conn(context).await?)
        };
        row(&*conn, context, stmt, args).await
    }
}

/// A pooled connection for one operation (or shared by concurrent hot-path readers). It
/// goes back to the pool when dropped, unless a query on it failed in a way that breaks
/// the connection ([`breaks_connection`]): then it is taken out of the pool and closed, so
/// no later operation gets it.
pub(crate) struct Conn {
    object: Option<Object>,
    broken: AtomicBool,
}

impl Conn {
    fn new(object: Object) -> Self {
        Self {
            object: Some(object),
            broken: AtomicBool::new(false),
        }
    }

    fn object(&self) -> &Object {
        self.object.as_ref().expect("present until dropped")
    }

    fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed) && !self.object().is_closed()
    }

    /// Starts a write transaction (`BEGIN`).
    pub(crate) async fn begin(&mut self, context: &'static str) -> Result<Tx<'_>, StoreError> {
        let Conn { object, broken } = self;
        let object = object.as_mut().expect("present until dropped");
        match object.transaction().await {
            Ok(tx) => Ok(Tx { tx, broken }),
            Err(e) => Err(mark(broken, pg_error(context, e))),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.broken.load(Ordering::Relaxed)
            && let Some(object) = self.object.take()
        {
            // Out of the pool for good (its slot frees up), then closed.
            drop(Object::take(object));
        }
    }
}

/// A write transaction on a [`Conn`]; rolled back if dropped before [`commit`].
pub(crate) struct Tx<'c> {
    tx: Transaction<'c>,
    broken: &'c AtomicBool,
}

/// Commits `tx`.
pub(crate) async fn commit(tx: Tx<'_>, context: &'static str) -> Result<(), StoreError> {
    let Tx { tx, broken } = tx;
    tx.commit()
        .await
        .map_err(|e| mark(broken, pg_error(context, e)))
}

/// Flags the connection for discarding if `err` broke it.
fn mark(broken: &AtomicBool, err: StoreError) -> StoreError {
    if breaks_connection(&err) {
        broken.store(true, Ordering::Relaxed);
    }
    err
}

/// Where statements run: a connection of its own, or a transaction on one.
pub(crate) trait Exec: Sync {
    /// The driver-level client.
    type Client: GenericClient;
    /// The client to run statements on.
    fn client(&self) -> &Self::Client;
    /// The connection's broken flag.
    fn broken(&self) -> &AtomicBool;
}

impl Exec for Conn {
    type Client = Object;
    fn client(&self) -> &Object {
        self.object()
    }
    fn broken(&self) -> &AtomicBool {
        &self.broken
    }
}

impl<'c> Exec for Tx<'c> {
    type Client = Transaction<'c>;
    fn client(&self) -> &Transaction<'c> {
        &self.tx
    }
    fn broken(&self) -> &AtomicBool {
        self.broken
    }
}

/// Prepares `stmt` (cached per connection, with the types of `args`).
async fn prepare<C: Exec>(
    on: &C,
    context: &'static str,
    stmt: &Stmt,
    args: &[Value],
) -> Result<Statement, StoreError> {
    on.client()
        .prepare_typed_cached(stmt.sql(), &pg_types(args))
        .await
        .map_err(|e| mark(on.broken(), pg_error(context, e)))
}

/// Runs `stmt` with `args` on a connection or in a transaction, and returns every row.
pub(crate) async fn rows<C: Exec>(
    on: &C,
    context: &'static str,
    stmt: &Stmt,
    args: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let prepared = prepare(on, context, stmt, args).await?;
    let binds: Vec<Bind<'_>> = args.iter().map(Bind).collect();
    let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
    on.client()
        .query(&prepared, &params)
        .await
        .map_err(|e| mark(on.broken(), pg_error(context, e)))
}

/// The first row of `stmt`, if any.
pub(crate) async fn row<C: Exec>(
    on: &C,
    context: &'static str,
    stmt: &Stmt,
    args: &[Value],
) -> Result<Option<Row>, StoreError> {
    Ok(rows(on, context, stmt, args).await?.into_iter().next())
}

/// Runs `stmt` with `args` and returns the number of rows it changed.
pub(crate) async fn exec<C: Exec>(
    on: &C,
    context: &'static str,
    stmt: &Stmt,
    args: &[Value],
) -> Result<u64, StoreError> {
    let prepared = prepare(on, context, stmt, args).await?;
    let binds: Vec<Bind<'_>> = args.iter().map(Bind).collect();
    let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
    on.client()
        .execute(&prepared, &params)
        .await
        .map_err(|e| mark(on.broken(), pg_error(context, e)))
}

/// Runs DDL through the simple query protocol (nothing to prepare or cache).
pub(crate) async fn batch<C: Exec>(
    on: &C,
    context: &'static str,
    sql: &str,
) -> Result<(), StoreError> {
    on.client()
        .batch_execute(sql)
        .await
        .map_err(|e| mark(on.broken(), pg_error(context, e)))
}

/// The connections the hot-path reads share.
///
/// Each slot remembers (weakly) a connection checked out of the pool by a reader; a
/// concurrent reader joins it and its query is pipelined behind the others on that
/// connection (tokio-postgres sends requests as they come and matches the responses in
/// order). When the last reader of a slot is done, the connection goes back to the pool;
/// a slot whose connection closed is refilled from the pool. So under load `N` readers
/// share the slots' few connections (fewer server processes to schedule, requests and
/// responses batched per system call) and at rest nothing is held.
pub(crate) struct Readers {
    slots: Box<[Mutex<Weak<Conn>>]>,
    next: AtomicUsize,
}

impl Readers {
    /// `n` slots, at most the pool's size.
    fn new(n: usize, pool: &Pool) -> Self {
        let n = n.min(pool.status().max_size);
        Self {
            slots: (0..n).map(|_| Mutex::new(Weak::new())).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn is_enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    async fn get(&self, pool: &Pool, context: &'static str) -> Result<Arc<Conn>, StoreError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let live = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .upgrade()
            .filter(|conn| conn.is_usable());
        if let Some(conn) = live {
            return Ok(conn);
        }
        let conn = Arc::new(Conn::new(
            pool.get().await.map_err(|e| pool_error(context, e))?,
        ));
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&conn);
        Ok(conn)
    }
}
