//! Every SQL statement of the SQLite store, in one place.
//!
//! Statements are built once per store from the (validated, quoted) table names and kept as
//! `Arc<str>`, so each call only clones a pointer and sqlx's per-connection prepared
//! statement cache is hit. Parameters are always bound (`?N`), never formatted in.

use std::sync::Arc;

use auth_core::{IdKind, TokenKind};

use crate::ident::quoted;
use crate::migrate::Migration;
use crate::user_table::UserTable;

/// Is there a table of this name? (`?1`: the name.)
pub(crate) const TABLE_EXISTS: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1";

/// The column names of a table (`?1`: the table name).
pub(crate) const TABLE_COLUMNS: &str = "SELECT name FROM pragma_table_info(?1)";

/// Takes the write lock up front, so a read-then-write transaction never fails with
/// `SQLITE_BUSY` half-way (it waits for `busy_timeout` at `BEGIN` instead) and concurrent
/// rotations serialize.
pub(crate) const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// The statements of one store (one table prefix, one user table).
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) users_table_name: String,
    pub(crate) create_users_table: String,
    pub(crate) create_migrations_table: String,
    pub(crate) applied_versions: Arc<str>,
    pub(crate) record_version: Arc<str>,
    pub(crate) migrations: Vec<Migration>,

    pub(crate) create_user: Arc<str>,
    pub(crate) user_by_email: Arc<str>,
    pub(crate) user_by_id: Arc<str>,
    pub(crate) set_password: Arc<str>,
    pub(crate) replace_password: Arc<str>,
    pub(crate) record_login: Arc<str>,
    pub(crate) set_active: Arc<str>,
    pub(crate) set_verified: Arc<str>,

    pub(crate) insert_session: Arc<str>,
    pub(crate) insert_token: Arc<str>,
    pub(crate) access_lookup: Arc<str>,
    pub(crate) rotate_spend: Arc<str>,
    pub(crate) rotate_classify: Arc<str>,
    pub(crate) session_extend: Arc<str>,
    pub(crate) session_revoke_by_id: Arc<str>,
    pub(crate) revoke_session: Arc<str>,
    pub(crate) revoke_user_sessions: Arc<str>,
    pub(crate) list_sessions: Arc<str>,
    pub(crate) purge_sessions: Arc<str>,
    pub(crate) purge_tokens: Arc<str>,
    pub(crate) consume_single_use: Arc<str>,
}

/// The column type of a user key in SQLite: integers as `INTEGER`, UUIDs as hyphenated
/// `TEXT`.
fn key_type(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Integer => "INTEGER",
        IdKind::Uuid => "TEXT",
    }
}

impl Sql {
    /// Builds every statement. `prefix` and the user table's names must have been validated.
    pub(crate) fn new(prefix: &str, users: &UserTable) -> Self {
        let u = quoted(users.table());
        let id = quoted(users.id_column_name());
        let s = quoted(&format!("{prefix}auth_sessions"));
        let k = quoted(&format!("{prefix}auth_tokens"));
        let m = quoted(&format!("{prefix}auth_migrations"));
        let sessions_user_idx = quoted(&format!("{prefix}auth_sessions_user_id"));
        let tokens_session_idx = quoted(&format!("{prefix}auth_tokens_session_id"));
        let kt = key_type(users.id_kind());
        let refresh = TokenKind::Refresh.code();

        // The key, then the 8 library columns in LIBRARY_COLUMNS order, then nothing else.
        let user_cols = |alias: &str| {
            format!(
                "{alias}{id}, {alias}\"email\", {alias}\"password\", {alias}\"last_login\", \
                 {alias}\"is_active\", {alias}\"is_verified\", {alias}\"joined_at\", \
                 {alias}\"created_at\", {alias}\"updated_at\""
            )
        };
        let plain_cols = user_cols("");
        let joined_cols = user_cols("u.");

        let id_ddl = match users.id_kind() {
            // AUTOINCREMENT: a deleted user's id is never handed out again, so a stale
            // session row can never point at a new user.
            IdKind::Integer => format!("{id} INTEGER PRIMARY KEY AUTOINCREMENT"),
            IdKind::Uuid => format!("{id} TEXT(36) NOT NULL PRIMARY KEY"),
        };
        let extra = if users.extra_columns_ddl().is_empty() {
            String::new()
        } else {
            format!(",\n  {}", users.extra_columns_ddl())
        };
        let create_users_table = format!(
            "CREATE TABLE IF NOT EXISTS {u} (\n  {id_ddl},\n  \
             \"email\" TEXT NOT NULL UNIQUE,\n  \
             \"password\" TEXT NOT NULL DEFAULT '',\n  \
             \"last_login\" DATETIME NULL,\n  \
             \"is_active\" BOOLEAN NOT NULL DEFAULT 1,\n  \
             \"is_verified\" BOOLEAN NOT NULL DEFAULT 0,\n  \
             \"joined_at\" DATETIME NULL,\n  \
             \"created_at\" DATETIME NOT NULL,\n  \
             \"updated_at\" DATETIME NOT NULL{extra}\n)"
        );

        let migrations = vec![Migration {
            version: 1,
            name: "sessions and tokens",
            statements: vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (\n  \
                     id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 32),\n  \
                     user_id {kt} NOT NULL,\n  \
                     created_at_us INTEGER NOT NULL,\n  \
                     refreshed_at_us INTEGER NULL,\n  \
                     expires_at_us INTEGER NOT NULL,\n  \
                     revoked_at_us INTEGER NULL\n) WITHOUT ROWID"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {sessions_user_idx} ON {s} (user_id, created_at_us)"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (\n  \
                     digest BLOB NOT NULL PRIMARY KEY CHECK (length(digest) = 32),\n  \
                     kind INTEGER NOT NULL,\n  \
                     session_id TEXT NULL REFERENCES {s} (id) ON DELETE CASCADE,\n  \
                     user_id {kt} NOT NULL,\n  \
                     expires_at_us INTEGER NOT NULL,\n  \
                     spent_at_us INTEGER NULL\n) WITHOUT ROWID"
                ),
                format!("CREATE INDEX IF NOT EXISTS {tokens_session_idx} ON {k} (session_id)"),
            ],
        }];

        let a = |sql: String| -> Arc<str> { sql.into() };
        Self {
            users_table_name: users.table().to_owned(),
            create_users_table,
            create_migrations_table: format!(
                "CREATE TABLE IF NOT EXISTS {m} (\n  \
                 version INTEGER NOT NULL PRIMARY KEY,\n  name TEXT NOT NULL\n)"
            ),
            applied_versions: a(format!("SELECT version FROM {m} ORDER BY version")),
            record_version: a(format!("INSERT INTO {m} (version, name) VALUES (?1, ?2)")),
            migrations,

            create_user: a(match users.id_kind() {
                IdKind::Integer => format!(
                    "INSERT INTO {u} (\"email\", \"password\", \"last_login\", \"is_active\", \
                     \"is_verified\", \"joined_at\", \"created_at\", \"updated_at\") \
                     VALUES (?1, ?5, NULL, ?2, ?3, ?4, ?4, ?4) RETURNING {id}"
                ),
                IdKind::Uuid => format!(
                    "INSERT INTO {u} ({id}, \"email\", \"password\", \"last_login\", \
                     \"is_active\", \"is_verified\", \"joined_at\", \"created_at\", \
                     \"updated_at\") \
                     VALUES (?6, ?1, ?5, NULL, ?2, ?3, ?4, ?4, ?4) RETURNING {id}"
                ),
            }),
            user_by_email: a(format!("SELECT {plain_cols} FROM {u} WHERE \"email\" = ?1")),
            user_by_id: a(format!("SELECT {plain_cols} FROM {u} WHERE {id} = ?1")),
            set_password: a(format!(
                "UPDATE {u} SET \"password\" = ?1, \"updated_at\" = ?2 WHERE {id} = ?3"
            )),
            replace_password: a(format!(
                "UPDATE {u} SET \"password\" = ?1, \"updated_at\" = ?2 \
                 WHERE {id} = ?3 AND \"password\" = ?4"
            )),
            record_login: a(format!(
                "UPDATE {u} SET \"last_login\" = ?1, \"updated_at\" = ?1 WHERE {id} = ?2"
            )),
            set_active: a(format!(
                "UPDATE {u} SET \"is_active\" = ?1, \"updated_at\" = ?2 WHERE {id} = ?3"
            )),
            set_verified: a(format!(
                "UPDATE {u} SET \"is_verified\" = ?1, \"updated_at\" = ?2 WHERE {id} = ?3"
            )),

            insert_session: a(format!(
                "INSERT INTO {s} (id, user_id, created_at_us, refreshed_at_us, expires_at_us, \
                 revoked_at_us) VALUES (?1, ?2, ?3, NULL, ?4, NULL)"
            )),
            insert_token: a(format!(
                "INSERT INTO {k} (digest, kind, session_id, user_id, expires_at_us, \
                 spent_at_us) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"
            )),
            access_lookup: a(format!(
                "SELECT k.kind, k.expires_at_us, s.id, s.revoked_at_us, {joined_cols} \
                 FROM {k} AS k \
                 JOIN {s} AS s ON s.id = k.session_id \
                 JOIN {u} AS u ON u.{id} = s.user_id \
                 WHERE k.digest = ?1"
            )),
            rotate_spend: a(format!(
                "UPDATE {k} SET spent_at_us = ?1 \
                 WHERE digest = ?2 AND kind = {refresh} AND spent_at_us IS NULL \
                 AND expires_at_us > ?1 \
                 AND EXISTS (SELECT 1 FROM {s} AS s WHERE s.id = {k}.session_id \
                 AND s.revoked_at_us IS NULL AND s.expires_at_us > ?1) \
                 RETURNING session_id, user_id"
            )),
            rotate_classify: a(format!(
                "SELECT k.kind, k.session_id, k.user_id, k.expires_at_us, k.spent_at_us, \
                 s.revoked_at_us, s.expires_at_us \
                 FROM {k} AS k LEFT JOIN {s} AS s ON s.id = k.session_id \
                 WHERE k.digest = ?1"
            )),
            session_extend: a(format!(
                "UPDATE {s} SET expires_at_us = ?1, refreshed_at_us = ?2 WHERE id = ?3"
            )),
            session_revoke_by_id: a(format!(
                "UPDATE {s} SET revoked_at_us = ?1 WHERE id = ?2 AND revoked_at_us IS NULL"
            )),
            revoke_session: a(format!(
                "UPDATE {s} SET revoked_at_us = ?1 \
                 WHERE id = ?2 AND user_id = ?3 AND revoked_at_us IS NULL \
                 AND expires_at_us > ?1"
            )),
            revoke_user_sessions: a(format!(
                "UPDATE {s} SET revoked_at_us = ?1 \
                 WHERE user_id = ?2 AND revoked_at_us IS NULL AND expires_at_us > ?1 \
                 AND (?3 IS NULL OR id <> ?3)"
            )),
            list_sessions: a(format!(
                "SELECT id, user_id, created_at_us, refreshed_at_us, expires_at_us FROM {s} \
                 WHERE user_id = ?1 AND revoked_at_us IS NULL AND expires_at_us > ?2 \
                 ORDER BY created_at_us DESC, id DESC"
            )),
            purge_sessions: a(format!(
                "DELETE FROM {s} WHERE id IN (SELECT id FROM {s} \
                 WHERE expires_at_us < ?1 OR revoked_at_us < ?1 LIMIT ?2)"
            )),
            purge_tokens: a(format!(
                "DELETE FROM {k} WHERE digest IN (SELECT digest FROM {k} \
                 WHERE expires_at_us < ?1 OR (session_id IS NULL AND spent_at_us < ?1) \
                 LIMIT ?2)"
            )),
            consume_single_use: a(format!(
                "UPDATE {k} SET spent_at_us = ?1 \
                 WHERE digest = ?2 AND kind = ?3 AND session_id IS NULL \
                 AND spent_at_us IS NULL AND expires_at_us > ?1 \
                 RETURNING user_id"
            )),
        }
    }
}
