//! Binding `auth-sql`'s driver-neutral [`Value`]s and decoding rows, on tokio-postgres.
//!
//! Statements are prepared with explicit parameter types (`prepare_typed`), the same
//! types sqlx declares for the same Rust values (`BIGINT`, `SMALLINT`, `TEXT`, `BYTEA`,
//! `BOOLEAN`, `TIMESTAMPTZ`, `UUID`), so PostgreSQL resolves every statement exactly as it
//! does for the sqlx store, whatever it would have inferred on its own (an `INSERT ...
//! SELECT $1` would otherwise type its parameters as `text`).

use std::error::Error;

use auth_core::{OffsetDateTime, StoreError, StoreErrorKind, UserId};
use auth_sql::{ColumnReader, Value};
use bytes::BytesMut;
use time::PrimitiveDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

type BoxError = Box<dyn Error + Sync + Send>;

/// The parameter type a value is prepared with.
pub(crate) fn pg_type(value: &Value) -> Type {
    match value {
        Value::Int(_) | Value::OptInt(_) | Value::UserId(UserId::Int(_)) => Type::INT8,
        Value::Small(_) => Type::INT2,
        Value::Text(_) | Value::OptText(_) => Type::TEXT,
        Value::Bytes(_) | Value::OptBytes(_) => Type::BYTEA,
        Value::Bool(_) => Type::BOOL,
        Value::Time(_) | Value::OptTime(_) => Type::TIMESTAMPTZ,
        Value::UserId(UserId::Uuid(_)) => Type::UUID,
    }
}

/// The parameter types of `args`, in order.
pub(crate) fn pg_types(args: &[Value]) -> Vec<Type> {
    args.iter().map(pg_type).collect()
}

/// One bound value, encoded with the type it was prepared with ([`pg_type`]).
#[derive(Debug)]
pub(crate) struct Bind<'a>(pub(crate) &'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Int(v) => v.to_sql(ty, out),
            Value::OptInt(v) => v.to_sql(ty, out),
            Value::Small(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::OptText(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
            Value::OptBytes(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Time(v) => v.to_sql(ty, out),
            Value::OptTime(v) => v.to_sql(ty, out),
            Value::UserId(UserId::Int(v)) => v.to_sql(ty, out),
            Value::UserId(UserId::Uuid(v)) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql_checked`.
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Int(v) => v.to_sql_checked(ty, out),
            Value::OptInt(v) => v.to_sql_checked(ty, out),
            Value::Small(v) => v.to_sql_checked(ty, out),
            Value::Text(v) => v.to_sql_checked(ty, out),
            Value::OptText(v) => v.to_sql_checked(ty, out),
            Value::Bytes(v) => v.to_sql_checked(ty, out),
            Value::OptBytes(v) => v.to_sql_checked(ty, out),
            Value::Bool(v) => v.to_sql_checked(ty, out),
            Value::Time(v) => v.to_sql_checked(ty, out),
            Value::OptTime(v) => v.to_sql_checked(ty, out),
            Value::UserId(UserId::Int(v)) => v.to_sql_checked(ty, out),
            Value::UserId(UserId::Uuid(v)) => v.to_sql_checked(ty, out),
        }
    }
}

/// Any integer column (`SMALLINT`, `INTEGER`, `BIGINT`), widened.
struct AnyInt(i64);

impl<'a> FromSql<'a> for AnyInt {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(AnyInt(match *ty {
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            _ => i64::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }
}

/// A user-table time: `TIMESTAMPTZ`, or `TIMESTAMP` read as UTC (as the sqlx store does).
struct AnyTime(OffsetDateTime);

impl<'a> FromSql<'a> for AnyTime {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(AnyTime(match *ty {
            Type::TIMESTAMP => PrimitiveDateTime::from_sql(ty, raw)?.assume_utc(),
            _ => OffsetDateTime::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::TIMESTAMPTZ | Type::TIMESTAMP)
    }
}

/// Typed access to one result row, with errors of one operation: a missing column is
/// `Schema`, a value that does not decode `Corrupt`.
pub(crate) struct Cols<'r> {
    row: &'r Row,
    context: &'static str,
}

impl<'r> Cols<'r> {
    pub(crate) fn new(row: &'r Row, context: &'static str) -> Self {
        Self { row, context }
    }

    fn get<T: FromSql<'r>>(&self, i: usize) -> Result<Option<T>, StoreError> {
        if i >= self.row.len() {
            return Err(StoreError::new(StoreErrorKind::Schema, self.context)
                .with_source("the statement returned fewer columns than expected"));
        }
        self.row
            .try_get::<_, Option<T>>(i)
            .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, self.context).with_source(e))
    }
}

impl ColumnReader for Cols<'_> {
    fn context(&self) -> &'static str {
        self.context
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get::<AnyInt>(i)?.map(|v| v.0))
    }

    fn opt_i16(&self, i: usize) -> Result<Option<i16>, StoreError> {
        self.opt_i64(i)?
            .map(|v| i16::try_from(v).map_err(|_| auth_sql::corrupt(self.context, "out of range")))
            .transpose()
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get::<String>(i)
    }

    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.get::<Vec<u8>>(i)
    }

    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        self.get::<bool>(i)
    }

    fn opt_time(&self, i: usize) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self.get::<AnyTime>(i)?.map(|v| v.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_prepared_with_the_types_sqlx_declares() {
        assert_eq!(pg_type(&Value::Int(1)), Type::INT8);
        assert_eq!(pg_type(&Value::OptInt(None)), Type::INT8);
        assert_eq!(pg_type(&Value::Small(1)), Type::INT2);
        assert_eq!(pg_type(&Value::OptText(None)), Type::TEXT);
        assert_eq!(pg_type(&Value::OptBytes(None)), Type::BYTEA);
        assert_eq!(pg_type(&Value::OptTime(None)), Type::TIMESTAMPTZ);
        assert_eq!(pg_type(&Value::UserId(UserId::Int(3))), Type::INT8);
        assert_eq!(
            pg_type(&Value::UserId(UserId::Uuid(uuid::Uuid::nil()))),
            Type::UUID
        );
    }

    #[test]
    fn binds_encode_with_their_declared_type_and_refuse_others() {
        let mut out = BytesMut::new();
        let v = Value::Int(7);
        assert!(matches!(
            Bind(&v).to_sql_checked(&Type::INT8, &mut out),
            Ok(IsNull::No)
        ));
        assert_eq!(&out[..], &7i64.to_be_bytes());
        assert!(Bind(&v).to_sql_checked(&Type::TEXT, &mut out).is_err());
        let none = Value::OptText(None);
        assert!(matches!(
            Bind(&none).to_sql_checked(&Type::TEXT, &mut out),
            Ok(IsNull::Yes)
        ));
    }

    #[test]
    fn narrow_integers_and_plain_timestamps_decode() {
        let AnyInt(v) = AnyInt::from_sql(&Type::INT4, &42i32.to_be_bytes()).unwrap();
        assert_eq!(v, 42);
        assert!(!<AnyInt as FromSql>::accepts(&Type::TEXT));
        // 2000-01-01T00:00:01 (PostgreSQL's epoch plus one second).
        let raw = 1_000_000i64.to_be_bytes();
        let AnyTime(t) = AnyTime::from_sql(&Type::TIMESTAMP, &raw).unwrap();
        assert_eq!(t.unix_timestamp(), 946_684_801);
        let AnyTime(t) = AnyTime::from_sql(&Type::TIMESTAMPTZ, &raw).unwrap();
        assert_eq!(t.unix_timestamp(), 946_684_801);
    }
}
