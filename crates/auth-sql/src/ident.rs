//! SQL identifier validation: the only way a name reaches SQL text.

use auth_core::{StoreError, StoreErrorKind};

/// Longest identifier accepted: one leading character and 40 more.
pub const MAX_IDENTIFIER_LENGTH: usize = 41;

/// A refused name. Carries the reason only: the name itself is never echoed, so an
/// error message can be logged or shown without repeating attacker-controlled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadIdentifier {
    message: &'static str,
}

impl std::fmt::Display for BadIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for BadIdentifier {}

impl BadIdentifier {
    /// A refusal with this whole message (static text that never holds the name).
    pub const fn new(message: &'static str) -> Self {
        Self { message }
    }

    /// The message, e.g. `"invalid user table name: ..."`.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// As a [`StoreErrorKind::Schema`] error of the operation `context`.
    pub fn into_store_error(self, context: &'static str) -> StoreError {
        StoreError::new(StoreErrorKind::Schema, context).with_source(self)
    }
}

/// True if `name` matches `^[A-Za-z_][A-Za-z0-9_]{0,40}$`: the only names that reach SQL.
pub fn is_valid_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {}
        _ => return false,
    }
    bytes.len() <= MAX_IDENTIFIER_LENGTH
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Checks an identifier (a table or column name); `message` is the whole error text,
/// naming what the identifier is for.
pub fn check_identifier(name: &str, message: &'static str) -> Result<(), BadIdentifier> {
    if is_valid_identifier(name) {
        Ok(())
    } else {
        Err(BadIdentifier { message })
    }
}

/// Checks a table prefix: empty, or a valid identifier.
pub fn check_prefix(prefix: &str) -> Result<(), BadIdentifier> {
    if prefix.is_empty() || is_valid_identifier(prefix) {
        Ok(())
    } else {
        Err(BadIdentifier {
            message: "invalid table prefix: must be empty or match ^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        })
    }
}

/// Checks a column type read from the database's catalog before it is written into DDL
/// (the type of the application's key column, copied to the library's foreign keys):
/// letters, digits, `_`, spaces, parentheses and commas only, at most 128 bytes.
pub fn check_column_type(sql_type: &str) -> Result<(), BadIdentifier> {
    let ok = !sql_type.trim().is_empty()
        && sql_type.len() <= 128
        && sql_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _(),".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BadIdentifier {
            message: "the user key column's type, as read from the catalog, is not a plain SQL type",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_refuses_everything_else() {
        for good in ["users", "_x", "A1_b2", &"a".repeat(41)] {
            assert!(is_valid_identifier(good), "{good}");
        }
        for bad in [
            "",
            "1users",
            "users;",
            "users\"",
            "users`",
            "a b",
            "users--",
            "us\u{e9}rs",
            "x.y",
            &"a".repeat(42),
        ] {
            assert!(!is_valid_identifier(bad), "{bad}");
        }
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("t1_").is_ok());
        assert!(check_prefix("t-1").is_err());
    }

    #[test]
    fn column_types_from_the_catalog_are_checked() {
        for good in [
            "bigint",
            "int(10) unsigned",
            "character varying(36)",
            "char(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
            "uuid",
        ] {
            assert!(check_column_type(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " ",
            "int; DROP TABLE x",
            "text' --",
            "a\"b",
            &"x".repeat(129),
        ] {
            assert!(check_column_type(bad).is_err(), "{bad}");
        }
    }
}
