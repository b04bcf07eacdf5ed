//! The Redis store plugged into an `AuthService` beside a SQL user store (SQLite): the
//! whole token life cycle goes through Redis, users stay in SQL.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use auth_facade::{
    AuthConfig, AuthError, AuthService, ClientInfo, EventRecorder, IdKind, LoginOptions,
    Notification, NotificationKind, Notifier, TokenError,
};
use auth_store_sqlx::{SqliteStore, UserTable};
use custom_backend_example::RedisSessionStore;

const SECRET: &str = "t3st-0nly-4d9e1b7c2a6f8e0d3c5b9a1f7e2d4c6b";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "SecurePass123!";
const NEW_PASSWORD: &str = "EvenMoreSecure456?";
const RESET_PASSWORD: &str = "ResetBy-Mail789!";

/// Keeps every notification, as a mailer would send it.
#[derive(Default)]
struct Outbox(Mutex<Vec<Notification>>);

#[auth_core::async_trait]
impl Notifier for Outbox {
    async fn notify(&self, notification: Notification) -> Result<(), auth_core::BoxError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notification);
        Ok(())
    }
}

fn revoked(result: Result<impl std::fmt::Debug, AuthError>) -> bool {
    matches!(result, Err(AuthError::Token(TokenError::Revoked)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_service_runs_on_redis_beside_a_sql_user_store() {
    let Some(url) = common::redis_url("auth service on redis") else {
        return;
    };
    let redis = common::store(&url, "service").await;
    let result = tokio::spawn(scenario(redis.clone())).await;
    redis
        .delete_all_keys()
        .await
        .expect("delete the test's keys");
    if let Err(err) = result {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn scenario(redis: RedisSessionStore) {
    // Users in SQL, everything about tokens in Redis.
    let sql = SqliteStore::connect("sqlite::memory:", UserTable::new("users", IdKind::Integer))
        .await
        .expect("connect SQLite");
    sql.migrate().await.expect("migrate SQLite");
    let config = AuthConfig::builder()
        .signing_secret(SECRET)
        .argon2(1, 1024, 1)
        .build()
        .expect("config");
    let outbox = Arc::new(Outbox::default());
    let auth = AuthService::builder(config)
        .user_store(Arc::new(sql.clone()))
        .session_store(Arc::new(redis.clone()), Some(Arc::new(redis.clone())))
        .single_use_store(Arc::new(redis.clone()))
        .rate_limiter(Arc::new(redis.clone()))
        .notifier(outbox.clone())
        .build()
        .expect("build the service");
    let events = EventRecorder::new();
    auth.events().subscribe(events.clone());
    let mut handed_out: Vec<String> = Vec::new();

    let user = auth.register(EMAIL, PASSWORD).await.expect("register");

    // Login -> authenticate: the session is in Redis, the user comes from SQL.
    let client = ClientInfo::none()
        .with_ip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)))
        .with_user_agent("phone/1.0");
    let first = auth
        .sessions()
        .login_with(
            EMAIL,
            PASSWORD,
            &LoginOptions {
                client,
                ..LoginOptions::default()
            },
        )
        .await
        .expect("login");
    handed_out.extend([first.access_token.clone(), first.refresh_token.clone()]);
    let me = auth
        .authenticate(&first.access_token)
        .await
        .expect("authenticate");
    assert_eq!((me.id, me.email.as_str()), (user.id, EMAIL));
    assert!(
        me.last_login.is_some(),
        "the user was read from SQL after login"
    );
    let listed = auth.sessions().list(&user.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, first.session_id);
    assert_eq!(listed[0].user_agent.as_deref(), Some("phone/1.0"));
    assert_eq!(
        listed[0].ip,
        Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)))
    );

    // Refresh rotates: the new pair works, the previous access token stays valid.
    let second = auth.refresh(&first.refresh_token).await.expect("refresh");
    handed_out.extend([second.access_token.clone(), second.refresh_token.clone()]);
    assert_eq!(
        auth.authenticate(&second.access_token)
            .await
            .expect("new access")
            .id,
        user.id
    );
    assert!(auth.authenticate(&first.access_token).await.is_ok());

    // Reuse: the spent refresh token revokes the whole session.
    assert!(
        revoked(auth.refresh(&first.refresh_token).await),
        "a spent refresh token is refused"
    );
    auth.wait_for_background().await;
    assert_eq!(events.count("refresh_token_reused"), 1);
    assert!(revoked(auth.authenticate(&second.access_token).await));
    assert!(revoked(auth.authenticate(&first.access_token).await));
    assert!(
        revoked(auth.refresh(&second.refresh_token).await),
        "the successor died with its session"
    );
    assert!(
        auth.sessions()
            .list(&user.id)
            .await
            .expect("list")
            .is_empty()
    );

    // logout_all ends every session at once.
    let a = auth.login(EMAIL, PASSWORD).await.expect("login a");
    let b = auth.login(EMAIL, PASSWORD).await.expect("login b");
    handed_out.extend([a.access_token.clone(), a.refresh_token.clone()]);
    handed_out.extend([b.access_token.clone(), b.refresh_token.clone()]);
    assert_eq!(auth.sessions().list(&user.id).await.expect("list").len(), 2);
    assert_eq!(auth.logout_all(&user.id).await.expect("logout_all"), 2);
    assert!(revoked(auth.authenticate(&a.access_token).await));
    assert!(revoked(auth.authenticate(&b.access_token).await));
    assert!(revoked(auth.refresh(&b.refresh_token).await));

    // Logout ends one session.
    let c = auth.login(EMAIL, PASSWORD).await.expect("login c");
    handed_out.extend([c.access_token.clone(), c.refresh_token.clone()]);
    auth.logout(&c.access_token).await.expect("logout");
    assert!(revoked(auth.authenticate(&c.access_token).await));

    // A password change ends the user's other sessions and keeps the current one.
    let keep = auth.login(EMAIL, PASSWORD).await.expect("login keep");
    let other = auth.login(EMAIL, PASSWORD).await.expect("login other");
    handed_out.extend([keep.access_token.clone(), keep.refresh_token.clone()]);
    handed_out.extend([other.access_token.clone(), other.refresh_token.clone()]);
    auth.change_password(&user.id, PASSWORD, NEW_PASSWORD, Some(&keep.session_id))
        .await
        .expect("change password");
    assert!(revoked(auth.authenticate(&other.access_token).await));
    assert!(revoked(auth.refresh(&other.refresh_token).await));
    assert!(
        auth.authenticate(&keep.access_token).await.is_ok(),
        "the session making the change stays"
    );
    assert!(matches!(
        auth.login(EMAIL, PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));

    // A password reset (single-use token in Redis) ends every session; the token works once.
    auth.request_reset(EMAIL).await.expect("request reset");
    auth.wait_for_background().await;
    let reset = {
        let sent = outbox.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = sent.last().expect("a reset mail");
        assert_eq!(n.kind, NotificationKind::PasswordReset);
        n.token.clone()
    };
    handed_out.push(reset.clone());
    auth.confirm_reset(&reset, RESET_PASSWORD)
        .await
        .expect("confirm reset");
    assert!(revoked(auth.authenticate(&keep.access_token).await));
    assert!(
        auth.confirm_reset(&reset, "Another-Pass-000!")
            .await
            .is_err(),
        "a reset token works once"
    );
    let reset_login = auth
        .login(EMAIL, RESET_PASSWORD)
        .await
        .expect("login with the reset password");
    handed_out.extend([
        reset_login.access_token.clone(),
        reset_login.refresh_token.clone(),
    ]);

    // Deactivation ends every session (through `revoke_user_sessions`: this store holds no
    // users), and an inactive user cannot log in.
    auth.set_active(&user.id, false).await.expect("deactivate");
    assert!(auth.authenticate(&reset_login.access_token).await.is_err());
    assert!(revoked(auth.refresh(&reset_login.refresh_token).await));
    assert!(matches!(
        auth.login(EMAIL, RESET_PASSWORD).await,
        Err(AuthError::InvalidCredentials)
    ));
    auth.set_active(&user.id, true).await.expect("reactivate");
    let after = auth
        .login(EMAIL, RESET_PASSWORD)
        .await
        .expect("login once active again");
    handed_out.extend([after.access_token.clone(), after.refresh_token.clone()]);

    // Rate limiting through Redis: five failures, then the account is locked.
    for _ in 0..5 {
        assert!(matches!(
            auth.login(EMAIL, "wrong-password").await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        auth.login(EMAIL, RESET_PASSWORD).await,
        Err(AuthError::RateLimited { .. })
    ));

    // No raw token ever reached Redis: no 8-character piece of any token handed out.
    let dump = redis.dump().await.expect("dump");
    assert!(
        dump.contains(" s:") || dump.contains(":s:"),
        "the dump shows the sessions"
    );
    for token in &handed_out {
        let body = &token[4..];
        for start in (0..body.len().saturating_sub(8)).step_by(4) {
            let piece = &body[start..start + 8];
            assert!(
                !dump.contains(piece),
                "a piece of a token is stored in Redis"
            );
        }
    }
    assert!(
        !dump.contains(EMAIL),
        "no email in Redis (keys are digests)"
    );

    // Cleanup removes the revoked sessions; the live one stays.
    let deleted = auth.cleanup_expired().await.expect("cleanup");
    assert!(deleted >= 7, "the revoked sessions are deleted: {deleted}");
    assert_eq!(auth.cleanup_expired().await.expect("cleanup again"), 0);
    assert_eq!(
        auth.authenticate(&after.access_token)
            .await
            .expect("still works")
            .id,
        user.id
    );
    let listed = auth.sessions().list(&user.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, after.session_id);
}
