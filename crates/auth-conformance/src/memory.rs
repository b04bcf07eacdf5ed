//! [`MemoryStore`]: every storage trait of `auth-core` in this process's memory, with
//! exactly the documented semantics. It is the reference model of the contract.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use auth_core::{
    AccessTokenRecord, ClientInfo, CredentialStore, EndSessions, ExpiredDeletion, IdKind,
    NewSession, NewToken, NewUser, OffsetDateTime, RateLimitDecision, RateLimitPolicy,
    RateLimitWindow, RateLimiter, RotateOutcome, Rotation, SessionId, SessionInfo, SessionStatus,
    SessionStore, SingleUseTokenStore, StoreError, StoreErrorKind, TokenDigest, TokenKind, User,
    UserCredentials, UserId, UserStore,
};
use uuid::Uuid;

/// How long a sealed grace-window successor is kept at most: `delete_expired` erases
/// sealed successors whose rotation is at least this old.
const SEALED_RETENTION: Duration = Duration::from_secs(60);

/// An in-memory store implementing every storage trait of `auth-core`: [`UserStore`],
/// [`CredentialStore`], [`SessionStore`], [`SingleUseTokenStore`], [`ExpiredDeletion`] and
/// [`RateLimiter`].
///
/// It is the reference model of the storage contract (it passes the whole conformance
/// suite) and what applications use in their own tests:
///
/// ```
/// use auth_conformance::MemoryStore;
/// use auth_core::{IdKind, NewUser, OffsetDateTime, UserStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new(IdKind::Integer);
/// let now = OffsetDateTime::now_utc();
/// let user = store
///     .create_user(&NewUser::new("Alice@Example.com").unwrap(), now)
///     .await
///     .unwrap();
/// assert_eq!(user.email, "alice@example.com");
/// let found = store.find_credentials_by_email("ALICE@example.COM").await.unwrap();
/// assert_eq!(found.unwrap().user.id, user.id);
/// # });
/// ```
///
/// - **Shared state**: clones are cheap and see the same data (an `Arc`).
/// - **Atomic**: one lock guards all state and is held for the whole of each operation,
///   so every operation is a transaction, and nothing is written by a call that fails.
/// - **Keys**: with [`IdKind::Integer`] users get 1, 2, 3, ... and a key is never reused,
///   even after the user is deleted; with [`IdKind::Uuid`], random version 4 UUIDs.
/// - **Single instance**: like [`MemoryRateLimiter`](auth_core::MemoryRateLimiter), the
///   state lives in one process; use a database store to share it between instances.
/// - **Token-only use**: sessions may name users this store does not hold (as a Redis
///   token store beside a SQL user store would); their lookups then carry no joined
///   `user`, and rotation never answers `UserInactive` for them.
/// - **Inspection**: [`MemoryStore::dump`] shows every stored value as text, so a test can
///   prove that no raw token was ever handed to the store;
///   [`MemoryStore::insert_raw_user`] writes a user row as other software would (an email
///   in mixed case, no `joined_at`).
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    kind: IdKind,
    /// The last integer key handed out.
    last_int: i64,
    /// Insertion counter, to order sessions created at the same instant.
    next_seq: u64,
    users: BTreeMap<UserId, UserRow>,
    sessions: HashMap<SessionId, SessionRow>,
    tokens: HashMap<TokenDigest, TokenRow>,
    rate: HashMap<String, RateRow>,
}

struct UserRow {
    user: User,
    password_hash: String,
}

struct SessionRow {
    user_id: UserId,
    seq: u64,
    created_at: OffsetDateTime,
    refreshed_at: Option<OffsetDateTime>,
    expires_at: OffsetDateTime,
    absolute_expires_at: OffsetDateTime,
    client: ClientInfo,
    claims: Option<String>,
    revoked_at: Option<OffsetDateTime>,
    /// The session's current (newest) refresh token.
    current_refresh: Option<TokenDigest>,
}

impl SessionRow {
    fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.absolute_expires_at > now
    }

    fn revoke(&mut self, now: OffsetDateTime) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// An access or refresh token of a session.
    Session(SessionId),
    /// A single-use token of a user.
    User(UserId),
}

struct TokenRow {
    kind: TokenKind,
    expires_at: OffsetDateTime,
    owner: Owner,
    spent_at: Option<OffsetDateTime>,
    /// For a spent refresh token: the refresh token its rotation issued.
    successor: Option<TokenDigest>,
    /// For a spent refresh token rotated with a grace window: the sealed successor pair.
    sealed: Option<Sealed>,
}

struct Sealed {
    bytes: Vec<u8>,
    window: Duration,
}

struct RateRow {
    window: RateLimitWindow,
    /// The policy of the last hit, so `delete_expired` knows when the key is stale.
    policy: RateLimitPolicy,
}

fn unique_violation(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::UniqueViolation, context)
}

fn not_found(context: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, context)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl MemoryStore {
    /// An empty store whose users get keys of `kind`.
    pub fn new(kind: IdKind) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                kind,
                ..State::default()
            })),
        }
    }

    /// The kind of key this store gives its users.
    pub fn id_kind(&self) -> IdKind {
        self.lock().kind
    }

    /// Inserts a user row the way other software (the reference, an admin tool) would:
    /// the email exactly as given (not normalized, so it may be in mixed case), password
    /// `""`, active, unverified, no `joined_at`, `created_at = updated_at = now`.
    ///
    /// It is the conformance suite's raw-insert hook for `MemoryStore` (see
    /// [`StoreFactory::insert_raw_user`](crate::StoreFactory::insert_raw_user)). An email
    /// already taken in any ASCII letter case is a `UniqueViolation`.
    pub fn insert_raw_user(&self, email: &str, now: OffsetDateTime) -> Result<UserId, StoreError> {
        let mut state = self.lock();
        if state.user_by_email(email).is_some() {
            return Err(unique_violation("insert_raw_user"));
        }
        let id = state.next_id();
        state.users.insert(
            id,
            UserRow {
                user: User {
                    id,
                    email: email.to_owned(),
                    last_login: None,
                    is_active: true,
                    is_verified: false,
                    joined_at: None,
                    created_at: now,
                    updated_at: now,
                },
                password_hash: String::new(),
            },
        );
        Ok(id)
    }

    /// Every stored value as text, one line per row: users (with their email and password
    /// hash), sessions (with user agent, address and claims), tokens (digest in hex, kind,
    /// sealed successor in hex) and rate-limit keys.
    ///
    /// A test proves that no raw token reached the store by checking that no token it
    /// handed out appears in the dump. The format is for reading and searching, not for
    /// parsing; it may change.
    pub fn dump(&self) -> String {
        let state = self.lock();
        let mut out = String::new();
        for row in state.users.values() {
            let u = &row.user;
            let _ = writeln!(
                out,
                "user id={} email={} password_hash={} active={} verified={} last_login={:?} \
                 joined_at={:?} created_at={} updated_at={}",
                u.id,
                u.email,
                row.password_hash,
                u.is_active,
                u.is_verified,
                u.last_login,
                u.joined_at,
                u.created_at,
                u.updated_at
            );
        }
        let mut sessions: Vec<_> = state.sessions.iter().collect();
        sessions.sort_by_key(|(_, s)| s.seq);
        for (id, s) in sessions {
            let _ = writeln!(
                out,
                "session id={} user={} created_at={} refreshed_at={:?} expires_at={} \
                 absolute_expires_at={} ip={:?} user_agent={:?} claims={:?} revoked_at={:?}",
                id,
                s.user_id,
                s.created_at,
                s.refreshed_at,
                s.expires_at,
                s.absolute_expires_at,
                s.client.ip(),
                s.client.user_agent(),
                s.claims,
                s.revoked_at
            );
        }
        let mut tokens: Vec<_> = state.tokens.iter().collect();
        tokens.sort_by_key(|(d, _)| d.0);
        for (digest, t) in tokens {
            let owner = match t.owner {
                Owner::Session(s) => format!("session={s}"),
                Owner::User(u) => format!("user={u}"),
            };
            let _ = writeln!(
                out,
                "token digest={} kind={:?} {} expires_at={} spent_at={:?} successor={} sealed={}",
                hex(digest.as_bytes()),
                t.kind,
                owner,
                t.expires_at,
                t.spent_at,
                t.successor.map_or_else(String::new, |d| hex(d.as_bytes())),
                t.sealed
                    .as_ref()
                    .map_or_else(String::new, |s| hex(&s.bytes))
            );
        }
        let mut keys: Vec<_> = state.rate.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        for (key, r) in keys {
            let _ = writeln!(
                out,
                "rate_limit key={} window_start={} attempts={} locked_until={:?}",
                key, r.window.window_start, r.window.attempts, r.window.locked_until
            );
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every operation validates before it mutates, so a poisoned lock holds a
        // consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("id_kind", &state.kind)
            .field("users", &state.users.len())
            .field("sessions", &state.sessions.len())
            .field("tokens", &state.tokens.len())
            .field("rate_limit_keys", &state.rate.len())
            .finish()
    }
}

impl State {
    fn next_id(&mut self) -> UserId {
        match self.kind {
            IdKind::Integer => {
                self.last_int += 1;
                UserId::Int(self.last_int)
            }
            IdKind::Uuid => loop {
                let id = UserId::Uuid(Uuid::new_v4());
                if !self.users.contains_key(&id) {
                    break id;
                }
            },
        }
    }

    fn user_by_email(&self, email: &str) -> Option<&UserRow> {
        self.users
            .values()
            .find(|row| row.user.email.eq_ignore_ascii_case(email))
    }

    fn user_mut(&mut self, id: &UserId, context: &'static str) -> Result<&mut UserRow, StoreError> {
        self.users.get_mut(id).ok_or_else(|| not_found(context))
    }

    fn joined_user(&self, id: &UserId) -> Option<User> {
        self.users.get(id).map(|row| row.user.clone())
    }

    fn status(&self, id: &SessionId, s: &SessionRow) -> SessionStatus {
        SessionStatus {
            session_id: *id,
            user_id: s.user_id,
            revoked: s.revoked_at.is_some(),
            expires_at: s.expires_at,
            absolute_expires_at: s.absolute_expires_at,
            claims: s.claims.clone(),
            user: self.joined_user(&s.user_id),
        }
    }

    /// Fails if any digest is taken or repeated, before anything is written.
    fn check_new_digests<'a>(
        &self,
        digests: impl IntoIterator<Item = &'a TokenDigest>,
        context: &'static str,
    ) -> Result<(), StoreError> {
        let mut seen = Vec::new();
        for d in digests {
            if self.tokens.contains_key(d) || seen.contains(&d) {
                return Err(unique_violation(context));
            }
            seen.push(d);
        }
        Ok(())
    }

    fn insert_session_tokens(
        &mut self,
        session: SessionId,
        cap: OffsetDateTime,
        tokens: &[NewToken],
    ) {
        for t in tokens {
            self.tokens.insert(
                t.digest,
                TokenRow {
                    kind: t.kind,
                    expires_at: t.expires_at.min(cap),
                    owner: Owner::Session(session),
                    spent_at: None,
                    successor: None,
                    sealed: None,
                },
            );
        }
    }

    /// Revokes the active sessions of `user` (except `keep`) at `now`; returns how many.
    fn end_sessions(
        &mut self,
        user: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> u64 {
        let mut n = 0;
        for (id, s) in &mut self.sessions {
            if s.user_id == *user && Some(id) != keep && s.is_active(now) {
                s.revoke(now);
                n += 1;
            }
        }
        n
    }

    /// Spends the outstanding single-use tokens of `user` (of `kind`, or of every kind).
    fn void_tokens(&mut self, user: &UserId, kind: Option<TokenKind>, now: OffsetDateTime) -> u64 {
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if t.owner == Owner::User(*user)
                && kind.is_none_or(|k| k == t.kind)
                && t.spent_at.is_none()
                && t.expires_at > now
            {
                t.spent_at = Some(now);
                n += 1;
            }
        }
        n
    }

    fn single_use(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Option<UserId> {
        let t = self.tokens.get(digest)?;
        match t.owner {
            Owner::User(user) if t.kind == kind && t.spent_at.is_none() && t.expires_at > now => {
                Some(user)
            }
            _ => None,
        }
    }

    fn rotate(&mut self, r: &Rotation<'_>) -> Result<RotateOutcome, StoreError> {
        let now = r.now;
        let Some(token) = self.tokens.get(r.digest) else {
            return Ok(RotateOutcome::NotFound);
        };
        let Owner::Session(sid) = token.owner else {
            return Ok(RotateOutcome::NotFound);
        };
        if token.kind != TokenKind::Refresh {
            return Ok(RotateOutcome::NotFound);
        }
        let Some(session) = self.sessions.get(&sid) else {
            return Ok(RotateOutcome::NotFound);
        };
        let user_id = session.user_id;
        if session.revoked_at.is_some() {
            return Ok(RotateOutcome::SessionRevoked);
        }
        let user = self.joined_user(&user_id);
        if let Some(spent_at) = token.spent_at {
            let replay = token.sealed.as_ref().filter(|sealed| {
                token.successor.is_some()
                    && token.successor == session.current_refresh
                    && now < spent_at + sealed.window
            });
            if let Some(sealed) = replay {
                let refresh_expires_at = token
                    .successor
                    .and_then(|d| self.tokens.get(&d))
                    .map_or(session.expires_at, |t| t.expires_at);
                return Ok(RotateOutcome::Replayed {
                    session_id: sid,
                    user_id,
                    sealed_successor: sealed.bytes.clone(),
                    refresh_expires_at,
                    user,
                });
            }
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.revoke(now);
            }
            return Ok(RotateOutcome::Reused {
                session_id: sid,
                user_id,
            });
        }
        if user.as_ref().is_some_and(|u| !u.is_active) {
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.revoke(now);
            }
            return Ok(RotateOutcome::UserInactive {
                session_id: sid,
                user_id,
            });
        }
        let last_active = session.refreshed_at.unwrap_or(session.created_at);
        let idle = r.idle_timeout.is_some_and(|idle| now >= last_active + idle);
        if token.expires_at <= now
            || session.expires_at <= now
            || session.absolute_expires_at <= now
            || idle
        {
            return Ok(RotateOutcome::Expired);
        }
        self.check_new_digests(
            r.new_tokens.iter().map(|t| &t.digest),
            "rotate_refresh_token",
        )?;

        let cap = session.absolute_expires_at;
        let refresh_expires_at = r.refresh_expires_at.min(cap);
        let successor = r
            .new_tokens
            .iter()
            .find(|t| t.kind == TokenKind::Refresh)
            .map(|t| t.digest);
        self.insert_session_tokens(sid, cap, r.new_tokens);
        if let Some(spent) = self.tokens.get_mut(r.digest) {
            spent.spent_at = Some(now);
            spent.successor = successor;
            spent.sealed = r.grace.map(|g| Sealed {
                bytes: g.sealed_successor.to_vec(),
                window: g.window,
            });
        }
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.expires_at = refresh_expires_at;
            s.refreshed_at = Some(now);
            s.current_refresh = successor;
        }
        Ok(RotateOutcome::Rotated {
            session_id: sid,
            user_id,
            refresh_expires_at,
            user,
        })
    }

    fn delete_expired(&mut self, before: OffsetDateTime, batch: u32) -> u64 {
        // Sealed successors are erased once a minute old (not counted).
        for t in self.tokens.values_mut() {
            if let (Some(spent_at), Some(_)) = (t.spent_at, &t.sealed)
                && spent_at + SEALED_RETENTION <= before
            {
                t.sealed = None;
            }
        }
        let limit = u64::from(batch);
        let mut deleted = 0u64;

        // Sessions past their absolute end or revoked, with all their tokens.
        let mut dead: Vec<(u64, SessionId)> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.absolute_expires_at <= before || s.revoked_at.is_some_and(|r| r <= before)
            })
            .map(|(id, s)| (s.seq, *id))
            .collect();
        dead.sort_unstable();
        for (_, id) in dead {
            if deleted >= limit {
                return deleted;
            }
            self.sessions.remove(&id);
            self.tokens.retain(|_, t| t.owner != Owner::Session(id));
            deleted += 1;
        }

        // Expired access tokens; spent or expired single-use tokens. Never a refresh row
        // of a session that still exists.
        let mut dead: Vec<TokenDigest> = self
            .tokens
            .iter()
            .filter(|(_, t)| match t.owner {
                Owner::Session(_) => t.kind == TokenKind::Access && t.expires_at <= before,
                Owner::User(_) => t.expires_at <= before || t.spent_at.is_some_and(|s| s <= before),
            })
            .map(|(d, _)| *d)
            .collect();
        dead.sort_unstable_by_key(|d| d.0);
        for d in dead {
            if deleted >= limit {
                return deleted;
            }
            self.tokens.remove(&d);
            deleted += 1;
        }

        // Rate-limit keys whose window and lockout are over.
        let mut dead: Vec<String> = self
            .rate
            .iter()
            .filter(|(_, r)| r.window.is_stale(&r.policy, before))
            .map(|(k, _)| k.clone())
            .collect();
        dead.sort_unstable();
        for k in dead {
            if deleted >= limit {
                return deleted;
            }
            self.rate.remove(&k);
            deleted += 1;
        }
        deleted
    }
}

#[async_trait::async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, new: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        let mut state = self.lock();
        if state.user_by_email(new.email()).is_some() {
            return Err(unique_violation("create_user"));
        }
        let id = state.next_id();
        let user = User {
            id,
            email: new.email().to_owned(),
            last_login: None,
            is_active: new.is_active,
            is_verified: new.is_verified,
            joined_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        state.users.insert(
            id,
            UserRow {
                user: user.clone(),
                password_hash: new.password_hash().unwrap_or_default().to_owned(),
            },
        );
        Ok(user)
    }

    async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        Ok(self.lock().user_by_email(email).map(|row| UserCredentials {
            user: row.user.clone(),
            password_hash: row.password_hash.clone(),
        }))
    }

    async fn find_credentials_by_id(
        &self,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        Ok(self.lock().users.get(id).map(|row| UserCredentials {
            user: row.user.clone(),
            password_hash: row.password_hash.clone(),
        }))
    }

    async fn find_user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().joined_user(id))
    }

    async fn credentials_current(
        &self,
        id: &UserId,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .users
            .get(id)
            .is_some_and(|row| row.user.is_active && row.password_hash == password_hash))
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "set_password_hash")?;
        row.password_hash = hash.to_owned();
        row.user.updated_at = now;
        Ok(())
    }

    async fn replace_password_hash(
        &self,
        id: &UserId,
        expected: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.users.get_mut(id) {
            Some(row) if row.password_hash == expected => {
                row.password_hash = new_hash.to_owned();
                row.user.updated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_login(&self, id: &UserId, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "record_login")?;
        row.user.last_login = Some(now);
        row.user.updated_at = now;
        Ok(())
    }

    async fn set_active(
        &self,
        id: &UserId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "set_active")?;
        row.user.is_active = active;
        row.user.updated_at = now;
        Ok(())
    }

    async fn set_verified(
        &self,
        id: &UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "set_verified")?;
        row.user.is_verified = verified;
        if verified && row.user.joined_at.is_none() {
            row.user.joined_at = Some(now);
        }
        row.user.updated_at = now;
        Ok(())
    }

    async fn delete_user(&self, id: &UserId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.users.remove(id).is_none() {
            return Ok(false);
        }
        let sessions: Vec<SessionId> = state
            .sessions
            .iter()
            .filter(|(_, s)| s.user_id == *id)
            .map(|(sid, _)| *sid)
            .collect();
        for sid in &sessions {
            state.sessions.remove(sid);
        }
        state.tokens.retain(|_, t| match t.owner {
            Owner::Session(sid) => !sessions.contains(&sid),
            Owner::User(user) => user != *id,
        });
        Ok(true)
    }
}

#[async_trait::async_trait]
impl CredentialStore for MemoryStore {
    async fn change_password_hash(
        &self,
        id: &UserId,
        hash: &str,
        sessions: EndSessions<'_>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "change_password_hash")?;
        row.password_hash = hash.to_owned();
        row.user.updated_at = now;
        let ended = match sessions {
            EndSessions::None => 0,
            EndSessions::All => state.end_sessions(id, None, now),
            EndSessions::AllExcept(keep) => state.end_sessions(id, Some(keep), now),
        };
        state.void_tokens(id, Some(TokenKind::PasswordReset), now);
        Ok(ended)
    }

    async fn deactivate_user(&self, id: &UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let row = state.user_mut(id, "deactivate_user")?;
        row.user.is_active = false;
        row.user.updated_at = now;
        let ended = state.end_sessions(id, None, now);
        state.void_tokens(id, None, now);
        Ok(ended)
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        session: &NewSession,
        tokens: &[NewToken],
        max_active: Option<u32>,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        if state.sessions.contains_key(&session.id) {
            return Err(unique_violation("create_session"));
        }
        state.check_new_digests(tokens.iter().map(|t| &t.digest), "create_session")?;

        let now = session.created_at;
        let mut evicted = 0;
        if let Some(max) = max_active {
            let mut active: Vec<(OffsetDateTime, u64, SessionId)> = state
                .sessions
                .iter()
                .filter(|(_, s)| s.user_id == session.user_id && s.is_active(now))
                .map(|(id, s)| (s.created_at, s.seq, *id))
                .collect();
            active.sort_unstable();
            // At most `max` remain, this one included.
            let excess = (active.len() + 1).saturating_sub(max as usize);
            for (_, _, id) in active.into_iter().take(excess) {
                if let Some(s) = state.sessions.get_mut(&id) {
                    s.revoke(now);
                    evicted += 1;
                }
            }
        }

        let cap = session.absolute_expires_at;
        let seq = state.next_seq;
        state.next_seq += 1;
        state.sessions.insert(
            session.id,
            SessionRow {
                user_id: session.user_id,
                seq,
                created_at: session.created_at,
                refreshed_at: None,
                expires_at: session.expires_at.min(cap),
                absolute_expires_at: cap,
                client: session.client.clone(),
                claims: session.claims.clone(),
                revoked_at: None,
                current_refresh: tokens
                    .iter()
                    .find(|t| t.kind == TokenKind::Refresh)
                    .map(|t| t.digest),
            },
        );
        state.insert_session_tokens(session.id, cap, tokens);
        Ok(evicted)
    }

    async fn find_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let state = self.lock();
        let Some(token) = state.tokens.get(digest) else {
            return Ok(None);
        };
        let Owner::Session(sid) = token.owner else {
            return Ok(None);
        };
        Ok(state.sessions.get(&sid).map(|s| AccessTokenRecord {
            kind: token.kind,
            expires_at: token.expires_at,
            session: state.status(&sid, s),
        }))
    }

    async fn session_status(&self, id: &SessionId) -> Result<Option<SessionStatus>, StoreError> {
        let state = self.lock();
        Ok(state.sessions.get(id).map(|s| state.status(id, s)))
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        self.lock().rotate(rotation)
    }

    async fn revoke_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.sessions.get_mut(session_id) {
            Some(s) if s.user_id == *user_id && s.is_active(now) => {
                s.revoke(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().end_sessions(user_id, keep, now))
    }

    async fn list_sessions(
        &self,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<(&SessionId, &SessionRow)> = state
            .sessions
            .iter()
            .filter(|(_, s)| s.user_id == *user_id && s.is_active(now))
            .collect();
        rows.sort_unstable_by_key(|(_, s)| std::cmp::Reverse((s.created_at, s.seq)));
        Ok(rows
            .into_iter()
            .map(|(id, s)| SessionInfo {
                id: *id,
                user_id: s.user_id,
                created_at: s.created_at,
                refreshed_at: s.refreshed_at,
                expires_at: s.expires_at,
                absolute_expires_at: s.absolute_expires_at,
                ip: s.client.ip(),
                user_agent: s.client.user_agent().map(str::to_owned),
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl SingleUseTokenStore for MemoryStore {
    async fn insert_single_use_token(
        &self,
        user_id: &UserId,
        token: &NewToken,
        void_outstanding: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.check_new_digests([&token.digest], "insert_single_use_token")?;
        if void_outstanding {
            state.void_tokens(user_id, Some(token.kind), now);
        }
        state.tokens.insert(
            token.digest,
            TokenRow {
                kind: token.kind,
                expires_at: token.expires_at,
                owner: Owner::User(*user_id),
                spent_at: None,
                successor: None,
                sealed: None,
            },
        );
        Ok(())
    }

    async fn find_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        Ok(self.lock().single_use(digest, kind, now))
    }

    async fn consume_single_use_token(
        &self,
        digest: &TokenDigest,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let mut state = self.lock();
        let user = state.single_use(digest, kind, now);
        if user.is_some()
            && let Some(t) = state.tokens.get_mut(digest)
        {
            t.spent_at = Some(now);
        }
        Ok(user)
    }

    async fn void_single_use_tokens(
        &self,
        user_id: &UserId,
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().void_tokens(user_id, Some(kind), now))
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for MemoryStore {
    async fn delete_expired(&self, before: OffsetDateTime, batch: u32) -> Result<u64, StoreError> {
        Ok(self.lock().delete_expired(before, batch))
    }
}

#[async_trait::async_trait]
impl RateLimiter for MemoryStore {
    async fn hit(
        &self,
        key: &str,
        policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        let mut state = self.lock();
        if let Some(row) = state.rate.get_mut(key) {
            row.policy = *policy;
            return Ok(row.window.hit(policy, now));
        }
        let (window, decision) = RateLimitWindow::first(policy, now);
        state.rate.insert(
            key.to_owned(),
            RateRow {
                window,
                policy: *policy,
            },
        );
        Ok(decision)
    }

    async fn peek(
        &self,
        key: &str,
        _policy: &RateLimitPolicy,
        now: OffsetDateTime,
    ) -> Result<RateLimitDecision, StoreError> {
        Ok(self
            .lock()
            .rate
            .get(key)
            .map_or(RateLimitDecision::Allowed { attempts: 0 }, |r| {
                r.window.peek(now)
            }))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.lock().rate.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::{Times, digest, login, pair, t};
    use auth_core::{Grace, NewUser};

    #[tokio::test]
    async fn integer_keys_are_never_reused_and_clones_share_state() {
        let store = MemoryStore::new(IdKind::Integer);
        let clone = store.clone();
        let a = store
            .create_user(&NewUser::new("a@example.com").unwrap(), t(0))
            .await
            .unwrap();
        let b = clone
            .create_user(&NewUser::new("b@example.com").unwrap(), t(0))
            .await
            .unwrap();
        assert_eq!((a.id, b.id), (UserId::Int(1), UserId::Int(2)));
        assert!(store.delete_user(&b.id).await.unwrap());
        let c = store
            .create_user(&NewUser::new("b@example.com").unwrap(), t(0))
            .await
            .unwrap();
        assert_eq!(
            c.id,
            UserId::Int(3),
            "a deleted user's key is not handed out again"
        );
        assert_eq!(clone.find_user_by_id(&c.id).await.unwrap(), Some(c));
        assert_eq!(
            MemoryStore::new(IdKind::Uuid).id_kind(),
            IdKind::Uuid,
            "UUID stores say so"
        );
    }

    #[tokio::test]
    async fn raw_users_keep_their_spelling_and_stay_unique() {
        let store = MemoryStore::default();
        let id = store.insert_raw_user("Bob@Example.COM", t(0)).unwrap();
        let err = store.insert_raw_user("bob@example.com", t(0)).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::UniqueViolation);
        let user = store.find_user_by_id(&id).await.unwrap().unwrap();
        assert_eq!(user.email, "Bob@Example.COM");
        assert_eq!(user.joined_at, None);
    }

    #[tokio::test]
    async fn dump_shows_every_stored_value_and_sealed_successors_expire() {
        let store = MemoryStore::new(IdKind::Integer);
        let user = store
            .create_user(
                &NewUser::new("dump@example.com")
                    .unwrap()
                    .with_password_hash("$argon2id$secret-hash".into()),
                t(0),
            )
            .await
            .unwrap();
        let s = login(&store, user.id, Times::standard()).await;
        let next = pair(t(1_000), t(2_000));
        let sealed = [0xab_u8; 8];
        let outcome = store
            .rotate_refresh_token(&Rotation {
                digest: &s.refresh,
                new_tokens: &next,
                refresh_expires_at: t(2_000),
                now: t(10),
                idle_timeout: None,
                grace: Some(Grace {
                    window: Duration::from_secs(30),
                    sealed_successor: &sealed,
                }),
            })
            .await
            .unwrap();
        assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
        store
            .hit("rl-key", &RateLimitPolicy::LOGIN_DEFAULT, t(0))
            .await
            .unwrap();

        let dump = store.dump();
        for needle in [
            "dump@example.com",
            "$argon2id$secret-hash",
            &hex(s.access.as_bytes()),
            &hex(next[1].digest.as_bytes()),
            &s.session.to_hex(),
            "abababababababab",
            "rl-key",
        ] {
            assert!(dump.contains(needle), "{needle} in\n{dump}");
        }
        assert!(!dump.contains(&hex(digest().as_bytes())));

        // Sealed successors are erased once a minute old (not counted as rows).
        assert_eq!(store.delete_expired(t(69), 100).await.unwrap(), 0);
        assert!(store.dump().contains("abababababababab"));
        store.delete_expired(t(70), 100).await.unwrap();
        assert!(!store.dump().contains("abababababababab"));
        assert!(format!("{store:?}").contains("sessions: 1"));
    }
}
