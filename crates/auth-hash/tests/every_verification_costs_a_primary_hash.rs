//! H12 (issue 6, defect 4): a verification through the pool against a hash cheaper than the
//! primary (bcrypt, PBKDF2, weaker Argon2) costs at least one primary-strength verification,
//! whatever the outcome, so accounts still on a legacy hash cannot be told apart by a fast
//! answer. Counted through the hasher (Django's `test_check_password_calls_harden_runtime`
//! technique): a wrapper counts `verify` and `dummy_verify`, and a hand-written table says
//! which stored values a `verify` already costs a primary verification for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use argon2::{Algorithm, Argon2, Params, Version};
use auth_hash::{
    Argon2Params, HashError, HasherConfig, HashingPool, MultiHasher, PasswordHasher, Verification,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "correct horse battery stapler";

/// Small primary parameters (fast tests) that still leave room for weaker and stronger ones.
const PRIMARY: Argon2Params = Argon2Params {
    time_cost: 2,
    memory_kib: 64,
    parallelism: 1,
};

/// Counts the calls the pool makes, and the threads they run on.
struct Counting {
    inner: MultiHasher,
    verify: AtomicUsize,
    dummy: AtomicUsize,
    threads: Mutex<Vec<ThreadId>>,
}

impl Counting {
    fn new() -> Arc<Self> {
        let inner = MultiHasher::new(HasherConfig {
            argon2: PRIMARY,
            ..HasherConfig::default()
        })
        .unwrap();
        Arc::new(Self {
            inner,
            verify: AtomicUsize::new(0),
            dummy: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
        })
    }

    /// (verify calls, dummy_verify calls, all on one thread) since the last call.
    fn take(&self) -> (usize, usize, bool) {
        let mut threads = self.threads.lock().unwrap();
        let one_thread = threads.windows(2).all(|w| w[0] == w[1]);
        threads.clear();
        (
            self.verify.swap(0, Ordering::SeqCst),
            self.dummy.swap(0, Ordering::SeqCst),
            one_thread,
        )
    }
}

impl PasswordHasher for Counting {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        self.inner.hash(password)
    }
    fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        self.verify.fetch_add(1, Ordering::SeqCst);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.inner.verify(password, encoded)
    }
    fn dummy_verify(&self, password: &str) {
        self.dummy.fetch_add(1, Ordering::SeqCst);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.inner.dummy_verify(password);
    }
    fn is_cheaper_than_primary(&self, encoded: &str) -> bool {
        self.inner.is_cheaper_than_primary(encoded)
    }
}

fn argon2_phc(algorithm: Algorithm, p: Argon2Params, password: &str) -> String {
    let salt = *b"0123456789abcdef";
    let params = Params::new(p.memory_kib, p.time_cost, p.parallelism, Some(32)).unwrap();
    let mut tag = [0u8; 32];
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt, &mut tag)
        .unwrap();
    format!(
        "${}$v=19$m={},t={},p={}${}${}",
        algorithm.as_str(),
        p.memory_kib,
        p.time_cost,
        p.parallelism,
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(tag)
    )
}

fn pbkdf2_django(password: &str, iterations: u32) -> String {
    let salt = b"0123456789abcdef";
    let mut digest = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut digest);
    format!(
        "pbkdf2_sha256${iterations}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(digest)
    )
}

fn pbkdf2_phc(password: &str, iterations: u32) -> String {
    let mut digest = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), b"salt", iterations, &mut digest);
    format!(
        "$pbkdf2-sha256$i={iterations},l=32$c2FsdA${}",
        STANDARD_NO_PAD.encode(digest)
    )
}

/// Every kind of stored value, and whether one `verify` against it already costs (at least)
/// one primary verification: written by hand, not asked of the hasher.
fn cases() -> Vec<(&'static str, String, bool)> {
    let weaker = Argon2Params {
        time_cost: 1,
        memory_kib: 8,
        parallelism: 1,
    };
    let stronger = Argon2Params {
        time_cost: 3,
        memory_kib: 128,
        parallelism: 1,
    };
    let bcrypt = bcrypt::hash_with_salt(PASSWORD, 4, [7; 16])
        .unwrap()
        .format_for_version(bcrypt::Version::TwoB);
    vec![
        ("bcrypt", bcrypt.clone(), false),
        ("bcrypt (Django prefix)", format!("bcrypt${bcrypt}"), false),
        ("pbkdf2_sha256 (reference)", pbkdf2_django(PASSWORD, 1000), false),
        ("pbkdf2-sha256 (PHC)", pbkdf2_phc(PASSWORD, 1000), false),
        (
            "argon2id weaker",
            argon2_phc(Algorithm::Argon2id, weaker, PASSWORD),
            false,
        ),
        (
            "argon2i weaker",
            argon2_phc(Algorithm::Argon2i, weaker, PASSWORD),
            false,
        ),
        (
            "argon2d weaker",
            argon2_phc(Algorithm::Argon2d, weaker, PASSWORD),
            false,
        ),
        (
            "argon2id primary",
            argon2_phc(Algorithm::Argon2id, PRIMARY, PASSWORD),
            true,
        ),
        (
            "argon2i at the primary's parameters",
            argon2_phc(Algorithm::Argon2i, PRIMARY, PASSWORD),
            true,
        ),
        (
            "argon2id stronger",
            argon2_phc(Algorithm::Argon2id, stronger, PASSWORD),
            true,
        ),
        // `verify` itself does the dummy work for values that cannot be checked.
        ("unusable", "!".to_owned(), true),
        ("empty", String::new(), true),
        ("malformed", "$argon2id$v=19$m=8".to_owned(), true),
        ("unsupported scheme", "md5$salt$hash".to_owned(), true),
        (
            "bcrypt $2x$",
            "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e".to_owned(),
            true,
        ),
        (
            "over the caps",
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                .to_owned(),
            true,
        ),
    ]
}

#[test]
fn the_hasher_names_exactly_the_cheaper_hashes() {
    let h = Counting::new();
    for (label, stored, primary_strength) in cases() {
        assert_eq!(
            h.inner.is_cheaper_than_primary(&stored),
            !primary_strength,
            "{label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verification_through_the_pool_costs_one_primary_verification() {
    let counting = Counting::new();
    let pool = HashingPool::new(counting.clone(), 1);
    for (label, stored, primary_strength) in cases() {
        for password in [WRONG, PASSWORD] {
            let outcome = pool.verify(password, &stored).await;
            if password == WRONG {
                assert!(
                    !matches!(outcome, Ok(Verification::Match { .. })),
                    "{label}"
                );
            }
            let (verify, dummy, one_thread) = counting.take();
            assert_eq!(verify, 1, "{label}");
            // A cheaper hash is padded with exactly one dummy (primary) verification, in the
            // same blocking task; a primary-strength one is not padded.
            let primary_work = dummy + usize::from(primary_strength);
            assert_eq!(primary_work, 1, "{label} ({password}): {dummy} dummies");
            assert!(
                one_thread,
                "{label}: verify and dummy_verify ran on different threads"
            );
        }
    }
    // The legacy hashes did verify with the right password (padding changes no outcome).
    let bcrypt = &cases()[0].1;
    assert!(pool.verify(PASSWORD, bcrypt).await.unwrap().needs_rehash());
    counting.take();

    // An unknown email: one dummy verification, no verify.
    pool.dummy_verify(WRONG).await;
    assert_eq!(counting.take(), (0, 1, true));
}

/// bcrypt refuses passwords over 72 bytes (`PasswordTooLongForLegacyHash`) without hashing:
/// the padding still makes that answer cost one primary verification.
#[tokio::test]
async fn a_refused_legacy_check_is_padded_too() {
    let counting = Counting::new();
    let pool = HashingPool::new(counting.clone(), 1);
    let bcrypt = &cases()[0].1;
    let long = "x".repeat(73);
    let err = pool.verify(&long, bcrypt).await.unwrap_err();
    assert!(matches!(
        err,
        HashError::PasswordTooLongForLegacyHash { max_bytes: 72 }
    ));
    assert_eq!(counting.take(), (1, 1, true));
}
