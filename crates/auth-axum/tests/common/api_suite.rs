//! The HTTP contract of `auth_axum::api::router`, checked over real HTTP against any base
//! URL: this crate runs it against an in-process server on `MemoryStore`; the server
//! example runs it against every SQL store and both token backends.
//!
//! Self-contained on purpose (std, tokio, reqwest, serde_json): include it with
//! `#[path = ".../crates/auth-axum/tests/common/api_suite.rs"] mod api_suite;`.
//!
//! What a target must provide:
//! - a server on `base_url` serving the router with the default `AuthConfig` rate limits
//!   (5 login attempts per account, 5 recovery requests per hour), served with
//!   `into_make_service_with_connect_info::<SocketAddr>()`;
//! - a [`Mailbox`] that returns the tokens the server's notifier sent;
//! - optionally an [`Outage`] switch (the store fails while it is on) and a [`TimeTravel`]
//!   hook (the service's clock); checks needing them print that they skipped.
//!
//! Every check sends `X-Forwarded-For: <a random address>`. A server that trusts the
//! connection (`127.0.0.1`) as a proxy then sees one client per check, so per-address
//! limits of one check never touch another, and the suite can be run again and again
//! against one database. A server that ignores the header sees every check from
//! `127.0.0.1`: the suite then stays under the per-address limits if run once per hour
//! per database; [`run_all`] runs the check that trips the recovery limit last.
#![allow(dead_code)]

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A boxed future, for the object-safe hooks.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which kind of single-use token a mail carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// `tpr_...`
    PasswordReset,
    /// `tev_...`
    EmailVerification,
}

/// Where the server's notifier delivers tokens.
pub trait Mailbox: Send + Sync {
    /// The newest token of `kind` sent to `email` (lower case), once background delivery
    /// is done; `None` if none came.
    fn latest_token<'a>(&'a self, email: &'a str, kind: MailKind) -> BoxFut<'a, Option<String>>;
}

/// Makes the server's store fail (every call) while on.
pub trait Outage: Send + Sync {
    /// Turns the outage on or off.
    fn set_down(&self, down: bool);
}

/// Moves the server's clock.
pub trait TimeTravel: Send + Sync {
    /// Advances the clock by `by`.
    fn advance(&self, by: Duration);
}

/// The server under test.
pub struct Target {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// Reset and verification tokens.
    pub mailbox: Arc<dyn Mailbox>,
    /// Optional: a store outage switch.
    pub outage: Option<Arc<dyn Outage>>,
    /// Optional: the service's clock.
    pub time: Option<Arc<dyn TimeTravel>>,
}

/// One check of the suite.
pub type Check = fn(Arc<Target>) -> BoxFut<'static, ()>;

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        /// Every check, in the order [`run_all`] runs them.
        pub fn checks() -> Vec<(&'static str, Check)> {
            vec![$((stringify!($name), (|t: Arc<Target>| -> BoxFut<'static, ()> {
                Box::pin(async move { $name(&t).await })
            }) as Check)),*]
        }
    };
}

checks![
    register_creates_a_user_with_201,
    register_refuses_a_taken_email_in_any_case_with_409,
    register_refuses_a_weak_password_with_every_message,
    register_refuses_a_malformed_email_with_422,
    login_returns_a_bearer_pair_and_the_user,
    login_failures_are_one_indistinguishable_401,
    login_lockout_is_429_with_retry_after,
    me_returns_the_user_without_any_hash,
    me_without_a_token_is_401_with_a_bare_challenge,
    me_with_a_bad_token_is_401_invalid_token,
    bearer_scheme_is_case_insensitive,
    query_string_tokens_are_ignored,
    refresh_rotates_the_pair,
    refresh_reuse_revokes_the_session,
    refresh_refuses_garbage_and_access_tokens,
    expired_tokens_are_401_token_expired,
    logout_ends_the_session_and_the_next_request_is_401,
    logout_works_with_an_expired_access_token,
    logout_without_a_token_is_401,
    logout_all_ends_every_session,
    sessions_list_marks_the_current_one,
    deleting_a_session_works_only_for_the_callers_own,
    password_change_keeps_this_session_and_ends_the_others,
    password_change_refuses_wrong_current_and_weak_new,
    password_reset_flow_sets_a_new_password_and_ends_sessions,
    password_reset_confirm_refuses_bad_tokens,
    verification_flow_marks_the_user_verified,
    verification_needs_a_token_and_a_valid_link,
    bodies_are_checked_with_json_errors,
    openapi_document_lists_every_route,
    interleaved_requests_never_mix_identities,
    hostile_authorization_headers_are_400_or_401_without_panic,
    storage_outage_is_503_and_never_authenticates,
    password_reset_answers_the_same_for_every_address,
];

/// Runs every check (each in its own task, so one failure does not hide the others) and
/// panics naming those that failed.
pub async fn run_all(target: Arc<Target>) {
    let mut failed = Vec::new();
    let all = checks();
    let total = all.len();
    for (name, check) in all {
        let outcome = tokio::spawn(check(target.clone())).await;
        match outcome {
            Ok(()) => eprintln!("api suite: {name} ... ok"),
            Err(e) => {
                eprintln!("api suite: {name} ... FAILED");
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "api suite: {} passed, {} failed",
        total - failed.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "api suite failures:\n{}",
        failed.join("\n")
    );
}

// -- Client ---------------------------------------------------------------------------

pub const PASSWORD: &str = "SecurePass123!";
pub const NEW_PASSWORD: &str = "Fresh-Horse-Battery-42";

/// 64 random bits (std's per-process random hash keys; no extra dependency).
pub fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

/// A fresh lower-case address.
pub fn email(tag: &str) -> String {
    format!("{tag}-{:016x}@example.com", random())
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `"error"` code of the body.
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_eq!(self.error(), code, "body: {}", self.text());
        self
    }
}

/// A client for one check: one `X-Forwarded-For` address throughout.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub forwarded_for: String,
}

/// What a request carries.
pub enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

impl Api {
    pub fn new(target: &Target) -> Self {
        let r = random();
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: target.base_url.trim_end_matches('/').to_owned(),
            forwarded_for: format!(
                "10.{}.{}.{}",
                (r >> 8) as u8,
                (r >> 16) as u8,
                (r >> 24) as u8 | 1
            ),
        }
    }

    /// Sends a request; every answer of the auth routes must say `Cache-Control: no-store`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, HeaderValue)],
        body: Body,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-forwarded-for", &self.forwarded_for);
        for (name, value) in headers {
            req = req.header(*name, value.clone());
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(ct, bytes) => req.header("content-type", ct).body(bytes),
        };
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("a whole body").to_vec();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let reply = Reply {
            status,
            headers,
            raw,
            json,
        };
        if path.starts_with("/auth/") {
            assert_eq!(
                reply.header("cache-control"),
                Some("no-store"),
                "{path} answered {} without Cache-Control: no-store",
                reply.status
            );
        }
        reply
    }

    fn bearer(token: &str) -> Vec<(&'static str, HeaderValue)> {
        vec![(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        )]
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let headers = token.map(Self::bearer).unwrap_or_default();
        self.send(Method::GET, path, &headers, Body::None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        let headers = token.map(Self::bearer).unwrap_or_default();
        self.send(Method::POST, path, &headers, Body::Json(body))
            .await
    }

    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> Reply {
        let headers = token.map(Self::bearer).unwrap_or_default();
        self.send(Method::POST, path, &headers, Body::None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let headers = token.map(Self::bearer).unwrap_or_default();
        self.send(Method::DELETE, path, &headers, Body::None).await
    }

    pub async fn me(&self, token: &str) -> Reply {
        self.get("/auth/me", Some(token)).await
    }

    pub async fn register(&self, email: &str) -> Value {
        let r = self
            .post(
                "/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        r.expect(201);
        r.json["user"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A fresh user, logged in: (email, login body).
    pub async fn user(&self, tag: &str) -> (String, Value) {
        let email = email(tag);
        self.register(&email).await;
        let r = self.login(&email, PASSWORD).await;
        r.expect(200);
        (email, r.json)
    }
}

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("an access_token")
}

fn refresh_token(tokens: &Value) -> &str {
    tokens["refresh_token"].as_str().expect("a refresh_token")
}

#[track_caller]
fn assert_challenge(r: &Reply, error: Option<&str>) {
    let challenge = r
        .header("www-authenticate")
        .expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    match error {
        Some(code) => {
            assert!(
                challenge.contains(&format!("error=\"{code}\"")),
                "{challenge}"
            );
            if code == "invalid_token" {
                assert!(challenge.contains("error_description="), "{challenge}");
            }
        }
        None => assert!(!challenge.contains("error="), "{challenge}"),
    }
}

#[track_caller]
fn assert_user_shape(user: &Value, email: &str) {
    assert_eq!(user["email"], email, "{user}");
    assert!(user["id"].is_number() || user["id"].is_string(), "{user}");
    for field in ["is_active", "is_verified"] {
        assert!(user[field].is_boolean(), "{field} in {user}");
    }
    for field in ["created_at", "updated_at"] {
        assert!(user[field].is_string(), "{field} in {user}");
    }
    let text = user.to_string();
    assert!(!text.contains("password"), "{text}");
    assert!(!text.contains("$argon2"), "{text}");
}

// -- Register -------------------------------------------------------------------------

pub async fn register_creates_a_user_with_201(t: &Target) {
    let api = Api::new(t);
    let email = email("register");
    let r = api
        .post(
            "/auth/register",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    r.expect(201);
    assert_user_shape(&r.json["user"], &email);
    assert_eq!(r.json["user"]["is_active"], true);
    assert_eq!(r.json["user"]["is_verified"], false);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

pub async fn register_refuses_a_taken_email_in_any_case_with_409(t: &Target) {
    let api = Api::new(t);
    let email = email("taken");
    api.register(&email).await;
    for variant in [email.clone(), email.to_uppercase()] {
        api.post(
            "/auth/register",
            None,
            json!({"email": variant, "password": PASSWORD}),
        )
        .await
        .expect_error(409, "user_exists");
    }
}

pub async fn register_refuses_a_weak_password_with_every_message(t: &Target) {
    let api = Api::new(t);
    let r = api
        .post(
            "/auth/register",
            None,
            json!({"email": email("weak"), "password": "123"}),
        )
        .await;
    r.expect_error(422, "invalid_password");
    let messages = r.json["messages"].as_array().expect("messages");
    assert!(messages.len() >= 2, "too short and numeric: {messages:?}");
    assert!(
        messages
            .iter()
            .all(|m| m.as_str().is_some_and(|m| !m.is_empty()))
    );
}

pub async fn register_refuses_a_malformed_email_with_422(t: &Target) {
    let api = Api::new(t);
    for bad in ["not-an-email", "", "a\u{200b}b@example.com"] {
        api.post(
            "/auth/register",
            None,
            json!({"email": bad, "password": PASSWORD}),
        )
        .await
        .expect_error(422, "invalid_input");
    }
}

// -- Login ----------------------------------------------------------------------------

pub async fn login_returns_a_bearer_pair_and_the_user(t: &Target) {
    let api = Api::new(t);
    let email = email("login");
    api.register(&email).await;
    // Any letter case of the address logs in.
    let r = api.login(&email.to_uppercase(), PASSWORD).await;
    r.expect(200);
    let body = &r.json;
    assert!(!access(body).is_empty());
    assert!(!refresh_token(body).is_empty());
    assert_ne!(access(body), refresh_token(body));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    assert!(
        body["refresh_expires_in"].as_u64().is_some_and(|s| s > 0),
        "{body}"
    );
    assert!(
        body["session_id"].as_str().is_some_and(|s| s.len() == 32),
        "{body}"
    );
    assert_user_shape(&body["user"], &email);
    assert!(body["user"]["last_login"].is_string(), "{body}");
}

pub async fn login_failures_are_one_indistinguishable_401(t: &Target) {
    let api = Api::new(t);
    let email = email("fail");
    api.register(&email).await;
    let wrong = api.login(&email, "Wrong-Password-1").await;
    let unknown = api.login(&self::email("nobody"), PASSWORD).await;
    for r in [&wrong, &unknown] {
        r.expect_error(401, "invalid_credentials");
        assert_challenge(r, None);
    }
    assert_eq!(wrong.raw, unknown.raw);
    assert_eq!(wrong.json, json!({"error": "invalid_credentials"}));
}

pub async fn login_lockout_is_429_with_retry_after(t: &Target) {
    let api = Api::new(t);
    let email = email("lockout");
    api.register(&email).await;
    for _ in 0..5 {
        api.login(&email, "Wrong-Password-1")
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Locked: even the right password is refused.
    let r = api.login(&email, PASSWORD).await;
    r.expect_error(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry >= 1, "{retry}");
}

// -- Me -------------------------------------------------------------------------------

pub async fn me_returns_the_user_without_any_hash(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("me").await;
    let r = api.me(access(&tokens)).await;
    r.expect(200);
    assert_user_shape(&r.json, &email);
    assert_eq!(r.json["id"], tokens["user"]["id"]);
}

pub async fn me_without_a_token_is_401_with_a_bare_challenge(t: &Target) {
    let api = Api::new(t);
    let r = api.get("/auth/me", None).await;
    r.expect(401);
    assert_challenge(&r, None);
    assert!(r.json.is_object(), "a JSON body: {}", r.text());
    // Another scheme is no bearer token at all.
    let basic = [(
        "authorization",
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    )];
    let r = api.send(Method::GET, "/auth/me", &basic, Body::None).await;
    r.expect(401);
    assert_challenge(&r, None);
}

pub async fn me_with_a_bad_token_is_401_invalid_token(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("badtoken").await;
    let good = access(&tokens).to_owned();
    // Change one character in the middle (the last one may carry only padding bits).
    let mut chars: Vec<char> = good.chars().collect();
    let mut i = chars.len() / 2;
    while !chars[i].is_ascii_alphanumeric() {
        i += 1;
    }
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for bad in [
        "tat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage",
        &tampered,
        refresh_token(&tokens),
    ] {
        let r = api.me(bad).await;
        r.expect_error(401, "invalid_token");
        assert_challenge(&r, Some("invalid_token"));
    }
    api.me(&good).await.expect(200);
}

pub async fn bearer_scheme_is_case_insensitive(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("scheme").await;
    for scheme in ["bearer", "BEARER", "Bearer ", "bEaReR"] {
        let value = HeaderValue::from_str(&format!("{scheme} {}", access(&tokens))).unwrap();
        let r = api
            .send(
                Method::GET,
                "/auth/me",
                &[("authorization", value)],
                Body::None,
            )
            .await;
        r.expect(200);
        assert_eq!(r.json["email"], email);
    }
}

pub async fn query_string_tokens_are_ignored(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("query").await;
    let r = api
        .get(&format!("/auth/me?access_token={}", access(&tokens)), None)
        .await;
    r.expect(401);
    assert_challenge(&r, None);
}

// -- Refresh --------------------------------------------------------------------------

pub async fn refresh_rotates_the_pair(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("refresh").await;
    let r = api
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": refresh_token(&tokens)}),
        )
        .await;
    r.expect(200);
    let pair = &r.json;
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["expires_in"].as_u64().is_some_and(|s| s > 0), "{pair}");
    assert_ne!(access(pair), access(&tokens));
    assert_ne!(refresh_token(pair), refresh_token(&tokens));
    assert_eq!(pair["session_id"], tokens["session_id"]);
    let me = api.me(access(pair)).await;
    me.expect(200);
    assert_eq!(me.json["email"], email);
}

pub async fn refresh_reuse_revokes_the_session(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("reuse").await;
    let first = refresh_token(&tokens);
    let r = api
        .post("/auth/refresh", None, json!({"refresh_token": first}))
        .await;
    r.expect(200);
    let pair = r.json.clone();
    let r = api
        .post("/auth/refresh", None, json!({"refresh_token": first}))
        .await;
    r.expect_error(401, "token_revoked");
    assert_challenge(&r, Some("invalid_token"));
    // The whole family is gone.
    api.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": refresh_token(&pair)}),
    )
    .await
    .expect(401);
    let r = api.me(access(&pair)).await;
    r.expect_error(401, "token_revoked");
    assert_challenge(&r, Some("invalid_token"));
}

pub async fn refresh_refuses_garbage_and_access_tokens(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("refgarbage").await;
    for bad in [
        "garbage",
        "trt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        access(&tokens),
    ] {
        api.post("/auth/refresh", None, json!({"refresh_token": bad}))
            .await
            .expect_error(401, "invalid_token");
    }
}

pub async fn expired_tokens_are_401_token_expired(t: &Target) {
    let Some(time) = &t.time else {
        eprintln!("api suite: expired_tokens_are_401_token_expired skipped (no clock hook)");
        return;
    };
    let api = Api::new(t);
    let (_, tokens) = api.user("expired").await;
    // Past the access token's lifetime (15 minutes by default), within the refresh's.
    time.advance(Duration::from_secs(
        tokens["expires_in"].as_u64().unwrap() + 1,
    ));
    let r = api.me(access(&tokens)).await;
    r.expect_error(401, "token_expired");
    assert_challenge(&r, Some("invalid_token"));
    // Past the refresh token's lifetime too.
    time.advance(Duration::from_secs(
        tokens["refresh_expires_in"].as_u64().unwrap() + 1,
    ));
    api.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": refresh_token(&tokens)}),
    )
    .await
    .expect_error(401, "token_expired");
}

// -- Logout ---------------------------------------------------------------------------

pub async fn logout_ends_the_session_and_the_next_request_is_401(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("logout").await;
    api.me(access(&tokens)).await.expect(200);
    let r = api.post_empty("/auth/logout", Some(access(&tokens))).await;
    r.expect(204);
    assert!(r.raw.is_empty());
    let r = api.me(access(&tokens)).await;
    r.expect_error(401, "token_revoked");
    assert_challenge(&r, Some("invalid_token"));
    api.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": refresh_token(&tokens)}),
    )
    .await
    .expect(401);
    // The revoked token is refused by logout too.
    api.post_empty("/auth/logout", Some(access(&tokens)))
        .await
        .expect_error(401, "token_revoked");
}

pub async fn logout_works_with_an_expired_access_token(t: &Target) {
    let Some(time) = &t.time else {
        eprintln!("api suite: logout_works_with_an_expired_access_token skipped (no clock hook)");
        return;
    };
    let api = Api::new(t);
    let (_, tokens) = api.user("logoutexpired").await;
    time.advance(Duration::from_secs(
        tokens["expires_in"].as_u64().unwrap() + 1,
    ));
    api.me(access(&tokens))
        .await
        .expect_error(401, "token_expired");
    api.post_empty("/auth/logout", Some(access(&tokens)))
        .await
        .expect(204);
    // The session is over: its refresh token no longer works.
    api.post(
        "/auth/refresh",
        None,
        json!({"refresh_token": refresh_token(&tokens)}),
    )
    .await
    .expect(401);
}

pub async fn logout_without_a_token_is_401(t: &Target) {
    let api = Api::new(t);
    for path in ["/auth/logout", "/auth/logout-all"] {
        let r = api.post_empty(path, None).await;
        r.expect(401);
        assert_challenge(&r, None);
        api.post_empty(path, Some("garbage")).await.expect(401);
    }
}

pub async fn logout_all_ends_every_session(t: &Target) {
    let api = Api::new(t);
    let (email, one) = api.user("logoutall").await;
    let two = api.login(&email, PASSWORD).await;
    two.expect(200);
    api.post_empty("/auth/logout-all", Some(access(&one)))
        .await
        .expect(204);
    for tokens in [&one, &two.json] {
        api.me(access(tokens))
            .await
            .expect_error(401, "token_revoked");
    }
}

// -- Sessions -------------------------------------------------------------------------

pub async fn sessions_list_marks_the_current_one(t: &Target) {
    let api = Api::new(t);
    let (email, one) = api.user("sessions").await;
    let two = api.login(&email, PASSWORD).await;
    two.expect(200);
    let r = api.get("/auth/sessions", Some(access(&one))).await;
    r.expect(200);
    let list = r.json.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2, "{list:?}");
    for s in list {
        assert!(s["id"].as_str().is_some_and(|id| id.len() == 32), "{s}");
        assert!(s["current"].is_boolean(), "{s}");
        let current = s["id"] == one["session_id"];
        assert_eq!(s["current"], current, "{s}");
    }
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    api.get("/auth/sessions", None).await.expect(401);
}

pub async fn deleting_a_session_works_only_for_the_callers_own(t: &Target) {
    let api = Api::new(t);
    let (email, one) = api.user("delete").await;
    let two = api.login(&email, PASSWORD).await.json;
    let (_, stranger) = api.user("stranger").await;
    let path = |s: &Value| format!("/auth/sessions/{}", s["session_id"].as_str().unwrap());
    // Someone else's session: not found, and untouched.
    api.delete(&path(&stranger), Some(access(&one)))
        .await
        .expect_error(404, "session_not_found");
    api.me(access(&stranger)).await.expect(200);
    for garbage in ["nope", "00000000000000000000000000000000"] {
        api.delete(&format!("/auth/sessions/{garbage}"), Some(access(&one)))
            .await
            .expect_error(404, "session_not_found");
    }
    // One's own other session: ended.
    let r = api.delete(&path(&two), Some(access(&one))).await;
    r.expect(204);
    api.me(access(&two)).await.expect(401);
    api.me(access(&one)).await.expect(200);
    // Already ended: not found.
    api.delete(&path(&two), Some(access(&one)))
        .await
        .expect_error(404, "session_not_found");
    api.delete(&path(&one), None).await.expect(401);
}

// -- Passwords ------------------------------------------------------------------------

pub async fn password_change_keeps_this_session_and_ends_the_others(t: &Target) {
    let api = Api::new(t);
    let (email, one) = api.user("change").await;
    let two = api.login(&email, PASSWORD).await.json;
    let r = api
        .post(
            "/auth/password/change",
            Some(access(&one)),
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    r.expect(204);
    api.me(access(&one)).await.expect(200);
    api.me(access(&two))
        .await
        .expect_error(401, "token_revoked");
    api.login(&email, PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    api.login(&email, NEW_PASSWORD).await.expect(200);
}

pub async fn password_change_refuses_wrong_current_and_weak_new(t: &Target) {
    let api = Api::new(t);
    let (_, tokens) = api.user("changebad").await;
    let token = Some(access(&tokens));
    api.post(
        "/auth/password/change",
        token,
        json!({"current_password": "Not-The-Password-9", "new_password": NEW_PASSWORD}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let r = api
        .post(
            "/auth/password/change",
            token,
            json!({"current_password": PASSWORD, "new_password": "123"}),
        )
        .await;
    r.expect_error(422, "invalid_password");
    assert!(r.json["messages"].as_array().is_some_and(|m| !m.is_empty()));
    api.post(
        "/auth/password/change",
        None,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .expect(401);
    // Nothing changed.
    api.me(access(&tokens)).await.expect(200);
}

pub async fn password_reset_flow_sets_a_new_password_and_ends_sessions(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("reset").await;
    let r = api
        .post("/auth/password/reset", None, json!({"email": email}))
        .await;
    r.expect(202);
    let token = t
        .mailbox
        .latest_token(&email, MailKind::PasswordReset)
        .await
        .expect("a reset token was sent");
    // A refused password leaves the token usable.
    api.post(
        "/auth/password/reset/confirm",
        None,
        json!({"token": token, "new_password": "123"}),
    )
    .await
    .expect_error(422, "invalid_password");
    api.post(
        "/auth/password/reset/confirm",
        None,
        json!({"token": token, "new_password": NEW_PASSWORD}),
    )
    .await
    .expect(204);
    api.me(access(&tokens)).await.expect(401);
    api.login(&email, PASSWORD).await.expect(401);
    api.login(&email, NEW_PASSWORD).await.expect(200);
    // Single use.
    api.post(
        "/auth/password/reset/confirm",
        None,
        json!({"token": token, "new_password": "Another-Fresh-Pass-7"}),
    )
    .await
    .expect_error(401, "invalid_token");
}

pub async fn password_reset_confirm_refuses_bad_tokens(t: &Target) {
    let api = Api::new(t);
    api.post(
        "/auth/password/reset/confirm",
        None,
        json!({"token": "tpr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "new_password": NEW_PASSWORD}),
    )
    .await
    .expect_error(401, "invalid_token");
}

/// Run last: it trips the per-account (and, without a trusted proxy, the per-address)
/// recovery limit.
pub async fn password_reset_answers_the_same_for_every_address(t: &Target) {
    let api = Api::new(t);
    let (known, _) = api.user("resetsame").await;
    let unknown = email("resetunknown");
    let mut bodies = Vec::new();
    for address in [
        known.clone(),
        unknown.clone(),
        "not-an-email".into(),
        String::new(),
        known.to_uppercase(),
    ] {
        let r = api
            .post("/auth/password/reset", None, json!({"email": address}))
            .await;
        r.expect(202);
        bodies.push(r.raw);
    }
    // Over the rate limit (5 per hour per account): still the same answer.
    for _ in 0..6 {
        let r = api
            .post("/auth/password/reset", None, json!({"email": unknown}))
            .await;
        r.expect(202);
        bodies.push(r.raw);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "bodies differ");
}

// -- Verification ---------------------------------------------------------------------

pub async fn verification_flow_marks_the_user_verified(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("verify").await;
    api.post_empty("/auth/verify/request", Some(access(&tokens)))
        .await
        .expect(202);
    let token = t
        .mailbox
        .latest_token(&email, MailKind::EmailVerification)
        .await
        .expect("a verification token was sent");
    api.post("/auth/verify/confirm", None, json!({"token": token}))
        .await
        .expect(204);
    let me = api.me(access(&tokens)).await;
    me.expect(200);
    assert_eq!(me.json["is_verified"], true);
    api.post("/auth/verify/confirm", None, json!({"token": token}))
        .await
        .expect_error(401, "invalid_token");
}

pub async fn verification_needs_a_token_and_a_valid_link(t: &Target) {
    let api = Api::new(t);
    let r = api.post_empty("/auth/verify/request", None).await;
    r.expect(401);
    assert_challenge(&r, None);
    for bad in ["garbage", "tev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        api.post("/auth/verify/confirm", None, json!({"token": bad}))
            .await
            .expect_error(401, "invalid_token");
    }
}

// -- Bodies, documents ----------------------------------------------------------------

pub async fn bodies_are_checked_with_json_errors(t: &Target) {
    let api = Api::new(t);
    let json_ct = "application/json";
    for path in [
        "/auth/login",
        "/auth/register",
        "/auth/refresh",
        "/auth/password/reset",
    ] {
        let cases: Vec<(Body, u16, &str)> = vec![
            (
                Body::Raw(json_ct, b"{\"email\": ".to_vec()),
                400,
                "invalid_json",
            ),
            (
                Body::Raw(json_ct, b"not json at all".to_vec()),
                400,
                "invalid_json",
            ),
            (
                Body::Json(json!({"email": 5, "password": [], "refresh_token": 7})),
                422,
                "invalid_body",
            ),
            (Body::Json(json!({})), 422, "invalid_body"),
            (Body::Json(json!([1, 2])), 422, "invalid_body"),
            (
                Body::Raw("text/plain", b"{}".to_vec()),
                415,
                "unsupported_media_type",
            ),
            (
                Body::Raw(json_ct, {
                    let mut big = b"{\"email\": \"".to_vec();
                    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
                    big.extend(b"\", \"password\": \"x\"}");
                    big
                }),
                413,
                "body_too_large",
            ),
        ];
        for (body, status, code) in cases {
            let r = api.send(Method::POST, path, &[], body).await;
            assert_eq!(
                (r.status.as_u16(), r.error()),
                (status, code),
                "{path}: {}",
                r.text()
            );
            assert!(
                r.header("content-type")
                    .unwrap_or("")
                    .starts_with("application/json")
            );
        }
        // No body at all is no JSON content type.
        api.send(Method::POST, path, &[], Body::None)
            .await
            .expect_error(415, "unsupported_media_type");
    }
}

pub async fn openapi_document_lists_every_route(t: &Target) {
    let api = Api::new(t);
    let r = api.get("/auth/openapi.json", None).await;
    r.expect(200);
    assert!(
        r.json["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{}",
        r.json
    );
    let paths = r.json["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/auth/me", "get"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
        ("/auth/logout-all", "post"),
        ("/auth/sessions", "get"),
        ("/auth/sessions/{id}", "delete"),
        ("/auth/password/change", "post"),
        ("/auth/password/reset", "post"),
        ("/auth/password/reset/confirm", "post"),
        ("/auth/verify/request", "post"),
        ("/auth/verify/confirm", "post"),
        ("/auth/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    assert_eq!(paths.len(), 14);
}

// -- Robustness -----------------------------------------------------------------------

pub async fn interleaved_requests_never_mix_identities(t: &Target) {
    let api = Arc::new(Api::new(t));
    let (a_email, a) = api.user("alice").await;
    let (b_email, b) = api.user("bob").await;
    let users = Arc::new([
        (a_email, access(&a).to_owned()),
        (b_email, access(&b).to_owned()),
    ]);
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..16 {
        let (api, users, next) = (api.clone(), users.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= 1000 {
                    return;
                }
                let (email, token) = &users[i % 2];
                let r = api.me(token).await;
                assert_eq!(r.status, 200, "request {i}: {}", r.text());
                assert_eq!(
                    r.json["email"],
                    email.as_str(),
                    "request {i} got another identity"
                );
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no request saw another identity");
    }
    assert_eq!(next.load(std::sync::atomic::Ordering::SeqCst), 1000 + 16);
}

/// Sends raw bytes (anything, even what no client library allows) and returns the status,
/// or `None` if the server closed the connection without an answer.
pub async fn raw_request(base_url: &str, request: &[u8]) -> Option<u16> {
    let host = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(request).await.ok()?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    let text = String::from_utf8_lossy(&buf);
    let status = text.split_whitespace().nth(1)?;
    status.parse().ok()
}

pub async fn hostile_authorization_headers_are_400_or_401_without_panic(t: &Target) {
    let api = Api::new(t);
    let (email, tokens) = api.user("hostile").await;
    let good = access(&tokens).to_owned();
    let long = format!("tat_{}", "A".repeat(16 * 1024));
    // Through a real client library: what it can express.
    let header_cases: Vec<(&str, Vec<HeaderValue>, u16)> = vec![
        (
            "two headers",
            vec![
                HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
                HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
            ],
            400,
        ),
        (
            "Bearer alone",
            vec![HeaderValue::from_static("Bearer")],
            400,
        ),
        (
            "Bearer and spaces",
            vec![HeaderValue::from_static("Bearer    ")],
            400,
        ),
        (
            "token with a space",
            vec![HeaderValue::from_str(&format!("Bearer {good} x")).unwrap()],
            400,
        ),
        (
            "token with a tab",
            vec![HeaderValue::from_str(&format!("Bearer {good}\tx")).unwrap()],
            400,
        ),
        (
            "non-UTF-8",
            vec![HeaderValue::from_bytes(b"Bearer tat_\xff\xfe\xfd").unwrap()],
            400,
        ),
        (
            "quoted",
            vec![HeaderValue::from_static("Bearer \"tat_x\"")],
            400,
        ),
        (
            "16 KiB token",
            vec![HeaderValue::from_str(&format!("Bearer {long}")).unwrap()],
            401,
        ),
        (
            "Bearerx",
            vec![HeaderValue::from_str(&format!("Bearerx {good}")).unwrap()],
            401,
        ),
        (
            "Basic",
            vec![HeaderValue::from_static("Basic dXNlcjpwYXNz")],
            401,
        ),
        ("empty", vec![HeaderValue::from_static("")], 401),
    ];
    for (what, values, status) in header_cases {
        let headers: Vec<(&str, HeaderValue)> =
            values.into_iter().map(|v| ("authorization", v)).collect();
        let r = api
            .send(Method::GET, "/auth/me", &headers, Body::None)
            .await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text());
        assert!(r.json["error"].is_string(), "{what}: a JSON error body");
        if status == 400 {
            assert_eq!(r.error(), "invalid_request", "{what}");
        }
    }
    // Raw bytes: control characters and line tricks no client library sends. The server
    // (hyper or this crate) must refuse them with 400 or 401, or drop the connection.
    let host = api.base.trim_start_matches("http://").to_owned();
    let raw_cases: Vec<Vec<u8>> = vec![
        format!("Bearer \x01{good}").into_bytes(),
        format!("Bearer {good}\x00").into_bytes(),
        format!("Bearer {good}\x7f").into_bytes(),
        format!("Bearer\x0b{good}").into_bytes(),
        b"Bearer tat_\xc3\x28".to_vec(),
        format!("Bearer {good}\rX-Injected: 1").into_bytes(),
    ];
    for value in raw_cases {
        let mut request = format!(
            "GET /auth/me HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: "
        )
        .into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n\r\n");
        let status = raw_request(&api.base, &request).await;
        assert!(
            matches!(status, None | Some(400) | Some(401)),
            "{:?} answered {status:?}",
            String::from_utf8_lossy(&value)
        );
    }
    // A huge header section is refused by the server, never a panic.
    let mut request = format!(
        "GET /auth/me HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer "
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'A', 1024 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let status = raw_request(&api.base, &request).await;
    assert!(
        matches!(status, None | Some(400) | Some(401) | Some(413) | Some(431)),
        "{status:?}"
    );
    // Still serving, and the right user.
    let r = api.me(&good).await;
    r.expect(200);
    assert_eq!(r.json["email"], email);
}

pub async fn storage_outage_is_503_and_never_authenticates(t: &Target) {
    let Some(outage) = &t.outage else {
        eprintln!(
            "api suite: storage_outage_is_503_and_never_authenticates skipped (no outage hook)"
        );
        return;
    };
    let api = Api::new(t);
    let (email, tokens) = api.user("outage").await;
    outage.set_down(true);
    let replies = vec![
        api.me(access(&tokens)).await,
        api.get("/auth/sessions", Some(access(&tokens))).await,
        api.login(&email, PASSWORD).await,
        api.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": refresh_token(&tokens)}),
        )
        .await,
        api.post(
            "/auth/register",
            None,
            json!({"email": self::email("outage2"), "password": PASSWORD}),
        )
        .await,
        api.post_empty("/auth/logout", Some(access(&tokens))).await,
    ];
    outage.set_down(false);
    for r in &replies {
        r.expect(503);
        assert_eq!(r.json, json!({"error": "service_unavailable"}));
        let text = r.text().to_lowercase();
        for leak in [
            "select",
            "insert",
            "sql",
            "panick",
            access(&tokens),
            refresh_token(&tokens),
        ] {
            assert!(!text.contains(&leak.to_lowercase()), "{leak} in {text}");
        }
    }
    // Back up: the same token works again (nothing was revoked or changed by the outage).
    api.me(access(&tokens)).await.expect(200);
}
