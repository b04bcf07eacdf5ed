//! [`RateLimitLayer`]: a per-client-address limit for chosen routes.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::{AuthError, Clock, RateLimitDecision, RateLimitPolicy, RateLimiter, SystemClock};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::client::ClientIp;
use crate::error::ApiError;

/// A tower layer that counts every request it wraps per client address and answers
/// **429** `rate_limited` with `Retry-After` (seconds) once an address is over `policy`
/// (`max_attempts` per `window`, then refused for `lockout`).
///
/// It counts through a [`RateLimiter`]: the store's (one count shared by every instance
/// on the same database) or [`MemoryRateLimiter`](auth_core::MemoryRateLimiter) (one
/// instance only). Keys are a digest of the scope name and the address, so the limiter
/// never stores an address. A failing limiter fails closed: **503**. The address comes
/// from [`ClientIp`] (the connection by default); requests whose address is unknown (no
/// `ConnectInfo`) share one key, so a server not set up for addresses limits everyone
/// together rather than no one.
///
/// Apply it to the routes to protect: `.route("/signup", post(h).layer(...))`,
/// `.route_layer(...)` on a sub-router, or everywhere with [`paths`](Self::paths).
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use auth_axum::RateLimitLayer;
/// use auth_core::{MemoryRateLimiter, RateLimitPolicy};
/// use axum::{Router, routing::post};
///
/// let per_minute = RateLimitPolicy {
///     max_attempts: 10,
///     window: Duration::from_secs(60),
///     lockout: Duration::from_secs(60),
/// };
/// let limit = RateLimitLayer::new(Arc::new(MemoryRateLimiter::default()), per_minute)
///     .scope("signup");
/// let app: Router = Router::new().route("/signup", post(|| async { "ok" }).layer(limit));
/// ```
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<dyn RateLimiter>,
    policy: RateLimitPolicy,
    clock: Arc<dyn Clock>,
    scope: Arc<str>,
    client_ip: ClientIp,
    paths: Option<Arc<[String]>>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("policy", &self.policy)
            .field("scope", &self.scope)
            .field("client_ip", &self.client_ip)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// Limits each client address to `policy`, counted in `limiter`.
    pub fn new(limiter: Arc<dyn RateLimiter>, policy: RateLimitPolicy) -> Self {
        Self {
            limiter,
            policy,
            clock: Arc::new(SystemClock),
            scope: Arc::from("default"),
            client_ip: ClientIp::connection(),
            paths: None,
        }
    }

    /// Limits each client address to `policy`, counted in `auth`'s own limiter (the
    /// store's by default, so every instance of the service shares the counts) with
    /// `auth`'s clock.
    pub fn for_service(auth: &auth_facade::AuthService, policy: RateLimitPolicy) -> Self {
        let limiter = auth
            .rate_limiter()
            .cloned()
            .unwrap_or_else(|| Arc::new(auth_core::MemoryRateLimiter::default()));
        Self::new(limiter, policy).clock(auth.clock().clone())
    }

    /// Names this limit, so two layers on one limiter count separately (default
    /// `"default"`).
    pub fn scope(mut self, name: &str) -> Self {
        self.scope = Arc::from(name);
        self
    }

    /// The clock deciding windows and lockouts (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How the client address is found (default: the connection's peer).
    pub fn client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// Counts only requests to these exact paths (as the router sees them); the others
    /// pass uncounted. Default: every request through the layer.
    pub fn paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.paths = Some(paths.into_iter().map(Into::into).collect());
        self
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            config: self.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    config: RateLimitLayer,
}

impl<S, B> Service<Request<B>> for RateLimit<S>
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let counted = config
                .paths
                .as_ref()
                .is_none_or(|paths| paths.iter().any(|p| p == request.uri().path()));
            if counted {
                let ip = config
                    .client_ip
                    .resolve(request.extensions(), request.headers());
                if let Err(err) = config.check(ip).await {
                    return Ok(err.into_response());
                }
            }
            inner.call(request).await
        })
    }
}

impl RateLimitLayer {
    async fn check(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let address = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let key = key(&self.scope, &address);
        let decision = self
            .limiter
            .hit(&key, &self.policy, self.clock.now())
            .await
            .map_err(AuthError::Storage)?;
        match decision {
            RateLimitDecision::Allowed { .. } => Ok(()),
            RateLimitDecision::Limited { retry_after, .. } => {
                tracing::info!(scope = &*self.scope, "rate limited by RateLimitLayer");
                Err(AuthError::RateLimited { retry_after }.into())
            }
        }
    }
}

/// A short digest of the scope and the address: same length for every key, no address
/// stored.
fn key(scope: &str, address: &str) -> String {
    let mut h =
        blake3::Hasher::new_derive_key("tortoise-auth-rs 2026-11-28 axum rate limit key v1");
    h.update(scope.as_bytes());
    h.update(&[0]);
    h.update(address.as_bytes());
    format!("axum:{}", &h.finalize().to_hex()[..32])
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_short_separated_and_hide_the_address() {
        let a = super::key("login", "203.0.113.9");
        assert_eq!(a.len(), 37);
        assert!(!a.contains("203"));
        assert_ne!(a, super::key("signup", "203.0.113.9"));
        assert_ne!(a, super::key("login", "203.0.113.8"));
    }
}
