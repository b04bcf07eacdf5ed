//! The storage conformance suite every tortoise-auth store passes, and [`MemoryStore`],
//! the in-memory reference store for applications' own tests.
//!
//! Every rule written in the docs of `auth-core`'s storage traits ([`UserStore`],
//! [`CredentialStore`], [`SessionStore`], [`SingleUseTokenStore`], [`ExpiredDeletion`],
//! [`RateLimiter`]) has a check here. A store that passes the suites for the traits it
//! implements keeps the contract the rest of the library builds on.
//!
//! # Testing your own store
//!
//! Add the crate and Tokio as dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! auth-conformance = "0.1"
//! tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
//! ```
//!
//! Implement [`StoreFactory`] for something that makes your store, and call the runner
//! of the traits you implement from one test. A store that holds everything (users,
//! sessions, tokens, rate limits; the SQL stores) runs [`run_full`]:
//!
//! ```no_run
//! use auth_conformance::{StoreFactory, MemoryStore};
//! use auth_core::{IdKind, OffsetDateTime, StoreError, UserId};
//!
//! // Stands in for your store: `MyStore::connect(url).await`, migrated, with a table
//! // prefix or schema of its own.
//! type MyStore = MemoryStore;
//!
//! struct Factory;
//!
//! #[auth_core::async_trait]
//! impl StoreFactory for Factory {
//!     type Store = MyStore;
//!
//!     async fn create(&self) -> MyStore {
//!         MemoryStore::new(IdKind::Integer)
//!     }
//!
//!     // The raw-insert hook: a plain INSERT of a row as other software wrote it
//!     // (email exactly as given, joined_at empty). Needed by the user checks.
//!     async fn insert_raw_user(
//!         &self,
//!         store: &MyStore,
//!         email: &str,
//!         now: OffsetDateTime,
//!     ) -> Result<UserId, StoreError> {
//!         store.insert_raw_user(email, now)
//!     }
//! }
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn conformance() {
//!     auth_conformance::run_full("my-store", &Factory).await;
//! }
//! # fn main() {}
//! ```
//!
//! The runner runs every check of the suite, each on a store from
//! [`StoreFactory::create`], a few at a time; catches each check's panic; prints one line,
//! `conformance my-store: 48 passed` (and, for each failure, its name and message); and
//! panics at the end if any check failed, naming the broken rules.
//!
//! A store that implements only part of the traits runs only its part. A Redis token
//! store beside a SQL user store, for example:
//!
//! ```no_run
//! # use auth_conformance::{Check, MemoryStore};
//! # use auth_core::IdKind;
//! # async fn demo() {
//! let factory = || async { MemoryStore::new(IdKind::Uuid) }; // your RedisStore::connect
//! // One line per suite...
//! auth_conformance::run_session_store("redis", &factory).await;
//! // ...or several suites counted on one line.
//! let mut checks: Vec<Check<'_>> = auth_conformance::sessions::checks(&factory);
//! checks.extend(auth_conformance::single_use::checks(&factory));
//! auth_conformance::run("redis", checks).await;
//! # }
//! ```
//!
//! | runner | the store implements | suite modules |
//! | --- | --- | --- |
//! | [`run_full`] | every trait | all below |
//! | [`run_user_store`] | [`UserStore`] (and the raw-insert hook) | [`users`] |
//! | [`run_credential_store`] | [`UserStore`], [`SessionStore`], [`SingleUseTokenStore`], [`CredentialStore`] | [`credentials`] |
//! | [`run_session_store`] | [`SessionStore`] | [`sessions`] |
//! | [`run_single_use_token_store`] | [`SingleUseTokenStore`] | [`single_use`] |
//! | [`run_expired_deletion`] | [`SessionStore`], [`SingleUseTokenStore`], [`ExpiredDeletion`] | [`deletion`] |
//! | [`run_rate_limiter`] | [`RateLimiter`] | [`rate_limiter`] |
//! | [`run_combined`] | [`UserStore`], [`SessionStore`], [`SingleUseTokenStore`], [`ExpiredDeletion`], [`RateLimiter`] | [`combined`] |
//!
//! The session, single-use and deletion checks give their sessions and tokens to users
//! from [`StoreFactory::session_user`]: by default a random key with no row, right for a
//! token-only store. If your sessions need an existing user (a foreign key), wrap the
//! factory in [`WithUsers`]; [`run_full`] does.
//!
//! # What the checks assume, and what they allow
//!
//! - **A Tokio runtime** with its timer (what `#[tokio::test]` builds). The concurrency
//!   checks (50 rotations of one token, 50 consumers of one single-use token, 200 hits on
//!   one rate-limit key) spawn one task per call, so a multi-threaded runtime runs them in
//!   parallel; give your store a pool with several connections so they really overlap.
//! - **Sharing one database.** Every check makes its own users (random emails), digests,
//!   session ids and rate-limit keys, so the factory may hand out stores on one database,
//!   and several test processes may run at once. Times come from a fixed clock in 2030,
//!   aligned to whole microseconds (a store may keep microseconds, nothing coarser); the
//!   deletion checks work in 2029 and call `delete_expired` with a `before` in 2029, so
//!   they never reach other checks' rows, provided the store judges "revoked" and "spent"
//!   by when that happened (which [`deletion`] checks). Two deletion checks running at
//!   once on the same tables can reach each other's 2029 rows, though: give each check
//!   tables of its own (a table prefix or a schema, as this project's SQL stores do), or
//!   run with `AUTH_CONFORMANCE_CONCURRENCY=1`.
//! - **Fresh stores are fine too**: [`MemoryStoreFactory`] gives each check an empty one.
//!
//! # Debugging one check
//!
//! Every check is a public async function of its suite module, named after the rule it
//! proves, taking the factory: call it alone from a test,
//!
//! ```no_run
//! # use auth_conformance::{MemoryStoreFactory, WithUsers};
//! # async fn demo() {
//! let factory = MemoryStoreFactory::default();
//! auth_conformance::sessions::concurrent_rotations_rotate_exactly_once(&WithUsers(&factory)).await;
//! # }
//! ```
//!
//! or set [`FILTER_ENV`] (`AUTH_CONFORMANCE_FILTER=grace`) to run only the checks whose
//! `suite::name` contains it. [`CONCURRENCY_ENV`] sets how many checks run at once
//! (default 4) and [`TIMEOUT_ENV`] each check's time limit (default 300 s).
//!
//! # Decisions the trait docs leave open
//!
//! The suite pins these, and [`MemoryStore`] implements them:
//!
//! - Every expiry is exclusive: a token, session or window is over *at* its end instant.
//! - "Dead as of `before`" (deletion) means a session revoked at or before `before`, a
//!   single-use token spent at or before it. How rows are counted is not pinned
//!   ([`MemoryStore`] counts a session with its tokens as one row).
//! - "Outstanding" single-use tokens (voiding) are unspent and unexpired; expired ones are
//!   neither voided nor counted.
//! - The grace window and the idle timeout are checked well inside and well outside
//!   their bounds, not at the exact instant ([`MemoryStore`]: a replay is allowed while
//!   `now < rotated_at + window`; a session is idle once `now >= last_activity + timeout`).
//! - `record_login`, `set_active` and `set_verified` set `updated_at` (the row changed).
//! - A `max_active` of 0 is taken as 1: the new session always stays.
//! - A grace replay answers from the window given when the token was rotated.
//! - A rate-limit key is stale for deletion by the policy of its last hit.

#![forbid(unsafe_code)]

use auth_core::{
    CredentialStore, ExpiredDeletion, RateLimiter, SessionStore, SingleUseTokenStore, UserStore,
};

/// Builds the check list of a suite module from the names of its check functions; with
/// `=> WithUsers`, each check runs through that factory adapter.
macro_rules! suite {
    ($suite:literal, $factory:ident; $($check:ident),+ $(,)?) => {
        vec![$(
            $crate::runner::Check::new(
                $suite,
                stringify!($check),
                ::std::boxed::Box::pin($check($factory)),
            )
        ),+]
    };
    ($suite:literal, $factory:ident => $wrap:ident; $($check:ident),+ $(,)?) => {
        vec![$(
            $crate::runner::Check::new(
                $suite,
                stringify!($check),
                ::std::boxed::Box::pin(async move {
                    let wrapped = $crate::runner::$wrap($factory);
                    $check(&wrapped).await
                }),
            )
        ),+]
    };
}

mod memory;
mod runner;
mod support;

pub mod combined;
pub mod credentials;
pub mod deletion;
pub mod rate_limiter;
#[cfg(feature = "service")]
pub mod service;
pub mod sessions;
pub mod single_use;
pub mod users;

pub use memory::MemoryStore;
pub use runner::{
    CONCURRENCY_ENV, Check, FILTER_ENV, MemoryStoreFactory, REPORT_DIR_ENV, Report, StoreFactory,
    TIMEOUT_ENV, WithUsers, run, run_report,
};

/// Every check of every suite, for a store that implements every storage trait (the SQL
/// stores, [`MemoryStore`]). The session, single-use and deletion checks run through
/// [`WithUsers`], so their sessions belong to real users.
pub fn full_checks<F>(factory: &F) -> Vec<Check<'_>>
where
    F: StoreFactory,
    F::Store: UserStore
        + CredentialStore
        + SessionStore
        + SingleUseTokenStore
        + ExpiredDeletion
        + RateLimiter,
{
    let mut checks = users::checks(factory);
    checks.extend(credentials::checks(factory));
    checks.extend(sessions::checks_with_users(factory));
    checks.extend(single_use::checks_with_users(factory));
    checks.extend(deletion::checks_with_users(factory));
    checks.extend(rate_limiter::checks(factory));
    checks.extend(combined::checks(factory));
    checks
}

/// Runs every suite ([`full_checks`]) on stores from `factory` and prints
/// `conformance <name>: N passed`; panics naming every failed check.
pub async fn run_full<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore
        + CredentialStore
        + SessionStore
        + SingleUseTokenStore
        + ExpiredDeletion
        + RateLimiter,
{
    run(name, full_checks(factory)).await;
}

/// Runs the [`users`] suite; the factory must implement
/// [`insert_raw_user`](StoreFactory::insert_raw_user).
pub async fn run_user_store<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    run(name, users::checks(factory)).await;
}

/// Runs the [`credentials`] suite.
pub async fn run_credential_store<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + CredentialStore,
{
    run(name, credentials::checks(factory)).await;
}

/// Runs the [`sessions`] suite (wrap the factory in [`WithUsers`] if sessions need an
/// existing user).
pub async fn run_session_store<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore,
{
    run(name, sessions::checks(factory)).await;
}

/// Runs the [`single_use`] suite (wrap the factory in [`WithUsers`] if tokens need an
/// existing user).
pub async fn run_single_use_token_store<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: SingleUseTokenStore,
{
    run(name, single_use::checks(factory)).await;
}

/// Runs the [`deletion`] suite (wrap the factory in [`WithUsers`] if sessions need an
/// existing user).
pub async fn run_expired_deletion<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: SessionStore + SingleUseTokenStore + ExpiredDeletion,
{
    run(name, deletion::checks(factory)).await;
}

/// Runs the [`rate_limiter`] suite.
pub async fn run_rate_limiter<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: RateLimiter,
{
    run(name, rate_limiter::checks(factory)).await;
}

/// Runs the [`combined`] suite.
pub async fn run_combined<F>(name: &str, factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore + SessionStore + SingleUseTokenStore + ExpiredDeletion + RateLimiter,
{
    run(name, combined::checks(factory)).await;
}
