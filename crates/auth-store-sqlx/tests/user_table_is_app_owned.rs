//! The application owns its user table: the library reads and writes only its eight columns
//! and the key, checks (never alters) a table the application made, and creates a missing
//! one with the application's extra columns.

use auth_core::{
    ClientInfo, IdKind, NewSession, NewToken, NewUser, OffsetDateTime, SessionId, SessionStore,
    StoreErrorKind, TokenDigest, TokenKind, UserId, UserStore,
};
use auth_store_sqlx::{SqliteStore, UserTable};
use std::error::Error as _;

const APP_DDL: &str = "CREATE TABLE members (
    member_id INTEGER PRIMARY KEY AUTOINCREMENT,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'member',
    email TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL DEFAULT '',
    last_login TIMESTAMP,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_verified BOOLEAN NOT NULL DEFAULT 0,
    joined_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    phone TEXT
)";

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000 + seconds).unwrap()
}

async fn memory_store(users: UserTable) -> SqliteStore {
    SqliteStore::connect("sqlite::memory:", users)
        .await
        .expect("connect")
}

async fn schema_sql(store: &SqliteStore, table: &str) -> String {
    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1")
        .bind(table)
        .fetch_one(store.pool())
        .await
        .expect("table exists")
}

async fn app_columns(store: &SqliteStore, id: &UserId) -> (String, String, Option<String>) {
    let UserId::Int(id) = id else {
        panic!("integer key expected")
    };
    sqlx::query_as("SELECT display_name, role, phone FROM members WHERE member_id = ?1")
        .bind(*id)
        .fetch_one(store.pool())
        .await
        .expect("app columns")
}

#[tokio::test]
async fn app_columns_survive_every_library_write() {
    let store =
        memory_store(UserTable::new("members", IdKind::Integer).id_column("member_id")).await;
    sqlx::query(APP_DDL)
        .execute(store.pool())
        .await
        .expect("app DDL");
    let ddl_before = schema_sql(&store, "members").await;
    store
        .migrate()
        .await
        .expect("migrate accepts the app's table");
    assert_eq!(
        schema_sql(&store, "members").await,
        ddl_before,
        "migrate never alters the app's table"
    );

    let user = store
        .create_user(&NewUser::new("ada@example.com").unwrap(), at(0))
        .await
        .expect("create_user");
    let UserId::Int(raw_id) = user.id else {
        panic!("integer key expected")
    };
    assert_eq!(
        app_columns(&store, &user.id).await,
        ("".to_owned(), "member".to_owned(), None),
        "the app's defaults apply to library inserts"
    );
    sqlx::query(
        "UPDATE members SET display_name = 'Ada L.', role = 'admin', phone = '+44' \
         WHERE member_id = ?1",
    )
    .bind(raw_id)
    .execute(store.pool())
    .await
    .expect("app update");
    let expected = (
        "Ada L.".to_owned(),
        "admin".to_owned(),
        Some("+44".to_owned()),
    );

    store
        .set_password_hash(&user.id, "$argon2id$one", at(1))
        .await
        .expect("set_password_hash");
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after set_password_hash"
    );
    assert!(
        store
            .replace_password_hash(&user.id, "$argon2id$one", "$argon2id$two", at(2))
            .await
            .expect("replace_password_hash")
    );
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after replace_password_hash"
    );
    store
        .record_login(&user.id, at(3))
        .await
        .expect("record_login");
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after record_login"
    );
    store
        .set_active(&user.id, false, at(4))
        .await
        .expect("set_active");
    store
        .set_active(&user.id, true, at(5))
        .await
        .expect("set_active");
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after set_active"
    );
    store
        .set_verified(&user.id, true, at(6))
        .await
        .expect("set_verified");
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after set_verified"
    );

    let access = NewToken {
        digest: TokenDigest([7; 32]),
        kind: TokenKind::Access,
        expires_at: at(900),
    };
    store
        .create_session(
            &NewSession {
                id: SessionId::from_bytes([1; 16]),
                user_id: user.id,
                created_at: at(7),
                expires_at: at(9_000),
                absolute_expires_at: at(90_000),
                client: ClientInfo::none(),
                claims: None,
            },
            std::slice::from_ref(&access),
            None,
        )
        .await
        .expect("create_session");
    let record = store
        .find_access_token(&access.digest)
        .await
        .expect("find_access_token")
        .expect("found");
    let user = record.session.user.expect("joined");
    assert_eq!(user.last_login, Some(at(3)));
    assert!(user.is_verified);
    assert_eq!(
        user.joined_at,
        Some(at(0)),
        "set at creation, kept by verification"
    );
    store
        .revoke_user_sessions(&user.id, None, at(8))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        app_columns(&store, &user.id).await,
        expected,
        "after sessions"
    );
}

#[tokio::test]
async fn rows_inserted_by_the_app_are_read_by_the_library() {
    let store =
        memory_store(UserTable::new("members", IdKind::Integer).id_column("member_id")).await;
    sqlx::query(APP_DDL).execute(store.pool()).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO members (display_name, email, created_at, updated_at) \
         VALUES ('Grace', 'grace@example.com', ?1, ?1)",
    )
    .bind(at(0))
    .execute(store.pool())
    .await
    .unwrap();
    let creds = store
        .find_credentials_by_email("grace@example.com")
        .await
        .expect("find_credentials_by_email")
        .expect("the app's row is a user");
    assert_eq!(
        creds.password_hash, "",
        "the column default: no usable password"
    );
    assert!(creds.user.is_active);
    assert!(!creds.user.is_verified);
    assert_eq!(creds.user.joined_at, None);
    assert_eq!(creds.user.created_at, at(0));
}

#[tokio::test]
async fn migrate_names_the_missing_library_columns() {
    let store = memory_store(UserTable::new("people", IdKind::Integer)).await;
    sqlx::query(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, \
         password TEXT NOT NULL DEFAULT '', last_login TIMESTAMP, is_active BOOLEAN NOT NULL \
         DEFAULT 1, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, nick TEXT)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let ddl_before = schema_sql(&store, "people").await;

    let err = store.migrate().await.expect_err("columns are missing");
    assert_eq!(err.kind(), StoreErrorKind::Schema);
    assert_eq!(err.context(), "migrate");
    let source = err
        .source()
        .expect("the source names the columns")
        .to_string();
    assert!(source.contains("is_verified"), "{source}");
    assert!(source.contains("joined_at"), "{source}");
    assert!(
        !source.contains("last_login"),
        "present columns are not named: {source}"
    );
    assert_eq!(
        schema_sql(&store, "people").await,
        ddl_before,
        "nothing was altered"
    );
    let library_tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE name LIKE 'auth_%' AND type = 'table'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        library_tables, 0,
        "a failed migrate leaves nothing half-made"
    );
}

#[tokio::test]
async fn migrate_creates_a_missing_table_with_the_extra_columns() {
    let store = memory_store(
        UserTable::new("users", IdKind::Integer)
            .extra_columns("display_name TEXT, role TEXT NOT NULL DEFAULT 'member'"),
    )
    .await;
    store.migrate().await.expect("migrate");
    let user = store
        .create_user(&NewUser::new("lin@example.com").unwrap(), at(0))
        .await
        .unwrap();
    let UserId::Int(id) = user.id else { panic!() };
    let (name, role): (Option<String>, String) =
        sqlx::query_as("SELECT display_name, role FROM users WHERE id = ?1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((name, role.as_str()), (None, "member"));
}
