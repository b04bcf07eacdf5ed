//! [`Dialect`]: everything about SQL text that differs between SQLite, PostgreSQL and
//! MySQL/MariaDB, in one place.

use crate::ident::is_valid_identifier;

/// The SQL dialect a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.35 or later (`RETURNING`, `ON CONFLICT ... DO UPDATE`).
    Sqlite,
    /// PostgreSQL 12 or later.
    Postgres,
    /// MySQL 8.0 or MariaDB 10.6 or later (InnoDB).
    Mysql,
}

impl Dialect {
    /// Every dialect, for tests that check all of them.
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// A short lowercase name (`sqlite`, `postgres`, `mysql`).
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// Quotes an identifier that passed [`is_valid_identifier`](crate::is_valid_identifier)
    /// (so it holds no quote character): `"name"` for SQLite and PostgreSQL, `` `name` `` for
    /// MySQL (which reads `"` as a string quote unless `ANSI_QUOTES` is set).
    pub fn quote(self, name: &str) -> String {
        debug_assert!(is_valid_identifier(name), "unchecked identifier");
        match self {
            Dialect::Mysql => format!("`{name}`"),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{name}\""),
        }
    }

    /// The `n`-th (1-based) bind placeholder: `$n` for PostgreSQL, `?` for the others
    /// (which bind strictly in order of appearance).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".to_owned(),
        }
    }

    /// An expression folding the text `expr` exactly as Rust's `str::to_ascii_lowercase`
    /// does: `A`-`Z` become `a`-`z`, every other character is kept as it is.
    ///
    /// - SQLite: `lower(x)`, which maps ASCII letters only (without the ICU extension).
    /// - PostgreSQL: `lower(x COLLATE "C")`: under the `C` collation `lower` maps ASCII
    ///   letters only, whatever the database's locale (`lower('É')` is `'É'`).
    /// - MySQL/MariaDB: no collation folds ASCII letters only (`utf8mb4_general_ci` also
    ///   equates `é` and `e`, `LOWER` on `utf8mb4` maps `É` and the Kelvin sign), so the
    ///   folding is 26 nested `REPLACE`s over the UTF-8 bytes (`CAST(x AS BINARY)`). A
    ///   UTF-8 multi-byte sequence never holds a byte in `A`-`Z`, so this is exact. The
    ///   result is a binary string: compare it with `CAST(? AS BINARY)`.
    pub fn fold_ascii(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("lower({expr})"),
            Dialect::Postgres => format!("lower({expr} COLLATE \"C\")"),
            Dialect::Mysql => {
                let mut out = format!("CAST({expr} AS BINARY)");
                for upper in b'A'..=b'Z' {
                    let (u, l) = (char::from(upper), char::from(upper.to_ascii_lowercase()));
                    out = format!("REPLACE({out}, '{u}', '{l}')");
                }
                out
            }
        }
    }

    /// The right-hand side matching [`fold_ascii`](Dialect::fold_ascii) for an already
    /// folded bound value `param` (a placeholder).
    pub fn folded_param(self, param: &str) -> String {
        match self {
            Dialect::Mysql => format!("CAST({param} AS BINARY)"),
            Dialect::Sqlite | Dialect::Postgres => param.to_owned(),
        }
    }

    /// `expr = param` compared byte for byte, whatever the column's collation
    /// (MySQL's default collations ignore case and trailing spaces).
    pub fn exact_eq(self, expr: &str, param: &str) -> String {
        match self {
            Dialect::Mysql => format!("CAST({expr} AS BINARY) = CAST({param} AS BINARY)"),
            Dialect::Sqlite | Dialect::Postgres => format!("{expr} = {param}"),
        }
    }

    /// `expr` as text, for reading a user key of any type the same way (integers as
    /// decimal digits, UUIDs hyphenated).
    pub fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::Mysql => format!("CAST({expr} AS CHAR)"),
            Dialect::Sqlite | Dialect::Postgres => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The clause making a `SELECT` a shared locking read that waits for in-flight
    /// changes of the rows it reads: PostgreSQL `FOR SHARE`, MySQL/MariaDB
    /// `LOCK IN SHARE MODE`; empty on SQLite, where a read sees the last committed state
    /// and writers are serialized anyway.
    pub const fn share_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
            Dialect::Mysql => " LOCK IN SHARE MODE",
        }
    }

    /// The clause making a `SELECT` lock its rows for update (empty on SQLite, whose
    /// write transactions start with `BEGIN IMMEDIATE` and so exclude each other).
    pub const fn update_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::Mysql => " FOR UPDATE",
        }
    }

    /// The statement that starts a write transaction. SQLite takes the write lock up
    /// front (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails half-way
    /// with `SQLITE_BUSY`; the others lock rows as they go.
    pub const fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres | Dialect::Mysql => "BEGIN",
        }
    }

    /// Whether `INSERT`/`UPDATE ... RETURNING` exists (not in MySQL/MariaDB for updates).
    pub const fn has_returning(self) -> bool {
        !matches!(self, Dialect::Mysql)
    }

    /// Whether DDL runs inside a transaction (MySQL commits implicitly at each DDL).
    pub const fn transactional_ddl(self) -> bool {
        !matches!(self, Dialect::Mysql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_folding_replaces_every_ascii_capital_once() {
        let f = Dialect::Mysql.fold_ascii("`email`");
        assert_eq!(f.matches("REPLACE(").count(), 26);
        assert!(f.contains("CAST(`email` AS BINARY)"));
        for c in 'A'..='Z' {
            assert!(f.contains(&format!("'{c}', '{}'", c.to_ascii_lowercase())));
        }
    }

    #[test]
    fn quoting_per_dialect() {
        assert_eq!(Dialect::Postgres.quote("users"), "\"users\"");
        assert_eq!(Dialect::Sqlite.quote("users"), "\"users\"");
        assert_eq!(Dialect::Mysql.quote("users"), "`users`");
        assert_eq!(Dialect::Postgres.placeholder(3), "$3");
        assert_eq!(Dialect::Mysql.placeholder(3), "?");
    }
}
