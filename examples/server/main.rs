//! `cargo run --example server`: the tortoise-auth JSON API (`auth-axum`) on
//! `127.0.0.1:${PORT:-3000}`, on a SQLite file by default. See the `server_example` crate
//! docs for every setting (`DATABASE_URL`, `AUTH_PG_DRIVER`, `AUTH_TOKEN_BACKEND`, ...).
//!
//! ```sh
//! cargo run --example server
//! curl -s localhost:3000/auth/register -H 'content-type: application/json' \
//!      -d '{"email":"alice@example.com","password":"violet-otter-umbrella"}'
//! ```
//! Reset and verification links are printed to standard output (`token=...`).

use std::sync::Arc;
use std::time::Duration;

use auth_facade::ConsoleNotifier;
use server_example::{Settings, router, serve, service};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), server_example::StartError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if std::env::var("AUTH_LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    let settings = Settings::from_env()?;
    let notifier = Arc::new(ConsoleNotifier::new(settings.public_url.clone()));
    let auth = service(&settings, notifier).await?;
    let cleanup = auth.spawn_cleanup(Duration::from_secs(600));
    let listener = tokio::net::TcpListener::bind(&settings.bind).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        database = settings.database_url.split(['@', '?']).next_back().unwrap_or(""),
        token_backend = ?settings.token_backend,
        "tortoise-auth server listening"
    );
    let app = router(auth.clone(), &settings)?;
    serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
    .await?;
    cleanup.abort();
    auth.wait_for_background().await;
    tracing::info!("stopped");
    Ok(())
}
