//! Argon2id primary: hash then verify, parameters in the PHC string, rehash on other params.

use auth_hash::{Argon2Params, HasherConfig, MultiHasher, PasswordHasher, Verification};

fn small() -> MultiHasher {
    MultiHasher::new(HasherConfig {
        argon2: Argon2Params {
            time_cost: 1,
            memory_kib: 8192,
            parallelism: 2,
        },
        ..HasherConfig::default()
    })
    .unwrap()
}

#[test]
fn hash_then_verify_matches_and_rejects_other_passwords() {
    let h = small();
    let encoded = h.hash("correct horse battery staple").unwrap();
    assert!(
        encoded.starts_with("$argon2id$v=19$m=8192,t=1,p=2$"),
        "{encoded}"
    );
    assert_eq!(
        h.verify("correct horse battery staple", &encoded).unwrap(),
        Verification::Match {
            needs_rehash: false
        }
    );
    assert_eq!(
        h.verify("correct horse battery stapl", &encoded).unwrap(),
        Verification::Mismatch
    );
}

#[test]
fn other_parameters_need_rehash() {
    let h = small();
    let stronger = MultiHasher::new(HasherConfig {
        argon2: Argon2Params {
            time_cost: 2,
            memory_kib: 8192,
            parallelism: 2,
        },
        ..HasherConfig::default()
    })
    .unwrap();
    let encoded = h.hash("pw-12345678").unwrap();
    let v = stronger.verify("pw-12345678", &encoded).unwrap();
    assert!(v.is_match());
    assert!(v.needs_rehash());
}

#[test]
fn default_config_is_the_references() {
    let c = HasherConfig::default();
    assert_eq!(
        c.argon2,
        Argon2Params {
            time_cost: 3,
            memory_kib: 65536,
            parallelism: 4
        }
    );
    assert_eq!(c.max_password_length, 4096);
}

/// H3: the same password hashed 1,000 times gives 1,000 distinct salts, and each verifies.
#[test]
fn salts_are_unique() {
    let h = MultiHasher::new(HasherConfig {
        argon2: Argon2Params {
            time_cost: 1,
            memory_kib: 8,
            parallelism: 1,
        },
        ..HasherConfig::default()
    })
    .unwrap();
    let mut salts = std::collections::HashSet::new();
    for _ in 0..1000 {
        let encoded = h.hash("same password").unwrap();
        assert!(h.verify("same password", &encoded).unwrap().is_match());
        assert!(salts.insert(encoded.split('$').nth(4).unwrap().to_owned()));
    }
}

/// H17: no truncation with Argon2id: a 1,000-character password does not verify against its
/// 999-character prefix, nor with byte 73, 129 or 257 changed.
#[test]
fn no_truncation() {
    let h = small();
    let long: String = (0..1000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let encoded = h.hash(&long).unwrap();
    assert!(h.verify(&long, &encoded).unwrap().is_match());
    assert!(!h.verify(&long[..999], &encoded).unwrap().is_match());
    for i in [72, 128, 256] {
        let mut changed = long.clone().into_bytes();
        changed[i] = b'#';
        let changed = String::from_utf8(changed).unwrap();
        assert!(!h.verify(&changed, &encoded).unwrap().is_match());
    }
}

#[test]
fn invalid_configs_are_refused() {
    for argon2 in [
        Argon2Params {
            time_cost: 0,
            memory_kib: 65536,
            parallelism: 1,
        },
        Argon2Params {
            time_cost: 1,
            memory_kib: 16,
            parallelism: 4,
        },
        Argon2Params {
            time_cost: 1,
            memory_kib: 65536,
            parallelism: 0,
        },
        // Above the stored-hash caps: its own hashes could not be verified.
        Argon2Params {
            time_cost: 1,
            memory_kib: 1 << 20,
            parallelism: 1,
        },
    ] {
        let err = MultiHasher::new(HasherConfig {
            argon2,
            ..HasherConfig::default()
        })
        .unwrap_err();
        assert!(err.is_internal(), "{err}");
    }
    assert!(
        MultiHasher::new(HasherConfig {
            max_password_length: 0,
            ..HasherConfig::default()
        })
        .is_err()
    );
}
