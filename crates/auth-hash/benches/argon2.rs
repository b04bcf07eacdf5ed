//! Password hashing benchmark (no criterion, to keep compile time low).
//!
//! `cargo bench -p auth-hash --bench argon2` prints one JSON line per measurement:
//! Argon2id hash at t=3 m=65536 p=4 (the reference's defaults), bcrypt cost 12 verify and
//! PBKDF2-SHA256 600,000 verify (the reference's legacy defaults), each the median of
//! `AUTH_HASH_BENCH_RUNS` runs (default 15) after 2 warm-ups. Compare with
//! `benches/reference_argon2.py` (same JSON shape) run with the reference's Python.

use std::time::Instant;

use auth_hash::{HasherConfig, MultiHasher, PasswordHasher};
use base64::Engine as _;

const WARMUPS: usize = 2;

fn measure(name: &str, params: &str, runs: usize, mut f: impl FnMut()) {
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
        "{{\"bench\":\"{name}\",\"impl\":\"rust\",\"params\":\"{params}\",\"median_ms\":{median:.2},\"p_min_ms\":{:.2},\"runs\":{runs},\"parallel_feature\":{}}}",
        ms[0],
        cfg!(feature = "parallel")
    );
}

fn main() {
    let runs: usize = std::env::var("AUTH_HASH_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);
    let hasher = MultiHasher::new(HasherConfig::default()).expect("default config is valid");
    let password = "correct horse battery staple";

    measure("argon2id_hash", "t=3,m=65536,p=4", runs, || {
        std::hint::black_box(hasher.hash(std::hint::black_box(password)).unwrap());
    });

    let encoded = hasher.hash(password).unwrap();
    measure("argon2id_verify", "t=3,m=65536,p=4", runs, || {
        assert!(hasher.verify(password, &encoded).unwrap().is_match());
    });

    let bcrypt = bcrypt::hash_with_salt(password, 12, [42; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    measure("bcrypt_verify", "cost=12", runs, || {
        assert!(hasher.verify(password, &bcrypt).unwrap().is_match());
    });

    let salt = b"0123456789abcdef";
    let mut digest = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, 600_000, &mut digest);
    let b64 = base64::engine::general_purpose::STANDARD;
    let pbkdf2 = format!(
        "pbkdf2_sha256$600000${}${}",
        b64.encode(salt),
        b64.encode(digest)
    );
    measure("pbkdf2_sha256_verify", "i=600000", runs, || {
        assert!(hasher.verify(password, &pbkdf2).unwrap().is_match());
    });
}
