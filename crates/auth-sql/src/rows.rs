//! [`ColumnReader`]: row decoding written once. A driver implements the six typed getters
//! for its row type; the provided methods decode the rows of the [`Statements`]
//! (users, session statuses, access-token records, session listings, locked refresh
//! tokens, rate-limit states) the same way for every store.
//!
//! [`Statements`]: crate::Statements

use auth_core::{
    AccessTokenRecord, IdKind, OffsetDateTime, SessionInfo, SessionStatus, StoreError, TokenKind,
    User, UserId,
};

use crate::codec::{
    corrupt, from_micros, from_micros_opt, ip_from_text, session_id, token_kind, user_id_from_text,
};
use crate::decide::LockedRefresh;
use crate::statements::{SESSION_STATUS_COLUMN_COUNT, USER_COLUMN_COUNT};

/// Typed access to the columns of one result row, with the errors of one operation.
///
/// A driver implements the `opt_*` getters (a `NULL` is `Ok(None)`; a value of the wrong
/// type is [`StoreErrorKind::Corrupt`](auth_core::StoreErrorKind::Corrupt), a missing
/// column [`StoreErrorKind::Schema`](auth_core::StoreErrorKind::Schema)); every other
/// method is provided and decodes the columns in the order the [`Statements`] select them.
///
/// [`Statements`]: crate::Statements
pub trait ColumnReader {
    /// The operation whose row this is (for errors).
    fn context(&self) -> &'static str;
    /// Column `i` as an integer (`BIGINT`, or any narrower integer).
    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// Column `i` as a small integer (token kinds).
    fn opt_i16(&self, i: usize) -> Result<Option<i16>, StoreError>;
    /// Column `i` as text.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// Column `i` as bytes.
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// Column `i` as a boolean.
    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError>;
    /// Column `i` as a user-table timestamp, in UTC.
    fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Column `i`, not `NULL`.
    fn i64(&self, i: usize) -> Result<i64, StoreError> {
        required(self.context(), self.opt_i64(i)?)
    }
    /// Column `i`, not `NULL`.
    fn i16(&self, i: usize) -> Result<i16, StoreError> {
        required(self.context(), self.opt_i16(i)?)
    }
    /// Column `i`, not `NULL`.
    fn text(&self, i: usize) -> Result<String, StoreError> {
        required(self.context(), self.opt_text(i)?)
    }
    /// Column `i`, not `NULL`.
    fn bool(&self, i: usize) -> Result<bool, StoreError> {
        required(self.context(), self.opt_bool(i)?)
    }
    /// Column `i`, not `NULL`.
    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError> {
        required(self.context(), self.opt_time(i)?)
    }

    /// A user key read as text (every statement reads keys as text).
    fn user_id(&self, i: usize, kind: IdKind) -> Result<UserId, StoreError> {
        user_id_from_text(kind, &self.text(i)?, self.context())
    }

    /// The [`USER_COLUMN_COUNT`] user columns from `first`, and the password hash.
    fn user(&self, first: usize, kind: IdKind) -> Result<(User, String), StoreError> {
        const { assert!(USER_COLUMN_COUNT == 9) };
        Ok((
            User {
                id: self.user_id(first, kind)?,
                email: self.text(first + 1)?,
                last_login: self.opt_time(first + 3)?,
                is_active: self.bool(first + 4)?,
                is_verified: self.bool(first + 5)?,
                joined_at: self.opt_time(first + 6)?,
                created_at: self.time(first + 7)?,
                updated_at: self.time(first + 8)?,
            },
            self.text(first + 2)?,
        ))
    }

    /// The [`SESSION_STATUS_COLUMN_COUNT`] session columns from `first`, then the user
    /// columns (a row of [`Statements::session_status`](crate::Statements::session_status)
    /// from 0, of [`Statements::access_lookup`](crate::Statements::access_lookup) from 2).
    fn session_status(&self, first: usize, kind: IdKind) -> Result<SessionStatus, StoreError> {
        let ctx = self.context();
        let (user, _) = self.user(first + SESSION_STATUS_COLUMN_COUNT, kind)?;
        Ok(SessionStatus {
            session_id: session_id(&self.text(first)?, ctx)?,
            user_id: user.id,
            revoked: self.opt_i64(first + 1)?.is_some(),
            expires_at: from_micros(self.i64(first + 2)?, ctx)?,
            absolute_expires_at: from_micros(self.i64(first + 3)?, ctx)?,
            claims: self.opt_text(first + 4)?,
            user: Some(user),
        })
    }

    /// A row of [`Statements::access_lookup`](crate::Statements::access_lookup).
    fn access_record(&self, kind: IdKind) -> Result<AccessTokenRecord, StoreError> {
        Ok(AccessTokenRecord {
            kind: token_kind(self.i16(0)?, self.context())?,
            expires_at: from_micros(self.i64(1)?, self.context())?,
            session: self.session_status(2, kind)?,
        })
    }

    /// A row of [`Statements::list_sessions`](crate::Statements::list_sessions).
    fn session_info(&self, kind: IdKind) -> Result<SessionInfo, StoreError> {
        let ctx = self.context();
        Ok(SessionInfo {
            id: session_id(&self.text(0)?, ctx)?,
            user_id: self.user_id(1, kind)?,
            created_at: from_micros(self.i64(2)?, ctx)?,
            refreshed_at: from_micros_opt(self.opt_i64(3)?, ctx)?,
            expires_at: from_micros(self.i64(4)?, ctx)?,
            absolute_expires_at: from_micros(self.i64(5)?, ctx)?,
            ip: ip_from_text(self.opt_text(6)?.as_deref(), ctx)?,
            user_agent: self.opt_text(7)?,
        })
    }

    /// A row of [`Statements::rotate_lock`](crate::Statements::rotate_lock).
    fn locked_refresh(&self, kind: IdKind) -> Result<LockedRefresh, StoreError> {
        let session_text = self.text(6)?;
        Ok(LockedRefresh {
            is_refresh: self.i16(0)? == TokenKind::Refresh.code(),
            expires_at_us: self.i64(1)?,
            spent_at_us: self.opt_i64(2)?,
            sealed_successor: self.opt_bytes(3)?,
            successor_spent_at_us: self.opt_i64(4)?,
            successor_expires_at_us: self.opt_i64(5)?,
            session_id: session_id(&session_text, self.context())?,
            session_id_text: session_text,
            user_id: self.user_id(7, kind)?,
            revoked: self.opt_i64(8)?.is_some(),
            session_expires_at_us: self.i64(9)?,
            absolute_expires_at_us: self.i64(10)?,
            last_active_us: self.opt_i64(12)?.unwrap_or(self.i64(11)?),
            grace_until_us: self.opt_i64(13)?,
        })
    }

    /// A row of [`Statements::rate_limit_hit`](crate::Statements::rate_limit_hit) (SQLite,
    /// PostgreSQL) or [`Statements::rate_limit_read`](crate::Statements::rate_limit_read):
    /// `attempts`, `locked_until_us`.
    fn rate_limit_state(&self) -> Result<(i64, Option<i64>), StoreError> {
        Ok((self.i64(0)?, self.opt_i64(1)?))
    }
}

fn required<T>(context: &'static str, value: Option<T>) -> Result<T, StoreError> {
    value.ok_or_else(|| corrupt(context, "unexpected NULL"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use auth_core::StoreErrorKind;

    /// A row of driver-neutral values, for tests.
    #[derive(Debug, Clone)]
    pub(crate) enum Cell {
        Null,
        Int(i64),
        Text(&'static str),
        Bytes(Vec<u8>),
        Bool(bool),
        Time(OffsetDateTime),
    }

    pub(crate) struct FakeRow(pub(crate) Vec<Cell>);

    impl FakeRow {
        fn cell(&self, i: usize) -> Result<&Cell, StoreError> {
            self.0
                .get(i)
                .ok_or_else(|| StoreError::new(StoreErrorKind::Schema, "fake"))
        }
    }

    fn wrong() -> StoreError {
        corrupt("fake", "wrong type")
    }

    impl ColumnReader for FakeRow {
        fn context(&self) -> &'static str {
            "fake"
        }
        fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
            match self.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Int(v) => Ok(Some(*v)),
                _ => Err(wrong()),
            }
        }
        fn opt_i16(&self, i: usize) -> Result<Option<i16>, StoreError> {
            self.opt_i64(i)?
                .map(|v| i16::try_from(v).map_err(|_| wrong()))
                .transpose()
        }
        fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
            match self.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Text(v) => Ok(Some((*v).to_owned())),
                _ => Err(wrong()),
            }
        }
        fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
            match self.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Bytes(v) => Ok(Some(v.clone())),
                _ => Err(wrong()),
            }
        }
        fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
            match self.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Bool(v) => Ok(Some(*v)),
                _ => Err(wrong()),
            }
        }
        fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError> {
            match self.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Time(v) => Ok(Some(*v)),
                _ => Err(wrong()),
            }
        }
    }

    pub(crate) const SID: &str = "00112233445566778899aabbccddeeff";

    pub(crate) fn user_cells(active: bool) -> Vec<Cell> {
        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        vec![
            Cell::Text("42"),
            Cell::Text("ada@example.com"),
            Cell::Text("$argon2id$x"),
            Cell::Null,
            Cell::Bool(active),
            Cell::Bool(false),
            Cell::Time(t),
            Cell::Time(t),
            Cell::Time(t),
        ]
    }

    #[test]
    fn an_access_lookup_row_decodes_with_its_session_and_user() {
        let mut cells = vec![
            Cell::Int(1),
            Cell::Int(1_900_000_900_000_000),
            Cell::Text(SID),
            Cell::Null,
            Cell::Int(1_900_009_000_000_000),
            Cell::Int(1_900_090_000_000_000),
            Cell::Text("{}"),
        ];
        cells.extend(user_cells(true));
        let record = FakeRow(cells).access_record(IdKind::Integer).unwrap();
        assert_eq!(record.kind, TokenKind::Access);
        assert!(!record.session.revoked);
        assert_eq!(record.session.user_id, UserId::Int(42));
        assert_eq!(record.session.session_id.to_hex(), SID);
        let user = record.session.user.unwrap();
        assert_eq!(user.email, "ada@example.com");
        assert!(user.is_active && user.last_login.is_none());
    }

    #[test]
    fn nulls_and_bad_values_are_corrupt_and_missing_columns_schema() {
        let row = FakeRow(vec![Cell::Null, Cell::Text("x"), Cell::Int(99)]);
        assert_eq!(row.i64(0).unwrap_err().kind(), StoreErrorKind::Corrupt);
        assert_eq!(
            row.user_id(1, IdKind::Integer).unwrap_err().kind(),
            StoreErrorKind::Corrupt
        );
        assert_eq!(row.i64(5).unwrap_err().kind(), StoreErrorKind::Schema);
        let short = FakeRow(vec![Cell::Int(1), Cell::Int(1)]);
        assert_eq!(
            short.access_record(IdKind::Integer).unwrap_err().kind(),
            StoreErrorKind::Schema
        );
    }
}
