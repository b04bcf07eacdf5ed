//! Mapping tokio-postgres and pool errors to the portable [`StoreErrorKind`]s, with the
//! same choices as `auth-store-sqlx`'s PostgreSQL backend.

use auth_core::{StoreError, StoreErrorKind};
use deadpool_postgres::PoolError;

/// The portable kind of a PostgreSQL error code (SQLSTATE).
fn classify(code: &str) -> StoreErrorKind {
    match code {
        "23505" => StoreErrorKind::UniqueViolation,
        // foreign_key_violation: the user or session referenced does not exist.
        "23503" => StoreErrorKind::NotFound,
        // undefined_table, undefined_column, invalid_foreign_key, datatype_mismatch (a
        // foreign key to a key of another type), invalid_schema_name
        "42P01" | "42703" | "42830" | "42804" | "3F000" => StoreErrorKind::Schema,
        // connection_exception (08), operator_intervention (57: admin shutdown, terminated
        // backend, cannot connect now, query canceled), insufficient_resources (53)
        c if c.starts_with("08") || c.starts_with("57") || c.starts_with("53") => {
            StoreErrorKind::Unavailable
        }
        // deadlock (after the retries), serialization failure, lock not available
        "40P01" | "40001" | "55P03" => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Other,
    }
}

/// The portable kind of a tokio-postgres error.
pub(crate) fn kind_of(err: &tokio_postgres::Error) -> StoreErrorKind {
    if let Some(code) = err.code() {
        return classify(code.code());
    }
    if err.is_closed() {
        return StoreErrorKind::Unavailable;
    }
    if std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>()) {
        return StoreErrorKind::Unavailable;
    }
    // tokio-postgres keeps its error kinds private; their messages are stable text.
    let message = err.to_string();
    let starts = |p: &str| message.starts_with(p);
    if starts("error communicating")
        || starts("error connecting")
        || starts("timeout waiting")
        || starts("error performing TLS")
        || starts("unexpected message")
        || starts("error parsing response")
    {
        StoreErrorKind::Unavailable
    } else if starts("error deserializing") {
        StoreErrorKind::Corrupt
    } else if starts("invalid column") || starts("query returned an unexpected number of columns") {
        StoreErrorKind::Schema
    } else {
        StoreErrorKind::Other
    }
}

/// Wraps a tokio-postgres error: the kind is portable, the message names only the
/// operation, the driver's error stays reachable as the source.
pub(crate) fn pg_error(context: &'static str, err: tokio_postgres::Error) -> StoreError {
    let kind = kind_of(&err);
    log(context, kind);
    StoreError::new(kind, context).with_source(err)
}

/// Wraps a pool error: a wait, create or recycle timeout and a closed pool are
/// `Unavailable`; a connection that could not be opened is classified like any driver
/// error.
pub(crate) fn pool_error(context: &'static str, err: PoolError) -> StoreError {
    let kind = match &err {
        PoolError::Timeout(_) | PoolError::Closed => StoreErrorKind::Unavailable,
        PoolError::Backend(e) => kind_of(e),
        _ => StoreErrorKind::Other,
    };
    log(context, kind);
    StoreError::new(kind, context).with_source(err)
}

fn log(context: &'static str, kind: StoreErrorKind) {
    if matches!(kind, StoreErrorKind::Unavailable | StoreErrorKind::Other) {
        tracing::debug!(operation = context, %kind, "store operation failed");
    }
}

/// True if `err` is a deadlock or a serialization failure: PostgreSQL rolled the whole
/// transaction back, so running the operation again is safe.
pub(crate) fn is_retryable(err: &StoreError) -> bool {
    let code = std::error::Error::source(err).and_then(|s| {
        if let Some(e) = s.downcast_ref::<tokio_postgres::Error>() {
            e.code().map(|c| c.code().to_owned())
        } else if let Some(PoolError::Backend(e)) = s.downcast_ref::<PoolError>() {
            e.code().map(|c| c.code().to_owned())
        } else {
            None
        }
    });
    matches!(code.as_deref(), Some("40P01" | "40001"))
}

/// True if `err` (from a query) leaves its connection unusable: the connection was closed
/// or killed, or its stream broke. Such a connection is discarded instead of going back to
/// the pool, so the next operation gets a fresh one even before the driver noticed the
/// close (the pool's `Fast` recycling runs no query). A lock timeout, a deadlock, a
/// serialization failure or a cancelled query leave the connection fine.
pub(crate) fn breaks_connection(err: &StoreError) -> bool {
    if err.kind() != StoreErrorKind::Unavailable {
        return false;
    }
    let code = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<tokio_postgres::Error>())
        .map(|e| e.code().map(|c| c.code().to_owned()));
    match code {
        // Not a driver error (a pool timeout): no connection involved.
        None => false,
        Some(code) => !matches!(code.as_deref(), Some("40P01" | "40001" | "55P03" | "57014")),
    }
}

/// The operation failed because there is no such row.
pub(crate) fn not_found(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_like_the_sqlx_store() {
        assert_eq!(classify("23505"), StoreErrorKind::UniqueViolation);
        assert_eq!(classify("23503"), StoreErrorKind::NotFound);
        assert_eq!(classify("42P01"), StoreErrorKind::Schema);
        assert_eq!(classify("42703"), StoreErrorKind::Schema);
        assert_eq!(classify("57P01"), StoreErrorKind::Unavailable);
        assert_eq!(classify("08006"), StoreErrorKind::Unavailable);
        assert_eq!(classify("53300"), StoreErrorKind::Unavailable);
        assert_eq!(classify("40P01"), StoreErrorKind::Unavailable);
        assert_eq!(classify("23514"), StoreErrorKind::Other);
        assert_eq!(classify("42601"), StoreErrorKind::Other);
    }
}
