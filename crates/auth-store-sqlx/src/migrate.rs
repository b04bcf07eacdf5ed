//! Backend-neutral parts of the migrations: the versioned steps and the user-table check.
//!
//! The migrations are tiny and versioned: each backend builds its list of [`Migration`]s
//! from the table prefix and the user key type (so the DDL can depend on them), and runs
//! those whose version is not yet recorded in `{prefix}auth_migrations`, in one
//! transaction, recording each. Applied versions are never edited: a schema change is a new
//! version.

use crate::user_table::{LIBRARY_COLUMNS, UserTable};

/// One versioned schema step.
#[derive(Debug, Clone)]
pub(crate) struct Migration {
    /// Strictly increasing, never reused.
    pub(crate) version: i64,
    /// A short description recorded with the version.
    pub(crate) name: &'static str,
    /// The statements, run in order in the migration transaction.
    pub(crate) statements: Vec<String>,
}

/// The columns the library needs in the application's user table (the key first).
pub(crate) fn required_user_columns(users: &UserTable) -> Vec<&str> {
    let mut cols = Vec::with_capacity(1 + LIBRARY_COLUMNS.len());
    cols.push(users.id_column_name());
    cols.extend(LIBRARY_COLUMNS);
    cols
}

/// The required columns absent from `present` (compared case-insensitively, as SQL does).
pub(crate) fn missing_user_columns<'a>(users: &'a UserTable, present: &[String]) -> Vec<&'a str> {
    required_user_columns(users)
        .into_iter()
        .filter(|req| !present.iter().any(|p| p.eq_ignore_ascii_case(req)))
        .collect()
}

/// The error source for a user table missing columns: names them (column names are
/// validated identifiers or the library's own, so safe to show).
#[derive(Debug)]
pub(crate) struct MissingColumns {
    pub(crate) table: String,
    pub(crate) missing: Vec<String>,
}

impl std::fmt::Display for MissingColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "user table `{}` lacks the library's column(s): {}",
            self.table,
            self.missing.join(", ")
        )
    }
}

impl std::error::Error for MissingColumns {}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::IdKind;

    #[test]
    fn names_exactly_the_missing_columns() {
        let users = UserTable::new("users", IdKind::Integer).id_column("uid");
        let present: Vec<String> = ["UID", "email", "password", "is_active", "created_at"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            missing_user_columns(&users, &present),
            ["last_login", "is_verified", "joined_at", "updated_at"]
        );
    }
}
