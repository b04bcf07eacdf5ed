//! The PostgreSQL backend.

use std::str::FromStr;

use auth_core::StoreErrorKind;
use auth_sql::Dialect;
use sqlx::Postgres;
use sqlx::error::DatabaseError;
use sqlx::postgres::PgConnectOptions;

use crate::StoreOptions;
use crate::backend::{Backend, BoxFuture, Connected, bind_all_fn, pool_options, query_methods};

/// Default pool size.
const POOL_CONNECTIONS: u32 = 10;

bind_all_fn!(Postgres, |q: sqlx::query::Query<'static, Postgres, _>,
                        v: uuid::Uuid| q.bind(v));

impl Backend for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;

    fn connect(
        url: &str,
        options: &StoreOptions,
    ) -> BoxFuture<'static, Result<Connected<Self>, sqlx::Error>> {
        let url = url.to_owned();
        let options = options.clone();
        Box::pin(async move {
            let connect = PgConnectOptions::from_str(&url)?;
            let pool = pool_options::<Postgres>(&options, POOL_CONNECTIONS)
                .connect_with(connect)
                .await?;
            Ok(Connected {
                pool,
                keeper: None,
                readers: None,
            })
        })
    }

    fn classify(err: &dyn DatabaseError) -> Option<StoreErrorKind> {
        let code = err.code()?;
        let code: &str = &code;
        Some(match code {
            "23505" => StoreErrorKind::UniqueViolation,
            // foreign_key_violation: the user or session referenced does not exist.
            "23503" => StoreErrorKind::NotFound,
            // undefined_table, undefined_column, invalid_foreign_key, datatype_mismatch
            // (a foreign key to a key of another type), invalid_schema_name
            "42P01" | "42703" | "42830" | "42804" | "3F000" => StoreErrorKind::Schema,
            // connection_exception (08), operator_intervention (57: admin shutdown,
            // terminated backend, cannot connect now), insufficient_resources (53),
            // deadlock, serialization failure, lock not available, query canceled.
            c if c.starts_with("08") || c.starts_with("57") || c.starts_with("53") => {
                StoreErrorKind::Unavailable
            }
            "40P01" | "40001" | "55P03" => StoreErrorKind::Unavailable,
            _ => return None,
        })
    }

    fn is_retryable(err: &dyn DatabaseError) -> bool {
        matches!(err.code().as_deref(), Some("40P01" | "40001"))
    }

    query_methods!(Postgres);
}
