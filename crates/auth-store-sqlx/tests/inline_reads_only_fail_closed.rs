//! SQLite's inline read path can only fail closed. On a file (WAL) it reads the last
//! commit, exactly as the pool. In memory its readers use `read_uncommitted` (no
//! shared-cache table locks): an open write transaction's revocation is seen early (a
//! refusal a moment too soon, never a grant), its new rows are seen early (tokens nobody
//! holds yet) and vanish with a rollback, and a call that failed inside a transaction
//! leaves nothing behind once it has returned. No statement of the store restores access:
//! every write a reader could see early is listed and classified here.

mod common;

use std::time::Duration;

use auth_core::{NewUser, SessionStore, StoreErrorKind, TokenKind, UserStore};
use auth_sql::Value;
use auth_store_sqlx::{SqliteStore, StoreOptions};
use common::{access, at, session, users};
use sqlx::Acquire;

async fn store(memory: bool) -> (SqliteStore, Option<tempfile::TempDir>) {
    let options = StoreOptions::default().acquire_timeout(Duration::from_millis(300));
    let (url, dir) = if memory {
        ("sqlite::memory:".to_owned(), None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        (
            format!("sqlite://{}", dir.path().join("auth.db").display()),
            Some(dir),
        )
    };
    let store = SqliteStore::connect_with(&url, users(), options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

async fn exec(conn: &mut sqlx::SqliteConnection, sql: &str, values: Vec<Value>) {
    let stmt = auth_sql::Stmt::render(auth_sql::Dialect::Sqlite, sql);
    <sqlx::Sqlite as auth_store_sqlx::Backend>::execute(conn, stmt.shared_sql(), values)
        .await
        .unwrap();
}

/// An open transaction inserts a session with an access token and revokes a live
/// session; then it commits or rolls back.
async fn open_transaction(memory: bool, commit: bool) {
    let (store, _dir) = store(memory).await;
    let user = store
        .create_user(&NewUser::new("ada@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let (live, live_tokens) = session(1, user.id, 0);
    store
        .create_session(&live, &live_tokens, None)
        .await
        .unwrap();
    let auth_core::UserId::Int(uid) = user.id else {
        unreachable!()
    };

    let mut conn = store.pool().acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    exec(
        &mut tx,
        "INSERT INTO auth_sessions (id, user_id, created_at_us, expires_at_us, \
         absolute_expires_at_us) VALUES (:id, :uid, 0, 9000000000000000, 9000000000000000)",
        vec![Value::Text("02".repeat(16)), Value::Int(uid)],
    )
    .await;
    exec(
        &mut tx,
        "INSERT INTO auth_tokens (digest, kind, session_id, expires_at_us) \
         VALUES (:d, :k, :s, 9000000000000000)",
        vec![
            Value::Bytes(access(2).as_bytes().to_vec()),
            Value::Small(TokenKind::Access.code()),
            Value::Text("02".repeat(16)),
        ],
    )
    .await;
    exec(
        &mut tx,
        "UPDATE auth_sessions SET revoked_at_us = 1 WHERE id = :id",
        vec![Value::Text(live.id.to_hex())],
    )
    .await;

    // During the transaction: answered inline, never waiting for it.
    let (_, fell_before) = store.fast_read_counts();
    let new_token = store.find_access_token(&access(2)).await.unwrap();
    let live_token = store.find_access_token(&access(1)).await.unwrap().unwrap();
    assert_eq!(store.fast_read_counts().1, fell_before, "answered inline");
    if memory {
        assert!(
            new_token.is_some(),
            "uncommitted rows are read (nobody holds them)"
        );
        assert!(
            live_token.session.revoked,
            "an uncommitted revocation is seen early: it fails closed"
        );
    } else {
        assert!(new_token.is_none(), "WAL: the last commit only");
        assert!(!live_token.session.revoked, "WAL: the last commit only");
    }

    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    drop(conn);
    let new_token = store.find_access_token(&access(2)).await.unwrap();
    let live_token = store.find_access_token(&access(1)).await.unwrap().unwrap();
    assert_eq!(
        new_token.is_some(),
        commit,
        "the new token exists iff committed"
    );
    assert_eq!(live_token.session.revoked, commit, "revoked iff committed");
    assert_eq!(store.fast_read_counts().1, fell_before, "answered inline");
}

/// A call that fails inside its transaction leaves nothing a reader can see once it has
/// returned, although sqlx finishes the rollback lazily.
async fn failed_calls_leave_nothing(memory: bool) {
    let (store, _dir) = store(memory).await;
    let user = store
        .create_user(&NewUser::new("bo@example.com").unwrap(), at(0))
        .await
        .unwrap();
    for n in 0..250u8 {
        // Two tokens with one digest: the second insert fails after the session insert.
        let (s, mut t) = session(n, user.id, 0);
        t[1].digest = t[0].digest;
        let err = store.create_session(&s, &t, None).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::UniqueViolation);
        assert!(
            store.session_status(&s.id).await.unwrap().is_none(),
            "round {n}: the failed call's session is visible"
        );
        assert!(store.find_access_token(&access(n)).await.unwrap().is_none());
    }
    assert_eq!(store.fast_read_counts().1, 0, "answered inline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_uncommitted_writes_fail_closed_and_vanish_with_a_rollback() {
    open_transaction(true, false).await;
    open_transaction(true, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_reads_the_last_commit() {
    open_transaction(false, false).await;
    open_transaction(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_failed_calls_leave_nothing_visible() {
    failed_calls_leave_nothing(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_failed_calls_leave_nothing_visible() {
    failed_calls_leave_nothing(false).await;
}

/// Every statement that writes the rows a lookup reads (tokens, sessions, users) is in
/// one of the classes of `src/inline.rs`'s argument, and none restores access: a
/// revocation is only ever set (from NULL), never cleared. A new write statement fails
/// this test until it is classified.
#[tokio::test]
async fn no_statement_restores_access() {
    let (store, _dir) = store(true).await;
    let st = store.statements().unwrap();
    let t = &st.tables;
    // Class 1: takes access away. Class 2: new rows nobody holds. Class 3: a rotation's
    // extension of a live session. Class 4: one-statement user updates the application
    // asked for. Other tables: not read by a lookup.
    let classes: &[(&str, u8)] = &[
        ("session_revoke", 1),
        ("revoke_session", 1),
        ("revoke_user_sessions", 1),
        ("token_spend", 1),
        ("user_delete", 1),
        ("sessions_delete_user", 1),
        ("purge_sessions", 1),
        ("purge_access_tokens", 1),
        ("erase_sealed", 1),
        ("user_set_password", 1),
        ("user_replace_password", 1),
        ("session_insert", 2),
        ("token_insert", 2),
        ("user_insert", 2),
        ("session_extend", 3),
        ("user_set_active", 4),
        ("user_set_verified", 4),
        ("user_record_login", 4),
    ];
    let lookup_tables = [t.tokens.as_str(), t.sessions.as_str(), "users"];
    let mut seen = Vec::new();
    for (name, stmt) in st.all() {
        let sql = stmt.sql();
        let upper = sql.to_ascii_uppercase();
        let writes = ["INSERT INTO ", "UPDATE ", "DELETE FROM "]
            .iter()
            .find_map(|verb| upper.find(verb).map(|i| &sql[i + verb.len()..]))
            .map(|rest| {
                let name = rest.split_whitespace().next().unwrap_or("");
                name.trim_matches(|c| c == '"' || c == '`').to_owned()
            });
        let Some(table) = writes else { continue };
        if !lookup_tables.contains(&table.as_str()) {
            continue;
        }
        let class = classes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("{name} writes {table}: classify it ({sql})"));
        seen.push(name);
        if upper.contains("REVOKED_AT_US =") || upper.contains("REVOKED_AT_US=") {
            assert_eq!(class, 1, "{name}");
            assert!(
                !upper.contains("REVOKED_AT_US = NULL"),
                "{name} clears a revocation: {sql}"
            );
            assert!(
                upper.contains("REVOKED_AT_US IS NULL"),
                "{name} sets a revocation only where none is set: {sql}"
            );
        }
        if class == 4 {
            assert!(
                upper.starts_with("UPDATE") && upper.contains(" WHERE "),
                "{name} is one keyed UPDATE: {sql}"
            );
        }
    }
    for (name, _) in classes {
        assert!(seen.contains(name), "{name} was not found among the writes");
    }
}
