//! [`Schema`]: the DDL, the catalog queries and the versioned migrations per dialect.
//!
//! Migrations are tiny and versioned: a store runs each [`Migration`] whose version is not
//! yet recorded in `{prefix}auth_migrations`, in order, recording each. Applied versions
//! are never edited: a schema change is a new version. Each statement is idempotent
//! (`IF NOT EXISTS`), so a migration interrupted on MySQL (where DDL commits at once)
//! completes when run again.

use auth_core::IdKind;

use crate::codec::stable_key;
use crate::dialect::Dialect;
use crate::ident::{BadIdentifier, check_column_type, check_prefix};
use crate::statements::TableNames;
use crate::stmt::Stmt;
use crate::user_table::UserTable;

/// One versioned schema step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Strictly increasing, never reused.
    pub version: i64,
    /// A short description recorded with the version.
    pub name: &'static str,
    /// The statements, run in order.
    pub statements: Vec<String>,
}

/// How long (seconds) a MySQL migration waits for another instance's migration lock.
pub const MIGRATION_LOCK_TIMEOUT_SECS: i64 = 60;

/// The DDL and catalog statements of one store (dialect, prefix, user table).
///
/// The library's tables reference the application's user table with a foreign key
/// (`ON DELETE CASCADE`), so the key column's exact type, read from the catalog at
/// migration time ([`Schema::user_key_type`]), is part of the DDL:
/// [`Schema::migrations`] takes it.
#[derive(Debug, Clone)]
pub struct Schema {
    dialect: Dialect,
    prefix: String,
    users: UserTable,
    tables: TableNames,
    /// The value to bind as `table` in the catalog statements: the user table's name
    /// (quoted for PostgreSQL's `to_regclass`).
    pub catalog_table_name: String,
    /// Whether the user table exists. Binds: `table`. A row if it does.
    pub user_table_exists: Stmt,
    /// The user table's column names. Binds: `table`. Column: the name (text).
    pub user_table_columns: Stmt,
    /// The key column's type as DDL text (MySQL: with its character set and collation).
    /// Binds: `table`, `column`. Column: the type (text).
    pub user_key_type: Stmt,
    /// Creates the user table (with the application's extra columns), used only when it
    /// does not exist.
    pub create_user_table: String,
    /// Indexes created with the user table: a unique index on the folded email on SQLite
    /// and PostgreSQL (MySQL declares a generated column and its unique key in
    /// [`Schema::create_user_table`] instead).
    pub user_table_indexes: Vec<String>,
    /// Creates `{prefix}auth_migrations`.
    pub create_migrations_table: String,
    /// The applied versions. No binds. Column: `version`.
    pub applied_versions: Stmt,
    /// Records a version. Binds: `version`, `name`.
    pub record_version: Stmt,
    /// Takes the migration lock inside the migration transaction (PostgreSQL
    /// `pg_advisory_xact_lock`, released at commit); `None` on SQLite (its `BEGIN
    /// IMMEDIATE` excludes other writers) and MySQL (see [`Schema::mysql_lock`]).
    /// Binds: `key` ([`Schema::lock_key`]).
    pub transaction_lock: Option<Stmt>,
    /// MySQL only: takes the named lock of this prefix and database on the session
    /// (`GET_LOCK`, 1 when taken). Binds: `name`, `timeout`. Column: 1 or 0 (integer).
    pub mysql_lock: Option<Stmt>,
    /// MySQL only: releases it. Binds: `name`.
    pub mysql_unlock: Option<Stmt>,
}

impl Schema {
    /// Builds the schema statements. Refuses bad names.
    pub fn new(dialect: Dialect, prefix: &str, users: &UserTable) -> Result<Self, BadIdentifier> {
        check_prefix(prefix)?;
        users.validate()?;
        let d = dialect;
        let q = |n: &str| d.quote(n);
        let tables = TableNames::new(prefix);
        let u = q(users.table());
        let id = q(users.id_column_name());
        let m = q(&tables.migrations);
        let extra = if users.extra_columns_ddl().is_empty() {
            String::new()
        } else {
            format!(",\n  {}", users.extra_columns_ddl())
        };
        let uuid = users.id_kind() == IdKind::Uuid;
        let fold_index = q(&format!("{}_email_folded", users.table()));
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

        let (create_user_table, user_table_indexes) = match d {
            Dialect::Sqlite => {
                let id_ddl = if uuid {
                    format!("{id} TEXT NOT NULL PRIMARY KEY")
                } else {
                    // AUTOINCREMENT: a deleted user's id is never handed out again.
                    format!("{id} INTEGER PRIMARY KEY AUTOINCREMENT")
                };
                (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {u} (\n  {id_ddl},\n  \
                         {email} TEXT NOT NULL UNIQUE,\n  \
                         {password} TEXT NOT NULL DEFAULT '',\n  \
                         {last_login} DATETIME NULL,\n  \
                         {is_active} BOOLEAN NOT NULL DEFAULT 1,\n  \
                         {is_verified} BOOLEAN NOT NULL DEFAULT 0,\n  \
                         {joined_at} DATETIME NULL,\n  \
                         {created_at} DATETIME NOT NULL,\n  \
                         {updated_at} DATETIME NOT NULL{extra}\n)"
                    ),
                    vec![format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS {fold_index} ON {u} ({})",
                        d.fold_ascii(&email)
                    )],
                )
            }
            Dialect::Postgres => {
                let id_ddl = if uuid {
                    format!("{id} UUID PRIMARY KEY")
                } else {
                    format!("{id} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
                };
                (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {u} (\n  {id_ddl},\n  \
                         {email} TEXT NOT NULL UNIQUE,\n  \
                         {password} TEXT NOT NULL DEFAULT '',\n  \
                         {last_login} TIMESTAMPTZ NULL,\n  \
                         {is_active} BOOLEAN NOT NULL DEFAULT TRUE,\n  \
                         {is_verified} BOOLEAN NOT NULL DEFAULT FALSE,\n  \
                         {joined_at} TIMESTAMPTZ NULL,\n  \
                         {created_at} TIMESTAMPTZ NOT NULL,\n  \
                         {updated_at} TIMESTAMPTZ NOT NULL{extra}\n)"
                    ),
                    vec![format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS {fold_index} ON {u} ({})",
                        d.fold_ascii(&email)
                    )],
                )
            }
            Dialect::Mysql => {
                let id_ddl = if uuid {
                    format!(
                        "{id} CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY"
                    )
                } else {
                    format!("{id} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY")
                };
                let folded = q("email_folded");
                (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {u} (\n  {id_ddl},\n  \
                         {email} VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL UNIQUE,\n  \
                         {password} VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',\n  \
                         {last_login} DATETIME(6) NULL,\n  \
                         {is_active} BOOLEAN NOT NULL DEFAULT TRUE,\n  \
                         {is_verified} BOOLEAN NOT NULL DEFAULT FALSE,\n  \
                         {joined_at} DATETIME(6) NULL,\n  \
                         {created_at} DATETIME(6) NOT NULL,\n  \
                         {updated_at} DATETIME(6) NOT NULL{extra},\n  \
                         {folded} VARBINARY(1020) AS ({}) STORED,\n  \
                         UNIQUE KEY {fold_index} ({folded})\n\
                         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                        d.fold_ascii(&email)
                    ),
                    vec![],
                )
            }
        };

        let r = |t: &str| Stmt::render(d, t);
        let (user_table_exists, user_table_columns, user_key_type, catalog_table_name) = match d {
            Dialect::Sqlite => (
                r("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :table"),
                r("SELECT name FROM pragma_table_info(:table)"),
                r("SELECT type FROM pragma_table_info(:table) WHERE lower(name) = lower(:column)"),
                users.table().to_owned(),
            ),
            Dialect::Postgres => (
                r("SELECT 1 WHERE to_regclass(:table) IS NOT NULL"),
                r("SELECT CAST(attname AS TEXT) FROM pg_attribute \
                   WHERE attrelid = to_regclass(:table) AND attnum > 0 AND NOT attisdropped"),
                r("SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                   WHERE attrelid = to_regclass(:table) AND attname = :column \
                   AND attnum > 0 AND NOT attisdropped"),
                u.clone(),
            ),
            Dialect::Mysql => (
                r("SELECT 1 FROM information_schema.TABLES \
                   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"),
                r(
                    "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
                   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table",
                ),
                r(
                    "SELECT CAST(CONCAT(COLUMN_TYPE, IF(CHARACTER_SET_NAME IS NULL, '', \
                   CONCAT(' CHARACTER SET ', CHARACTER_SET_NAME, ' COLLATE ', COLLATION_NAME))) \
                   AS CHAR) FROM information_schema.COLUMNS \
                   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table \
                   AND COLUMN_NAME = :column",
                ),
                users.table().to_owned(),
            ),
        };
        let lock_name = "LEFT(CONCAT(:name, '@', IFNULL(DATABASE(), '')), 64)";
        Ok(Self {
            dialect: d,
            prefix: prefix.to_owned(),
            users: users.clone(),
            catalog_table_name,
            user_table_exists,
            user_table_columns,
            user_key_type,
            create_user_table,
            user_table_indexes,
            create_migrations_table: format!(
                "CREATE TABLE IF NOT EXISTS {m} (\n  version BIGINT NOT NULL PRIMARY KEY,\n  \
                 name VARCHAR(100) NOT NULL\n){}",
                if d == Dialect::Mysql {
                    " ENGINE=InnoDB"
                } else {
                    ""
                }
            ),
            applied_versions: Stmt::plain(format!("SELECT version FROM {m} ORDER BY version")),
            record_version: r(&format!(
                "INSERT INTO {m} (version, name) VALUES (:version, :name)"
            )),
            transaction_lock: (d == Dialect::Postgres)
                .then(|| r("SELECT pg_advisory_xact_lock(:key)")),
            mysql_lock: (d == Dialect::Mysql).then(|| {
                r(&format!(
                    "SELECT CAST(GET_LOCK({lock_name}, :timeout) AS SIGNED)"
                ))
            }),
            mysql_unlock: (d == Dialect::Mysql)
                .then(|| r(&format!("SELECT RELEASE_LOCK({lock_name})"))),
            tables,
        })
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The migration lock's key (PostgreSQL advisory lock): one per table prefix.
    pub fn lock_key(&self) -> i64 {
        stable_key(&format!("tortoise-auth migrate {}", self.prefix))
    }

    /// The migration lock's name (MySQL `GET_LOCK`, suffixed with the database name).
    pub fn lock_name(&self) -> String {
        format!("tortoise-auth:{}", self.prefix)
    }

    /// The column type the library's foreign keys use for the user key: `key_type` as
    /// read by [`Schema::user_key_type`] (checked: plain SQL type text only), or the
    /// library's own default for the key kind when the catalog gives none (SQLite columns
    /// without a declared type).
    pub fn foreign_key_type(&self, key_type: Option<&str>) -> Result<String, BadIdentifier> {
        match key_type.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => {
                check_column_type(t)?;
                Ok(t.to_owned())
            }
            None => Ok(match (self.dialect, self.users.id_kind()) {
                (Dialect::Sqlite, IdKind::Integer) => "INTEGER".to_owned(),
                (Dialect::Sqlite, IdKind::Uuid) => "TEXT".to_owned(),
                (Dialect::Postgres, IdKind::Integer) | (Dialect::Mysql, IdKind::Integer) => {
                    "BIGINT".to_owned()
                }
                (Dialect::Postgres, IdKind::Uuid) => "UUID".to_owned(),
                (Dialect::Mysql, IdKind::Uuid) => {
                    "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin".to_owned()
                }
            }),
        }
    }

    /// The library's migrations, for a user key of SQL type `key_type` (from
    /// [`Schema::foreign_key_type`]).
    pub fn migrations(&self, key_type: &str) -> Vec<Migration> {
        let d = self.dialect;
        let q = |n: &str| d.quote(n);
        let t = &self.tables;
        let u = q(self.users.table());
        let id = q(self.users.id_column_name());
        let (s, k, su, rl) = (
            q(&t.sessions),
            q(&t.tokens),
            q(&t.single_use_tokens),
            q(&t.rate_limits),
        );
        let name = |suffix: &str| q(&format!("{}{suffix}", self.prefix));
        let statements = match d {
            Dialect::Sqlite => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (\n  \
                     id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 32),\n  \
                     user_id {key_type} NOT NULL REFERENCES {u} ({id}) ON DELETE CASCADE,\n  \
                     created_at_us INTEGER NOT NULL,\n  refreshed_at_us INTEGER NULL,\n  \
                     expires_at_us INTEGER NOT NULL,\n  absolute_expires_at_us INTEGER NOT NULL,\n  \
                     revoked_at_us INTEGER NULL,\n  ip TEXT NULL,\n  user_agent TEXT NULL,\n  \
                     claims TEXT NULL\n) WITHOUT ROWID"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {s} (user_id, created_at_us)",
                    name("auth_sessions_user")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (\n  \
                     digest BLOB NOT NULL PRIMARY KEY CHECK (length(digest) = 32),\n  \
                     kind INTEGER NOT NULL,\n  \
                     session_id TEXT NOT NULL REFERENCES {s} (id) ON DELETE CASCADE,\n  \
                     expires_at_us INTEGER NOT NULL,\n  spent_at_us INTEGER NULL,\n  \
                     successor_digest BLOB NULL,\n  sealed_successor BLOB NULL,\n  grace_until_us INTEGER NULL\n) WITHOUT ROWID"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {k} (session_id)",
                    name("auth_tokens_session")
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {k} (expires_at_us)",
                    name("auth_tokens_expiry")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {su} (\n  \
                     digest BLOB NOT NULL PRIMARY KEY CHECK (length(digest) = 32),\n  \
                     kind INTEGER NOT NULL,\n  \
                     user_id {key_type} NOT NULL REFERENCES {u} ({id}) ON DELETE CASCADE,\n  \
                     created_at_us INTEGER NOT NULL,\n  expires_at_us INTEGER NOT NULL,\n  \
                     spent_at_us INTEGER NULL\n) WITHOUT ROWID"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {su} (user_id, kind)",
                    name("auth_single_use_user")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {rl} (\n  \
                     rate_key TEXT NOT NULL PRIMARY KEY,\n  window_start_us INTEGER NOT NULL,\n  \
                     window_end_us INTEGER NOT NULL,\n  attempts INTEGER NOT NULL,\n  \
                     locked_until_us INTEGER NULL\n) WITHOUT ROWID"
                ),
            ],
            Dialect::Postgres => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (\n  \
                     id VARCHAR(32) NOT NULL PRIMARY KEY,\n  \
                     user_id {key_type} NOT NULL REFERENCES {u} ({id}) ON DELETE CASCADE,\n  \
                     created_at_us BIGINT NOT NULL,\n  refreshed_at_us BIGINT NULL,\n  \
                     expires_at_us BIGINT NOT NULL,\n  absolute_expires_at_us BIGINT NOT NULL,\n  \
                     revoked_at_us BIGINT NULL,\n  ip VARCHAR(45) NULL,\n  user_agent TEXT NULL,\n  \
                     claims TEXT NULL\n)"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {s} (user_id, created_at_us)",
                    name("auth_sessions_user")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (\n  \
                     digest BYTEA NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),\n  \
                     kind SMALLINT NOT NULL,\n  \
                     session_id VARCHAR(32) NOT NULL REFERENCES {s} (id) ON DELETE CASCADE,\n  \
                     expires_at_us BIGINT NOT NULL,\n  spent_at_us BIGINT NULL,\n  \
                     successor_digest BYTEA NULL,\n  sealed_successor BYTEA NULL,\n  grace_until_us BIGINT NULL\n)"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {k} (session_id)",
                    name("auth_tokens_session")
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {k} (expires_at_us)",
                    name("auth_tokens_expiry")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {su} (\n  \
                     digest BYTEA NOT NULL PRIMARY KEY CHECK (octet_length(digest) = 32),\n  \
                     kind SMALLINT NOT NULL,\n  \
                     user_id {key_type} NOT NULL REFERENCES {u} ({id}) ON DELETE CASCADE,\n  \
                     created_at_us BIGINT NOT NULL,\n  expires_at_us BIGINT NOT NULL,\n  \
                     spent_at_us BIGINT NULL\n)"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {su} (user_id, kind)",
                    name("auth_single_use_user")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {rl} (\n  \
                     rate_key VARCHAR(128) NOT NULL PRIMARY KEY,\n  window_start_us BIGINT NOT NULL,\n  \
                     window_end_us BIGINT NOT NULL,\n  attempts BIGINT NOT NULL,\n  \
                     locked_until_us BIGINT NULL\n)"
                ),
            ],
            Dialect::Mysql => vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {s} (\n  \
                     id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,\n  \
                     user_id {key_type} NOT NULL,\n  \
                     created_at_us BIGINT NOT NULL,\n  refreshed_at_us BIGINT NULL,\n  \
                     expires_at_us BIGINT NOT NULL,\n  absolute_expires_at_us BIGINT NOT NULL,\n  \
                     revoked_at_us BIGINT NULL,\n  \
                     ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,\n  \
                     user_agent VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n  \
                     claims MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n  \
                     KEY {} (user_id, created_at_us),\n  \
                     CONSTRAINT {} FOREIGN KEY (user_id) REFERENCES {u} ({id}) ON DELETE CASCADE\n\
                     ) ENGINE=InnoDB",
                    name("auth_sessions_user"),
                    name("auth_sessions_user_fk")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {k} (\n  \
                     digest BINARY(32) NOT NULL PRIMARY KEY,\n  kind SMALLINT NOT NULL,\n  \
                     session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n  \
                     expires_at_us BIGINT NOT NULL,\n  spent_at_us BIGINT NULL,\n  \
                     successor_digest BINARY(32) NULL,\n  sealed_successor BLOB NULL,\n  \
                     grace_until_us BIGINT NULL,\n  \
                     KEY {} (session_id),\n  KEY {} (expires_at_us),\n  \
                     CONSTRAINT {} FOREIGN KEY (session_id) REFERENCES {s} (id) ON DELETE CASCADE\n\
                     ) ENGINE=InnoDB",
                    name("auth_tokens_session"),
                    name("auth_tokens_expiry"),
                    name("auth_tokens_session_fk")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {su} (\n  \
                     digest BINARY(32) NOT NULL PRIMARY KEY,\n  kind SMALLINT NOT NULL,\n  \
                     user_id {key_type} NOT NULL,\n  \
                     created_at_us BIGINT NOT NULL,\n  expires_at_us BIGINT NOT NULL,\n  \
                     spent_at_us BIGINT NULL,\n  \
                     KEY {} (user_id, kind),\n  \
                     CONSTRAINT {} FOREIGN KEY (user_id) REFERENCES {u} ({id}) ON DELETE CASCADE\n\
                     ) ENGINE=InnoDB",
                    name("auth_single_use_user"),
                    name("auth_single_use_user_fk")
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {rl} (\n  \
                     rate_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,\n  \
                     window_start_us BIGINT NOT NULL,\n  window_end_us BIGINT NOT NULL,\n  \
                     attempts BIGINT NOT NULL,\n  locked_until_us BIGINT NULL\n) ENGINE=InnoDB"
                ),
            ],
        };
        vec![Migration {
            version: 1,
            name: "sessions, tokens, single-use tokens, rate limits",
            statements,
        }]
    }

    /// Every statement with binds, for tests.
    pub fn all(&self) -> Vec<(&'static str, &Stmt)> {
        let mut all = vec![
            ("user_table_exists", &self.user_table_exists),
            ("user_table_columns", &self.user_table_columns),
            ("user_key_type", &self.user_key_type),
            ("applied_versions", &self.applied_versions),
            ("record_version", &self.record_version),
        ];
        for (name, stmt) in [
            ("transaction_lock", &self.transaction_lock),
            ("mysql_lock", &self.mysql_lock),
            ("mysql_unlock", &self.mysql_unlock),
        ] {
            if let Some(stmt) = stmt {
                all.push((name, stmt));
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_statements_have_consistent_placeholders() {
        for d in Dialect::ALL {
            for kind in [IdKind::Integer, IdKind::Uuid] {
                let schema = Schema::new(d, "t_", &UserTable::new("users", kind)).unwrap();
                for (name, stmt) in schema.all() {
                    stmt.check_placeholders(d)
                        .unwrap_or_else(|e| panic!("{d:?} {name}: {e}"));
                }
                let migrations = schema.migrations(&schema.foreign_key_type(None).unwrap());
                assert_eq!(migrations.len(), 1);
                for sql in &migrations[0].statements {
                    assert!(sql.contains("IF NOT EXISTS"), "idempotent: {sql}");
                    assert!(!sql.contains('?') && !sql.contains('$'), "no binds in DDL");
                }
            }
        }
    }

    #[test]
    fn library_tables_reference_the_user_table_with_cascade() {
        for d in Dialect::ALL {
            let schema = Schema::new(d, "", &UserTable::new("members", IdKind::Integer)).unwrap();
            let ddl = schema.migrations("integer").remove(0).statements.join("\n");
            let u = d.quote("members");
            assert_eq!(
                ddl.matches(&format!("REFERENCES {u}")).count(),
                2,
                "{d:?}: sessions and single-use tokens reference the user table"
            );
            assert_eq!(ddl.matches("ON DELETE CASCADE").count(), 3, "{d:?}");
            assert!(ddl.contains("user_id integer NOT NULL"), "{d:?}");
        }
    }

    #[test]
    fn catalog_key_types_are_checked_before_reaching_ddl() {
        let schema = Schema::new(
            Dialect::Mysql,
            "",
            &UserTable::new("users", IdKind::Integer),
        )
        .unwrap();
        assert_eq!(
            schema
                .foreign_key_type(Some("bigint(20) unsigned"))
                .unwrap(),
            "bigint(20) unsigned"
        );
        assert!(schema.foreign_key_type(Some("int; DROP TABLE x")).is_err());
        assert_eq!(schema.foreign_key_type(Some("")).unwrap(), "BIGINT");
    }

    #[test]
    fn the_created_user_table_gets_a_folded_email_index() {
        let users = UserTable::new("users", IdKind::Integer).extra_columns("nick TEXT");
        let lite = Schema::new(Dialect::Sqlite, "", &users).unwrap();
        assert!(lite.user_table_indexes[0].contains("ON \"users\" (lower(\"email\"))"));
        assert!(lite.create_user_table.contains("nick TEXT"));
        let pg = Schema::new(Dialect::Postgres, "", &users).unwrap();
        assert!(pg.user_table_indexes[0].contains("(lower(\"email\" COLLATE \"C\"))"));
        let my = Schema::new(Dialect::Mysql, "", &users).unwrap();
        assert!(
            my.create_user_table
                .contains("`email_folded` VARBINARY(1020) AS (REPLACE(")
        );
        assert!(
            my.create_user_table
                .contains("UNIQUE KEY `users_email_folded`")
        );
    }
}
