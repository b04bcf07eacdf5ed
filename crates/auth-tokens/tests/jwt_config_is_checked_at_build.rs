//! T9.12 and "bad config fails at build time": an HMAC key under 32 bytes (or a
//! placeholder), unparsable or mismatched PEM keys, an RSA key under 2048 bits, a leeway
//! over 60 s and a bad `typ` are refused when the configuration is built. Each supported
//! algorithm round-trips, and a token is accepted only with the exact algorithm and key.
#![cfg(feature = "jwt")]

mod common;

use std::time::Duration;

use auth_core::{ConfigError, TokenError};
use auth_tokens::{JwtAlgorithm, JwtConfig, RevocationMode};
use common::{HMAC_SECRET, jwt_harness, policy};

const RSA: &str = include_str!("keys/rsa2048.pem");
const RSA_PUB: &str = include_str!("keys/rsa2048.pub.pem");
const RSA_OTHER_PUB: &str = include_str!("keys/rsa2048-other.pub.pem");
const RSA_1024: &str = include_str!("keys/rsa1024.pem");
const RSA_1024_PUB: &str = include_str!("keys/rsa1024.pub.pem");
const ED: &str = include_str!("keys/ed25519.pem");
const ED_PUB: &str = include_str!("keys/ed25519.pub.pem");
const ED_OTHER_PUB: &str = include_str!("keys/ed25519-other.pub.pem");

#[test]
fn hmac_keys_under_32_bytes_are_refused_at_build() {
    for len in [0, 1, 16, 31] {
        let secret = b"k8Jq2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4jK"[..len].to_vec();
        for build in [JwtConfig::hs256, JwtConfig::hs384, JwtConfig::hs512] {
            let err = build(secret.clone()).build().unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::SigningSecretTooShort { .. } | ConfigError::MissingSigningSecret
                ),
                "{len}: {err:?}"
            );
        }
    }
    assert!(JwtConfig::hs256(HMAC_SECRET[..32].to_vec()).build().is_ok());
}

#[test]
fn placeholder_hmac_keys_are_refused_at_build() {
    for secret in [
        "change-me-in-production-change-me-in-production",
        &"a".repeat(64),
        "my-super-secret-key-for-jwt-tokens-0123456789",
    ] {
        assert!(
            matches!(
                JwtConfig::hs256(secret.as_bytes().to_vec()).build(),
                Err(ConfigError::PlaceholderSigningSecret)
            ),
            "{secret}"
        );
    }
}

#[test]
fn bad_pem_keys_are_refused_at_build() {
    let invalid = |r: Result<JwtConfig, ConfigError>| {
        assert!(matches!(r, Err(ConfigError::Invalid { .. })), "{r:?}");
    };
    invalid(JwtConfig::rs256_pem("not a key", RSA_PUB).build());
    invalid(JwtConfig::rs256_pem(RSA, "not a key").build());
    // An Ed25519 key is not an RSA key, and the reverse.
    invalid(JwtConfig::rs256_pem(ED, ED_PUB).build());
    invalid(JwtConfig::eddsa_pem(RSA, RSA_PUB).build());
    // A public key that is not the private key's.
    invalid(JwtConfig::rs256_pem(RSA, RSA_OTHER_PUB).build());
    invalid(JwtConfig::eddsa_pem(ED, ED_OTHER_PUB).build());
    // Too small.
    invalid(JwtConfig::rs256_pem(RSA_1024, RSA_1024_PUB).build());
}

#[test]
fn leeway_and_typ_are_bounded() {
    let with = |b: auth_tokens::JwtConfigBuilder| b.build();
    assert!(with(JwtConfig::hs256(HMAC_SECRET.to_vec()).leeway(Duration::from_secs(60))).is_ok());
    assert!(matches!(
        with(JwtConfig::hs256(HMAC_SECRET.to_vec()).leeway(Duration::from_secs(61))),
        Err(ConfigError::Invalid {
            setting: "jwt_leeway",
            ..
        })
    ));
    for typ in ["", "a b", "x\u{301}", &"t".repeat(65)] {
        assert!(matches!(
            with(JwtConfig::hs256(HMAC_SECRET.to_vec()).typ(typ)),
            Err(ConfigError::Invalid {
                setting: "jwt_typ",
                ..
            })
        ));
    }
    assert!(matches!(
        with(JwtConfig::hs256(HMAC_SECRET.to_vec()).issuer(" ")),
        Err(ConfigError::Invalid {
            setting: "jwt_issuer",
            ..
        })
    ));
}

#[test]
fn defaults_and_debug_never_show_the_key() {
    let config = JwtConfig::hs256(HMAC_SECRET.to_vec()).build().unwrap();
    assert_eq!(config.algorithm(), JwtAlgorithm::HS256);
    assert_eq!(config.revocation(), RevocationMode::CheckSession);
    assert_eq!(config.leeway(), Duration::ZERO);
    let shown = format!("{config:?}");
    assert!(!shown.contains("k8Jq2vW9"), "{shown}");
    let builder = format!("{:?}", JwtConfig::hs256(HMAC_SECRET.to_vec()));
    assert!(!builder.contains("k8Jq2vW9"), "{builder}");
}

#[tokio::test]
async fn every_supported_algorithm_round_trips() {
    let configs = [
        JwtConfig::hs256(HMAC_SECRET.to_vec()),
        JwtConfig::hs384(HMAC_SECRET.to_vec()),
        JwtConfig::hs512(HMAC_SECRET.to_vec()),
        JwtConfig::rs256_pem(RSA, RSA_PUB),
        JwtConfig::eddsa_pem(ED, ED_PUB),
    ];
    for builder in configs {
        let config = builder.build().unwrap();
        let alg = config.algorithm();
        let h = jwt_harness(config, policy()).await;
        let issued = h.login(&h.user.id).await;
        let claims = h
            .backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();
        assert_eq!(claims.user_id, h.user.id, "{alg:?}");
        let next = h.rotate(&issued.pair.refresh_token).await;
        h.backend
            .verify_access(&next.pair.access_token)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_token_is_accepted_only_with_the_exact_algorithm_and_key() {
    let issuer = jwt_harness(
        JwtConfig::hs256(HMAC_SECRET.to_vec()).build().unwrap(),
        policy(),
    )
    .await;
    let token = issuer.login(&issuer.user.id).await.pair.access_token;
    let other_key = b"Zq8Jk2vW9xL4mN7pR1sT5uY3zA6bC0dE2fG8hI4j".to_vec();
    let verifiers = [
        JwtConfig::hs256(other_key),
        JwtConfig::hs384(HMAC_SECRET.to_vec()),
        JwtConfig::hs512(HMAC_SECRET.to_vec()),
        JwtConfig::rs256_pem(RSA, RSA_PUB),
        JwtConfig::eddsa_pem(ED, ED_PUB),
    ];
    for builder in verifiers {
        let config = builder.build().unwrap();
        let alg = config.algorithm();
        let h = jwt_harness(config, policy()).await;
        let result = h.backend.verify_access(&token).await;
        assert!(
            matches!(result, Err(TokenError::Invalid)),
            "{alg:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn sub_parses_with_the_configured_id_kind() {
    use auth_conformance::MemoryStore;
    use auth_core::{
        ClientInfo, ExtraClaims, IdKind, IssueRequest, NewUser, TokenBackend, UserStore,
    };
    use auth_tokens::JwtBackend;
    use std::sync::Arc;

    let store = MemoryStore::new(IdKind::Uuid);
    let clock = Arc::new(auth_core::ManualClock::new(common::start()));
    let user = store
        .create_user(&NewUser::new("uuid@example.com").unwrap(), common::start())
        .await
        .unwrap();
    let request = IssueRequest {
        user_id: user.id,
        client: &ClientInfo::none(),
        extra_claims: &ExtraClaims::new(),
    };
    let uuid = JwtBackend::new(
        Arc::new(store.clone()),
        clock.clone(),
        policy(),
        JwtConfig::hs256(HMAC_SECRET.to_vec())
            .id_kind(IdKind::Uuid)
            .build()
            .unwrap(),
    );
    let issued = uuid.issue(request).await.unwrap();
    assert_eq!(
        uuid.verify_access(&issued.pair.access_token)
            .await
            .unwrap()
            .user_id,
        user.id
    );
    // The default (integer) kind can never verify such a token, so it refuses to mint one.
    let integer = JwtBackend::new(
        Arc::new(store),
        clock,
        policy(),
        JwtConfig::hs256(HMAC_SECRET.to_vec()).build().unwrap(),
    );
    let err = integer.issue(request).await.unwrap_err();
    assert!(err.is_internal(), "{err:?}");
    assert!(matches!(
        integer.verify_access(&issued.pair.access_token).await,
        Err(TokenError::Invalid)
    ));
}
