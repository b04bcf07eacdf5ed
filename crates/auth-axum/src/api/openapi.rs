//! The OpenAPI 3.1 document of the API, built from the same route table as the router.

use serde_json::{Map, Value, json};

use super::{BODY_LIMIT, RouteInfo, routes};

/// What an operation takes and answers.
struct Doc {
    summary: &'static str,
    bearer: bool,
    body: Option<&'static str>,
    responses: &'static [(u16, &'static str, Option<&'static str>)],
}

const AUTH: &[(u16, &str, Option<&str>)] = &[
    (
        401,
        "No valid bearer token (see WWW-Authenticate)",
        Some("Error"),
    ),
    (
        403,
        "The user is deactivated (`user_inactive`)",
        Some("Error"),
    ),
];

const BODY: &[(u16, &str, Option<&str>)] = &[
    (400, "Malformed JSON (`invalid_json`)", Some("Error")),
    (413, "Body over the limit (`body_too_large`)", Some("Error")),
    (
        415,
        "Not `application/json` (`unsupported_media_type`)",
        Some("Error"),
    ),
    (
        422,
        "A field is missing or has the wrong type (`invalid_body`), or a value is refused",
        Some("Error"),
    ),
];

const UNAVAILABLE: (u16, &str, Option<&str>) = (
    503,
    "Internal failure (`service_unavailable`); nothing more is said",
    Some("Error"),
);

fn doc(operation_id: &str) -> Doc {
    let d = |summary, bearer, body, responses| Doc {
        summary,
        bearer,
        body,
        responses,
    };
    match operation_id {
        "register" => d(
            "Create an account",
            false,
            Some("EmailPassword"),
            &[
                (201, "Created", Some("UserEnvelope")),
                (
                    409,
                    "The email is taken, in any letter case (`user_exists`)",
                    Some("Error"),
                ),
                (
                    422,
                    "`invalid_password` with every message, or `invalid_input`",
                    Some("Error"),
                ),
            ],
        ),
        "login" => d(
            "Log in: start a session",
            false,
            Some("EmailPassword"),
            &[
                (200, "Logged in", Some("Login")),
                (
                    401,
                    "Unknown email or wrong password, one answer (`invalid_credentials`)",
                    Some("Error"),
                ),
                (
                    429,
                    "Locked out (`rate_limited`); see Retry-After",
                    Some("Error"),
                ),
            ],
        ),
        "me" => d(
            "The authenticated user",
            true,
            None,
            &[(200, "The user", Some("User"))],
        ),
        "refresh" => d(
            "Rotate a refresh token for a new pair",
            false,
            Some("RefreshRequest"),
            &[
                (200, "A new pair", Some("Tokens")),
                (
                    401,
                    "`invalid_token`, `token_expired` or `token_revoked` (a spent token revokes its session)",
                    Some("Error"),
                ),
            ],
        ),
        "logout" => d(
            "End the session of the bearer token (an expired one too)",
            true,
            None,
            &[(204, "Logged out", None)],
        ),
        "logoutAll" => d(
            "End every session of the user",
            true,
            None,
            &[(204, "Logged out everywhere", None)],
        ),
        "listSessions" => d(
            "The user's active sessions, newest first",
            true,
            None,
            &[(
                200,
                "Sessions; `current` marks the caller's",
                Some("SessionList"),
            )],
        ),
        "revokeSession" => d(
            "End one of the user's sessions",
            true,
            None,
            &[
                (204, "Ended", None),
                (
                    404,
                    "Not an active session of the caller (`session_not_found`)",
                    Some("Error"),
                ),
            ],
        ),
        "changePassword" => d(
            "Change the password; the other sessions end",
            true,
            Some("PasswordChange"),
            &[
                (204, "Changed", None),
                (422, "`invalid_password` with every message", Some("Error")),
                (429, "Too many attempts (`rate_limited`)", Some("Error")),
            ],
        ),
        "requestPasswordReset" => d(
            "Send a reset link if the address has an account",
            false,
            Some("ResetRequest"),
            &[(202, "Always the same answer", Some("Accepted"))],
        ),
        "confirmPasswordReset" => d(
            "Set a new password with a reset token; every session ends",
            false,
            Some("ResetConfirm"),
            &[
                (204, "Password set", None),
                (
                    401,
                    "Unknown, spent or expired token (`invalid_token`)",
                    Some("Error"),
                ),
                (
                    422,
                    "`invalid_password` (the token stays usable)",
                    Some("Error"),
                ),
                (429, "Too many attempts (`rate_limited`)", Some("Error")),
            ],
        ),
        "requestVerification" => d(
            "Send an email verification link",
            true,
            None,
            &[
                (202, "Sent unless already verified", Some("Accepted")),
                (429, "Too many requests (`rate_limited`)", Some("Error")),
            ],
        ),
        "confirmVerification" => d(
            "Mark the email verified with a verification token",
            false,
            Some("TokenOnly"),
            &[
                (204, "Verified", None),
                (
                    401,
                    "Unknown, spent or expired token (`invalid_token`)",
                    Some("Error"),
                ),
            ],
        ),
        "openapi" => d("This document", false, None, &[(200, "OpenAPI 3.1", None)]),
        other => panic!("no OpenAPI description for operation `{other}`"),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn operation(info: &RouteInfo) -> Value {
    let d = doc(info.operation_id);
    let mut responses = Map::new();
    let mut add = |(status, description, schema): (u16, &str, Option<&str>)| {
        let key = status.to_string();
        if responses.contains_key(&key) {
            return;
        }
        let mut response = json!({ "description": description });
        if let Some(schema) = schema {
            response["content"] = json!({ "application/json": { "schema": schema_ref(schema) } });
        }
        if status == 429 {
            response["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds until the next attempt is allowed",
                    "schema": { "type": "integer", "minimum": 1 }
                }
            });
        }
        if status == 401 {
            response["headers"] = json!({
                "WWW-Authenticate": {
                    "description": "`Bearer realm=\"api\"`, with `error=\"invalid_token\"` and `error_description` when a token was refused",
                    "schema": { "type": "string" }
                }
            });
        }
        responses.insert(key, response);
    };
    for r in d.responses {
        add(*r);
    }
    if d.bearer {
        AUTH.iter().copied().for_each(&mut add);
        add((
            400,
            "Malformed Authorization header (`invalid_request`)",
            Some("Error"),
        ));
    }
    if d.body.is_some() {
        BODY.iter().copied().for_each(&mut add);
    }
    if info.operation_id != "openapi" {
        add(UNAVAILABLE);
    }
    let mut op = json!({
        "operationId": info.operation_id,
        "summary": d.summary,
        "tags": ["auth"],
        "responses": responses,
    });
    if d.bearer {
        op["security"] = json!([{ "bearerAuth": [] }]);
    }
    if let Some(body) = d.body {
        op["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema_ref(body) } }
        });
    }
    if info.path.contains("{id}") {
        op["parameters"] = json!([{
            "name": "id",
            "in": "path",
            "required": true,
            "description": "A session id (32 hex digits)",
            "schema": { "type": "string", "pattern": "^[0-9a-f]{32}$" }
        }]);
    }
    op
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn time(nullable: bool) -> Value {
    if nullable {
        json!({ "type": ["string", "null"], "format": "date-time" })
    } else {
        json!({ "type": "string", "format": "date-time" })
    }
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn schemas() -> Value {
    let user_id = json!({
        "description": "The application's primary key: an integer or a UUID",
        "oneOf": [{ "type": "integer", "format": "int64" }, { "type": "string", "format": "uuid" }]
    });
    let token_props = json!({
        "access_token": string(),
        "refresh_token": string(),
        "token_type": { "type": "string", "const": "Bearer" },
        "expires_in": { "type": "integer", "description": "Seconds until the access token expires" },
        "refresh_expires_in": { "type": "integer", "description": "Seconds until the refresh token expires" },
        "session_id": { "type": "string", "pattern": "^[0-9a-f]{32}$" }
    });
    let token_required = [
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "refresh_expires_in",
        "session_id",
    ];
    let mut login_props = token_props.clone();
    login_props["user"] = schema_ref("User");
    let mut login_required = token_required.to_vec();
    login_required.push("user");
    json!({
        "User": object(
            &["id", "email", "last_login", "is_active", "is_verified", "joined_at", "created_at", "updated_at"],
            json!({
                "id": user_id.clone(),
                "email": { "type": "string", "format": "email" },
                "last_login": time(true),
                "is_active": { "type": "boolean" },
                "is_verified": { "type": "boolean" },
                "joined_at": time(true),
                "created_at": time(false),
                "updated_at": time(false)
            })
        ),
        "UserEnvelope": object(&["user"], json!({ "user": schema_ref("User") })),
        "Tokens": object(&token_required, token_props),
        "Login": object(&login_required, login_props),
        "Session": object(
            &["id", "user_id", "created_at", "refreshed_at", "expires_at", "absolute_expires_at", "ip", "user_agent", "current"],
            json!({
                "id": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
                "user_id": user_id,
                "created_at": time(false),
                "refreshed_at": time(true),
                "expires_at": time(false),
                "absolute_expires_at": time(false),
                "ip": { "type": ["string", "null"] },
                "user_agent": { "type": ["string", "null"] },
                "current": { "type": "boolean", "description": "True for the session of the calling token" }
            })
        ),
        "SessionList": { "type": "array", "items": schema_ref("Session") },
        "Accepted": object(&["message"], json!({ "message": string() })),
        "Error": object(&["error"], json!({
            "error": { "type": "string", "description": "A stable code: invalid_credentials, invalid_token, token_expired, token_revoked, user_inactive, user_exists, invalid_password, invalid_input, rate_limited, session_not_found, user_not_found, invalid_request, unauthorized, invalid_json, invalid_body, body_too_large, unsupported_media_type, service_unavailable, internal_error" },
            "message": string(),
            "messages": { "type": "array", "items": string(), "description": "invalid_password: every failed rule" },
            "retry_after": { "type": "integer", "description": "rate_limited: seconds, as Retry-After" }
        })),
        "EmailPassword": object(&["email", "password"], json!({ "email": string(), "password": { "type": "string", "format": "password" } })),
        "RefreshRequest": object(&["refresh_token"], json!({ "refresh_token": string() })),
        "PasswordChange": object(&["current_password", "new_password"], json!({
            "current_password": { "type": "string", "format": "password" },
            "new_password": { "type": "string", "format": "password" }
        })),
        "ResetRequest": object(&["email"], json!({ "email": string() })),
        "ResetConfirm": object(&["token", "new_password"], json!({
            "token": string(),
            "new_password": { "type": "string", "format": "password" }
        })),
        "TokenOnly": object(&["token"], json!({ "token": string() }))
    })
}

/// The OpenAPI 3.1 document of every route of [`router`](super::router), served at
/// `GET /auth/openapi.json`. Paths and methods come from the same table as the router
/// ([`routes`]), so they cannot drift apart.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for info in routes() {
        let item = paths
            .entry(info.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[info.method.as_str().to_ascii_lowercase()] = operation(&info);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tortoise-auth API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Authentication endpoints mounted by auth_axum::api::router. Every response carries Cache-Control: no-store. Request bodies are JSON of at most {BODY_LIMIT} bytes."
            )
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": { "type": "http", "scheme": "bearer", "description": "An access token from login or refresh, as `Authorization: Bearer <token>`" }
            },
            "schemas": schemas()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ref_resolves_and_every_operation_answers_something() {
        let doc = openapi();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
        for info in routes() {
            let op = &doc["paths"][info.path][info.method.as_str().to_ascii_lowercase()];
            assert_eq!(op["operationId"], info.operation_id);
            assert!(!op["responses"].as_object().unwrap().is_empty());
        }
    }
}
