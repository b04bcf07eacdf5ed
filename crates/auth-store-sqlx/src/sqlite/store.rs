//! [`UserStore`] and [`TokenStore`] for [`SqliteStore`].

use auth_core::{
    AccessTokenRecord, IdKind, NewSession, NewToken, NewUser, OffsetDateTime, RotateOutcome,
    SessionId, SessionInfo, StoreError, StoreErrorKind, TokenDigest, TokenKind, TokenStore, User,
    UserCredentials, UserId, UserStore,
};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, Row, Sqlite};
use time::UtcOffset;
use uuid::Uuid;

use super::sql::BEGIN_IMMEDIATE;
use super::{SqliteStore, classify, err};
use crate::codec::{
    check_id_kind, decode_user_columns, from_micros, from_micros_opt, session_id, to_micros,
    token_kind, user_id_from_text,
};
use crate::error::corrupt;

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// A query on one of the store's prepared statements.
fn q(sql: &std::sync::Arc<str>) -> Query<'static> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

/// Binds a user key: integers as integers, UUIDs as hyphenated text.
fn bind_id<'q>(query: Query<'q>, id: &UserId) -> Query<'q> {
    match id {
        UserId::Int(i) => query.bind(*i),
        UserId::Uuid(u) => query.bind(u.hyphenated().to_string()),
    }
}

/// User times are stored as RFC 3339 text in UTC.
fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

/// Decodes a user key column.
fn decode_id(
    row: &SqliteRow,
    index: usize,
    kind: IdKind,
    context: &'static str,
) -> Result<UserId, StoreError> {
    match kind {
        IdKind::Integer => row
            .try_get_unchecked::<i64, _>(index)
            .map(UserId::Int)
            .map_err(err(context)),
        IdKind::Uuid => {
            let text: String = row.try_get_unchecked(index).map_err(err(context))?;
            user_id_from_text(kind, &text, context)
        }
    }
}

/// Decodes a user row laid out as the key then the eight library columns, from `first`.
fn decode_user_row(
    row: &SqliteRow,
    first: usize,
    kind: IdKind,
    context: &'static str,
) -> Result<(User, String), StoreError> {
    let id = decode_id(row, first, kind, context)?;
    decode_user_columns(row, id, first + 1, context, classify)
}

fn get<'r, T: sqlx::Decode<'r, Sqlite>>(
    row: &'r SqliteRow,
    index: usize,
    context: &'static str,
) -> Result<T, StoreError> {
    row.try_get_unchecked(index).map_err(err(context))
}

fn not_found(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, context)
}

impl SqliteStore {
    fn kind(&self) -> IdKind {
        self.inner.users.id_kind()
    }

    async fn find_credentials(
        &self,
        context: &'static str,
        query: Query<'_>,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let row = query
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(err(context))?;
        row.map(|row| {
            let (user, password_hash) = decode_user_row(&row, 0, self.kind(), context)?;
            Ok(UserCredentials {
                user,
                password_hash,
            })
        })
        .transpose()
    }

    /// Runs an UPDATE of one user row; `NotFound` if no row matched.
    async fn update_user(&self, context: &'static str, query: Query<'_>) -> Result<(), StoreError> {
        let done = query
            .execute(&self.inner.pool)
            .await
            .map_err(err(context))?;
        if done.rows_affected() == 0 {
            Err(not_found(context))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        const CTX: &str = "create_user";
        let sql = self.sql(CTX)?;
        let now = utc(now);
        let mut query = q(&sql.create_user)
            .bind(new.email().to_owned())
            .bind(new.is_active)
            .bind(new.is_verified)
            .bind(now)
            .bind(new.password_hash().unwrap_or("").to_owned());
        if self.kind() == IdKind::Uuid {
            query = query.bind(Uuid::new_v4().hyphenated().to_string());
        }
        let row = query.fetch_one(&self.inner.pool).await.map_err(err(CTX))?;
        let id = decode_id(&row, 0, self.kind(), CTX)?;
        Ok(User {
            id,
            email: new.email().to_owned(),
            last_login: None,
            is_active: new.is_active,
            is_verified: new.is_verified,
            joined_at: Some(now),
            created_at: now,
            updated_at: now,
        })
    }

    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        const CTX: &str = "find_credentials_by_email";
        let sql = self.sql(CTX)?;
        self.find_credentials(CTX, q(&sql.user_by_email).bind(email.to_owned()))
            .await
    }

    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        const CTX: &str = "find_credentials_by_id";
        let sql = self.sql(CTX)?;
        self.find_credentials(CTX, bind_id(q(&sql.user_by_id), id))
            .await
    }

    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        const CTX: &str = "find_user_by_id";
        let sql = self.sql(CTX)?;
        Ok(self
            .find_credentials(CTX, bind_id(q(&sql.user_by_id), id))
            .await?
            .map(|c| c.user))
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_password_hash";
        let sql = self.sql(CTX)?;
        let query = q(&sql.set_password).bind(hash.to_owned()).bind(utc(now));
        self.update_user(CTX, bind_id(query, id)).await
    }

    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const CTX: &str = "replace_password_hash";
        let sql = self.sql(CTX)?;
        let query = q(&sql.replace_password)
            .bind(new_hash.to_owned())
            .bind(utc(now));
        let done = bind_id(query, id)
            .bind(expected.to_owned())
            .execute(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        const CTX: &str = "record_login";
        let sql = self.sql(CTX)?;
        let query = q(&sql.record_login).bind(utc(now));
        self.update_user(CTX, bind_id(query, id)).await
    }

    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_active";
        let sql = self.sql(CTX)?;
        let query = q(&sql.set_active).bind(active).bind(utc(now));
        self.update_user(CTX, bind_id(query, id)).await
    }

    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "set_verified";
        let sql = self.sql(CTX)?;
        let query = q(&sql.set_verified).bind(verified).bind(utc(now));
        self.update_user(CTX, bind_id(query, id)).await
    }
}

/// Binds the columns of a token row: digest, kind, session (NULL for single-use), user,
/// expiry.
fn token_insert<'q>(
    sql: &std::sync::Arc<str>,
    token: &NewToken,
    session: Option<&SessionId>,
    user_id: &UserId,
) -> Query<'q> {
    let query = q(sql)
        .bind(token.digest.as_bytes().to_vec())
        .bind(token.kind.code())
        .bind(session.map(SessionId::to_hex));
    bind_id(query, user_id).bind(to_micros(token.expires_at))
}

#[async_trait::async_trait]
impl TokenStore for SqliteStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
    ) -> Result<(), StoreError> {
        const CTX: &str = "create_session";
        let sql = self.sql(CTX)?;
        check_id_kind(&session.user_id, self.kind(), CTX)?;
        let e = err(CTX);
        let mut tx = self
            .inner
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(&e)?;
        let query = q(&sql.insert_session).bind(session.id.to_hex());
        bind_id(query, &session.user_id)
            .bind(to_micros(session.created_at))
            .bind(to_micros(session.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(&e)?;
        for token in tokens {
            token_insert(
                &sql.insert_token,
                token,
                Some(&session.id),
                &session.user_id,
            )
            .execute(&mut *tx)
            .await
            .map_err(&e)?;
        }
        tx.commit().await.map_err(&e)
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        const CTX: &str = "find_access_token";
        let sql = self.sql(CTX)?;
        let Some(row) = q(&sql.access_lookup)
            .bind(digest.as_bytes().to_vec())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(err(CTX))?
        else {
            return Ok(None);
        };
        let kind = token_kind(get(&row, 0, CTX)?, CTX)?;
        let expires_at = from_micros(get(&row, 1, CTX)?, CTX)?;
        let session_id = session_id(&get::<String>(&row, 2, CTX)?, CTX)?;
        let revoked_at: Option<i64> = get(&row, 3, CTX)?;
        let (user, _) = decode_user_row(&row, 4, self.kind(), CTX)?;
        Ok(Some(AccessTokenRecord {
            kind,
            expires_at,
            session_id,
            session_revoked: revoked_at.is_some(),
            user,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        digest: &TokenDigest,
        new_tokens: &[NewToken],
        session_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError> {
        const CTX: &str = "rotate_refresh_token";
        let sql = self.sql(CTX)?;
        let e = err(CTX);
        let now_us = to_micros(now);
        let digest_bytes = digest.as_bytes().to_vec();
        // The write lock first: of concurrent rotations, one runs at a time, and the
        // conditional UPDATE below lets exactly one of them spend the token.
        let mut tx = self
            .inner
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(&e)?;

        let spent = q(&sql.rotate_spend)
            .bind(now_us)
            .bind(digest_bytes.clone())
            .fetch_optional(&mut *tx)
            .await
            .map_err(&e)?;
        if let Some(row) = spent {
            let session_hex: String = get(&row, 0, CTX)?;
            let session_id = session_id(&session_hex, CTX)?;
            let user_id = decode_id(&row, 1, self.kind(), CTX)?;
            for token in new_tokens {
                token_insert(&sql.insert_token, token, Some(&session_id), &user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(&e)?;
            }
            q(&sql.session_extend)
                .bind(to_micros(session_expires_at))
                .bind(now_us)
                .bind(session_hex)
                .execute(&mut *tx)
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            return Ok(RotateOutcome::Rotated {
                session_id,
                user_id,
            });
        }

        // Not spendable: say why (same transaction, so the answer is consistent).
        let Some(row) = q(&sql.rotate_classify)
            .bind(digest_bytes)
            .fetch_optional(&mut *tx)
            .await
            .map_err(&e)?
        else {
            return Ok(RotateOutcome::NotFound);
        };
        let kind: i16 = get(&row, 0, CTX)?;
        let session_hex: Option<String> = get(&row, 1, CTX)?;
        let (Some(session_hex), true) = (session_hex, kind == TokenKind::Refresh.code()) else {
            return Ok(RotateOutcome::NotFound);
        };
        let token_expires_us: i64 = get(&row, 3, CTX)?;
        let token_spent_us: Option<i64> = get(&row, 4, CTX)?;
        let session_revoked_us: Option<i64> = get(&row, 5, CTX)?;
        let session_expires_us: Option<i64> = get(&row, 6, CTX)?;
        let Some(session_expires_us) = session_expires_us else {
            // A token row whose session is gone (foreign keys were off when it was deleted).
            return Ok(RotateOutcome::NotFound);
        };
        if session_revoked_us.is_some() {
            return Ok(RotateOutcome::SessionRevoked);
        }
        if token_spent_us.is_some() {
            let session_id = session_id(&session_hex, CTX)?;
            let user_id = decode_id(&row, 2, self.kind(), CTX)?;
            q(&sql.session_revoke_by_id)
                .bind(now_us)
                .bind(session_hex)
                .execute(&mut *tx)
                .await
                .map_err(&e)?;
            tx.commit().await.map_err(&e)?;
            tracing::warn!(session = %session_id, "refresh token reused: session revoked");
            return Ok(RotateOutcome::Reused {
                session_id,
                user_id,
            });
        }
        if token_expires_us <= now_us || session_expires_us <= now_us {
            return Ok(RotateOutcome::Expired);
        }
        // Unreachable by the UPDATE's conditions; refuse rather than guess.
        Err(corrupt(CTX, "refresh token neither spendable nor refused"))
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const CTX: &str = "revoke_session";
        let sql = self.sql(CTX)?;
        let query = q(&sql.revoke_session)
            .bind(to_micros(now))
            .bind(session_id.to_hex());
        let done = bind_id(query, user_id)
            .execute(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        const CTX: &str = "revoke_user_sessions";
        let sql = self.sql(CTX)?;
        let query = q(&sql.revoke_user_sessions).bind(to_micros(now));
        let done = bind_id(query, user_id)
            .bind(keep.map(SessionId::to_hex))
            .execute(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        Ok(done.rows_affected())
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        const CTX: &str = "list_sessions";
        let sql = self.sql(CTX)?;
        let rows = bind_id(q(&sql.list_sessions), user_id)
            .bind(to_micros(now))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: session_id(&get::<String>(row, 0, CTX)?, CTX)?,
                    user_id: decode_id(row, 1, self.kind(), CTX)?,
                    created_at: from_micros(get(row, 2, CTX)?, CTX)?,
                    refreshed_at: from_micros_opt(get(row, 3, CTX)?, CTX)?,
                    expires_at: from_micros(get(row, 4, CTX)?, CTX)?,
                })
            })
            .collect()
    }

    async fn purge_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        const CTX: &str = "purge_expired";
        let sql = self.sql(CTX)?;
        if batch == 0 {
            return Ok(0);
        }
        let e = err(CTX);
        let before_us = to_micros(before);
        let mut tx = self
            .inner
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(&e)?;
        // Sessions first (their tokens go with them by ON DELETE CASCADE, not counted),
        // then with what is left of the batch, loose token rows.
        let sessions = q(&sql.purge_sessions)
            .bind(before_us)
            .bind(i64::from(batch))
            .execute(&mut *tx)
            .await
            .map_err(&e)?
            .rows_affected();
        let left = u64::from(batch).saturating_sub(sessions);
        let tokens = if left > 0 {
            q(&sql.purge_tokens)
                .bind(before_us)
                .bind(i64::try_from(left).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(&e)?
                .rows_affected()
        } else {
            0
        };
        tx.commit().await.map_err(&e)?;
        Ok(sessions + tokens)
    }

    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const CTX: &str = "insert_single_use_token";
        let sql = self.sql(CTX)?;
        check_id_kind(user_id, self.kind(), CTX)?;
        token_insert(&sql.insert_token, token, None, user_id)
            .execute(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        Ok(())
    }

    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        const CTX: &str = "consume_single_use_token";
        let sql = self.sql(CTX)?;
        // One conditional UPDATE: atomic, so of concurrent consumers exactly one matches.
        let row = q(&sql.consume_single_use)
            .bind(to_micros(now))
            .bind(digest.as_bytes().to_vec())
            .bind(kind.code())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(err(CTX))?;
        row.map(|row| decode_id(&row, 0, self.kind(), CTX))
            .transpose()
    }
}
