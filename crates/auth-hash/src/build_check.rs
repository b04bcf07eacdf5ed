//! Detects an Argon2 compiled without optimizations (an app's debug build) and says how to fix
//! it.
//!
//! Cargo applies only the *root* workspace's profiles: the `[profile.dev.package.argon2]`
//! lines in this repository do nothing for an app that depends on `auth-hash`, whose
//! `cargo run` then hashes with `argon2` at `opt-level = 0`: about 1 s per hash at the default
//! parameters instead of ~55 ms, and a login that looks broken.
//!
//! # The detection rule
//!
//! The first [`MultiHasher::new`](crate::MultiHasher::new) of a process times a tiny Argon2id
//! (`m=512 KiB, t=1, p=1`, one lane, no rayon) through the same `argon2` crate, up to
//! [`PROBE_RUNS`] times, stopping at the first run under [`PROBE_THRESHOLD`] (2.5 ms), and
//! calls the build unoptimized only if **every** run was slower. Measured on the 2-core
//! development VM: ~0.25 ms optimized, ~11 ms with `argon2` and `blake2` at `opt-level = 0`
//! (~45x). The threshold leaves a 10x margin for slower machines before a false warning and a
//! 4x margin for faster ones before a missed one; taking the best of several runs means a
//! briefly busy machine does not look unoptimized (load only ever slows a run down). Cost: one
//! 512 KiB buffer and ~0.3 ms once per process when optimized, up to ~60 ms when not (next to
//! a 1 s hash).
//!
//! Why not `cfg!(debug_assertions)`: it describes `auth-hash`'s own compilation, not
//! `argon2`'s. An app that followed the advice (argon2 at `opt-level = 3`) still compiles
//! `auth-hash` with debug assertions and would be warned forever, while a release profile with
//! `opt-level = 0` would never be. A build script cannot see a dependency's profile either.
//! Only measuring the code that runs answers the question.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The `Cargo.toml` lines an application should copy so that its debug builds hash at full
/// speed (Cargo ignores a dependency's profile settings): the hashing crates and, for the
/// SQLite store, `libsqlite3-sys`, at `opt-level = 3`. Only these crates are optimized; the
/// app's own code keeps fast debug builds.
pub const DEV_PROFILE_ADVICE: &str = "\
[profile.dev.package.argon2]
opt-level = 3
[profile.dev.package.blake2]
opt-level = 3
[profile.dev.package.bcrypt]
opt-level = 3
[profile.dev.package.blowfish]
opt-level = 3
[profile.dev.package.pbkdf2]
opt-level = 3
[profile.dev.package.sha2]
opt-level = 3
[profile.dev.package.blake3]
opt-level = 3
[profile.dev.package.libsqlite3-sys]
opt-level = 3
";

/// Memory of the probe hash, in KiB.
const PROBE_MEMORY_KIB: u32 = 512;
/// How many probe hashes at most.
pub(crate) const PROBE_RUNS: usize = 5;
/// A probe hash slower than this in every run means Argon2 was built without optimizations.
pub(crate) const PROBE_THRESHOLD: Duration = Duration::from_micros(2500);

/// Whether the `argon2` crate this binary hashes with was compiled without optimizations
/// (typically an application's debug build without the lines of [`DEV_PROFILE_ADVICE`]).
///
/// Measured once per process by timing a tiny Argon2id hash (about 0.3 ms when optimized),
/// then cached; see the module documentation of the rule and its margins. The first
/// [`MultiHasher::new`](crate::MultiHasher::new) calls it and logs a warning when it is
/// `true`.
#[must_use]
pub fn argon2_is_unoptimized() -> bool {
    static UNOPTIMIZED: OnceLock<bool> = OnceLock::new();
    *UNOPTIMIZED.get_or_init(|| {
        probe_is_slow(PROBE_RUNS, PROBE_THRESHOLD, || {
            let start = Instant::now();
            probe_hash();
            start.elapsed()
        })
    })
}

/// `true` if none of up to `runs` timings is under `threshold` (stops at the first fast one).
pub(crate) fn probe_is_slow(
    runs: usize,
    threshold: Duration,
    mut time_one: impl FnMut() -> Duration,
) -> bool {
    (0..runs).all(|_| time_one() >= threshold)
}

/// One small Argon2id hash through the `argon2` crate (the code whose optimization matters).
fn probe_hash() {
    let Ok(params) = Params::new(PROBE_MEMORY_KIB, 1, 1, Some(32)) else {
        return;
    };
    let mut memory = vec![Block::default(); params.block_count()];
    let mut out = [0u8; 32];
    let result = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(
            b"auth-hash build probe",
            b"auth-hash-probe!",
            &mut out,
            &mut memory[..],
        );
    std::hint::black_box((result.is_ok(), out));
}

/// Set once the warning has been logged (or judged unnecessary) in this process.
static CHECKED: AtomicBool = AtomicBool::new(false);

/// Logs the warning at most once per process, if Argon2 is unoptimized.
pub(crate) fn warn_once_if_unoptimized() {
    warn_once(&CHECKED, argon2_is_unoptimized);
}

/// The warning logic with its state and detector passed in (for tests).
pub(crate) fn warn_once(checked: &AtomicBool, unoptimized: impl FnOnce() -> bool) {
    if checked.swap(true, Ordering::AcqRel) {
        return;
    }
    if unoptimized() {
        tracing::warn!(
            advice = DEV_PROFILE_ADVICE,
            "auth-hash: argon2 was compiled without optimizations (a debug build): every \
             password hash takes ~20x longer (about 1 s at the default parameters). Cargo \
             ignores a dependency's profile settings, so add these lines to your workspace's \
             root Cargo.toml: [profile.dev.package.argon2] opt-level = 3, and the same for \
             blake2, bcrypt, blowfish, pbkdf2, sha2, blake3 and libsqlite3-sys"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// Records the level and text of every event.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

    struct Text(String);

    impl Visit for Text {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push_str(&format!("{}={value} ", field.name()));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), text.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn an_unoptimized_build_is_warned_about_once_naming_every_package() {
        let recorder = Recorder::default();
        let checked = AtomicBool::new(false);
        tracing::subscriber::with_default(recorder.clone(), || {
            warn_once(&checked, || true);
            warn_once(&checked, || true);
            warn_once(&checked, || panic!("the detector must run only once"));
        });
        let events = recorder.0.lock().unwrap().clone();
        assert_eq!(events.len(), 1, "{events:?}");
        let (level, text) = &events[0];
        assert_eq!(*level, Level::WARN);
        for package in [
            "argon2",
            "blake2",
            "bcrypt",
            "blowfish",
            "pbkdf2",
            "sha2",
            "blake3",
            "libsqlite3-sys",
        ] {
            let line = format!("[profile.dev.package.{package}]");
            assert!(text.contains(&line), "{line} missing from {text}");
            assert!(DEV_PROFILE_ADVICE.contains(&format!("{line}\nopt-level = 3\n")));
        }
    }

    #[test]
    fn an_optimized_build_logs_nothing() {
        let recorder = Recorder::default();
        let checked = AtomicBool::new(false);
        tracing::subscriber::with_default(recorder.clone(), || {
            warn_once(&checked, || false);
            warn_once(&checked, || true);
        });
        assert!(recorder.0.lock().unwrap().is_empty());
    }

    #[test]
    fn one_fast_run_is_enough_and_every_run_must_be_slow() {
        let threshold = Duration::from_millis(2);
        let mut timings = [9, 9, 1, 9, 9].map(Duration::from_millis).into_iter();
        let mut calls = 0;
        assert!(!probe_is_slow(5, threshold, || {
            calls += 1;
            timings.next().unwrap()
        }));
        assert_eq!(calls, 3, "stops at the first fast run");
        assert!(probe_is_slow(5, threshold, || Duration::from_millis(9)));
    }

    /// This workspace compiles argon2 and blake2 at `opt-level = 3` even in debug builds (its
    /// root `Cargo.toml`), so the probe must find them optimized. Run with
    /// `--config 'profile.dev.package.argon2.opt-level=0' --config
    /// 'profile.dev.package.blake2.opt-level=0'` (and a separate `CARGO_TARGET_DIR`) to see
    /// the other answer: the ignored test below.
    #[test]
    fn this_workspace_builds_argon2_optimized() {
        // The best of many runs, so a busy test machine cannot fail it.
        let slow = probe_is_slow(50, PROBE_THRESHOLD, || {
            let start = Instant::now();
            probe_hash();
            start.elapsed()
        });
        assert!(!slow);
    }

    #[test]
    #[ignore = "needs argon2 and blake2 built at opt-level 0 (see above)"]
    fn an_unoptimized_argon2_is_detected() {
        assert!(argon2_is_unoptimized());
    }
}
