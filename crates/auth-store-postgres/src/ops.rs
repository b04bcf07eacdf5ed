//! The storage traits of `auth-core` on [`PostgresStore`].
//!
//! The SQL is `auth-sql`'s ([`Statements`](auth_sql::Statements) for
//! [`Dialect::Postgres`](auth_sql::Dialect::Postgres)), the row decoding its
//! [`ColumnReader`], the rotation and rate-limit decisions its [`LockedRefresh::plan`] and
//! [`rate_limit_hit_decision`]: what is here is which statements run, in which
//! transaction. Writes copy their arguments and run in a task of their own
//! ([`PostgresStore::run`]), retried after a deadlock or serialization failure; reads run
//! on the caller's task.

use auth_core::{
    AccessTokenRecord, CredentialStore, EndSessions, ExpiredDeletion, IdKind, NewSession, NewToken,
    NewUser, OffsetDateTime, RateLimitDecision, RateLimitPolicy, RateLimiter, RotateOutcome,
    Rotation, SessionId, SessionInfo, SessionStatus, SessionStore, SingleUseTokenStore, StoreError,
    StoreErrorKind, TokenDigest, TokenKind, User, UserCredentials, UserId, UserStore,
};
use auth_sql::{
    Args, ColumnReader, OwnedRotation, RotationPlan, SEALED_SUCCESSOR_KEEP, Statements, Stmt,
    UserUpdate, Value, check_id_kind, check_rate_key, rate_limit_hit_decision,
    rate_limit_peek_decision, to_micros,
};
use uuid::Uuid;

use crate::error::not_found;
use crate::store::{Exec, Inner, PostgresStore, commit, exec, retrying, row, rows};
use crate::values::Cols;

fn credentials((user, password_hash): (User, String)) -> UserCredentials {
    UserCredentials {
        user,
        password_hash,
    }
}

impl Inner {
    // ---- users -----------------------------------------------------------------------

    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        const CTX: &str = "create_user";
        let st = self.statements(CTX)?;
        let email = new.email().to_owned();
        let uuid = (self.kind() == IdKind::Uuid).then(Uuid::new_v4);
        let mut args = Args::new(&st.user_insert);
        if let Some(uuid) = uuid {
            args = args.bind("id", UserId::Uuid(uuid));
        }
        let args = args
            .bind("email", email.as_str())
            .bind("password", new.password_hash().unwrap_or(""))
            .bind("is_active", new.is_active)
            .bind("is_verified", new.is_verified)
            .bind("joined_at", now)
            .bind("created_at", now)
            .bind("updated_at", now)
            .bind("folded_email", email.to_ascii_lowercase())
            .finish();
        let taken = || StoreError::new(StoreErrorKind::UniqueViolation, CTX);
        let conn = self.conn(CTX).await?;
        // The insert is skipped (0 rows) when the folded email is taken; a concurrent
        // insert of the same address hits the folded unique index (23505) instead.
        let id = if let Some(uuid) = uuid {
            if exec(&conn, CTX, &st.user_insert, &args).await? == 0 {
                return Err(taken());
            }
            UserId::Uuid(uuid)
        } else {
            let row = row(&conn, CTX, &st.user_insert, &args).await?;
            let row = row.ok_or_else(taken)?;
            Cols::new(&row, CTX).user_id(0, IdKind::Integer)?
        };
        Ok(User {
            id,
            email,
            last_login: None,
            is_active: new.is_active,
            is_verified: new.is_verified,
            joined_at: Some(now),
            created_at: now,
            updated_at: now,
        })
    }

    async fn credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        const CTX: &str = "find_credentials_by_email";
        let st = self.statements(CTX)?;
        let args = Args::new(&st.user_by_email)
            .bind("email", email.to_ascii_lowercase())
            .bind("exact_email", email)
            .finish();
        let conn = self.conn(CTX).await?;
        let row = row(&conn, CTX, &st.user_by_email, &args).await?;
        row.map(|row| Ok(credentials(Cols::new(&row, CTX).user(0, self.kind())?)))
            .transpose()
    }

    async fn credentials_by_id(
        &self,
        context: &'static str,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let st = self.statements(context)?;
        check_id_kind(id, self.kind(), context)?;
        let args = Args::new(&st.user_by_id).bind("id", *id).finish();
        let conn = self.conn(context).await?;
        let row = row(&conn, context, &st.user_by_id, &args).await?;
        row.map(|row| Ok(credentials(Cols::new(&row, context).user(0, self.kind())?)))
            .transpose()
    }

    async fn credentials_current(&self, id: &UserId, hash: &str) -> Result<bool, StoreError> {
        const CTX: &str = "credentials_current";
        let st = self.statements(CTX)?;
        check_id_kind(id, self.kind(), CTX)?;
        let args = Args::new(&st.credentials_current).bind("id", *id).finish();
        let conn = self.conn(CTX).await?;
        // A locking read (FOR SHARE): waits for an in-flight change of the row.
        let Some(row) = row(&conn, CTX, &st.credentials_current, &args).await? else {
            return Ok(false);
        };
        let cols = Cols::new(&row, CTX);
        Ok(cols.bool(0)? && cols.text(1)? == hash)
    }

    /// Runs a one-row user UPDATE; `NotFound` if no row matched.
    async fn update_user(
        &self,
        context: &'static str,
        id: &UserId,
        stmt: &Stmt,
        args: &[Value],
    ) -> Result<(), StoreError> {
        check_id_kind(id, self.kind(), context)?;
        let conn = self.conn(context).await?;
        match exec(&conn, context, stmt, args).await? {
            0 => Err(not_found(context)),
            _ => Ok(()),
        }
    }

    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const CTX: &str = "replace_password_hash";
        let st = self.statements(CTX)?;
        check_id_kind(id, self.kind(), CTX)?;
        let args = Args::new(&st.user_replace_password)
            .bind("password", new_hash)
            .bind("updated_at", now)
            .bind("id", *id)
            .bind("expected", expected)
            .finish();
        let conn = self.conn(CTX).await?;
        Ok(exec(&conn, CTX, &st.user_replace_password, &args).await? > 0)
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        const CTX: &str = "delete_user";
        let st = self.statements(CTX)?;
        check_id_kind(id, self.kind(), CTX)?;
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        // The user first (foreign keys cascade to sessions, tokens and single-use
        // tokens), then explicitly, for a schema without the foreign keys.
        let args = Args::new(&st.user_delete).bind("id", *id).finish();
        let deleted = exec(&tx, CTX, &st.user_delete, &args).await?;
        let args = Args::new(&st.sessions_delete_user)
            .bind("user_id", *id)
            .finish();
        exec(&tx, CTX, &st.sessions_delete_user, &args).await?;
        let args = Args::new(&st.single_use_delete_user)
            .bind("user_id", *id)
            .finish();
        exec(&tx, CTX, &st.single_use_delete_user, &args).await?;
        commit(tx, CTX).await?;
        Ok(deleted > 0)
    }

    /// Revokes the active sessions of `user_id` but `keep` (`""`: none).
    async fn revoke_all_in<C: Exec>(
        &self,
        client: &C,
        context: &'static str,
        user_id: &UserId,
        keep: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let st = self.statements(context)?;
        let args = Args::new(&st.revoke_user_sessions)
            .bind("now", now)
            .bind("user_id", *user_id)
            .bind("keep", keep)
            .bind("now", now)
            .bind("now", now)
            .finish();
        exec(client, context, &st.revoke_user_sessions, &args).await
    }

    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        keep: Option<Option<SessionId>>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        const CTX: &str = "change_password_hash";
        let st = self.statements(CTX)?;
        check_id_kind(id, self.kind(), CTX)?;
        let now_us = to_micros(now);
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        let (stmt, args) = st.user_update(UserUpdate::Password(hash), *id, now);
        if exec(&tx, CTX, stmt, &args).await? == 0 {
            return Err(not_found(CTX));
        }
        let ended = match keep {
            None => 0,
            Some(keep) => {
                let keep = keep.map(|k| k.to_hex()).unwrap_or_default();
                self.revoke_all_in(&tx, CTX, id, &keep, now_us).await?
            }
        };
        let args = Args::new(&st.single_use_void)
            .bind("now", now_us)
            .bind("user_id", *id)
            .bind("kind", TokenKind::PasswordReset.code())
            .bind("now", now_us)
            .finish();
        exec(&tx, CTX, &st.single_use_void, &args).await?;
        commit(tx, CTX).await?;
        Ok(ended)
    }

    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        const CTX: &str = "deactivate_user";
        let st = self.statements(CTX)?;
        check_id_kind(id, self.kind(), CTX)?;
        let now_us = to_micros(now);
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        let (stmt, args) = st.user_update(UserUpdate::Active(false), *id, now);
        if exec(&tx, CTX, stmt, &args).await? == 0 {
            return Err(not_found(CTX));
        }
        let ended = self.revoke_all_in(&tx, CTX, id, "", now_us).await?;
        let args = Args::new(&st.single_use_void_all)
            .bind("now", now_us)
            .bind("user_id", *id)
            .bind("now", now_us)
            .finish();
        exec(&tx, CTX, &st.single_use_void_all, &args).await?;
        commit(tx, CTX).await?;
        Ok(ended)
    }

    // ---- sessions --------------------------------------------------------------------

    /// Inserts the tokens of session `sid` (expiries capped at `absolute`).
    async fn insert_tokens<C: Exec>(
        st: &Statements,
        client: &C,
        context: &'static str,
        sid: &str,
        tokens: &[NewToken],
        absolute: i64,
    ) -> Result<(), StoreError> {
        for token in tokens {
            let args = Args::new(&st.token_insert)
                .bind("digest", token.digest.as_bytes().to_vec())
                .bind("kind", token.kind.code())
                .bind("session_id", sid)
                .bind("expires_at", to_micros(token.expires_at).min(absolute))
                .finish();
            exec(client, context, &st.token_insert, &args).await?;
        }
        Ok(())
    }

    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        const CTX: &str = "create_session";
        let st = self.statements(CTX)?;
        check_id_kind(&session.user_id, self.kind(), CTX)?;
        let absolute = to_micros(session.absolute_expires_at);
        let now = to_micros(session.created_at);
        let sid = session.id.to_hex();
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        if max_active.is_some() {
            // Serializes this user's logins, so two of them cannot both keep the cap.
            let args = Args::new(&st.user_lock)
                .bind("id", session.user_id)
                .finish();
            if row(&tx, CTX, &st.user_lock, &args).await?.is_none() {
                return Err(not_found(CTX));
            }
        }
        let args = Args::new(&st.session_insert)
            .bind("id", sid.as_str())
            .bind("user_id", session.user_id)
            .bind("created_at", now)
            .bind("expires_at", to_micros(session.expires_at).min(absolute))
            .bind("absolute_expires_at", absolute)
            .bind("ip", session.client.ip().map(|ip| ip.to_string()))
            .bind("user_agent", session.client.user_agent().map(str::to_owned))
            .bind("claims", session.claims.clone())
            .finish();
        exec(&tx, CTX, &st.session_insert, &args).await?;
        Self::insert_tokens(st, &tx, CTX, &sid, tokens, absolute).await?;
        let mut revoked = 0;
        if let Some(max) = max_active {
            let args = Args::new(&st.sessions_active)
                .bind("user_id", session.user_id)
                .bind("now", now)
                .bind("now", now)
                .finish();
            let active = rows(&tx, CTX, &st.sessions_active, &args).await?;
            let ids = active
                .iter()
                .map(|row| Cols::new(row, CTX).text(0))
                .collect::<Result<Vec<String>, _>>()?;
            for id in ids.into_iter().skip(max as usize) {
                let args = Args::new(&st.session_revoke)
                    .bind("now", now)
                    .bind("id", id)
                    .finish();
                revoked += exec(&tx, CTX, &st.session_revoke, &args).await?;
            }
        }
        commit(tx, CTX).await?;
        Ok(revoked)
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        const CTX: &str = "find_access_token";
        let st = self.statements(CTX)?;
        let args = [Value::Bytes(digest.as_bytes().to_vec())];
        debug_assert_eq!(st.access_lookup.binds(), ["digest"]);
        let row = self.read_shared(CTX, &st.access_lookup, &args).await?;
        row.map(|row| Cols::new(&row, CTX).access_record(self.kind()))
            .transpose()
    }

    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        const CTX: &str = "session_status";
        let st = self.statements(CTX)?;
        let args = Args::new(&st.session_status)
            .bind("id", id.to_hex())
            .finish();
        let row = self.read_shared(CTX, &st.session_status, &args).await?;
        row.map(|row| Cols::new(&row, CTX).session_status(0, self.kind()))
            .transpose()
    }

    async fn revoke_session_in<C: Exec>(
        st: &Statements,
        client: &C,
        context: &'static str,
        sid: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let args = Args::new(&st.session_revoke)
            .bind("now", now)
            .bind("id", sid)
            .finish();
        exec(client, context, &st.session_revoke, &args).await
    }

    async fn rotate(&self, rot: &OwnedRotation) -> Result<RotateOutcome, StoreError> {
        const CTX: &str = "rotate_refresh_token";
        let st = self.statements(CTX)?;
        let now = to_micros(rot.now);
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        // Locks the token and its session (FOR UPDATE OF k, s): concurrent rotations of
        // one token serialize here, and the later ones see it spent. Every early return
        // drops the transaction, which rolls it back.
        let args = Args::new(&st.rotate_lock)
            .bind("digest", rot.digest.as_bytes().to_vec())
            .finish();
        let Some(locked) = row(&tx, CTX, &st.rotate_lock, &args).await? else {
            return Ok(RotateOutcome::NotFound);
        };
        let locked = Cols::new(&locked, CTX).locked_refresh(self.kind())?;
        if let Some(outcome) = locked.precheck() {
            return Ok(outcome);
        }
        // The user, in the same transaction.
        let args = Args::new(&st.user_by_id)
            .bind("id", locked.user_id)
            .finish();
        let user = match row(&tx, CTX, &st.user_by_id, &args).await? {
            Some(row) => Some(Cols::new(&row, CTX).user(0, self.kind())?.0),
            None => None,
        };
        let plan = rot.plan(&locked, user, CTX)?;
        match plan {
            RotationPlan::Answer(outcome) => Ok(outcome),
            RotationPlan::Revoke(outcome) => {
                Self::revoke_session_in(st, &tx, CTX, &locked.session_id_text, now).await?;
                commit(tx, CTX).await?;
                if matches!(outcome, RotateOutcome::Reused { .. }) {
                    tracing::warn!(session = %locked.session_id, "refresh token reused: session revoked");
                }
                Ok(outcome)
            }
            RotationPlan::Rotate {
                refresh_expires_at_us,
                outcome,
            } => {
                for (stmt, args) in rot.writes(st, &locked, refresh_expires_at_us) {
                    exec(&tx, CTX, stmt, &args).await?;
                }
                commit(tx, CTX).await?;
                Ok(outcome)
            }
        }
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        sid: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const CTX: &str = "revoke_session";
        let st = self.statements(CTX)?;
        check_id_kind(user_id, self.kind(), CTX)?;
        let now = to_micros(now);
        let args = Args::new(&st.revoke_session)
            .bind("now", now)
            .bind("id", sid.to_hex())
            .bind("user_id", *user_id)
            .bind("now", now)
            .bind("now", now)
            .finish();
        let conn = self.conn(CTX).await?;
        Ok(exec(&conn, CTX, &st.revoke_session, &args).await? > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        const CTX: &str = "revoke_user_sessions";
        check_id_kind(user_id, self.kind(), CTX)?;
        let keep = keep.map(|k| k.to_hex()).unwrap_or_default();
        let conn = self.conn(CTX).await?;
        self.revoke_all_in(&conn, CTX, user_id, &keep, to_micros(now))
            .await
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        const CTX: &str = "list_sessions";
        let st = self.statements(CTX)?;
        check_id_kind(user_id, self.kind(), CTX)?;
        let now = to_micros(now);
        let args = Args::new(&st.list_sessions)
            .bind("user_id", *user_id)
            .bind("now", now)
            .bind("now", now)
            .finish();
        let conn = self.conn(CTX).await?;
        rows(&conn, CTX, &st.list_sessions, &args)
            .await?
            .iter()
            .map(|row| Cols::new(row, CTX).session_info(self.kind()))
            .collect()
    }

    // ---- single-use tokens -------------------------------------------------------------

    async fn insert_single_use(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "insert_single_use_token";
        let st = self.statements(CTX)?;
        check_id_kind(user_id, self.kind(), CTX)?;
        let now = to_micros(now);
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        if void_outstanding {
            let args = Args::new(&st.single_use_void)
                .bind("now", now)
                .bind("user_id", *user_id)
                .bind("kind", token.kind.code())
                .bind("now", now)
                .finish();
            exec(&tx, CTX, &st.single_use_void, &args).await?;
        }
        let args = Args::new(&st.single_use_insert)
            .bind("digest", token.digest.as_bytes().to_vec())
            .bind("kind", token.kind.code())
            .bind("user_id", *user_id)
            .bind("created_at", now)
            .bind("expires_at", to_micros(token.expires_at))
            .finish();
        exec(&tx, CTX, &st.single_use_insert, &args).await?;
        commit(tx, CTX).await
    }

    async fn find_single_use(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        const CTX: &str = "find_single_use_token";
        let st = self.statements(CTX)?;
        let args = Args::new(&st.single_use_find)
            .bind("digest", digest.as_bytes().to_vec())
            .bind("kind", kind.code())
            .bind("now", to_micros(now))
            .finish();
        let conn = self.conn(CTX).await?;
        let row = row(&conn, CTX, &st.single_use_find, &args).await?;
        row.map(|row| Cols::new(&row, CTX).user_id(0, self.kind()))
            .transpose()
    }

    async fn consume_single_use(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        const CTX: &str = "consume_single_use_token";
        let st = self.statements(CTX)?;
        let now = to_micros(now);
        let mut conn = self.conn(CTX).await?;
        let tx = conn.begin(CTX).await?;
        let args = Args::new(&st.single_use_lock)
            .bind("digest", digest.as_bytes().to_vec())
            .bind("kind", kind.code())
            .bind("now", now)
            .finish();
        let Some(locked) = row(&tx, CTX, &st.single_use_lock, &args).await? else {
            return Ok(None);
        };
        let user_id = Cols::new(&locked, CTX).user_id(0, self.kind())?;
        let args = Args::new(&st.single_use_spend)
            .bind("now", now)
            .bind("digest", digest.as_bytes().to_vec())
            .finish();
        let spent = exec(&tx, CTX, &st.single_use_spend, &args).await?;
        commit(tx, CTX).await?;
        Ok((spent == 1).then_some(user_id))
    }

    async fn void_single_use(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        const CTX: &str = "void_single_use_tokens";
        let st = self.statements(CTX)?;
        check_id_kind(user_id, self.kind(), CTX)?;
        let now = to_micros(now);
        let args = Args::new(&st.single_use_void)
            .bind("now", now)
            .bind("user_id", *user_id)
            .bind("kind", kind.code())
            .bind("now", now)
            .finish();
        let conn = self.conn(CTX).await?;
        exec(&conn, CTX, &st.single_use_void, &args).await
    }

    // ---- expired rows ------------------------------------------------------------------

    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        const CTX: &str = "delete_expired";
        let st = self.statements(CTX)?;
        let conn = self.conn(CTX).await?;
        let args = Args::new(&st.erase_sealed)
            .bind("cutoff", to_micros(before - SEALED_SUCCESSOR_KEEP))
            .finish();
        exec(&conn, CTX, &st.erase_sealed, &args).await?;
        let mut left = u64::from(batch);
        let mut total = 0;
        // Sessions first (their tokens go with them by cascade, not counted), then loose
        // rows. Each statement is atomic on its own: an interrupted purge simply deleted
        // fewer rows. Refresh rows are deleted only with their session.
        for stmt in st.purges() {
            if left == 0 {
                break;
            }
            let args = Statements::purge_args(stmt, before, left);
            let n = exec(&conn, CTX, stmt, &args).await?;
            total += n;
            left = left.saturating_sub(n);
        }
        Ok(total)
    }

    // ---- rate limits -------------------------------------------------------------------

    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        const CTX: &str = "rate_limit_hit";
        let st = self.statements(CTX)?;
        check_rate_key(key, CTX)?;
        let args = st.rate_limit_hit_args(key, policy, now);
        // One atomic upsert that returns the new state.
        let conn = self.conn(CTX).await?;
        let row = row(&conn, CTX, &st.rate_limit_hit, &args).await?;
        let row = row.ok_or_else(|| not_found(CTX))?;
        let (attempts, locked_until) = Cols::new(&row, CTX).rate_limit_state()?;
        Ok(rate_limit_hit_decision(attempts, locked_until, policy, now))
    }

    async fn peek(&self, key: &str, now: OffsetDateTime) -> Result<RateLimitDecision, StoreError> {
        const CTX: &str = "rate_limit_peek";
        let st = self.statements(CTX)?;
        check_rate_key(key, CTX)?;
        let args = Args::new(&st.rate_limit_read).bind("key", key).finish();
        let conn = self.conn(CTX).await?;
        let Some(row) = row(&conn, CTX, &st.rate_limit_read, &args).await? else {
            return Ok(RateLimitDecision::Allowed { attempts: 0 });
        };
        let (attempts, locked_until) = Cols::new(&row, CTX).rate_limit_state()?;
        Ok(rate_limit_peek_decision(attempts, locked_until, now))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        const CTX: &str = "rate_limit_clear";
        let st = self.statements(CTX)?;
        check_rate_key(key, CTX)?;
        let args = Args::new(&st.rate_limit_clear).bind("key", key).finish();
        let conn = self.conn(CTX).await?;
        exec(&conn, CTX, &st.rate_limit_clear, &args).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        let new = new.clone();
        self.run("create_user", move |i| async move {
            retrying!(i.create_user(&new, now).await)
        })
        .await
    }

    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.inner.credentials_by_email(email).await
    }

    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.inner
            .credentials_by_id("find_credentials_by_id", id)
            .await
    }

    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self
            .inner
            .credentials_by_id("find_user_by_id", id)
            .await?
            .map(|c| c.user))
    }

    async fn credentials_current(
        &self,
        id: &UserId,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        retrying!(self.inner.credentials_current(id, password_hash).await)
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_password_hash";
        let (id, hash) = (*id, hash.to_owned());
        self.run(CTX, move |i| async move {
            let st = i.statements(CTX)?;
            let (stmt, args) = st.user_update(UserUpdate::Password(&hash), id, now);
            retrying!(i.update_user(CTX, &id, stmt, &args).await)
        })
        .await
    }

    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, expected, new_hash) = (*id, expected.to_owned(), new_hash.to_owned());
        self.run("replace_password_hash", move |i| async move {
            retrying!(
                i.replace_password_hash(&id, &expected, &new_hash, now)
                    .await
            )
        })
        .await
    }

    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        const CTX: &str = "record_login";
        let id = *id;
        self.run(CTX, move |i| async move {
            let st = i.statements(CTX)?;
            let (stmt, args) = st.user_update(UserUpdate::RecordLogin, id, now);
            retrying!(i.update_user(CTX, &id, stmt, &args).await)
        })
        .await
    }

    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_active";
        let id = *id;
        self.run(CTX, move |i| async move {
            let st = i.statements(CTX)?;
            let (stmt, args) = st.user_update(UserUpdate::Active(active), id, now);
            retrying!(i.update_user(CTX, &id, stmt, &args).await)
        })
        .await
    }

    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_verified";
        let id = *id;
        self.run(CTX, move |i| async move {
            let st = i.statements(CTX)?;
            let (stmt, args) = st.user_update(UserUpdate::Verified(verified), id, now);
            retrying!(i.update_user(CTX, &id, stmt, &args).await)
        })
        .await
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        let id = *id;
        self.run("delete_user", move |i| async move {
            retrying!(i.delete_user(&id).await)
        })
        .await
    }
}

#[async_trait::async_trait]
impl CredentialStore for PostgresStore {
    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let (id, hash) = (*id, hash.to_owned());
        // None: end no session; Some(None): all; Some(Some(keep)): all but keep.
        let keep = match sessions {
            EndSessions::None => None,
            EndSessions::All => Some(None),
            EndSessions::AllExcept(keep) => Some(Some(*keep)),
        };
        self.run("change_password_hash", move |i| async move {
            retrying!(i.change_password_hash(&id, &hash, keep, now).await)
        })
        .await
    }

    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        let id = *id;
        self.run("deactivate_user", move |i| async move {
            retrying!(i.deactivate_user(&id, now).await)
        })
        .await
    }
}

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        let (session, tokens) = (session.clone(), tokens.to_vec());
        self.run("create_session", move |i| async move {
            retrying!(i.create_session(&session, &tokens, max_active).await)
        })
        .await
    }

    /// One prepared statement, one round trip, on the caller's task (no spawned task, no
    /// ping), on a connection shared with concurrent readers.
    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.inner.find_access_token(digest).await
    }

    /// One prepared statement, one round trip, like `find_access_token`.
    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        self.inner.session_status(id).await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        let rot = OwnedRotation::new(rotation);
        self.run("rotate_refresh_token", move |i| async move {
            retrying!(i.rotate(&rot).await)
        })
        .await
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (user_id, session_id) = (*user_id, *session_id);
        self.run("revoke_session", move |i| async move {
            retrying!(i.revoke_session(&user_id, &session_id, now).await)
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let (user_id, keep) = (*user_id, keep.copied());
        self.run("revoke_user_sessions", move |i| async move {
            retrying!(i.revoke_user_sessions(&user_id, keep, now).await)
        })
        .await
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.inner.list_sessions(user_id, now).await
    }
}

#[async_trait::async_trait]
impl SingleUseTokenStore for PostgresStore {
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (user_id, token) = (*user_id, token.clone());
        self.run("insert_single_use_token", move |i| async move {
            retrying!(
                i.insert_single_use(&user_id, &token, void_outstanding, now)
                    .await
            )
        })
        .await
    }

    async fn find_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        self.inner.find_single_use(digest, kind, now).await
    }

    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let digest = *digest;
        self.run("consume_single_use_token", move |i| async move {
            retrying!(i.consume_single_use(&digest, kind, now).await)
        })
        .await
    }

    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let user_id = *user_id;
        self.run("void_single_use_tokens", move |i| async move {
            retrying!(i.void_single_use(&user_id, kind, now).await)
        })
        .await
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for PostgresStore {
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        self.run("delete_expired", move |i| async move {
            retrying!(i.delete_expired(before, batch).await)
        })
        .await
    }
}

#[async_trait::async_trait]
impl RateLimiter for PostgresStore {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        let (key, policy) = (key.to_owned(), *policy);
        self.run("rate_limit_hit", move |i| async move {
            retrying!(i.hit(&key, &policy, now).await)
        })
        .await
    }

    async fn peek(
        &self,
        key: &str,
        _policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        self.inner.peek(key, now).await
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.run("rate_limit_clear", move |i| async move {
            retrying!(i.clear(&key).await)
        })
        .await
    }
}
