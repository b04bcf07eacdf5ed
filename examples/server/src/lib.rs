//! The pieces of `cargo run --example server`: settings from the environment, the store
//! a `DATABASE_URL` selects, and the router (the `auth-axum` JSON API plus a health
//! check), so the example's `main` stays short and its tests start the very same server.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `PORT` | `3000` | port on 127.0.0.1 (`BIND` changes the address) |
//! | `DATABASE_URL` | `sqlite://tortoise-auth-server.db` | `sqlite:`, `postgres:` or `mysql:` URL; migrations run at start |
//! | `AUTH_PG_DRIVER` | `sqlx` | `tokio-postgres` uses the tokio-postgres store for a PostgreSQL URL |
//! | `AUTH_TOKEN_BACKEND` | `opaque` | `jwt` issues HS256 JWT access tokens (signed with the signing secret) |
//! | `AUTH_SIGNING_SECRET` | random per run (warned) | at least 32 bytes; every `AUTH_*` setting of `AuthConfig::from_env` applies |
//! | `AUTH_PUBLIC_URL` | `http://127.0.0.1:PORT` | base of the reset and verification links the console notifier prints |
//! | `AUTH_TRUSTED_PROXIES` | none | comma-separated addresses/CIDRs whose `X-Forwarded-For` is believed |
//! | `AUTH_SERVICE_TOKENS` | none | service-to-service tokens (`name:token,...`) |
//! | `AUTH_LOG_FORMAT` | text | `json` for one JSON object per log line |

use std::sync::Arc;

use auth_axum::api::{self, ApiOptions};
use auth_axum::{ClientIp, TrustedProxies};
use auth_facade::{AuthConfig, AuthService, AuthServiceBuilder, IdKind, Notifier, ServiceTokens};
use auth_store_sqlx::{MySqlStore, PgStore, SqliteStore, UserTable};
use axum::Router;
use axum::routing::get;

/// An error while starting the server, with a message for the operator.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Which token backend the server issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenBackendKind {
    /// Database-backed opaque tokens (the default).
    Opaque,
    /// HS256 JWT access tokens; every request still checks the session.
    Jwt,
}

/// Which PostgreSQL driver serves a `postgres:` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgDriver {
    /// `auth-store-sqlx`'s `PgStore` (the default).
    Sqlx,
    /// `auth-store-postgres`'s `PostgresStore`.
    TokioPostgres,
}

/// The server's settings. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address and port to listen on.
    pub bind: String,
    /// The database.
    pub database_url: String,
    /// The PostgreSQL driver.
    pub pg_driver: PgDriver,
    /// The token backend.
    pub token_backend: TokenBackendKind,
    /// The service configuration.
    pub config: AuthConfig,
    /// The base of printed links.
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<String>,
    /// Service-to-service tokens.
    pub service_tokens: ServiceTokens,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, StartError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let port = lookup("PORT").unwrap_or_else(|| "3000".into());
        let host = lookup("BIND").unwrap_or_else(|| "127.0.0.1".into());
        let bind = format!("{host}:{port}");
        let database_url =
            lookup("DATABASE_URL").unwrap_or_else(|| "sqlite://tortoise-auth-server.db".into());
        let pg_driver = match lookup("AUTH_PG_DRIVER").as_deref() {
            None | Some("") | Some("sqlx") => PgDriver::Sqlx,
            Some("tokio-postgres") => PgDriver::TokioPostgres,
            Some(other) => {
                return Err(format!("AUTH_PG_DRIVER={other}: use sqlx or tokio-postgres").into());
            }
        };
        let token_backend = match lookup("AUTH_TOKEN_BACKEND").as_deref() {
            None | Some("") | Some("opaque") => TokenBackendKind::Opaque,
            Some("jwt") => TokenBackendKind::Jwt,
            Some(other) => {
                return Err(format!("AUTH_TOKEN_BACKEND={other}: use opaque or jwt").into());
            }
        };
        let config = match lookup("AUTH_SIGNING_SECRET") {
            Some(_) => AuthConfig::from_lookup(&lookup)?,
            None => {
                tracing::warn!(
                    "AUTH_SIGNING_SECRET is unset: using a random secret for this run \
                     (tokens will not survive a restart); set it in production"
                );
                let mut bytes = [0u8; 32];
                auth_facade::crates::tokens::fill_random(
                    &mut auth_facade::crates::tokens::OsRng,
                    &mut bytes,
                )?;
                let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                AuthConfig::from_lookup(|k| match k {
                    "AUTH_SIGNING_SECRET" => Some(secret.clone()),
                    other => lookup(other),
                })?
            }
        };
        let public_url =
            lookup("AUTH_PUBLIC_URL").unwrap_or_else(|| format!("http://{host}:{port}"));
        let service_tokens = match lookup("AUTH_SERVICE_TOKENS") {
            Some(list) => ServiceTokens::parse(&list)?,
            None => ServiceTokens::none(),
        };
        Ok(Self {
            bind,
            database_url,
            pg_driver,
            token_backend,
            config,
            public_url,
            trusted_proxies: lookup("AUTH_TRUSTED_PROXIES").filter(|s| !s.is_empty()),
            service_tokens,
        })
    }
}

/// The application's user table (integer keys, plus a display name the library never
/// touches).
pub fn user_table() -> UserTable {
    UserTable::new("users", IdKind::Integer).extra_columns("display_name TEXT NULL")
}

/// Connects the store `settings.database_url` names, runs its migrations, and gives it
/// to the service builder: the one place that knows the store types.
async fn with_store(
    settings: &Settings,
    builder: AuthServiceBuilder,
) -> Result<AuthServiceBuilder, StartError> {
    let url = settings.database_url.as_str();
    let scheme = url.split(':').next().unwrap_or_default();
    Ok(match (scheme, settings.pg_driver) {
        ("sqlite", _) => {
            let store = SqliteStore::connect(url, user_table()).await?;
            store.migrate().await?;
            builder.store(store)
        }
        ("postgres" | "postgresql", PgDriver::Sqlx) => {
            let store = PgStore::connect(url, user_table()).await?;
            store.migrate().await?;
            builder.store(store)
        }
        ("postgres" | "postgresql", PgDriver::TokioPostgres) => {
            let store = auth_store_postgres::PostgresStore::connect(url, user_table()).await?;
            store.migrate().await?;
            builder.store(store)
        }
        ("mysql" | "mariadb", _) => {
            let store = MySqlStore::connect(url, user_table()).await?;
            store.migrate().await?;
            builder.store(store)
        }
        _ => return Err(format!("DATABASE_URL: unsupported scheme `{scheme}`").into()),
    })
}

/// Builds the service on the configured store and token backend, with `notifier`
/// delivering reset and verification tokens.
pub async fn service(
    settings: &Settings,
    notifier: Arc<dyn Notifier>,
) -> Result<AuthService, StartError> {
    let mut builder = AuthService::builder(settings.config.clone())
        .notifier(notifier)
        .service_tokens(settings.service_tokens.clone());
    if settings.token_backend == TokenBackendKind::Jwt {
        let jwt = auth_facade::JwtConfig::hs256(settings.config.signing_secret().expose().to_vec())
            .id_kind(IdKind::Integer)
            .build()?;
        builder = builder.jwt(jwt);
    }
    Ok(with_store(settings, builder).await?.build()?)
}

/// The router: the JSON auth API under `/auth`, and `GET /health`.
pub fn router(auth: AuthService, settings: &Settings) -> Result<Router, StartError> {
    let client_ip = match &settings.trusted_proxies {
        Some(list) => ClientIp::behind_proxies(TrustedProxies::parse(list)?),
        None => ClientIp::connection(),
    };
    Ok(Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(api::router_with(
            auth,
            ApiOptions::new().client_ip(client_ip),
        )))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
