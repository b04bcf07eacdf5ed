//! Driver-free conversions between domain types and the values the library stores.
//!
//! The library's own tables hold times as unix microseconds (`BIGINT`), session ids as 32
//! lowercase hex digits, token kinds as [`TokenKind::code`], digests as 32 bytes. User keys
//! are read as text ([`Dialect::as_text`](crate::Dialect::as_text)) and parsed here, so
//! every driver decodes them the same way.

use std::net::IpAddr;

use auth_core::{IdKind, OffsetDateTime, SessionId, StoreError, StoreErrorKind, TokenKind, UserId};
use uuid::Uuid;

/// A row held a value that does not decode (a bad id, session id, kind or time).
pub fn corrupt(context: &'static str, what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, context).with_source(what)
}

/// Unix microseconds of `t` (sub-microsecond precision is dropped, rounding down).
pub fn to_micros(t: OffsetDateTime) -> i64 {
    // Every representable OffsetDateTime (years +-9999) fits in i64 microseconds.
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

/// The time of `micros` unix microseconds.
pub fn from_micros(micros: i64, context: &'static str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| corrupt(context, "time out of range"))
}

/// The optional time of `micros`.
pub fn from_micros_opt(
    micros: Option<i64>,
    context: &'static str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(|m| from_micros(m, context)).transpose()
}

/// Microseconds in `d`, saturating.
pub fn duration_micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A session id from its stored 32-hex-digit text.
pub fn session_id(text: &str, context: &'static str) -> Result<SessionId, StoreError> {
    SessionId::from_hex(text).map_err(|_| corrupt(context, "malformed session id"))
}

/// A token kind from its stored code.
pub fn token_kind(code: i16, context: &'static str) -> Result<TokenKind, StoreError> {
    TokenKind::from_code(code).ok_or_else(|| corrupt(context, "unknown token kind"))
}

/// A user id of `kind` from its text form (every key is read as text).
pub fn user_id_from_text(
    kind: IdKind,
    text: &str,
    context: &'static str,
) -> Result<UserId, StoreError> {
    match kind {
        IdKind::Uuid => Uuid::parse_str(text.trim())
            .map(UserId::Uuid)
            .map_err(|_| corrupt(context, "malformed uuid user id")),
        IdKind::Integer => text
            .trim()
            .parse::<i64>()
            .map(UserId::Int)
            .map_err(|_| corrupt(context, "malformed integer user id")),
    }
}

/// Refuses a user id whose kind is not the table's (an integer id against a UUID table):
/// [`StoreErrorKind::Other`].
pub fn check_id_kind(id: &UserId, kind: IdKind, context: &'static str) -> Result<(), StoreError> {
    if id.kind() == kind {
        Ok(())
    } else {
        Err(StoreError::new(StoreErrorKind::Other, context)
            .with_source("user id kind does not match the user table's key kind"))
    }
}

/// A client address from its stored text.
pub fn ip_from_text(
    text: Option<&str>,
    context: &'static str,
) -> Result<Option<IpAddr>, StoreError> {
    text.map(|t| {
        t.parse::<IpAddr>()
            .map_err(|_| corrupt(context, "malformed client address"))
    })
    .transpose()
}

/// A 32-byte digest from a stored value.
pub fn digest_bytes(bytes: &[u8], context: &'static str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| corrupt(context, "malformed token digest"))
}

/// The error source for a user table missing columns: names them (the names are
/// validated identifiers or the library's own, so safe to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumns {
    /// The user table.
    pub table: String,
    /// The library's columns it lacks.
    pub missing: Vec<String>,
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

impl MissingColumns {
    /// As the [`StoreErrorKind::Schema`] error of `context`.
    pub fn into_store_error(self, context: &'static str) -> StoreError {
        StoreError::new(StoreErrorKind::Schema, context).with_source(self)
    }
}

/// A stable 64-bit key for `text` (FNV-1a), e.g. a PostgreSQL advisory lock key.
pub fn stable_key(text: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_and_truncate() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_789).unwrap();
        let back = from_micros(to_micros(t), "t").unwrap();
        assert_eq!(back.unix_timestamp_nanos(), 1_900_000_000_123_456_000);
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500).unwrap();
        assert_eq!(to_micros(before_epoch), -2);
        assert!(from_micros(i64::MAX, "t").is_err());
    }

    #[test]
    fn user_ids_parse_by_kind() {
        assert_eq!(
            user_id_from_text(IdKind::Integer, "42", "t").unwrap(),
            UserId::Int(42)
        );
        let u = Uuid::from_u128(9);
        assert_eq!(
            user_id_from_text(IdKind::Uuid, &u.hyphenated().to_string(), "t").unwrap(),
            UserId::Uuid(u)
        );
        let err = user_id_from_text(IdKind::Integer, "x", "t").unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt);
        assert!(check_id_kind(&UserId::Int(1), IdKind::Uuid, "t").is_err());
    }

    #[test]
    fn codes_hex_and_addresses() {
        assert_eq!(token_kind(2, "t").unwrap(), TokenKind::Refresh);
        assert!(token_kind(9, "t").is_err());
        let id = SessionId::from_bytes([7; 16]);
        assert_eq!(session_id(&id.to_hex(), "t").unwrap(), id);
        assert!(session_id("zz", "t").is_err());
        assert_eq!(
            ip_from_text(Some("::1"), "t").unwrap(),
            Some("::1".parse().unwrap())
        );
        assert!(ip_from_text(Some("nope"), "t").is_err());
        assert!(digest_bytes(&[0; 31], "t").is_err());
        assert_eq!(stable_key("a"), stable_key("a"));
        assert_ne!(stable_key("a"), stable_key("b"));
        let m = MissingColumns {
            table: "users".into(),
            missing: vec!["email".into(), "joined_at".into()],
        };
        assert_eq!(
            m.to_string(),
            "user table `users` lacks the library's column(s): email, joined_at"
        );
    }
}
