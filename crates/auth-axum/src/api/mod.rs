//! The JSON auth API an application mounts in one line: [`router`].
//!
//! | route | body | success | errors |
//! | --- | --- | --- | --- |
//! | `POST /auth/register` | `{"email","password"}` | 201 `{"user":{...}}` | 409 `user_exists`, 422 `invalid_password` (`messages`) / `invalid_input` |
//! | `POST /auth/login` | `{"email","password"}` | 200 tokens + `user` | 401 `invalid_credentials`, 429 `rate_limited` + `Retry-After`, 422 `invalid_input` |
//! | `GET /auth/me` | | 200 the user | 401 |
//! | `POST /auth/refresh` | `{"refresh_token"}` | 200 tokens | 401 `invalid_token` / `token_expired` / `token_revoked` |
//! | `POST /auth/logout` | (Bearer) | 204 | 401 |
//! | `POST /auth/logout-all` | (Bearer) | 204 | 401 |
//! | `GET /auth/sessions` | (Bearer) | 200 `[{"id",...,"current"}]` | 401 |
//! | `DELETE /auth/sessions/{id}` | (Bearer) | 204 | 401, 404 `session_not_found` |
//! | `POST /auth/password/change` | (Bearer) `{"current_password","new_password"}` | 204 | 401, 422, 429 |
//! | `POST /auth/password/reset` | `{"email"}` | 202, always the same body | |
//! | `POST /auth/password/reset/confirm` | `{"token","new_password"}` | 204 | 401 `invalid_token`, 422, 429 |
//! | `POST /auth/verify/request` | (Bearer) | 202 | 401, 429 |
//! | `POST /auth/verify/confirm` | `{"token"}` | 204 | 401 `invalid_token` |
//! | `GET /auth/openapi.json` | | 200 OpenAPI 3.1 | |
//!
//! Every response carries `Cache-Control: no-store`. Bodies are JSON: malformed JSON is
//! 400 `invalid_json`, a missing field or wrong type 422 `invalid_body`, a body over 64 KiB
//! 413 `body_too_large`, another content type 415 `unsupported_media_type`. Any internal
//! failure is 503 `service_unavailable`. See [`ApiError`] for the whole mapping.

mod openapi;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_core::{ClientInfo, OffsetDateTime, SessionId, SessionInfo, User};
use auth_facade::{AuthService, LoginOptions};
use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::bearer::{Credentials, bearer};
use crate::client::ClientIp;
use crate::error::ApiError;
use crate::extract::{CurrentSession, CurrentUser, JsonBody};
use crate::layer::{AuthLayer, Authentication, Refusal};

pub use openapi::openapi;

/// The largest request body the API routes read (64 KiB); larger is 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Settings of the API router beyond the [`AuthService`].
#[derive(Debug, Clone)]
pub struct ApiOptions {
    client_ip: ClientIp,
    body_limit: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            client_ip: ClientIp::connection(),
            body_limit: BODY_LIMIT,
        }
    }
}

impl ApiOptions {
    /// The defaults: the connection's address, 64 KiB bodies.
    pub fn new() -> Self {
        Self::default()
    }

    /// How the client's address (for login rate limits and the session list) is found;
    /// [`ClientIp::behind_proxies`] to trust `X-Forwarded-For` from your proxies.
    pub fn client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// The largest body read, in bytes (default [`BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// A route of the API, as served by [`router`] and described by [`openapi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{id}` for a parameter (the syntax of axum and OpenAPI alike).
    pub path: &'static str,
    /// The `operationId` in the OpenAPI document.
    pub operation_id: &'static str,
}

#[derive(Clone)]
struct ApiState {
    auth: AuthService,
    client_ip: ClientIp,
}

/// The API routes (under `/auth`) on `auth`, with default [`ApiOptions`]. Mount it in
/// one line: `app.merge(auth_axum::api::router(auth.clone()))`.
///
/// The router authenticates its own routes (an [`AuthLayer`] inside it; an outer one on
/// the application does not make it authenticate twice). The client address comes from
/// the connection: serve with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router<S>(auth: AuthService) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(auth, ApiOptions::default())
}

/// [`router`] with options.
pub fn router_with<S>(auth: AuthService, options: ApiOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state = ApiState {
        auth: auth.clone(),
        client_ip: options.client_ip,
    };
    let mut by_path: BTreeMap<&'static str, MethodRouter<ApiState>> = BTreeMap::new();
    for (info, handler) in operations() {
        let merged = match by_path.remove(info.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(info.path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router
        .route_layer(AuthLayer::new(auth))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Every route of the API, in the order of the OpenAPI document.
pub fn routes() -> Vec<RouteInfo> {
    operations().into_iter().map(|(info, _)| info).collect()
}

fn operations() -> Vec<(RouteInfo, MethodRouter<ApiState>)> {
    let r = |method, path, operation_id| RouteInfo {
        method,
        path,
        operation_id,
    };
    vec![
        (
            r(Method::POST, "/auth/register", "register"),
            post(register),
        ),
        (r(Method::POST, "/auth/login", "login"), post(login)),
        (r(Method::GET, "/auth/me", "me"), get(me)),
        (r(Method::POST, "/auth/refresh", "refresh"), post(refresh)),
        (r(Method::POST, "/auth/logout", "logout"), post(logout)),
        (
            r(Method::POST, "/auth/logout-all", "logoutAll"),
            post(logout_all),
        ),
        (
            r(Method::GET, "/auth/sessions", "listSessions"),
            get(list_sessions),
        ),
        (
            r(Method::DELETE, "/auth/sessions/{id}", "revokeSession"),
            delete(revoke_session),
        ),
        (
            r(Method::POST, "/auth/password/change", "changePassword"),
            post(change_password),
        ),
        (
            r(Method::POST, "/auth/password/reset", "requestPasswordReset"),
            post(request_reset),
        ),
        (
            r(
                Method::POST,
                "/auth/password/reset/confirm",
                "confirmPasswordReset",
            ),
            post(confirm_reset),
        ),
        (
            r(Method::POST, "/auth/verify/request", "requestVerification"),
            post(request_verification),
        ),
        (
            r(Method::POST, "/auth/verify/confirm", "confirmVerification"),
            post(confirm_verification),
        ),
        (
            r(Method::GET, "/auth/openapi.json", "openapi"),
            get(openapi_document),
        ),
    ]
}

/// RFC 6749 §5.1: token responses, and here every auth response, are never cached.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The request's client, as [`ApiOptions::client_ip`] finds it.
struct Client(ClientInfo);

impl FromRequestParts<ApiState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(
            state
                .client_ip
                .client_info(&parts.extensions, &parts.headers),
        ))
    }
}

// -- Bodies ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct EmailPassword {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

#[derive(Deserialize)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

#[derive(Deserialize)]
struct TokenOnly {
    token: String,
}

#[derive(Serialize)]
struct UserEnvelope {
    user: User,
}

/// The token response of login and refresh (RFC 6749 §5.1 names).
#[derive(Serialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// Seconds until the refresh token expires.
    refresh_expires_in: u64,
    session_id: SessionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
}

#[derive(Serialize)]
struct SessionView<'a> {
    #[serde(flatten)]
    info: &'a SessionInfo,
    current: bool,
}

#[derive(Serialize)]
struct Accepted {
    message: &'static str,
}

const RESET_ACCEPTED: Accepted = Accepted {
    message: "If the address belongs to an account, a password reset link has been sent to it.",
};

const VERIFICATION_ACCEPTED: Accepted = Accepted {
    message: "If the address is not verified yet, a verification link has been sent to it.",
};

/// Whole seconds, rounded to the nearest (a token issued now for 900 s says 900).
fn seconds(d: Duration) -> u64 {
    (d.as_millis().saturating_add(500) / 1000)
        .try_into()
        .unwrap_or(u64::MAX)
}

fn tokens(
    auth: &AuthService,
    access_token: String,
    refresh_token: String,
    session_id: SessionId,
    access_expires_at: OffsetDateTime,
    refresh_expires_at: OffsetDateTime,
    user: Option<User>,
) -> Tokens {
    let sessions = auth.sessions();
    Tokens {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: seconds(sessions.expires_in(access_expires_at)),
        refresh_expires_in: seconds(sessions.expires_in(refresh_expires_at)),
        session_id,
        user,
    }
}

// -- Handlers -------------------------------------------------------------------------

async fn register(
    State(s): State<ApiState>,
    JsonBody(body): JsonBody<EmailPassword>,
) -> Result<Response, ApiError> {
    let user = s.auth.register(&body.email, &body.password).await?;
    Ok((StatusCode::CREATED, Json(UserEnvelope { user })).into_response())
}

async fn login(
    State(s): State<ApiState>,
    Client(client): Client,
    JsonBody(body): JsonBody<EmailPassword>,
) -> Result<Json<Tokens>, ApiError> {
    let options = LoginOptions {
        client,
        ..LoginOptions::default()
    };
    let r = s
        .auth
        .sessions()
        .login_with(&body.email, &body.password, &options)
        .await?;
    Ok(Json(tokens(
        &s.auth,
        r.access_token,
        r.refresh_token,
        r.session_id,
        r.access_expires_at,
        r.refresh_expires_at,
        Some(r.user),
    )))
}

async fn me(CurrentUser(user): CurrentUser) -> Json<User> {
    Json(user)
}

async fn refresh(
    State(s): State<ApiState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let issued = s.auth.sessions().refresh(&body.refresh_token).await?;
    Ok(Json(tokens(
        &s.auth,
        issued.pair.access_token,
        issued.pair.refresh_token,
        issued.session_id,
        issued.access_expires_at,
        issued.refresh_expires_at,
        None,
    )))
}

/// Ends the session of the presented access token. An expired access token still logs
/// out (so a client can always end its session, refresh token included); a revoked or
/// unknown one is 401 like on every other route.
async fn logout(
    State(s): State<ApiState>,
    Extension(authentication): Extension<Authentication>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    match authentication {
        Authentication::Authenticated(_)
        | Authentication::Refused(Refusal::Expired | Refusal::UserInactive) => {}
        other => {
            return Err(other
                .require()
                .err()
                .unwrap_or(ApiError::MissingCredentials));
        }
    }
    match bearer(&headers) {
        Credentials::Bearer(token) => {
            s.auth.logout(token).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Credentials::Malformed => Err(ApiError::MalformedCredentials),
        Credentials::None | Credentials::OtherScheme => Err(ApiError::MissingCredentials),
    }
}

async fn logout_all(
    State(s): State<ApiState>,
    CurrentUser(user): CurrentUser,
) -> Result<StatusCode, ApiError> {
    s.auth.logout_all(&user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sessions(
    State(s): State<ApiState>,
    current: CurrentSession,
) -> Result<Response, ApiError> {
    let sessions = s.auth.sessions().list(&current.user.id).await?;
    let views: Vec<SessionView<'_>> = sessions
        .iter()
        .map(|info| SessionView {
            info,
            current: info.id == current.session_id,
        })
        .collect();
    Ok(Json(views).into_response())
}

async fn revoke_session(
    State(s): State<ApiState>,
    current: CurrentSession,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = id
        .ok()
        .and_then(|Path(id)| SessionId::from_hex(&id).ok())
        .ok_or(ApiError::SessionNotFound)?;
    if s.auth.sessions().revoke(&current.user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::SessionNotFound)
    }
}

async fn change_password(
    State(s): State<ApiState>,
    current: CurrentSession,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    s.auth
        .change_password(
            &current.user.id,
            &body.current_password,
            &body.new_password,
            Some(&current.session_id),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Always 202 with the same body, whether the address is known, unknown, malformed or
/// rate limited: the answer tells nothing about accounts. Only an outage (the same for
/// every address) is 503.
async fn request_reset(
    State(s): State<ApiState>,
    Client(client): Client,
    JsonBody(body): JsonBody<ResetRequest>,
) -> Result<Response, ApiError> {
    match s
        .auth
        .recovery()
        .request_reset_from(&body.email, &client)
        .await
    {
        Err(err) if err.is_internal() => Err(err.into()),
        Ok(()) | Err(_) => Ok((StatusCode::ACCEPTED, Json(RESET_ACCEPTED)).into_response()),
    }
}

async fn confirm_reset(
    State(s): State<ApiState>,
    Client(client): Client,
    JsonBody(body): JsonBody<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    s.auth
        .recovery()
        .confirm_reset_from(&body.token, &body.new_password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn request_verification(
    State(s): State<ApiState>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, ApiError> {
    s.auth.recovery().request_verification(&user.id).await?;
    Ok((StatusCode::ACCEPTED, Json(VERIFICATION_ACCEPTED)).into_response())
}

async fn confirm_verification(
    State(s): State<ApiState>,
    JsonBody(body): JsonBody<TokenOnly>,
) -> Result<StatusCode, ApiError> {
    s.auth.recovery().confirm_verification(&body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_to_the_nearest() {
        assert_eq!(seconds(Duration::from_millis(899_999)), 900);
        assert_eq!(seconds(Duration::from_millis(400)), 0);
        assert_eq!(seconds(Duration::ZERO), 0);
    }

    #[test]
    fn routes_are_unique() {
        let routes = routes();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(
                    a.path != b.path || a.method != b.method,
                    "{} {} twice",
                    a.method,
                    a.path
                );
                assert_ne!(a.operation_id, b.operation_id);
            }
        }
    }
}
