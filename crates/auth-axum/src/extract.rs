//! Extractors: [`CurrentUser`], [`CurrentSession`], [`MaybeUser`], [`JsonBody`].

use std::ops::Deref;
use std::sync::Arc;

use auth_core::{Authenticated, User};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, BodyError};
use crate::layer::Authentication;

fn authentication(parts: &Parts) -> Result<&Authentication, ApiError> {
    parts
        .extensions
        .get::<Authentication>()
        .ok_or(ApiError::Misconfigured(
            "AuthLayer (the extractor found no Authentication)",
        ))
}

/// The authenticated user; the route answers 401 without a valid bearer token.
///
/// Rejections ([`ApiError`]): no token, 401 with `WWW-Authenticate: Bearer realm="api"`
/// and no error code; a refused token, 401 with `error="invalid_token"` and a description
/// (body `invalid_token`, `token_expired` or `token_revoked`); an inactive user, 403. Needs
/// [`AuthLayer`](crate::AuthLayer) (500 without it).
///
/// `Option<CurrentUser>` is `None` only when no bearer token was sent (like [`MaybeUser`]).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentUser(authentication(parts)?.require()?.user.clone()))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let MaybeUser(user) =
            <MaybeUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(user.map(CurrentUser))
    }
}

/// The authenticated user with their session (its id, for "this device") and the
/// session's extra claims. Rejects like [`CurrentUser`].
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Arc<Authenticated>);

impl Deref for CurrentSession {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentSession(authentication(parts)?.require()?.clone()))
    }
}

/// The user if a bearer token was sent, `None` if none was (no `Authorization` header, or
/// another scheme). A token that was sent but refused is still rejected (401, or 403 for
/// an inactive user), so a client learns that it must refresh instead of silently getting
/// the anonymous answer. Needs [`AuthLayer`](crate::AuthLayer).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<User>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match authentication(parts)? {
            Authentication::Anonymous => Ok(MaybeUser(None)),
            other => Ok(MaybeUser(Some(other.require()?.user.clone()))),
        }
    }
}

/// axum's `Json` extractor with this crate's rejections: 400 `invalid_json`, 422
/// `invalid_body`, 415 `unsupported_media_type`, 413 `body_too_large`, each a JSON body
/// that never quotes the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::Body(body_error(&rejection))),
        }
    }
}

fn body_error(rejection: &JsonRejection) -> BodyError {
    match rejection {
        JsonRejection::JsonDataError(_) => BodyError::Shape,
        JsonRejection::JsonSyntaxError(_) => BodyError::Syntax,
        JsonRejection::MissingJsonContentType(_) => BodyError::ContentType,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => BodyError::TooLarge,
        _ => BodyError::Unreadable,
    }
}
