//! The benches: the reference's (same names, same calls, same state handling) and ours.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use auth_core::{ClientInfo, ExtraClaims, IssueRequest, Notification, Notifier, TokenKind, UserId};
use auth_facade::crates::tokens::{generate_session_id, generate_token};
use auth_facade::{AuthConfig, AuthService, JwtConfig};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::db::{Database, Raw, SessionRows, Store, bulk_live_tokens, bulk_sessions, bulk_users};
use crate::measure::{Figure, Op, Plan, Timing, measure, op};

/// 48 bytes, like the reference's.
pub const SIGNING_KEY: &str = "b3nch-7f1c9e2a5d8b4f60c3a7e1d9b2f5c8a4e6d0a1b2c3d";
const JWT_KEY: &str = "b3nch-jwt-0e4c8a2f6b1d9e3a7c5f0b8d2e6a4c9f1b7d3";
/// The reference's user and password.
pub const EMAIL: &str = "alice@example.com";
/// See [`EMAIL`].
pub const PASSWORD: &str = "SecurePass123!";
/// The legacy hashes' password, and the reference's own PBKDF2-SHA256 hash of it
/// (600,000 iterations, `crates/auth-hash/tests/fixtures`).
const LEGACY_PASSWORD: &str = "correct horse battery staple";
const PBKDF2_600K: &str =
    "pbkdf2_sha256$600000$qWeON343sZO4umNfGm9mdA==$sb2ZFxcVZGr9XuyluJ7TXz27FgpN2JsDHAaIY6Cjdmo=";
/// Token pairs a user holds before each `logout_all` (the reference's).
const LOGOUT_ALL_SESSIONS: usize = 5;
/// Background login tasks of the storm (the reference's).
const STORM_LOGIN_TASKS: usize = 8;
/// State made per batch for calls that use it up (the reference's).
const POOL_BATCH: usize = 100;

/// Every bench, with its concurrencies, in run order. `authenticate_live_tokens`
/// makes two records (`authenticate_1k_live_tokens`, `authenticate_1m_live_tokens`);
/// `login_peak_rss` runs in a fresh process.
pub const BENCHES: &[(&str, &[usize])] = &[
    ("authenticate", &[1, 16]),
    ("authenticate_jwt", &[1, 16]),
    ("refresh", &[1, 16]),
    ("refresh_jwt", &[1, 16]),
    ("login", &[1]),
    ("set_password", &[1]),
    ("logout", &[1]),
    ("logout_all", &[1]),
    ("authenticate_during_login_storm", &[1]),
    ("verify_legacy_bcrypt", &[1]),
    ("verify_legacy_pbkdf2", &[1]),
    ("request_reset_known_email", &[1]),
    ("request_reset_unknown_email", &[1]),
    ("authenticate_live_tokens", &[1]),
    ("login_peak_rss", &[100]),
];

/// The default configuration (the reference's Argon2id t=3 m=65536 p=4, HS256).
pub fn config() -> AuthConfig {
    AuthConfig::builder()
        .signing_secret(SIGNING_KEY)
        .build()
        .expect("the bench configuration is valid")
}

fn jwt_config() -> JwtConfig {
    JwtConfig::hs256(JWT_KEY)
        .build()
        .expect("the bench JWT configuration is valid")
}

/// A notifier that drops every notification (the reset benches time the request).
struct Discard;

#[auth_core::async_trait]
impl Notifier for Discard {
    async fn notify(&self, _: Notification) -> Result<(), auth_core::BoxError> {
        Ok(())
    }
}

/// Per-backend state the benches share.
pub struct Ctx {
    /// The run's database.
    pub db: Database,
    /// Opaque (database) access tokens.
    pub auth: AuthService,
    /// JWT access tokens (each checked against its session).
    pub jwt: AuthService,
    /// Password reset without rate limits, notifications discarded.
    pub recovery: AuthService,
    /// The reference's user (`EMAIL`, `PASSWORD`).
    pub user: UserId,
    /// An Argon2id hash of `PASSWORD` at the default parameters, for users made untimed.
    pub hash: String,
    n: AtomicU64,
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

impl Ctx {
    /// The services on `db` (the opaque one with `config`), and the reference's user.
    pub async fn new(db: Database, opaque: AuthConfig) -> Result<Self, String> {
        let auth = db.store.service(opaque, |b| b)?;
        let jwt = db.store.service(config(), |b| b.jwt(jwt_config()))?;
        let recovery_config = AuthConfig::builder()
            .signing_secret(SIGNING_KEY)
            .recovery_rate_limit(None)
            .ip_rate_limit(None)
            .build()
            .map_err(e)?;
        let recovery = db
            .store
            .service(recovery_config, |b| b.notifier(Arc::new(Discard)))?;
        let user = auth.register(EMAIL, PASSWORD).await.map_err(e)?.id;
        let hash = db
            .store
            .users()
            .find_credentials_by_id(&user)
            .await
            .map_err(e)?
            .ok_or("the user just registered is missing")?
            .password_hash;
        Ok(Self {
            db,
            auth,
            jwt,
            recovery,
            user,
            hash,
            n: AtomicU64::new(0),
        })
    }

    /// The run's database, for removal.
    pub fn into_database(self) -> Database {
        self.db
    }

    /// A new user with `PASSWORD` (hash set directly: no hashing).
    pub async fn new_user(&self) -> Result<(UserId, String), String> {
        let email = format!("user{}@example.com", self.n.fetch_add(1, Ordering::Relaxed));
        let user = self.auth.create_user(&email).await.map_err(e)?;
        self.db
            .store
            .users()
            .set_password_hash(&user.id, &self.hash, auth_core::OffsetDateTime::now_utc())
            .await
            .map_err(e)?;
        Ok((user.id, email))
    }
}

/// A new session of `user` on `auth`'s token backend, without a login (no hashing).
async fn issue(auth: &AuthService, user: &UserId) -> Result<auth_core::TokenPair, String> {
    let client = ClientInfo::none();
    let claims = ExtraClaims::new();
    Ok(auth
        .token_backend()
        .issue(IssueRequest {
            user_id: *user,
            client: &client,
            extra_claims: &claims,
        })
        .await
        .map_err(e)?
        .pair)
}

/// A new session with a token pair for each of `users`, written directly (the rows a
/// login writes, real tokens and digests; no hashing, no session cap); their access
/// tokens.
async fn new_pairs(raw: &Raw, users: &[UserId]) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    let mut pairs = Vec::new();
    for user in users {
        let (access, a) = generate_token(TokenKind::Access).map_err(e)?;
        let (_, r) = generate_token(TokenKind::Refresh).map_err(e)?;
        let id = generate_session_id().map_err(e)?.to_hex();
        rows.push(SessionRows {
            id,
            user: *user,
            access: *a.as_bytes(),
            refresh: *r.as_bytes(),
        });
        pairs.push(access);
    }
    bulk_sessions(raw, "", &rows).await?;
    Ok(pairs)
}

fn authenticate_op(auth: &AuthService, token: String) -> Op {
    let auth = auth.clone();
    op(move || {
        let (auth, token) = (auth.clone(), token.clone());
        async move { auth.authenticate(&token).await.map(drop).map_err(e) }
    })
}

/// One op per task authenticating its own token.
async fn p_authenticate(auth: &AuthService, user: &UserId, n: usize) -> Result<Plan, String> {
    let mut ops = Vec::new();
    for _ in 0..n {
        ops.push(authenticate_op(auth, issue(auth, user).await?.access_token));
    }
    Ok(Plan::Tasks(ops))
}

/// One chain per task: each call refreshes the token the previous call returned.
async fn p_refresh(auth: &AuthService, user: &UserId, n: usize) -> Result<Plan, String> {
    let mut ops = Vec::new();
    for _ in 0..n {
        let chain = Arc::new(Mutex::new(issue(auth, user).await?.refresh_token));
        let auth = auth.clone();
        ops.push(op(move || {
            let (auth, chain) = (auth.clone(), chain.clone());
            async move {
                let mut token = chain.lock().await;
                let pair = auth.refresh(&token).await.map_err(e)?;
                *token = pair.refresh_token;
                Ok(())
            }
        }));
    }
    Ok(Plan::Tasks(ops))
}

/// A set-up step that takes a fresh item before each call; `make_batch` makes
/// [`POOL_BATCH`] items at a time, untimed, in a few statements (the reference makes
/// them in one transaction per batch).
fn pooled<T, F, Fut>(make_batch: F) -> (Op, Arc<std::sync::Mutex<Option<T>>>)
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, String>> + Send + 'static,
{
    let pool: Arc<std::sync::Mutex<Vec<T>>> = Arc::default();
    let current: Arc<std::sync::Mutex<Option<T>>> = Arc::default();
    let make_batch = Arc::new(make_batch);
    let cur = current.clone();
    let setup = op(move || {
        let (pool, cur, make_batch) = (pool.clone(), cur.clone(), make_batch.clone());
        async move {
            let empty = pool.lock().map_err(e)?.is_empty();
            if empty {
                let batch = make_batch().await?;
                pool.lock().map_err(e)?.extend(batch);
            }
            let next = pool.lock().map_err(e)?.pop();
            *cur.lock().map_err(e)? = next;
            Ok(())
        }
    });
    (setup, current)
}

fn take<T>(cur: &std::sync::Mutex<Option<T>>) -> Result<T, String> {
    cur.lock()
        .map_err(e)?
        .take()
        .ok_or_else(|| "no state prepared".to_owned())
}

/// A record in the reference's format.
pub fn record(
    bench: &str,
    backend: &str,
    concurrency: usize,
    fig: &Figure,
    repeats: usize,
    extra: Map<String, Value>,
) -> Value {
    let round = |x: f64, d: i32| {
        let f = 10f64.powi(d);
        (x * f).round() / f
    };
    let mut r = json!({
        "bench": bench,
        "impl": "rust",
        "backend": backend,
        "concurrency": concurrency,
        "ops_per_sec": round(fig.ops_per_sec, 3),
        "p50_us": round(fig.p50_us, 2),
        "p99_us": round(fig.p99_us, 2),
        "repeats": repeats,
        "version": concat!("tortoise-auth-rs ", env!("CARGO_PKG_VERSION")),
        "calls": fig.calls,
    });
    if let Value::Object(m) = &mut r {
        m.extend(extra);
    }
    r
}

/// Runs bench `name` at concurrency `n`: one record, or two for the live-token bench.
pub async fn run(
    ctx: &Ctx,
    name: &str,
    n: usize,
    timing: Timing,
) -> Result<Vec<(String, Figure, Map<String, Value>)>, String> {
    let user = ctx.user;
    let mut extra = Map::new();
    let mut background: Option<(Arc<AtomicBool>, Vec<tokio::task::JoinHandle<()>>)> = None;
    let plan = match name {
        "authenticate" => p_authenticate(&ctx.auth, &user, n).await?,
        "authenticate_jwt" => p_authenticate(&ctx.jwt, &user, n).await?,
        "refresh" => p_refresh(&ctx.auth, &user, n).await?,
        "refresh_jwt" => p_refresh(&ctx.jwt, &user, n).await?,
        "login" => {
            let auth = ctx.auth.clone();
            Plan::Tasks(vec![op(move || {
                let auth = auth.clone();
                async move { auth.login(EMAIL, PASSWORD).await.map(drop).map_err(e) }
            })])
        }
        "set_password" => {
            let auth = ctx.auth.clone();
            Plan::Tasks(vec![op(move || {
                let auth = auth.clone();
                async move { auth.set_password(&user, PASSWORD).await.map_err(e) }
            })])
        }
        "logout" => {
            let raw = ctx.db.raw.clone();
            let (setup, cur) = pooled(move || {
                let raw = raw.clone();
                async move { new_pairs(&raw, &[user; POOL_BATCH]).await }
            });
            let auth = ctx.auth.clone();
            let call = op(move || {
                let (auth, cur) = (auth.clone(), cur.clone());
                async move {
                    let access = take(&cur)?;
                    auth.logout(&access).await.map_err(e)
                }
            });
            Plan::Serial { setup, call }
        }
        "logout_all" => {
            let raw = ctx.db.raw.clone();
            let (setup, cur) = pooled(move || {
                let raw = raw.clone();
                async move {
                    let users = bulk_users(&raw, POOL_BATCH).await?;
                    let sessions: Vec<UserId> = users
                        .iter()
                        .flat_map(|u| [*u; LOGOUT_ALL_SESSIONS])
                        .collect();
                    new_pairs(&raw, &sessions).await?;
                    Ok(users)
                }
            });
            let auth = ctx.auth.clone();
            let call = op(move || {
                let (auth, cur) = (auth.clone(), cur.clone());
                async move {
                    let uid = take(&cur)?;
                    auth.logout_all(&uid).await.map(drop).map_err(e)
                }
            });
            Plan::Serial { setup, call }
        }
        "authenticate_during_login_storm" => {
            let token = issue(&ctx.auth, &user).await?.access_token;
            let stop = Arc::new(AtomicBool::new(false));
            let mut tasks = Vec::new();
            for _ in 0..STORM_LOGIN_TASKS {
                let (_, email) = ctx.new_user().await?;
                let (auth, stop) = (ctx.auth.clone(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(err) = auth.login(&email, PASSWORD).await {
                            eprintln!("storm login failed: {err}");
                            return;
                        }
                    }
                }));
            }
            tokio::task::yield_now().await;
            background = Some((stop, tasks));
            Plan::Tasks(vec![authenticate_op(&ctx.auth, token)])
        }
        "verify_legacy_bcrypt" | "verify_legacy_pbkdf2" => {
            let legacy = if name.ends_with("bcrypt") {
                bcrypt::hash(LEGACY_PASSWORD, 12).map_err(e)?
            } else {
                PBKDF2_600K.to_owned()
            };
            let (uid, _) = ctx.new_user().await?;
            let users = ctx.db.store.users();
            let setup = op(move || {
                let (users, legacy) = (users.clone(), legacy.clone());
                async move {
                    users
                        .set_password_hash(&uid, &legacy, auth_core::OffsetDateTime::now_utc())
                        .await
                        .map_err(e)
                }
            });
            let auth = ctx.auth.clone();
            let call = op(move || {
                let auth = auth.clone();
                async move {
                    if auth
                        .check_password(&uid, LEGACY_PASSWORD)
                        .await
                        .map_err(e)?
                    {
                        Ok(())
                    } else {
                        Err("the legacy hash did not verify".into())
                    }
                }
            });
            // The re-hash really happens (checked once, untimed).
            setup().await?;
            call().await?;
            let upgraded = ctx
                .db
                .store
                .users()
                .find_credentials_by_id(&uid)
                .await
                .map_err(e)?
                .ok_or("legacy user missing")?
                .password_hash;
            if !upgraded.starts_with("$argon2id$") {
                return Err(format!("legacy hash not re-hashed: {upgraded:.12}"));
            }
            Plan::Serial { setup, call }
        }
        "request_reset_known_email" | "request_reset_unknown_email" => {
            let email = if name.contains("unknown") {
                "nobody-here@example.com".to_owned()
            } else {
                ctx.new_user().await?.1
            };
            let auth = ctx.recovery.clone();
            let call = op(move || {
                let (auth, email) = (auth.clone(), email.clone());
                async move { auth.request_reset(&email).await.map_err(e) }
            });
            // Also each call on its own: the previous call's background work (a known
            // email's token insert) finished first, untimed. A fixed number of calls:
            // draining the background takes far longer than a call.
            let isolated_calls = if timing.seconds < 1.0 { 20 } else { 300 };
            let mut lat = Vec::with_capacity(isolated_calls);
            for _ in 0..isolated_calls {
                ctx.recovery.wait_for_background().await;
                let t = Instant::now();
                call().await?;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            ctx.recovery.wait_for_background().await;
            lat.sort_by(f64::total_cmp);
            extra.insert(
                "isolated_p50_us".into(),
                json!((crate::measure::percentile(&lat, 50.0) * 100.0).round() / 100.0),
            );
            extra.insert("isolated_calls".into(), json!(isolated_calls));
            // The figure: the reference's loop, back to back (a known email's background
            // insert of the previous call may still hold the store when the next reads).
            Plan::Tasks(vec![call])
        }
        "authenticate_live_tokens" => return live_tokens(ctx, timing).await,
        other => return Err(format!("unknown bench {other}")),
    };
    let before = ctx.db.store.fast_read_counts();
    let started = Instant::now();
    let fig = measure(&plan, timing).await;
    if let Some((stop, tasks)) = background {
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }
    ctx.recovery.wait_for_background().await;
    let fig = fig?;
    if let (Some(b), Some(a)) = (before, ctx.db.store.fast_read_counts())
        && a.0 + a.1 > b.0 + b.1
    {
        extra.insert("inline_reads".into(), json!(a.0 - b.0));
        extra.insert("inline_fallbacks".into(), json!(a.1 - b.1));
    }
    extra.insert(
        "seconds_total".into(),
        json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0),
    );
    Ok(vec![(name.to_owned(), fig, extra)])
}

/// `authenticate` (one task) with 1,000 live tokens in the tables, then with
/// 1,000,000: tables of their own (prefix `lt_`), rows bulk-inserted untimed.
async fn live_tokens(
    ctx: &Ctx,
    timing: Timing,
) -> Result<Vec<(String, Figure, Map<String, Value>)>, String> {
    let store: Store = ctx.db.store.with_prefix("lt_").await?;
    let auth = store.service(config(), |b| b)?;
    let token = issue(&auth, &ctx.user).await?.access_token;
    let plan = Plan::Tasks(vec![authenticate_op(&auth, token)]);
    let mut out = Vec::new();
    let mut have = 1u64;
    for (name, live) in [
        ("authenticate_1k_live_tokens", 1_000u64),
        ("authenticate_1m_live_tokens", 1_000_000u64),
    ] {
        let t = Instant::now();
        bulk_live_tokens(&ctx.db.raw, store.prefix(), &ctx.user, have, live - have).await?;
        have = live;
        analyze(ctx).await?;
        eprintln!(
            "[{}] {live} live tokens in lt_auth_tokens ({:.1} s to insert)",
            ctx.db.backend,
            t.elapsed().as_secs_f64()
        );
        let before = store.fast_read_counts();
        let fig = measure(&plan, timing).await?;
        let mut extra = Map::new();
        extra.insert("live_tokens".into(), json!(live));
        if let (Some(b), Some(a)) = (before, store.fast_read_counts()) {
            extra.insert("inline_reads".into(), json!(a.0 - b.0));
            extra.insert("inline_fallbacks".into(), json!(a.1 - b.1));
        }
        out.push((name.to_owned(), fig, extra));
    }
    let ratio = out[1].1.p50_us / out[0].1.p50_us;
    out[1]
        .2
        .insert("p50_vs_1k".into(), json!((ratio * 100.0).round() / 100.0));
    Ok(out)
}

/// Fresh planner statistics after a bulk insert (what a running database would have).
async fn analyze(ctx: &Ctx) -> Result<(), String> {
    match ctx.db.backend {
        "postgres" | "postgres-tokio" => {
            ctx.db.raw.exec("ANALYZE lt_auth_tokens").await?;
            ctx.db.raw.exec("ANALYZE lt_auth_sessions").await?;
        }
        "mysql" => {
            ctx.db.raw.exec("ANALYZE TABLE lt_auth_tokens").await?;
            ctx.db.raw.exec("ANALYZE TABLE lt_auth_sessions").await?;
        }
        _ => {}
    }
    Ok(())
}

/// `login_peak_rss` in this (fresh) process: 100 logins at once, of 100 users; the peak
/// resident set (`VmHWM`) against the hashing bound.
/// The configuration of the `login_peak_rss` process: the default, except that 100
/// logins queueing for the hashing permits wait for them rather than answer "busy" after
/// the default 5 s.
pub fn rss_config() -> AuthConfig {
    AuthConfig::builder()
        .signing_secret(SIGNING_KEY)
        .hashing_queue_timeout(std::time::Duration::from_secs(300))
        .build()
        .expect("the bench configuration is valid")
}

/// `login_peak_rss` in this (fresh) process, whose context was made with
/// [`rss_config`]: one service, so one hashing pool and its memory, as an application has.
pub async fn peak_rss(ctx: &Ctx) -> Result<(Figure, Map<String, Value>), String> {
    const LOGINS: usize = 100;
    let auth = ctx.auth.clone();
    let mut emails = Vec::new();
    for _ in 0..LOGINS {
        emails.push(ctx.new_user().await?.1);
    }
    let baseline = status_kib("VmRSS").unwrap_or(0);
    let hwm_before = status_kib("VmHWM").unwrap_or(0);
    let start = Instant::now();
    let tasks: Vec<_> = emails
        .into_iter()
        .map(|email| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                auth.login(&email, PASSWORD).await.map_err(e)?;
                Ok::<f64, String>(t.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.push(t.await.map_err(e)??);
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let peak = status_kib("VmHWM").ok_or("no VmHWM in /proc/self/status")?;
    let bound = match auth.config().hashing_concurrency() {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let m_kib = u64::from(auth.config().argon2_memory_kib());
    let goal_kib = bound as u64 * m_kib + 64 * 1024;
    let mib = |kib: u64| (kib as f64 / 1024.0 * 10.0).round() / 10.0;
    let mut extra = Map::new();
    extra.insert("peak_rss_mib".into(), json!(mib(peak)));
    extra.insert("rss_before_mib".into(), json!(mib(baseline)));
    extra.insert("peak_before_mib".into(), json!(mib(hwm_before)));
    extra.insert("hashing_bound".into(), json!(bound));
    extra.insert("goal_mib".into(), json!(mib(goal_kib)));
    Ok((
        Figure {
            ops_per_sec: LOGINS as f64 / wall,
            p50_us: crate::measure::percentile(&lat, 50.0) * 1e6,
            p99_us: crate::measure::percentile(&lat, 99.0) * 1e6,
            calls: LOGINS,
        },
        extra,
    ))
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}
