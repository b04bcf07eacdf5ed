//! Extra claims given at login come back with every access token of the session, after
//! rotations and grace replays too; the names the backends set themselves are refused.

mod common;

use std::time::Duration;

use auth_core::serde_json::{Value, json};
use auth_core::{
    ClientInfo, ExtraClaims, RESERVED_CLAIMS, RefreshOutcome, SessionPolicy, TokenError,
};
use common::{FLAVORS, harness, policy};

fn claims() -> ExtraClaims {
    let Value::Object(map) = json!({
        "role": "admin",
        "tenant": 7,
        "scopes": ["read", "write"],
        "profile": {"locale": "fr-CH"}
    }) else {
        unreachable!()
    };
    map
}

#[tokio::test]
async fn extra_claims_round_trip_through_issue_verify_and_refresh() {
    let policy = SessionPolicy {
        refresh_grace: Duration::from_secs(10),
        ..policy()
    };
    for &flavor in FLAVORS {
        let h = harness(flavor, policy).await;
        let issued = h
            .login_with(&h.user.id, &claims(), &ClientInfo::none())
            .await
            .unwrap();
        let seen = h
            .backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();
        assert_eq!(seen.extra_claims, claims(), "{flavor:?}");

        let next = h.rotate(&issued.pair.refresh_token).await;
        let seen = h
            .backend
            .verify_access(&next.pair.access_token)
            .await
            .unwrap();
        assert_eq!(seen.extra_claims, claims(), "{flavor:?} after rotation");

        let Ok(RefreshOutcome::Rotated {
            tokens,
            replayed: true,
            ..
        }) = h.backend.refresh(&issued.pair.refresh_token).await
        else {
            panic!("{flavor:?}: expected a replay");
        };
        let seen = h
            .backend
            .verify_access(&tokens.pair.access_token)
            .await
            .unwrap();
        assert_eq!(seen.extra_claims, claims(), "{flavor:?} after a replay");

        // None given: an empty map, and nothing stored.
        let plain = h.login(&h.user.id).await;
        let seen = h
            .backend
            .verify_access(&plain.pair.access_token)
            .await
            .unwrap();
        assert!(seen.extra_claims.is_empty());
        let stored = h.recording.sessions.lock().unwrap();
        assert!(stored.last().unwrap().claims.is_none());
        let with: Value = auth_core::serde_json::from_str(
            stored[0].claims.as_deref().expect("claims stored as JSON"),
        )
        .unwrap();
        assert_eq!(with, Value::Object(claims()));
    }
}

#[tokio::test]
async fn reserved_claim_names_are_refused() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        for name in RESERVED_CLAIMS {
            let mut bad = claims();
            bad.insert(name.to_owned(), json!("attacker"));
            assert_token_err!(
                flavor,
                h.login_with(&h.user.id, &bad, &ClientInfo::none()).await,
                TokenError::Invalid
            );
        }
        assert!(h.backend.sessions(&h.user.id).await.unwrap().is_empty());
    }
}

#[cfg(feature = "jwt")]
#[tokio::test]
async fn jwt_payload_carries_the_extra_claims() {
    use base64::Engine as _;
    let h = harness(common::Flavor::Jwt, policy()).await;
    let issued = h
        .login_with(&h.user.id, &claims(), &ClientInfo::none())
        .await
        .unwrap();
    let payload = issued.pair.access_token.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let Value::Object(payload) = auth_core::serde_json::from_slice(&payload).unwrap() else {
        panic!("not an object");
    };
    for (k, v) in claims() {
        assert_eq!(payload.get(&k), Some(&v));
    }
    assert_eq!(payload["sub"], json!(h.user.id.to_string()));
    assert_eq!(payload["sid"], json!(issued.session_id.to_hex()));
    assert_eq!(payload["iss"], json!("https://auth.test"));
    assert_eq!(payload["aud"], json!("api"));
    assert_eq!(
        payload["exp"],
        json!(issued.access_expires_at.unix_timestamp())
    );
    for name in ["iat", "nbf", "jti"] {
        assert!(payload.contains_key(name), "{name}");
    }
}

#[cfg(feature = "jwt")]
#[tokio::test]
async fn jwt_claims_too_large_for_a_token_are_refused_at_issue() {
    let h = harness(common::Flavor::Jwt, policy()).await;
    let mut big = ExtraClaims::new();
    big.insert(
        "blob".into(),
        json!("x".repeat(auth_core::MAX_TOKEN_LENGTH)),
    );
    assert_token_err!(
        h.flavor,
        h.login_with(&h.user.id, &big, &ClientInfo::none()).await,
        TokenError::Invalid
    );
    assert!(h.backend.sessions(&h.user.id).await.unwrap().is_empty());
}
