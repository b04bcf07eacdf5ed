//! The two PostgreSQL stores share one schema: migrating with either creates exactly the
//! same tables, columns, types, indexes and constraints; a schema migrated by one is used
//! by the other (whose `migrate` is then a no-op); sessions and tokens written through
//! one are authenticated, rotated and revoked through the other.
//!
//! Reads `AUTH_TEST_POSTGRES_URL` (skipped with a notice when unset, a failure with
//! `AUTH_TEST_REQUIRE_ALL=1`); each test works in schemas of its own and drops them when
//! it passes.

use auth_core::{AuthConfig, AuthError, IdKind, TokenError};
use auth_facade::AuthService;
use auth_store_postgres::PostgresStore;
use auth_store_postgres::tokio_postgres::{self, NoTls};
use auth_store_sqlx::PgStore;
use auth_store_sqlx::UserTable;

fn base_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("AUTH_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "AUTH_TEST_POSTGRES_URL is unset and AUTH_TEST_REQUIRE_ALL=1"
            );
            eprintln!("skipped: AUTH_TEST_POSTGRES_URL is unset");
            None
        }
    }
}

async fn admin(base: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(base, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh schema and the URL that works in it.
async fn schema(base: &str, tag: &str) -> (String, String) {
    let name = format!(
        "tsw_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 1_000_000
    );
    admin(base)
        .await
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
    (name, url)
}

async fn drop_schema(base: &str, name: &str) {
    admin(base)
        .await
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

fn users() -> UserTable {
    UserTable::new("users", IdKind::Integer)
}

/// Every column, index and constraint of `schema`, with the schema's name taken out.
async fn describe(base: &str, schema: &str) -> Vec<String> {
    let client = admin(base).await;
    let mut out = Vec::new();
    for row in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
             coalesce(column_default, '')::text FROM information_schema.columns \
             WHERE table_schema = $1 ORDER BY 1, 2",
            &[&schema],
        )
        .await
        .unwrap()
    {
        let cols: Vec<String> = (0..5).map(|i| row.get::<_, String>(i)).collect();
        out.push(format!("column {}", cols.join(" ")));
    }
    for row in client
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
    {
        let def: String = row.get(1);
        out.push(format!(
            "index {} {}",
            row.get::<_, String>(0),
            def.replace(schema, "S")
        ));
    }
    for row in client
        .query(
            "SELECT c.conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c \
             JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
    {
        let def: String = row.get(1);
        out.push(format!(
            "constraint {} {}",
            row.get::<_, String>(0),
            def.replace(schema, "S")
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_with_either_store_creates_the_same_schema() {
    let Some(base) = base_url() else { return };
    let (a, url_a) = schema(&base, "sqlx").await;
    let (b, url_b) = schema(&base, "tokio").await;
    let sqlx = PgStore::connect(&url_a, users()).await.unwrap();
    sqlx.migrate().await.unwrap();
    let tokio = PostgresStore::connect(&url_b, users()).await.unwrap();
    tokio.migrate().await.unwrap();
    let (da, db) = (describe(&base, &a).await, describe(&base, &b).await);
    assert!(da.len() > 40, "the schema is described: {da:#?}");
    assert_eq!(da, db, "the two stores create the same schema");
    drop((sqlx, tokio));
    drop_schema(&base, &a).await;
    drop_schema(&base, &b).await;
}

fn config() -> AuthConfig {
    AuthConfig::builder()
        .signing_secret("swap-2d8f5b1e9c4a7f30d6b2e8c1a5f9d3b7")
        .argon2(1, 1024, 1)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schema_serves_both_stores() {
    let Some(base) = base_url() else { return };
    for sqlx_migrates in [true, false] {
        let (name, url) = schema(&base, "both").await;
        let sqlx = PgStore::connect(&url, users()).await.unwrap();
        let tokio = PostgresStore::connect(&url, users()).await.unwrap();
        if sqlx_migrates {
            sqlx.migrate().await.unwrap();
            tokio
                .migrate()
                .await
                .expect("a no-op on the sqlx store's schema");
        } else {
            tokio.migrate().await.unwrap();
            sqlx.migrate()
                .await
                .expect("a no-op on the tokio-postgres store's schema");
        }
        let versions: i64 = tokio
            .pool()
            .get()
            .await
            .unwrap()
            .query_one("SELECT COUNT(*) FROM auth_migrations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(versions, 1, "migrated once");

        let on_sqlx = AuthService::new(config(), sqlx.clone()).unwrap();
        let on_tokio = AuthService::new(config(), tokio.clone()).unwrap();
        let (a, b) = if sqlx_migrates {
            (&on_sqlx, &on_tokio)
        } else {
            (&on_tokio, &on_sqlx)
        };
        let user = a
            .register("Both@Example.com", "SecurePass123!")
            .await
            .unwrap();
        assert!(matches!(
            b.register("both@example.com", "SecurePass123!").await,
            Err(AuthError::UserExists)
        ));
        let login = b.login("both@example.com", "SecurePass123!").await.unwrap();
        assert_eq!(
            a.authenticate(&login.access_token).await.unwrap().id,
            user.id
        );
        let pair = a.refresh(&login.refresh_token).await.unwrap();
        assert_eq!(
            b.authenticate(&pair.access_token).await.unwrap().id,
            user.id
        );
        // Reuse of the spent token on the other store revokes the family everywhere.
        let reused = b.refresh(&login.refresh_token).await.unwrap_err();
        assert!(
            matches!(reused, AuthError::Token(TokenError::Revoked)),
            "{reused:?}"
        );
        assert!(a.authenticate(&pair.access_token).await.is_err());
        // A new login on one, logout_all on the other.
        let again = a.login("both@example.com", "SecurePass123!").await.unwrap();
        assert_eq!(b.logout_all(&user.id).await.unwrap(), 1);
        assert!(a.authenticate(&again.access_token).await.is_err());

        drop((on_sqlx, on_tokio, sqlx, tokio));
        drop_schema(&base, &name).await;
    }
}
