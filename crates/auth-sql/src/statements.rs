//! [`Statements`]: every statement of a SQL store, built once per (dialect, table prefix,
//! user table).

use auth_core::{IdKind, TokenKind};

use crate::dialect::Dialect;
use crate::ident::{BadIdentifier, check_prefix};
use crate::stmt::Stmt;
use crate::user_table::UserTable;

/// The number of user columns every user-reading statement selects, in this order: the key
/// as text, then [`LIBRARY_COLUMNS`](crate::LIBRARY_COLUMNS) (`email`, `password`,
/// `last_login`, `is_active`, `is_verified`, `joined_at`, `created_at`, `updated_at`).
pub const USER_COLUMN_COUNT: usize = 9;

/// The number of session columns [`Statements::access_lookup`] and
/// [`Statements::session_status`] select before the user columns: `s.id`,
/// `s.revoked_at_us`, `s.expires_at_us`, `s.absolute_expires_at_us`, `s.claims`.
pub const SESSION_STATUS_COLUMN_COUNT: usize = 5;

/// The names of the library's tables for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// `{prefix}auth_sessions`.
    pub sessions: String,
    /// `{prefix}auth_tokens`: access and refresh tokens of sessions.
    pub tokens: String,
    /// `{prefix}auth_single_use_tokens`: password-reset and verification tokens.
    pub single_use_tokens: String,
    /// `{prefix}auth_rate_limits`.
    pub rate_limits: String,
    /// `{prefix}auth_migrations`: the applied schema versions.
    pub migrations: String,
}

impl TableNames {
    /// The names for `prefix` (unchecked: see [`check_prefix`](crate::check_prefix)).
    pub fn new(prefix: &str) -> Self {
        Self {
            sessions: format!("{prefix}auth_sessions"),
            tokens: format!("{prefix}auth_tokens"),
            single_use_tokens: format!("{prefix}auth_single_use_tokens"),
            rate_limits: format!("{prefix}auth_rate_limits"),
            migrations: format!("{prefix}auth_migrations"),
        }
    }
}

/// Every statement a SQL store runs, as text for one dialect with its named binds.
///
/// The doc of each field lists its binds in order (`name: type`) and its result columns.
/// Times named `*_at`/`now`/`before` are unix microseconds (`i64`) unless they are
/// user-table times ([`Value::Time`](crate::Value::Time)); `user_id`/`id` of the user table
/// is a [`Value::UserId`](crate::Value::UserId); session ids are 32-hex-digit text;
/// digests are 32 bytes; `kind` is [`TokenKind::code`].
///
/// Statements whose binds differ between dialects say so; bind those with
/// [`Args::by_name`](crate::Args::by_name).
#[derive(Debug, Clone)]
pub struct Statements {
    /// The dialect.
    pub dialect: Dialect,
    /// The library's table names.
    pub tables: TableNames,

    // ---- users ---------------------------------------------------------------------
    /// Inserts a user unless one with the same folded email exists (0 rows affected then).
    /// Binds: [`id`: user id, UUID tables only], `email`, `password`, `is_active`,
    /// `is_verified`, `joined_at`, `created_at`, `updated_at` (times), `folded_email`
    /// (text, ASCII-lower-cased). Returns the key as text on SQLite and PostgreSQL for
    /// integer tables (`RETURNING`); see [`Statements::user_last_insert_id`] for MySQL.
    pub user_insert: Stmt,
    /// MySQL with integer keys only: `LAST_INSERT_ID()` as text. No binds.
    pub user_last_insert_id: Option<Stmt>,
    /// The user whose folded email is `email` (an exact match first, then the lowest key).
    /// Binds: `email` (folded), `exact_email`. Columns: the [`USER_COLUMN_COUNT`] user
    /// columns.
    pub user_by_email: Stmt,
    /// The user with this key. Binds: `id`. Columns: the user columns.
    pub user_by_id: Stmt,
    /// A locking read (PostgreSQL `FOR SHARE`, MySQL `LOCK IN SHARE MODE`) of
    /// `is_active` and `password`. Binds: `id`. Columns: `is_active`, `password`.
    pub credentials_current: Stmt,
    /// Locks the user row for update (plain read on SQLite). Binds: `id`. Column: `1`.
    pub user_lock: Stmt,
    /// Binds: `password`, `updated_at` (time), `id`.
    pub user_set_password: Stmt,
    /// Compare-and-set of the hash (byte-exact comparison). Binds: `password`,
    /// `updated_at` (time), `id`, `expected`.
    pub user_replace_password: Stmt,
    /// Binds: `last_login` (time), `updated_at` (time), `id`.
    pub user_record_login: Stmt,
    /// Binds: `is_active`, `updated_at` (time), `id`.
    pub user_set_active: Stmt,
    /// Sets `is_verified`, and `joined_at` if it is empty and `joined_at` is not NULL.
    /// Binds: `is_verified`, `joined_at` (optional time), `updated_at` (time), `id`.
    pub user_set_verified: Stmt,
    /// Binds: `id`.
    pub user_delete: Stmt,

    // ---- sessions and their tokens ---------------------------------------------------
    /// Binds: `id`, `user_id`, `created_at`, `expires_at`, `absolute_expires_at`, `ip`
    /// (optional text), `user_agent` (optional text), `claims` (optional text).
    pub session_insert: Stmt,
    /// Binds: `digest`, `kind` (i16), `session_id`, `expires_at`.
    pub token_insert: Stmt,
    /// The user's active session ids, newest first. Binds: `user_id`, `now`, `now`.
    /// Column: `id`.
    pub sessions_active: Stmt,
    /// Revokes one session by id if not revoked yet. Binds: `now`, `id`.
    pub session_revoke: Stmt,
    /// The `authenticate` hot path, one indexed query: token, session and user.
    /// Binds: `digest`. Columns: `kind`, `expires_at_us`, then the
    /// [`SESSION_STATUS_COLUMN_COUNT`] session columns, then the user columns.
    pub access_lookup: Stmt,
    /// A session's status with its user, one indexed query. Binds: `id`. Columns: the
    /// session columns, then the user columns.
    pub session_status: Stmt,
    /// Reads and locks (PostgreSQL `FOR UPDATE OF k, s`, MySQL `FOR UPDATE`) a refresh
    /// token, its session and its successor. Binds: `digest`. Columns: `k.kind`,
    /// `k.expires_at_us`, `k.spent_at_us`, `k.sealed_successor`, `n.spent_at_us`,
    /// `n.expires_at_us`, `s.id`, `s.user_id` (text), `s.revoked_at_us`,
    /// `s.expires_at_us`, `s.absolute_expires_at_us`, `s.created_at_us`,
    /// `s.refreshed_at_us`, `k.grace_until_us` (the end of the grace window granted at
    /// its rotation).
    pub rotate_lock: Stmt,
    /// Spends a refresh token. Binds: `spent_at`, `successor_digest` (optional bytes),
    /// `sealed_successor` (optional bytes), `grace_until` (optional), `digest`.
    pub token_spend: Stmt,
    /// Binds: `expires_at`, `refreshed_at`, `id`.
    pub session_extend: Stmt,
    /// Revokes a session of a user if active. Binds: `now`, `id`, `user_id`, `now`,
    /// `now`.
    pub revoke_session: Stmt,
    /// Revokes every active session of a user but `keep` (`""` keeps none).
    /// Binds: `now`, `user_id`, `keep`, `now`, `now`.
    pub revoke_user_sessions: Stmt,
    /// The user's active sessions, newest first. Binds: `user_id`, `now`, `now`.
    /// Columns: `id`, `user_id` (text), `created_at_us`, `refreshed_at_us`,
    /// `expires_at_us`, `absolute_expires_at_us`, `ip`, `user_agent`.
    pub list_sessions: Stmt,
    /// Binds: `user_id`.
    pub sessions_delete_user: Stmt,

    // ---- single-use tokens -----------------------------------------------------------
    /// Binds: `digest`, `kind`, `user_id`, `created_at`, `expires_at`.
    pub single_use_insert: Stmt,
    /// Spends the user's outstanding tokens of a kind. Binds: `now`, `user_id`, `kind`,
    /// `now`.
    pub single_use_void: Stmt,
    /// Spends the user's outstanding tokens of every kind. Binds: `now`, `user_id`, `now`.
    pub single_use_void_all: Stmt,
    /// The user of an outstanding token. Binds: `digest`, `kind`, `now`. Column:
    /// `user_id` (text).
    pub single_use_find: Stmt,
    /// The same, locking the row for update. Binds: `digest`, `kind`, `now`.
    pub single_use_lock: Stmt,
    /// Binds: `now`, `digest`.
    pub single_use_spend: Stmt,
    /// Binds: `user_id`.
    pub single_use_delete_user: Stmt,

    // ---- expired rows ------------------------------------------------------------------
    /// Deletes up to `limit` sessions past their absolute end or revoked (their tokens
    /// go by cascade). Binds: `before`, `before`, `limit`.
    pub purge_sessions: Stmt,
    /// Deletes up to `limit` expired access tokens. Binds: `before`, `limit`.
    pub purge_access_tokens: Stmt,
    /// Deletes up to `limit` spent or expired single-use tokens. Binds: `before`,
    /// `before`, `limit`.
    pub purge_single_use: Stmt,
    /// Deletes up to `limit` rate-limit keys whose window and lockout are over.
    /// Binds: `before`, `before`, `limit`.
    pub purge_rate_limits: Stmt,
    /// Erases sealed grace-window successors spent at or before `cutoff`. Binds:
    /// `cutoff`.
    pub erase_sealed: Stmt,

    // ---- rate limits -------------------------------------------------------------------
    /// Counts one hit and applies [`RateLimitWindow`](auth_core::RateLimitWindow)'s rules
    /// in one atomic upsert. **Binds differ per dialect** (use `by_name`): `key`, `now`,
    /// `window_end` (now + window), `max_attempts`, `lock_end` (now + lockout), `window`
    /// (microseconds), repeated as the text needs them. SQLite and PostgreSQL return
    /// `attempts`, `locked_until_us`; MySQL returns nothing (see
    /// [`Statements::rate_limit_read`]).
    pub rate_limit_hit: Stmt,
    /// A key's `attempts`, `locked_until_us`. Binds: `key`. MySQL runs it after
    /// [`Statements::rate_limit_hit`] in the same transaction.
    pub rate_limit_read: Stmt,
    /// Binds: `key`.
    pub rate_limit_clear: Stmt,
}

/// A statement built by [`Statements::new`] for tests: its name and itself.
pub type NamedStmt<'a> = (&'static str, &'a Stmt);

impl Statements {
    /// Builds every statement. Refuses bad names ([`UserTable::validate`],
    /// [`check_prefix`]).
    pub fn new(dialect: Dialect, prefix: &str, users: &UserTable) -> Result<Self, BadIdentifier> {
        check_prefix(prefix)?;
        users.validate()?;
        Ok(Self::build(dialect, prefix, users))
    }

    fn build(d: Dialect, prefix: &str, users: &UserTable) -> Self {
        let q = |name: &str| d.quote(name);
        let tables = TableNames::new(prefix);
        let u = q(users.table());
        let id = q(users.id_column_name());
        let s = q(&tables.sessions);
        let k = q(&tables.tokens);
        let su = q(&tables.single_use_tokens);
        let rl = q(&tables.rate_limits);
        let [
            email,
            password,
            last_login,
            is_active,
            is_verified,
            joined_at,
            created_at,
            updated_at,
        ] = crate::LIBRARY_COLUMNS.map(q);
        let r = |t: String| Stmt::render(d, &t);

        let user_cols = |alias: &str| {
            let a = |c: &str| format!("{alias}{c}");
            format!(
                "{}, {}, {}, {}, {}, {}, {}, {}, {}",
                d.as_text(&a(&id)),
                a(&email),
                a(&password),
                a(&last_login),
                a(&is_active),
                a(&is_verified),
                a(&joined_at),
                a(&created_at),
                a(&updated_at)
            )
        };
        let plain_user_cols = user_cols("");
        let folded_email = d.fold_ascii(&email);
        let from_dual = if d == Dialect::Mysql {
            " FROM DUAL"
        } else {
            ""
        };

        let uuid = users.id_kind() == IdKind::Uuid;
        let (id_col, id_val) = if uuid {
            (format!("{id}, "), ":id, ")
        } else {
            (String::new(), "")
        };
        let returning = if !uuid && d.has_returning() {
            format!(" RETURNING {}", d.as_text(&id))
        } else {
            String::new()
        };
        let user_insert = r(format!(
            "INSERT INTO {u} ({id_col}{email}, {password}, {last_login}, {is_active}, \
             {is_verified}, {joined_at}, {created_at}, {updated_at}) \
             SELECT {id_val}:email, :password, NULL, :is_active, :is_verified, :joined_at, \
             :created_at, :updated_at{from_dual} \
             WHERE NOT EXISTS (SELECT 1 FROM {u} WHERE {folded_email} = {folded}){returning}",
            folded = d.folded_param(":folded_email"),
        ));
        let user_last_insert_id = (!uuid && !d.has_returning())
            .then(|| Stmt::plain(format!("SELECT {}", d.as_text("LAST_INSERT_ID()"))));

        let status_cols = format!(
            "s.id, s.revoked_at_us, s.expires_at_us, s.absolute_expires_at_us, s.claims, {}",
            user_cols("u.")
        );
        let active = "revoked_at_us IS NULL AND expires_at_us > :now \
                      AND absolute_expires_at_us > :now";
        let rotate_lock_clause = match d {
            Dialect::Postgres => " FOR UPDATE OF k, s",
            _ => d.update_lock(),
        };
        let limited_delete = |table: &str, key: &str, cond: &str| match d {
            Dialect::Mysql => r(format!("DELETE FROM {table} WHERE {cond} LIMIT :limit")),
            Dialect::Sqlite | Dialect::Postgres => r(format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE {cond} LIMIT :limit)"
            )),
        };

        let rate_limit_hit = match d {
            Dialect::Sqlite | Dialect::Postgres => {
                // Every SET expression sees the row as it was before the statement.
                let locked = format!("{rl}.locked_until_us > EXCLUDED.window_start_us");
                let reset = format!(
                    "({rl}.locked_until_us IS NOT NULL \
                     OR EXCLUDED.window_start_us >= {rl}.window_start_us + :window)"
                );
                r(format!(
                    "INSERT INTO {rl} (rate_key, window_start_us, window_end_us, attempts, \
                     locked_until_us) \
                     VALUES (:key, :now, :window_end, 1, \
                     CASE WHEN 1 > :max_attempts THEN :lock_end ELSE NULL END) \
                     ON CONFLICT (rate_key) DO UPDATE SET \
                     attempts = CASE WHEN {locked} THEN {rl}.attempts + 1 \
                     WHEN {reset} THEN 1 ELSE {rl}.attempts + 1 END, \
                     locked_until_us = CASE WHEN {locked} THEN {rl}.locked_until_us \
                     WHEN {reset} THEN EXCLUDED.locked_until_us \
                     WHEN {rl}.attempts + 1 > :max_attempts THEN :lock_end ELSE NULL END, \
                     window_start_us = CASE WHEN {locked} THEN {rl}.window_start_us \
                     WHEN {reset} THEN EXCLUDED.window_start_us ELSE {rl}.window_start_us END, \
                     window_end_us = CASE WHEN {locked} THEN {rl}.window_end_us \
                     WHEN {reset} THEN EXCLUDED.window_end_us ELSE {rl}.window_end_us END \
                     RETURNING attempts, locked_until_us"
                ))
            }
            // MySQL assigns left to right, each expression seeing the columns already
            // assigned. `attempts` goes first (from the old row); after it, `attempts = 1`
            // holds exactly when a new window began (every stored row has attempts >= 1,
            // so a continued window or a lockout makes it at least 2).
            Dialect::Mysql => r(format!(
                "INSERT INTO {rl} (rate_key, window_start_us, window_end_us, attempts, \
                 locked_until_us) \
                 VALUES (:key, :now, :window_end, 1, \
                 CASE WHEN 1 > :max_attempts THEN :lock_end ELSE NULL END) \
                 ON DUPLICATE KEY UPDATE \
                 attempts = CASE WHEN locked_until_us > :now THEN attempts + 1 \
                 WHEN locked_until_us IS NOT NULL OR :now >= window_start_us + :window THEN 1 \
                 ELSE attempts + 1 END, \
                 locked_until_us = CASE \
                 WHEN attempts = 1 THEN (CASE WHEN 1 > :max_attempts THEN :lock_end ELSE NULL END) \
                 WHEN locked_until_us > :now THEN locked_until_us \
                 WHEN attempts > :max_attempts THEN :lock_end ELSE NULL END, \
                 window_start_us = CASE WHEN attempts = 1 THEN :now ELSE window_start_us END, \
                 window_end_us = CASE WHEN attempts = 1 THEN :window_end ELSE window_end_us END"
            )),
        };

        Self {
            dialect: d,
            user_insert,
            user_last_insert_id,
            user_by_email: r(format!(
                "SELECT {plain_user_cols} FROM {u} WHERE {folded_email} = {folded} \
                 ORDER BY CASE WHEN {exact} THEN 0 ELSE 1 END, {id} LIMIT 1",
                folded = d.folded_param(":email"),
                exact = d.exact_eq(&email, ":exact_email"),
            )),
            user_by_id: r(format!(
                "SELECT {plain_user_cols} FROM {u} WHERE {id} = :id"
            )),
            credentials_current: r(format!(
                "SELECT {is_active}, {password} FROM {u} WHERE {id} = :id{}",
                d.share_lock()
            )),
            user_lock: r(format!(
                "SELECT 1 FROM {u} WHERE {id} = :id{}",
                d.update_lock()
            )),
            user_set_password: r(format!(
                "UPDATE {u} SET {password} = :password, {updated_at} = :updated_at \
                 WHERE {id} = :id"
            )),
            user_replace_password: r(format!(
                "UPDATE {u} SET {password} = :password, {updated_at} = :updated_at \
                 WHERE {id} = :id AND {}",
                d.exact_eq(&password, ":expected")
            )),
            user_record_login: r(format!(
                "UPDATE {u} SET {last_login} = :last_login, {updated_at} = :updated_at \
                 WHERE {id} = :id"
            )),
            user_set_active: r(format!(
                "UPDATE {u} SET {is_active} = :is_active, {updated_at} = :updated_at \
                 WHERE {id} = :id"
            )),
            user_set_verified: r(format!(
                "UPDATE {u} SET {is_verified} = :is_verified, \
                 {joined_at} = COALESCE({joined_at}, :joined_at), {updated_at} = :updated_at \
                 WHERE {id} = :id"
            )),
            user_delete: r(format!("DELETE FROM {u} WHERE {id} = :id")),

            session_insert: r(format!(
                "INSERT INTO {s} (id, user_id, created_at_us, refreshed_at_us, expires_at_us, \
                 absolute_expires_at_us, revoked_at_us, ip, user_agent, claims) \
                 VALUES (:id, :user_id, :created_at, NULL, :expires_at, :absolute_expires_at, \
                 NULL, :ip, :user_agent, :claims)"
            )),
            token_insert: r(format!(
                "INSERT INTO {k} (digest, kind, session_id, expires_at_us, spent_at_us, \
                 successor_digest, sealed_successor) \
                 VALUES (:digest, :kind, :session_id, :expires_at, NULL, NULL, NULL)"
            )),
            sessions_active: r(format!(
                "SELECT id FROM {s} WHERE user_id = :user_id AND {active} \
                 ORDER BY created_at_us DESC, id DESC"
            )),
            session_revoke: r(format!(
                "UPDATE {s} SET revoked_at_us = :now WHERE id = :id AND revoked_at_us IS NULL"
            )),
            access_lookup: r(format!(
                "SELECT k.kind, k.expires_at_us, {status_cols} \
                 FROM {k} AS k JOIN {s} AS s ON s.id = k.session_id \
                 JOIN {u} AS u ON u.{id} = s.user_id WHERE k.digest = :digest"
            )),
            session_status: r(format!(
                "SELECT {status_cols} FROM {s} AS s JOIN {u} AS u ON u.{id} = s.user_id \
                 WHERE s.id = :id"
            )),
            rotate_lock: r(format!(
                "SELECT k.kind, k.expires_at_us, k.spent_at_us, k.sealed_successor, \
                 n.spent_at_us, n.expires_at_us, s.id, {}, s.revoked_at_us, s.expires_at_us, \
                 s.absolute_expires_at_us, s.created_at_us, s.refreshed_at_us, \
                 k.grace_until_us \
                 FROM {k} AS k JOIN {s} AS s ON s.id = k.session_id \
                 LEFT JOIN {k} AS n ON n.digest = k.successor_digest \
                 WHERE k.digest = :digest{rotate_lock_clause}",
                d.as_text("s.user_id")
            )),
            token_spend: r(format!(
                "UPDATE {k} SET spent_at_us = :spent_at, successor_digest = :successor_digest, \
                 sealed_successor = :sealed_successor, grace_until_us = :grace_until \
                 WHERE digest = :digest"
            )),
            session_extend: r(format!(
                "UPDATE {s} SET expires_at_us = :expires_at, refreshed_at_us = :refreshed_at \
                 WHERE id = :id"
            )),
            revoke_session: r(format!(
                "UPDATE {s} SET revoked_at_us = :now \
                 WHERE id = :id AND user_id = :user_id AND {active}"
            )),
            revoke_user_sessions: r(format!(
                "UPDATE {s} SET revoked_at_us = :now \
                 WHERE user_id = :user_id AND id <> :keep AND {active}"
            )),
            list_sessions: r(format!(
                "SELECT id, {}, created_at_us, refreshed_at_us, expires_at_us, \
                 absolute_expires_at_us, ip, user_agent FROM {s} \
                 WHERE user_id = :user_id AND {active} ORDER BY created_at_us DESC, id DESC",
                d.as_text("user_id")
            )),
            sessions_delete_user: r(format!("DELETE FROM {s} WHERE user_id = :user_id")),

            single_use_insert: r(format!(
                "INSERT INTO {su} (digest, kind, user_id, created_at_us, expires_at_us, \
                 spent_at_us) VALUES (:digest, :kind, :user_id, :created_at, :expires_at, NULL)"
            )),
            single_use_void: r(format!(
                "UPDATE {su} SET spent_at_us = :now WHERE user_id = :user_id AND kind = :kind \
                 AND spent_at_us IS NULL AND expires_at_us > :now"
            )),
            single_use_void_all: r(format!(
                "UPDATE {su} SET spent_at_us = :now WHERE user_id = :user_id \
                 AND spent_at_us IS NULL AND expires_at_us > :now"
            )),
            single_use_find: r(format!(
                "SELECT {} FROM {su} WHERE digest = :digest AND kind = :kind \
                 AND spent_at_us IS NULL AND expires_at_us > :now",
                d.as_text("user_id")
            )),
            single_use_lock: r(format!(
                "SELECT {} FROM {su} WHERE digest = :digest AND kind = :kind \
                 AND spent_at_us IS NULL AND expires_at_us > :now{}",
                d.as_text("user_id"),
                d.update_lock()
            )),
            single_use_spend: r(format!(
                "UPDATE {su} SET spent_at_us = :now WHERE digest = :digest \
                 AND spent_at_us IS NULL"
            )),
            single_use_delete_user: r(format!("DELETE FROM {su} WHERE user_id = :user_id")),

            purge_sessions: limited_delete(
                &s,
                "id",
                "absolute_expires_at_us <= :before OR revoked_at_us <= :before",
            ),
            purge_access_tokens: limited_delete(
                &k,
                "digest",
                &format!(
                    "kind = {} AND expires_at_us <= :before",
                    TokenKind::Access.code()
                ),
            ),
            purge_single_use: limited_delete(
                &su,
                "digest",
                "spent_at_us <= :before OR expires_at_us <= :before",
            ),
            purge_rate_limits: limited_delete(
                &rl,
                "rate_key",
                "window_end_us <= :before AND (locked_until_us IS NULL OR locked_until_us <= :before)",
            ),
            erase_sealed: r(format!(
                "UPDATE {k} SET sealed_successor = NULL \
                 WHERE sealed_successor IS NOT NULL AND spent_at_us <= :cutoff"
            )),

            rate_limit_hit,
            rate_limit_read: r(format!(
                "SELECT attempts, locked_until_us FROM {rl} WHERE rate_key = :key"
            )),
            rate_limit_clear: r(format!("DELETE FROM {rl} WHERE rate_key = :key")),
            tables,
        }
    }

    /// Every statement with its field name, for tests.
    pub fn all(&self) -> Vec<NamedStmt<'_>> {
        let mut all = vec![
            ("user_insert", &self.user_insert),
            ("user_by_email", &self.user_by_email),
            ("user_by_id", &self.user_by_id),
            ("credentials_current", &self.credentials_current),
            ("user_lock", &self.user_lock),
            ("user_set_password", &self.user_set_password),
            ("user_replace_password", &self.user_replace_password),
            ("user_record_login", &self.user_record_login),
            ("user_set_active", &self.user_set_active),
            ("user_set_verified", &self.user_set_verified),
            ("user_delete", &self.user_delete),
            ("session_insert", &self.session_insert),
            ("token_insert", &self.token_insert),
            ("sessions_active", &self.sessions_active),
            ("session_revoke", &self.session_revoke),
            ("access_lookup", &self.access_lookup),
            ("session_status", &self.session_status),
            ("rotate_lock", &self.rotate_lock),
            ("token_spend", &self.token_spend),
            ("session_extend", &self.session_extend),
            ("revoke_session", &self.revoke_session),
            ("revoke_user_sessions", &self.revoke_user_sessions),
            ("list_sessions", &self.list_sessions),
            ("sessions_delete_user", &self.sessions_delete_user),
            ("single_use_insert", &self.single_use_insert),
            ("single_use_void", &self.single_use_void),
            ("single_use_void_all", &self.single_use_void_all),
            ("single_use_find", &self.single_use_find),
            ("single_use_lock", &self.single_use_lock),
            ("single_use_spend", &self.single_use_spend),
            ("single_use_delete_user", &self.single_use_delete_user),
            ("purge_sessions", &self.purge_sessions),
            ("purge_access_tokens", &self.purge_access_tokens),
            ("purge_single_use", &self.purge_single_use),
            ("purge_rate_limits", &self.purge_rate_limits),
            ("erase_sealed", &self.erase_sealed),
            ("rate_limit_hit", &self.rate_limit_hit),
            ("rate_limit_read", &self.rate_limit_read),
            ("rate_limit_clear", &self.rate_limit_clear),
        ];
        if let Some(stmt) = &self.user_last_insert_id {
            all.push(("user_last_insert_id", stmt));
        }
        all
    }

    /// The statements whose binds differ between dialects (bound by name).
    pub const BOUND_BY_NAME: [&'static str; 1] = ["rate_limit_hit"];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<UserTable> {
        vec![
            UserTable::new("users", IdKind::Integer),
            UserTable::new("accounts", IdKind::Uuid).id_column("account_id"),
        ]
    }

    #[test]
    fn every_placeholder_matches_its_bind_exactly_once_in_order() {
        for users in tables() {
            for d in Dialect::ALL {
                let st = Statements::new(d, "p_", &users).unwrap();
                for (name, stmt) in st.all() {
                    stmt.check_placeholders(d)
                        .unwrap_or_else(|e| panic!("{d:?} {name}: {e}\n{}", stmt.sql()));
                    assert!(
                        !stmt.sql().contains(":a") && !stmt.sql().contains(" :"),
                        "{d:?} {name}: a marker was left: {}",
                        stmt.sql()
                    );
                }
            }
        }
    }

    #[test]
    fn binds_are_the_same_on_every_dialect_except_the_by_name_ones() {
        for users in tables() {
            let all: Vec<Statements> = Dialect::ALL
                .iter()
                .map(|d| Statements::new(*d, "", &users).unwrap())
                .collect();
            let first = all[0].all();
            for other in &all[1..] {
                for ((name, a), (_, b)) in first.iter().zip(other.all()) {
                    if Statements::BOUND_BY_NAME.contains(name) {
                        continue;
                    }
                    assert_eq!(a.binds(), b.binds(), "{name}: {:?}", other.dialect);
                }
            }
        }
    }

    #[test]
    fn documented_binds_of_the_hot_and_tricky_statements() {
        let users = UserTable::new("users", IdKind::Integer);
        let st = Statements::new(Dialect::Postgres, "", &users).unwrap();
        assert_eq!(st.access_lookup.binds(), ["digest"]);
        assert_eq!(
            st.user_insert.binds(),
            [
                "email",
                "password",
                "is_active",
                "is_verified",
                "joined_at",
                "created_at",
                "updated_at",
                "folded_email"
            ]
        );
        assert_eq!(
            st.revoke_user_sessions.binds(),
            ["now", "user_id", "keep", "now", "now"]
        );
        assert!(
            st.user_insert
                .sql()
                .ends_with("RETURNING CAST(\"id\" AS TEXT)")
        );
        let uuid = UserTable::new("users", IdKind::Uuid);
        let st = Statements::new(Dialect::Mysql, "", &uuid).unwrap();
        assert_eq!(st.user_insert.binds()[0], "id");
        assert!(st.user_last_insert_id.is_none());
        let st = Statements::new(Dialect::Mysql, "", &users).unwrap();
        assert!(st.user_last_insert_id.is_some());
        assert!(st.purge_sessions.sql().ends_with("LIMIT ?"));
        assert_eq!(st.purge_sessions.binds(), ["before", "before", "limit"]);
    }

    #[test]
    fn email_lookups_fold_ascii_only_per_dialect() {
        let users = UserTable::new("users", IdKind::Integer);
        let pg = Statements::new(Dialect::Postgres, "", &users).unwrap();
        assert!(
            pg.user_by_email
                .sql()
                .contains("lower(\"email\" COLLATE \"C\") = $1")
        );
        let lite = Statements::new(Dialect::Sqlite, "", &users).unwrap();
        assert!(lite.user_by_email.sql().contains("lower(\"email\") = ?"));
        let my = Statements::new(Dialect::Mysql, "", &users).unwrap();
        assert!(my.user_by_email.sql().contains("= CAST(? AS BINARY)"));
    }

    #[test]
    fn locking_clauses_per_dialect() {
        let users = UserTable::new("users", IdKind::Integer);
        let pg = Statements::new(Dialect::Postgres, "", &users).unwrap();
        assert!(pg.credentials_current.sql().ends_with("FOR SHARE"));
        assert!(pg.rotate_lock.sql().ends_with("FOR UPDATE OF k, s"));
        let my = Statements::new(Dialect::Mysql, "", &users).unwrap();
        assert!(my.credentials_current.sql().ends_with("LOCK IN SHARE MODE"));
        assert!(my.rotate_lock.sql().ends_with("FOR UPDATE"));
        let lite = Statements::new(Dialect::Sqlite, "", &users).unwrap();
        assert!(lite.credentials_current.sql().ends_with("= ?"));
    }

    #[test]
    fn bad_names_are_refused() {
        let users = UserTable::new("users", IdKind::Integer);
        assert!(Statements::new(Dialect::Sqlite, "x-", &users).is_err());
        assert!(
            Statements::new(Dialect::Sqlite, "", &UserTable::new("a b", IdKind::Integer)).is_err()
        );
    }
}
