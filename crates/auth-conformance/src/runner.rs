//! The factory trait, the check type and the runner.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use auth_core::{IdKind, NewUser, OffsetDateTime, StoreError, StoreErrorKind, UserId, UserStore};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};

use crate::memory::MemoryStore;
use crate::support;

/// Makes the stores the checks run on.
///
/// Each check calls [`create`](StoreFactory::create) once and works on the store it gets.
/// The store may be fresh and empty, or share a database with other checks (and other
/// test processes): every check makes its own users, emails, digests, session ids and
/// rate-limit keys, and uses fixed times in 2030 (and in 2029 for the deletion checks).
///
/// A closure returning a future is a factory (with the default hooks):
///
/// ```
/// # use auth_conformance::MemoryStore;
/// # use auth_core::IdKind;
/// # async fn demo() {
/// let factory = || async { MemoryStore::new(IdKind::Uuid) };
/// auth_conformance::run_session_store("memory-tokens", &factory).await;
/// # }
/// ```
#[async_trait::async_trait]
pub trait StoreFactory: Send + Sync {
    /// The store under test.
    type Store: Send + Sync + 'static;

    /// A store for one check: migrated, ready, and isolated enough that the check's own
    /// rows are only touched by the check (see the trait docs).
    async fn create(&self) -> Self::Store;

    /// The raw-insert hook, needed by the [`UserStore`] checks (stores without users do
    /// not need it): inserts a user row exactly as other software would have written it,
    /// bypassing the store's normalization, and returns its key:
    ///
    /// - `email` exactly as given (for example `Alice-1f3c@Example.COM`);
    /// - password `""`, `is_active = true`, `is_verified = false`, `last_login` and
    ///   `joined_at` empty, `created_at = updated_at = now`.
    ///
    /// A SQL store runs a plain `INSERT` on its user table. The default answers an
    /// error, which fails the checks that need the hook.
    async fn insert_raw_user(
        &self,
        store: &Self::Store,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        let _ = (store, email, now);
        Err(StoreError::new(
            StoreErrorKind::Other,
            "insert_raw_user: this factory does not implement the raw-insert hook",
        ))
    }

    /// The user that the session and single-use token checks give their sessions and
    /// tokens to.
    ///
    /// The default makes up a random UUID key and writes nothing: right for a token-only
    /// store that does not check its users. A store whose sessions must belong to an
    /// existing user (a foreign key) is run through [`WithUsers`], which creates one; the
    /// runners that need users ([`run_full`](crate::run_full)) do that themselves.
    async fn session_user(&self, store: &Self::Store, now: OffsetDateTime) -> UserId {
        let _ = (store, now);
        UserId::Uuid(uuid::Uuid::new_v4())
    }
}

#[async_trait::async_trait]
impl<C, Fut> StoreFactory for C
where
    C: Fn() -> Fut + Send + Sync,
    Fut: Future + Send,
    Fut::Output: Send + Sync + 'static,
{
    type Store = Fut::Output;

    async fn create(&self) -> Self::Store {
        self().await
    }
}

/// A factory adapter whose [`session_user`](StoreFactory::session_user) creates a real
/// user (through [`UserStore::create_user`]), for stores whose sessions and tokens must
/// belong to an existing user. Everything else is the wrapped factory's.
///
/// [`run_full`](crate::run_full) and the other runners whose stores hold users use it
/// already; wrap a factory yourself to run a session or single-use token check alone on
/// such a store:
///
/// ```
/// # use auth_conformance::{MemoryStoreFactory, WithUsers, sessions};
/// # async fn demo() {
/// let factory = MemoryStoreFactory::default();
/// sessions::concurrent_rotations_rotate_exactly_once(&WithUsers(&factory)).await;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WithUsers<'a, F>(pub &'a F);

#[async_trait::async_trait]
impl<F> StoreFactory for WithUsers<'_, F>
where
    F: StoreFactory,
    F::Store: UserStore,
{
    type Store = F::Store;

    async fn create(&self) -> Self::Store {
        self.0.create().await
    }

    async fn insert_raw_user(
        &self,
        store: &Self::Store,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        self.0.insert_raw_user(store, email, now).await
    }

    async fn session_user(&self, store: &Self::Store, now: OffsetDateTime) -> UserId {
        let new = NewUser::new(&support::email("owner")).expect("a valid generated email");
        store
            .create_user(&new, now)
            .await
            .expect("create_user for the owner of the check's sessions")
            .id
    }
}

/// The factory of [`MemoryStore`]s: a fresh, empty store per check, and
/// [`MemoryStore::insert_raw_user`] as the raw-insert hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryStoreFactory {
    /// The key kind of the stores' users.
    pub id_kind: IdKind,
}

impl MemoryStoreFactory {
    /// A factory of stores whose users get keys of `id_kind`.
    pub fn new(id_kind: IdKind) -> Self {
        Self { id_kind }
    }
}

#[async_trait::async_trait]
impl StoreFactory for MemoryStoreFactory {
    type Store = MemoryStore;

    async fn create(&self) -> MemoryStore {
        MemoryStore::new(self.id_kind)
    }

    async fn insert_raw_user(
        &self,
        store: &MemoryStore,
        email: &str,
        now: OffsetDateTime,
    ) -> Result<UserId, StoreError> {
        store.insert_raw_user(email, now)
    }
}

/// One check of the suite, ready to run: its suite, its name and its future.
///
/// Lists of checks come from the suite modules (`users::checks(&factory)`, ...); run
/// them with [`run`] or [`run_report`].
pub struct Check<'a> {
    suite: &'static str,
    name: &'static str,
    future: BoxFuture<'a, ()>,
}

impl<'a> Check<'a> {
    /// A check named `name` in `suite`; `future` panics if the store breaks the rule.
    pub fn new(suite: &'static str, name: &'static str, future: BoxFuture<'a, ()>) -> Self {
        Self {
            suite,
            name,
            future,
        }
    }

    /// The suite: `users`, `credentials`, `sessions`, `single_use`, `deletion`,
    /// `rate_limiter` or `combined`.
    pub fn suite(&self) -> &'static str {
        self.suite
    }

    /// The check's name, which is also the name of its public function.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `suite::name`.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.suite, self.name)
    }
}

impl std::fmt::Debug for Check<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full_name())
    }
}

/// The result of running a list of checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The store's name, as given to the runner.
    pub store: String,
    /// The checks that passed (`suite::name`), sorted.
    pub passed: Vec<String>,
    /// The checks that failed (`suite::name`, panic message), sorted.
    pub failed: Vec<(String, String)>,
}

impl Report {
    /// The summary line: `conformance <store>: N passed` (and `, M failed`).
    pub fn summary(&self) -> String {
        if self.failed.is_empty() {
            format!("conformance {}: {} passed", self.store, self.passed.len())
        } else {
            format!(
                "conformance {}: {} passed, {} failed",
                self.store,
                self.passed.len(),
                self.failed.len()
            )
        }
    }

    /// Prints the summary and every failure (and writes the summary to
    /// [`REPORT_DIR_ENV`]'s directory when set), and panics if a check failed.
    pub fn print_and_assert(&self) {
        println!("{}", self.summary());
        if let Some(dir) = std::env::var_os(REPORT_DIR_ENV) {
            let dir = std::path::PathBuf::from(dir);
            let file: String = self
                .store
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let written = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join(file), format!("{}\n", self.summary())));
            if let Err(e) = written {
                eprintln!("conformance report not written: {e}");
            }
        }
        for (name, message) in &self.failed {
            println!("  FAILED {name}: {message}");
        }
        if !self.failed.is_empty() {
            let mut message = format!(
                "conformance {}: {} of {} checks failed:",
                self.store,
                self.failed.len(),
                self.failed.len() + self.passed.len()
            );
            for (name, why) in &self.failed {
                message.push_str(&format!("\n  {name}: {why}"));
            }
            panic!("{message}");
        }
    }
}

/// The environment variable naming a directory where every run also writes its summary
/// line (one file per store name), so a CI script can print every store's count after
/// `cargo test` (which hides the output of passing tests). `cargo xtask ci` sets it.
pub const REPORT_DIR_ENV: &str = "AUTH_CONFORMANCE_REPORT_DIR";

/// The environment variable that runs only the checks whose `suite::name` contains its
/// value (for debugging one check against a real store).
pub const FILTER_ENV: &str = "AUTH_CONFORMANCE_FILTER";
/// The environment variable that sets how many checks run at once (default 4).
pub const CONCURRENCY_ENV: &str = "AUTH_CONFORMANCE_CONCURRENCY";
/// The environment variable that sets each check's time limit in seconds (default 300):
/// a store that hangs fails the check instead of the whole run.
pub const TIMEOUT_ENV: &str = "AUTH_CONFORMANCE_TIMEOUT_SECS";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the check panicked with a non-text payload".to_owned()
    }
}

/// Runs `checks` (a few at a time, each check's panic caught, each under a time limit)
/// and reports, without printing or panicking. Honors [`FILTER_ENV`],
/// [`CONCURRENCY_ENV`] and [`TIMEOUT_ENV`]. Needs a Tokio runtime with its timer (as
/// `#[tokio::test]` makes); a multi-threaded one lets the concurrency checks run in
/// parallel.
pub async fn run_report(store: &str, checks: Vec<Check<'_>>) -> Report {
    let filter = std::env::var(FILTER_ENV).ok().filter(|f| !f.is_empty());
    let concurrency = usize::try_from(env_number(CONCURRENCY_ENV, 4)).unwrap_or(4);
    let limit = Duration::from_secs(env_number(TIMEOUT_ENV, 300));

    let selected = checks.into_iter().filter(|c| {
        filter
            .as_ref()
            .is_none_or(|f| c.full_name().contains(f.as_str()))
    });
    let mut results: Vec<(String, Result<(), String>)> = futures::stream::iter(selected)
        .map(|check| async move {
            let name = check.full_name();
            let outcome =
                tokio::time::timeout(limit, AssertUnwindSafe(check.future).catch_unwind()).await;
            let result = match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(payload)) => Err(panic_message(payload.as_ref())),
                Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
            };
            (name, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let mut report = Report {
        store: store.to_owned(),
        ..Report::default()
    };
    for (name, result) in results {
        match result {
            Ok(()) => report.passed.push(name),
            Err(message) => report.failed.push((name, message)),
        }
    }
    report
}

/// Runs `checks` with [`run_report`], prints `conformance <store>: N passed` (and each
/// failure with its message), and panics if any check failed.
pub async fn run(store: &str, checks: Vec<Check<'_>>) {
    run_report(store, checks).await.print_and_assert();
}
