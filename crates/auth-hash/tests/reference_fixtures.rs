//! Hashes made by the Python reference (tortoise-auth 0.6.0 with its own hasher classes)
//! verify here, and hashes made here verify in the reference.
//!
//! `tests/fixtures/reference_hashes.json` is written by `tests/fixtures/make_reference_fixtures.py`;
//! `tests/fixtures/rust_hashes.json` is written by the ignored test `write_rust_fixtures` below
//! and checked against the reference with `make_reference_fixtures.py --check-rust`. No Python
//! is needed to run these tests.

use auth_hash::{HasherConfig, MultiHasher, PasswordHasher, Verification, normalize_password};
use serde_json::Value;

const REFERENCE: &str = include_str!("fixtures/reference_hashes.json");
const RUST: &str = include_str!("fixtures/rust_hashes.json");

#[test]
fn every_reference_hash_verifies() {
    let h = MultiHasher::new(HasherConfig::default()).unwrap();
    let doc: Value = serde_json::from_str(REFERENCE).unwrap();
    let fixtures = doc["fixtures"].as_array().unwrap();
    assert!(fixtures.len() >= 20);
    let mut schemes = std::collections::BTreeSet::new();
    for f in fixtures {
        let scheme = f["scheme"].as_str().unwrap();
        let password = f["password"].as_str().unwrap();
        let wrong = f["wrong_password"].as_str().unwrap();
        let encoded = f["hash"].as_str().unwrap();
        // The reference does not normalize: a hash of a non-NFC password matches through the
        // raw-form fallback and is flagged for rehash (to the NFC-based primary).
        let non_nfc = normalize_password(password).as_str() != password;
        let expected_rehash = f["needs_rehash"].as_bool().unwrap() || non_nfc;
        assert_eq!(
            h.verify(password, encoded).unwrap(),
            Verification::Match {
                needs_rehash: expected_rehash
            },
            "{scheme} {password:?}"
        );
        assert_eq!(
            h.verify(wrong, encoded).unwrap(),
            Verification::Mismatch,
            "{scheme} {wrong:?}"
        );
        schemes.insert(scheme.split('-').next().unwrap().to_owned());
    }
    assert_eq!(
        schemes.into_iter().collect::<Vec<_>>(),
        ["argon2id", "bcrypt", "pbkdf2_sha256"]
    );
}

#[test]
fn committed_rust_hashes_still_verify() {
    let h = MultiHasher::new(HasherConfig::default()).unwrap();
    let doc: Value = serde_json::from_str(RUST).unwrap();
    for f in doc["fixtures"].as_array().unwrap() {
        let password = f["password"].as_str().unwrap();
        let encoded = f["hash"].as_str().unwrap();
        assert_eq!(
            h.verify(password, encoded).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        // The reference sees the NFC form (what was hashed).
        assert_eq!(
            f["reference_password"].as_str().unwrap(),
            normalize_password(password).as_str()
        );
    }
}

/// Regenerates `tests/fixtures/rust_hashes.json`:
/// `cargo test -p auth-hash --test reference_fixtures -- --ignored write_rust_fixtures`.
#[test]
#[ignore = "writes a fixture file"]
fn write_rust_fixtures() {
    let h = MultiHasher::new(HasherConfig::default()).unwrap();
    let passwords = [
        "correct horse battery staple",
        "l\u{e8}tmein",
        "man\u{303}ana-sen\u{303}or",
        "\u{43f}\u{430}\u{440}\u{43e}\u{43b}\u{44c}-\u{65e5}\u{672c}\u{8a9e}-\u{1f510}",
    ];
    let fixtures: Vec<Value> = passwords
        .iter()
        .map(|p| {
            serde_json::json!({
                "password": p,
                "reference_password": normalize_password(p).as_str(),
                "hash": h.hash(p).unwrap(),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "generator": "auth-hash tests/reference_fixtures.rs write_rust_fixtures",
        "fixtures": fixtures,
    });
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rust_hashes.json"
    );
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
}
