//! SQL identifier validation: the only way a name reaches SQL text.

use auth_core::{StoreError, StoreErrorKind};

/// Longest identifier accepted: one leading character and 40 more.
const MAX_IDENT_LEN: usize = 41;

/// A refused name (the reason only: the name itself is never echoed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadIdentifier {
    /// The whole message, e.g. "invalid user table name: ...".
    pub(crate) message: &'static str,
}

impl std::fmt::Display for BadIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for BadIdentifier {}

impl BadIdentifier {
    /// As a [`StoreErrorKind::Schema`] error of the operation `context`.
    pub(crate) fn into_store_error(self, context: &'static str) -> StoreError {
        StoreError::new(StoreErrorKind::Schema, context).with_source(self)
    }
}

/// True if `name` matches `^[A-Za-z_][A-Za-z0-9_]{0,40}$`.
pub(crate) fn is_valid_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {}
        _ => return false,
    }
    bytes.len() <= MAX_IDENT_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Checks an identifier (a table or column name).
/// `message` is the whole error text, naming what the identifier is for.
pub(crate) fn check_identifier(name: &str, message: &'static str) -> Result<(), BadIdentifier> {
    if is_valid_identifier(name) {
        Ok(())
    } else {
        Err(BadIdentifier { message })
    }
}

/// Checks a table prefix: empty, or a valid identifier.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), BadIdentifier> {
    if prefix.is_empty() || is_valid_identifier(prefix) {
        Ok(())
    } else {
        Err(BadIdentifier {
            message: "invalid table prefix: must be empty or match ^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        })
    }
}

/// Double-quotes an identifier already checked by [`check_identifier`] (so it holds no
/// quote). Standard SQL quoting, understood by SQLite and PostgreSQL (and MySQL in
/// `ANSI_QUOTES` mode; the MySQL backend will use backticks).
pub(crate) fn quoted(name: &str) -> String {
    debug_assert!(is_valid_identifier(name));
    format!("\"{name}\"")
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
}
