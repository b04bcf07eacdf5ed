//! H14: hashing runs on the bounded blocking pool, never on the async executor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_hash::{
    Argon2Params, HashError, HasherConfig, HashingPool, MultiHasher, PasswordHasher, Verification,
};

/// While 64 verifications run, a 10 ms ticker never waits more than 50 ms between ticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticker_keeps_ticking_during_64_concurrent_verifications() {
    let hasher = MultiHasher::new(HasherConfig {
        argon2: Argon2Params {
            time_cost: 1,
            memory_kib: 8192,
            parallelism: 1,
        },
        ..HasherConfig::default()
    })
    .unwrap();
    // Bound 1 leaves a core to the runtime on this 2-core machine, so the test measures
    // executor blocking and not CPU starvation by other processes.
    let pool = HashingPool::new(Arc::new(hasher), 1);
    let encoded = pool.hash("correct horse battery staple").await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            let mut last = Instant::now();
            let mut max_gap = Duration::ZERO;
            let mut ticks = 0u32;
            while !stop.load(Ordering::Relaxed) {
                interval.tick().await;
                let now = Instant::now();
                max_gap = max_gap.max(now - last);
                last = now;
                ticks += 1;
            }
            (max_gap, ticks)
        }
    });

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let pool = pool.clone();
            let encoded = encoded.clone();
            tokio::spawn(async move {
                let password = if i % 2 == 0 {
                    "correct horse battery staple"
                } else {
                    "wrong"
                };
                (i, pool.verify(password, &encoded).await)
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        assert_eq!(result.unwrap().is_match(), i % 2 == 0);
    }
    stop.store(true, Ordering::Relaxed);
    let (max_gap, ticks) = ticker.await.unwrap();
    assert!(ticks > 0);
    assert!(
        max_gap < Duration::from_millis(50),
        "ticker waited {max_gap:?}"
    );
}

/// Records how many calls run at the same time.
struct Counting {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl PasswordHasher for Counting {
    fn hash(&self, _: &str) -> Result<String, HashError> {
        Ok(String::new())
    }
    fn verify(&self, _: &str, _: &str) -> Result<Verification, HashError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(Verification::Mismatch)
    }
    fn dummy_verify(&self, _: &str) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_max_concurrency_hashes_run_at_once() {
    let counting = Arc::new(Counting {
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let pool = HashingPool::new(counting.clone(), 3);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.verify("pw", "x").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Verification::Mismatch);
    }
    let peak = counting.peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "peak {peak}");
}

/// A cancelled call (caller dropped, e.g. client disconnect) keeps its permit until the
/// blocking work ends, then releases it: the pool keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_release_their_permit() {
    let counting = Arc::new(Counting {
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let pool = HashingPool::new(counting, 1);
    for _ in 0..5 {
        let _ = tokio::time::timeout(Duration::from_micros(1), pool.verify("pw", "x")).await;
    }
    assert_eq!(
        pool.verify("pw", "x").await.unwrap(),
        Verification::Mismatch
    );
}
