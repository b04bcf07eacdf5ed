//! Shared by the tests: where Redis is, and a key prefix of the test's own.
#![allow(dead_code)]

use custom_backend_example::RedisSessionStore;

/// The Redis these tests run on.
pub const URL_ENV: &str = "AUTH_TEST_REDIS_URL";
/// Set to 1 (as `.ci/run` does) to fail instead of skipping when a backend is missing.
pub const REQUIRE_ALL_ENV: &str = "AUTH_TEST_REQUIRE_ALL";

/// The Redis URL, or `None` after printing a skip notice; panics when it is unset and
/// `AUTH_TEST_REQUIRE_ALL=1`.
pub fn redis_url(test: &str) -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var(REQUIRE_ALL_ENV).as_deref() != Ok("1"),
                "{test}: {URL_ENV} is unset but {REQUIRE_ALL_ENV}=1 requires every backend"
            );
            println!("{test}: skipped, {URL_ENV} is unset (e.g. redis://127.0.0.1:6379)");
            None
        }
    }
}

/// A prefix no other test or run uses: `tortoise-auth-test:<tag>:<random>:`.
pub fn unique_prefix(tag: &str) -> String {
    format!(
        "tortoise-auth-test:{tag}:{}:",
        uuid::Uuid::new_v4().simple()
    )
}

/// A store on `url` under a fresh prefix.
pub async fn store(url: &str, tag: &str) -> RedisSessionStore {
    RedisSessionStore::connect(url)
        .await
        .expect("connect to Redis")
        .with_prefix(unique_prefix(tag))
}
