//! The inline SQLite read path: `find_access_token` and `session_status` answered on the
//! calling thread by a small pool of read-only `rusqlite` connections on the same
//! database, without the hop to sqlx's worker thread and back.
//!
//! # Why
//!
//! Every sqlx query on SQLite is sent to the connection's worker thread and its answer
//! sent back: two context switches and a wake-up per call, ~26 us of CPU for a lookup
//! whose SQL costs ~1 us. `spawn_blocking` would pay the same hop. So the lookup runs
//! right here, on the thread that polls the caller's future: a `try_lock` on one of the
//! readers, one step of a cached prepared statement, a row decoded, the lock released.
//! Nothing in it awaits, and it never blocks on another connection's lock.
//!
//! # The readers
//!
//! One connection per CPU (`std::thread::available_parallelism`), opened read-only with
//! `PRAGMA query_only = ON` and `busy_timeout` 0 (a lock is never waited for: it is a
//! fallback), each with its prepared-statement cache. A caller takes the first free
//! reader from a per-thread starting point; when every reader is in use (more threads
//! than CPUs reading at once) it waits for its own, which is held for one lookup only.
//!
//! - **A file** (WAL): the readers are ordinary connections on the file. WAL readers see
//!   the last committed transaction and never block the writer, or are blocked by it:
//!   a read answers exactly what the pool would.
//! - **`sqlite::memory:`** is a named shared-cache in-memory database
//!   (`file:tortoise-auth-memory-<pid>-<n>`, see `sqlite.rs`) kept alive by the store's
//!   keeper connection. The readers open the same name with the same shared cache, with
//!   `PRAGMA read_uncommitted = ON`. Shared-cache connections otherwise isolate by table
//!   locks: a reader would fail with `SQLITE_LOCKED` whenever a write transaction is
//!   open on one of the three tables it joins, and, worse, a reader's read lock makes a
//!   pool write fail at once (sqlx waits for it only with `sqlite-unlock-notify`, which
//!   adds a process-wide mutex to the end of every SQLite statement, and measured slower
//!   here). `read_uncommitted` takes no table locks: readers and the writer never wait
//!   for each other. The price is that a reader can see a write transaction's rows
//!   before its commit; the next section shows why that can only fail closed.
//!
//! # Why `read_uncommitted` can only fail closed
//!
//! A reader without table locks sees the shared b-trees between two b-tree operations of
//! the writer (each operation holds the shared cache's mutex, so a row is never seen half
//! written), possibly with changes not committed yet. Every write of the store to the
//! rows a lookup reads (the token, its session, the user) is one of:
//!
//! 1. **Taking access away**: logout and logout-all (`revoked_at_us` set on session rows,
//!    only where it is `NULL`), a password change (the hash and the revocation of the
//!    other sessions in one transaction), deactivation (`is_active = false` and every
//!    session revoked), refresh-token reuse (the session revoked), deleting a user (rows
//!    deleted), purging expired rows. Seen early, these refuse a token a moment before
//!    the commit would; seen and then rolled back, they refused a token that stays
//!    valid: a spurious `TokenRevoked` or `UserInactive`, never a grant. No statement of
//!    the store clears `revoked_at_us` or re-inserts a deleted row: no write ever
//!    restores access.
//! 2. **New rows nobody holds**: the session and tokens of a login or a rotation in
//!    progress. Their token texts reach the client only after the commit returns;
//!    before that nobody can present them (256 random bits), and if the transaction
//!    rolls back, nobody ever had them.
//! 3. **A rotation's session extension** (`expires_at_us` moved forward, capped at the
//!    absolute expiry): written only after the same transaction verified, under the
//!    write lock, that the refresh token is valid and its session live, as the
//!    transaction's last statement, so only a failed `COMMIT` could undo it; it extends
//!    a live session for the holder of its valid refresh token.
//! 4. **Single-statement user updates** the application asked for (`set_active`,
//!    `set_verified`, `record_login`): one `UPDATE ... WHERE id = ?` in autocommit,
//!    visible at most for that statement's own duration before its commit.
//!
//! Revocations are committed before the revoking call returns, so the very next lookup
//! after a logout sees them (`tests/inline_reads_see_every_revocation_at_once.rs` checks
//! it while 8 tasks keep authenticating).
//!
//! One more step keeps the read path's answers equal to the pool's once a call has
//! returned: sqlx rolls a dropped transaction back lazily (when the connection returns to
//! the pool), so right after a call failed inside a transaction a reader could still see
//! that call's rows. [`SqlxStore::run`](crate::SqlxStore) therefore waits, after an
//! operation failed on a store with `read_uncommitted` readers, until the pool has its
//! one connection back (which happens only after the rollback ran). The conformance
//! suite's "a failed call writes nothing" check caught this before the step existed.
//! `tests/inline_reads_only_fail_closed.rs` shows both: uncommitted revocations seen
//! early, uncommitted inserts seen and then gone, and nothing of a failed call left.
//!
//! # Fallback
//!
//! Anything unexpected answers `None` and the caller runs the sqlx path, whose answer is
//! the reference: a reader busy or locked (`SQLITE_BUSY`/`SQLITE_LOCKED`), any other
//! error (no such table before `migrate`, a schema change in progress), and any row that
//! does not decode exactly as sqlx would decode it (a column of another storage class, a
//! timestamp not in RFC 3339, invalid UTF-8). Each fallback is logged at `debug`.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::{
    AccessTokenRecord, IdKind, OffsetDateTime, SessionId, SessionStatus, StoreError, TokenDigest,
};
use auth_sql::{ColumnReader, Statements, Stmt, corrupt};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// Most prepared statements a reader caches (two per table prefix in use).
const STATEMENT_CACHE: usize = 32;

/// The read-only connections of one store (shared by its clones and by
/// [`with_table_prefix`](crate::SqlxStore::with_table_prefix) stores on the same pool).
pub(crate) struct SqliteReaders {
    readers: Box<[Mutex<Reader>]>,
    /// The readers use `read_uncommitted` (in-memory, shared cache).
    uncommitted: bool,
    /// Reads that fell back to the pool (rare: counted on one shared atomic).
    fell_back: AtomicU64,
}

/// One read-only connection and the reads it answered (counted under its lock, so the
/// hot path touches no shared counter).
struct Reader {
    conn: Connection,
    served: u64,
}

impl std::fmt::Debug for SqliteReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReaders")
            .field("connections", &self.readers.len())
            .finish()
    }
}

/// Where the readers connect.
pub(crate) enum Target<'a> {
    /// A file database (WAL), by path or `file:` URI, as sqlx opened it.
    File(&'a str),
    /// The named shared-cache in-memory database (`file:<name>`, opened with the URI
    /// flag, as sqlx opened it).
    Memory(&'a str),
}

impl SqliteReaders {
    /// Opens one reader per CPU on `target`.
    pub(crate) fn open(target: Target<'_>) -> Result<Self, rusqlite::Error> {
        let n = std::thread::available_parallelism().map_or(2, usize::from);
        let readers = (0..n)
            .map(|_| open_reader(&target).map(|conn| Mutex::new(Reader { conn, served: 0 })))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            readers: readers.into_boxed_slice(),
            uncommitted: matches!(target, Target::Memory(_)),
            fell_back: AtomicU64::new(0),
        })
    }

    /// True if the readers may see uncommitted rows (`read_uncommitted`, in memory).
    pub(crate) fn reads_uncommitted(&self) -> bool {
        self.uncommitted
    }

    /// (reads answered here, reads that fell back to the pool) so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let served = self
            .readers
            .iter()
            .map(|r| r.lock().unwrap_or_else(|p| p.into_inner()).served)
            .sum();
        (served, self.fell_back.load(Ordering::Relaxed))
    }

    /// `find_access_token` on a reader: `Some(answer)`, or `None` to fall back.
    pub(crate) fn access_token(
        &self,
        st: &Statements,
        kind: IdKind,
        digest: &TokenDigest,
    ) -> Option<Option<AccessTokenRecord>> {
        const CTX: &str = "find_access_token";
        self.lookup(CTX, &st.access_lookup, "digest", |stmt| {
            query_one(stmt, digest.as_bytes().as_slice(), CTX, |row| {
                row.access_record(kind)
            })
        })
    }

    /// `session_status` on a reader: `Some(answer)`, or `None` to fall back.
    pub(crate) fn session_status(
        &self,
        st: &Statements,
        kind: IdKind,
        id: &SessionId,
    ) -> Option<Option<SessionStatus>> {
        const CTX: &str = "session_status";
        self.lookup(CTX, &st.session_status, "id", |stmt| {
            query_one(stmt, id.to_hex().as_str(), CTX, |row| {
                row.session_status(0, kind)
            })
        })
    }

    /// Runs `read` with `stmt` prepared on a free reader. `None` (logged) when no reader
    /// is free, the statement does not have the one expected bind, or anything fails.
    fn lookup<T>(
        &self,
        context: &'static str,
        stmt: &Stmt,
        bind: &'static str,
        read: impl FnOnce(&mut rusqlite::CachedStatement<'_>) -> Result<T, Fallback>,
    ) -> Option<T> {
        if stmt.binds() != [bind] {
            tracing::debug!(operation = context, "inline read: unexpected binds");
            self.fell_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut reader = self.reader();
        let result = reader
            .conn
            .prepare_cached(stmt.sql())
            .map_err(Fallback::Sqlite)
            .and_then(|mut prepared| read(&mut prepared));
        if result.is_ok() {
            reader.served += 1;
        }
        drop(reader);
        if result.is_err() {
            self.fell_back.fetch_add(1, Ordering::Relaxed);
        }
        match result {
            Ok(found) => Some(found),
            Err(Fallback::Sqlite(err)) => {
                let locked = matches!(
                    err.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                );
                tracing::debug!(operation = context, locked, error = %err, "inline read failed: falling back");
                None
            }
            Err(Fallback::Decode(err)) => {
                tracing::debug!(operation = context, error = %err, "inline read: row not decoded, falling back");
                None
            }
        }
    }

    /// The first reader free, starting at this thread's own; if every one is in use
    /// (more threads reading than CPUs), this thread's own as soon as its holder is done.
    /// A reader is held for one lookup only, never across an await or a wait for a
    /// database lock (those fall back), so the wait is one lookup's time at most.
    fn reader(&self) -> std::sync::MutexGuard<'_, Reader> {
        thread_local! {
            static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let start = SLOT.with(|slot| {
            if slot.get() == usize::MAX {
                slot.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            slot.get()
        });
        let n = self.readers.len();
        (0..n)
            .find_map(|i| match self.readers[(start + i) % n].try_lock() {
                Ok(reader) => Some(reader),
                // A panic while a reader was held left nothing half-done (reads only,
                // and statements are reset on drop): take it.
                Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            })
            .unwrap_or_else(|| {
                self.readers[start % n]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            })
    }
}

fn open_reader(target: &Target<'_>) -> Result<Connection, rusqlite::Error> {
    let base = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match target {
        Target::File(path) => {
            Connection::open_with_flags(path, base | OpenFlags::SQLITE_OPEN_PRIVATE_CACHE)?
        }
        Target::Memory(name) => Connection::open_with_flags(
            name,
            base | OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE,
        )?,
    };
    // Never wait for a lock: waiting is what the fallback is for.
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "query_only", true)?;
    if matches!(target, Target::Memory(_)) {
        // No shared-cache table locks (the module docs show why this fails closed).
        conn.pragma_update(None, "read_uncommitted", true)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Why a read fell back.
enum Fallback {
    Sqlite(rusqlite::Error),
    Decode(StoreError),
}

/// Binds `arg` (the statement's one bind), steps once and decodes the first row, if any.
fn query_one<T>(
    stmt: &mut rusqlite::CachedStatement<'_>,
    arg: impl rusqlite::ToSql,
    context: &'static str,
    decode: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, Fallback> {
    let mut rows = stmt.query([arg]).map_err(Fallback::Sqlite)?;
    match rows.next().map_err(Fallback::Sqlite)? {
        None => Ok(None),
        Some(row) => decode(&Row { row, context })
            .map(Some)
            .map_err(Fallback::Decode),
    }
}

/// A `rusqlite` row read exactly as sqlx's SQLite decoding reads it, or an error (the
/// caller then falls back to sqlx, which decides).
struct Row<'r> {
    row: &'r rusqlite::Row<'r>,
    context: &'static str,
}

impl Row<'_> {
    fn value(&self, i: usize) -> Result<ValueRef<'_>, StoreError> {
        self.row
            .get_ref(i)
            .map_err(|_| corrupt(self.context, "column out of range"))
    }

    fn unexpected(&self) -> StoreError {
        corrupt(self.context, "unexpected storage class")
    }
}

impl ColumnReader for Row<'_> {
    fn context(&self) -> &'static str {
        self.context
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            _ => Err(self.unexpected()),
        }
    }

    fn opt_i16(&self, i: usize) -> Result<Option<i16>, StoreError> {
        match self.opt_i64(i)? {
            None => Ok(None),
            Some(v) => i16::try_from(v).map(Some).map_err(|_| self.unexpected()),
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| corrupt(self.context, "invalid UTF-8")),
            _ => Err(self.unexpected()),
        }
    }

    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(bytes) => Ok(Some(bytes.to_vec())),
            _ => Err(self.unexpected()),
        }
    }

    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        // sqlx: `int64() != 0`.
        Ok(self.opt_i64(i)?.map(|v| v != 0))
    }

    fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError> {
        // sqlx tries RFC 3339 first (what the store writes), then other layouts: only
        // the first is decoded here; anything else falls back to sqlx.
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| {
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
                })
                .map(Some)
                .ok_or_else(|| corrupt(self.context, "timestamp not in RFC 3339")),
            ValueRef::Integer(v) => OffsetDateTime::from_unix_timestamp(v)
                .map(Some)
                .map_err(|_| self.unexpected()),
            _ => Err(self.unexpected()),
        }
    }
}
