//! [`AuthLayer`]: authenticates the bearer token of every request, once, and records the
//! outcome ([`Authentication`]) in the request extensions.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::{AuthError, Authenticated, MAX_TOKEN_LENGTH, TokenError, User};
use auth_facade::AuthService;
use axum::http::HeaderMap;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::bearer::{Credentials, bearer};
use crate::error::ApiError;

/// What [`AuthLayer`] found, in the request extensions of every request it lets through.
///
/// Extractors ([`CurrentUser`](crate::CurrentUser), [`MaybeUser`](crate::MaybeUser), ...)
/// and guards read it; handlers may too (`Extension<Authentication>`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Authentication {
    /// No bearer credentials: no `Authorization` header, or one with another scheme.
    Anonymous,
    /// A valid access token of an active user.
    Authenticated(Arc<Authenticated>),
    /// A bearer token was presented and refused.
    Refused(Refusal),
}

/// Why a presented bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Unknown, malformed, tampered with, of the wrong type, or too long.
    Invalid,
    /// Valid once, expired now.
    Expired,
    /// Its session was ended (logout, password change, reuse detection, ...).
    Revoked,
    /// Its user is deactivated.
    UserInactive,
}

impl Refusal {
    /// The service error this refusal stands for (mapped by [`ApiError`]).
    pub fn to_error(self) -> AuthError {
        match self {
            Refusal::Invalid => TokenError::Invalid.into(),
            Refusal::Expired => TokenError::Expired.into(),
            Refusal::Revoked => TokenError::Revoked.into(),
            Refusal::UserInactive => AuthError::UserInactive,
        }
    }
}

impl Authentication {
    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Authentication::Authenticated(a) => Some(&a.user),
            _ => None,
        }
    }

    /// True when a valid access token was presented.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Authentication::Authenticated(_))
    }

    /// The authenticated session, or the rejection a protected route answers with:
    /// [`ApiError::MissingCredentials`] without a token, the refusal's error otherwise.
    pub fn require(&self) -> Result<&Arc<Authenticated>, ApiError> {
        match self {
            Authentication::Authenticated(a) => Ok(a),
            Authentication::Anonymous => Err(ApiError::MissingCredentials),
            Authentication::Refused(r) => Err(ApiError::Auth(r.to_error())),
        }
    }
}

/// A tower layer that authenticates `Authorization: Bearer <token>` once per request
/// with [`AuthService::authenticate_session`] and inserts an [`Authentication`] into the
/// request extensions.
///
/// | request | outcome |
/// | --- | --- |
/// | no `Authorization`, or another scheme (`Basic ...`, `Bearerx ...`) | [`Authentication::Anonymous`] |
/// | `Bearer <token>` (scheme in any letter case), token valid | [`Authentication::Authenticated`] |
/// | token refused (invalid, expired, revoked, over 4096 characters, inactive user) | [`Authentication::Refused`]: protected routes answer 401 (403 for an inactive user), public routes go on anonymously |
/// | two `Authorization` headers, `Bearer` with no token, a token with white space, control, non-ASCII or non-`b64token` characters | **400** `invalid_request` at once, on every route |
/// | the token check fails inside (storage down, a panic) | **503** `service_unavailable` at once: the request is never authenticated and never reaches the handler |
///
/// Tokens in the query string (`?access_token=`) are never read. If an outer
/// `AuthLayer` already authenticated the request, an inner one does nothing.
///
/// ```
/// use auth_axum::{AuthLayer, CurrentUser};
/// use axum::{Router, routing::get};
///
/// fn app(auth: auth_facade::AuthService) -> Router {
///     Router::new()
///         .route("/hello", get(|CurrentUser(user): CurrentUser| async move { user.email }))
///         .layer(AuthLayer::new(auth))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: AuthService,
}

impl AuthLayer {
    /// A layer authenticating with `auth`.
    pub fn new(auth: AuthService) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthMiddleware {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthMiddleware<S> {
    inner: S,
    auth: AuthService,
}

impl<S, B> Service<Request<B>> for AuthMiddleware<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            if request.extensions().get::<Authentication>().is_none() {
                warn_on_query_token(&request);
                match authenticate(&auth, request.headers()).await {
                    Ok(outcome) => {
                        request.extensions_mut().insert(outcome);
                    }
                    Err(err) => return Ok(err.into_response()),
                }
            }
            inner.call(request).await
        })
    }
}

/// The one authentication of a request: the outcome, or the error that stops it here.
async fn authenticate(auth: &AuthService, headers: &HeaderMap) -> Result<Authentication, ApiError> {
    let token = match bearer(headers) {
        Credentials::None | Credentials::OtherScheme => return Ok(Authentication::Anonymous),
        Credentials::Malformed => return Err(ApiError::MalformedCredentials),
        Credentials::Bearer(token) if token.len() > MAX_TOKEN_LENGTH => {
            return Ok(Authentication::Refused(Refusal::Invalid));
        }
        Credentials::Bearer(token) => token,
    };
    let checked = AssertUnwindSafe(auth.authenticate_session(token))
        .catch_unwind()
        .await;
    let result = match checked {
        Ok(result) => result,
        Err(_panic) => {
            // The payload is not logged: it could quote the token.
            return Err(AuthError::internal("the token check panicked").into());
        }
    };
    match result {
        Ok(authenticated) => Ok(Authentication::Authenticated(Arc::new(authenticated))),
        Err(err) if err.is_internal() => Err(err.into()),
        Err(AuthError::Token(TokenError::Expired)) => Ok(Authentication::Refused(Refusal::Expired)),
        Err(AuthError::Token(TokenError::Revoked)) => Ok(Authentication::Refused(Refusal::Revoked)),
        Err(AuthError::UserInactive) => Ok(Authentication::Refused(Refusal::UserInactive)),
        Err(AuthError::Token(TokenError::Invalid) | AuthError::InvalidInput(_)) => {
            Ok(Authentication::Refused(Refusal::Invalid))
        }
        // Anything else from a token check is unexpected: fail closed.
        Err(err) => Err(ApiError::Auth(AuthError::Internal {
            context: "unexpected error from the token check",
            source: Some(Box::new(err)),
        })),
    }
}

/// RFC 6750 §2.3 tokens in the URL are never used; say so in the log (without the value)
/// so a misbehaving client is found.
fn warn_on_query_token<B>(request: &Request<B>) {
    let Some(query) = request.uri().query() else {
        return;
    };
    if query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
    {
        tracing::warn!(
            "access_token in the query string ignored: send it in the Authorization header"
        );
    }
}
