//! [`UserTable`]: the description of the application's own user table.

use auth_core::IdKind;

use crate::ident::{BadIdentifier, check_identifier};

/// The library's eight columns in the application's user table, besides the key, in the
/// order every statement selects them (after the key).
pub const LIBRARY_COLUMNS: [&str; 8] = [
    "email",
    "password",
    "last_login",
    "is_active",
    "is_verified",
    "joined_at",
    "created_at",
    "updated_at",
];

/// Describes the application's own user table. The library reads and writes only its eight
/// columns (`email`, `password`, `last_login`, `is_active`, `is_verified`, `joined_at`,
/// `created_at`, `updated_at`) and the key; every other column belongs to the application.
///
/// Names are checked against `^[A-Za-z_][A-Za-z0-9_]{0,40}$` when a store is built (a bad
/// name is a [`StoreErrorKind::Schema`](auth_core::StoreErrorKind::Schema) error), so no SQL
/// can be smuggled in through a name.
///
/// ```
/// use auth_core::IdKind;
/// use auth_sql::UserTable;
///
/// let users = UserTable::new("accounts", IdKind::Uuid)
///     .id_column("account_id")
///     .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'");
/// assert_eq!(users.table(), "accounts");
/// assert!(users.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTable {
    table: String,
    id_column: String,
    id_kind: IdKind,
    extra_columns: String,
}

impl UserTable {
    /// The table `table` keyed by a column `id` of kind `id_kind`.
    pub fn new(table: &str, id_kind: IdKind) -> Self {
        Self {
            table: table.to_owned(),
            id_column: "id".to_owned(),
            id_kind,
            extra_columns: String::new(),
        }
    }

    /// Names the key column (default `id`).
    pub fn id_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.id_column);
        self
    }

    /// Extra column definitions used only when `migrate` creates the table, e.g.
    /// `"display_name TEXT, role TEXT NOT NULL DEFAULT 'member'"`.
    ///
    /// This is trusted DDL written by the application (never user input); it is inserted
    /// verbatim into `CREATE TABLE`, so it is refused if it contains `;`.
    pub fn extra_columns(mut self, ddl: &str) -> Self {
        ddl.trim().clone_into(&mut self.extra_columns);
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The key column's name.
    pub fn id_column_name(&self) -> &str {
        &self.id_column
    }

    /// The key's kind.
    pub fn id_kind(&self) -> IdKind {
        self.id_kind
    }

    /// The extra column definitions (empty if none).
    pub fn extra_columns_ddl(&self) -> &str {
        &self.extra_columns
    }

    /// Checks the names (and that the extra DDL holds no statement separator).
    pub fn validate(&self) -> Result<(), BadIdentifier> {
        check_identifier(
            &self.table,
            "invalid user table name: must match ^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        )?;
        check_identifier(
            &self.id_column,
            "invalid user id column name: must match ^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        )?;
        if self.extra_columns.contains(';') {
            return Err(BadIdentifier::new(
                "invalid extra columns DDL: must not contain `;`",
            ));
        }
        Ok(())
    }

    /// The columns the library needs in this table, the key first.
    pub fn required_columns(&self) -> Vec<&str> {
        let mut cols = Vec::with_capacity(1 + LIBRARY_COLUMNS.len());
        cols.push(self.id_column_name());
        cols.extend(LIBRARY_COLUMNS);
        cols
    }

    /// The required columns absent from `present` (compared ASCII-case-insensitively, as
    /// SQL compares unquoted names).
    pub fn missing_columns<'a>(&'a self, present: &[String]) -> Vec<&'a str> {
        self.required_columns()
            .into_iter()
            .filter(|req| !present.iter().any(|p| p.eq_ignore_ascii_case(req)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_exactly_the_missing_columns() {
        let users = UserTable::new("users", IdKind::Integer).id_column("uid");
        let present: Vec<String> = ["UID", "email", "password", "is_active", "created_at"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            users.missing_columns(&present),
            ["last_login", "is_verified", "joined_at", "updated_at"]
        );
    }

    #[test]
    fn bad_names_and_chained_ddl_are_refused() {
        assert!(
            UserTable::new("users;", IdKind::Integer)
                .validate()
                .is_err()
        );
        assert!(
            UserTable::new("users", IdKind::Integer)
                .id_column("id\"")
                .validate()
                .is_err()
        );
        assert!(
            UserTable::new("users", IdKind::Integer)
                .extra_columns("x TEXT); DROP TABLE y; --")
                .validate()
                .is_err()
        );
    }
}
