//! The MySQL / MariaDB backend.

use std::str::FromStr;

use auth_core::StoreErrorKind;
use auth_sql::Dialect;
use sqlx::MySql;
use sqlx::error::DatabaseError;
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};

use crate::StoreOptions;
use crate::backend::{Backend, BoxFuture, Connected, bind_all_fn, pool_options, query_methods};

/// Default pool size.
const POOL_CONNECTIONS: u32 = 10;

bind_all_fn!(MySql, |q: sqlx::query::Query<'static, MySql, _>,
                     v: uuid::Uuid| q
    .bind(v.hyphenated().to_string()));

fn number(err: &dyn DatabaseError) -> Option<u16> {
    err.try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number)
}

impl Backend for MySql {
    const DIALECT: Dialect = Dialect::Mysql;

    fn connect(
        url: &str,
        options: &StoreOptions,
    ) -> BoxFuture<'static, Result<Connected<Self>, sqlx::Error>> {
        let url = url.to_owned();
        let options = options.clone();
        Box::pin(async move {
            // sqlx's defaults matter here: time_zone '+00:00' (user-table times are UTC),
            // charset utf8mb4, CLIENT_FOUND_ROWS (rows_affected counts matched rows).
            let connect = MySqlConnectOptions::from_str(&url)?;
            let pool = pool_options::<MySql>(&options, POOL_CONNECTIONS)
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
        Some(match number(err)? {
            1062 | 1586 => StoreErrorKind::UniqueViolation,
            // ER_NO_REFERENCED_ROW(_2), ER_ROW_IS_REFERENCED(_2)
            1216 | 1217 | 1451 | 1452 => StoreErrorKind::NotFound,
            // no such table / column / database; foreign key cannot be created
            1146 | 1054 | 1049 | 1005 | 1215 | 1822 | 3780 => StoreErrorKind::Schema,
            // lock wait timeout, deadlock, connection killed, server gone or shutting
            // down, too many connections, query interrupted
            1205 | 1213 | 1927 | 2006 | 2013 | 1053 | 1040 | 1317 | 1158 | 1159 | 1160 | 1161 => {
                StoreErrorKind::Unavailable
            }
            _ => return None,
        })
    }

    fn is_retryable(err: &dyn DatabaseError) -> bool {
        // 1213: deadlock. 1467 ("failed to read auto-increment value from storage
        // engine"): MariaDB answers it, now and then, to the conditional `INSERT ...
        // SELECT ... WHERE NOT EXISTS` of `create_user` racing other inserts into the same
        // table; the statement was rolled back and a retry succeeds.
        matches!(number(err), Some(1213 | 1467))
    }

    query_methods!(MySql);
}
