//! Backend-neutral conversions between domain types and column values, and the decoding of
//! the library's user columns.

use auth_core::{IdKind, OffsetDateTime, SessionId, StoreError, TokenKind, User, UserId};
use sqlx::{ColumnIndex, Database, Decode, Row};
use uuid::Uuid;

use crate::error::{corrupt, kind_of};

/// Unix microseconds of `t` (token and session times are stored this way; sub-microsecond
/// precision is dropped).
pub(crate) fn to_micros(t: OffsetDateTime) -> i64 {
    // i128 -> i64 cannot overflow for any representable OffsetDateTime year (+-9999).
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
}

/// The time of `micros` unix microseconds.
pub(crate) fn from_micros(
    micros: i64,
    context: &'static str,
) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| corrupt(context, "time out of range"))
}

/// The optional time of `micros`.
pub(crate) fn from_micros_opt(
    micros: Option<i64>,
    context: &'static str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(|m| from_micros(m, context)).transpose()
}

/// A session id from its stored 32-hex-digit text.
pub(crate) fn session_id(text: &str, context: &'static str) -> Result<SessionId, StoreError> {
    SessionId::from_hex(text).map_err(|_| corrupt(context, "malformed session id"))
}

/// A token kind from its stored code.
pub(crate) fn token_kind(code: i16, context: &'static str) -> Result<TokenKind, StoreError> {
    TokenKind::from_code(code).ok_or_else(|| corrupt(context, "unknown token kind"))
}

/// A user id of `kind` from its text form (UUID keys in SQLite, or any key read as text).
pub(crate) fn user_id_from_text(
    kind: IdKind,
    text: &str,
    context: &'static str,
) -> Result<UserId, StoreError> {
    match kind {
        IdKind::Uuid => Uuid::parse_str(text)
            .map(UserId::Uuid)
            .map_err(|_| corrupt(context, "malformed uuid user id")),
        IdKind::Integer => text
            .parse::<i64>()
            .map(UserId::Int)
            .map_err(|_| corrupt(context, "malformed integer user id")),
    }
}

/// Refuses a user id whose kind is not the table's (an integer id against a UUID table).
pub(crate) fn check_id_kind(
    id: &UserId,
    kind: IdKind,
    context: &'static str,
) -> Result<(), StoreError> {
    if id.kind() == kind {
        Ok(())
    } else {
        Err(StoreError::new(auth_core::StoreErrorKind::Other, context)
            .with_source("user id kind does not match the user table's key kind"))
    }
}

/// Decodes the library's eight user columns starting at column `first` (in the order of
/// [`LIBRARY_COLUMNS`](crate::user_table::LIBRARY_COLUMNS)) and the password hash, for a
/// user whose id was decoded by the backend. Uses unchecked decoding: the application may
/// declare its own column types (`TIMESTAMP`, `DATETIME`, `TEXT`, ...).
pub(crate) fn decode_user_columns<'r, R>(
    row: &'r R,
    id: UserId,
    first: usize,
    context: &'static str,
    classify: crate::error::DbClassifier,
) -> Result<(User, String), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database>,
    bool: Decode<'r, R::Database>,
    OffsetDateTime: Decode<'r, R::Database>,
    R::Database: Database,
{
    let err = |e: sqlx::Error| StoreError::new(kind_of(&e, classify), context).with_source(e);
    let email: String = row.try_get_unchecked(first).map_err(err)?;
    let password: String = row.try_get_unchecked(first + 1).map_err(err)?;
    let last_login: Option<OffsetDateTime> = row.try_get_unchecked(first + 2).map_err(err)?;
    let is_active: bool = row.try_get_unchecked(first + 3).map_err(err)?;
    let is_verified: bool = row.try_get_unchecked(first + 4).map_err(err)?;
    let joined_at: Option<OffsetDateTime> = row.try_get_unchecked(first + 5).map_err(err)?;
    let created_at: OffsetDateTime = row.try_get_unchecked(first + 6).map_err(err)?;
    let updated_at: OffsetDateTime = row.try_get_unchecked(first + 7).map_err(err)?;
    Ok((
        User {
            id,
            email,
            last_login,
            is_active,
            is_verified,
            joined_at,
            created_at,
            updated_at,
        },
        password,
    ))
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
    }
}
