//! The store conformance suite: every [`UserStore`] + [`TokenStore`] implementation runs
//! these same checks.
//!
//! Each check is a public `async fn` taking a fresh store by value and panicking (with a
//! message naming the broken rule) if the store breaks the contract written on the traits.
//! The suite needs nothing but this crate: no async runtime, no randomness source. Its
//! concurrency checks poll many calls at once inside one task, so the store sees genuinely
//! overlapping calls as soon as it does I/O (a connection pool, a worker thread).
//!
//! # Using it for your own store
//!
//! Enable the `conformance` feature in your dev-dependencies, add `tokio` (features `rt-multi-thread`
//! and `macros`) as a dev-dependency, and invoke [`store_conformance_tests!`](crate::store_conformance_tests)
//! in an integration test with an expression that makes a fresh, migrated store:
//!
//! ```ignore
//! // tests/conformance.rs of a crate `my-store`
//! async fn fresh_store() -> my_store::MyStore {
//!     let store = my_store::MyStore::connect("mem://").await.unwrap();
//!     store.migrate().await.unwrap();
//!     store
//! }
//!
//! auth_core::store_conformance_tests!(fresh_store());
//! ```
//!
//! This expands to one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per
//! check, named after the check, each calling `auth_core::conformance::<check>(fresh_store().await)`.
//! Put two invocations in two modules to run the suite against two configurations.
//!
//! # What stores must accept
//!
//! - Each check creates its own users (unique emails), sessions and tokens (unique digests
//!   and ids), so a store may share one database between checks that run in parallel.
//! - Times are those of a fixed clock around 2030, aligned to whole microseconds: a store may
//!   keep times with microsecond precision, but no coarser.
//! - [`purge_expired_deletes_in_batches_until_zero`] works on rows timed in 2029, before
//!   every other check's rows, so running it in parallel with the others is safe.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::error::StoreErrorKind;
use crate::ids::{IdKind, SessionId, UserId};
use crate::store::{NewSession, NewToken, RotateOutcome, TokenStore, UserStore};
use crate::token::{TokenDigest, TokenKind};
use crate::user::{NewUser, User};

/// Expands to one `#[tokio::test]` per conformance check, each run on the store made by
/// `$make` (an expression of a future yielding a fresh store; it is evaluated once per test).
///
/// The calling crate needs `tokio` (features `rt-multi-thread`, `macros`) as a
/// dev-dependency and `auth-core` with the `conformance` feature. See the
/// [`conformance`](crate::conformance) module for an example.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::__store_conformance_tests!(
            $make;
            creates_and_finds_users_with_defaults,
            duplicate_email_is_unique_violation_and_keeps_first_row,
            unknown_user_id_is_not_found_on_every_update,
            password_hash_is_set_and_compare_and_set,
            record_login_set_active_and_set_verified_update_the_row,
            session_create_and_access_lookup,
            token_digest_collision_is_unique_violation_with_nothing_half_written,
            rotation_succeeds_once_then_reuse_revokes_the_session,
            refresh_outcomes_for_unknown_wrong_kind_expired_and_revoked,
            concurrent_rotations_of_one_token_rotate_exactly_once,
            revoke_session_is_scoped_to_its_user,
            revoke_user_sessions_keeps_one_and_leaves_other_users_alone,
            list_sessions_filters_and_orders_newest_first,
            purge_expired_deletes_in_batches_until_zero,
            single_use_tokens_are_consumed_once_with_matching_kind_before_expiry,
            concurrent_single_use_consumers_exactly_one_wins,
        );
    };
}

/// Implementation detail of [`store_conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ($make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::conformance::$check($make.await).await;
            }
        )+
    };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A boxed future, the shape `async_trait` methods return.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future until all are done, concurrently, in the calling task.
async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut slots: Vec<(Option<BoxFuture<'a, T>>, Option<T>)> =
        futures.into_iter().map(|f| (Some(f), None)).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, output) in &mut slots {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *future = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(
                slots
                    .iter_mut()
                    .map(|(_, out)| out.take().expect("each future completes once"))
                    .collect(),
            )
        }
    })
    .await
}

/// splitmix64: spreads a counter over 64 bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A value never returned before in this process, and (with overwhelming likelihood) not in
/// any other run sharing the same database.
fn unique() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        mix(nanos as u64 ^ u64::from(std::process::id()).rotate_left(32))
    });
    mix(seed ^ mix(COUNTER.fetch_add(1, Ordering::Relaxed)))
}

fn digest() -> TokenDigest {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&unique().to_le_bytes());
    }
    TokenDigest(bytes)
}

fn session_id() -> SessionId {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&unique().to_le_bytes());
    }
    SessionId::from_bytes(bytes)
}

fn email(tag: &str) -> String {
    format!("{tag}-{:016x}@Example.COM", unique())
}

/// The suite's clock: `t(s)` is `s` seconds after 2030-03-17 17:46:40.123456 UTC.
fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("valid time")
        + Duration::microseconds(123_456)
        + Duration::seconds(seconds)
}

/// A time one year before [`t`]`(0)`, for the purge check.
fn t_old(seconds: i64) -> OffsetDateTime {
    t(seconds) - Duration::days(365)
}

async fn new_user<S: UserStore>(store: &S, tag: &str, now: OffsetDateTime) -> User {
    let new = NewUser::new(&email(tag)).expect("valid email");
    store.create_user(&new, now).await.expect("create_user")
}

/// An id of the store's key kind that no user has.
fn unknown_id(kind: IdKind) -> UserId {
    match kind {
        IdKind::Integer => UserId::Int(i64::MAX - (unique() >> 34) as i64),
        IdKind::Uuid => UserId::Uuid(Uuid::from_u128(
            (u128::from(unique()) << 64) | u128::from(unique()),
        )),
    }
}

fn token(kind: TokenKind, expires_at: OffsetDateTime) -> NewToken {
    NewToken {
        digest: digest(),
        kind,
        expires_at,
    }
}

/// A session with an access and a refresh token.
struct Login {
    session: SessionId,
    access: TokenDigest,
    refresh: TokenDigest,
}

/// Creates a session started at `created` whose access token lives until `access_exp` and
/// whose refresh token (and the session) live until `refresh_exp`.
async fn login<S: TokenStore>(
    store: &S,
    user: &UserId,
    created: OffsetDateTime,
    access_exp: OffsetDateTime,
    refresh_exp: OffsetDateTime,
) -> Login {
    let session = NewSession {
        id: session_id(),
        user_id: *user,
        created_at: created,
        expires_at: refresh_exp,
    };
    let access = token(TokenKind::Access, access_exp);
    let refresh = token(TokenKind::Refresh, refresh_exp);
    store
        .create_session(&session, &[access.clone(), refresh.clone()])
        .await
        .expect("create_session");
    Login {
        session: session.id,
        access: access.digest,
        refresh: refresh.digest,
    }
}

/// A standard session: created at `t(0)`, access until `t(900)`, refresh until a day later.
async fn standard_login<S: TokenStore>(store: &S, user: &UserId) -> Login {
    login(store, user, t(0), t(900), t(86_400)).await
}

fn fresh_pair(access_exp: OffsetDateTime, refresh_exp: OffsetDateTime) -> [NewToken; 2] {
    [
        token(TokenKind::Access, access_exp),
        token(TokenKind::Refresh, refresh_exp),
    ]
}

async fn password_of<S: UserStore>(store: &S, id: &UserId) -> (String, OffsetDateTime) {
    let creds = store
        .find_credentials_by_id(id)
        .await
        .expect("find_credentials_by_id")
        .expect("the user exists");
    (creds.password_hash, creds.user.updated_at)
}

async fn load_user<S: UserStore>(store: &S, id: &UserId) -> User {
    store
        .find_user_by_id(id)
        .await
        .expect("find_user_by_id")
        .expect("the user exists")
}

async fn is_revoked<S: TokenStore>(store: &S, access: &TokenDigest) -> bool {
    store
        .find_access_token(access)
        .await
        .expect("find_access_token")
        .expect("the access token exists")
        .session_revoked
}

async fn session_ids<S: TokenStore>(
    store: &S,
    user: &UserId,
    now: OffsetDateTime,
) -> Vec<SessionId> {
    store
        .list_sessions(user, now)
        .await
        .expect("list_sessions")
        .into_iter()
        .map(|s| s.id)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

/// `create_user` stores the defaults (empty password, `joined_at = created_at = updated_at
/// = now`, no `last_login`) and every finder returns the same user.
pub async fn creates_and_finds_users_with_defaults<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let now = t(0);
    let new = NewUser::new(&email("create")).expect("valid email");
    let user = store.create_user(&new, now).await.expect("create_user");
    assert_eq!(user.email, new.email(), "the normalized email is stored");
    assert!(user.is_active, "new users are active by default");
    assert!(!user.is_verified, "new users are unverified by default");
    assert_eq!(user.last_login, None, "no login yet");
    assert_eq!(user.joined_at, Some(now), "joined_at = now");
    assert_eq!(user.created_at, now, "created_at = now");
    assert_eq!(user.updated_at, now, "updated_at = now");

    let by_id = store
        .find_user_by_id(&user.id)
        .await
        .expect("find_user_by_id");
    assert_eq!(
        by_id.as_ref(),
        Some(&user),
        "find_user_by_id returns the stored row"
    );
    let creds = store
        .find_credentials_by_email(new.email())
        .await
        .expect("find_credentials_by_email")
        .expect("the user is found by email");
    assert_eq!(
        creds.user, user,
        "find_credentials_by_email returns the user"
    );
    assert_eq!(creds.password_hash, "", "the password is empty until set");
    let creds = store
        .find_credentials_by_id(&user.id)
        .await
        .expect("find_credentials_by_id")
        .expect("the user is found by id");
    assert_eq!(creds.user, user);
    assert_eq!(creds.password_hash, "");

    assert!(
        store
            .find_credentials_by_email(&email("nobody"))
            .await
            .expect("find_credentials_by_email")
            .is_none(),
        "an unknown email finds nothing"
    );
    assert!(
        store
            .find_user_by_id(&unknown_id(user.id.kind()))
            .await
            .expect("find_user_by_id")
            .is_none(),
        "an unknown id finds nothing"
    );

    let mut other = NewUser::new(&email("flags")).expect("valid email");
    other.is_active = false;
    other.is_verified = true;
    let second = store.create_user(&other, t(1)).await.expect("create_user");
    assert_ne!(second.id, user.id, "each user gets its own id");
    let stored = store
        .find_user_by_id(&second.id)
        .await
        .expect("find_user_by_id")
        .expect("the second user exists");
    assert!(!stored.is_active, "is_active = false is stored");
    assert!(stored.is_verified, "is_verified = true is stored");
    assert_eq!(stored, second);

    let hashed = NewUser::new(&email("hashed"))
        .expect("valid email")
        .with_password_hash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into());
    let third = store.create_user(&hashed, t(2)).await.expect("create_user");
    let creds = store
        .find_credentials_by_id(&third.id)
        .await
        .expect("find_credentials_by_id")
        .expect("the third user exists");
    assert_eq!(
        Some(creds.password_hash.as_str()),
        hashed.password_hash(),
        "an initial password hash is stored by the same insert"
    );
}

/// A second `create_user` with the same email fails with `UniqueViolation` and changes
/// nothing in the first row.
pub async fn duplicate_email_is_unique_violation_and_keeps_first_row<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let new = NewUser::new(&email("dup")).expect("valid email");
    let first = store.create_user(&new, t(0)).await.expect("create_user");
    store
        .set_password_hash(&first.id, "hash-1", t(1))
        .await
        .expect("set_password_hash");

    let mut again = new.clone();
    again.is_active = false;
    let err = store
        .create_user(&again, t(10))
        .await
        .expect_err("a duplicate email must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");

    let creds = store
        .find_credentials_by_email(new.email())
        .await
        .expect("find_credentials_by_email")
        .expect("the first user is still there");
    assert_eq!(creds.user.id, first.id, "the first row keeps its id");
    assert_eq!(
        creds.password_hash, "hash-1",
        "the first row keeps its password"
    );
    assert!(creds.user.is_active, "the first row keeps its flags");
    assert_eq!(
        creds.user.created_at,
        t(0),
        "the first row keeps its created_at"
    );
}

/// Every update of a user that does not exist fails with `NotFound` (the compare-and-set
/// answers `false`).
pub async fn unknown_user_id_is_not_found_on_every_update<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "known", t(0)).await;
    let nobody = unknown_id(user.id.kind());
    let now = t(5);
    let results = [
        (
            "set_password_hash",
            store.set_password_hash(&nobody, "h", now).await,
        ),
        ("record_login", store.record_login(&nobody, now).await),
        ("set_active", store.set_active(&nobody, false, now).await),
        ("set_verified", store.set_verified(&nobody, true, now).await),
    ];
    for (op, result) in results {
        let err = result.expect_err(op);
        assert_eq!(err.kind(), StoreErrorKind::NotFound, "{op}: {err}");
    }
    assert!(
        !store
            .replace_password_hash(&nobody, "", "h", now)
            .await
            .expect("replace_password_hash"),
        "replace_password_hash of an unknown user replaces nothing"
    );
    let unchanged = store
        .find_user_by_id(&user.id)
        .await
        .expect("find_user_by_id")
        .expect("the known user exists");
    assert_eq!(
        unchanged, user,
        "updates of another id leave this user alone"
    );
}

/// `set_password_hash` replaces the hash; `replace_password_hash` replaces it only while
/// it is still the expected one.
pub async fn password_hash_is_set_and_compare_and_set<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "pw", t(0)).await;

    store
        .set_password_hash(&user.id, "$argon2id$h1", t(5))
        .await
        .expect("set_password_hash");
    assert_eq!(
        password_of(&store, &user.id).await,
        ("$argon2id$h1".to_owned(), t(5))
    );

    assert!(
        !store
            .replace_password_hash(&user.id, "wrong", "$argon2id$h2", t(6))
            .await
            .expect("replace_password_hash"),
        "a stale expected hash must not be replaced"
    );
    assert_eq!(password_of(&store, &user.id).await.0, "$argon2id$h1");

    assert!(
        store
            .replace_password_hash(&user.id, "$argon2id$h1", "$argon2id$h2", t(7))
            .await
            .expect("replace_password_hash"),
        "the expected hash is replaced"
    );
    assert_eq!(
        password_of(&store, &user.id).await,
        ("$argon2id$h2".to_owned(), t(7))
    );

    assert!(
        !store
            .replace_password_hash(&user.id, "$argon2id$h1", "$argon2id$h3", t(8))
            .await
            .expect("replace_password_hash"),
        "a re-hash loses to a password change that happened first"
    );
    assert_eq!(password_of(&store, &user.id).await.0, "$argon2id$h2");

    store
        .set_password_hash(&user.id, "!unusable", t(9))
        .await
        .expect("set_password_hash");
    assert_eq!(
        password_of(&store, &user.id).await,
        ("!unusable".to_owned(), t(9))
    );
}

/// `record_login`, `set_active` and `set_verified` change their column and `updated_at`,
/// and nothing else.
pub async fn record_login_set_active_and_set_verified_update_the_row<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "flags", t(0)).await;

    store
        .record_login(&user.id, t(10))
        .await
        .expect("record_login");
    let after = load_user(&store, &user.id).await;
    assert_eq!(
        after.last_login,
        Some(t(10)),
        "record_login sets last_login"
    );
    assert_eq!(after.updated_at, t(10));

    store
        .set_active(&user.id, false, t(20))
        .await
        .expect("set_active");
    let after = load_user(&store, &user.id).await;
    assert!(!after.is_active, "set_active(false) deactivates");
    assert_eq!(after.updated_at, t(20));
    store
        .set_active(&user.id, true, t(21))
        .await
        .expect("set_active");
    assert!(
        load_user(&store, &user.id).await.is_active,
        "set_active(true) reactivates"
    );

    store
        .set_verified(&user.id, true, t(30))
        .await
        .expect("set_verified");
    let after = load_user(&store, &user.id).await;
    assert!(after.is_verified, "set_verified(true) verifies");
    assert_eq!(after.updated_at, t(30));
    store
        .set_verified(&user.id, false, t(31))
        .await
        .expect("set_verified");
    let after = load_user(&store, &user.id).await;
    assert!(!after.is_verified, "set_verified(false) unverifies");

    assert_eq!(after.email, user.email, "the email is untouched");
    assert_eq!(after.created_at, user.created_at, "created_at is untouched");
    assert_eq!(after.joined_at, user.joined_at, "joined_at is untouched");
    assert_eq!(
        after.last_login,
        Some(t(10)),
        "last_login is untouched by the flags"
    );
}

// ---------------------------------------------------------------------------------------
// Sessions and tokens
// ---------------------------------------------------------------------------------------

/// A session's tokens are found by digest with their session and current user; unknown
/// digests find nothing; the lookup reports the stored kind, expiry and revocation.
pub async fn session_create_and_access_lookup<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "session", t(0)).await;
    let login = standard_login(&store, &user.id).await;

    let record = store
        .find_access_token(&login.access)
        .await
        .expect("find_access_token")
        .expect("the access token is found");
    assert_eq!(record.kind, TokenKind::Access);
    assert_eq!(record.expires_at, t(900), "the token's own expiry");
    assert_eq!(record.session_id, login.session);
    assert!(!record.session_revoked);
    assert_eq!(record.user, user, "the lookup joins the user row");

    let record = store
        .find_access_token(&login.refresh)
        .await
        .expect("find_access_token")
        .expect("the lookup returns the row whatever its kind");
    assert_eq!(
        record.kind,
        TokenKind::Refresh,
        "the stored kind is reported"
    );
    assert_eq!(record.expires_at, t(86_400));

    assert!(
        store
            .find_access_token(&digest())
            .await
            .expect("find_access_token")
            .is_none(),
        "an unknown digest finds nothing"
    );

    let reset = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user.id, &reset, t(0))
        .await
        .expect("insert_single_use_token");
    assert!(
        store
            .find_access_token(&reset.digest)
            .await
            .expect("find_access_token")
            .is_none(),
        "a single-use token has no session, so it never authenticates"
    );

    store
        .set_active(&user.id, false, t(5))
        .await
        .expect("set_active");
    let record = store
        .find_access_token(&login.access)
        .await
        .expect("find_access_token")
        .expect("the access token is found");
    assert!(
        !record.user.is_active,
        "the lookup reads the user's current state"
    );

    assert!(
        store
            .revoke_session(&user.id, &login.session, t(6))
            .await
            .expect("revoke_session")
    );
    assert!(
        is_revoked(&store, &login.access).await,
        "revocation is visible to the next lookup"
    );
}

/// Inserts never overwrite: a digest or session id collision is `UniqueViolation`, and the
/// failed call leaves nothing behind (no session, no other token, no spent token).
pub async fn token_digest_collision_is_unique_violation_with_nothing_half_written<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "collide", t(0)).await;
    let first = standard_login(&store, &user.id).await;

    // A new session whose second token collides with an existing digest.
    let fresh = token(TokenKind::Access, t(900));
    let colliding = NewToken {
        digest: first.access,
        kind: TokenKind::Refresh,
        expires_at: t(86_400),
    };
    let second = NewSession {
        id: session_id(),
        user_id: user.id,
        created_at: t(1),
        expires_at: t(86_400),
    };
    let err = store
        .create_session(&second, &[fresh.clone(), colliding])
        .await
        .expect_err("a digest collision must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    assert_eq!(
        session_ids(&store, &user.id, t(2)).await,
        [first.session],
        "the failed session was not kept"
    );
    assert!(
        store
            .find_access_token(&fresh.digest)
            .await
            .expect("find_access_token")
            .is_none(),
        "the failed session's other token was not kept"
    );
    let record = store
        .find_access_token(&first.access)
        .await
        .expect("find_access_token")
        .expect("the existing token is still there");
    assert_eq!(
        record.kind,
        TokenKind::Access,
        "the existing token was not overwritten"
    );
    assert_eq!(record.session_id, first.session);

    // A session id collision.
    let dup_session = NewSession {
        id: first.session,
        user_id: user.id,
        created_at: t(3),
        expires_at: t(99_999),
    };
    let other = token(TokenKind::Access, t(900));
    let err = store
        .create_session(&dup_session, std::slice::from_ref(&other))
        .await
        .expect_err("a session id collision must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    assert!(
        store
            .find_access_token(&other.digest)
            .await
            .expect("find_access_token")
            .is_none(),
        "the colliding session's token was not kept"
    );
    let sessions = store
        .list_sessions(&user.id, t(4))
        .await
        .expect("list_sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0].expires_at,
        t(86_400),
        "the session was not overwritten"
    );

    // A single-use token colliding with a session token.
    let err = store
        .insert_single_use_token(
            &user.id,
            &NewToken {
                digest: first.refresh,
                kind: TokenKind::PasswordReset,
                expires_at: t(3_600),
            },
            t(5),
        )
        .await
        .expect_err("a single-use digest collision must be refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");

    // A rotation whose new token collides: nothing happens, the old token stays unspent.
    let clash = [
        NewToken {
            digest: first.access,
            kind: TokenKind::Access,
            expires_at: t(1_000),
        },
        token(TokenKind::Refresh, t(90_000)),
    ];
    let err = store
        .rotate_refresh_token(&first.refresh, &clash, t(90_000), t(10))
        .await
        .expect_err("a rotation inserting a duplicate digest must fail");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    let outcome = store
        .rotate_refresh_token(
            &first.refresh,
            &fresh_pair(t(1_000), t(90_000)),
            t(90_000),
            t(11),
        )
        .await
        .expect("rotate_refresh_token");
    assert!(
        matches!(outcome, RotateOutcome::Rotated { .. }),
        "the failed rotation rolled back, so the token is still unspent: {outcome:?}"
    );
}

/// A refresh token rotates once (moving the session's expiry); presenting it again is reuse
/// and revokes the whole session, including the tokens issued by the rotation.
pub async fn rotation_succeeds_once_then_reuse_revokes_the_session<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "rotate", t(0)).await;
    let first = login(&store, &user.id, t(0), t(100), t(1_000)).await;

    let next = fresh_pair(t(200), t(2_000));
    let outcome = store
        .rotate_refresh_token(&first.refresh, &next, t(2_000), t(50))
        .await
        .expect("rotate_refresh_token");
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            session_id: first.session,
            user_id: user.id
        }
    );
    let sessions = store
        .list_sessions(&user.id, t(60))
        .await
        .expect("list_sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, first.session, "rotation keeps the session");
    assert_eq!(sessions[0].refreshed_at, Some(t(50)), "refreshed_at = now");
    assert_eq!(
        sessions[0].expires_at,
        t(2_000),
        "the session's expiry moved"
    );
    assert_eq!(sessions[0].created_at, t(0));
    let record = store
        .find_access_token(&next[0].digest)
        .await
        .expect("find_access_token")
        .expect("the new access token exists");
    assert_eq!(
        record.session_id, first.session,
        "new tokens join the session"
    );
    assert_eq!(record.expires_at, t(200));

    let outcome = store
        .rotate_refresh_token(
            &first.refresh,
            &fresh_pair(t(300), t(3_000)),
            t(3_000),
            t(60),
        )
        .await
        .expect("rotate_refresh_token");
    assert_eq!(
        outcome,
        RotateOutcome::Reused {
            session_id: first.session,
            user_id: user.id
        },
        "a spent refresh token is reuse"
    );
    assert!(
        is_revoked(&store, &first.access).await,
        "reuse revokes the session"
    );
    assert!(
        is_revoked(&store, &next[0].digest).await,
        "reuse revokes the tokens issued by the rotation too"
    );
    let outcome = store
        .rotate_refresh_token(
            &next[1].digest,
            &fresh_pair(t(300), t(3_000)),
            t(3_000),
            t(70),
        )
        .await
        .expect("rotate_refresh_token");
    assert_eq!(
        outcome,
        RotateOutcome::SessionRevoked,
        "the rotated refresh token dies with its session"
    );
    assert!(session_ids(&store, &user.id, t(80)).await.is_empty());
}

/// Refresh outcomes that change nothing: unknown digests and non-refresh tokens are
/// `NotFound`, an expired token is `Expired`, a revoked session's token `SessionRevoked`.
pub async fn refresh_outcomes_for_unknown_wrong_kind_expired_and_revoked<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "outcomes", t(0)).await;
    let rotate = |digest: TokenDigest, now: OffsetDateTime| {
        let store = &store;
        async move {
            let next = fresh_pair(now + Duration::minutes(15), now + Duration::days(1));
            let outcome = store
                .rotate_refresh_token(&digest, &next, now + Duration::days(1), now)
                .await
                .expect("rotate_refresh_token");
            let inserted = store
                .find_access_token(&next[0].digest)
                .await
                .expect("find_access_token")
                .is_some();
            (outcome, inserted)
        }
    };

    assert_eq!(
        rotate(digest(), t(1)).await,
        (RotateOutcome::NotFound, false)
    );

    let live = standard_login(&store, &user.id).await;
    assert_eq!(
        rotate(live.access, t(1)).await,
        (RotateOutcome::NotFound, false),
        "an access token is not a refresh token"
    );
    let reset = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user.id, &reset, t(0))
        .await
        .expect("insert_single_use_token");
    assert_eq!(
        rotate(reset.digest, t(1)).await,
        (RotateOutcome::NotFound, false),
        "a single-use token is not a refresh token"
    );

    let short = login(&store, &user.id, t(0), t(50), t(100)).await;
    assert_eq!(
        rotate(short.refresh, t(100)).await,
        (RotateOutcome::Expired, false),
        "a refresh token is expired at its expiry instant"
    );
    assert_eq!(
        rotate(short.refresh, t(5_000)).await,
        (RotateOutcome::Expired, false)
    );
    assert!(
        matches!(
            rotate(short.refresh, t(99)).await,
            (RotateOutcome::Rotated { .. }, true)
        ),
        "`Expired` changed nothing: the token still rotates before its expiry"
    );

    let revoked = standard_login(&store, &user.id).await;
    assert!(
        store
            .revoke_session(&user.id, &revoked.session, t(10))
            .await
            .expect("revoke_session")
    );
    assert_eq!(
        rotate(revoked.refresh, t(20)).await,
        (RotateOutcome::SessionRevoked, false)
    );
    let logged_out = standard_login(&store, &user.id).await;
    store
        .revoke_user_sessions(&user.id, None, t(30))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        rotate(logged_out.refresh, t(40)).await,
        (RotateOutcome::SessionRevoked, false)
    );
}

/// Of 16 concurrent rotations of one refresh token exactly one is `Rotated`; the others
/// see the token spent (`Reused`, revoking the session) or the session revoked.
pub async fn concurrent_rotations_of_one_token_rotate_exactly_once<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    const N: usize = 16;
    let user = new_user(&store, "race", t(0)).await;
    let login = standard_login(&store, &user.id).await;
    let pairs: Vec<[NewToken; 2]> = (0..N).map(|_| fresh_pair(t(1_000), t(90_000))).collect();
    let calls: Vec<BoxFuture<'_, _>> = pairs
        .iter()
        .map(|pair| store.rotate_refresh_token(&login.refresh, pair, t(90_000), t(10)))
        .collect();
    let outcomes: Vec<RotateOutcome> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("rotate_refresh_token"))
        .collect();

    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "exactly one rotation wins: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            RotateOutcome::Rotated { .. }
                | RotateOutcome::Reused { .. }
                | RotateOutcome::SessionRevoked
        )),
        "losers see reuse or a revoked session: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, RotateOutcome::Reused { .. })),
        "the first loser detects reuse: {outcomes:?}"
    );
    let mut inserted = 0;
    for pair in &pairs {
        if store
            .find_access_token(&pair[0].digest)
            .await
            .expect("find_access_token")
            .is_some()
        {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1, "only the winner's tokens were inserted");
    assert!(
        is_revoked(&store, &login.access).await,
        "reuse revoked the session"
    );
}

/// `revoke_session` only revokes an active session of the given user.
pub async fn revoke_session_is_scoped_to_its_user<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let alice = new_user(&store, "alice", t(0)).await;
    let bob = new_user(&store, "bob", t(0)).await;
    let session = standard_login(&store, &alice.id).await;

    assert!(
        !store
            .revoke_session(&bob.id, &session.session, t(10))
            .await
            .expect("revoke_session"),
        "another user cannot revoke the session"
    );
    assert!(!is_revoked(&store, &session.access).await, "still active");
    assert!(
        store
            .revoke_session(&alice.id, &session.session, t(11))
            .await
            .expect("revoke_session"),
        "its user revokes it"
    );
    assert!(is_revoked(&store, &session.access).await);
    assert!(
        !store
            .revoke_session(&alice.id, &session.session, t(12))
            .await
            .expect("revoke_session"),
        "a revoked session is not revoked twice"
    );
    assert!(
        !store
            .revoke_session(&alice.id, &session_id(), t(12))
            .await
            .expect("revoke_session"),
        "an unknown session is not revoked"
    );
    let short = login(&store, &alice.id, t(0), t(50), t(100)).await;
    assert!(
        !store
            .revoke_session(&alice.id, &short.session, t(200))
            .await
            .expect("revoke_session"),
        "an expired session is not active"
    );
}

/// `revoke_user_sessions` revokes every active session of the user except `keep`, counts
/// them, and leaves other users' sessions alone.
pub async fn revoke_user_sessions_keeps_one_and_leaves_other_users_alone<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let alice = new_user(&store, "alice", t(0)).await;
    let bob = new_user(&store, "bob", t(0)).await;
    let a1 = standard_login(&store, &alice.id).await;
    let a2 = standard_login(&store, &alice.id).await;
    let a3 = standard_login(&store, &alice.id).await;
    let b1 = standard_login(&store, &bob.id).await;

    let revoked = store
        .revoke_user_sessions(&alice.id, Some(&a2.session), t(10))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(revoked, 2, "two sessions revoked, one kept");
    assert_eq!(session_ids(&store, &alice.id, t(11)).await, [a2.session]);
    assert!(is_revoked(&store, &a1.access).await);
    assert!(is_revoked(&store, &a3.access).await);
    assert!(!is_revoked(&store, &a2.access).await, "`keep` is kept");
    assert_eq!(
        session_ids(&store, &bob.id, t(11)).await,
        [b1.session],
        "other users are untouched"
    );
    assert!(!is_revoked(&store, &b1.access).await);

    let revoked = store
        .revoke_user_sessions(&alice.id, None, t(20))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(revoked, 1, "without `keep` every remaining session goes");
    assert!(is_revoked(&store, &a2.access).await);
    let revoked = store
        .revoke_user_sessions(&alice.id, None, t(30))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(revoked, 0, "already revoked sessions are not counted again");
    assert!(
        !is_revoked(&store, &b1.access).await,
        "other users are untouched"
    );
}

/// `list_sessions` returns the user's sessions that are neither revoked nor expired at
/// `now`, newest first, with their times.
pub async fn list_sessions_filters_and_orders_newest_first<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let alice = new_user(&store, "alice", t(0)).await;
    let bob = new_user(&store, "bob", t(0)).await;
    let s1 = login(&store, &alice.id, t(0), t(500), t(1_000)).await;
    let s2 = login(&store, &alice.id, t(10), t(500), t(1_000)).await;
    let s3 = login(&store, &alice.id, t(20), t(40), t(50)).await;
    let s4 = login(&store, &alice.id, t(30), t(500), t(1_000)).await;
    let b1 = login(&store, &bob.id, t(40), t(500), t(1_000)).await;
    assert!(
        store
            .revoke_session(&alice.id, &s4.session, t(35))
            .await
            .expect("revoke_session")
    );

    let listed = store
        .list_sessions(&alice.id, t(45))
        .await
        .expect("list_sessions");
    let ids: Vec<SessionId> = listed.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [s3.session, s2.session, s1.session],
        "active sessions, newest first; the revoked one is left out"
    );
    assert_eq!(listed[0].user_id, alice.id);
    assert_eq!(listed[0].created_at, t(20));
    assert_eq!(listed[0].expires_at, t(50));
    assert_eq!(listed[0].refreshed_at, None);

    assert_eq!(
        session_ids(&store, &alice.id, t(50)).await,
        [s2.session, s1.session],
        "a session is expired at its expiry instant"
    );
    assert_eq!(session_ids(&store, &bob.id, t(45)).await, [b1.session]);
    assert!(
        session_ids(&store, &alice.id, t(1_000)).await.is_empty(),
        "all expired"
    );
    assert!(
        session_ids(&store, &unknown_id(alice.id.kind()), t(45))
            .await
            .is_empty()
    );
}

/// `purge_expired` deletes at most `batch` rows per call (sessions with their tokens,
/// spent or expired single-use tokens) and returns 0 once nothing is left; live rows stay.
pub async fn purge_expired_deletes_in_batches_until_zero<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "purge", t_old(0)).await;
    let mut expired = Vec::new();
    for i in 0..3 {
        expired.push(login(&store, &user.id, t_old(i), t_old(50), t_old(100)).await);
    }
    let revoked = login(&store, &user.id, t_old(0), t_old(500), t(0)).await;
    assert!(
        store
            .revoke_session(&user.id, &revoked.session, t_old(10))
            .await
            .expect("revoke_session")
    );
    let live = login(&store, &user.id, t_old(0), t(500), t(1_000)).await;

    let single = |kind, expires_at| token(kind, expires_at);
    let expired_single = [
        single(TokenKind::PasswordReset, t_old(100)),
        single(TokenKind::EmailVerification, t_old(100)),
    ];
    let spent_single = single(TokenKind::PasswordReset, t(1_000));
    let live_single = single(TokenKind::EmailVerification, t(1_000));
    for tok in expired_single.iter().chain([&spent_single, &live_single]) {
        store
            .insert_single_use_token(&user.id, tok, t_old(0))
            .await
            .expect("insert_single_use_token");
    }
    assert_eq!(
        store
            .consume_single_use_token(&spent_single.digest, TokenKind::PasswordReset, t_old(5))
            .await
            .expect("consume_single_use_token"),
        Some(user.id)
    );

    // 3 expired sessions + 1 revoked session + 2 expired and 1 spent single-use tokens.
    const OWN_ROWS: u64 = 7;
    const BATCH: u32 = 3;
    let before = t_old(1_000);
    let mut total = 0;
    let mut calls = 0;
    loop {
        let n = store
            .purge_expired(before, BATCH)
            .await
            .expect("purge_expired");
        assert!(
            n <= u64::from(BATCH),
            "a call deletes at most `batch` rows, got {n}"
        );
        if calls == 0 {
            assert_eq!(n, u64::from(BATCH), "the first call fills its batch");
        }
        calls += 1;
        total += n;
        if n == 0 {
            break;
        }
        assert!(calls < 1_000, "purge_expired never reached 0");
    }
    assert!(
        total >= OWN_ROWS,
        "every expired row went: {total} < {OWN_ROWS}"
    );
    assert!(
        calls >= 3,
        "7 rows in batches of 3 take at least 3 calls, then a 0"
    );

    for login in expired.iter().chain([&revoked]) {
        assert!(
            store
                .find_access_token(&login.access)
                .await
                .expect("find_access_token")
                .is_none(),
            "the purged session's tokens went with it"
        );
    }
    assert!(
        !is_revoked(&store, &live.access).await,
        "a live session and its tokens stay"
    );
    assert_eq!(session_ids(&store, &user.id, t(0)).await, [live.session]);
    for tok in &expired_single {
        assert_eq!(
            store
                .consume_single_use_token(&tok.digest, tok.kind, t_old(50))
                .await
                .expect("consume_single_use_token"),
            None,
            "an expired single-use token was purged (it would still be valid at that time)"
        );
    }
    assert_eq!(
        store
            .consume_single_use_token(&live_single.digest, live_single.kind, t(0))
            .await
            .expect("consume_single_use_token"),
        Some(user.id),
        "a live single-use token stays"
    );
    assert_eq!(
        store.purge_expired(before, 0).await.expect("purge_expired"),
        0,
        "a batch of 0 deletes nothing"
    );
}

/// A single-use token is consumed once, only with its own kind, only before its expiry; a
/// refused attempt spends nothing.
pub async fn single_use_tokens_are_consumed_once_with_matching_kind_before_expiry<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    let user = new_user(&store, "single", t(0)).await;
    let consume = |digest: TokenDigest, kind, now| {
        let store = &store;
        async move {
            store
                .consume_single_use_token(&digest, kind, now)
                .await
                .expect("consume_single_use_token")
        }
    };
    let reset = token(TokenKind::PasswordReset, t(100));
    store
        .insert_single_use_token(&user.id, &reset, t(0))
        .await
        .expect("insert_single_use_token");

    assert_eq!(
        consume(reset.digest, TokenKind::EmailVerification, t(10)).await,
        None,
        "a token of another kind is refused"
    );
    assert_eq!(
        consume(reset.digest, TokenKind::PasswordReset, t(100)).await,
        None,
        "a token is expired at its expiry instant"
    );
    assert_eq!(
        consume(reset.digest, TokenKind::PasswordReset, t(10)).await,
        Some(user.id),
        "the refused attempts spent nothing"
    );
    assert_eq!(
        consume(reset.digest, TokenKind::PasswordReset, t(11)).await,
        None,
        "a token is consumed once"
    );
    assert_eq!(
        consume(digest(), TokenKind::PasswordReset, t(10)).await,
        None
    );

    let login = standard_login(&store, &user.id).await;
    assert_eq!(
        consume(login.access, TokenKind::Access, t(10)).await,
        None,
        "a session token is not a single-use token"
    );
    assert!(!is_revoked(&store, &login.access).await);

    let verify = token(TokenKind::EmailVerification, t(100));
    store
        .insert_single_use_token(&user.id, &verify, t(0))
        .await
        .expect("insert_single_use_token");
    let err = store
        .insert_single_use_token(&user.id, &verify, t(1))
        .await
        .expect_err("a duplicate single-use digest is refused");
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation, "{err}");
    assert_eq!(
        consume(verify.digest, TokenKind::EmailVerification, t(20)).await,
        Some(user.id)
    );
}

/// Of 16 concurrent consumers of one single-use token exactly one gets its user.
pub async fn concurrent_single_use_consumers_exactly_one_wins<S>(store: S)
where
    S: UserStore + TokenStore + 'static,
{
    const N: usize = 16;
    let user = new_user(&store, "race", t(0)).await;
    let reset = token(TokenKind::PasswordReset, t(3_600));
    store
        .insert_single_use_token(&user.id, &reset, t(0))
        .await
        .expect("insert_single_use_token");
    let calls: Vec<BoxFuture<'_, _>> = (0..N)
        .map(|_| store.consume_single_use_token(&reset.digest, TokenKind::PasswordReset, t(10)))
        .collect();
    let results: Vec<Option<UserId>> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("consume_single_use_token"))
        .collect();
    let winners: Vec<&UserId> = results.iter().flatten().collect();
    assert_eq!(
        winners,
        [&user.id],
        "exactly one consumer wins: {results:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_values_do_not_repeat() {
        let mut seen: Vec<u64> = (0..1_000).map(|_| unique()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1_000);
        assert_ne!(digest(), digest());
    }

    #[test]
    fn the_clock_is_microsecond_aligned() {
        assert_eq!(t(0).nanosecond() % 1_000, 0);
        assert!(t_old(100_000) < t(0));
    }

    #[tokio::test]
    async fn join_all_keeps_order() {
        let futures: Vec<BoxFuture<'_, u32>> = (0..5u32)
            .map(|i| Box::pin(async move { i * 2 }) as BoxFuture<'_, u32>)
            .collect();
        assert_eq!(join_all(futures).await, [0, 2, 4, 6, 8]);
    }
}
