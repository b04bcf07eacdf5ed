//! Mapping sqlx errors to the portable [`StoreErrorKind`]s (backend-neutral; each backend
//! adds only its own codes for "schema missing" and "busy").

use auth_core::{StoreError, StoreErrorKind};
use sqlx::error::{DatabaseError, ErrorKind};

/// Backend-specific classification of a database error; `None` falls back to the portable
/// [`DatabaseError::kind`].
pub(crate) type DbClassifier = fn(&dyn DatabaseError) -> Option<StoreErrorKind>;

/// The portable kind of an sqlx error.
pub(crate) fn kind_of(err: &sqlx::Error, classify: DbClassifier) -> StoreErrorKind {
    match err {
        sqlx::Error::Database(db) => classify(db.as_ref()).unwrap_or_else(|| match db.kind() {
            ErrorKind::UniqueViolation => StoreErrorKind::UniqueViolation,
            _ => StoreErrorKind::Other,
        }),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
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
pub(crate) fn store_error(
    context: &'static str,
    err: sqlx::Error,
    classify: DbClassifier,
) -> StoreError {
    let kind = kind_of(&err, classify);
    if kind == StoreErrorKind::Unavailable || kind == StoreErrorKind::Other {
        tracing::debug!(operation = context, %kind, "store operation failed");
    }
    StoreError::new(kind, context).with_source(err)
}

/// A row held a value that does not decode (a bad id, session id, kind or time).
pub(crate) fn corrupt(context: &'static str, what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, context).with_source(what)
}
