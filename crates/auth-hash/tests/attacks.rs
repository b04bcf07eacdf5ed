//! Attack tests: every security claim about stored hashes and password input.

use auth_hash::{
    Argon2Params, HashError, HashErrorKind, HasherConfig, MultiHasher, PasswordHasher,
    Verification, is_usable,
};

mod common;
use common::tiny;

/// CVE-2011-2483: `$2x$` hashes are refused with a clear error, for any password.
#[test]
fn bcrypt_2x_is_rejected_with_unsupported_algorithm() {
    let h = tiny();
    let encoded = "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e";
    for password in ["\u{a3}", "anything"] {
        let err = h.verify(password, encoded).unwrap_err();
        assert!(
            matches!(err, HashError::UnsupportedAlgorithm { .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), HashErrorKind::UnverifiableHash);
        assert!(err.to_string().contains("$2x$"));
    }
}

/// H13: tampered parameters are refused by the parser, before the backend is called (a 4 GiB
/// Argon2 request would otherwise allocate 4 GiB; 10^9 PBKDF2 iterations would spin for
/// minutes).
#[test]
fn tampered_huge_parameters_are_refused() {
    let h = tiny();
    let cases = [
        (
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 m (KiB)",
        ),
        (
            "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 m (KiB)",
        ),
        (
            "$argon2id$v=19$m=9999999999,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 m (KiB)",
        ),
        (
            "$argon2id$v=19$m=65536,t=4294967295,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 t",
        ),
        (
            "$argon2id$v=19$m=65536,t=2,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 p",
        ),
        (
            "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 t",
        ),
        (
            "$argon2id$v=19$m=4,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "argon2 m (KiB)",
        ),
        (
            "pbkdf2_sha256$1000000000$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2 iterations",
        ),
        (
            "$pbkdf2-sha256$i=1000000000,l=32$c2FsdA$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY",
            "pbkdf2 iterations",
        ),
        (
            "pbkdf2_sha256$0$seasalt$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
            "pbkdf2 iterations",
        ),
        (
            "$2b$31$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "bcrypt cost",
        ),
        (
            "$2b$17$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "bcrypt cost",
        ),
        (
            "$2b$03$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "bcrypt cost",
        ),
    ];
    for (encoded, param) in cases {
        match h.verify("password", encoded) {
            Err(HashError::ParametersOutOfBounds { parameter, .. }) => {
                assert_eq!(parameter, param, "{encoded}");
            }
            other => panic!("{encoded}: {other:?}"),
        }
    }
}

/// The caps are configurable: lowering them refuses hashes the defaults accept.
#[test]
fn caps_follow_the_configuration() {
    let mut config = HasherConfig {
        argon2: Argon2Params {
            time_cost: 1,
            memory_kib: 8,
            parallelism: 1,
        },
        ..HasherConfig::default()
    };
    config.limits.argon2_max_memory_kib = 32768;
    let h = MultiHasher::new(config).unwrap();
    let err = h
        .verify(
            "password",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        )
        .unwrap_err();
    assert!(matches!(
        err,
        HashError::ParametersOutOfBounds {
            value: 65536,
            max: 32768,
            ..
        }
    ));
}

/// H10: unusable passwords (`!` prefix, empty) never verify, whatever the input, including
/// the marker itself.
#[test]
fn unusable_passwords_never_verify() {
    let h = tiny();
    let real = h.hash("password").unwrap();
    let bang_real = format!("!{real}");
    for encoded in ["!", "!abc", "!!", bang_real.as_str(), ""] {
        assert!(!is_usable(encoded));
        for password in ["password", "!", "!abc", encoded, " "] {
            if password.is_empty() {
                continue;
            }
            assert_eq!(
                h.verify(password, encoded).unwrap(),
                Verification::Mismatch,
                "{encoded:?}"
            );
        }
    }
    assert!(is_usable(&real));
    assert!(matches!(h.verify("", &real), Err(HashError::EmptyPassword)));
    assert!(matches!(h.hash(""), Err(HashError::EmptyPassword)));
}

/// H6: a password over 72 bytes never matches a bcrypt hash of its 72-byte prefix: it is
/// refused with `PasswordTooLongForLegacyHash` (the user must reset), never truncated.
#[test]
fn truncated_bcrypt_match_is_impossible() {
    let h = tiny();
    let stored = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
    let prefix = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    assert!(h.verify(prefix, stored).unwrap().is_match());
    let longer = format!("{prefix}chars after 72 are ignored");
    let err = h.verify(&longer, stored).unwrap_err();
    assert!(matches!(
        err,
        HashError::PasswordTooLongForLegacyHash { max_bytes: 72 }
    ));
    assert_eq!(err.kind(), HashErrorKind::UnverifiableHash);
    // 71 ASCII bytes + a 2-byte character = 73 bytes: also refused.
    let multibyte = format!("{}\u{e9}", &prefix[..71]);
    assert_eq!(multibyte.len(), 73);
    assert!(h.verify(&multibyte, stored).is_err());
    // The same long password against an Argon2id hash is fine (no limit there).
    let argon = h.hash(&longer).unwrap();
    assert!(h.verify(&longer, &argon).unwrap().is_match());
}

/// H9 / Z1: junk stored values give `MalformedHash` (or another refusal), never a panic and
/// never a match.
#[test]
fn malformed_strings_never_panic_and_never_match() {
    let h = tiny();
    let junk = [
        "$",
        "$$",
        "$$$$$$",
        "$argon2id",
        "$argon2id$",
        "$argon2id$v=19",
        "$argon2id$v=19$",
        "$argon2id$v=19$m=abc,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=8,t=1,p=1,m=8$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$",
        "$argon2id$v=19$m=8,t=1,p=1$!!!!$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=8,t=1,p=1$$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=+8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=-8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=42$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2x$v=19$m=8,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2d$v=16$m=32,t=2,p=3,keyid=8PDw8A$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o",
        "$2a$",
        "$2a$04$",
        "$2a$04$short",
        "$2z$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
        "$2a$4x$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
        "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU9\u{e9}",
        "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU9!",
        "pbkdf2_sha256$",
        "pbkdf2_sha256$$$",
        "pbkdf2_sha256$1000$salt",
        "pbkdf2_sha256$abc$salt$hash",
        "pbkdf2_sha256$1000$salt$!!!",
        "pbkdf2_sha256$1000$$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
        "pbkdf2_sha256$1000$a+b$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY=",
        "pbkdf2_sha256$1000$salt$c2hvcnQ=",
        "$pbkdf2-sha256$i=1000,l=99$c2FsdA$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY",
        "$pbkdf2-sha256$x=1$c2FsdA$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY",
        "$pbkdf2-sha256$i=1,i=1$c2FsdA$VrX+V8drCGo68wlvy6rfu8i1d1pfkdeXA4LJkRGJodY",
        "$1$saltsalt$hash",
        "md5$salt$hash",
        "sha1$salt$hash",
        "bcrypt_sha256$$2b$12$abc",
        "$5$rounds=5000$salt$hash",
        "$scrypt$ln=16,r=8,p=1$salt$hash",
        "plaintext-password-of-sixty-bytes-stored-by-mistake-00000000",
        "password",
        "\0",
        "\u{1f510}",
        "argon2$",
        "argon2$argon2id",
        "bcrypt$",
        "bcrypt$$2a$",
    ];
    for encoded in junk {
        for password in ["password", encoded] {
            if password.is_empty() {
                continue;
            }
            match h.verify(password, encoded) {
                Ok(Verification::Mismatch) => {}
                Err(e) => assert!(!e.is_internal(), "{encoded:?}: {e:?}"),
                Ok(m) => panic!("{encoded:?} matched: {m:?}"),
            }
        }
    }
    let long = "$argon2id$".to_owned() + &"A".repeat(100_000);
    assert!(matches!(
        h.verify("password", &long),
        Err(HashError::MalformedHash)
    ));
}

/// Deterministic fuzzing: every truncation and many single-character mutations of valid
/// hashes of each format are refused or mismatch: never a panic, never a match unless the
/// string is unchanged.
#[test]
fn mutated_valid_hashes_never_panic_and_never_match() {
    let h = tiny();
    let argon = h.hash("password").unwrap();
    let valid = [
        argon.as_str(),
        "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
        "$pbkdf2-sha256$i=1,l=32$c2FsdA$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs",
        "pbkdf2_sha256$1$c2FsdA==$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=",
        "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "$=,.+/0123456789abcdefxyzABCXYZ!\0\u{e9}\u{1f510}"
        .chars()
        .collect();
    for encoded in valid {
        let chars: Vec<char> = encoded.chars().collect();
        let whole = h.verify("password", encoded);
        assert!(whole.as_ref().unwrap().is_match(), "{encoded}");
        for cut in 0..chars.len() {
            let truncated: String = chars[..cut].iter().collect();
            let r = h.verify("password", &truncated);
            assert!(
                !matches!(r, Ok(Verification::Match { .. })),
                "{truncated:?}"
            );
        }
        for _ in 0..400 {
            let mut mutated = chars.clone();
            let i = (next() % mutated.len() as u64) as usize;
            mutated[i] = alphabet[(next() % alphabet.len() as u64) as usize];
            let mutated: String = mutated.into_iter().collect();
            let r = h.verify("password", &mutated);
            // Base64 is decoded canonically, so no other spelling of the same bytes exists.
            assert!(
                mutated == encoded || !matches!(r, Ok(Verification::Match { .. })),
                "{mutated:?} matched"
            );
        }
    }
}

/// H13: an over-long password is refused before any hashing: here the stored hash asks for
/// the maximum memory and time, which would take seconds if it were ever run.
#[test]
fn over_long_passwords_are_refused_before_hashing() {
    let h = tiny();
    let huge = "a".repeat(1 << 20);
    let costly =
        "$argon2id$v=19$m=262144,t=16,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    assert!(matches!(
        h.verify(&huge, costly),
        Err(HashError::PasswordTooLong { max: 4096 })
    ));
    assert!(matches!(
        h.hash(&huge),
        Err(HashError::PasswordTooLong { max: 4096 })
    ));
    h.dummy_verify(&huge);
    // 4096 characters of 4 bytes each is still within the limit (counted in characters).
    let emoji = "\u{1f510}".repeat(4096);
    assert!(h.hash(&emoji).is_ok());
    let one_more = "\u{1f510}".repeat(4097);
    assert!(matches!(
        h.hash(&one_more),
        Err(HashError::PasswordTooLong { .. })
    ));
}

/// One NUL rule everywhere (`check_password_input`, shared with the facade): a password
/// containing NUL is refused by `hash` and `verify` with `PasswordContainsNul` before any
/// hashing, against every scheme, so "pass\0word" can never be taken for "pass" (what C
/// implementations of bcrypt compute for it) nor stored.
#[test]
fn nul_in_password_is_refused_by_hash_and_verify() {
    let h = tiny();
    let err = h.hash("pass\0word").unwrap_err();
    assert!(matches!(err, HashError::PasswordContainsNul), "{err:?}");
    assert_eq!(err.kind(), HashErrorKind::InvalidPassword);
    assert!(matches!(
        auth_hash::check_password_input("pass\0word", 4096),
        Err(HashError::PasswordContainsNul)
    ));

    let argon_pass = h.hash("pass").unwrap();
    let bcrypt_pass = bcrypt::hash_with_salt("pass", 4, [7; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    // A hash made elsewhere from the NUL password (Rust's bcrypt hashes every byte).
    let bcrypt_nul = bcrypt::hash_with_salt("pass\0word", 4, [7; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    for stored in [&argon_pass, &bcrypt_pass, &bcrypt_nul] {
        for password in ["pass\0word", "pass\0", "\0", "\0pass"] {
            assert!(
                matches!(
                    h.verify(password, stored),
                    Err(HashError::PasswordContainsNul)
                ),
                "{password:?} against {stored}"
            );
        }
    }
    assert!(h.verify("pass", &argon_pass).unwrap().is_match());
    assert!(h.verify("pass", &bcrypt_pass).unwrap().is_match());
    assert!(!h.verify("pass", &bcrypt_nul).unwrap().is_match());
    // No work is done for a refused input: the dummy verification is skipped too.
    h.dummy_verify("pass\0word");
}

/// The input rule's order and cost: empty, then too long (counted in characters, decided
/// from the byte length alone when it can be), then NUL.
#[test]
fn password_input_rule_is_shared_and_cheap() {
    use auth_hash::check_password_input;
    assert!(matches!(
        check_password_input("", 8),
        Err(HashError::EmptyPassword)
    ));
    assert!(check_password_input("12345678", 8).is_ok());
    assert!(check_password_input("\u{1f510}\u{1f510}", 2).is_ok());
    assert!(matches!(
        check_password_input("123456789", 8),
        Err(HashError::PasswordTooLong { max: 8 })
    ));
    // An over-long input with a NUL is reported as too long (the cheap check comes first).
    let huge = format!("{}\0", "a".repeat(1 << 20));
    let start = std::time::Instant::now();
    assert!(matches!(
        check_password_input(&huge, 4096),
        Err(HashError::PasswordTooLong { max: 4096 })
    ));
    assert!(start.elapsed() < std::time::Duration::from_millis(5));
    // The hasher applies exactly this rule with its configured maximum.
    let h = tiny();
    for input in ["", "a\0b", huge.as_str()] {
        let from_rule = check_password_input(input, h.config().max_password_length).unwrap_err();
        let from_hash = h.hash(input).unwrap_err();
        let from_verify = h.verify(input, "!").unwrap_err();
        assert_eq!(from_rule.to_string(), from_hash.to_string());
        assert_eq!(from_rule.to_string(), from_verify.to_string());
    }
}

/// H18 / 7.1.1: no password or hash in error messages or Debug output.
#[test]
fn errors_and_debug_output_leak_nothing() {
    let h = tiny();
    let secret = "hunter2-very-secret";
    let encoded = h.hash(secret).unwrap();
    let tampered = encoded.replace("m=8,", "m=99999999,");
    let broken = format!("{encoded}$extra");
    for stored in [
        tampered.as_str(),
        broken.as_str(),
        "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
    ] {
        let err = h.verify(secret, stored).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(secret), "{text}");
            assert!(
                !text.contains("c29tZXNhbHQ") && !text.contains(&encoded[30..]),
                "{text}"
            );
        }
    }
    let debug = format!("{h:?}");
    assert!(!debug.contains(secret));
}

/// Whitespace is significant: " " and "" are different passwords, nothing is trimmed.
#[test]
fn whitespace_is_not_trimmed() {
    let h = tiny();
    let space = h.hash(" ").unwrap();
    assert!(h.verify(" ", &space).unwrap().is_match());
    assert!(!h.verify("  ", &space).unwrap().is_match());
    let trailing = h.hash("password ").unwrap();
    assert!(!h.verify("password", &trailing).unwrap().is_match());
}

/// PBKDF2 output of length n is a prefix of longer output: a truncated stored digest must not
/// turn into a shorter (weaker) valid hash.
#[test]
fn truncated_pbkdf2_digest_is_refused() {
    let h = tiny();
    for encoded in [
        "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hl",
        "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVI",
        "$pbkdf2-sha256$i=1$c2FsdA$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVI",
        "$pbkdf2-sha256$i=1,l=32$c2FsdA$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVI",
    ] {
        assert!(
            matches!(h.verify("password", encoded), Err(HashError::MalformedHash)),
            "{encoded}"
        );
    }
    assert!(
        h.verify(
            "password",
            "$pbkdf2-sha256$i=1,l=24$c2FsdA$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVI"
        )
        .unwrap()
        .is_match(),
        "an explicit l= is honoured"
    );
}
