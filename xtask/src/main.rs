//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: starts the database services, then `cargo fmt --check`, `cargo clippy -D warnings`
//!   and the whole test suite with every backend required (`AUTH_TEST_REQUIRE_ALL=1`).
//! - `services`: starts PostgreSQL, MariaDB and Redis where installed but not running.
//! - `bench`: the benchmarks, side by side with the Python reference where it can run.
//! - `migrate`, `cleanup`: run the `tortoise-auth` admin command (crate `auth-cli`) on a
//!   `--database-url`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";
const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("services") => services(),
        Some("bench") => bench(&args[1..]),
        Some(command @ ("migrate" | "cleanup")) => admin(command, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | services | bench [--reference] [--quick] [--json] \
                 | migrate --database-url URL [--user-table NAME --id integer|uuid] \
                 | cleanup --database-url URL>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(step) => {
            eprintln!("xtask: {step} failed");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, echoing it; Err names it if it fails.
fn run(program: &str, args: &[&str], envs: &[(&str, String)]) -> Result<(), String> {
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("xtask: $ {shown}");
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .status()
        .map_err(|e| format!("`{shown}` ({e})"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}`"))
    }
}

/// `migrate` and `cleanup` through the `tortoise-auth` command (crate `auth-cli`), so
/// xtask itself stays free of database drivers.
fn admin(command: &str, args: &[String]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut all = vec![
        "run",
        "-q",
        "-p",
        "auth-cli",
        "--bin",
        "tortoise-auth",
        "--",
        command,
    ];
    all.extend(args.iter().map(String::as_str));
    run(&cargo, &all, &[])
}

fn services() -> Result<(), String> {
    run("bash", &["scripts/services.sh"], &[])
}

fn ci() -> Result<(), String> {
    services()?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(&cargo, &["fmt", "--all", "--", "--check"], &[])?;
    run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    let reports = root().join("target").join("conformance-reports");
    let _ = std::fs::remove_dir_all(&reports);
    let url = |var: &str, default: &str| env::var(var).unwrap_or_else(|_| default.into());
    let test_env = [
        ("AUTH_TEST_REQUIRE_ALL", "1".to_string()),
        (
            "AUTH_TEST_POSTGRES_URL",
            url("AUTH_TEST_POSTGRES_URL", POSTGRES_URL),
        ),
        ("AUTH_TEST_MYSQL_URL", url("AUTH_TEST_MYSQL_URL", MYSQL_URL)),
        ("AUTH_TEST_REDIS_URL", url("AUTH_TEST_REDIS_URL", REDIS_URL)),
        (
            "AUTH_CONFORMANCE_REPORT_DIR",
            reports.to_string_lossy().into_owned(),
        ),
    ];
    let tested = run(
        &cargo,
        &["test", "--workspace", "--all-features"],
        &test_env,
    );
    print_conformance(&reports);
    tested
}

/// Prints every conformance summary the test run wrote (the test harness hides the output
/// of passing tests).
fn print_conformance(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("xtask: no conformance reports in {}", dir.display());
        return;
    };
    let mut lines: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|l| l.trim().to_owned())
        .collect();
    lines.sort();
    println!();
    println!("Conformance (each store runs the same suite; `broken-*` are deliberately broken");
    println!("stores the suite must catch, so their failures are expected):");
    for line in lines {
        println!("  {line}");
    }
}

/// `cargo xtask bench [--reference] [--quick] [--backend B] [--bench NAME]...`: the hash
/// benchmark and the service benchmark; with `--reference`, the Python reference's same
/// benches run in the same invocation and a table gives the ratios.
fn bench(args: &[String]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let reference = args.iter().any(|a| a == "--reference");
    let passed: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--reference")
        .collect();
    let quick = passed.contains(&"--quick");

    let hash_runs = if quick { "3" } else { "15" };
    let hash_env = [("AUTH_HASH_BENCH_RUNS", hash_runs.to_string())];
    let mut rust = capture(
        &cargo,
        &["bench", "-q", "-p", "auth-hash", "--bench", "argon2"],
        &hash_env,
    )?;
    let mut service_args = vec![
        "bench",
        "-q",
        "-p",
        "auth-facade",
        "--bench",
        "service",
        "--",
    ];
    service_args.extend(&passed);
    rust.extend(capture(&cargo, &service_args, &[])?);
    for line in &rust {
        println!("{line}");
    }
    if !reference {
        return Ok(());
    }

    let venv = env::var("AUTH_REFERENCE_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/auth-reference-venv",
            env::var("HOME").unwrap_or_default()
        )
    });
    let run_sh = "../shared/reference/python/run.sh";
    let mut python = Vec::new();
    let mut ref_args = vec![run_sh, "--json"];
    if !passed.contains(&"--backend") {
        ref_args.extend(["--backend", "sqlite-memory"]);
    }
    ref_args.extend(&passed);
    python.extend(capture("bash", &ref_args, &[])?);
    let venv_python = format!("{venv}/bin/python");
    python.extend(capture(
        &venv_python,
        &["crates/auth-hash/benches/reference_argon2.py"],
        &hash_env,
    )?);
    for line in &python {
        println!("{line}");
    }
    print_comparison(&rust, &python);
    Ok(())
}

/// Runs a command, passing stderr through, and returns its stdout's JSON lines.
fn capture(program: &str, args: &[&str], envs: &[(&str, String)]) -> Result<Vec<String>, String> {
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("xtask: $ {shown}");
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("`{shown}` ({e})"))?;
    if !out.status.success() {
        return Err(format!("`{shown}`"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(String::from)
        .collect())
}

/// The value of a flat JSON field, as text (strings without quotes).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = line[start..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        s.split('"').next()
    } else {
        rest.split([',', '}']).next().map(str::trim)
    }
}

fn number(line: &str, key: &str) -> Option<f64> {
    field(line, key)?.parse().ok()
}

/// Rows matched on (bench, backend, concurrency) or (bench, params): Rust against the
/// reference, as ratios of medians from this one invocation.
fn print_comparison(rust: &[String], python: &[String]) {
    let key = |l: &str| {
        format!(
            "{} {} {}",
            field(l, "bench").unwrap_or("?"),
            field(l, "backend")
                .or_else(|| field(l, "params"))
                .unwrap_or(""),
            field(l, "concurrency")
                .map(|c| format!("c={c}"))
                .unwrap_or_default()
        )
    };
    println!();
    println!("| bench | rust | reference | rust vs reference |");
    println!("| --- | --: | --: | --: |");
    for r in rust {
        let Some(p) = python.iter().find(|p| key(p) == key(r)) else {
            continue;
        };
        if let (Some(ro), Some(po)) = (number(r, "ops_per_sec"), number(p, "ops_per_sec")) {
            println!(
                "| {} | {ro:.1} ops/s, p50 {:.0} µs | {po:.1} ops/s, p50 {:.0} µs | {:.2}x throughput |",
                key(r),
                number(r, "p50_us").unwrap_or(f64::NAN),
                number(p, "p50_us").unwrap_or(f64::NAN),
                ro / po
            );
        } else if let (Some(rm), Some(pm)) = (number(r, "median_ms"), number(p, "median_ms")) {
            println!(
                "| {} | {rm:.1} ms | {pm:.1} ms | {:.2}x the time |",
                key(r),
                rm / pm
            );
        }
    }
}
