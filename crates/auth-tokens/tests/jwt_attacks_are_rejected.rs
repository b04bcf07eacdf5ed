//! T9: every JWT attack of the checklist is refused as `Invalid` (or `Expired` for an
//! expired token), before the session is read. A control token re-signed with the real
//! key proves the forging helpers are right, so each refusal is due to the attack.
#![cfg(feature = "jwt")]

mod common;

use std::time::Duration;

use auth_core::serde_json::{self, Value, json};
use auth_core::{Clock, TokenError};
use auth_tokens::JwtConfig;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{HMAC_SECRET, Harness, jwt_harness, policy, secs};
use jsonwebtoken::{Algorithm, EncodingKey};

const RSA: &str = include_str!("keys/rsa2048.pem");
const RSA_PUB: &str = include_str!("keys/rsa2048.pub.pem");
const RSA_OTHER: &str = include_str!("keys/rsa2048-other.pem");
const ED: &str = include_str!("keys/ed25519.pem");
const ED_PUB: &str = include_str!("keys/ed25519.pub.pem");
const ED_OTHER: &str = include_str!("keys/ed25519-other.pem");
const ATTACKER_SECRET: &[u8] = b"attacker-controlled-hmac-key-0123456789abcdef";

fn part(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}", part(header), part(claims))
}

fn signed(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = unsigned(header, claims);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn decode_part(token: &str, i: usize) -> Value {
    let raw = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).unwrap())
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

fn our_hmac() -> EncodingKey {
    EncodingKey::from_secret(HMAC_SECRET)
}

fn hs256_header() -> Value {
    json!({"alg": "HS256", "typ": "at+jwt"})
}

/// An HS256 backend (iss and aud configured), a genuine token and its claims.
async fn hs256() -> (Harness, String, Value) {
    let h = jwt_harness(
        JwtConfig::hs256(HMAC_SECRET.to_vec())
            .issuer("https://auth.test")
            .audience("api")
            .build()
            .unwrap(),
        policy(),
    )
    .await;
    let token = h.login(&h.user.id).await.pair.access_token;
    let claims = decode_part(&token, 1);
    (h, token, claims)
}

/// Asserts that `token` is refused with `Invalid` and that no session was read for it.
async fn refused(h: &Harness, token: &str, what: &str) {
    let reads = h.recording.counts.reads();
    let result = h.backend.verify_access(token).await;
    assert!(
        matches!(result, Err(TokenError::Invalid)),
        "{what}: {result:?}"
    );
    let result = h.backend.logout(token).await;
    assert!(
        matches!(result, Err(TokenError::Invalid)),
        "{what} (logout): {result:?}"
    );
    assert_eq!(h.recording.counts.reads(), reads, "{what}: no session read");
}

async fn accepted(h: &Harness, token: &str, what: &str) {
    let result = h.backend.verify_access(token).await;
    assert!(result.is_ok(), "{what}: {result:?}");
}

#[tokio::test]
async fn control_a_resigned_genuine_token_is_accepted() {
    let (h, token, claims) = hs256().await;
    accepted(&h, &token, "genuine").await;
    let resigned = signed(&hs256_header(), &claims, &our_hmac(), Algorithm::HS256);
    accepted(&h, &resigned, "re-signed with our key").await;
    // `typ` in the media-type form is the same type.
    let header = json!({"alg": "HS256", "typ": "application/AT+JWT"});
    accepted(
        &h,
        &signed(&header, &claims, &our_hmac(), Algorithm::HS256),
        "typ form",
    )
    .await;
}

#[tokio::test]
async fn alg_none_is_rejected_with_and_without_signature() {
    let (h, token, claims) = hs256().await;
    let original_signature = token.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "at+jwt"});
        let bare = unsigned(&header, &claims);
        refused(
            &h,
            &format!("{bare}."),
            &format!("alg {alg:?}, no signature"),
        )
        .await;
        refused(&h, &bare, &format!("alg {alg:?}, two segments")).await;
        refused(
            &h,
            &format!("{bare}.{original_signature}"),
            &format!("alg {alg:?}, a real signature"),
        )
        .await;
    }
    let no_alg = json!({"typ": "at+jwt"});
    refused(&h, &format!("{}.", unsigned(&no_alg, &claims)), "no alg").await;
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected_by_an_rs256_verifier() {
    let h = jwt_harness(
        JwtConfig::rs256_pem(RSA, RSA_PUB).build().unwrap(),
        policy(),
    )
    .await;
    let token = h.login(&h.user.id).await.pair.access_token;
    accepted(&h, &token, "genuine RS256").await;
    let claims = decode_part(&token, 1);
    // The classic confusion: the public key (known to everyone) as an HMAC secret.
    for secret in [RSA_PUB.as_bytes(), RSA_PUB.trim_end().as_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let header = json!({"alg": format!("{alg:?}"), "typ": "at+jwt"});
            let forged = signed(&header, &claims, &EncodingKey::from_secret(secret), alg);
            refused(&h, &forged, &format!("{alg:?} with the public key")).await;
        }
    }
    // The same confusion against the Ed25519 public key.
    let h = jwt_harness(JwtConfig::eddsa_pem(ED, ED_PUB).build().unwrap(), policy()).await;
    let token = h.login(&h.user.id).await.pair.access_token;
    let claims = decode_part(&token, 1);
    let forged = signed(
        &json!({"alg": "HS256", "typ": "at+jwt"}),
        &claims,
        &EncodingKey::from_secret(ED_PUB.as_bytes()),
        Algorithm::HS256,
    );
    refused(&h, &forged, "HS256 with the Ed25519 public key").await;
}

#[tokio::test]
async fn an_algorithm_other_than_the_configured_one_is_rejected() {
    let (h, _, claims) = hs256().await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let header = json!({"alg": format!("{alg:?}"), "typ": "at+jwt"});
        let forged = signed(&header, &claims, &our_hmac(), alg);
        refused(&h, &forged, &format!("{alg:?} with our own secret")).await;
    }
    let rsa = EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap();
    for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::PS256] {
        let header = json!({"alg": format!("{alg:?}"), "typ": "at+jwt"});
        refused(
            &h,
            &signed(&header, &claims, &rsa, alg),
            &format!("{alg:?}"),
        )
        .await;
    }
    let ed = EncodingKey::from_ed_pem(ED.as_bytes()).unwrap();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt"});
    refused(
        &h,
        &signed(&header, &claims, &ed, Algorithm::EdDSA),
        "EdDSA",
    )
    .await;
    for alg in ["HS1", "RS1", "ES512", "hs256", "HS256 ", "A128KW", "dir"] {
        let header = json!({"alg": alg, "typ": "at+jwt"});
        let forged = format!("{}.AAAA", unsigned(&header, &claims));
        refused(&h, &forged, &format!("unknown alg {alg:?}")).await;
    }
    // An RS256 verifier refuses an RS384 or PS256 token made with its own private key.
    let h = jwt_harness(
        JwtConfig::rs256_pem(RSA, RSA_PUB).build().unwrap(),
        policy(),
    )
    .await;
    let claims = decode_part(&h.login(&h.user.id).await.pair.access_token, 1);
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let header = json!({"alg": format!("{alg:?}"), "typ": "at+jwt"});
        refused(
            &h,
            &signed(&header, &claims, &rsa, alg),
            &format!("RS256 vs {alg:?}"),
        )
        .await;
    }
}

#[tokio::test]
async fn key_headers_pointing_elsewhere_are_ignored_and_fail() {
    let (h, _, claims) = hs256().await;
    let attacker = EncodingKey::from_secret(ATTACKER_SECRET);
    let k = URL_SAFE_NO_PAD.encode(ATTACKER_SECRET);
    let headers = [
        json!({"alg": "HS256", "typ": "at+jwt", "jwk": {"kty": "oct", "k": k}}),
        json!({"alg": "HS256", "typ": "at+jwt", "jku": "https://attacker.example/jwks.json"}),
        json!({"alg": "HS256", "typ": "at+jwt", "x5u": "https://attacker.example/cert.pem"}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "attacker"}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "../../../../dev/null"}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "' OR '1'='1'--"}),
    ];
    for header in &headers {
        let forged = signed(header, &claims, &attacker, Algorithm::HS256);
        refused(&h, &forged, &header.to_string()).await;
    }
    // Signed with the real key, a header we never write still marks a foreign token.
    let foreign = [
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "unknown-kid"}),
        json!({"alg": "HS256", "typ": "at+jwt", "crit": ["exp"]}),
        json!({"alg": "HS256", "typ": "at+jwt", "b64": false}),
        json!({"alg": "HS256", "typ": "at+jwt", "cty": "JWT"}),
    ];
    for header in &foreign {
        let forged = signed(header, &claims, &our_hmac(), Algorithm::HS256);
        refused(&h, &forged, &header.to_string()).await;
    }
    // An RS256 verifier and an attacker's RSA key named in the header.
    let h = jwt_harness(
        JwtConfig::rs256_pem(RSA, RSA_PUB).build().unwrap(),
        policy(),
    )
    .await;
    let claims = decode_part(&h.login(&h.user.id).await.pair.access_token, 1);
    let theirs = EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap();
    for extra in [
        json!({"jku": "https://attacker.example/jwks.json"}),
        json!({"x5u": "https://attacker.example/cert.pem"}),
        json!({"kid": "attacker"}),
        json!({}),
    ] {
        let mut header = json!({"alg": "RS256", "typ": "at+jwt"});
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let forged = signed(&header, &claims, &theirs, Algorithm::RS256);
        refused(&h, &forged, &format!("attacker RSA key, {extra}")).await;
    }
    // And an Ed25519 verifier with an attacker's Ed25519 key.
    let h = jwt_harness(JwtConfig::eddsa_pem(ED, ED_PUB).build().unwrap(), policy()).await;
    let claims = decode_part(&h.login(&h.user.id).await.pair.access_token, 1);
    let theirs = EncodingKey::from_ed_pem(ED_OTHER.as_bytes()).unwrap();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt"});
    refused(
        &h,
        &signed(&header, &claims, &theirs, Algorithm::EdDSA),
        "attacker Ed25519",
    )
    .await;
}

fn without(claims: &Value, name: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove(name);
    c
}

fn with(claims: &Value, name: &str, value: Value) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().unwrap().insert(name.to_owned(), value);
    c
}

#[tokio::test]
async fn missing_or_malformed_registered_claims_are_rejected() {
    let (h, _, claims) = hs256().await;
    let sign = |c: &Value| signed(&hs256_header(), c, &our_hmac(), Algorithm::HS256);
    for name in ["exp", "sub", "sid", "iat", "nbf", "jti", "iss", "aud"] {
        refused(
            &h,
            &sign(&without(&claims, name)),
            &format!("missing {name}"),
        )
        .await;
    }
    let exp = claims["exp"].as_i64().unwrap();
    let bad = [
        ("exp", json!(exp.to_string())),
        ("exp", json!(exp as f64 + 0.5)),
        ("exp", Value::Null),
        ("sub", json!("not-a-number")),
        ("sub", json!(1)),
        ("sid", json!("zz")),
        ("sid", json!("AB".repeat(16))),
        ("aud", json!(["api", "other"])),
    ];
    for (name, value) in bad {
        refused(
            &h,
            &sign(&with(&claims, name, value.clone())),
            &format!("{name} = {value}"),
        )
        .await;
    }
}

#[tokio::test]
async fn expired_beyond_the_leeway_is_rejected() {
    let h = jwt_harness(
        JwtConfig::hs256(HMAC_SECRET.to_vec())
            .leeway(Duration::from_secs(5))
            .build()
            .unwrap(),
        policy(),
    )
    .await;
    let issued = h.login(&h.user.id).await;
    let exp = issued.access_expires_at;
    h.clock.set(exp + secs(4));
    h.backend
        .verify_access(&issued.pair.access_token)
        .await
        .unwrap();
    h.clock.set(exp + secs(5));
    assert_token_err!(
        h.flavor,
        h.backend.verify_access(&issued.pair.access_token).await,
        TokenError::Expired
    );
    // F5: exp = now - (leeway + 1), freshly signed.
    let claims = decode_part(&issued.pair.access_token, 1);
    let now = h.clock.now().unix_timestamp();
    let stale = with(&claims, "exp", json!(now - 6));
    let header = json!({"alg": "HS256", "typ": "at+jwt"});
    let token = signed(&header, &stale, &our_hmac(), Algorithm::HS256);
    assert_token_err!(
        h.flavor,
        h.backend.verify_access(&token).await,
        TokenError::Expired
    );
}

#[tokio::test]
async fn nbf_or_iat_in_the_future_is_rejected() {
    let (h, _, claims) = hs256().await;
    let now = h.clock.now().unix_timestamp();
    let sign = |c: &Value| signed(&hs256_header(), c, &our_hmac(), Algorithm::HS256);
    refused(
        &h,
        &sign(&with(&claims, "nbf", json!(now + 1))),
        "nbf + 1 s",
    )
    .await;
    refused(
        &h,
        &sign(&with(&claims, "nbf", json!(now + 3600))),
        "nbf + 1 h",
    )
    .await;
    refused(
        &h,
        &sign(&with(&claims, "iat", json!(now + 3600))),
        "iat + 1 h",
    )
    .await;
    accepted(&h, &sign(&with(&claims, "nbf", json!(now))), "nbf = now").await;
}

#[tokio::test]
async fn wrong_iss_or_aud_is_rejected() {
    let (h, _, claims) = hs256().await;
    let sign = |c: &Value| signed(&hs256_header(), c, &our_hmac(), Algorithm::HS256);
    for (name, value) in [
        ("iss", json!("https://evil.example")),
        ("iss", json!("https://auth.test/")),
        ("iss", json!(["https://auth.test"])),
        ("aud", json!("other-api")),
        ("aud", json!("API")),
        ("aud", json!(["other"])),
    ] {
        refused(
            &h,
            &sign(&with(&claims, name, value.clone())),
            &format!("{name} = {value}"),
        )
        .await;
    }
    // A backend without iss/aud refuses tokens that carry them.
    let plain = jwt_harness(
        JwtConfig::hs256(HMAC_SECRET.to_vec()).build().unwrap(),
        policy(),
    )
    .await;
    refused(&plain, &sign(&claims), "iss and aud not configured").await;
}

#[tokio::test]
async fn wrong_typ_is_rejected() {
    let (h, _, claims) = hs256().await;
    for header in [
        json!({"alg": "HS256"}),
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"alg": "HS256", "typ": "rt+jwt"}),
        json!({"alg": "HS256", "typ": "application/jwt"}),
        json!({"alg": "HS256", "typ": ""}),
        json!({"alg": "HS256", "typ": 1}),
    ] {
        let forged = signed(&header, &claims, &our_hmac(), Algorithm::HS256);
        refused(&h, &forged, &header.to_string()).await;
    }
}

#[tokio::test]
async fn tampered_payload_or_signature_is_rejected() {
    let (h, token, claims) = hs256().await;
    let segments: Vec<&str> = token.split('.').collect();
    let (header, payload, signature) = (segments[0], segments[1], segments[2]);
    // Another user, same signature.
    let other = with(&claims, "sub", json!("2"));
    refused(
        &h,
        &format!("{header}.{}.{signature}", part(&other)),
        "sub changed",
    )
    .await;
    let later = with(
        &claims,
        "exp",
        json!(claims["exp"].as_i64().unwrap() + 86_400),
    );
    refused(
        &h,
        &format!("{header}.{}.{signature}", part(&later)),
        "exp extended",
    )
    .await;
    // One character of the signature.
    let mut sig: Vec<u8> = signature.bytes().collect();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let sig = String::from_utf8(sig).unwrap();
    refused(
        &h,
        &format!("{header}.{payload}.{sig}"),
        "signature changed",
    )
    .await;
    refused(&h, &format!("{header}.{payload}."), "signature dropped").await;
    refused(&h, &format!("{header}.{payload}"), "two segments").await;
    refused(
        &h,
        &format!("{header}.{payload}.{}", &signature[..10]),
        "signature cut",
    )
    .await;
    refused(&h, &format!("{token}.{signature}"), "four segments").await;
    refused(
        &h,
        &format!("{header}.{payload}.{signature}="),
        "padding added",
    )
    .await;
    refused(&h, &format!(" {token}"), "leading space").await;
    refused(&h, &token.to_uppercase(), "case changed").await;
    refused(&h, &format!("{token}{}", "A".repeat(5000)), "over-long").await;
    refused(&h, "", "empty").await;
    refused(&h, "..", "dots").await;
    // The genuine token still works.
    accepted(&h, &token, "genuine").await;
}

#[tokio::test]
async fn an_all_zero_es256_style_signature_is_rejected() {
    let zeros = URL_SAFE_NO_PAD.encode([0u8; 64]);
    let (h, _, claims) = hs256().await;
    for alg in ["ES256", "HS256"] {
        let header = json!({"alg": alg, "typ": "at+jwt"});
        refused(&h, &format!("{}.{zeros}", unsigned(&header, &claims)), alg).await;
    }
    for (config, alg) in [
        (JwtConfig::eddsa_pem(ED, ED_PUB), "EdDSA"),
        (JwtConfig::rs256_pem(RSA, RSA_PUB), "RS256"),
    ] {
        let h = jwt_harness(config.build().unwrap(), policy()).await;
        let claims = decode_part(&h.login(&h.user.id).await.pair.access_token, 1);
        for alg in ["ES256", alg] {
            let header = json!({"alg": alg, "typ": "at+jwt"});
            refused(&h, &format!("{}.{zeros}", unsigned(&header, &claims)), alg).await;
        }
    }
}

#[tokio::test]
async fn a_session_of_another_user_is_rejected() {
    let (h, _, claims) = hs256().await;
    let bob = h.other_user("bob@example.com").await;
    // A genuine signature over alice's session id with bob's id: the session says alice.
    let forged = signed(
        &hs256_header(),
        &with(&claims, "sub", json!(bob.id.to_string())),
        &our_hmac(),
        Algorithm::HS256,
    );
    let result = h.backend.verify_access(&forged).await;
    assert!(matches!(result, Err(TokenError::Invalid)), "{result:?}");
}
