//! Password hashing benchmark (no criterion, to keep compile time low).
//!
//! `cargo bench -p auth-hash --bench argon2` (run by `cargo xtask bench`) prints one JSON line
//! per measurement, each the median of `AUTH_HASH_BENCH_RUNS` runs (default 15) after 2
//! warm-ups:
//!
//! - `argon2id_hash` / `argon2id_verify` at t=3 m=65536 p=4 (the reference's defaults),
//!   `bcrypt_verify` cost 12 and `pbkdf2_sha256_verify` 600,000 (the reference's legacy
//!   defaults), on the hasher directly: compare with `benches/reference_argon2.py` (same JSON
//!   shape) run with the reference's Python;
//! - what a failed login costs, through the `HashingPool` as the service calls it (checklist
//!   H12): `login_unknown_email` (the dummy verification), then `login_wrong_password` for the
//!   primary hash and each legacy format (bcrypt cost 12, PBKDF2-SHA256 20,000 as the
//!   reference stores, PBKDF2-SHA256 600,000, a weak Argon2id m=19456 t=2 p=1), padded to at
//!   least one primary verification, with `vs_unknown_email` = its median over the unknown
//!   email's; and `verify_wrong_password_unpadded`, the same legacy verifications on the bare
//!   hasher, to show what the padding hides.

use std::sync::Arc;
use std::time::Instant;

use auth_hash::{HasherConfig, HashingPool, MultiHasher, PasswordHasher, Verification};
use base64::Engine as _;

const WARMUPS: usize = 2;

/// Times `f` and prints one JSON line, returning the median; `extra(median)` is appended to
/// the object (`,"k":v...`).
fn measure(
    name: &str,
    params: &str,
    extra: impl Fn(f64) -> String,
    runs: usize,
    mut f: impl FnMut(),
) -> f64 {
    for _ in 0..WARMUPS {
        f();
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = if runs % 2 == 1 {
        ms[runs / 2]
    } else {
        (ms[runs / 2 - 1] + ms[runs / 2]) / 2.0
    };
    println!(
        "{{\"bench\":\"{name}\",\"impl\":\"rust\",\"params\":\"{params}\",\"median_ms\":{median:.2},\"p_min_ms\":{:.2},\"runs\":{runs},\"parallel_feature\":{}{}}}",
        ms[0],
        cfg!(feature = "parallel"),
        extra(median)
    );
    median
}

/// No extra fields.
fn none(_: f64) -> String {
    String::new()
}

fn pbkdf2_reference(password: &str, iterations: u32) -> String {
    let salt = b"0123456789abcdef";
    let mut digest = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut digest);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "pbkdf2_sha256${iterations}${}${}",
        b64.encode(salt),
        b64.encode(digest)
    )
}

fn main() {
    let runs: usize = std::env::var("AUTH_HASH_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);
    let hasher = MultiHasher::new(HasherConfig::default()).expect("default config is valid");
    let password = "correct horse battery staple";
    let wrong = "correct horse battery stapler";

    measure("argon2id_hash", "t=3,m=65536,p=4", none, runs, || {
        std::hint::black_box(hasher.hash(std::hint::black_box(password)).unwrap());
    });

    let encoded = hasher.hash(password).unwrap();
    measure("argon2id_verify", "t=3,m=65536,p=4", none, runs, || {
        assert!(hasher.verify(password, &encoded).unwrap().is_match());
    });

    let bcrypt = bcrypt::hash_with_salt(password, 12, [42; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    measure("bcrypt_verify", "cost=12", none, runs, || {
        assert!(hasher.verify(password, &bcrypt).unwrap().is_match());
    });

    let pbkdf2_600k = pbkdf2_reference(password, 600_000);
    measure("pbkdf2_sha256_verify", "i=600000", none, runs, || {
        assert!(hasher.verify(password, &pbkdf2_600k).unwrap().is_match());
    });

    // What a failed login costs through the pool (H12): every legacy format against an
    // unknown email's dummy verification.
    let pbkdf2_20k = pbkdf2_reference(password, 20_000);
    let weak = MultiHasher::new(HasherConfig {
        argon2: auth_hash::Argon2Params {
            time_cost: 2,
            memory_kib: 19456,
            parallelism: 1,
        },
        ..HasherConfig::default()
    })
    .expect("valid")
    .hash(password)
    .unwrap();
    let legacy = [
        ("bcrypt cost=12", bcrypt.as_str()),
        ("pbkdf2_sha256 i=20000", pbkdf2_20k.as_str()),
        ("pbkdf2_sha256 i=600000", pbkdf2_600k.as_str()),
        ("argon2id m=19456,t=2,p=1", weak.as_str()),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pool = HashingPool::new(Arc::new(hasher.clone()), 0);
    let unknown = measure(
        "login_unknown_email",
        "dummy_verify t=3,m=65536,p=4",
        |_| ",\"via\":\"pool\"".to_owned(),
        runs,
        || rt.block_on(pool.dummy_verify(wrong)),
    );
    let primary = [("argon2id t=3,m=65536,p=4", encoded.as_str())];
    for (params, stored) in primary.iter().chain(&legacy) {
        let padded = hasher.is_cheaper_than_primary(stored);
        measure(
            "login_wrong_password",
            params,
            |median| {
                format!(
                    ",\"via\":\"pool\",\"padded\":{padded},\"vs_unknown_email\":{:.2}",
                    median / unknown
                )
            },
            runs,
            || {
                let outcome = rt.block_on(pool.verify(wrong, stored)).unwrap();
                assert_eq!(outcome, Verification::Mismatch);
            },
        );
    }
    for (params, stored) in legacy {
        measure(
            "verify_wrong_password_unpadded",
            params,
            |_| ",\"via\":\"hasher\"".to_owned(),
            runs,
            || {
                let outcome = hasher.verify(wrong, stored).unwrap();
                assert_eq!(outcome, Verification::Mismatch);
            },
        );
    }
}
