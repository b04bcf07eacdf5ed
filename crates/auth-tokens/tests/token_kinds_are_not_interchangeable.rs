//! T5: an access token presented as a refresh token, and the reverse, are refused; so are
//! reset and verification tokens, and tokens of the other backend.

mod common;

use auth_core::{TokenError, TokenKind};
use auth_tokens::generate_token;
use common::{FLAVORS, harness, policy};

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    for &flavor in FLAVORS {
        let h = harness(flavor, policy()).await;
        let issued = h.login(&h.user.id).await;
        assert_token_err!(
            flavor,
            h.backend.refresh(&issued.pair.access_token).await,
            TokenError::Invalid
        );
        assert_token_err!(
            flavor,
            h.backend.verify_access(&issued.pair.refresh_token).await,
            TokenError::Invalid
        );
        // A refresh token re-prefixed as an access token is another (unknown) token.
        let forged = issued.pair.refresh_token.replacen("trt_", "tat_", 1);
        assert_token_err!(
            flavor,
            h.backend.verify_access(&forged).await,
            TokenError::Invalid
        );
        // Single-use tokens pass as neither.
        for kind in [TokenKind::PasswordReset, TokenKind::EmailVerification] {
            let (t, _) = generate_token(kind).unwrap();
            assert_token_err!(
                flavor,
                h.backend.verify_access(&t).await,
                TokenError::Invalid
            );
            assert_token_err!(flavor, h.backend.refresh(&t).await, TokenError::Invalid);
        }
        // Nothing was spent by the attempts.
        h.backend
            .verify_access(&issued.pair.access_token)
            .await
            .unwrap();
        h.rotate(&issued.pair.refresh_token).await;
    }
}

#[cfg(feature = "jwt")]
#[tokio::test]
async fn a_token_of_one_backend_is_invalid_on_the_other() {
    use common::Flavor;
    let opaque = harness(Flavor::Opaque, policy()).await;
    let jwt = harness(Flavor::Jwt, policy()).await;
    let o = opaque.login(&opaque.user.id).await;
    let j = jwt.login(&jwt.user.id).await;
    assert_token_err!(
        Flavor::Jwt,
        jwt.backend.verify_access(&o.pair.access_token).await,
        TokenError::Invalid
    );
    assert_token_err!(
        Flavor::Opaque,
        opaque.backend.verify_access(&j.pair.access_token).await,
        TokenError::Invalid
    );
    assert_token_err!(
        Flavor::Jwt,
        jwt.backend.refresh(&j.pair.access_token).await,
        TokenError::Invalid
    );
}
