//! The token-store part of the conformance suite on Redis: the session, single-use token,
//! deletion and rate-limiter checks, counted on one line (`conformance redis: N passed`).

mod common;

use std::sync::Mutex;

use auth_conformance::{Check, deletion, rate_limiter, sessions, single_use};
use custom_backend_example::RedisSessionStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_passes_the_token_store_conformance_suite() {
    let Some(url) = common::redis_url("conformance redis") else {
        return;
    };
    // A key prefix of its own for every check, as the SQL stores give each check tables of
    // its own: the deletion checks purge everything dead before a date, which would reach
    // another check's rows under a shared prefix. Every store is remembered for clean-up.
    let made: Mutex<Vec<RedisSessionStore>> = Mutex::new(Vec::new());
    let factory = || {
        let (url, made) = (url.clone(), &made);
        async move {
            let store = common::store(&url, "conformance").await;
            made.lock().expect("stores").push(store.clone());
            store
        }
    };
    let mut checks: Vec<Check<'_>> = sessions::checks(&factory);
    checks.extend(single_use::checks(&factory));
    checks.extend(deletion::checks(&factory));
    checks.extend(rate_limiter::checks(&factory));
    let report = auth_conformance::run_report("redis", checks).await;
    let stores = std::mem::take(&mut *made.lock().expect("stores"));
    for store in stores {
        store
            .delete_all_keys()
            .await
            .expect("delete the run's keys");
    }
    report.print_and_assert();
}
