//! `auth-bench report`: reads the records of one invocation (this harness's, the Python
//! reference's, the password-hashing benchmark's and the reference's hashers') and prints
//! the comparison tables and the goals of issue 11; `--write-docs DIR` also writes
//! `DIR/benchmarks.md` and the chart `DIR/benchmarks.svg`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;

use serde_json::Value;

use crate::benches::BENCHES;
use crate::db::BACKENDS;

const REFERENCE: &str = "python-reference";

pub fn main(args: &[String]) -> Result<(), String> {
    let (mut docs, mut command, mut load) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--write-docs" => docs = Some(value()?),
            "--command" => command = Some(value()?),
            "--load" => load = Some(value()?),
            other => return Err(format!("report: unknown argument {other}")),
        }
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())?;
    let records: Vec<Value> = input
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let report = Report { records };
    let tables = report.tables();
    print!("{tables}");
    if let Some(dir) = docs {
        let dir = std::path::Path::new(&dir);
        let svg = dir.join("benchmarks.svg");
        report.chart(&svg)?;
        let md = report.document(&tables, command.as_deref(), load.as_deref());
        std::fs::write(dir.join("benchmarks.md"), md).map_err(|e| e.to_string())?;
        eprintln!(
            "report: wrote {} and {}",
            dir.join("benchmarks.md").display(),
            svg.display()
        );
    }
    Ok(())
}

struct Report {
    records: Vec<Value>,
}

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    r.get(k).and_then(Value::as_str).unwrap_or("")
}

fn f(r: &Value, k: &str) -> Option<f64> {
    r.get(k).and_then(Value::as_f64)
}

fn c(r: &Value) -> u64 {
    r.get("concurrency").and_then(Value::as_u64).unwrap_or(0)
}

/// `12,345` from 100 up, `19.4` below.
fn ops(x: f64) -> String {
    if x >= 100.0 {
        let n = x.round() as u64;
        let digits = n.to_string();
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A latency in µs, in the unit that reads best.
fn us(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1} µs")
    } else if x < 1_000.0 {
        format!("{x:.0} µs")
    } else if x < 1_000_000.0 {
        format!("{:.2} ms", x / 1_000.0)
    } else {
        format!("{:.2} s", x / 1_000_000.0)
    }
}

fn ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}×")
    } else if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

/// A time ratio: 3 decimals below 0.1 (the fast rows are 0.00x at 2).
fn time_ratio(x: f64) -> String {
    if x < 0.1 {
        format!("{x:.3}×")
    } else {
        format!("{x:.2}×")
    }
}

fn order(bench: &str) -> usize {
    let base = bench
        .strip_suffix("_1k_live_tokens")
        .or_else(|| bench.strip_suffix("_1m_live_tokens"))
        .map(|_| "authenticate_live_tokens")
        .unwrap_or(bench);
    BENCHES
        .iter()
        .position(|(n, _)| *n == base)
        .unwrap_or(usize::MAX)
}

fn backend_order(b: &str) -> usize {
    BACKENDS.iter().position(|x| *x == b).unwrap_or(usize::MAX)
}

impl Report {
    /// The service records of `impl_`, sorted as the benches and backends are.
    fn service(&self, impl_: &str) -> Vec<&Value> {
        let mut v: Vec<&Value> = self
            .records
            .iter()
            .filter(|r| s(r, "impl") == impl_ && f(r, "ops_per_sec").is_some())
            .collect();
        v.sort_by_key(|r| (order(s(r, "bench")), backend_order(s(r, "backend")), c(r)));
        v
    }

    fn rust(&self, bench: &str, backend: &str, conc: u64) -> Option<&Value> {
        self.records.iter().find(|r| {
            s(r, "impl") == "rust"
                && s(r, "bench") == bench
                && s(r, "backend") == backend
                && c(r) == conc
        })
    }

    /// The reference's row for a Rust row (`postgres-tokio` against its `postgres`).
    fn reference(&self, bench: &str, backend: &str, conc: u64) -> Option<&Value> {
        let backend = if backend == "postgres-tokio" {
            "postgres"
        } else {
            backend
        };
        self.records.iter().find(|r| {
            s(r, "impl") == REFERENCE
                && s(r, "bench") == bench
                && s(r, "backend") == backend
                && c(r) == conc
        })
    }

    /// A hash-bench median (ms) of `impl_` (`rust`, or any `python-*`).
    fn hash_ms(&self, bench: &str, python: bool) -> Option<f64> {
        self.records
            .iter()
            .find(|r| {
                s(r, "bench") == bench
                    && f(r, "median_ms").is_some()
                    && s(r, "impl").starts_with("python") == python
                    && (python || s(r, "impl") == "rust")
            })
            .and_then(|r| f(r, "median_ms"))
    }

    fn tables(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Goals (issue 11)\n");
        out.push_str(&self.goals());
        let _ = writeln!(out, "\n## Service benchmarks: Rust and the reference\n");
        let _ = writeln!(
            out,
            "Throughput × is Rust's ops/s over the reference's; p50 time × is Rust's p50 \
             over the reference's (below 1 is faster). `postgres-tokio` is compared with the \
             reference's `postgres`.\n"
        );
        let _ = writeln!(
            out,
            "| bench | store | c | Rust ops/s | p50 | p99 | reference ops/s | p50 | p99 | throughput × | p50 time × |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
        );
        for r in self.service("rust") {
            let bench = s(r, "bench");
            if matches!(bench, "login_peak_rss") {
                continue;
            }
            let (ro, r50, r99) = (
                f(r, "ops_per_sec").unwrap_or(f64::NAN),
                f(r, "p50_us").unwrap_or(f64::NAN),
                f(r, "p99_us").unwrap_or(f64::NAN),
            );
            let reference = self.reference(bench, s(r, "backend"), c(r));
            let (po, p50, p99, tx, px) = match reference {
                Some(p) => {
                    let (po, p50, p99) = (
                        f(p, "ops_per_sec").unwrap_or(f64::NAN),
                        f(p, "p50_us").unwrap_or(f64::NAN),
                        f(p, "p99_us").unwrap_or(f64::NAN),
                    );
                    (
                        ops(po),
                        us(p50),
                        us(p99),
                        ratio(ro / po),
                        time_ratio(r50 / p50),
                    )
                }
                None => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {bench} | {} | {} | {} | {} | {} | {po} | {p50} | {p99} | {tx} | {px} |",
                s(r, "backend"),
                c(r),
                ops(ro),
                us(r50),
                us(r99),
            );
        }

        let _ = writeln!(out, "\n## Password hashing (no store)\n");
        let _ = writeln!(
            out,
            "`cargo bench -p auth-hash --bench argon2` against the reference's own hashers \
             (`reference_argon2.py`): medians of the runs, ms.\n"
        );
        let _ = writeln!(
            out,
            "| measurement | params | Rust | reference | Rust / reference |"
        );
        let _ = writeln!(out, "| --- | --- | --: | --: | --: |");
        for r in self
            .records
            .iter()
            .filter(|r| s(r, "impl") == "rust" && f(r, "median_ms").is_some())
        {
            let (bench, params) = (s(r, "bench"), s(r, "params"));
            let rm = f(r, "median_ms").unwrap_or(f64::NAN);
            let p = self.records.iter().find(|p| {
                s(p, "impl").starts_with("python")
                    && s(p, "bench") == bench
                    && s(p, "params") == params
            });
            let (pm, x) = match p.and_then(|p| f(p, "median_ms")) {
                Some(pm) => (format!("{pm:.1} ms"), format!("{:.2}×", rm / pm)),
                None => ("–".into(), "–".into()),
            };
            let note = match (
                f(r, "vs_unknown_email"),
                r.get("via").and_then(Value::as_str),
            ) {
                (Some(v), _) => format!(" ({v:.2}× the unknown email's)"),
                (None, Some(via)) => format!(" (via {via})"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {bench}{note} | {params} | {rm:.1} ms | {pm} | {x} |"
            );
        }

        out.push_str(&self.ours());
        out
    }

    /// Request reset, live tokens, peak RSS.
    fn ours(&self) -> String {
        let mut out = String::new();
        let rust = self.service("rust");
        let backends: Vec<&str> = {
            let mut b: Vec<&str> = rust.iter().map(|r| s(r, "backend")).collect();
            b.sort_by_key(|x| backend_order(x));
            b.dedup();
            b
        };
        let _ = writeln!(
            out,
            "\n## `request_reset`: a known email against an unknown one\n"
        );
        let _ = writeln!(
            out,
            "Back to back (the reference's loop, one task) and each call on its own (the \
             previous call's background work finished first, untimed).\n"
        );
        let _ = writeln!(
            out,
            "| store | known p50 | unknown p50 | known / unknown | known p50, on its own | unknown p50, on its own | known / unknown |"
        );
        let _ = writeln!(out, "| --- | --: | --: | --: | --: | --: | --: |");
        for b in &backends {
            if let (Some(k), Some(u)) = (
                self.rust("request_reset_known_email", b, 1),
                self.rust("request_reset_unknown_email", b, 1),
            ) {
                let (k50, u50) = (f(k, "p50_us").unwrap_or(0.0), f(u, "p50_us").unwrap_or(0.0));
                let (ki, ui) = (
                    f(k, "isolated_p50_us").unwrap_or(f64::NAN),
                    f(u, "isolated_p50_us").unwrap_or(f64::NAN),
                );
                let _ = writeln!(
                    out,
                    "| {b} | {} | {} | {:.2}× | {} | {} | {:.2}× |",
                    us(k50),
                    us(u50),
                    k50 / u50,
                    us(ki),
                    us(ui),
                    ki / ui,
                );
            }
        }
        let _ = writeln!(
            out,
            "\n## `authenticate` with 1,000,000 live tokens against 1,000 (1 task)\n"
        );
        let _ = writeln!(
            out,
            "| store | p50, 1,000 | p50, 1,000,000 | ratio | p99, 1,000 | p99, 1,000,000 |"
        );
        let _ = writeln!(out, "| --- | --: | --: | --: | --: | --: |");
        for b in &backends {
            if let (Some(k), Some(m)) = (
                self.rust("authenticate_1k_live_tokens", b, 1),
                self.rust("authenticate_1m_live_tokens", b, 1),
            ) {
                let (k50, m50) = (f(k, "p50_us").unwrap_or(0.0), f(m, "p50_us").unwrap_or(0.0));
                let _ = writeln!(
                    out,
                    "| {b} | {} | {} | {:.2}× | {} | {} |",
                    us(k50),
                    us(m50),
                    m50 / k50,
                    us(f(k, "p99_us").unwrap_or(0.0)),
                    us(f(m, "p99_us").unwrap_or(0.0)),
                );
            }
        }
        let _ = writeln!(
            out,
            "\n## Peak RSS during 100 concurrent logins (fresh process, `VmHWM`)\n"
        );
        let _ = writeln!(
            out,
            "| store | peak RSS | RSS before the logins | hashing bound | goal | 100 logins took |"
        );
        let _ = writeln!(out, "| --- | --: | --: | --: | --: | --: |");
        for b in &backends {
            if let Some(r) = self.rust("login_peak_rss", b, 100) {
                let _ = writeln!(
                    out,
                    "| {b} | {} MiB | {} MiB | {} | {} MiB | {:.1} s |",
                    f(r, "peak_rss_mib").unwrap_or(f64::NAN),
                    f(r, "rss_before_mib").unwrap_or(f64::NAN),
                    r.get("hashing_bound").and_then(Value::as_u64).unwrap_or(0),
                    f(r, "goal_mib").unwrap_or(f64::NAN),
                    100.0 / f(r, "ops_per_sec").unwrap_or(f64::NAN),
                );
            }
        }
        out
    }

    /// Every goal of issue 11, met or missed, from this invocation's records.
    fn goals(&self) -> String {
        let mut rows: Vec<(String, String, String, Option<bool>)> = Vec::new();
        let mut add = |goal: &str, store: &str, measured: String, ok: Option<bool>| {
            rows.push((goal.to_owned(), store.to_owned(), measured, ok));
        };
        let throughput = |bench: &str, backend: &str, conc: u64| {
            let r = self.rust(bench, backend, conc)?;
            let p = self.reference(bench, backend, conc)?;
            Some((
                f(r, "ops_per_sec")? / f(p, "ops_per_sec")?,
                f(r, "p99_us")?,
                f(r, "p50_us")? / f(p, "p50_us")?,
                f(r, "p50_us")?,
            ))
        };
        for (backend, min, p99_max, goal) in [
            (
                "sqlite-memory",
                150.0,
                250.0,
                "authenticate c=16 ≥ 150× the reference, p99 < 250 µs",
            ),
            (
                "postgres-tokio",
                25.0,
                1000.0,
                "authenticate c=16 ≥ 25× the reference, p99 < 1 ms",
            ),
            (
                "postgres",
                15.0,
                1000.0,
                "authenticate c=16 ≥ 15× the reference, p99 < 1 ms",
            ),
            (
                "mysql",
                8.0,
                f64::INFINITY,
                "authenticate c=16 ≥ 8× the reference",
            ),
        ] {
            match throughput("authenticate", backend, 16) {
                Some((x, p99, _, _)) => add(
                    goal,
                    backend,
                    format!("{} (p99 {})", ratio(x), us(p99)),
                    Some(x >= min && p99 < p99_max),
                ),
                None => add(goal, backend, "not measured".into(), None),
            }
        }
        for backend in ["sqlite-memory", "sqlite-file"] {
            for conc in [1, 16] {
                match throughput("refresh", backend, conc) {
                    Some((x, ..)) => add(
                        &format!("refresh c={conc} ≥ 20× the reference"),
                        backend,
                        ratio(x),
                        Some(x >= 20.0),
                    ),
                    None => add(
                        &format!("refresh c={conc} ≥ 20× the reference"),
                        backend,
                        "not measured".into(),
                        None,
                    ),
                }
            }
        }
        let backends: BTreeSet<&str> = self
            .service("rust")
            .iter()
            .map(|r| s(r, "backend"))
            .collect();
        let mut backends: Vec<&str> = backends.into_iter().collect();
        backends.sort_by_key(|b| backend_order(b));
        for (bench, bare) in [
            ("login", "argon2id_verify"),
            ("set_password", "argon2id_hash"),
        ] {
            let bare_ms = self.hash_ms(bare, false);
            for b in &backends {
                if let Some((_, _, t, p50)) = throughput(bench, b, 1) {
                    add(
                        &format!("{bench} ≤ 0.5× the reference's time (p50)"),
                        b,
                        format!("{t:.2}×"),
                        Some(t <= 0.5),
                    );
                    if let Some(ms) = bare_ms {
                        let x = p50 / 1000.0 / ms;
                        add(
                            &format!("{bench} within 1.2× of the bare hash ({bare} {ms:.1} ms)"),
                            b,
                            format!("{x:.2}× (p50 {})", us(p50)),
                            Some(x <= 1.2),
                        );
                    }
                } else if let Some(r) = self.rust(bench, b, 1)
                    && let (Some(ms), Some(p50)) = (bare_ms, f(r, "p50_us"))
                {
                    let x = p50 / 1000.0 / ms;
                    add(
                        &format!("{bench} within 1.2× of the bare hash ({bare} {ms:.1} ms)"),
                        b,
                        format!("{x:.2}× (p50 {})", us(p50)),
                        Some(x <= 1.2),
                    );
                }
            }
        }
        for b in &backends {
            if let Some(r) = self.rust("authenticate_during_login_storm", b, 1) {
                let p99 = f(r, "p99_us").unwrap_or(f64::NAN);
                add(
                    "authenticate p99 during a login storm < 500 µs",
                    b,
                    us(p99),
                    Some(p99 < 500.0),
                );
            }
        }
        for b in &backends {
            if let Some(r) = self.rust("login_peak_rss", b, 100) {
                let (peak, goal) = (
                    f(r, "peak_rss_mib").unwrap_or(f64::NAN),
                    f(r, "goal_mib").unwrap_or(f64::NAN),
                );
                add(
                    "peak RSS, 100 concurrent logins ≤ hashing bound × 64 MiB + 64 MiB",
                    b,
                    format!("{peak} MiB of {goal} MiB"),
                    Some(peak <= goal),
                );
            }
        }
        for b in &backends {
            if let (Some(k), Some(m)) = (
                self.rust("authenticate_1k_live_tokens", b, 1),
                self.rust("authenticate_1m_live_tokens", b, 1),
            ) {
                let x = f(m, "p50_us").unwrap_or(f64::NAN) / f(k, "p50_us").unwrap_or(f64::NAN);
                add(
                    "authenticate p50, 1,000,000 live tokens within 1.5× of 1,000",
                    b,
                    format!("{x:.2}×"),
                    Some(x <= 1.5),
                );
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "| goal | store | measured | |");
        let _ = writeln!(out, "| --- | --- | --: | --- |");
        for (goal, store, measured, ok) in rows {
            let verdict = match ok {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {goal} | {store} | {measured} | {verdict} |");
        }
        out
    }

    /// `benchmarks.md`: how, where, when, the chart, the tables.
    fn document(&self, tables: &str, command: Option<&str>, load: Option<&str>) -> String {
        let mut out = String::new();
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpu
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = cpu.lines().filter(|l| l.starts_with("processor")).count();
        let ram = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let _ = write!(
            out,
            "# Benchmarks

<!-- Generated by `cargo xtask bench --write-docs` (bench/src/report.rs): rerun it
rather than editing by hand. -->

`cargo xtask bench` measures tortoise-auth for Rust against the Python reference,
tortoise-auth 0.6.0 (`shared/reference/python`), in one invocation, on the same machine
and the same database servers:

- `auth-bench` (the `bench/` crate, built with `--release`) runs the reference's service
  benches with the reference's methodology and record format: each store in a fresh
  child process on a private database (a new SQLite memory database or file, a new
  PostgreSQL schema, a new MySQL database, dropped at the end); N Tokio tasks loop the
  call until a shared deadline, every call timed; state a call uses up (logout,
  logout-all, the legacy hashes) made untimed in batches, measured time then being the
  sum of the call times; 3 warm-up calls per task; each figure is the median over the
  repeats of that repeat's ops/s, p50 and p99 (linear interpolation). Default
  configuration: Argon2id t=3 m=65536 KiB p=4 (the reference's), HS256, 256-bit opaque
  tokens. The Rust side runs on a Tokio runtime with one worker per CPU; the reference
  on one asyncio loop, as it ships.
- `cargo bench -p auth-hash --bench argon2` times the hashes alone, against the
  reference's own hashers (`crates/auth-hash/benches/reference_argon2.py`).
- Rows are matched on (bench, store, concurrency); `postgres-tokio` (the
  `auth-store-postgres` store) is compared with the reference's `postgres`. Our own rows
  (`request_reset_*`, the live-token rows, `login_peak_rss`) have no reference
  counterpart.

Flags: `--reference` (run the reference too and print the ratios), `--quick` (smoke
run), `--json` (JSON lines only), `--backend B` (repeatable or comma-separated:
`sqlite-memory`, `sqlite-file`, `postgres`, `postgres-tokio`, `mysql`, `all`),
`--bench NAME` (repeatable; `hash` for the hashing benchmark), `--seconds S`,
`--repeats N`, `--write-docs` (this page and its chart).

## This run

- Machine: {model}, {cores} cores, {ram} RAM, Linux {kernel}
- Date: {date}
- Command: `{}`
- Load average when it started: {}
- The inline SQLite read path was on (the default); `inline_reads` /
  `inline_fallbacks` in the SQLite records count the lookups it answered and the ones it
  handed to the pool.

![Throughput per operation and store, Rust and the reference (log scale)](benchmarks.svg)

",
            command.unwrap_or("cargo xtask bench"),
            load.unwrap_or("not recorded"),
        );
        out.push_str(tables);
        out.push_str(
            "
## How to read them

- The Argon2-bound rows (`login`, `set_password`, the legacy verifies, the storm's
  logins) drift by about ±10 % between runs on this VM, and a repeat holds only 5–25 of
  their calls, so their p99 is close to the maximum.
- Rust hashes on a bounded blocking pool (one hash per CPU at a time), so `authenticate`
  keeps its latency while logins run (the storm row); the reference hashes on its event
  loop.
- SQLite: `authenticate` reads on the calling thread through read-only connections
  (`docs/storage.md`), so 16 tasks on 2 cores run at about the speed of the CPU; writes
  (`refresh`, `logout`, `login`) still go through sqlx's worker thread.
- A missed goal is analysed in the issue's report with a profile; the figures here are
  the ones measured, not adjusted.
",
        );
        out
    }

    /// The chart: one panel per store, Rust and reference throughput per operation, log
    /// scale.
    fn chart(&self, path: &std::path::Path) -> Result<(), String> {
        use plotters::prelude::*;

        let rust = self.service("rust");
        let mut stores: Vec<&str> = rust
            .iter()
            .map(|r| s(r, "backend"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        stores.sort_by_key(|b| backend_order(b));
        // The operations present, in bench order, with their concurrency.
        let mut opsv: Vec<(String, u64)> = Vec::new();
        for r in &rust {
            let key = (s(r, "bench").to_owned(), c(r));
            if key.0 != "login_peak_rss" && !opsv.contains(&key) {
                opsv.push(key);
            }
        }
        opsv.sort_by_key(|(b, c)| (order(b), *c));
        if stores.is_empty() || opsv.is_empty() {
            return Err("no Rust service records to chart".into());
        }
        let short = |b: &str, c: u64| {
            let name = match b {
                "authenticate" => "auth",
                "authenticate_jwt" => "jwt",
                "refresh" => "refresh",
                "refresh_jwt" => "ref.jwt",
                "login" => "login",
                "set_password" => "set_pw",
                "logout" => "logout",
                "logout_all" => "lo_all",
                "authenticate_during_login_storm" => "storm",
                "verify_legacy_bcrypt" => "bcrypt",
                "verify_legacy_pbkdf2" => "pbkdf2",
                "request_reset_known_email" => "reset+",
                "request_reset_unknown_email" => "reset-",
                "authenticate_1k_live_tokens" => "1k live",
                "authenticate_1m_live_tokens" => "1M live",
                other => other,
            };
            if c > 1 {
                format!("{name}x{c}")
            } else {
                name.to_owned()
            }
        };
        let n = opsv.len();
        let height = 280 * stores.len() as u32;
        let root = SVGBackend::new(path, (1280, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let panels = root.split_evenly((stores.len(), 1));
        let rust_color = RGBColor(0x2b, 0x6c, 0xb0);
        let ref_color = RGBColor(0xbb, 0xbb, 0xbb);
        let max = self
            .records
            .iter()
            .filter_map(|r| f(r, "ops_per_sec"))
            .fold(1.0f64, f64::max)
            * 3.0;
        for (panel, store) in panels.iter().zip(&stores) {
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "{store}: ops/s, Rust (blue) and the reference (grey), log scale; \
                         x16 = 16 tasks, reset+/- = known/unknown email"
                    ),
                    ("sans-serif", 16),
                )
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (0.5f64..max).log_scale())
                .map_err(|e| e.to_string())?;
            let labels: Vec<String> = opsv.iter().map(|(b, c)| short(b, *c)).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                        labels[i as usize].clone()
                    } else {
                        String::new()
                    }
                })
                .x_label_style(("sans-serif", 11).into_font())
                .y_desc("ops/s")
                .y_label_formatter(&|y| ops(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            let mut bars = Vec::new();
            for (i, (bench, conc)) in opsv.iter().enumerate() {
                let x = i as f64;
                if let Some(v) = self
                    .rust(bench, store, *conc)
                    .and_then(|r| f(r, "ops_per_sec"))
                {
                    bars.push(Rectangle::new(
                        [(x - 0.38, 0.5), (x, v.max(0.5))],
                        rust_color.filled(),
                    ));
                }
                if let Some(v) = self
                    .reference(bench, store, *conc)
                    .and_then(|r| f(r, "ops_per_sec"))
                {
                    bars.push(Rectangle::new(
                        [(x, 0.5), (x + 0.38, v.max(0.5))],
                        ref_color.filled(),
                    ));
                }
            }
            chart.draw_series(bars).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
        Ok(())
    }
}
