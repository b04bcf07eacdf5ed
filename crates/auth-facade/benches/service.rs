//! The service benchmark: the Python reference's benches (`shared/reference/python`), the
//! same methodology and the same JSON-lines records, so `cargo xtask bench --reference`
//! can put both side by side. Not a test: run through `cargo xtask bench`.
//!
//! `service [--backend sqlite-memory,sqlite-file] [--bench NAME]... [--seconds S]
//! [--repeats N] [--quick]`: N tasks call the operation in a loop until a shared deadline;
//! each call is timed; a figure is the median over the repeats of ops/s, p50 and p99.
//! State a call uses up (logout) is made untimed, and then measured time is the sum of the
//! per-call times.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_facade::{
    AuthConfig, AuthService, IdKind, OpaqueTokenBackend, SqliteStore, SystemClock, TokenBackend,
    UserId, UserTable,
};

const SECRET: &str = "b3nch-7f1c9e2a5d8b4f60c3a7e1d9b2f5c8a4e6d0";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "SecurePass123!";
const LEGACY_PASSWORD: &str = "correct horse battery staple";
/// The reference's own PBKDF2 hash of LEGACY_PASSWORD (crates/auth-hash/tests/fixtures);
/// the bcrypt-12 hash (the reference bench's cost) is made at set-up.
const PBKDF2_600K: &str =
    "pbkdf2_sha256$600000$qWeON343sZO4umNfGm9mdA==$sb2ZFxcVZGr9XuyluJ7TXz27FgpN2JsDHAaIY6Cjdmo=";
const STORM_LOGIN_TASKS: usize = 8;
const LOGOUT_ALL_SESSIONS: usize = 5;

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;
type Op = Box<dyn FnMut() -> BoxFut + Send>;

struct Options {
    backends: Vec<String>,
    benches: Vec<String>,
    seconds: f64,
    repeats: usize,
    warmup: usize,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite-memory".into()],
        benches: Vec::new(),
        seconds: 2.0,
        repeats: 5,
        warmup: 3,
    };
    let (mut seconds, mut repeats, mut quick) = (None, None, false);
    let mut args = std::env::args().skip(1).peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => {
                o.backends = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            // `cargo bench` appends a bare `--bench`: only `--bench NAME` selects.
            "--bench" => {
                if let Some(names) = args.next_if(|a| !a.starts_with("--")) {
                    o.benches.extend(names.split(',').map(String::from));
                }
            }
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()),
            "--repeats" => repeats = args.next().and_then(|s| s.parse().ok()),
            "--quick" => quick = true,
            other => eprintln!("service bench: ignoring argument {other}"),
        }
    }
    if quick {
        (o.seconds, o.repeats, o.warmup) = (0.2, 1, 1);
    }
    o.seconds = seconds.unwrap_or(o.seconds);
    o.repeats = repeats.unwrap_or(o.repeats);
    o
}

struct Bench {
    auth: AuthService,
    store: SqliteStore,
    backend: OpaqueTokenBackend,
    user: UserId,
    bcrypt_12: String,
    _dir: Option<std::path::PathBuf>,
}

async fn setup(backend: &str) -> Bench {
    let users = UserTable::new("users", IdKind::Integer);
    let (url, dir) = match backend {
        "sqlite-memory" => ("sqlite::memory:".to_string(), None),
        "sqlite-file" => {
            let dir = std::env::temp_dir().join(format!("auth-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            (format!("sqlite://{}/bench.db", dir.display()), Some(dir))
        }
        other => panic!("unknown backend {other} (sqlite-memory, sqlite-file)"),
    };
    let store = SqliteStore::connect(&url, users).await.unwrap();
    store.migrate().await.unwrap();
    let config = AuthConfig::new(SECRET).unwrap();
    let backend = OpaqueTokenBackend::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        config.access_token_lifetime(),
        config.refresh_token_lifetime(),
    );
    let auth = AuthService::new(config, store.clone()).unwrap();
    let user = auth.create_user(EMAIL).await.unwrap();
    auth.set_password(&user.id, PASSWORD).await.unwrap();
    Bench {
        auth,
        store,
        backend,
        user: user.id,
        bcrypt_12: bcrypt::hash(LEGACY_PASSWORD, 12).unwrap(),
        _dir: dir,
    }
}

/// One repeat: `conc` tasks loop their op until the deadline. Returns (ops/s, p50, p99) in µs.
async fn repeat(conc: usize, o: &Options, mut make: impl FnMut(usize) -> Op) -> (f64, f64, f64) {
    let mut tasks = Vec::new();
    let mut ops: Vec<Op> = (0..conc).map(&mut make).collect();
    for op in ops.iter_mut() {
        for _ in 0..o.warmup {
            op().await;
        }
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(o.seconds);
    for mut op in ops {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                op().await;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let wall = start.elapsed().as_secs_f64();
    summarize(lat, wall)
}

fn summarize(mut lat: Vec<f64>, seconds: f64) -> (f64, f64, f64) {
    lat.sort_by(f64::total_cmp);
    (
        lat.len() as f64 / seconds,
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
    )
}

/// Linear interpolation, as the reference's `percentile`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let (f, c) = (k.floor() as usize, k.ceil() as usize);
    sorted[f] + (sorted[c] - sorted[f]) * (k - f as f64)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn report(bench: &str, backend: &str, conc: usize, reps: Vec<(f64, f64, f64)>) {
    let n = reps.len();
    let ops = median(reps.iter().map(|r| r.0).collect());
    let p50 = median(reps.iter().map(|r| r.1).collect());
    let p99 = median(reps.iter().map(|r| r.2).collect());
    println!(
        "{{\"bench\": \"{bench}\", \"impl\": \"rust\", \"backend\": \"{backend}\", \"concurrency\": {conc}, \
         \"ops_per_sec\": {ops:.3}, \"p50_us\": {p50:.2}, \"p99_us\": {p99:.2}, \"repeats\": {n}, \
         \"version\": \"tortoise-auth-rs {}\"}}",
        env!("CARGO_PKG_VERSION")
    );
}

fn op<F, Fut>(f: F) -> Op
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::new(move || Box::pin(f()))
}

async fn run_bench(name: &str, backend: &str, b: &Bench, o: &Options) {
    let concs: &[usize] = match name {
        "authenticate" | "refresh" => &[1, 16],
        _ => &[1],
    };
    for &conc in concs {
        let mut reps = Vec::new();
        for _ in 0..o.repeats {
            let r = match name {
                "authenticate" => {
                    let access = b.auth.login(EMAIL, PASSWORD).await.unwrap().access_token;
                    repeat(conc, o, |_| {
                        let (auth, access) = (b.auth.clone(), access.clone());
                        op(move || {
                            let (auth, access) = (auth.clone(), access.clone());
                            async move {
                                auth.authenticate(&access).await.unwrap();
                            }
                        })
                    })
                    .await
                }
                "refresh" => {
                    let mut chains = Vec::new();
                    for _ in 0..conc {
                        let issued = b.backend.issue(&b.user).await.unwrap();
                        chains.push(Arc::new(Mutex::new(issued.pair.refresh_token)));
                    }
                    repeat(conc, o, |i| {
                        let (auth, chain) = (b.auth.clone(), chains[i].clone());
                        op(move || {
                            let (auth, chain) = (auth.clone(), chain.clone());
                            async move {
                                let token = chain.lock().unwrap().clone();
                                let pair = auth.refresh(&token).await.unwrap();
                                *chain.lock().unwrap() = pair.refresh_token;
                            }
                        })
                    })
                    .await
                }
                "login" => {
                    repeat(conc, o, |_| {
                        let auth = b.auth.clone();
                        op(move || {
                            let auth = auth.clone();
                            async move {
                                auth.login(EMAIL, PASSWORD).await.unwrap();
                            }
                        })
                    })
                    .await
                }
                "set_password" => {
                    repeat(conc, o, |_| {
                        let (auth, user) = (b.auth.clone(), b.user);
                        op(move || {
                            let auth = auth.clone();
                            async move {
                                auth.set_password(&user, PASSWORD).await.unwrap();
                            }
                        })
                    })
                    .await
                }
                "logout" => {
                    consumed(o, || async {
                        let token = b.backend.issue(&b.user).await.unwrap().pair.access_token;
                        let t = Instant::now();
                        b.auth.logout(&token).await.unwrap();
                        t.elapsed()
                    })
                    .await
                }
                "logout_all" => {
                    consumed(o, || async {
                        let user = b
                            .auth
                            .create_user(&format!("u{}@example.com", unique()))
                            .await
                            .unwrap();
                        for _ in 0..LOGOUT_ALL_SESSIONS {
                            b.backend.issue(&user.id).await.unwrap();
                        }
                        let t = Instant::now();
                        b.auth.logout_all(&user.id).await.unwrap();
                        t.elapsed()
                    })
                    .await
                }
                "verify_legacy_bcrypt" | "verify_legacy_pbkdf2" => {
                    let legacy = if name.ends_with("bcrypt") {
                        b.bcrypt_12.as_str()
                    } else {
                        PBKDF2_600K
                    };
                    consumed(o, || async {
                        let UserId::Int(id) = b.user else {
                            unreachable!()
                        };
                        sqlx::query("UPDATE users SET password = ? WHERE id = ?")
                            .bind(legacy)
                            .bind(id)
                            .execute(b.store.pool())
                            .await
                            .unwrap();
                        let t = Instant::now();
                        assert!(
                            b.auth
                                .check_password(&b.user, LEGACY_PASSWORD)
                                .await
                                .unwrap()
                        );
                        t.elapsed()
                    })
                    .await
                }
                "authenticate_during_login_storm" => storm(b, o).await,
                other => panic!("unknown bench {other}"),
            };
            reps.push(r);
        }
        if matches!(
            name,
            "verify_legacy_bcrypt" | "verify_legacy_pbkdf2" | "login" | "set_password"
        ) {
            // put the bench user's password back for the next bench
            b.auth.set_password(&b.user, PASSWORD).await.unwrap();
        }
        report(name, backend, conc, reps);
    }
}

fn unique() -> u128 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (u128::from(std::process::id()) << 64) | u128::from(n)
}

/// A bench whose call uses up state: `call` makes the state untimed and returns the timed
/// part; measured time is the sum of those.
async fn consumed<F, Fut>(o: &Options, call: F) -> (f64, f64, f64)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Duration>,
{
    for _ in 0..o.warmup {
        call().await;
    }
    let mut lat = Vec::new();
    let mut measured = 0.0;
    while measured < o.seconds {
        let d = call().await.as_secs_f64();
        measured += d;
        lat.push(d * 1e6);
    }
    summarize(lat, measured)
}

/// `authenticate` in one task while 8 tasks log in continuously; only authenticate counts.
async fn storm(b: &Bench, o: &Options) -> (f64, f64, f64) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loaders = Vec::new();
    for _ in 0..STORM_LOGIN_TASKS {
        let (auth, stop) = (b.auth.clone(), stop.clone());
        loaders.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                auth.login(EMAIL, PASSWORD).await.unwrap();
            }
        }));
    }
    let access = b.auth.login(EMAIL, PASSWORD).await.unwrap().access_token;
    let r = repeat(1, o, |_| {
        let (auth, access) = (b.auth.clone(), access.clone());
        op(move || {
            let (auth, access) = (auth.clone(), access.clone());
            async move {
                auth.authenticate(&access).await.unwrap();
            }
        })
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    r
}

const ALL: &[&str] = &[
    "authenticate",
    "refresh",
    "login",
    "set_password",
    "logout",
    "logout_all",
    "authenticate_during_login_storm",
    "verify_legacy_bcrypt",
    "verify_legacy_pbkdf2",
];

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for backend in &o.backends {
            let b = setup(backend).await;
            let names: Vec<&str> = if o.benches.is_empty() {
                ALL.to_vec()
            } else {
                o.benches.iter().map(String::as_str).collect()
            };
            for name in names {
                eprintln!("service bench: {name} on {backend}");
                run_bench(name, backend, &b, &o).await;
            }
        }
    });
}
