//! The `authenticate` hot path: `find_access_token` is one query that searches by primary
//! key (no table scan) and writes nothing.

use auth_core::{
    IdKind, NewSession, NewToken, NewUser, OffsetDateTime, SessionId, TokenDigest, TokenKind,
    TokenStore, UserStore,
};
use auth_store_sqlx::{SqliteStore, UserTable};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
}

async fn store_with_a_session(kind: IdKind) -> (SqliteStore, TokenDigest) {
    let store = SqliteStore::connect("sqlite::memory:", UserTable::new("users", kind))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut last = None;
    // Enough rows that a scan would differ from a search.
    for i in 0..20u8 {
        let user = store
            .create_user(&NewUser::new(&format!("u{i}@example.com")).unwrap(), at(0))
            .await
            .unwrap();
        let access = NewToken {
            digest: TokenDigest([i; 32]),
            kind: TokenKind::Access,
            expires_at: at(900),
        };
        store
            .create_session(
                &NewSession {
                    id: SessionId::from_bytes([i; 16]),
                    user_id: user.id,
                    created_at: at(0),
                    expires_at: at(9_000),
                },
                std::slice::from_ref(&access),
            )
            .await
            .unwrap();
        last = Some(access.digest);
    }
    (store, last.unwrap())
}

async fn plan(store: &SqliteStore) -> Vec<String> {
    let sql = format!("EXPLAIN QUERY PLAN {}", store.access_lookup_sql());
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vec![0u8; 32])
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.into_iter().map(|r| r.3).collect()
}

#[tokio::test]
async fn lookup_searches_by_key_and_never_scans() {
    for kind in [IdKind::Integer, IdKind::Uuid] {
        let (store, _) = store_with_a_session(kind).await;
        let plan = plan(&store).await;
        assert!(
            plan.iter()
                .any(|d| d.starts_with("SEARCH k USING PRIMARY KEY (digest=?)")),
            "{kind:?}: tokens are searched by their primary key: {plan:?}"
        );
        for table in ["s", "u"] {
            assert!(
                plan.iter()
                    .any(|d| d.starts_with(&format!("SEARCH {table} USING"))
                        && (d.contains("PRIMARY KEY") || d.contains("INDEX"))),
                "{kind:?}: {table} is searched by key: {plan:?}"
            );
        }
        assert!(
            !plan.iter().any(|d| d.starts_with("SCAN")),
            "{kind:?}: no scan: {plan:?}"
        );
    }
}

#[tokio::test]
async fn lookup_writes_nothing() {
    let (store, digest) = store_with_a_session(IdKind::Integer).await;
    // The in-memory store has exactly one connection, so this counter is the lookup's.
    let changes = || async {
        sqlx::query_scalar::<_, i64>("SELECT total_changes()")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let before = changes().await;
    for _ in 0..10 {
        let record = store.find_access_token(&digest).await.unwrap().unwrap();
        assert_eq!(record.kind, TokenKind::Access);
        assert!(
            store
                .find_access_token(&TokenDigest([0xee; 32]))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(changes().await, before, "find_access_token changed no row");
    // Sanity: the counter does move on a write.
    store
        .revoke_user_sessions(&record_user(&store, &digest).await, None, at(1))
        .await
        .unwrap();
    assert!(changes().await > before);
}

async fn record_user(store: &SqliteStore, digest: &TokenDigest) -> auth_core::UserId {
    store
        .find_access_token(digest)
        .await
        .unwrap()
        .unwrap()
        .user
        .id
}
