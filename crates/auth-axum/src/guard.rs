//! Guards: [`login_required`] (like the reference's decorator) and
//! [`ServiceAuthLayer`] for service-to-service calls.

use std::sync::Arc;
use std::task::{Context, Poll};

use auth_facade::{AuthService, ServicePrincipal};
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::Request;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::bearer::{Credentials, bearer, from_header};
use crate::error::ApiError;
use crate::layer::{Authentication, Refusal};

/// A guard layer that lets only authenticated requests through (it reads the
/// [`Authentication`] of [`AuthLayer`](crate::AuthLayer), which must run first, i.e. be
/// added after it with `.layer` or be an outer layer).
///
/// - [`login_required()`]: for APIs; refuses like [`CurrentUser`](crate::CurrentUser) (401
///   with a `WWW-Authenticate: Bearer` challenge, 403 for an inactive user).
/// - [`login_required_redirect("/login")`](login_required_redirect): for HTML pages;
///   answers `303 See Other` to the login page with `?next=<the original path and query,
///   URL-encoded>` (`&next=` if the login URL already has a query). An inactive user still
///   gets 403.
///
/// ```
/// use auth_axum::{AuthLayer, login_required, login_required_redirect};
/// use axum::{Router, routing::get};
///
/// fn app(auth: auth_facade::AuthService) -> Router {
///     let api = Router::new()
///         .route("/api/reports", get(|| async { "reports" }))
///         .route_layer(login_required());
///     let pages = Router::new()
///         .route("/account", get(|| async { "<h1>account</h1>" }))
///         .route_layer(login_required_redirect("/login"));
///     api.merge(pages).layer(AuthLayer::new(auth))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LoginRequiredLayer {
    redirect_to: Option<Arc<str>>,
}

/// A [`LoginRequiredLayer`] that answers 401 (see there).
pub fn login_required() -> LoginRequiredLayer {
    LoginRequiredLayer { redirect_to: None }
}

/// A [`LoginRequiredLayer`] that redirects to `login_url` (see there).
pub fn login_required_redirect(login_url: impl Into<String>) -> LoginRequiredLayer {
    LoginRequiredLayer {
        redirect_to: Some(Arc::from(login_url.into())),
    }
}

impl<S> Layer<S> for LoginRequiredLayer {
    type Service = LoginRequired<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoginRequired {
            inner,
            redirect_to: self.redirect_to.clone(),
        }
    }
}

/// The service of [`LoginRequiredLayer`].
#[derive(Debug, Clone)]
pub struct LoginRequired<S> {
    inner: S,
    redirect_to: Option<Arc<str>>,
}

impl<S, B> Service<Request<B>> for LoginRequired<S>
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

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let refused = match request.extensions().get::<Authentication>() {
            None => Some(ApiError::Misconfigured(
                "AuthLayer (login_required found no Authentication)",
            )),
            Some(auth) => auth.require().err(),
        };
        let Some(err) = refused else {
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            return Box::pin(async move { inner.call(request).await });
        };
        let inactive = matches!(
            request.extensions().get::<Authentication>(),
            Some(Authentication::Refused(Refusal::UserInactive))
        );
        let response = match &self.redirect_to {
            Some(login_url) if !matches!(err, ApiError::Misconfigured(_)) && !inactive => {
                redirect(login_url, &request)
            }
            _ => err.into_response(),
        };
        Box::pin(async move { Ok(response) })
    }
}

/// `303 See Other` to the login page, with the original path and query in `next`.
fn redirect<B>(login_url: &str, request: &Request<B>) -> Response {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri(), |OriginalUri(uri)| uri);
    let next = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let separator = if login_url.contains('?') { '&' } else { '?' };
    let location = format!("{login_url}{separator}next={}", url_encode(next));
    match HeaderValue::from_str(&location) {
        Ok(location) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => {
            ApiError::Misconfigured("a login URL that is a valid header value").into_response()
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A guard layer for service-to-service routes: the request must carry one of the
/// configured service tokens ([`ServiceTokens`](auth_facade::ServiceTokens), checked with
/// [`AuthService::authenticate_service`]); the accepted [`ServiceCaller`] is put in the
/// extensions.
///
/// The token is read from `Authorization: Bearer <token>` by default, or from a dedicated
/// header holding only the token ([`header`](Self::header), e.g. `X-Service-Token`), so
/// a route can take a user's bearer token and a service token at once. Without a token:
/// 401 with `WWW-Authenticate: Bearer realm="api"`; a wrong one: 401 `invalid_token`; a
/// malformed one: 400 `invalid_request`. It does not need [`AuthLayer`](crate::AuthLayer).
///
/// ```
/// use auth_axum::{ServiceAuthLayer, ServiceCaller};
/// use axum::{Router, routing::post};
///
/// fn internal(auth: auth_facade::AuthService) -> Router {
///     Router::new()
///         .route("/internal/purge", post(|ServiceCaller(caller): ServiceCaller| async move {
///             format!("purged for {}", caller.name.unwrap_or_default())
///         }))
///         .route_layer(ServiceAuthLayer::new(auth).header("x-service-token"))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceAuthLayer {
    auth: AuthService,
    header: Option<HeaderName>,
}

impl ServiceAuthLayer {
    /// Checks `Authorization: Bearer <token>` against `auth`'s service tokens.
    pub fn new(auth: AuthService) -> Self {
        Self { auth, header: None }
    }

    /// Reads the token from this header instead (the whole value is the token).
    ///
    /// # Panics
    /// If `name` is not a valid header name (a programming error, found at start-up).
    pub fn header(mut self, name: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        self.header = Some(name);
        self
    }
}

impl<S> Layer<S> for ServiceAuthLayer {
    type Service = ServiceAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServiceAuth {
            inner,
            auth: self.auth.clone(),
            header: self.header.clone(),
        }
    }
}

/// The service of [`ServiceAuthLayer`].
#[derive(Debug, Clone)]
pub struct ServiceAuth<S> {
    inner: S,
    auth: AuthService,
    header: Option<HeaderName>,
}

impl<S, B> Service<Request<B>> for ServiceAuth<S>
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let header = self.header.clone();
        Box::pin(async move {
            let credentials = match &header {
                Some(name) => from_header(request.headers(), name, false),
                None => bearer(request.headers()),
            };
            let token = match credentials {
                Credentials::Bearer(token) => token.to_owned(),
                Credentials::None | Credentials::OtherScheme => {
                    return Ok(ApiError::MissingCredentials.into_response());
                }
                Credentials::Malformed => {
                    return Ok(ApiError::MalformedCredentials.into_response());
                }
            };
            match auth.authenticate_service(&token).await {
                Ok(principal) => {
                    request.extensions_mut().insert(ServiceCaller(principal));
                    inner.call(request).await
                }
                Err(err) => Ok(ApiError::from(err).into_response()),
            }
        })
    }
}

/// The service that called, accepted by [`ServiceAuthLayer`] (500 without that layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCaller(pub ServicePrincipal);

impl<S: Send + Sync> FromRequestParts<S> for ServiceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ServiceCaller>()
            .cloned()
            .ok_or(ApiError::Misconfigured(
                "ServiceAuthLayer (no ServiceCaller)",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_fully_encoded() {
        assert_eq!(
            url_encode("/reports/2026?q=a b&x=é#f"),
            "%2Freports%2F2026%3Fq%3Da%20b%26x%3D%C3%A9%23f"
        );
        assert_eq!(url_encode("AZaz09-._~"), "AZaz09-._~");
    }
}
