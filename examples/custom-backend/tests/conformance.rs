//! The token-store part of the conformance suite on Redis: the session, single-use token,
//! deletion and rate-limiter checks, counted on one line (`conformance redis: N passed`).

mod common;

use auth_conformance::{Check, deletion, rate_limiter, sessions, single_use};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_passes_the_token_store_conformance_suite() {
    let Some(url) = common::redis_url("conformance redis") else {
        return;
    };
    // One prefix for the whole run, shared by every check as a database is shared: each
    // check makes its own users, digests and keys, and the deletion checks work in 2029.
    let store = common::store(&url, "conformance").await;
    let factory = || {
        let store = store.clone();
        async move { store }
    };
    let mut checks: Vec<Check<'_>> = sessions::checks(&factory);
    checks.extend(single_use::checks(&factory));
    checks.extend(deletion::checks(&factory));
    checks.extend(rate_limiter::checks(&factory));
    let report = auth_conformance::run_report("redis", checks).await;
    store
        .delete_all_keys()
        .await
        .expect("delete the run's keys");
    report.print_and_assert();
}
