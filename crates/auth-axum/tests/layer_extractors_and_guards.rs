//! The layer, the extractors and the guards in an application's own router, over real
//! HTTP: who gets through, with which status, and what reaches the handler.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use auth_axum::{
    AuthLayer, ClientIp, CurrentSession, CurrentUser, MaybeUser, RateLimitLayer, ServiceAuthLayer,
    ServiceCaller, TrustedProxies, login_required, login_required_redirect,
};
use auth_core::{
    MemoryRateLimiter, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter, StoreError,
    StoreErrorKind, UserStore,
};
use auth_facade::{AuthService, ServiceTokens};
use axum::Router;
use axum::routing::{get, post};
use common::api_suite::PASSWORD;
use common::{LEAKY_SQL, WatchedBackend, client, serve, service, service_with};
use serde_json::Value;

fn app(auth: AuthService) -> Router {
    let api = Router::new()
        .route("/api/reports", get(|| async { "reports" }))
        .route_layer(login_required());
    let pages = Router::new()
        .route("/account", get(|| async { "account page" }))
        .route_layer(login_required_redirect("/login"));
    let settings = Router::new()
        .route("/settings", get(|| async { "settings page" }))
        .route_layer(login_required_redirect("/login?lang=en"));
    Router::new()
        .route("/public", get(|| async { "public" }))
        .route(
            "/maybe",
            get(|MaybeUser(user): MaybeUser| async move {
                user.map_or_else(|| "anonymous".to_owned(), |u| u.email)
            }),
        )
        .route(
            "/optional",
            get(|user: Option<CurrentUser>| async move {
                user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(u)| u.email)
            }),
        )
        .route(
            "/private",
            get(|CurrentUser(user): CurrentUser| async move { user.email }),
        )
        .route(
            "/session",
            get(|session: CurrentSession| async move { session.session_id.to_hex() }),
        )
        .merge(api)
        .nest("/app", pages)
        .merge(settings)
        .merge(auth_axum::api::router(auth.clone()))
        .layer(AuthLayer::new(auth))
}

struct App {
    base: String,
    auth: AuthService,
    store: auth_conformance::MemoryStore,
    http: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

async fn start() -> App {
    let (auth, store, ..) = service(|b| b);
    let (base, task) = serve(app(auth.clone())).await;
    App {
        base,
        auth,
        store,
        http: client(),
        _task: task,
    }
}

impl App {
    async fn token(&self, email: &str) -> String {
        self.auth.register(email, PASSWORD).await.unwrap();
        self.auth.login(email, PASSWORD).await.unwrap().access_token
    }

    async fn get(
        &self,
        path: &str,
        authorization: Option<&str>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.text().await.unwrap(), headers)
    }
}

fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maybe_user_is_none_without_a_token_and_the_user_with_one() {
    let app = start().await;
    let token = app.token("maybe@example.com").await;
    let bearer = format!("Bearer {token}");
    for path in ["/maybe", "/optional"] {
        assert_eq!(app.get(path, None).await.1, "anonymous");
        assert_eq!(
            app.get(path, Some("Basic dXNlcjpwYXNz")).await.1,
            "anonymous"
        );
        let (status, body, _) = app.get(path, Some(&bearer)).await;
        assert_eq!((status, body.as_str()), (200, "maybe@example.com"));
    }
    let (status, body, _) = app.get("/private", Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (200, "maybe@example.com"));
    let (status, session, _) = app.get("/session", Some(&bearer)).await;
    assert_eq!(status, 200);
    assert_eq!(session.len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_rejected_where_a_user_is_read_and_ignored_on_public_routes() {
    let app = start().await;
    let token = app.token("refused@example.com").await;
    app.auth.logout(&token).await.unwrap();
    let bearer = format!("Bearer {token}");
    for path in [
        "/maybe",
        "/optional",
        "/private",
        "/session",
        "/api/reports",
    ] {
        let (status, body, headers) = app.get(path, Some(&bearer)).await;
        assert_eq!(
            (status, error_of(&body).as_str()),
            (401, "token_revoked"),
            "{path}"
        );
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(headers["cache-control"], "no-store");
    }
    // A public route never looks: it answers as for anyone.
    let (status, body, _) = app.get("/public", Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (200, "public"));
    let (status, body, _) = app.get("/public", Some("Bearer tat_unknown")).await;
    assert_eq!((status, body.as_str()), (200, "public"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_authorization_header_is_400_on_every_route() {
    let app = start().await;
    for path in ["/public", "/maybe", "/private", "/app/account"] {
        for value in ["Bearer", "Bearer a b", "Bearer tat_\"x\""] {
            let (status, body, headers) = app.get(path, Some(value)).await;
            assert_eq!(
                (status, error_of(&body).as_str()),
                (400, "invalid_request"),
                "{path} {value}"
            );
            let challenge = headers["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.contains("error=\"invalid_request\""),
                "{challenge}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_required_answers_401_with_a_challenge() {
    let app = start().await;
    let (status, body, headers) = app.get("/api/reports", None).await;
    assert_eq!((status, error_of(&body).as_str()), (401, "unauthorized"));
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
    let token = app.token("reports@example.com").await;
    let (status, body, _) = app
        .get("/api/reports", Some(&format!("bearer {token}")))
        .await;
    assert_eq!((status, body.as_str()), (200, "reports"));
    let (status, body, _) = app.get("/api/reports", Some("Bearer tat_nope")).await;
    assert_eq!((status, error_of(&body).as_str()), (401, "invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_required_redirect_sends_to_the_login_page_with_next() {
    let app = start().await;
    let (status, _, headers) = app.get("/app/account?tab=security&q=a%20b", None).await;
    assert_eq!(status, 303);
    assert_eq!(
        headers["location"],
        "/login?next=%2Fapp%2Faccount%3Ftab%3Dsecurity%26q%3Da%2520b"
    );
    let (status, _, headers) = app.get("/settings", None).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/login?lang=en&next=%2Fsettings");
    // A refused token is sent to log in again too.
    let (status, _, _) = app.get("/settings", Some("Bearer tat_nope")).await;
    assert_eq!(status, 303);
    let token = app.token("pages@example.com").await;
    let (status, body, _) = app
        .get("/app/account", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!((status, body.as_str()), (200, "account page"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_users_token_is_403_even_on_redirecting_routes() {
    let app = start().await;
    let token = app.token("inactive@example.com").await;
    let user = app.auth.authenticate(&token).await.unwrap();
    // Deactivated by the application's own SQL: the sessions still exist.
    app.store
        .set_active(&user.id, false, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    for path in [
        "/private",
        "/maybe",
        "/api/reports",
        "/app/account",
        "/auth/me",
    ] {
        let (status, body, _) = app.get(path, Some(&bearer)).await;
        assert_eq!(
            (status, error_of(&body).as_str()),
            (403, "user_inactive"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extractors_and_guards_without_the_layer_fail_closed_with_500() {
    let (auth, ..) = service(|b| b);
    let token = {
        auth.register("nolayer@example.com", PASSWORD)
            .await
            .unwrap();
        auth.login("nolayer@example.com", PASSWORD)
            .await
            .unwrap()
            .access_token
    };
    let reached = Arc::new(AtomicBool::new(false));
    let flag = reached.clone();
    let app = Router::new()
        .route(
            "/private",
            get(|CurrentUser(user): CurrentUser| async move { user.email }),
        )
        .route("/maybe", get(|MaybeUser(_): MaybeUser| async { "maybe" }))
        .route(
            "/guarded",
            get(move || {
                flag.store(true, Ordering::SeqCst);
                async { "guarded" }
            })
            .layer(login_required()),
        );
    let (base, _task) = serve(app).await;
    let http = client();
    for path in ["/private", "/maybe", "/guarded"] {
        let resp = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 500, "{path}");
        assert_eq!(error_of(&resp.text().await.unwrap()), "internal_error");
    }
    assert!(!reached.load(Ordering::SeqCst));
}

const SERVICE_TOKEN: &str = "svc-token-4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_guard_accepts_only_configured_service_tokens() {
    let (auth, ..) = service_with(
        |b| b,
        |b| b.service_tokens(ServiceTokens::parse(&format!("billing:{SERVICE_TOKEN}")).unwrap()),
    );
    let who = |ServiceCaller(caller): ServiceCaller| async move { caller.name.unwrap_or_default() };
    let app = Router::new()
        .route("/internal/bearer", post(who))
        .route_layer(ServiceAuthLayer::new(auth.clone()))
        .merge(
            Router::new()
                .route("/internal/header", post(who))
                .route_layer(ServiceAuthLayer::new(auth.clone()).header("x-service-token")),
        )
        .layer(AuthLayer::new(auth.clone()));
    let (base, _task) = serve(app).await;
    let http = client();
    let send = |path: &str, header: Option<(&'static str, String)>| {
        let mut req = http.post(format!("{base}{path}"));
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, resp.text().await.unwrap(), challenge)
        }
    };
    let (status, body, _) = send(
        "/internal/bearer",
        Some(("authorization", format!("Bearer {SERVICE_TOKEN}"))),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "billing"));
    let (status, body, challenge) = send("/internal/bearer", None).await;
    assert_eq!((status, error_of(&body).as_str()), (401, "unauthorized"));
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"api\""));
    let (status, body, challenge) = send(
        "/internal/bearer",
        Some(("authorization", format!("Bearer {SERVICE_TOKEN}x"))),
    )
    .await;
    assert_eq!((status, error_of(&body).as_str()), (401, "invalid_token"));
    assert!(challenge.unwrap().contains("invalid_token"));
    // A user's access token is no service token.
    auth.register("user@example.com", PASSWORD).await.unwrap();
    let user_token = auth
        .login("user@example.com", PASSWORD)
        .await
        .unwrap()
        .access_token;
    let (status, _, _) = send(
        "/internal/bearer",
        Some(("authorization", format!("Bearer {user_token}"))),
    )
    .await;
    assert_eq!(status, 401);
    // The dedicated header holds the token alone; Authorization is left to the user.
    let (status, body, _) = send(
        "/internal/header",
        Some(("x-service-token", SERVICE_TOKEN.into())),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "billing"));
    let (status, _, _) = send(
        "/internal/header",
        Some(("authorization", format!("Bearer {SERVICE_TOKEN}"))),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body, _) = send(
        "/internal/header",
        Some(("x-service-token", "two words".into())),
    )
    .await;
    assert_eq!((status, error_of(&body).as_str()), (400, "invalid_request"));
}

fn limited_app(limiter: Arc<dyn RateLimiter>) -> Router {
    let policy = RateLimitPolicy {
        max_attempts: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(120),
    };
    let proxies = ClientIp::behind_proxies(TrustedProxies::parse("127.0.0.1").unwrap());
    Router::new()
        .route("/limited", get(|| async { "ok" }))
        .route("/free", get(|| async { "ok" }))
        .layer(
            RateLimitLayer::new(limiter, policy)
                .scope("test")
                .client_ip(proxies)
                .paths(["/limited"]),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_layer_answers_429_with_retry_after_per_client_address() {
    let (base, _task) = serve(limited_app(Arc::new(MemoryRateLimiter::default()))).await;
    let http = client();
    let get = |path: &str, from: &str| {
        http.get(format!("{base}{path}"))
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get("/limited", "198.51.100.1").await.unwrap().status(), 200);
    }
    let resp = get("/limited", "198.51.100.1").await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "120");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retry_after"], 120);
    // Another address has its own count; other paths are not counted.
    assert_eq!(get("/limited", "198.51.100.2").await.unwrap().status(), 200);
    for _ in 0..5 {
        assert_eq!(get("/free", "198.51.100.1").await.unwrap().status(), 200);
    }
}

struct BrokenLimiter;

#[auth_core::async_trait]
impl RateLimiter for BrokenLimiter {
    async fn hit(
        &self,
        _: &str,
        _: &RateLimitPolicy,
        _: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        Err(StoreError::new(StoreErrorKind::Unavailable, "rate_limit_hit").with_source(LEAKY_SQL))
    }
    async fn peek(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.hit(key, policy, now).await
    }
    async fn clear(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rate_limiter_fails_closed_with_503() {
    let (base, _task) = serve(limited_app(Arc::new(BrokenLimiter))).await;
    let resp = client()
        .get(format!("{base}/limited"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    assert_eq!(body, r#"{"error":"service_unavailable"}"#);
    let resp = client().get(format!("{base}/free")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_checked_once_per_request_even_with_an_outer_layer() {
    let verifies = Arc::new(AtomicUsize::new(0));
    let counter = verifies.clone();
    let (auth, ..) = service_with(
        |b| b,
        move |b| {
            b.wrap_token_backend(move |inner| {
                Arc::new(WatchedBackend {
                    inner,
                    verifies: counter,
                    panic: Arc::new(AtomicBool::new(false)),
                })
            })
        },
    );
    let (base, _task) = serve(app(auth.clone())).await;
    auth.register("once@example.com", PASSWORD).await.unwrap();
    let token = auth
        .login("once@example.com", PASSWORD)
        .await
        .unwrap()
        .access_token;
    for path in ["/auth/me", "/private", "/api/reports", "/maybe"] {
        verifies.store(0, Ordering::SeqCst);
        let resp = client()
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(verifies.load(Ordering::SeqCst), 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_records_the_client_address_and_user_agent_and_ignores_untrusted_forwarding() {
    let (auth, ..) = service(|b| b);
    auth.register("where@example.com", PASSWORD).await.unwrap();
    let direct: Router = auth_axum::api::router(auth.clone());
    let proxied: Router = auth_axum::api::router_with(
        auth.clone(),
        auth_axum::api::ApiOptions::new().client_ip(ClientIp::behind_proxies(
            TrustedProxies::parse("127.0.0.1").unwrap(),
        )),
    );
    let (direct, _a) = serve(direct).await;
    let (proxied, _b) = serve(proxied).await;
    let http = client();
    let login = |base: &str| {
        http.post(format!("{base}/auth/login"))
            .header("x-forwarded-for", "203.0.113.77")
            .header("user-agent", "probe/1.0\t")
            .json(&serde_json::json!({"email": "where@example.com", "password": PASSWORD}))
            .send()
    };
    let first: Value = login(&direct).await.unwrap().json().await.unwrap();
    login(&proxied).await.unwrap().error_for_status().unwrap();
    let sessions: Value = http
        .get(format!("{direct}/auth/sessions"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ips: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ip"].as_str().unwrap())
        .collect();
    ips.sort();
    assert_eq!(ips, ["127.0.0.1", "203.0.113.77"]);
    for s in sessions.as_array().unwrap() {
        assert_eq!(s["user_agent"], "probe/1.0");
    }
}
