//! [`Backend`]: the small per-database part of the one generic store. Everything that
//! differs between SQLite, PostgreSQL and MySQL lives here or in `auth-sql`'s
//! [`Dialect`]: how a connection pool is opened, how a [`Value`] is bound, how a column
//! is decoded, and which driver error codes mean what.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use auth_core::{OffsetDateTime, StoreErrorKind};
use auth_sql::{Dialect, Value};
use sqlx::error::DatabaseError;
use sqlx::{Database, Pool};

use crate::StoreOptions;

/// A boxed, `Send` future (what the backend's query methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

mod sealed {
    pub trait Sealed {}
}

/// A pool, and for an in-memory SQLite database the connection that keeps it alive.
#[doc(hidden)]
pub struct Connected<DB: Database> {
    /// The pool the store runs on.
    pub pool: Pool<DB>,
    /// A connection held for the store's lifetime, outside the pool (in-memory SQLite).
    pub keeper: Option<DB::Connection>,
    /// The inline read path's connections (SQLite with [`StoreOptions::fast_reads`]).
    pub readers: Option<Readers>,
}

/// The inline read path's read-only connections (SQLite): opaque, shared by a store's
/// clones.
#[doc(hidden)]
#[derive(Clone)]
pub struct Readers(#[cfg(feature = "sqlite")] pub(crate) Arc<crate::inline::SqliteReaders>);

/// A database the store runs on: implemented for [`sqlx::Sqlite`] (feature `sqlite`),
/// [`sqlx::Postgres`] (feature `postgres`) and [`sqlx::MySql`] (feature `mysql`). Sealed:
/// the methods are the store's internals.
pub trait Backend: Database + sealed::Sealed {
    /// The SQL dialect of this database.
    const DIALECT: Dialect;

    /// Opens the pool for `url` with `options`.
    #[doc(hidden)]
    fn connect(
        url: &str,
        options: &StoreOptions,
    ) -> BoxFuture<'static, Result<Connected<Self>, sqlx::Error>>;

    /// The portable kind of a database error, when the backend knows better than
    /// sqlx's [`DatabaseError::kind`].
    #[doc(hidden)]
    fn classify(err: &dyn DatabaseError) -> Option<StoreErrorKind>;

    /// True for a deadlock or serialization failure: the transaction was rolled back and
    /// the whole operation may simply run again.
    #[doc(hidden)]
    fn is_retryable(err: &dyn DatabaseError) -> bool;

    /// Runs `sql` with `args` and returns every row.
    #[doc(hidden)]
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: &Arc<str>,
        args: Vec<Value>,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>>;

    /// Runs `sql` with `args` and returns the number of rows it changed (matched, on
    /// MySQL: sqlx sets `CLIENT_FOUND_ROWS`).
    #[doc(hidden)]
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &Arc<str>,
        args: Vec<Value>,
    ) -> BoxFuture<'c, Result<u64, sqlx::Error>>;

    /// Column `i` as an integer.
    #[doc(hidden)]
    fn get_i64(row: &Self::Row, i: usize) -> Result<Option<i64>, sqlx::Error>;
    /// Column `i` as a small integer.
    #[doc(hidden)]
    fn get_i16(row: &Self::Row, i: usize) -> Result<Option<i16>, sqlx::Error>;
    /// Column `i` as text.
    #[doc(hidden)]
    fn get_text(row: &Self::Row, i: usize) -> Result<Option<String>, sqlx::Error>;
    /// Column `i` as bytes.
    #[doc(hidden)]
    fn get_bytes(row: &Self::Row, i: usize) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// Column `i` as a boolean.
    #[doc(hidden)]
    fn get_bool(row: &Self::Row, i: usize) -> Result<Option<bool>, sqlx::Error>;
    /// Column `i` as a user-table timestamp.
    #[doc(hidden)]
    fn get_time(row: &Self::Row, i: usize) -> Result<Option<OffsetDateTime>, sqlx::Error>;
}

/// Implements the query and decoding methods, identical in text for every backend (the
/// types differ, so a macro rather than a generic function).
macro_rules! query_methods {
    ($db:ty) => {
        fn fetch_all<'c>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            sql: &std::sync::Arc<str>,
            args: Vec<auth_sql::Value>,
        ) -> $crate::backend::BoxFuture<'c, Result<Vec<<$db as sqlx::Database>::Row>, sqlx::Error>>
        {
            let query = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), args);
            Box::pin(query.fetch_all(conn))
        }

        fn execute<'c>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            sql: &std::sync::Arc<str>,
            args: Vec<auth_sql::Value>,
        ) -> $crate::backend::BoxFuture<'c, Result<u64, sqlx::Error>> {
            let query = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), args);
            Box::pin(async move { Ok(query.execute(conn).await?.rows_affected()) })
        }

        fn get_i64(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<i64>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
        fn get_i16(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<i16>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
        fn get_text(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<String>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
        fn get_bytes(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<Vec<u8>>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
        fn get_bool(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<bool>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
        fn get_time(
            row: &<$db as sqlx::Database>::Row,
            i: usize,
        ) -> Result<Option<auth_core::OffsetDateTime>, sqlx::Error> {
            sqlx::Row::try_get_unchecked(row, i)
        }
    };
}

/// Defines `bind_all` for one backend: binds each [`Value`] with the driver's type.
macro_rules! bind_all_fn {
    ($db:ty, $bind_uuid:expr) => {
        fn bind_all(
            mut query: sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments>,
            args: Vec<auth_sql::Value>,
        ) -> sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments> {
            use auth_core::UserId;
            use auth_sql::Value;
            for value in args {
                query = match value {
                    Value::Int(v) => query.bind(v),
                    Value::OptInt(v) => query.bind(v),
                    Value::Small(v) => query.bind(v),
                    Value::Text(v) => query.bind(v),
                    Value::OptText(v) => query.bind(v),
                    Value::Bytes(v) => query.bind(v),
                    Value::OptBytes(v) => query.bind(v),
                    Value::Bool(v) => query.bind(v),
                    Value::Time(v) => query.bind(v.to_offset(time::UtcOffset::UTC)),
                    Value::OptTime(v) => query.bind(v.map(|t| t.to_offset(time::UtcOffset::UTC))),
                    Value::UserId(UserId::Int(v)) => query.bind(v),
                    Value::UserId(UserId::Uuid(v)) => $bind_uuid(query, v),
                };
            }
            query
        }
    };
}

pub(crate) use {bind_all_fn, query_methods};

#[cfg(feature = "sqlite")]
impl sealed::Sealed for sqlx::Sqlite {}
#[cfg(feature = "postgres")]
impl sealed::Sealed for sqlx::Postgres {}
#[cfg(feature = "mysql")]
impl sealed::Sealed for sqlx::MySql {}

/// Shared pool settings: acquire timeout, no ping before acquire (a second round trip per
/// call otherwise).
pub(crate) fn pool_options<DB: Database>(
    options: &StoreOptions,
    default_max: u32,
) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::<DB>::new()
        .acquire_timeout(options.acquire_timeout)
        .max_connections(options.max_connections.unwrap_or(default_max).max(1))
        .test_before_acquire(false)
}
