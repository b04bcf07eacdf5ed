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
