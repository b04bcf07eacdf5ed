//! tortoise-auth quick start: a complete authentication round trip on in-memory SQLite.
//!
//! Mirrors the reference's Quick Start, section by section. Run it with
//! `cargo run --example quickstart`; set `AUTH_SIGNING_SECRET` to use your own secret.

use auth_facade::{AuthConfig, AuthService, IdKind, SqliteStore, UserId, UserTable};
use sqlx::Row;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // -- 1. Define the user model -------------------------------------------------------
    // The app owns its table and its key; the library needs only its eight columns.
    // Extra columns (display_name, role) are the app's and are never touched by the library.
    let users = UserTable::new("users", IdKind::Integer)
        .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'");

    // -- 2. Connect a store -------------------------------------------------------------
    let store = SqliteStore::connect("sqlite::memory:", users).await?;
    store.migrate().await?; // creates `users` (if missing) and the library's own tables
    let pool = store.pool().clone();

    // -- 3. Configure tortoise-auth -----------------------------------------------------
    // Never hard-code the secret: production loads it with `AuthConfig::from_env()`.
    let secret = std::env::var("AUTH_SIGNING_SECRET").unwrap_or_else(|_| demo_secret());
    let auth = AuthService::new(AuthConfig::new(secret)?, store)?;

    // -- 4. Create a user ---------------------------------------------------------------
    let user = auth.create_user("alice@example.com").await?;
    auth.set_password(&user.id, "SecurePass123!").await?;
    // The app's own columns, with the app's own queries:
    let UserId::Int(id) = user.id else {
        unreachable!("the `users` table above has integer keys")
    };
    sqlx::query("UPDATE users SET display_name = ?, role = 'admin' WHERE id = ?")
        .bind("Alice")
        .bind(id)
        .execute(&pool)
        .await?;
    println!("Created user: {}", user.email);

    // -- 5. Log in ----------------------------------------------------------------------
    let result = auth.login("alice@example.com", "SecurePass123!").await?;
    println!("Access token: {}...", &result.access_token[..40]);
    println!("Refresh token: {}...", &result.refresh_token[..40]);

    // -- 6. Authenticate a request ------------------------------------------------------
    let authenticated = auth.authenticate(&result.access_token).await?;
    println!("Authenticated: {}", authenticated.email);
    let row = sqlx::query("SELECT display_name, role FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await?;
    let (display_name, role): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    assert_eq!((display_name.as_str(), role.as_str()), ("Alice", "admin"));

    // -- 7. Refresh tokens --------------------------------------------------------------
    let new_tokens = auth.refresh(&result.refresh_token).await?;
    println!("New access token: {}...", &new_tokens.access_token[..40]);
    println!("New refresh token: {}...", &new_tokens.refresh_token[..40]);

    // -- 8. Log out ---------------------------------------------------------------------
    auth.logout(&new_tokens.access_token).await?;
    println!("Logged out successfully.");

    // Revoking every session of a user (e.g. after a password change):
    auth.logout_all(&user.id).await?;
    Ok(())
}

/// A random secret for this demo run only (tokens die with the process anyway).
fn demo_secret() -> String {
    let mut bytes = [0u8; 32];
    auth_facade::crates::tokens::fill_random(&mut auth_facade::crates::tokens::OsRng, &mut bytes)
        .expect("OS random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
