//! One application, either PostgreSQL store: `auth_store_sqlx::PgStore` (sqlx) or
//! `auth_store_postgres::PostgresStore` (tokio-postgres + deadpool). Moving between them is
//! one dependency and one constructor; the rest of the application ([`app`]) does not
//! change, and neither does the database: both stores run the same SQL on the same tables.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test STORE=tokio-postgres cargo run -p store-swap-example
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test STORE=sqlx cargo run -p store-swap-example
//! ```
//!
//! (`AUTH_TEST_POSTGRES_URL` works too.) Without a database URL it prints how to run it
//! and exits successfully.

use std::error::Error;

use auth_facade::{AuthConfig, AuthError, AuthService, IdKind, Store};
// The same type either way: both stores re-export `auth_sql::UserTable`.
use auth_store_postgres::UserTable;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let Some(url) = ["DATABASE_URL", "AUTH_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
    else {
        println!(
            "store-swap: set DATABASE_URL (or AUTH_TEST_POSTGRES_URL) to a PostgreSQL database, e.g."
        );
        println!(
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test STORE=tokio-postgres cargo run -p store-swap-example"
        );
        println!(
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test STORE=sqlx cargo run -p store-swap-example"
        );
        println!(
            "Add `?options=-c%20search_path%3Dmyschema` to the URL to keep the demo's tables in a schema of their own."
        );
        return Ok(());
    };
    let users = UserTable::new("swap_users", IdKind::Integer);
    let which = std::env::var("STORE").unwrap_or_else(|_| "tokio-postgres".to_owned());
    println!("store: {which}");

    // ---- The swap: these two arms differ only in the constructor. ------------------------
    match which.as_str() {
        "sqlx" => {
            let store = auth_store_sqlx::PgStore::connect(&url, users).await?;
            store.migrate().await?;
            app(store).await
        }
        "tokio-postgres" => {
            let store = auth_store_postgres::PostgresStore::connect(&url, users).await?;
            store.migrate().await?;
            app(store).await
        }
        other => Err(format!("STORE must be `sqlx` or `tokio-postgres`, not `{other}`").into()),
    }
}

/// The application: the same code on either store.
async fn app<S: Store + Clone>(store: S) -> Result<()> {
    let secret = std::env::var("AUTH_SIGNING_SECRET").unwrap_or_else(|_| demo_secret());
    let auth = AuthService::new(AuthConfig::new(secret)?, store)?;

    let email = "swap-demo@example.com";
    let password = "SecurePass123!";
    match auth.register(email, password).await {
        Ok(user) => println!("registered {} (id {})", user.email, user.id),
        // A second run (or the other store) finds the account the first one made.
        Err(AuthError::UserExists) => println!("{email} already exists: logging in"),
        Err(e) => return Err(e.into()),
    }

    let login = auth.login(email, password).await?;
    println!("login: access token {}...", &login.access_token[..12]);

    let user = auth.authenticate(&login.access_token).await?;
    println!("authenticate: {}", user.email);

    let pair = auth.refresh(&login.refresh_token).await?;
    let again = auth.authenticate(&pair.access_token).await?;
    println!("refresh: new pair, authenticates as {}", again.email);

    auth.logout(&pair.access_token).await?;
    let after = auth.authenticate(&pair.access_token).await;
    println!(
        "logout: the access token is now refused ({})",
        after.is_err()
    );
    Ok(())
}

/// A random secret for this demo run only (production loads `AUTH_SIGNING_SECRET`).
fn demo_secret() -> String {
    let mut bytes = [0u8; 32];
    auth_facade::crates::tokens::fill_random(&mut auth_facade::crates::tokens::OsRng, &mut bytes)
        .expect("OS random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
