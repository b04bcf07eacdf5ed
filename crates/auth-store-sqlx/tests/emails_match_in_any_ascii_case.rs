//! Emails are matched on their ASCII-folded form on every backend, exactly like Rust's
//! `to_ascii_lowercase`: rows written by other software in mixed case are found and block
//! a new account, while non-ASCII letters are never case-mapped (`É` is not `é`, `İ` is
//! not `i`, `ǅ` is not `ǆ`).

mod common;

use auth_core::{NewUser, StoreErrorKind, UserStore};
use auth_store_sqlx::{Backend, SqlxStore};
use common::{at, each_backend, insert_user_raw, users};

async fn folding<B: Backend>(store: SqlxStore<B>) {
    // Written by the library: canonical, found in any ASCII case the caller folds to.
    let ada = store
        .create_user(&NewUser::new("Ada@Example.COM").unwrap(), at(0))
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    let err = store
        .create_user(&NewUser::new("ADA@example.com").unwrap(), at(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation);

    // Written by other software in mixed case: found by the canonical form, and blocks it.
    insert_user_raw(&store, "Bob.Smith@Example.COM").await;
    let bob = store
        .find_credentials_by_email("bob.smith@example.com")
        .await
        .unwrap()
        .expect("the mixed-case row is found");
    assert_eq!(
        bob.user.email, "Bob.Smith@Example.COM",
        "the stored spelling is kept"
    );
    let err = store
        .create_user(&NewUser::new("bob.smith@example.com").unwrap(), at(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::UniqueViolation);

    // Non-ASCII letters are not case-mapped: these are other addresses.
    for (stored, other) in [
        ("\u{c9}lise@example.com", "\u{e9}lise@example.com"), // É / é
        ("\u{130}nes@example.com", "ines@example.com"),       // İ / i
        ("\u{1c5}or@example.com", "\u{1c6}or@example.com"),   // titlecase Dž / dž
        ("stra\u{df}e@example.com", "strasse@example.com"),   // ß / ss
    ] {
        insert_user_raw(&store, stored).await;
        assert!(
            store
                .find_credentials_by_email(other)
                .await
                .unwrap()
                .is_none(),
            "{other} must not match {stored}"
        );
        let created = store
            .create_user(&NewUser::new(other).unwrap(), at(3))
            .await
            .unwrap_or_else(|e| panic!("{other} is a new address: {e:?}"));
        let found = store
            .find_credentials_by_email(other)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user.id, created.id);
        let stored_canonical = auth_core::normalize_email(stored).unwrap();
        let found = store
            .find_credentials_by_email(&stored_canonical)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user.email, stored);
    }
}
each_backend!(folding, users());
