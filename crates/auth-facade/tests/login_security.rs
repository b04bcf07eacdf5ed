//! Login and password handling under attack: one generic error with equal work, typed
//! errors for bad input, and nothing secret stored.
mod common;

use auth_facade::{AuthError, AuthEvent, InputError, InputField, LoginFailureReason};
use common::*;

async fn failure_reason(h: &Harness) -> LoginFailureReason {
    match h.events.events().last() {
        Some(AuthEvent::UserLoginFailed { reason, .. }) => *reason,
        other => panic!("expected user_login_failed, got {other:?}"),
    }
}

#[tokio::test]
async fn every_credential_failure_is_the_same_error_after_exactly_one_verification() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let inactive = h.user("ina@example.com").await;
    h.auth.set_active(&inactive.id, false).await.unwrap();
    h.auth.create_user("nopass@example.com").await.unwrap();

    let cases = [
        (
            "nobody@example.com",
            PASSWORD,
            LoginFailureReason::UnknownUser,
        ),
        (
            "alice@example.com",
            "wrong-password",
            LoginFailureReason::WrongPassword,
        ),
        (
            "ina@example.com",
            PASSWORD,
            LoginFailureReason::InactiveUser,
        ),
        (
            "nopass@example.com",
            PASSWORD,
            LoginFailureReason::UnusablePassword,
        ),
    ];
    for (email, password, reason) in cases {
        h.hasher.reset();
        let err = h.auth.login(email, password).await.unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidCredentials),
            "{email}: {err:?}"
        );
        assert_eq!(err.to_string(), "invalid credentials");
        assert_eq!(h.hasher.verifications(), 1, "{email}");
        assert_eq!(h.hasher.hashes(), 0, "{email}");
        assert_eq!(failure_reason(&h).await, reason);
    }
    h.hasher.reset();
    h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    assert_eq!(h.hasher.verifications(), 1);
    assert_eq!(h.auth.sessions(&alice.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn failed_logins_start_no_session_and_touch_no_row() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let before = dump_database(&h.store).await;
    for _ in 0..3 {
        h.auth
            .login("alice@example.com", "guess")
            .await
            .unwrap_err();
    }
    assert_eq!(dump_database(&h.store).await, before);
    assert!(h.auth.sessions(&alice.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_is_a_typed_error_before_any_hashing() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let max = h.auth.config().max_password_length();
    let too_long = "é".repeat(max + 1);
    let at_max = "é".repeat(max);
    h.hasher.reset();

    let login = |email: &'static str, password: String| {
        let auth = h.auth.clone();
        async move { auth.login(email, &password).await.unwrap_err() }
    };
    let input = |e: AuthError| match e {
        AuthError::InvalidInput(i) => i,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    assert_eq!(
        input(login("", PASSWORD.into()).await),
        InputError::Empty(InputField::Email)
    );
    assert_eq!(
        input(login("   ", PASSWORD.into()).await),
        InputError::Empty(InputField::Email)
    );
    assert_eq!(
        input(login("alice@example.com", String::new()).await),
        InputError::Empty(InputField::Password)
    );
    assert_eq!(
        input(login("alice@example.com", too_long.clone()).await),
        InputError::TooLong {
            field: InputField::Password,
            max
        }
    );
    assert_eq!(
        input(login("alice@example.com", "Secure\0Pass123!".into()).await),
        InputError::ControlCharacter(InputField::Password)
    );
    assert_eq!(
        input(login("alice\0@example.com", PASSWORD.into()).await),
        InputError::ControlCharacter(InputField::Email)
    );
    assert_eq!(
        input(login("alice", PASSWORD.into()).await),
        InputError::Malformed(InputField::Email)
    );
    assert_eq!(
        h.hasher.verifications() + h.hasher.hashes(),
        0,
        "hashed a refused input"
    );

    for bad in ["", too_long.as_str(), "nul\0byte"] {
        assert!(matches!(
            h.auth.set_password(&alice.id, bad).await,
            Err(AuthError::InvalidInput(_))
        ));
    }
    assert_eq!(h.hasher.hashes(), 0);
    // The maximum itself is accepted (4096 two-byte characters).
    h.auth.set_password(&alice.id, &at_max).await.unwrap();
    h.auth.login("alice@example.com", &at_max).await.unwrap();
}

#[tokio::test]
async fn raw_passwords_and_tokens_are_never_stored() {
    let h = harness().await;
    h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    let pair = h.auth.refresh(&result.refresh_token).await.unwrap();
    let dump = dump_database(&h.store).await;
    assert!(
        dump.contains("alice@example.com"),
        "the scan must see the tables"
    );
    assert!(!dump.contains(PASSWORD));
    for token in [
        &result.access_token,
        &result.refresh_token,
        &pair.access_token,
        &pair.refresh_token,
    ] {
        assert!(!dump.contains(token.as_str()));
        // not even any 8-character piece of the random part
        for start in 4..token.len() - 8 {
            assert!(!dump.contains(&token[start..start + 8]), "{start}");
        }
    }
}

#[tokio::test]
async fn set_password_ends_existing_sessions_and_the_old_password() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let result = h.auth.login("alice@example.com", PASSWORD).await.unwrap();
    h.auth
        .set_password(&alice.id, "An0ther-Passphrase")
        .await
        .unwrap();
    assert!(matches!(
        h.auth.authenticate(&result.access_token).await,
        Err(AuthError::TokenRevoked)
    ));
    assert!(matches!(
        h.auth.login("alice@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
    h.auth
        .login("alice@example.com", "An0ther-Passphrase")
        .await
        .unwrap();
    assert!(h.events.names().contains(&"all_sessions_revoked"));
    assert!(
        h.auth
            .check_password(&alice.id, "An0ther-Passphrase")
            .await
            .unwrap()
    );
    assert!(!h.auth.check_password(&alice.id, PASSWORD).await.unwrap());
}

#[tokio::test]
async fn unknown_user_ids_are_user_not_found() {
    let h = harness().await;
    let ghost = auth_facade::UserId::Int(987_654);
    assert!(matches!(
        h.auth.set_password(&ghost, PASSWORD).await,
        Err(AuthError::UserNotFound)
    ));
    assert!(matches!(
        h.auth.check_password(&ghost, PASSWORD).await,
        Err(AuthError::UserNotFound)
    ));
    assert!(matches!(
        h.auth.set_active(&ghost, false).await,
        Err(AuthError::UserNotFound)
    ));
    assert_eq!(h.auth.logout_all(&ghost).await.unwrap(), 0);
}

#[tokio::test]
async fn login_email_matches_whatever_the_domain_case() {
    let h = harness().await;
    h.user("alice@example.com").await;
    h.auth.login("alice@EXAMPLE.COM ", PASSWORD).await.unwrap();
    // The local part is case-sensitive (RFC 5321): a different mailbox.
    assert!(matches!(
        h.auth.login("Alice@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
}
