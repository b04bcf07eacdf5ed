//! Checks of [`UserStore`]: creation and defaults, uniqueness and email case, updates,
//! compare-and-set, `credentials_current`, `set_verified`'s `joined_at`, deletion.
//!
//! Every check needs [`StoreFactory::insert_raw_user`] only where it says so.

use auth_core::{NewUser, OffsetDateTime, StoreErrorKind, User, UserId, UserStore};

use crate::runner::{Check, StoreFactory};
use crate::support::{email, t, unique_tag, unknown_id};

/// Every check of this suite, on stores made by `factory`.
pub fn checks<'a, F>(factory: &'a F) -> Vec<Check<'a>>
where
    F: StoreFactory,
    F::Store: UserStore,
{
    suite!("users", factory;
        create_user_stores_defaults_and_finders_agree,
        duplicate_email_is_unique_violation_and_keeps_first_row,
        legacy_mixed_case_email_is_found_and_blocks_registration,
        only_ascii_letters_are_case_folded,
        unknown_user_is_not_found_on_every_update,
        password_hash_is_set_and_compare_and_set,
        record_login_set_active_set_verified_change_only_their_columns,
        set_verified_sets_joined_at_only_if_empty,
        credentials_current_needs_the_same_hash_and_an_active_user,
        delete_user_removes_the_user_once_and_frees_the_email,
    )
}

async fn new_user<S: UserStore>(store: &S, tag: &str, now: OffsetDateTime) -> User {
    let new = NewUser::new(&email(tag)).expect("a valid email");
    store.create_user(&new, now).await.expect("create_user")
}

async fn load<S: UserStore>(store: &S, id: &UserId) -> User {
    store
        .find_user_by_id(id)
        .await
        .expect("find_user_by_id")
        .expect("the user exists")
}

async fn hash_of<S: UserStore>(store: &S, id: &UserId) -> (String, OffsetDateTime) {
    let creds = store
        .find_credentials_by_id(id)
        .await
        .expect("find_credentials_by_id")
        .expect("the user exists");
    (creds.password_hash, creds.user.updated_at)
}

async fn by_email<S: UserStore>(store: &S, email: &str) -> Option<UserId> {
    store
        .find_credentials_by_email(email)
        .await
        .expect("find_credentials_by_email")
        .map(|c| c.user.id)
}

async fn raw_user<F: StoreFactory>(factory: &F, store: &F::Store, email: &str) -> UserId {
    factory
        .insert_raw_user(store, email, t(0))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the factory's raw-insert hook failed ({e}): a store with users must implement \
                 StoreFactory::insert_raw_user"
            )
        })
}

/// `create_user` stores the canonical email and the defaults (empty password, active,
/// unverified, no `last_login`, `joined_at = created_at = updated_at = now`), the flags
/// and initial hash it is given, gives each user its own key, and every finder returns
/// the same row.
pub async fn create_user_stores_defaults_and_finders_agree<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let now = t(0);
    let new = NewUser::new(&email("create")).expect("a valid email");
    let user = store.create_user(&new, now).await.expect("create_user");
    assert_eq!(user.email, new.email(), "the canonical email is stored");
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
        "find_user_by_id returns the row"
    );
    let creds = store
        .find_credentials_by_email(new.email())
        .await
        .expect("find_credentials_by_email")
        .expect("the user is found by email");
    assert_eq!(
        creds.user, user,
        "find_credentials_by_email returns the row"
    );
    assert_eq!(creds.password_hash, "", "the password is \"\" until set");
    let creds = store
        .find_credentials_by_id(&user.id)
        .await
        .expect("find_credentials_by_id")
        .expect("the user is found by id");
    assert_eq!(creds.user, user, "find_credentials_by_id returns the row");
    assert_eq!(creds.password_hash, "");

    assert_eq!(
        by_email(&store, &email("nobody")).await,
        None,
        "an unknown email finds nothing"
    );
    let nobody = unknown_id(user.id.kind());
    assert!(
        store
            .find_user_by_id(&nobody)
            .await
            .expect("find_user_by_id")
            .is_none(),
        "an unknown id finds nothing"
    );
    assert!(
        store
            .find_credentials_by_id(&nobody)
            .await
            .expect("find_credentials_by_id")
            .is_none(),
        "an unknown id finds no credentials"
    );

    let mut flagged = NewUser::new(&email("flags")).expect("a valid email");
    flagged.is_active = false;
    flagged.is_verified = true;
    let second = store
        .create_user(&flagged, t(1))
        .await
        .expect("create_user");
    assert_ne!(second.id, user.id, "each user gets its own key");
    assert_eq!(second.id.kind(), user.id.kind(), "one key kind per store");
    let stored = load(&store, &second.id).await;
    assert!(!stored.is_active, "is_active = false is stored");
    assert!(stored.is_verified, "is_verified = true is stored");
    assert_eq!(stored, second, "create_user returns the stored row");

    let hashed = NewUser::new(&email("hashed"))
        .expect("a valid email")
        .with_password_hash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into());
    let third = store.create_user(&hashed, t(2)).await.expect("create_user");
    assert_eq!(
        Some(hash_of(&store, &third.id).await.0.as_str()),
        hashed.password_hash(),
        "an initial password hash is stored by the same insert"
    );
}

/// A second `create_user` with a taken email is a `UniqueViolation` (an insert never
/// overwrites): the first row keeps its key, password, flags and times.
pub async fn duplicate_email_is_unique_violation_and_keeps_first_row<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let new = NewUser::new(&email("dup")).expect("a valid email");
    let first = store.create_user(&new, t(0)).await.expect("create_user");
    store
        .set_password_hash(&first.id, "hash-1", t(1))
        .await
        .expect("set_password_hash");

    let mut again = new.clone().with_password_hash("hash-2".into());
    again.is_active = false;
    again.is_verified = true;
    let err = store
        .create_user(&again, t(10))
        .await
        .expect_err("a taken email must be refused");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "a taken email: {err}"
    );

    let creds = store
        .find_credentials_by_email(new.email())
        .await
        .expect("find_credentials_by_email")
        .expect("the first user is still there");
    assert_eq!(creds.user.id, first.id, "the first row keeps its key");
    assert_eq!(
        creds.password_hash, "hash-1",
        "the first row keeps its password"
    );
    assert!(creds.user.is_active, "the first row keeps is_active");
    assert!(!creds.user.is_verified, "the first row keeps is_verified");
    assert_eq!(
        creds.user.created_at,
        t(0),
        "the first row keeps created_at"
    );
    assert_eq!(
        creds.user.updated_at,
        t(1),
        "the first row keeps updated_at"
    );
}

/// Emails match on their canonical form: a row written by other software as
/// `Alice-<hex>@Example.COM` (through the factory's raw-insert hook) is found by
/// `alice-<hex>@example.com` (and by any ASCII case), keeps its spelling, and blocks
/// registering the canonical address (`UniqueViolation`, the row unchanged).
pub async fn legacy_mixed_case_email_is_found_and_blocks_registration<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let tag = unique_tag();
    let legacy = format!("Alice-{tag}@Example.COM");
    let canonical = format!("alice-{tag}@example.com");
    let id = raw_user(factory, &store, &legacy).await;

    let creds = store
        .find_credentials_by_email(&canonical)
        .await
        .expect("find_credentials_by_email")
        .unwrap_or_else(|| panic!("a row stored as {legacy} must be found by {canonical}"));
    assert_eq!(
        creds.user.id, id,
        "the legacy row is found by its canonical email"
    );
    assert_eq!(
        creds.user.email, legacy,
        "the stored spelling is kept (mail goes there)"
    );
    assert_eq!(
        by_email(
            &store,
            &format!("ALICE-{}@EXAMPLE.com", tag.to_ascii_uppercase())
        )
        .await,
        Some(id),
        "any ASCII letter case finds the row"
    );

    let err = store
        .create_user(&NewUser::new(&canonical).expect("a valid email"), t(5))
        .await
        .expect_err("registering the canonical form of a legacy mixed-case email must fail");
    assert_eq!(
        err.kind(),
        StoreErrorKind::UniqueViolation,
        "one account per address whatever its case: {err}"
    );
    let user = load(&store, &id).await;
    assert_eq!(user.email, legacy, "the legacy row is unchanged");
    assert_eq!(user.joined_at, None, "the legacy row is unchanged");
}

/// Only ASCII letters are case-folded: `mıke@` (dotless i) is not `mike@` nor `MIKE@`
/// (whatever Unicode's upper-casing says), and `Ärger@` is not `ärger@`. Each is its own
/// account, found by its own spelling only.
pub async fn only_ascii_letters_are_case_folded<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let tag = unique_tag();
    let dotless = format!("m\u{131}ke-{tag}@example.org");
    let plain = format!("mike-{tag}@example.org");
    let upper = format!("MIKE-{}@EXAMPLE.ORG", tag.to_ascii_uppercase());

    let a = store
        .create_user(&NewUser::new(&dotless).expect("a valid email"), t(0))
        .await
        .expect("create_user with a dotless i");
    assert_eq!(by_email(&store, &plain).await, None, "mıke@ is not mike@");
    assert_eq!(by_email(&store, &upper).await, None, "mıke@ is not MIKE@");
    let b = store
        .create_user(&NewUser::new(&plain).expect("a valid email"), t(1))
        .await
        .expect("mike@ is a different account from mıke@");
    assert_ne!(a.id, b.id);
    assert_eq!(
        by_email(&store, &dotless).await,
        Some(a.id),
        "mıke@ finds its own row"
    );
    assert_eq!(
        by_email(&store, &plain).await,
        Some(b.id),
        "mike@ finds its own row"
    );
    assert_eq!(by_email(&store, &upper).await, Some(b.id), "MIKE@ is mike@");

    let umlaut_upper = format!("\u{c4}rger-{tag}@example.org");
    let umlaut_lower = format!("\u{e4}rger-{tag}@example.org");
    let c = store
        .create_user(&NewUser::new(&umlaut_upper).expect("a valid email"), t(2))
        .await
        .expect("create_user with Ä");
    assert_eq!(
        by_email(&store, &umlaut_lower).await,
        None,
        "non-ASCII letters are not case-folded: Ärger@ is not ärger@"
    );
    let d = store
        .create_user(&NewUser::new(&umlaut_lower).expect("a valid email"), t(3))
        .await
        .expect("ärger@ is a different account from Ärger@");
    assert_ne!(c.id, d.id);
    assert_eq!(by_email(&store, &umlaut_upper).await, Some(c.id));
    assert_eq!(by_email(&store, &umlaut_lower).await, Some(d.id));
}

/// Every update of a user that does not exist is `NotFound` (the compare-and-set answers
/// `false`) and leaves the other users alone.
pub async fn unknown_user_is_not_found_on_every_update<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
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
        assert_eq!(
            err.kind(),
            StoreErrorKind::NotFound,
            "{op} of an unknown user: {err}"
        );
    }
    assert!(
        !store
            .replace_password_hash(&nobody, "", "h", now)
            .await
            .expect("replace_password_hash"),
        "replace_password_hash of an unknown user replaces nothing"
    );
    assert!(
        !store
            .credentials_current(&nobody, "")
            .await
            .expect("credentials_current"),
        "an unknown user's credentials are not current"
    );
    assert_eq!(
        load(&store, &user.id).await,
        user,
        "the known user is untouched"
    );
}

/// `set_password_hash` replaces the hash (and `updated_at`); `replace_password_hash`
/// replaces it only while it is still the expected one.
pub async fn password_hash_is_set_and_compare_and_set<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "pw", t(0)).await;
    store
        .set_password_hash(&user.id, "$argon2id$h1", t(5))
        .await
        .expect("set_password_hash");
    assert_eq!(
        hash_of(&store, &user.id).await,
        ("$argon2id$h1".to_owned(), t(5))
    );

    assert!(
        !store
            .replace_password_hash(&user.id, "wrong", "$argon2id$h2", t(6))
            .await
            .expect("replace_password_hash"),
        "a stale expected hash is not replaced"
    );
    assert_eq!(
        hash_of(&store, &user.id).await,
        ("$argon2id$h1".to_owned(), t(5)),
        "a refused compare-and-set changes nothing"
    );
    assert!(
        store
            .replace_password_hash(&user.id, "$argon2id$h1", "$argon2id$h2", t(7))
            .await
            .expect("replace_password_hash"),
        "the expected hash is replaced"
    );
    assert_eq!(
        hash_of(&store, &user.id).await,
        ("$argon2id$h2".to_owned(), t(7))
    );
    assert!(
        !store
            .replace_password_hash(&user.id, "$argon2id$h1", "$argon2id$h3", t(8))
            .await
            .expect("replace_password_hash"),
        "a re-hash loses to a password change that happened first"
    );
    assert_eq!(hash_of(&store, &user.id).await.0, "$argon2id$h2");

    store
        .set_password_hash(&user.id, "!unusable", t(9))
        .await
        .expect("set_password_hash");
    assert_eq!(
        hash_of(&store, &user.id).await,
        ("!unusable".to_owned(), t(9))
    );
}

/// `record_login`, `set_active` and `set_verified` change their column and `updated_at`,
/// and nothing else.
pub async fn record_login_set_active_set_verified_change_only_their_columns<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "flags", t(0)).await;
    store
        .set_password_hash(&user.id, "h", t(1))
        .await
        .expect("set_password_hash");

    store
        .record_login(&user.id, t(10))
        .await
        .expect("record_login");
    let after = load(&store, &user.id).await;
    assert_eq!(
        after.last_login,
        Some(t(10)),
        "record_login sets last_login"
    );
    assert_eq!(after.updated_at, t(10), "record_login sets updated_at");

    store
        .set_active(&user.id, false, t(20))
        .await
        .expect("set_active");
    let after = load(&store, &user.id).await;
    assert!(!after.is_active, "set_active(false) deactivates");
    assert_eq!(after.updated_at, t(20));
    store
        .set_active(&user.id, true, t(21))
        .await
        .expect("set_active");
    assert!(
        load(&store, &user.id).await.is_active,
        "set_active(true) reactivates"
    );

    store
        .set_verified(&user.id, true, t(30))
        .await
        .expect("set_verified");
    let after = load(&store, &user.id).await;
    assert!(after.is_verified, "set_verified(true) verifies");
    assert_eq!(after.updated_at, t(30));
    store
        .set_verified(&user.id, false, t(31))
        .await
        .expect("set_verified");
    let after = load(&store, &user.id).await;
    assert!(!after.is_verified, "set_verified(false) unverifies");
    assert_eq!(after.updated_at, t(31));

    assert_eq!(after.email, user.email, "the email is untouched");
    assert_eq!(after.created_at, user.created_at, "created_at is untouched");
    assert_eq!(
        after.joined_at, user.joined_at,
        "a set joined_at is untouched"
    );
    assert_eq!(
        after.last_login,
        Some(t(10)),
        "last_login is untouched by the flags"
    );
    assert!(after.is_active, "is_active is untouched by set_verified");
    assert_eq!(
        hash_of(&store, &user.id).await.0,
        "h",
        "the password is untouched"
    );
}

/// Marking a user verified sets `joined_at` if it is empty (a row written by other
/// software, through the raw-insert hook) and never moves a set one.
pub async fn set_verified_sets_joined_at_only_if_empty<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let id = raw_user(factory, &store, &email("legacy")).await;
    let legacy = load(&store, &id).await;
    assert_eq!(
        legacy.joined_at, None,
        "the raw-insert hook leaves joined_at empty"
    );

    store
        .set_verified(&id, false, t(10))
        .await
        .expect("set_verified");
    assert_eq!(
        load(&store, &id).await.joined_at,
        None,
        "set_verified(false) does not set joined_at"
    );
    store
        .set_verified(&id, true, t(20))
        .await
        .expect("set_verified");
    let user = load(&store, &id).await;
    assert!(user.is_verified);
    assert_eq!(
        user.joined_at,
        Some(t(20)),
        "verifying sets an empty joined_at to now"
    );
    store
        .set_verified(&id, false, t(30))
        .await
        .expect("set_verified");
    store
        .set_verified(&id, true, t(40))
        .await
        .expect("set_verified");
    assert_eq!(
        load(&store, &id).await.joined_at,
        Some(t(20)),
        "a set joined_at never moves"
    );

    let user = new_user(&store, "joined", t(0)).await;
    store
        .set_verified(&user.id, true, t(50))
        .await
        .expect("set_verified");
    assert_eq!(
        load(&store, &user.id).await.joined_at,
        Some(t(0)),
        "a user created by the library keeps the joined_at of its creation"
    );
}

/// `credentials_current` is true only while the user exists, is active and has exactly
/// the given hash.
pub async fn credentials_current_needs_the_same_hash_and_an_active_user<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let user = new_user(&store, "current", t(0)).await;
    let current = |hash: &'static str| {
        let store = &store;
        let id = user.id;
        async move {
            store
                .credentials_current(&id, hash)
                .await
                .expect("credentials_current")
        }
    };
    assert!(current("").await, "a new user's empty hash is current");
    store
        .set_password_hash(&user.id, "$argon2id$a", t(1))
        .await
        .expect("set_password_hash");
    assert!(current("$argon2id$a").await, "the stored hash is current");
    assert!(!current("").await, "a replaced hash is not current");
    assert!(!current("$argon2id$A").await, "hashes compare exactly");
    store
        .set_active(&user.id, false, t(2))
        .await
        .expect("set_active");
    assert!(
        !current("$argon2id$a").await,
        "an inactive user's credentials are not current"
    );
    store
        .set_active(&user.id, true, t(3))
        .await
        .expect("set_active");
    assert!(current("$argon2id$a").await, "reactivated");
    assert!(store.delete_user(&user.id).await.expect("delete_user"));
    assert!(
        !current("$argon2id$a").await,
        "a deleted user's credentials are not current"
    );
}

/// `delete_user` removes the user once (true, then false), every finder then finds
/// nothing, other users stay, and the email can be registered again.
pub async fn delete_user_removes_the_user_once_and_frees_the_email<F>(factory: &F)
where
    F: StoreFactory,
    F::Store: UserStore,
{
    let store = factory.create().await;
    let new = NewUser::new(&email("gone")).expect("a valid email");
    let user = store.create_user(&new, t(0)).await.expect("create_user");
    let other = new_user(&store, "stays", t(0)).await;

    assert!(
        store.delete_user(&user.id).await.expect("delete_user"),
        "the user is deleted"
    );
    assert!(
        !store.delete_user(&user.id).await.expect("delete_user"),
        "a second delete finds no user"
    );
    assert!(
        !store
            .delete_user(&unknown_id(user.id.kind()))
            .await
            .expect("delete_user"),
        "an unknown user is not deleted"
    );
    assert!(
        store
            .find_user_by_id(&user.id)
            .await
            .expect("find_user_by_id")
            .is_none()
    );
    assert!(
        store
            .find_credentials_by_id(&user.id)
            .await
            .expect("find_credentials_by_id")
            .is_none()
    );
    assert_eq!(
        by_email(&store, new.email()).await,
        None,
        "the email finds nothing"
    );
    assert_eq!(load(&store, &other.id).await, other, "other users stay");

    store
        .create_user(&new, t(10))
        .await
        .expect("a deleted user's email can be registered again");
}
