//! Password validators and the policy (the reference's four rules).

use auth_hash::{
    CommonPasswordValidator, MinimumLengthValidator, NumericPasswordValidator, PasswordPolicy,
    PasswordValidator, UserAttributeSimilarityValidator, ValidationContext, ValidationFailure,
};

fn codes(
    policy: &PasswordPolicy,
    password: &str,
    ctx: &ValidationContext<'_>,
) -> Vec<&'static str> {
    match policy.validate(password, ctx) {
        Ok(()) => vec![],
        Err(e) => e.codes().collect(),
    }
}

#[test]
fn default_policy_accepts_a_good_passphrase() {
    let policy = PasswordPolicy::default();
    let ctx = ValidationContext::with_email("ada.lovelace@example.com");
    assert!(
        policy
            .validate("correct horse battery staple", &ctx)
            .is_ok()
    );
    assert!(
        policy
            .validate(
                "correct horse battery staple",
                &ValidationContext::default()
            )
            .is_ok()
    );
}

#[test]
fn every_failure_is_collected() {
    let policy = PasswordPolicy::default();
    let none = ValidationContext::default();
    assert_eq!(
        codes(&policy, "1234567", &none),
        [
            "password_too_short",
            "password_too_common",
            "password_entirely_numeric"
        ]
    );
    let err = policy.validate("1234567", &none).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("too short")
            && text.contains("too common")
            && text.contains("entirely numeric"),
        "{text}"
    );
    assert!(!text.contains("1234567"), "the password is never echoed");
}

#[test]
fn minimum_length_counts_characters_not_bytes() {
    let v = MinimumLengthValidator::default();
    let ctx = ValidationContext::default();
    assert!(v.validate(&"\u{1f510}".repeat(8), &ctx).is_ok());
    let err = v.validate(&"\u{1f510}".repeat(7), &ctx).unwrap_err();
    assert_eq!(err.code, "password_too_short");
    let v15 = MinimumLengthValidator::new(15);
    assert!(v15.validate(&"a".repeat(14), &ctx).is_err());
    assert!(v15.validate(&"a".repeat(15), &ctx).is_ok());
}

#[test]
fn common_passwords_whole_password_case_insensitive() {
    let v = CommonPasswordValidator::default();
    assert!(v.len() >= 40_000, "{}", v.len());
    let ctx = ValidationContext::default();
    for p in ["password", "PassWord", " qwerty ", "123456", "iloveyou"] {
        assert_eq!(
            v.validate(p, &ctx).unwrap_err().code,
            "password_too_common",
            "{p}"
        );
    }
    // Containing a common word is fine (NIST: compare the entire password).
    assert!(v.validate("password-in-a-longer-phrase", &ctx).is_ok());
    let custom = CommonPasswordValidator::with_list(["Tortoise"]);
    assert!(custom.is_common("TORTOISE"));
    assert!(!custom.is_common("password"));
}

#[test]
fn entirely_numeric_includes_other_scripts_digits() {
    let v = NumericPasswordValidator;
    let ctx = ValidationContext::default();
    assert!(v.validate("8675309123", &ctx).is_err());
    assert!(
        v.validate(
            "\u{661}\u{662}\u{663}\u{664}\u{665}\u{666}\u{667}\u{668}",
            &ctx
        )
        .is_err()
    );
    assert!(v.validate("8675309x", &ctx).is_ok());
}

#[test]
fn similarity_to_email_and_local_part() {
    let v = UserAttributeSimilarityValidator::default();
    let ctx = ValidationContext::with_email("ada.lovelace@example.com");
    for p in [
        "ada.lovelace@example.com",
        "ada.lovelace",
        "lovelace1815",
        "ADA.LOVELACE",
    ] {
        let err = v.validate(p, &ctx).unwrap_err();
        assert_eq!(err.code, "password_too_similar", "{p}");
        assert_eq!(err.message, "The password is too similar to the email.");
    }
    assert!(v.validate("correct horse battery staple", &ctx).is_ok());
    // Other attributes, named in the message.
    let attrs = [("display name", "Grace Hopper")];
    let ctx = ValidationContext {
        email: None,
        attributes: &attrs,
    };
    assert_eq!(
        v.validate("gracehopper", &ctx).unwrap_err().message,
        "The password is too similar to the display name."
    );
}

/// CVE-2021-45115: the similarity check is linear and short-circuits on lengths; a
/// maximum-length password against a long email completes (behaviour, not time, is asserted).
#[test]
fn similarity_on_maximum_length_input_is_bounded() {
    let v = UserAttributeSimilarityValidator::default();
    let email = format!("{}@example.com", "ab".repeat(1500));
    let ctx = ValidationContext::with_email(&email);
    // Lengths 4096 vs ~3000: quick_ratio is actually computed (bound 0.85 >= 0.7).
    let password = "ab".repeat(2048);
    assert!(v.validate(&password, &ctx).is_err());
    let password = "xy".repeat(2048);
    assert!(v.validate(&password, &ctx).is_ok());
    // Short email vs maximum length: skipped on lengths alone.
    let ctx = ValidationContext::with_email("ab@example.com");
    assert!(v.validate(&"ab".repeat(2048), &ctx).is_ok());
}

#[test]
fn over_long_passwords_get_only_the_length_failure() {
    let policy = PasswordPolicy::default();
    let ctx = ValidationContext::with_email("a@example.com");
    let long = "1".repeat(4097);
    assert_eq!(codes(&policy, &long, &ctx), ["password_too_long"]);
    assert!(policy.validate(&"x7".repeat(2048), &ctx).is_ok());
}

struct NoTortoise;

impl PasswordValidator for NoTortoise {
    fn validate(&self, password: &str, _: &ValidationContext<'_>) -> Result<(), ValidationFailure> {
        if password.to_lowercase().contains("tortoise") {
            return Err(ValidationFailure::new(
                "password_contains_service_name",
                "The password contains the service name.",
            ));
        }
        Ok(())
    }
    fn help_text(&self) -> String {
        "Your password can't contain the service name.".into()
    }
}

#[test]
fn builder_adds_and_replaces_validators() {
    let ctx = ValidationContext::default();
    let policy = PasswordPolicy::builder()
        .min_length(15)
        .validator(NoTortoise)
        .build();
    assert_eq!(policy.validators().len(), 5);
    assert_eq!(
        codes(&policy, "my tortoise", &ctx),
        ["password_too_short", "password_contains_service_name"]
    );
    assert!(
        policy
            .help_texts()
            .iter()
            .any(|t| t.contains("at least 15"))
    );
    assert!(!policy.help_texts().iter().any(|t| t.contains("at least 8")));

    let only = PasswordPolicy::builder()
        .clear()
        .validator(NoTortoise)
        .build();
    assert_eq!(only.validators().len(), 1);
    assert!(only.validate("123", &ctx).is_ok());
}

#[test]
fn help_texts_match_the_reference() {
    let texts = PasswordPolicy::default().help_texts();
    assert_eq!(
        texts[..4],
        [
            "Your password must contain at least 8 characters.",
            "Your password can't be a commonly used password.",
            "Your password can't be entirely numeric.",
            "Your password can't be too similar to your other personal information.",
        ]
    );
}
