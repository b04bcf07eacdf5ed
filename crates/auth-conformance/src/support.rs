//! Helpers shared by the checks: the fixed clock, unique values, sessions, rotations.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    ClientInfo, IdKind, NewSession, NewToken, OffsetDateTime, RotateOutcome, Rotation, SessionId,
    SessionStatus, SessionStore, TokenDigest, TokenKind, UserId,
};
use uuid::Uuid;

/// The suite's clock: `t(s)` is `s` seconds after 2030-03-17 17:46:40.123456 UTC (whole
/// microseconds: a store may keep microseconds, nothing coarser).
pub(crate) fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a valid time")
        + time::Duration::microseconds(123_456)
        + time::Duration::seconds(seconds)
}

/// A year before [`t`]: the era of the deletion checks, whose `before` never reaches the
/// other checks' rows.
pub(crate) fn t_old(seconds: i64) -> OffsetDateTime {
    t(seconds) - time::Duration::days(365)
}

/// `n` seconds.
pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 32 hex digits never produced before (random).
pub(crate) fn unique_tag() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A fresh random digest.
pub(crate) fn digest() -> TokenDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    TokenDigest(bytes)
}

/// A fresh random session id.
pub(crate) fn session_id() -> SessionId {
    SessionId::from_bytes(Uuid::new_v4().into_bytes())
}

/// A fresh canonical email: `tag-<hex>@example.com`.
pub(crate) fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", unique_tag())
}

/// A fresh rate-limit key.
pub(crate) fn rate_key(tag: &str) -> String {
    format!("conformance:{tag}:{}", unique_tag())
}

/// An id of `kind` that no user has.
pub(crate) fn unknown_id(kind: IdKind) -> UserId {
    match kind {
        IdKind::Integer => {
            let random = u64::from_le_bytes(
                Uuid::new_v4().as_bytes()[..8]
                    .try_into()
                    .expect("eight bytes"),
            );
            // Far above any key a database hands out, below i64::MAX.
            UserId::Int(i64::MAX - 1 - i64::try_from(random >> 34).unwrap_or(0))
        }
        IdKind::Uuid => UserId::Uuid(Uuid::new_v4()),
    }
}

/// A new token row.
pub(crate) fn token(kind: TokenKind, expires_at: OffsetDateTime) -> NewToken {
    NewToken {
        digest: digest(),
        kind,
        expires_at,
    }
}

/// A new access + refresh pair.
pub(crate) fn pair(access_exp: OffsetDateTime, refresh_exp: OffsetDateTime) -> [NewToken; 2] {
    [
        token(TokenKind::Access, access_exp),
        token(TokenKind::Refresh, refresh_exp),
    ]
}

/// The times of a session to create.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub(crate) created: OffsetDateTime,
    pub(crate) access_exp: OffsetDateTime,
    pub(crate) refresh_exp: OffsetDateTime,
    pub(crate) absolute: OffsetDateTime,
}

impl Times {
    /// Created at `t(0)`, access until `t(900)`, refresh until a day later, absolute end
    /// after 30 days.
    pub(crate) fn standard() -> Self {
        Self {
            created: t(0),
            access_exp: t(900),
            refresh_exp: t(86_400),
            absolute: t(30 * 86_400),
        }
    }

    /// Created at `created`, access until `access_exp`, refresh and session until
    /// `refresh_exp`, absolute end 30 days after creation.
    pub(crate) fn new(
        created: OffsetDateTime,
        access_exp: OffsetDateTime,
        refresh_exp: OffsetDateTime,
    ) -> Self {
        Self {
            created,
            access_exp,
            refresh_exp,
            absolute: created + time::Duration::days(30),
        }
    }

    /// The same with the absolute end at `absolute`.
    pub(crate) fn absolute(mut self, absolute: OffsetDateTime) -> Self {
        self.absolute = absolute;
        self
    }
}

/// A session created by [`login`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Login {
    pub(crate) session: SessionId,
    pub(crate) access: TokenDigest,
    pub(crate) refresh: TokenDigest,
}

/// A new session (no client, no claims) of `user`.
pub(crate) fn new_session(user: UserId, times: Times) -> NewSession {
    NewSession {
        id: session_id(),
        user_id: user,
        created_at: times.created,
        expires_at: times.refresh_exp,
        absolute_expires_at: times.absolute,
        client: ClientInfo::none(),
        claims: None,
    }
}

/// Creates a session with an access and a refresh token.
pub(crate) async fn login<S: SessionStore + ?Sized>(
    store: &S,
    user: UserId,
    times: Times,
) -> Login {
    let session = new_session(user, times);
    let tokens = pair(times.access_exp, times.refresh_exp);
    store
        .create_session(&session, &tokens, None)
        .await
        .expect("create_session");
    Login {
        session: session.id,
        access: tokens[0].digest,
        refresh: tokens[1].digest,
    }
}

/// What [`rotate_with`] did.
#[derive(Debug, Clone)]
pub(crate) struct Rotated {
    pub(crate) outcome: RotateOutcome,
    pub(crate) access: TokenDigest,
    pub(crate) refresh: TokenDigest,
}

/// Options of a rotation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RotateOpts<'a> {
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) grace: Option<(Duration, &'a [u8])>,
}

/// Rotates `digest` at `now`: new access token for 15 minutes, new refresh token (and
/// session expiry) until `refresh_exp`.
pub(crate) async fn rotate_with<S: SessionStore + ?Sized>(
    store: &S,
    digest: &TokenDigest,
    now: OffsetDateTime,
    refresh_exp: OffsetDateTime,
    opts: RotateOpts<'_>,
) -> Rotated {
    let tokens = pair(now + time::Duration::minutes(15), refresh_exp);
    let rotation = Rotation {
        digest,
        new_tokens: &tokens,
        refresh_expires_at: refresh_exp,
        now,
        idle_timeout: opts.idle_timeout,
        grace: opts.grace.map(|(window, sealed)| auth_core::Grace {
            window,
            sealed_successor: sealed,
        }),
    };
    let outcome = store
        .rotate_refresh_token(&rotation)
        .await
        .expect("rotate_refresh_token");
    Rotated {
        outcome,
        access: tokens[0].digest,
        refresh: tokens[1].digest,
    }
}

/// [`rotate_with`] without idle timeout or grace; the new refresh token lives a day.
pub(crate) async fn rotate<S: SessionStore + ?Sized>(
    store: &S,
    digest: &TokenDigest,
    now: OffsetDateTime,
) -> Rotated {
    rotate_with(
        store,
        digest,
        now,
        now + time::Duration::days(1),
        RotateOpts::default(),
    )
    .await
}

/// The status of a session that must exist.
pub(crate) async fn status<S: SessionStore + ?Sized>(store: &S, id: &SessionId) -> SessionStatus {
    store
        .session_status(id)
        .await
        .expect("session_status")
        .expect("the session exists")
}

/// Whether an existing session is revoked.
pub(crate) async fn is_revoked<S: SessionStore + ?Sized>(store: &S, id: &SessionId) -> bool {
    status(store, id).await.revoked
}

/// Whether a token digest is stored as a session token.
pub(crate) async fn token_exists<S: SessionStore + ?Sized>(
    store: &S,
    digest: &TokenDigest,
) -> bool {
    store
        .find_access_token(digest)
        .await
        .expect("find_access_token")
        .is_some()
}

/// The ids `list_sessions` returns, in order.
pub(crate) async fn session_ids<S: SessionStore + ?Sized>(
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

/// Runs `n` copies of `call` at once, each in its own Tokio task (so a multi-threaded
/// runtime runs them in parallel), and returns their results in order. A task's panic is
/// resumed here.
pub(crate) async fn race<S, T, Fut>(
    store: &Arc<S>,
    n: usize,
    call: impl Fn(Arc<S>, usize) -> Fut,
) -> Vec<T>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(call(Arc::clone(store), i)))
        .collect();
    let mut out = Vec::with_capacity(n);
    for result in futures::future::join_all(handles).await {
        match result {
            Ok(value) => out.push(value),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("a concurrent call's task failed: {err}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_fixed_in_2030_and_microsecond_aligned() {
        assert_eq!(t(0).year(), 2030);
        assert_eq!(t(0).nanosecond() % 1_000, 0);
        assert!(t_old(1_000_000) < t(0));
    }

    #[test]
    fn unique_values_do_not_repeat() {
        assert_ne!(digest(), digest());
        assert_ne!(session_id(), session_id());
        assert_ne!(email("x"), email("x"));
        assert_eq!(
            auth_core::normalize_email(&email("x"))
                .as_deref()
                .ok()
                .map(str::len),
            Some(email("x").len()),
            "generated emails are canonical"
        );
        assert_ne!(unknown_id(IdKind::Integer), unknown_id(IdKind::Integer));
    }
}
