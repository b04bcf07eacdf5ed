//! tortoise-auth for axum: a tower layer, extractors and guards, one mapping of
//! [`AuthError`](auth_core::AuthError) to HTTP, and a JSON auth API mounted in one line.
//!
//! | item | what it does |
//! | --- | --- |
//! | [`AuthLayer`] | reads `Authorization: Bearer <token>`, authenticates it once per request, records an [`Authentication`] in the request extensions; malformed headers 400, internal failures 503 |
//! | [`CurrentUser`], [`CurrentSession`] | the authenticated user (and session); 401 with a `WWW-Authenticate: Bearer` challenge otherwise |
//! | [`MaybeUser`] (or `Option<CurrentUser>`) | the user if a token was sent, `None` if none was |
//! | [`login_required`], [`login_required_redirect`] | guard layers: 401, or `303` to a login page with `?next=` |
//! | [`ServiceAuthLayer`], [`ServiceCaller`] | service-to-service tokens on chosen routes |
//! | [`RateLimitLayer`] | per-client-address limit on chosen routes: 429 with `Retry-After` |
//! | [`ApiError`] | every rejection; its `IntoResponse` is the one status/JSON mapping |
//! | [`api::router`] | `POST /auth/register`, `/auth/login`, `GET /auth/me`, ... (see [`api`]) |
//! | [`ClientIp`], [`TrustedProxies`] | the client address: the connection's, or `X-Forwarded-For` from trusted proxies only |
//!
//! No cookies are used: the API hands out bearer tokens in JSON bodies and reads them from
//! the `Authorization` header only (never from the query string), so there is no CSRF
//! surface. `docs/axum.md` is the guide.
//!
//! # Example
//! ```no_run
//! use std::net::SocketAddr;
//!
//! use auth_axum::{AuthLayer, CurrentUser, MaybeUser};
//! use auth_facade::AuthService;
//! use axum::{Router, routing::get};
//!
//! async fn serve(auth: AuthService) -> std::io::Result<()> {
//!     let app = Router::new()
//!         .route("/", get(|MaybeUser(user): MaybeUser| async move {
//!             match user {
//!                 Some(user) => format!("hello {}", user.email),
//!                 None => "hello stranger".to_owned(),
//!             }
//!         }))
//!         .route("/private", get(|CurrentUser(user): CurrentUser| async move { user.email }))
//!         .merge(auth_axum::api::router(auth.clone())) // POST /auth/login, ...
//!         .layer(AuthLayer::new(auth));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     // The connection's address feeds per-address rate limits and the session list.
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! }
//! ```
//!
//! # Status codes
//! | situation | status | JSON `"error"` |
//! | --- | --- | --- |
//! | no bearer token on a protected route | 401, `WWW-Authenticate: Bearer realm="api"` | `unauthorized` |
//! | token invalid / expired / revoked | 401, `error="invalid_token"` + `error_description` | `invalid_token` / `token_expired` / `token_revoked` |
//! | malformed `Authorization` (two headers, `Bearer` alone, spaces, control or non-ASCII bytes) | 400, `error="invalid_request"` | `invalid_request` |
//! | another scheme (`Basic`, `Bearerx`) | treated as no token | |
//! | wrong email or password | 401 | `invalid_credentials` |
//! | inactive user | 403 | `user_inactive` |
//! | email taken | 409 | `user_exists` |
//! | password refused by the policy | 422, `"messages"` lists every rule | `invalid_password` |
//! | malformed argument | 422 | `invalid_input` |
//! | locked out | 429, `Retry-After` | `rate_limited` |
//! | storage down, any internal failure | 503 (logged without SQL, source or token) | `service_unavailable` |

mod bearer;
mod client;
mod error;
mod extract;
mod guard;
mod layer;
mod rate_limit;

pub mod api;

pub use client::{ClientIp, TrustedProxies};
pub use error::{ApiError, BodyError, REALM};
pub use extract::{CurrentSession, CurrentUser, JsonBody, MaybeUser};
pub use guard::{
    LoginRequired, LoginRequiredLayer, ServiceAuth, ServiceAuthLayer, ServiceCaller,
    login_required, login_required_redirect,
};
pub use layer::{AuthLayer, AuthMiddleware, Authentication, Refusal};
pub use rate_limit::{RateLimit, RateLimitLayer};
