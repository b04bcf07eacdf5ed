//! `auth-bench`: the service benchmarks of `cargo xtask bench`, on every store, in the
//! Python reference's JSON-lines records (`shared/reference/python/README.md`), with its
//! methodology: each backend runs in a fresh child process on a private database (dropped
//! at the end); N tasks loop the call until a shared deadline, every call timed; state a
//! call uses up is made untimed, in batches; every figure is the median over the repeats.
//!
//! ```text
//! auth-bench [run] [--backend B]... [--bench NAME]... [--seconds S] [--repeats N] [--quick]
//! auth-bench report [--write-docs DIR] [--command CMD] [--load LOADAVG] < records.jsonl
//! ```
//!
//! `run` prints one JSON object per line on stdout (logs go to stderr). Backends:
//! `sqlite-memory`, `sqlite-file`, `postgres` (sqlx), `postgres-tokio`
//! (`auth-store-postgres`), `mysql`, or `all`; default `sqlite-memory,sqlite-file`, as the
//! reference. Servers: `AUTH_TEST_POSTGRES_URL`, `AUTH_TEST_MYSQL_URL` (the reference's
//! defaults). `report` reads records (this harness's, the reference's, the hash
//! benchmark's) and prints the comparison table and the goals; `--write-docs` also writes
//! `benchmarks.md` and `benchmarks.svg` into DIR.

mod benches;
mod db;
mod measure;
mod report;

use std::io::{BufRead, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use measure::Timing;

/// What to run.
#[derive(Debug, Clone)]
struct Options {
    backends: Vec<String>,
    benches: Vec<String>,
    timing: Timing,
}

fn split(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (mut backends, mut benches) = (Vec::new(), Vec::new());
    let (mut seconds, mut repeats, mut warmup, mut quick) = (None, None, None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--backend" => backends.push(value("--backend")?),
            "--bench" => benches.push(value("--bench")?),
            "--seconds" => {
                seconds = Some(
                    value("--seconds")?
                        .parse::<f64>()
                        .map_err(|e| format!("--seconds: {e}"))?,
                )
            }
            "--repeats" => {
                repeats = Some(
                    value("--repeats")?
                        .parse::<usize>()
                        .map_err(|e| format!("--repeats: {e}"))?,
                )
            }
            "--warmup" => {
                warmup = Some(
                    value("--warmup")?
                        .parse::<usize>()
                        .map_err(|e| format!("--warmup: {e}"))?,
                )
            }
            "--quick" => quick = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let mut backends = split(&backends);
    if backends.is_empty() {
        backends = vec!["sqlite-memory".into(), "sqlite-file".into()];
    }
    if backends.iter().any(|b| b == "all") {
        backends = db::BACKENDS.iter().map(|b| (*b).to_owned()).collect();
    }
    for b in &backends {
        if !db::BACKENDS.contains(&b.as_str()) {
            return Err(format!(
                "unknown backend {b} (choose from {}, all)",
                db::BACKENDS.join(", ")
            ));
        }
    }
    let mut benches = split(&benches);
    if benches.is_empty() {
        benches = benches::BENCHES.iter().map(|b| b.0.to_owned()).collect();
    }
    for b in &benches {
        if !benches::BENCHES.iter().any(|(n, _)| n == b) {
            let all: Vec<&str> = benches::BENCHES.iter().map(|b| b.0).collect();
            return Err(format!(
                "unknown bench {b} (choose from {})",
                all.join(", ")
            ));
        }
    }
    let timing = Timing {
        seconds: seconds.unwrap_or(if quick { 0.2 } else { 2.0 }),
        repeats: repeats.unwrap_or(if quick { 1 } else { 5 }),
        warmup: warmup.unwrap_or(if quick { 1 } else { 3 }),
    };
    if timing.seconds <= 0.0 || timing.repeats == 0 {
        return Err("need --seconds > 0 and --repeats >= 1".into());
    }
    Ok(Options {
        backends,
        benches,
        timing,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("report") => report::main(&args[1..]),
        Some("--child") => child(&args[1..], false),
        Some("--rss-child") => child(&args[1..], true),
        Some("run") => parent(&args[1..]),
        Some("-h" | "--help") => {
            eprintln!(
                "usage: auth-bench [run] [--backend B]... [--bench NAME]... [--seconds S] \
                 [--repeats N] [--quick]\n       auth-bench report [--write-docs DIR] \
                 [--command CMD] [--load LOADAVG] < records.jsonl"
            );
            Ok(())
        }
        _ => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auth-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every backend in a child process of its own (the RSS bench in one more), passing
/// their records through.
fn parent(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    eprintln!(
        "tortoise-auth-rs {} (release: {}), {cpus} CPUs; {} s x {} repeats, {} warm-up calls; \
         backends: {}",
        env!("CARGO_PKG_VERSION"),
        !cfg!(debug_assertions),
        o.timing.seconds,
        o.timing.repeats,
        o.timing.warmup,
        o.backends.join(", ")
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut failed = Vec::new();
    let started = Instant::now();
    for backend in &o.backends {
        let t0 = Instant::now();
        let mut runs = Vec::new();
        let service: Vec<&String> = o
            .benches
            .iter()
            .filter(|b| *b != "login_peak_rss")
            .collect();
        if !service.is_empty() {
            let mut a = vec![
                "--child".to_owned(),
                backend.clone(),
                "--seconds".into(),
                o.timing.seconds.to_string(),
                "--repeats".into(),
                o.timing.repeats.to_string(),
                "--warmup".into(),
                o.timing.warmup.to_string(),
            ];
            for b in service {
                a.extend(["--bench".to_owned(), b.clone()]);
            }
            runs.push(a);
        }
        if o.benches.iter().any(|b| b == "login_peak_rss") {
            runs.push(vec!["--rss-child".to_owned(), backend.clone()]);
        }
        for a in runs {
            let mut child = Command::new(&exe)
                .args(&a)
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            let stdout = child.stdout.take().expect("piped");
            let mut out = std::io::stdout().lock();
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.map_err(|e| e.to_string())?;
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            drop(out);
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                failed.push(format!("{backend} ({})", a[0].trim_start_matches("--")));
            }
        }
        eprintln!("[{backend}] done in {:.1} s", t0.elapsed().as_secs_f64());
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("FAILED: {}", failed.join(", ")))
    }
}

/// One backend in this process: every selected bench (or the RSS bench), then the
/// database is dropped, also after a failure or Ctrl-C.
fn child(args: &[String], rss: bool) -> Result<(), String> {
    let (backend, rest) = args.split_first().ok_or("--child needs a backend")?;
    let o = parse(rest)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let database = db::open(backend).await.map_err(|e| format!("[{backend}] {e}"))?;
        let name = database.backend;
        let config = if rss {
            benches::rss_config()
        } else {
            benches::config()
        };
        let ctx = match benches::Ctx::new(database, config).await {
            Ok(ctx) => ctx,
            Err(e) => return Err(format!("[{name}] set-up: {e}")),
        };
        let work = async {
            if rss {
                return rss_bench(&ctx).await;
            }
            let mut failures = 0;
            let limit = Duration::from_secs_f64(
                120.0 + 10.0 * o.timing.seconds * o.timing.repeats as f64,
            );
            for bench in &o.benches {
                let (_, concurrencies) = benches::BENCHES
                    .iter()
                    .find(|(n, _)| n == bench)
                    .expect("checked");
                for &n in *concurrencies {
                    let t0 = Instant::now();
                    let result =
                        tokio::time::timeout(limit, benches::run(&ctx, bench, n, o.timing)).await;
                    match result {
                        Ok(Ok(figures)) => {
                            for (bench, fig, extra) in figures {
                                let r = benches::record(
                                    &bench,
                                    name,
                                    n,
                                    &fig,
                                    o.timing.repeats,
                                    extra,
                                );
                                println!("{r}");
                                eprintln!(
                                    "[{name}] {bench:<32} c={n:<3} {:>10.1} ops/s  p50 {:>10.1} us  \
                                     p99 {:>10.1} us  ({:.1} s)",
                                    fig.ops_per_sec,
                                    fig.p50_us,
                                    fig.p99_us,
                                    t0.elapsed().as_secs_f64()
                                );
                            }
                        }
                        Ok(Err(e)) => {
                            failures += 1;
                            eprintln!("[{name}] {bench} c={n} FAILED: {e}");
                        }
                        Err(_) => {
                            failures += 1;
                            eprintln!(
                                "[{name}] {bench} c={n} FAILED: no result within {} s",
                                limit.as_secs()
                            );
                        }
                    }
                }
            }
            if failures == 0 {
                Ok(())
            } else {
                Err(format!("[{name}] {failures} bench(es) failed"))
            }
        };
        let result = tokio::select! {
            r = work => r,
            _ = tokio::signal::ctrl_c() => Err(format!("[{name}] interrupted")),
        };
        ctx.auth.wait_for_background().await;
        ctx.recovery.wait_for_background().await;
        ctx.into_database().remove().await;
        result
    })
}

async fn rss_bench(ctx: &benches::Ctx) -> Result<(), String> {
    let (fig, extra) = benches::peak_rss(ctx).await?;
    let name = ctx.db.backend;
    eprintln!(
        "[{name}] login_peak_rss c=100: peak {} MiB (before the logins {} MiB), goal {} MiB",
        extra["peak_rss_mib"], extra["rss_before_mib"], extra["goal_mib"]
    );
    println!(
        "{}",
        benches::record("login_peak_rss", name, 100, &fig, 1, extra)
    );
    Ok(())
}
