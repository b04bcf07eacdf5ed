//! Failures inside fail closed: a storage outage or a panic in the token check answers
//! 503 with a generic body, the handler never runs (no request is ever authenticated, not
//! even as anonymous), and no SQL, driver text, token or password reaches a response or a
//! log line. Every `tracing` field of the process is captured and scanned.
mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use auth_axum::{AuthLayer, CurrentUser, MaybeUser};
use axum::Router;
use axum::routing::get;
use common::api_suite::{Outage as _, PASSWORD};
use common::{LEAKY_SQL, WatchedBackend, client, serve, service_with};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every field of every span and event, at every level, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = writeln!(self.0, "{}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = writeln!(self.0, "{}={value}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Text(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = self.0.lock().unwrap();
        let _ = writeln!(
            out,
            "[{}] {}",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Text(&mut out));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The process-wide capture (the server runs on other threads than the test).
fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).unwrap();
        capture
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_outage_is_503_everywhere_and_never_reaches_a_handler() {
    let logs = logs();
    let panic = Arc::new(AtomicBool::new(false));
    let flag = panic.clone();
    let (auth, _store, _notifier, outage, _clock) = service_with(
        |b| b,
        move |b| {
            b.wrap_token_backend(move |inner| {
                Arc::new(WatchedBackend {
                    inner,
                    verifies: Arc::new(AtomicUsize::new(0)),
                    panic: flag,
                })
            })
        },
    );
    let reached = Arc::new(AtomicUsize::new(0));
    let (r1, r2, r3) = (reached.clone(), reached.clone(), reached.clone());
    let app = Router::new()
        .route(
            "/private",
            get(move |CurrentUser(_): CurrentUser| async move {
                r1.fetch_add(1, Ordering::SeqCst);
                "private"
            }),
        )
        .route(
            "/maybe",
            get(move |MaybeUser(_): MaybeUser| async move {
                r2.fetch_add(1, Ordering::SeqCst);
                "maybe"
            }),
        )
        .route(
            "/public",
            get(move || async move {
                r3.fetch_add(1, Ordering::SeqCst);
                "public"
            }),
        )
        .merge(auth_axum::api::router(auth.clone()))
        .layer(AuthLayer::new(auth.clone()));
    let (base, _task) = serve(app).await;
    auth.register("victim@example.com", PASSWORD).await.unwrap();
    let login = auth.login("victim@example.com", PASSWORD).await.unwrap();
    let (access, refresh) = (login.access_token.clone(), login.refresh_token.clone());
    let http = client();

    let check = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let cache = resp.headers().get("cache-control").cloned();
        let body = resp.text().await.unwrap();
        (status, cache, body)
    };
    let mut answers = Vec::new();
    for (what, down, panics) in [("outage", true, false), ("panic", false, true)] {
        outage.set_down(down);
        panic.store(panics, Ordering::SeqCst);
        for path in [
            "/private",
            "/maybe",
            "/public",
            "/auth/me",
            "/auth/sessions",
        ] {
            let resp = http
                .get(format!("{base}{path}"))
                .bearer_auth(&access)
                .send()
                .await
                .unwrap();
            answers.push((format!("{what} GET {path}"), check(resp).await));
        }
        outage.set_down(false);
        panic.store(false, Ordering::SeqCst);
    }
    outage.set_down(true);
    for (path, body) in [
        (
            "/auth/login",
            json!({"email": "victim@example.com", "password": PASSWORD}),
        ),
        ("/auth/refresh", json!({"refresh_token": refresh})),
        (
            "/auth/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        ),
        (
            "/auth/password/reset",
            json!({"email": "victim@example.com"}),
        ),
        (
            "/auth/password/reset/confirm",
            json!({"token": "tpr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "new_password": PASSWORD}),
        ),
    ] {
        let resp = http
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        answers.push((format!("outage POST {path}"), check(resp).await));
    }
    outage.set_down(false);

    for (what, (status, cache, body)) in &answers {
        assert_eq!(*status, 503, "{what}: {body}");
        assert_eq!(body, r#"{"error":"service_unavailable"}"#, "{what}");
        assert_eq!(cache.as_ref().unwrap(), "no-store", "{what}");
    }
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "a handler ran during a failure"
    );

    // Recovered: the same token works, and the handlers run.
    let resp = http
        .get(format!("{base}/private"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(reached.load(Ordering::SeqCst), 1);

    auth.wait_for_background().await;
    let text = logs.0.lock().unwrap().clone();
    assert!(
        text.contains("answered 503") && text.contains("unavailable"),
        "the failures are logged:\n{text}"
    );
    for secret in [
        LEAKY_SQL,
        "SELECT",
        "victim@example.com' --",
        &access,
        &refresh,
        PASSWORD,
    ] {
        assert!(!text.contains(secret), "{secret:?} in the logs:\n{text}");
    }
}
