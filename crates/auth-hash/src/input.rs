//! The one rule for password input, shared by the hasher and the service above it.

use crate::error::HashError;

/// Checks a submitted password before any normalization or hashing: the rule every layer
/// applies (the [`MultiHasher`](crate::MultiHasher) on `hash` and `verify`, and the facade
/// before it even looks a user up), so they can never disagree.
///
/// In this order:
/// 1. empty: [`HashError::EmptyPassword`];
/// 2. more than `max_len` characters (Unicode scalar values, not bytes):
///    [`HashError::PasswordTooLong`]. Cheap for huge input: the characters are only counted
///    when the byte length alone cannot decide (a character is 1 to 4 bytes), so a 1 MiB body
///    against a 4096-character limit costs one comparison;
/// 3. containing NUL (U+0000): [`HashError::PasswordContainsNul`] (C implementations of
///    legacy schemes stop at the first NUL, so `"pass\0word"` would mean `"pass"` there).
///
/// Nothing is trimmed, case-folded or truncated.
///
/// # Errors
/// The first rule broken, as above (all of kind
/// [`HashErrorKind::InvalidPassword`](crate::HashErrorKind::InvalidPassword)).
///
/// # Example
/// ```
/// use auth_hash::{HashError, check_password_input};
///
/// assert!(check_password_input("correct horse battery staple", 4096).is_ok());
/// assert!(matches!(check_password_input("", 4096), Err(HashError::EmptyPassword)));
/// assert!(matches!(
///     check_password_input("pass\0word", 4096),
///     Err(HashError::PasswordContainsNul)
/// ));
/// assert!(matches!(
///     check_password_input(&"a".repeat(1 << 20), 4096),
///     Err(HashError::PasswordTooLong { max: 4096 })
/// ));
/// ```
pub fn check_password_input(password: &str, max_len: usize) -> Result<(), HashError> {
    if password.is_empty() {
        return Err(HashError::EmptyPassword);
    }
    // A character is 1 to 4 bytes: only count when the byte length is ambiguous.
    if password.len() > max_len
        && (password.len() > max_len.saturating_mul(4) || password.chars().count() > max_len)
    {
        return Err(HashError::PasswordTooLong { max: max_len });
    }
    if password.as_bytes().contains(&0) {
        return Err(HashError::PasswordContainsNul);
    }
    Ok(())
}
