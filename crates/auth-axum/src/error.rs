//! [`ApiError`]: every rejection of this crate, and the one place where an [`AuthError`]
//! becomes an HTTP status, headers and a JSON body.

use std::time::Duration;

use auth_core::{AuthError, InputError, TokenError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `realm` of every `WWW-Authenticate: Bearer` challenge this crate sends.
pub const REALM: &str = "api";

/// Why a request body was refused (by the JSON extractor of the API routes, or by
/// [`JsonBody`](crate::JsonBody) in your own handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Not valid JSON: 400 `invalid_json`.
    Syntax,
    /// Valid JSON of the wrong shape (a missing field, a wrong type): 422 `invalid_body`.
    Shape,
    /// No `Content-Type: application/json`: 415 `unsupported_media_type`.
    ContentType,
    /// Larger than the limit (64 KiB on the API routes): 413 `body_too_large`.
    TooLarge,
    /// The body could not be read (the client went away): 400 `invalid_body`.
    Unreadable,
}

/// Every way a request handled by this crate can be refused. Its [`IntoResponse`] is the
/// one mapping to HTTP (status, `WWW-Authenticate`, `Retry-After`, JSON body, and
/// `Cache-Control: no-store` on every error):
///
/// | error | status | `"error"` | also |
/// | --- | --- | --- | --- |
/// | [`MissingCredentials`](Self::MissingCredentials) | 401 | `unauthorized` | `WWW-Authenticate: Bearer realm="api"` (no error code, RFC 6750 §3.1) |
/// | [`MalformedCredentials`](Self::MalformedCredentials) | 400 | `invalid_request` | challenge with `error="invalid_request"` |
/// | [`AuthError::InvalidCredentials`] | 401 | `invalid_credentials` | challenge without error code |
/// | [`AuthError::Token`] invalid / expired / revoked | 401 | `invalid_token` / `token_expired` / `token_revoked` | challenge with `error="invalid_token"` and an `error_description` |
/// | [`AuthError::UserInactive`] | 403 | `user_inactive` | |
/// | [`AuthError::UserExists`] | 409 | `user_exists` | |
/// | [`AuthError::InvalidPassword`] | 422 | `invalid_password` | `"messages"`: every failed rule |
/// | [`AuthError::InvalidInput`] | 422 | `invalid_input` | `"message"` (never echoes the value) |
/// | [`AuthError::RateLimited`] | 429 | `rate_limited` | `Retry-After` (seconds), `"retry_after"` |
/// | [`AuthError::UserNotFound`] | 404 | `user_not_found` | |
/// | [`SessionNotFound`](Self::SessionNotFound) | 404 | `session_not_found` | |
/// | [`Body`](Self::Body) | 400 / 413 / 415 / 422 | see [`BodyError`] | `"message"` |
/// | anything internal ([`AuthError::is_internal`]), [`AuthError::Config`], unknown | 503 | `service_unavailable` | logged (kind and operation only), never shown |
/// | [`Misconfigured`](Self::Misconfigured) | 500 | `internal_error` | logged |
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// A failure of the [`AuthService`](auth_facade::AuthService).
    Auth(AuthError),
    /// No bearer token on a route that needs one.
    MissingCredentials,
    /// An `Authorization` header that cannot be read (two of them, `Bearer` with no
    /// token, white space, control or non-ASCII characters in the token).
    MalformedCredentials,
    /// The request body was refused.
    Body(BodyError),
    /// The session to end is not one of the caller's active sessions.
    SessionNotFound,
    /// A guard or extractor ran without the layer it reads from (a bug of the
    /// application: the message names the missing layer, and goes to the log only).
    Misconfigured(&'static str),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::Auth(err)
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        ApiError::Auth(AuthError::Token(err))
    }
}

impl std::fmt::Display for ApiError {
    /// Safe to show: the `"error"` code, never an internal source.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (status, code) = self.status_and_code();
        write!(f, "{} {code}", status.as_u16())
    }
}

impl std::error::Error for ApiError {}

/// `error="..."` and `error_description="..."` of a challenge (RFC 6750 §3).
#[derive(Clone, Copy)]
struct Challenge {
    error: Option<&'static str>,
    description: Option<&'static str>,
}

/// The JSON body of every error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

const UNAVAILABLE: &str = "service_unavailable";

impl ApiError {
    /// The HTTP status and the `"error"` code of the JSON body. The whole mapping is this
    /// one `match`.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::MissingCredentials => (S::UNAUTHORIZED, "unauthorized"),
            ApiError::MalformedCredentials => (S::BAD_REQUEST, "invalid_request"),
            ApiError::SessionNotFound => (S::NOT_FOUND, "session_not_found"),
            ApiError::Misconfigured(_) => (S::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Body(BodyError::Syntax) => (S::BAD_REQUEST, "invalid_json"),
            ApiError::Body(BodyError::Shape) => (S::UNPROCESSABLE_ENTITY, "invalid_body"),
            ApiError::Body(BodyError::ContentType) => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Body(BodyError::TooLarge) => (S::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Body(BodyError::Unreadable) => (S::BAD_REQUEST, "invalid_body"),
            ApiError::Auth(err) if err.is_internal() => (S::SERVICE_UNAVAILABLE, UNAVAILABLE),
            ApiError::Auth(err) => match err {
                AuthError::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials"),
                AuthError::Token(TokenError::Invalid) => (S::UNAUTHORIZED, "invalid_token"),
                AuthError::Token(TokenError::Expired) => (S::UNAUTHORIZED, "token_expired"),
                AuthError::Token(TokenError::Revoked) => (S::UNAUTHORIZED, "token_revoked"),
                AuthError::UserInactive => (S::FORBIDDEN, "user_inactive"),
                AuthError::UserExists => (S::CONFLICT, "user_exists"),
                AuthError::UserNotFound => (S::NOT_FOUND, "user_not_found"),
                AuthError::InvalidPassword(_) => (S::UNPROCESSABLE_ENTITY, "invalid_password"),
                AuthError::InvalidInput(_) => (S::UNPROCESSABLE_ENTITY, "invalid_input"),
                AuthError::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "rate_limited"),
                // Configuration errors and anything added later: fail closed, say nothing.
                _ => (S::SERVICE_UNAVAILABLE, UNAVAILABLE),
            },
        }
    }

    /// The HTTP status alone.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn challenge(&self) -> Option<Challenge> {
        let plain = Challenge {
            error: None,
            description: None,
        };
        let token = |description| Challenge {
            error: Some("invalid_token"),
            description: Some(description),
        };
        match self {
            ApiError::MissingCredentials | ApiError::Auth(AuthError::InvalidCredentials) => {
                Some(plain)
            }
            ApiError::MalformedCredentials => Some(Challenge {
                error: Some("invalid_request"),
                description: Some("The Authorization header is malformed"),
            }),
            ApiError::Auth(AuthError::Token(TokenError::Invalid)) => {
                Some(token("The token is invalid"))
            }
            ApiError::Auth(AuthError::Token(TokenError::Expired)) => {
                Some(token("The token expired"))
            }
            ApiError::Auth(AuthError::Token(TokenError::Revoked)) => {
                Some(token("The token was revoked"))
            }
            _ => None,
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            ApiError::Auth(AuthError::InvalidInput(e)) => Some(input_message(e)),
            ApiError::Body(BodyError::Syntax) => Some("the body is not valid JSON".into()),
            ApiError::Body(BodyError::Shape) => {
                Some("a field is missing or has the wrong type".into())
            }
            ApiError::Body(BodyError::ContentType) => {
                Some("expected Content-Type: application/json".into())
            }
            ApiError::Body(BodyError::TooLarge) => Some("the body is too large".into()),
            ApiError::Body(BodyError::Unreadable) => Some("the body could not be read".into()),
            _ => None,
        }
    }

    /// Logs what must not be shown: internal failures (their kind and operation, never
    /// their source, which may hold SQL) and misconfiguration.
    fn log(&self) {
        match self {
            ApiError::Misconfigured(what) => {
                tracing::error!(missing = *what, "auth-axum is misconfigured");
            }
            ApiError::Auth(err) if self.status() == StatusCode::SERVICE_UNAVAILABLE => {
                let store = match err {
                    AuthError::Storage(e) | AuthError::Token(TokenError::Storage(e)) => Some(e),
                    _ => None,
                };
                match store {
                    Some(e) => tracing::error!(
                        error = %err,
                        kind = %e.kind(),
                        operation = e.context(),
                        "authentication storage failure: answered 503"
                    ),
                    None => tracing::error!(error = %err, "authentication failure: answered 503"),
                }
            }
            _ => {}
        }
    }
}

/// The message of an input error: the crate's own text, which names the field and never
/// the value.
fn input_message(e: &InputError) -> String {
    e.to_string()
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let (status, code) = self.status_and_code();
        let retry_after = match &self {
            ApiError::Auth(AuthError::RateLimited { retry_after }) => {
                Some(retry_after_secs(*retry_after))
            }
            _ => None,
        };
        let messages = match &self {
            ApiError::Auth(AuthError::InvalidPassword(rejection)) => Some(
                rejection
                    .failures
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect(),
            ),
            _ => None,
        };
        let body = ErrorBody {
            error: code,
            message: self.message(),
            messages,
            retry_after,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge() {
            let mut value = format!("Bearer realm=\"{REALM}\"");
            if let Some(error) = challenge.error {
                value.push_str(&format!(", error=\"{error}\""));
            }
            if let Some(description) = challenge.description {
                value.push_str(&format!(", error_description=\"{description}\""));
            }
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{InputField, PasswordRejection, PolicyFailure, StoreError, StoreErrorKind};

    fn parts(err: ApiError) -> (u16, serde_json::Value, Option<String>, Option<String>) {
        let response = err.into_response();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        let get = |name| {
            headers
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        (
            status,
            serde_json::from_slice(&body).unwrap(),
            get(header::WWW_AUTHENTICATE),
            get(header::RETRY_AFTER),
        )
    }

    #[test]
    fn every_auth_error_has_its_status_and_code() {
        let table: Vec<(AuthError, u16, &str)> = vec![
            (AuthError::InvalidCredentials, 401, "invalid_credentials"),
            (TokenError::Invalid.into(), 401, "invalid_token"),
            (TokenError::Expired.into(), 401, "token_expired"),
            (TokenError::Revoked.into(), 401, "token_revoked"),
            (AuthError::UserInactive, 403, "user_inactive"),
            (AuthError::UserExists, 409, "user_exists"),
            (AuthError::UserNotFound, 404, "user_not_found"),
            (
                InputError::Malformed(InputField::Email).into(),
                422,
                "invalid_input",
            ),
            (
                AuthError::RateLimited {
                    retry_after: Duration::from_millis(1500),
                },
                429,
                "rate_limited",
            ),
            (
                StoreError::new(StoreErrorKind::Unavailable, "find").into(),
                503,
                "service_unavailable",
            ),
            (
                TokenError::Storage(StoreError::new(StoreErrorKind::Other, "x")).into(),
                503,
                "service_unavailable",
            ),
            (AuthError::internal("x"), 503, "service_unavailable"),
            (
                AuthError::Config(auth_core::ConfigError::Invalid {
                    setting: "x",
                    reason: "y".into(),
                }),
                503,
                "service_unavailable",
            ),
        ];
        for (err, status, code) in table {
            let (s, body, _, _) = parts(err.into());
            assert_eq!((s, body["error"].as_str().unwrap()), (status, code));
        }
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let (_, body, challenge, _) = parts(ApiError::MissingCredentials);
        assert_eq!(challenge.as_deref(), Some("Bearer realm=\"api\""));
        assert_eq!(body, serde_json::json!({"error": "unauthorized"}));
        let (_, _, challenge, _) = parts(TokenError::Expired.into());
        assert_eq!(
            challenge.as_deref(),
            Some(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The token expired\""
            )
        );
        let (status, _, challenge, _) = parts(ApiError::MalformedCredentials);
        assert_eq!(status, 400);
        assert!(challenge.unwrap().contains("error=\"invalid_request\""));
        let (_, _, challenge, _) = parts(AuthError::UserInactive.into());
        assert_eq!(challenge, None);
    }

    #[test]
    fn rate_limits_round_up_and_passwords_list_every_message() {
        let (_, body, _, retry) = parts(
            AuthError::RateLimited {
                retry_after: Duration::from_millis(1500),
            }
            .into(),
        );
        assert_eq!(retry.as_deref(), Some("2"));
        assert_eq!(body["retry_after"], 2);
        let rejection = PasswordRejection {
            failures: vec![
                PolicyFailure {
                    code: "password_too_short".into(),
                    message: "too short".into(),
                },
                PolicyFailure {
                    code: "password_too_common".into(),
                    message: "too common".into(),
                },
            ],
        };
        let (status, body, _, _) = parts(AuthError::InvalidPassword(rejection).into());
        assert_eq!(status, 422);
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_password", "messages": ["too short", "too common"]})
        );
    }

    #[test]
    fn internal_failures_say_nothing() {
        let err = StoreError::new(StoreErrorKind::Other, "find_user")
            .with_source("SELECT password FROM users WHERE token = 'tat_secret'");
        let (status, body, _, _) = parts(AuthError::Storage(err).into());
        assert_eq!(status, 503);
        assert_eq!(body, serde_json::json!({"error": "service_unavailable"}));
        let (status, body, _, _) = parts(ApiError::Misconfigured("AuthLayer"));
        assert_eq!(status, 500);
        assert_eq!(body, serde_json::json!({"error": "internal_error"}));
    }
}
