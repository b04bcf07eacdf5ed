//! The stores under test, each on a private database made for the run and dropped at its
//! end: SQLite in memory, a SQLite file in a new temporary directory, a new PostgreSQL
//! schema (for `postgres`, sqlx's `PgStore`, and `postgres-tokio`, `PostgresStore`), a
//! new MySQL/MariaDB database.

use std::sync::Arc;

use auth_core::{IdKind, UserId, UserStore};
use auth_facade::{AuthConfig, AuthService, AuthServiceBuilder};
use auth_store_sqlx::{MySqlStore, PgStore, SqliteStore, UserTable};
use sqlx::{AssertSqlSafe, Connection};

/// Every backend the harness knows, in run order.
pub const BACKENDS: &[&str] = &[
    "sqlite-memory",
    "sqlite-file",
    "postgres",
    "postgres-tokio",
    "mysql",
];

/// The reference's server URLs and defaults.
pub fn postgres_url() -> String {
    std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// See [`postgres_url`].
pub fn mysql_url() -> String {
    std::env::var("AUTH_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// The application's user table in every bench database.
pub fn users() -> UserTable {
    UserTable::new("users", IdKind::Integer)
}

/// One store, whatever its type.
#[derive(Clone)]
pub enum Store {
    /// `sqlite-memory`, `sqlite-file`.
    Sqlite(SqliteStore),
    /// `postgres` (sqlx).
    Pg(PgStore),
    /// `mysql` (sqlx).
    MySql(MySqlStore),
    /// `postgres-tokio` (`auth-store-postgres`).
    PgTokio(auth_store_postgres::PostgresStore),
}

impl Store {
    /// The same store on tables named with `prefix` (migrated).
    pub async fn with_prefix(&self, prefix: &str) -> Result<Store, String> {
        let e = |e: auth_core::StoreError| e.to_string();
        Ok(match self {
            Store::Sqlite(s) => {
                let s = s.clone().with_table_prefix(prefix).map_err(e)?;
                s.migrate().await.map_err(e)?;
                Store::Sqlite(s)
            }
            Store::Pg(s) => {
                let s = s.clone().with_table_prefix(prefix).map_err(e)?;
                s.migrate().await.map_err(e)?;
                Store::Pg(s)
            }
            Store::MySql(s) => {
                let s = s.clone().with_table_prefix(prefix).map_err(e)?;
                s.migrate().await.map_err(e)?;
                Store::MySql(s)
            }
            Store::PgTokio(s) => {
                let s = s.clone().with_table_prefix(prefix).map_err(e)?;
                s.migrate().await.map_err(e)?;
                Store::PgTokio(s)
            }
        })
    }

    /// A service on this store: `adjust` picks the token backend, notifier, ...
    pub fn service(
        &self,
        config: AuthConfig,
        adjust: impl FnOnce(AuthServiceBuilder) -> AuthServiceBuilder,
    ) -> Result<AuthService, String> {
        let builder = AuthService::builder(config);
        let builder = match self {
            Store::Sqlite(s) => builder.store(s.clone()),
            Store::Pg(s) => builder.store(s.clone()),
            Store::MySql(s) => builder.store(s.clone()),
            Store::PgTokio(s) => builder.store(s.clone()),
        };
        adjust(builder).build().map_err(|e| e.to_string())
    }

    /// The store as a user store (password hashes set directly, untimed).
    pub fn users(&self) -> Arc<dyn UserStore> {
        match self {
            Store::Sqlite(s) => Arc::new(s.clone()),
            Store::Pg(s) => Arc::new(s.clone()),
            Store::MySql(s) => Arc::new(s.clone()),
            Store::PgTokio(s) => Arc::new(s.clone()),
        }
    }

    /// The inline SQLite read path's (answered, fell back) counts, if it has one.
    pub fn fast_read_counts(&self) -> Option<(u64, u64)> {
        match self {
            Store::Sqlite(s) if s.has_fast_reads() => Some(s.fast_read_counts()),
            _ => None,
        }
    }

    /// The table prefix.
    pub fn prefix(&self) -> &str {
        match self {
            Store::Sqlite(s) => s.table_prefix(),
            Store::Pg(s) => s.table_prefix(),
            Store::MySql(s) => s.table_prefix(),
            Store::PgTokio(s) => s.table_prefix(),
        }
    }
}

/// A backend's database for one run, and how to drop it.
pub struct Database {
    /// The backend's name.
    pub backend: &'static str,
    /// The store on it (migrated).
    pub store: Store,
    /// Set-up SQL: the same database through sqlx (for `postgres-tokio` too).
    pub raw: Raw,
    drop: Drop,
}

/// A connection pool for set-up SQL.
#[derive(Clone)]
pub enum Raw {
    /// SQLite (the store's own pool).
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL, in the run's schema.
    Pg(sqlx::PgPool),
    /// MySQL, in the run's database.
    MySql(sqlx::MySqlPool),
}

impl Raw {
    /// Runs set-up SQL (no binds).
    pub async fn exec(&self, sql: &str) -> Result<u64, String> {
        let sql = AssertSqlSafe(sql.to_owned());
        let n = match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Raw::Pg(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Raw::MySql(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        };
        n.map_err(|e| format!("{e}"))
    }
}

enum Drop {
    Nothing,
    Dir(std::path::PathBuf),
    PgSchema(String),
    MySqlDatabase(String),
}

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "auth_bench_{}_{:06x}",
        std::process::id(),
        nanos & 0xff_ffff
    )
}

/// Replaces the database (path) of a URL, keeping its query.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let server = head.rsplit_once('/').map_or(head, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A URL whose connections use `schema` (PostgreSQL `search_path`).
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Opens `backend` on a new private database, migrated, with the store's defaults.
pub async fn open(backend: &str) -> Result<Database, String> {
    let e = |e: auth_core::StoreError| e.to_string();
    let s = |e: sqlx::Error| e.to_string();
    match backend {
        "sqlite-memory" => {
            let store = SqliteStore::connect("sqlite::memory:", users())
                .await
                .map_err(e)?;
            store.migrate().await.map_err(e)?;
            Ok(Database {
                backend: "sqlite-memory",
                raw: Raw::Sqlite(store.pool().clone()),
                store: Store::Sqlite(store),
                drop: Drop::Nothing,
            })
        }
        "sqlite-file" => {
            let dir = std::env::temp_dir().join(unique_name());
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            let store = SqliteStore::connect(&url, users()).await.map_err(e)?;
            store.migrate().await.map_err(e)?;
            Ok(Database {
                backend: "sqlite-file",
                raw: Raw::Sqlite(store.pool().clone()),
                store: Store::Sqlite(store),
                drop: Drop::Dir(dir),
            })
        }
        "postgres" | "postgres-tokio" => {
            let base = postgres_url();
            let schema = unique_name();
            let mut admin = sqlx::PgConnection::connect(&base).await.map_err(s)?;
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
                .execute(&mut admin)
                .await
                .map_err(s)?;
            let url = with_search_path(&base, &schema);
            let raw = sqlx::PgPool::connect(&url).await.map_err(s)?;
            let store = if backend == "postgres" {
                let store = PgStore::connect(&url, users()).await.map_err(e)?;
                store.migrate().await.map_err(e)?;
                Store::Pg(store)
            } else {
                let store = auth_store_postgres::PostgresStore::connect(&url, users())
                    .await
                    .map_err(e)?;
                store.migrate().await.map_err(e)?;
                Store::PgTokio(store)
            };
            Ok(Database {
                backend: if backend == "postgres" {
                    "postgres"
                } else {
                    "postgres-tokio"
                },
                store,
                raw: Raw::Pg(raw),
                drop: Drop::PgSchema(schema),
            })
        }
        "mysql" => {
            let base = mysql_url();
            let db = unique_name();
            let mut admin = sqlx::MySqlConnection::connect(&base).await.map_err(s)?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{db}`")))
                .execute(&mut admin)
                .await
                .map_err(s)?;
            let url = with_database(&base, &db);
            let raw = sqlx::MySqlPool::connect(&url).await.map_err(s)?;
            let store = MySqlStore::connect(&url, users()).await.map_err(e)?;
            store.migrate().await.map_err(e)?;
            Ok(Database {
                backend: "mysql",
                store: Store::MySql(store),
                raw: Raw::MySql(raw),
                drop: Drop::MySqlDatabase(db),
            })
        }
        other => Err(format!(
            "unknown backend {other} (choose from {})",
            BACKENDS.join(", ")
        )),
    }
}

impl Database {
    /// Drops the run's schema, database or directory.
    pub async fn remove(self) {
        let result: Result<(), String> = async {
            match &self.drop {
                Drop::Nothing => {}
                Drop::Dir(dir) => std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?,
                Drop::PgSchema(schema) => {
                    let mut admin = sqlx::PgConnection::connect(&postgres_url())
                        .await
                        .map_err(|e| e.to_string())?;
                    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
                        .execute(&mut admin)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Drop::MySqlDatabase(db) => {
                    let mut admin = sqlx::MySqlConnection::connect(&mysql_url())
                        .await
                        .map_err(|e| e.to_string())?;
                    sqlx::query(AssertSqlSafe(format!("DROP DATABASE `{db}`")))
                        .execute(&mut admin)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            eprintln!(
                "[{}] WARNING: could not drop the run's database: {e}",
                self.backend
            );
        }
    }
}

/// Bulk-inserts `count` live sessions of `user`, each with one live access token (random
/// digests), into the tables of `prefix`, in one statement per table: the rows a busy
/// service would hold, without going through the service.
pub async fn bulk_live_tokens(
    raw: &Raw,
    prefix: &str,
    user: &UserId,
    first: u64,
    count: u64,
) -> Result<(), String> {
    let UserId::Int(uid) = user else {
        return Err("integer user ids only".into());
    };
    let far = 4_102_444_800_000_000_i64; // 2100-01-01, unix µs
    let access = auth_core::TokenKind::Access.code();
    let last = first + count - 1;
    let (s, k) = (
        format!("{prefix}auth_sessions"),
        format!("{prefix}auth_tokens"),
    );
    match raw {
        Raw::Sqlite(_) => {
            let n = format!(
                "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last})"
            );
            raw.exec(&format!(
                "{n} INSERT INTO {s} (id, user_id, created_at_us, expires_at_us, absolute_expires_at_us) \
                 SELECT printf('ee%030x', i), {uid}, 0, {far}, {far} FROM n"
            ))
            .await?;
            raw.exec(&format!(
                "{n} INSERT INTO {k} (digest, kind, session_id, expires_at_us) \
                 SELECT randomblob(32), {access}, printf('ee%030x', i), {far} FROM n"
            ))
            .await?;
        }
        Raw::Pg(_) => {
            let n = format!("generate_series({first}::bigint, {last}::bigint) AS n(i)");
            raw.exec(&format!(
                "INSERT INTO {s} (id, user_id, created_at_us, expires_at_us, absolute_expires_at_us) \
                 SELECT 'ee' || lpad(to_hex(i), 30, '0'), {uid}, 0, {far}, {far} FROM {n}"
            ))
            .await?;
            raw.exec(&format!(
                "INSERT INTO {k} (digest, kind, session_id, expires_at_us) \
                 SELECT decode(md5('a' || i) || md5('b' || i), 'hex'), {access}, \
                 'ee' || lpad(to_hex(i), 30, '0'), {far} FROM {n}"
            ))
            .await?;
        }
        Raw::MySql(_) => {
            // A digits table (0..999) crossed with itself: no recursion depth limits.
            let d = format!("{prefix}bench_digits");
            raw.exec(&format!(
                "CREATE TABLE IF NOT EXISTS {d} (i INT PRIMARY KEY)"
            ))
            .await?;
            let values: Vec<String> = (0..1000).map(|i| format!("({i})")).collect();
            raw.exec(&format!(
                "INSERT IGNORE INTO {d} (i) VALUES {}",
                values.join(",")
            ))
            .await?;
            let n = format!(
                "(SELECT a.i * 1000 + b.i + {first} AS i FROM {d} a CROSS JOIN {d} b \
                 WHERE a.i * 1000 + b.i < {count}) AS n"
            );
            raw.exec(&format!(
                "INSERT INTO {s} (id, user_id, created_at_us, expires_at_us, absolute_expires_at_us) \
                 SELECT CONCAT('ee', LPAD(LOWER(HEX(i)), 30, '0')), {uid}, 0, {far}, {far} FROM {n}"
            ))
            .await?;
            raw.exec(&format!(
                "INSERT INTO {k} (digest, kind, session_id, expires_at_us) \
                 SELECT UNHEX(SHA2(CONCAT('t', i), 256)), {access}, \
                 CONCAT('ee', LPAD(LOWER(HEX(i)), 30, '0')), {far} FROM {n}"
            ))
            .await?;
        }
    }
    Ok(())
}

/// One session row and its two token rows, as a login would write them.
pub struct SessionRows {
    /// The session id (32 hex digits).
    pub id: String,
    /// Its user.
    pub user: UserId,
    /// The access token's digest.
    pub access: [u8; 32],
    /// The refresh token's digest.
    pub refresh: [u8; 32],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts `rows` (sessions live for a day, access tokens 15 minutes, refresh tokens a
/// day) into the tables of `prefix`: two statements, whatever the count. The set-up of
/// the benches whose call uses a session up (the reference makes them in batches too).
pub async fn bulk_sessions(raw: &Raw, prefix: &str, rows: &[SessionRows]) -> Result<(), String> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = i64::try_from(auth_core::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000)
        .map_err(|e| e.to_string())?;
    let (day, quarter) = (86_400_000_000_i64, 900_000_000_i64);
    let blob = |b: &[u8]| match raw {
        Raw::Pg(_) => format!("'\\x{}'::bytea", hex(b)),
        Raw::Sqlite(_) | Raw::MySql(_) => format!("X'{}'", hex(b)),
    };
    let uid = |u: &UserId| match u {
        UserId::Int(v) => v.to_string(),
        UserId::Uuid(v) => format!("'{v}'"),
    };
    let sessions: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "('{}', {}, {now}, {}, {})",
                r.id,
                uid(&r.user),
                now + day,
                now + 30 * day
            )
        })
        .collect();
    raw.exec(&format!(
        "INSERT INTO {prefix}auth_sessions (id, user_id, created_at_us, expires_at_us, \
         absolute_expires_at_us) VALUES {}",
        sessions.join(", ")
    ))
    .await?;
    let access = auth_core::TokenKind::Access.code();
    let refresh = auth_core::TokenKind::Refresh.code();
    let tokens: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            [
                format!(
                    "({}, {access}, '{}', {})",
                    blob(&r.access),
                    r.id,
                    now + quarter
                ),
                format!(
                    "({}, {refresh}, '{}', {})",
                    blob(&r.refresh),
                    r.id,
                    now + day
                ),
            ]
        })
        .collect();
    raw.exec(&format!(
        "INSERT INTO {prefix}auth_tokens (digest, kind, session_id, expires_at_us) VALUES {}",
        tokens.join(", ")
    ))
    .await?;
    Ok(())
}

/// Inserts `count` active users without a password (what `logout_all` needs: rows its
/// sessions can reference) in one statement; their ids.
pub async fn bulk_users(raw: &Raw, count: usize) -> Result<Vec<UserId>, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static BATCH: AtomicU64 = AtomicU64::new(0);
    let tag = format!("bulk{}x", BATCH.fetch_add(1, Ordering::Relaxed));
    let (yes, no, at) = match raw {
        Raw::Sqlite(_) => ("1", "0", "'2026-01-01T00:00:00Z'"),
        Raw::Pg(_) => ("TRUE", "FALSE", "'2026-01-01 00:00:00+00'"),
        Raw::MySql(_) => ("1", "0", "'2026-01-01 00:00:00'"),
    };
    let values: Vec<String> = (0..count)
        .map(|i| format!("('{tag}{i}@example.com', '', {yes}, {no}, {at}, {at}, {at})"))
        .collect();
    raw.exec(&format!(
        "INSERT INTO users (email, password, is_active, is_verified, joined_at, created_at, \
         updated_at) VALUES {}",
        values.join(", ")
    ))
    .await?;
    let select = AssertSqlSafe(format!(
        "SELECT CAST(id AS {}) FROM users WHERE email LIKE '{tag}%'",
        if matches!(raw, Raw::MySql(_)) {
            "SIGNED"
        } else {
            "BIGINT"
        }
    ));
    let ids: Vec<i64> = match raw {
        Raw::Sqlite(p) => sqlx::query_scalar(select).fetch_all(p).await,
        Raw::Pg(p) => sqlx::query_scalar(select).fetch_all(p).await,
        Raw::MySql(p) => sqlx::query_scalar(select).fetch_all(p).await,
    }
    .map_err(|e| e.to_string())?;
    if ids.len() != count {
        return Err(format!("{} of {count} bulk users found", ids.len()));
    }
    Ok(ids.into_iter().map(UserId::Int).collect())
}
