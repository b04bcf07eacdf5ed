//! SQLite's inline read path answers `find_access_token` and `session_status` exactly as
//! the pool does, on the same database, for every state a lookup can meet: a live token,
//! a revoked session, an expired token, a refresh token looked up as an access token, an
//! unknown digest, an inactive user, a verified user who logged in, a deleted user, rows
//! written by other software in layouts only sqlx decodes (which fall back to the pool),
//! corrupt rows (the same error kind); with integer and UUID keys, a renamed user table
//! and key column, and a table prefix; in memory and in a file.

mod common;

use auth_core::{
    IdKind, NewUser, SessionId, SessionStore, StoreError, TokenDigest, UserId, UserStore,
};
use auth_sql::Value;
use auth_store_sqlx::{SqliteStore, StoreOptions, UserTable};
use common::{access, at, refresh, session};

/// A lookup's answer, comparable: the record's `Debug` text, or the error's kind.
fn shown<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("error {:?}", e.kind()),
    }
}

struct Fixture {
    store: SqliteStore,
    users: UserTable,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(memory: bool, users: UserTable, prefix: &str) -> Fixture {
    let options = StoreOptions::default().table_prefix(prefix);
    let (url, dir) = if memory {
        ("sqlite::memory:".to_owned(), None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        (url, Some(dir))
    };
    let store = SqliteStore::connect_with(&url, users.clone(), options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(store.has_fast_reads());
    Fixture {
        store,
        users,
        prefix: prefix.to_owned(),
        _dir: dir,
    }
}

impl Fixture {
    async fn user(&self, email: &str) -> UserId {
        self.store
            .create_user(&NewUser::new(email).unwrap(), at(0))
            .await
            .unwrap()
            .id
    }

    async fn login(&self, n: u8, user: UserId) -> SessionId {
        let (s, t) = session(n, user, 0);
        self.store.create_session(&s, &t, None).await.unwrap();
        s.id
    }

    /// The application's (or other software's) own SQL on the store's pool.
    async fn sql(&self, template: &str, values: Vec<Value>) {
        let text = template
            .replace("{users}", self.users.table())
            .replace("{id}", self.users.id_column_name())
            .replace("{p}", &self.prefix);
        common::raw(&self.store, &text, values).await;
    }

    fn id_value(id: UserId) -> Value {
        match id {
            UserId::Int(v) => Value::Int(v),
            UserId::Uuid(u) => Value::Text(u.hyphenated().to_string()),
        }
    }

    /// Every state a lookup can meet; returns the digests and session ids to look up.
    async fn states(&self) -> (Vec<TokenDigest>, Vec<SessionId>) {
        let store = &self.store;
        let mut sessions = Vec::new();
        let mut n = 1u8;
        let mut next = || {
            n += 1;
            n
        };

        // Live, and its refresh token looked up as an access token.
        let ada = self.user("ada@example.com").await;
        let live = next();
        sessions.push(self.login(live, ada).await);
        // Revoked.
        let revoked = next();
        let sid = self.login(revoked, ada).await;
        assert!(store.revoke_session(&ada, &sid, at(5)).await.unwrap());
        sessions.push(sid);
        // An access token past its expiry (the caller decides: the record is returned).
        let old = next();
        let (mut s, mut t) = session(old, ada, -100_000);
        s.expires_at = at(-50_000);
        t[0].expires_at = at(-99_000);
        store.create_session(&s, &t, None).await.unwrap();
        sessions.push(s.id);
        // No claims, no client.
        let bare = next();
        let (mut s, t) = session(bare, ada, 0);
        s.claims = None;
        s.client = auth_core::ClientInfo::none();
        store.create_session(&s, &t, None).await.unwrap();
        sessions.push(s.id);

        // An inactive user (sessions not revoked: set_active alone).
        let bob = self.user("bob@example.com").await;
        let inactive = next();
        sessions.push(self.login(inactive, bob).await);
        store.set_active(&bob, false, at(3)).await.unwrap();

        // A verified user who logged in (every user time set).
        let cy = self.user("cy@example.com").await;
        let verified = next();
        sessions.push(self.login(verified, cy).await);
        store.record_login(&cy, at(7)).await.unwrap();
        store.set_verified(&cy, true, at(8)).await.unwrap();

        // A deleted user: the rows go with it.
        let dee = self.user("dee@example.com").await;
        let deleted = next();
        sessions.push(self.login(deleted, dee).await);
        assert!(store.delete_user(&dee).await.unwrap());

        // Written by other software: times in sqlx's other layouts, a boolean as text, an
        // integer expiry stored as text (all decoded by sqlx only: the read falls back).
        let eve = self.user("eve@example.com").await;
        let foreign = next();
        sessions.push(self.login(foreign, eve).await);
        self.sql(
            "UPDATE {users} SET created_at = '2030-01-02 03:04:05.678', \
             last_login = '2030-01-02T03:04:05', is_verified = 'yes' WHERE {id} = :id",
            vec![Self::id_value(eve)],
        )
        .await;
        let fay = self.user("fay@example.com").await;
        let as_text = next();
        sessions.push(self.login(as_text, fay).await);
        self.sql(
            "UPDATE {p}auth_sessions SET expires_at_us = 'soon' WHERE id = :id",
            vec![Value::Text(SessionId::from_bytes([as_text; 16]).to_hex())],
        )
        .await;
        // Corrupt: an unknown token kind, an unparsable session id in a user's key.
        let gus = self.user("gus@example.com").await;
        let bad_kind = next();
        sessions.push(self.login(bad_kind, gus).await);
        self.sql(
            "UPDATE {p}auth_tokens SET kind = 77 WHERE digest = :d",
            vec![Value::Bytes(access(bad_kind).as_bytes().to_vec())],
        )
        .await;
        let hal = self.user("hal@example.com").await;
        let bad_time = next();
        sessions.push(self.login(bad_time, hal).await);
        self.sql(
            "UPDATE {users} SET updated_at = 'not a time' WHERE {id} = :id",
            vec![Self::id_value(hal)],
        )
        .await;

        let mut digests = Vec::new();
        for i in 2..=n {
            digests.push(access(i));
            digests.push(refresh(i));
        }
        digests.push(TokenDigest([0xee; 32]));
        sessions.push(SessionId::from_bytes([0xee; 16]));
        (digests, sessions)
    }
}

async fn same_answers(memory: bool, users: UserTable, prefix: &str) {
    let f = fixture(memory, users.clone(), prefix).await;
    let (digests, sessions) = f.states().await;
    let pool = f.store.without_fast_reads();
    assert!(!pool.has_fast_reads());
    let name = format!(
        "{} {} {:?} prefix {prefix:?}",
        if memory { "memory" } else { "file" },
        users.table(),
        users.id_kind()
    );

    let (served_before, fell_before) = f.store.fast_read_counts();
    let mut decoded_here = 0;
    for d in &digests {
        let inline = shown(f.store.find_access_token(d).await);
        let through_pool = shown(pool.find_access_token(d).await);
        assert_eq!(inline, through_pool, "{name}: find_access_token {d:?}");
        decoded_here += usize::from(inline.starts_with("Some"));
    }
    for s in &sessions {
        let inline = shown(f.store.session_status(s).await);
        let through_pool = shown(pool.session_status(s).await);
        assert_eq!(inline, through_pool, "{name}: session_status {s}");
    }
    let (served, fell) = f.store.fast_read_counts();
    let (served, fell) = (served - served_before, fell - fell_before);
    // The foreign and corrupt rows fell back: the access and refresh digests and the
    // session_status of the three sessions whose session or user row sqlx alone decodes
    // (3 x 3), and the access token of unknown kind (its refresh token and session read
    // fine); everything else was answered inline.
    assert_eq!(fell, 3 * 3 + 1, "{name}: fallbacks");
    assert_eq!(
        served + fell,
        (digests.len() + sessions.len()) as u64,
        "{name}"
    );
    assert!(decoded_here > 10, "{name}: {decoded_here} records");
    eprintln!("{name}: {served} answered inline, {fell} fell back, all equal to the pool's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_integer_keys() {
    same_answers(true, UserTable::new("users", IdKind::Integer), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_integer_keys() {
    same_answers(false, UserTable::new("users", IdKind::Integer), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_uuid_keys_renamed_table_and_prefix() {
    let users = UserTable::new("members", IdKind::Uuid).id_column("member_id");
    same_answers(true, users, "app_").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_uuid_keys_renamed_table_and_prefix() {
    let users = UserTable::new("accounts", IdKind::Uuid).id_column("account_key");
    same_answers(false, users, "tenant7_").await;
}

/// Two prefixes on one database share the readers (and their statement caches), each
/// reading its own tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixed_stores_share_the_readers() {
    let a = fixture(true, UserTable::new("users", IdKind::Integer), "").await;
    let b = a.store.clone().with_table_prefix("b_").unwrap();
    b.migrate().await.unwrap();
    assert!(b.has_fast_reads());
    let u = a.user("x@example.com").await;
    a.login(3, u).await;
    let (s, t) = session(4, u, 0);
    b.create_session(&s, &t, None).await.unwrap();
    assert!(
        a.store
            .find_access_token(&access(3))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        a.store
            .find_access_token(&access(4))
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.find_access_token(&access(4)).await.unwrap().is_some());
    assert!(b.find_access_token(&access(3)).await.unwrap().is_none());
    assert_eq!(a.store.fast_read_counts().1, 0, "nothing fell back");
}
