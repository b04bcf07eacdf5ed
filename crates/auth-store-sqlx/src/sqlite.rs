//! The SQLite backend.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::StoreErrorKind;
use auth_sql::Dialect;
use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Sqlite};

use crate::StoreOptions;
use crate::backend::{
    Backend, BoxFuture, Connected, Readers, bind_all_fn, pool_options, query_methods,
};
use crate::inline::{SqliteReaders, Target};

/// How long a connection waits for another's write lock before failing with
/// [`StoreErrorKind::Unavailable`].
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connections in the pool of a file database (WAL: readers never block the one writer).
const FILE_POOL_CONNECTIONS: u32 = 4;

bind_all_fn!(Sqlite, |q: sqlx::query::Query<'static, Sqlite, _>,
                      v: uuid::Uuid| q
    .bind(v.hyphenated().to_string()));

/// True for the URL forms of a private in-memory database.
pub(crate) fn is_memory_url(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (db, params) = rest.split_once('?').unwrap_or((rest, ""));
    db == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// The inline read path's connections, if [`StoreOptions::fast_reads`] (the default) and
/// they open; otherwise every read goes through the pool.
fn readers(options: &StoreOptions, target: Target<'_>) -> Option<Readers> {
    if !options.fast_reads {
        return None;
    }
    match SqliteReaders::open(target) {
        Ok(readers) => Some(Readers(Arc::new(readers))),
        Err(err) => {
            tracing::warn!(error = %err, "SQLite read-only connections did not open: reads go through the pool");
            None
        }
    }
}

impl Backend for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn connect(
        url: &str,
        options: &StoreOptions,
    ) -> BoxFuture<'static, Result<Connected<Self>, sqlx::Error>> {
        let url = url.to_owned();
        let options = options.clone();
        Box::pin(async move {
            let connect = SqliteConnectOptions::from_str(&url)?
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            if is_memory_url(&url) {
                // A named shared-cache database, private to this store: every pool
                // connection and the keeper see the same data, and the keeper (held by
                // the store, never handed out) keeps it alive whatever happens to the
                // pool's connection (a cancelled call, an idle timeout).
                static SEQ: AtomicU64 = AtomicU64::new(0);
                let name = format!(
                    "file:tortoise-auth-memory-{}-{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                let connect = connect.filename(&name).in_memory(true).shared_cache(true);
                let keeper = connect.connect().await?;
                let pool = pool_options::<Sqlite>(&options, 1)
                    // One connection: shared-cache table locks would otherwise make
                    // concurrent writers fail instead of wait.
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(connect)
                    .await?;
                let readers = readers(&options, Target::Memory(&name));
                Ok(Connected {
                    pool,
                    keeper: Some(keeper),
                    readers,
                })
            } else {
                let connect = connect
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                // Opens one connection (the file now exists, in WAL mode) before the
                // readers open theirs.
                let pool = pool_options::<Sqlite>(&options, FILE_POOL_CONNECTIONS)
                    .connect_with(connect.clone())
                    .await?;
                let readers = match connect.get_filename().to_str() {
                    Some(path) => readers(&options, Target::File(path)),
                    None => None,
                };
                Ok(Connected {
                    pool,
                    keeper: None,
                    readers,
                })
            }
        })
    }

    fn classify(err: &dyn DatabaseError) -> Option<StoreErrorKind> {
        let code: i32 = err.code()?.parse().ok()?;
        if code == 787 {
            // SQLITE_CONSTRAINT_FOREIGNKEY: the user (or session) does not exist.
            return Some(StoreErrorKind::NotFound);
        }
        // The primary result code is the low byte of the extended code.
        match code & 0xff {
            // SQLITE_BUSY, SQLITE_LOCKED: another connection holds the lock past
            // busy_timeout. SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN: the file is
            // unreachable.
            5 | 6 | 10 | 13 | 14 => Some(StoreErrorKind::Unavailable),
            // SQLITE_ERROR covers "no such table/column": migrations not run, or an app
            // table without the library's columns; "foreign key mismatch": a user table
            // whose key is not unique.
            1 => {
                let msg = err.message();
                (msg.starts_with("no such table")
                    || msg.starts_with("no such column")
                    || msg.contains("has no column named")
                    || msg.starts_with("foreign key mismatch"))
                .then_some(StoreErrorKind::Schema)
            }
            _ => None,
        }
    }

    fn is_retryable(_err: &dyn DatabaseError) -> bool {
        // Write transactions start with BEGIN IMMEDIATE: no deadlock can happen.
        false
    }

    query_methods!(Sqlite);
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
