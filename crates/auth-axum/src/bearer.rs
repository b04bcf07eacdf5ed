//! Reading `Authorization: Bearer <token>` (RFC 6750 §2.1), strictly and without panics.

use axum::http::{HeaderMap, HeaderName, header};

/// What the `Authorization` header of a request holds, as far as bearer tokens go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credentials<'a> {
    /// No `Authorization` header.
    None,
    /// One header with another scheme (`Basic ...`, `Bearerx ...`): not ours, anonymous.
    OtherScheme,
    /// The `Bearer` scheme with a well-formed token (not checked yet).
    Bearer(&'a str),
    /// Unusable: two headers, `Bearer` with no token, a token with white space, control,
    /// non-ASCII or other characters outside RFC 6750's `b64token`.
    Malformed,
}

/// Reads the bearer token of `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Credentials<'_> {
    from_header(headers, &header::AUTHORIZATION, true)
}

/// Reads a token from `name`: with `scheme`, as `Bearer <token>`; without, the whole
/// value is the token (a dedicated header such as `X-Service-Token`).
pub(crate) fn from_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    scheme: bool,
) -> Credentials<'a> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Credentials::None;
    };
    if values.next().is_some() {
        return Credentials::Malformed;
    }
    let bytes = trim(value.as_bytes());
    let token = if scheme {
        let split = bytes
            .iter()
            .position(|b| *b == b' ' || *b == b'\t')
            .unwrap_or(bytes.len());
        let (name, rest) = bytes.split_at(split);
        if !name.eq_ignore_ascii_case(b"bearer") {
            return Credentials::OtherScheme;
        }
        trim(rest)
    } else {
        bytes
    };
    if token.is_empty() || !is_b64token(token) {
        return Credentials::Malformed;
    }
    // Every byte is ASCII (checked above), so this never fails.
    match std::str::from_utf8(token) {
        Ok(token) => Credentials::Bearer(token),
        Err(_) => Credentials::Malformed,
    }
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// RFC 6750 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body_end = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    body_end > 0
        && token[..body_end].iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn one(value: &[u8]) -> Credentials<'static> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(value).unwrap(),
        );
        let headers: &'static HeaderMap = Box::leak(Box::new(headers));
        bearer(headers)
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_spaces_around_the_token_are_allowed() {
        assert_eq!(one(b"Bearer tat_abc"), Credentials::Bearer("tat_abc"));
        assert_eq!(one(b"bearer tat_abc"), Credentials::Bearer("tat_abc"));
        assert_eq!(one(b"BEARER   tat_abc  "), Credentials::Bearer("tat_abc"));
        assert_eq!(one(b"Bearer\ttat_abc"), Credentials::Bearer("tat_abc"));
        assert_eq!(
            one(b"Bearer a.b-c_d~e+f/g=="),
            Credentials::Bearer("a.b-c_d~e+f/g==")
        );
    }

    #[test]
    fn other_schemes_are_anonymous() {
        for value in [
            &b"Basic dXNlcjpwdw=="[..],
            b"Bearerx tat_abc",
            b"Bearerx",
            b"Token x",
            b"\xffBearer x",
        ] {
            assert_eq!(one(value), Credentials::OtherScheme, "{value:?}");
        }
    }

    #[test]
    fn hostile_bearer_values_are_malformed() {
        for value in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer    ",
            b"Bearer a b",
            b"Bearer tat_\xff\xfe",
            b"Bearer t\tx",
            b"Bearer ====",
            b"Bearer a=b",
            b"Bearer a,b",
            b"Bearer \"quoted\"",
            b"Bearer realm=\"x\", token=\"y\"",
        ] {
            assert_eq!(one(value), Credentials::Malformed, "{value:?}");
        }
    }

    #[test]
    fn no_header_and_two_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), Credentials::None);
        headers.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(bearer(&headers), Credentials::Malformed);
    }

    #[test]
    fn a_dedicated_header_holds_the_token_alone() {
        let name = HeaderName::from_static("x-service-token");
        let mut headers = HeaderMap::new();
        headers.insert(name.clone(), HeaderValue::from_static(" svc_token-1 "));
        assert_eq!(
            from_header(&headers, &name, false),
            Credentials::Bearer("svc_token-1")
        );
        headers.insert(name.clone(), HeaderValue::from_static("Bearer svc"));
        assert_eq!(from_header(&headers, &name, false), Credentials::Malformed);
    }
}
