//! The whole HTTP contract (the `auth-axum` suite: every route and status, hostile
//! headers, 1,000 interleaved requests) against the example server, started exactly as
//! `main` starts it, on an ephemeral port with a real client: on a SQLite file,
//! PostgreSQL through sqlx and through tokio-postgres, and MariaDB, with opaque and JWT
//! access tokens.
//!
//! PostgreSQL and MySQL read `AUTH_TEST_POSTGRES_URL` / `AUTH_TEST_MYSQL_URL`; unset, the
//! test prints that it skipped (with `AUTH_TEST_REQUIRE_ALL=1` it fails instead). Each run
//! gets a schema or database of its own, dropped after a passing run.

#[path = "../../../crates/auth-axum/tests/common/api_suite.rs"]
mod api_suite;

use std::sync::{Arc, Mutex};

use api_suite::{BoxFut, MailKind, Mailbox, Target};
use auth_facade::{ConsoleNotifier, Notification, NotificationKind, Notifier};
use server_example::Settings;

/// Prints like the console notifier (the server's) and keeps what it sent for the suite.
#[derive(Clone)]
struct Tee {
    console: ConsoleNotifier,
    sent: Arc<Mutex<Vec<Notification>>>,
}

#[auth_core::async_trait]
impl Notifier for Tee {
    async fn notify(&self, n: Notification) -> Result<(), auth_core::BoxError> {
        self.sent.lock().unwrap().push(n.clone());
        self.console.notify(n).await
    }
}

struct TeeMailbox {
    tee: Tee,
    auth: auth_facade::AuthService,
}

impl Mailbox for TeeMailbox {
    fn latest_token<'a>(&'a self, email: &'a str, kind: MailKind) -> BoxFut<'a, Option<String>> {
        Box::pin(async move {
            self.auth.wait_for_background().await;
            let kind = match kind {
                MailKind::PasswordReset => NotificationKind::PasswordReset,
                MailKind::EmailVerification => NotificationKind::EmailVerification,
            };
            let sent = self.tee.sent.lock().unwrap();
            sent.iter()
                .rev()
                .find(|n| n.kind == kind && n.email.eq_ignore_ascii_case(email))
                .map(|n| {
                    // The link the console printed carries the token.
                    let link = self.tee.console.link(n);
                    link.split_once("token=")
                        .map(|(_, t)| t.to_owned())
                        .unwrap_or_default()
                })
        })
    }
}

/// Starts the server on `127.0.0.1:0` with these environment settings and runs the suite.
async fn run_suite(env: &[(&str, String)]) {
    let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let mut settings = Settings::from_lookup(|k| match k {
        "AUTH_SIGNING_SECRET" => Some("srv-t3st-9c2f7a1e5b8d4f6a0c3e7b1d9f2a5c8e".into()),
        "AUTH_ARGON2_TIME_COST" => Some("1".into()),
        "AUTH_ARGON2_MEMORY_KIB" => Some("1024".into()),
        "AUTH_ARGON2_PARALLELISM" => Some("1".into()),
        // The suite gives each check its own X-Forwarded-For, so per-address limits of
        // one check never touch another.
        "AUTH_TRUSTED_PROXIES" => Some("127.0.0.1".into()),
        other => lookup(other),
    })
    .expect("settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    settings.public_url = format!("http://{addr}");
    let tee = Tee {
        console: ConsoleNotifier::new(settings.public_url.clone()),
        sent: Arc::default(),
    };
    let auth = server_example::service(&settings, Arc::new(tee.clone()))
        .await
        .expect("the server starts");
    let app = server_example::router(auth.clone(), &settings).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server_example::serve(listener, app, async {
        let _ = stopped.await;
    }));
    let target = Target {
        base_url: format!("http://{addr}"),
        mailbox: Arc::new(TeeMailbox {
            tee,
            auth: auth.clone(),
        }),
        outage: None,
        time: None,
    };
    let health = reqwest::get(format!("{}/health", target.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    api_suite::run_all(Arc::new(target)).await;
    // Graceful shutdown: the server stops when told.
    stop.send(()).unwrap();
    server.await.unwrap().expect("the server shut down cleanly");
}

fn required() -> bool {
    std::env::var("AUTH_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(!required(), "{var} is unset and AUTH_TEST_REQUIRE_ALL=1");
            eprintln!("skipped: {var} is unset");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}_{}", std::process::id(), nanos % 1_000_000_000)
}

async fn on_sqlite(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    run_suite(&[
        ("DATABASE_URL", url),
        ("AUTH_TOKEN_BACKEND", backend.into()),
    ])
    .await;
}

async fn on_postgres(driver: &str, backend: &str) {
    use sqlx::Connection;
    let Some(base) = url("AUTH_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = unique("srv_");
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    run_suite(&[
        ("DATABASE_URL", url),
        ("AUTH_PG_DRIVER", driver.into()),
        ("AUTH_TOKEN_BACKEND", backend.into()),
    ])
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}

async fn on_mysql(backend: &str) {
    use sqlx::Connection;
    let Some(base) = url("AUTH_TEST_MYSQL_URL") else {
        return;
    };
    let db = unique("srv_");
    let mut admin = sqlx::MySqlConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let server = base.split('?').next().unwrap().rsplit_once('/').unwrap().0;
    run_suite(&[
        ("DATABASE_URL", format!("{server}/{db}")),
        ("AUTH_TOKEN_BACKEND", backend.into()),
    ])
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opaque() {
    on_sqlite("opaque").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_jwt() {
    on_sqlite("jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sqlx_opaque() {
    on_postgres("sqlx", "opaque").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sqlx_jwt() {
    on_postgres("sqlx", "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tokio_postgres_opaque() {
    on_postgres("tokio-postgres", "opaque").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tokio_postgres_jwt() {
    on_postgres("tokio-postgres", "jwt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_opaque() {
    on_mysql("opaque").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_jwt() {
    on_mysql("jwt").await;
}
