//! Login and password handling under attack: one generic error with equal work, typed
//! errors for bad input, and nothing secret stored.
mod common;

use auth_core::SessionStore;
use auth_facade::{AuthError, AuthEvent, InputError, InputField, LoginFailureReason, UserStore};
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
        ("nobody@example.com", PASSWORD, LoginFailureReason::NotFound),
        (
            "alice@example.com",
            "wrong-password",
            LoginFailureReason::BadPassword,
        ),
        ("ina@example.com", PASSWORD, LoginFailureReason::Inactive),
        (
            "ina@example.com",
            "wrong-password",
            LoginFailureReason::Inactive,
        ),
        (
            "nopass@example.com",
            PASSWORD,
            LoginFailureReason::BadPassword,
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
    assert_eq!(h.auth.sessions().list(&alice.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn failed_logins_start_no_session_and_touch_no_row() {
    let h = harness().await;
    let alice = h.user("alice@example.com").await;
    let sessions_before = h.store.list_sessions(&alice.id, h.now()).await.unwrap();
    let user_before = h
        .store
        .find_credentials_by_id(&alice.id)
        .await
        .unwrap()
        .unwrap();
    for _ in 0..3 {
        h.auth
            .login("alice@example.com", "guess")
            .await
            .unwrap_err();
    }
    let user_after = h
        .store
        .find_credentials_by_id(&alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user_after.user, user_before.user);
    assert_eq!(user_after.password_hash, user_before.password_hash);
    assert_eq!(
        h.store.list_sessions(&alice.id, h.now()).await.unwrap(),
        sessions_before
    );
    assert!(h.auth.sessions().list(&alice.id).await.unwrap().is_empty());
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
    let dump = h.store.dump();
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
    let err = h.auth.authenticate(&result.access_token).await.unwrap_err();
    assert!(is_token(&err, "revoked"), "{err:?}");
    assert!(matches!(
        h.auth.login("alice@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
    h.auth
        .login("alice@example.com", "An0ther-Passphrase")
        .await
        .unwrap();
    match h
        .events
        .events()
        .iter()
        .rev()
        .find(|e| e.name() == "password_changed")
    {
        Some(AuthEvent::PasswordChanged { sessions_ended, .. }) => assert_eq!(*sessions_ended, 1),
        other => panic!("{other:?}"),
    }
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
async fn login_email_matches_whatever_the_ascii_letter_case() {
    let h = harness().await;
    h.user("alice@example.com").await;
    for typed in [
        "alice@EXAMPLE.COM ",
        "Alice@example.com",
        "ALICE@Example.Com",
    ] {
        h.auth.login(typed, PASSWORD).await.unwrap();
    }
    // Non-ASCII letters are not case-mapped: the dotless i is another address.
    assert!(matches!(
        h.auth.login("al\u{131}ce@example.com", PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
}

#[tokio::test]
async fn an_address_stored_in_mixed_case_by_other_software_is_found() {
    let h = harness().await;
    let id = h
        .store
        .insert_raw_user("Legacy.User@Example.COM", h.now())
        .unwrap();
    h.auth.set_password(&id, PASSWORD).await.unwrap();
    let result = h
        .auth
        .login("legacy.user@example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(result.user.id, id);
    // Mail goes to the stored address, whatever was typed.
    assert_eq!(result.user.email, "Legacy.User@Example.COM");
    assert!(matches!(
        h.auth.create_user("LEGACY.USER@example.com").await,
        Err(AuthError::UserExists)
    ));
}

#[tokio::test]
async fn look_alike_emails_cannot_register() {
    let h = harness().await;
    h.auth.create_user("jos\u{e9}@example.com").await.unwrap();
    // The decomposed spelling is the same address.
    assert!(matches!(
        h.auth.create_user("jose\u{301}@example.com").await,
        Err(AuthError::UserExists)
    ));
    for invisible in [
        "ali\u{200B}ce@example.com",
        "\u{202E}alice@example.com",
        "alice@exam\u{2060}ple.com",
    ] {
        assert!(
            matches!(
                h.auth.create_user(invisible).await,
                Err(AuthError::InvalidInput(InputError::InvisibleCharacter(
                    InputField::Email
                )))
            ),
            "{invisible:?}"
        );
    }
}
