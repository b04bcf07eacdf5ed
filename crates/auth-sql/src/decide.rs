//! The decisions a SQL store takes from what it read, driver-free: the outcome of a
//! refresh-token rotation from its locked row ([`LockedRefresh`]), and the rate limiter's
//! answer from a key's stored state. Each store runs the statements; what they mean is
//! written here once, so the stores cannot drift apart on the documented precedence.

use std::time::Duration;

use auth_core::{
    NewToken, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RotateOutcome, Rotation,
    SessionId, StoreError, StoreErrorKind, TokenDigest, TokenKind, User, UserId,
};

use crate::codec::{duration_micros, from_micros, to_micros};
use crate::statements::Statements;
use crate::stmt::{Args, Stmt, Value};

/// Longest rate-limit key accepted, in bytes.
pub const MAX_RATE_KEY_LENGTH: usize = 128;

/// How long a sealed grace-window successor is kept: `delete_expired(before)` erases those
/// of tokens spent before `before - SEALED_SUCCESSOR_KEEP` (the window is at most 60 s).
pub const SEALED_SUCCESSOR_KEEP: Duration = Duration::from_secs(60);

/// A refresh token's row as [`Statements::rotate_lock`] reads and locks it, with its
/// session and its successor (decoded by
/// [`ColumnReader::locked_refresh`](crate::ColumnReader::locked_refresh)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRefresh {
    /// Whether the row is a refresh token (any other kind answers `NotFound`).
    pub is_refresh: bool,
    /// The token's expiry (unix µs).
    pub expires_at_us: i64,
    /// When it was spent, if it was.
    pub spent_at_us: Option<i64>,
    /// The pair sealed for a grace replay, if kept.
    pub sealed_successor: Option<Vec<u8>>,
    /// When its successor was spent, if it was.
    pub successor_spent_at_us: Option<i64>,
    /// Its successor's expiry, if it has one.
    pub successor_expires_at_us: Option<i64>,
    /// The session's id as stored (to bind in the rotation's writes).
    pub session_id_text: String,
    /// The session's id.
    pub session_id: SessionId,
    /// The session's user.
    pub user_id: UserId,
    /// Whether the session was ended.
    pub revoked: bool,
    /// The session's expiry unless refreshed (unix µs).
    pub session_expires_at_us: i64,
    /// The session's absolute end (unix µs).
    pub absolute_expires_at_us: i64,
    /// The session's last login or rotation (unix µs), for the idle timeout.
    pub last_active_us: i64,
    /// The end of the grace window granted when the token was spent (unix µs), if any.
    pub grace_until_us: Option<i64>,
}

/// What a rotation does after reading its locked row and its user, in the same
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationPlan {
    /// Answer this and write nothing (roll back): `NotFound`, `SessionRevoked`, `Replayed`,
    /// `Expired`.
    Answer(RotateOutcome),
    /// Revoke the session ([`Statements::session_revoke`]), commit, and answer this:
    /// `Reused`, `UserInactive`.
    Revoke(RotateOutcome),
    /// Spend the token ([`Statements::token_spend`], binding [`grace_until`]), insert the
    /// new tokens (their expiry capped at [`LockedRefresh::absolute_expires_at_us`]),
    /// extend the session to `refresh_expires_at_us` ([`Statements::session_extend`]),
    /// commit, and answer `outcome` (`Rotated`).
    Rotate {
        /// The session's new expiry, capped at its absolute end (unix µs).
        refresh_expires_at_us: i64,
        /// The answer once committed.
        outcome: RotateOutcome,
    },
}

impl LockedRefresh {
    /// The answer known before the user is read (`NotFound` for a token of another kind,
    /// `SessionRevoked`), or `None`: read the session's user in the same transaction and
    /// call [`LockedRefresh::plan`].
    pub fn precheck(&self) -> Option<RotateOutcome> {
        if !self.is_refresh {
            Some(RotateOutcome::NotFound)
        } else if self.revoked {
            Some(RotateOutcome::SessionRevoked)
        } else {
            None
        }
    }

    /// The rotation's plan, given the session's `user` read in the same transaction
    /// (`None` if it is gone: the session is as good as gone too). The precedence is the
    /// one documented on [`RotateOutcome`]: a spent token is `Replayed` (before the end of
    /// the grace window granted at its rotation, its successor unspent, its sealed pair
    /// kept) or `Reused` even if also expired; then `UserInactive`; then `Expired`.
    pub fn plan(
        &self,
        user: Option<User>,
        now: OffsetDateTime,
        idle_timeout: Option<Duration>,
        refresh_expires_at: OffsetDateTime,
        context: &'static str,
    ) -> Result<RotationPlan, StoreError> {
        let Some(user) = user else {
            return Ok(RotationPlan::Answer(RotateOutcome::NotFound));
        };
        let now = to_micros(now);
        let (session_id, user_id) = (self.session_id, self.user_id);
        if self.spent_at_us.is_some() {
            if let (Some(until), Some(sealed), Some(successor_expires), None) = (
                self.grace_until_us,
                &self.sealed_successor,
                self.successor_expires_at_us,
                self.successor_spent_at_us,
            ) && now < until
            {
                return Ok(RotationPlan::Answer(RotateOutcome::Replayed {
                    session_id,
                    user_id,
                    sealed_successor: sealed.clone(),
                    refresh_expires_at: from_micros(successor_expires, context)?,
                    user: Some(user),
                }));
            }
            return Ok(RotationPlan::Revoke(RotateOutcome::Reused {
                session_id,
                user_id,
            }));
        }
        if !user.is_active {
            return Ok(RotationPlan::Revoke(RotateOutcome::UserInactive {
                session_id,
                user_id,
            }));
        }
        let idle = idle_timeout
            .is_some_and(|idle| now.saturating_sub(self.last_active_us) > duration_micros(idle));
        if self.expires_at_us <= now
            || self.session_expires_at_us <= now
            || self.absolute_expires_at_us <= now
            || idle
        {
            return Ok(RotationPlan::Answer(RotateOutcome::Expired));
        }
        let capped = to_micros(refresh_expires_at).min(self.absolute_expires_at_us);
        Ok(RotationPlan::Rotate {
            refresh_expires_at_us: capped,
            outcome: RotateOutcome::Rotated {
                session_id,
                user_id,
                refresh_expires_at: from_micros(capped, context)?,
                user: Some(user),
            },
        })
    }
}

/// The `grace_until` bind of [`Statements::token_spend`]: the end of the grace window a
/// rotation at `now` grants its spent token (`None` without a window).
pub fn grace_until(now: OffsetDateTime, window: Option<Duration>) -> Option<i64> {
    window.map(|w| to_micros(now).saturating_add(duration_micros(w)))
}

/// Refuses a rate-limit key that is empty, longer than [`MAX_RATE_KEY_LENGTH`] bytes or
/// not ASCII: [`StoreErrorKind::Other`].
pub fn check_rate_key(key: &str, context: &'static str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_RATE_KEY_LENGTH || !key.is_ascii() {
        return Err(StoreError::new(StoreErrorKind::Other, context)
            .with_source("rate-limit keys are 1 to 128 ASCII bytes"));
    }
    Ok(())
}

/// The answer of a hit, from the key's state after the atomic upsert of
/// [`Statements::rate_limit_hit`]: `attempts` and `locked_until_us`.
pub fn rate_limit_hit_decision(
    attempts: i64,
    locked_until_us: Option<i64>,
    policy: &RateLimitPolicy,
    now: OffsetDateTime,
) -> RateLimitDecision {
    let counted = u32::try_from(attempts).unwrap_or(u32::MAX);
    match locked_until_us {
        // This hit started the lockout (only that hit leaves max + 1 attempts: later hits
        // while locked count on).
        Some(_) if attempts == i64::from(policy.max_attempts) + 1 => RateLimitDecision::Limited {
            retry_after: policy.lockout,
            attempts: counted,
        },
        _ => rate_limit_peek_decision(attempts, locked_until_us, now),
    }
}

/// The answer of a peek from a key's stored state (`attempts`, `locked_until_us`); an
/// unknown key is `Allowed { attempts: 0 }`.
pub fn rate_limit_peek_decision(
    attempts: i64,
    locked_until_us: Option<i64>,
    now: OffsetDateTime,
) -> RateLimitDecision {
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    let now = to_micros(now);
    match locked_until_us {
        Some(until) if until > now => RateLimitDecision::Limited {
            // At least a second: a `Retry-After` of 0 would invite a refused retry.
            retry_after: Duration::from_micros(u64::try_from(until - now).unwrap_or(0))
                .max(Duration::from_secs(1)),
            attempts,
        },
        _ => RateLimitDecision::Allowed { attempts },
    }
}

/// A [`Rotation`] with owned data, for a store that runs each operation to completion
/// in a task of its own, and what it writes when its plan is [`RotationPlan::Rotate`].
#[derive(Debug, Clone)]
pub struct OwnedRotation {
    /// The refresh token presented.
    pub digest: TokenDigest,
    /// The new access and refresh tokens.
    pub new_tokens: Vec<NewToken>,
    /// The new refresh token's expiry (capped at the session's absolute end).
    pub refresh_expires_at: OffsetDateTime,
    /// The rotation's time.
    pub now: OffsetDateTime,
    /// The idle timeout, if any.
    pub idle_timeout: Option<Duration>,
    /// The grace window granted to the spent token, and the successor pair sealed for it.
    pub grace: Option<(Duration, Vec<u8>)>,
}

impl OwnedRotation {
    /// Copies `rotation`.
    pub fn new(rotation: &Rotation<'_>) -> Self {
        Self {
            digest: *rotation.digest,
            new_tokens: rotation.new_tokens.to_vec(),
            refresh_expires_at: rotation.refresh_expires_at,
            now: rotation.now,
            idle_timeout: rotation.idle_timeout,
            grace: rotation
                .grace
                .map(|g| (g.window, g.sealed_successor.to_vec())),
        }
    }

    /// [`LockedRefresh::plan`] for this rotation.
    pub fn plan(
        &self,
        locked: &LockedRefresh,
        user: Option<User>,
        context: &'static str,
    ) -> Result<RotationPlan, StoreError> {
        locked.plan(
            user,
            self.now,
            self.idle_timeout,
            self.refresh_expires_at,
            context,
        )
    }

    /// The statements of a [`RotationPlan::Rotate`] for the token locked as `locked`, in
    /// the order they run in its transaction, each with its values: spend the token
    /// (recording its successor, the sealed pair and the end of its grace window), insert
    /// the new tokens (their expiry capped at the session's absolute end), extend the
    /// session to `refresh_expires_at_us`.
    pub fn writes<'s>(
        &self,
        st: &'s Statements,
        locked: &LockedRefresh,
        refresh_expires_at_us: i64,
    ) -> Vec<(&'s Stmt, Vec<Value>)> {
        let sid = locked.session_id_text.as_str();
        let now = to_micros(self.now);
        let successor = self
            .new_tokens
            .iter()
            .find(|t| t.kind == TokenKind::Refresh)
            .map(|t| t.digest.as_bytes().to_vec());
        let spend = Args::new(&st.token_spend)
            .bind("spent_at", now)
            .bind("successor_digest", successor)
            .bind(
                "sealed_successor",
                self.grace.as_ref().map(|(_, sealed)| sealed.clone()),
            )
            .bind(
                "grace_until",
                grace_until(self.now, self.grace.as_ref().map(|(window, _)| *window)),
            )
            .bind("digest", self.digest.as_bytes().to_vec())
            .finish();
        let mut writes = vec![(&st.token_spend, spend)];
        for token in &self.new_tokens {
            let args = Args::new(&st.token_insert)
                .bind("digest", token.digest.as_bytes().to_vec())
                .bind("kind", token.kind.code())
                .bind("session_id", sid)
                .bind(
                    "expires_at",
                    to_micros(token.expires_at).min(locked.absolute_expires_at_us),
                )
                .finish();
            writes.push((&st.token_insert, args));
        }
        let extend = Args::new(&st.session_extend)
            .bind("expires_at", refresh_expires_at_us)
            .bind("refreshed_at", now)
            .bind("id", sid)
            .finish();
        writes.push((&st.session_extend, extend));
        writes
    }
}

/// A single-row update of the user table, for [`Statements::user_update`].
#[derive(Debug, Clone, Copy)]
pub enum UserUpdate<'a> {
    /// A new password hash ([`Statements::user_set_password`]).
    Password(&'a str),
    /// A successful login ([`Statements::user_record_login`]).
    RecordLogin,
    /// Activation or deactivation ([`Statements::user_set_active`]).
    Active(bool),
    /// Verification; verifying also sets `joined_at` if empty
    /// ([`Statements::user_set_verified`]).
    Verified(bool),
}

impl Statements {
    /// The statement of `update` on user `id` at `now`, with its values.
    pub fn user_update(
        &self,
        update: UserUpdate<'_>,
        id: UserId,
        now: OffsetDateTime,
    ) -> (&Stmt, Vec<Value>) {
        let (stmt, args) = match update {
            UserUpdate::Password(hash) => {
                let stmt = &self.user_set_password;
                (stmt, Args::new(stmt).bind("password", hash))
            }
            UserUpdate::RecordLogin => {
                let stmt = &self.user_record_login;
                (stmt, Args::new(stmt).bind("last_login", now))
            }
            UserUpdate::Active(active) => {
                let stmt = &self.user_set_active;
                (stmt, Args::new(stmt).bind("is_active", active))
            }
            UserUpdate::Verified(verified) => {
                let stmt = &self.user_set_verified;
                let args = Args::new(stmt)
                    .bind("is_verified", verified)
                    .bind("joined_at", verified.then_some(now));
                (stmt, args)
            }
        };
        (stmt, args.bind("updated_at", now).bind("id", id).finish())
    }

    /// The values of [`Statements::rate_limit_hit`] (bound by name: they differ per
    /// dialect) for one hit on `key` at `now`.
    pub fn rate_limit_hit_args(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Vec<Value> {
        let now_us = to_micros(now);
        let window = duration_micros(policy.window);
        let lockout = duration_micros(policy.lockout);
        Args::by_name(&self.rate_limit_hit, |name| match name {
            "key" => Value::Text(key.to_owned()),
            "now" => Value::Int(now_us),
            "window_end" => Value::Int(now_us.saturating_add(window)),
            "max_attempts" => Value::Int(i64::from(policy.max_attempts)),
            "lock_end" => Value::Int(now_us.saturating_add(lockout)),
            "window" => Value::Int(window),
            other => unreachable!("rate limit bind {other}"),
        })
    }

    /// The values of one of the `purge_*` statements: rows dead as of `before`, at most
    /// `limit`.
    pub fn purge_args(stmt: &Stmt, before: OffsetDateTime, limit: u64) -> Vec<Value> {
        let before = to_micros(before);
        Args::by_name(stmt, |name| match name {
            "before" => Value::Int(before),
            "limit" => Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
            other => unreachable!("purge bind {other}"),
        })
    }

    /// The purge statements in the order `delete_expired` runs them: sessions first (their
    /// tokens go by cascade), then expired access tokens, spent or expired single-use
    /// tokens, stale rate-limit keys. Refresh rows are deleted only with their session.
    pub fn purges(&self) -> [&Stmt; 4] {
        [
            &self.purge_sessions,
            &self.purge_access_tokens,
            &self.purge_single_use,
            &self.purge_rate_limits,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::ColumnReader as _;
    use crate::rows::tests::{Cell, FakeRow, SID, user_cells};
    use auth_core::IdKind;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000 + s).unwrap()
    }

    fn us(s: i64) -> i64 {
        to_micros(at(s))
    }

    fn locked() -> LockedRefresh {
        let row = FakeRow(vec![
            Cell::Int(2),
            Cell::Int(us(9_000)),
            Cell::Null,
            Cell::Bytes(vec![9]),
            Cell::Null,
            Cell::Null,
            Cell::Text(SID),
            Cell::Text("42"),
            Cell::Null,
            Cell::Int(us(9_000)),
            Cell::Int(us(90_000)),
            Cell::Int(us(0)),
            Cell::Null,
            Cell::Null,
        ]);
        row.locked_refresh(IdKind::Integer).unwrap()
    }

    fn user(active: bool) -> Option<User> {
        Some(
            FakeRow(user_cells(active))
                .user(0, IdKind::Integer)
                .unwrap()
                .0,
        )
    }

    fn plan(l: &LockedRefresh, u: Option<User>, now: i64) -> RotationPlan {
        l.plan(u, at(now), None, at(now + 9_000), "t").unwrap()
    }

    #[test]
    fn rotation_precedence_is_the_documented_one() {
        let fresh = locked();
        assert_eq!(fresh.precheck(), None);
        match plan(&fresh, user(true), 10) {
            RotationPlan::Rotate {
                refresh_expires_at_us,
                ..
            } => assert_eq!(refresh_expires_at_us, us(9_010)),
            other => panic!("{other:?}"),
        }
        // Capped at the absolute end.
        match plan(&fresh, user(true), 85_000) {
            RotationPlan::Answer(RotateOutcome::Expired) => {}
            other => panic!("{other:?}"),
        }
        let mut access = fresh.clone();
        access.is_refresh = false;
        access.revoked = true;
        assert_eq!(access.precheck(), Some(RotateOutcome::NotFound));
        let mut revoked = fresh.clone();
        revoked.revoked = true;
        assert_eq!(revoked.precheck(), Some(RotateOutcome::SessionRevoked));
        assert_eq!(
            plan(&fresh, None, 10),
            RotationPlan::Answer(RotateOutcome::NotFound)
        );
        // Spent and expired and inactive: reuse first.
        let mut spent = fresh.clone();
        spent.spent_at_us = Some(us(5));
        assert!(matches!(
            plan(&spent, user(false), 100_000),
            RotationPlan::Revoke(RotateOutcome::Reused { .. })
        ));
        // Inside the grace window with the sealed pair and an unspent successor: replay.
        spent.sealed_successor = Some(vec![1, 2, 3]);
        spent.successor_expires_at_us = Some(us(9_005));
        spent.grace_until_us = grace_until(at(5), Some(Duration::from_secs(30)));
        assert_eq!(spent.grace_until_us, Some(us(35)));
        assert!(matches!(
            plan(&spent, user(true), 20),
            RotationPlan::Answer(RotateOutcome::Replayed { .. })
        ));
        assert!(matches!(
            plan(&spent, user(true), 60),
            RotationPlan::Revoke(RotateOutcome::Reused { .. })
        ));
        spent.successor_spent_at_us = Some(us(10));
        assert!(matches!(
            plan(&spent, user(true), 20),
            RotationPlan::Revoke(RotateOutcome::Reused { .. })
        ));
        // Inactive before expired.
        assert!(matches!(
            plan(&fresh, user(false), 100_000),
            RotationPlan::Revoke(RotateOutcome::UserInactive { .. })
        ));
        // Idle.
        let idle = fresh
            .plan(
                user(true),
                at(700),
                Some(Duration::from_secs(600)),
                at(9_700),
                "t",
            )
            .unwrap();
        assert_eq!(idle, RotationPlan::Answer(RotateOutcome::Expired));
    }

    #[test]
    fn rate_limit_decisions_follow_the_window_rules() {
        let p = RateLimitPolicy::LOGIN_DEFAULT;
        assert_eq!(
            rate_limit_hit_decision(5, None, &p, at(0)),
            RateLimitDecision::Allowed { attempts: 5 }
        );
        assert_eq!(
            rate_limit_hit_decision(6, Some(us(600)), &p, at(0)),
            RateLimitDecision::Limited {
                retry_after: Duration::from_secs(600),
                attempts: 6
            }
        );
        assert_eq!(
            rate_limit_hit_decision(7, Some(us(600)), &p, at(500)),
            RateLimitDecision::Limited {
                retry_after: Duration::from_secs(100),
                attempts: 7
            }
        );
        assert_eq!(
            rate_limit_peek_decision(7, Some(us(600)), at(600)),
            RateLimitDecision::Allowed { attempts: 7 }
        );
        assert!(check_rate_key("k", "t").is_ok());
        assert!(check_rate_key("", "t").is_err());
        assert!(check_rate_key(&"k".repeat(129), "t").is_err());
        assert!(check_rate_key("é", "t").is_err());
    }

    #[test]
    fn bind_helpers_fill_every_named_bind() {
        let users = crate::UserTable::new("users", IdKind::Integer);
        for d in crate::Dialect::ALL {
            let st = Statements::new(d, "", &users).unwrap();
            let args = st.rate_limit_hit_args("k", &RateLimitPolicy::LOGIN_DEFAULT, at(0));
            assert_eq!(args.len(), st.rate_limit_hit.binds().len());
            for stmt in st.purges() {
                assert_eq!(
                    Statements::purge_args(stmt, at(0), 10).len(),
                    stmt.binds().len()
                );
            }
            for (update, expected) in [
                (UserUpdate::Password("h"), &st.user_set_password),
                (UserUpdate::RecordLogin, &st.user_record_login),
                (UserUpdate::Active(false), &st.user_set_active),
                (UserUpdate::Verified(true), &st.user_set_verified),
            ] {
                let (stmt, args) = st.user_update(update, UserId::Int(7), at(0));
                assert!(std::ptr::eq(stmt, expected), "{update:?}: wrong statement");
                assert_eq!(args.len(), stmt.binds().len(), "{update:?}");
            }
        }
    }
}
