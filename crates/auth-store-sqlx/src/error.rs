//! Mapping sqlx errors to the portable [`StoreErrorKind`]s.

use auth_core::{StoreError, StoreErrorKind};
use sqlx::error::ErrorKind;

use crate::backend::Backend;

/// The portable kind of an sqlx error on backend `B`.
pub(crate) fn kind_of<B: Backend>(err: &sqlx::Error) -> StoreErrorKind {
    match err {
        sqlx::Error::Database(db) => B::classify(db.as_ref()).unwrap_or_else(|| match db.kind() {
            ErrorKind::UniqueViolation => StoreErrorKind::UniqueViolation,
            ErrorKind::ForeignKeyViolation => StoreErrorKind::NotFound,
            _ => StoreErrorKind::Other,
        }),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreErrorKind::Unavailable,
        sqlx::Error::RowNotFound => StoreErrorKind::NotFound,
        sqlx::Error::ColumnNotFound(_) | sqlx::Error::ColumnIndexOutOfBounds { .. } => {
            StoreErrorKind::Schema
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

/// Wraps an sqlx error: the kind is portable, the message names only the operation, the
/// sqlx error stays reachable as the source.
pub(crate) fn store_error<B: Backend>(context: &'static str, err: sqlx::Error) -> StoreError {
    let kind = kind_of::<B>(&err);
    if matches!(kind, StoreErrorKind::Unavailable | StoreErrorKind::Other) {
        tracing::debug!(operation = context, %kind, "store operation failed");
    }
    StoreError::new(kind, context).with_source(err)
}

/// True if `err` is a deadlock or serialization failure of backend `B` (the transaction
/// was rolled back; running the operation again is safe).
pub(crate) fn is_retryable<B: Backend>(err: &StoreError) -> bool {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<sqlx::Error>())
        .is_some_and(|e| match e {
            sqlx::Error::Database(db) => B::is_retryable(db.as_ref()),
            _ => false,
        })
}

/// The operation failed because there is no such row.
pub(crate) fn not_found(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, context)
}
