//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: starts the database services, then `cargo fmt --check`, `cargo clippy -D warnings`
//!   and the whole test suite with every backend required (`AUTH_TEST_REQUIRE_ALL=1`).
//! - `services`: starts PostgreSQL, MariaDB and Redis where installed but not running.
//! - `bench`: the benchmarks (`auth-bench` on every selected store, and the hashing
//!   benchmark), side by side with the Python reference with `--reference`; `--write-docs`
//!   regenerates `docs/benchmarks.md` and its chart.
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
                 [--backend B]... [--bench NAME]... [--seconds S] [--repeats N] [--write-docs] \
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
    run(
        "bash",
        &["scripts/services.sh", "--drop-test-databases"],
        &[],
    )?;
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
        // Every test binary runs even after one failed: one CI run shows every failure.
        &["test", "--workspace", "--all-features", "--no-fail-fast"],
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

/// The benches the Python reference also has (the others are ours).
const REFERENCE_BENCHES: &[&str] = &[
    "authenticate",
    "authenticate_jwt",
    "refresh",
    "refresh_jwt",
    "login",
    "set_password",
    "logout",
    "logout_all",
    "authenticate_during_login_storm",
    "verify_legacy_bcrypt",
    "verify_legacy_pbkdf2",
];

/// The store backends the reference knows (`postgres-tokio` is compared with its
/// `postgres`).
const REFERENCE_BACKENDS: &[&str] = &["sqlite-memory", "sqlite-file", "postgres", "mysql"];

/// `cargo xtask bench [--reference] [--quick] [--json] [--backend B]... [--bench NAME]...
/// [--seconds S] [--repeats N] [--write-docs]`: the service benchmarks of every selected
/// store (`auth-bench`, the `bench/` crate, built with `--release`) and the password-hashing
/// benchmark (`--bench hash`, or no `--bench`); with `--reference`, the Python reference on
/// the same stores and its hashers in the same invocation, and a table with the ratio of
/// every row both have. `--json` prints only the JSON lines; `--write-docs` regenerates
/// `docs/benchmarks.md` and `docs/benchmarks.svg`. Every record also goes to
/// `target/bench/results.jsonl`.
fn bench(args: &[String]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let (mut reference, mut quick, mut json, mut docs) = (false, false, false, false);
    let (mut backends, mut benches) = (Vec::<String>::new(), Vec::<String>::new());
    let (mut seconds, mut repeats) = (None::<String>, None::<String>);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--reference" => reference = true,
            "--quick" => quick = true,
            "--json" => json = true,
            "--write-docs" => docs = true,
            "--backend" => backends.extend(value()?.split(',').map(|b| b.trim().to_owned())),
            "--bench" => benches.extend(value()?.split(',').map(|b| b.trim().to_owned())),
            "--seconds" => seconds = Some(value()?),
            "--repeats" => repeats = Some(value()?),
            other => return Err(format!("bench: unknown argument {other}")),
        }
    }
    backends.retain(|b| !b.is_empty());
    benches.retain(|b| !b.is_empty());
    if backends.iter().any(|b| b == "all") {
        backends = [
            "sqlite-memory",
            "sqlite-file",
            "postgres",
            "postgres-tokio",
            "mysql",
        ]
        .map(String::from)
        .to_vec();
    }
    if backends.is_empty() {
        backends = vec!["sqlite-memory".into(), "sqlite-file".into()];
    }
    let hash = benches.is_empty() || benches.iter().any(|b| b == "hash");
    let service: Vec<String> = benches.iter().filter(|b| *b != "hash").cloned().collect();
    let run_service = benches.is_empty() || !service.is_empty();
    let mut timing: Vec<String> = Vec::new();
    if quick {
        timing.push("--quick".into());
    }
    if let Some(s) = &seconds {
        timing.extend(["--seconds".into(), s.clone()]);
    }
    if let Some(r) = &repeats {
        timing.extend(["--repeats".into(), r.clone()]);
    }
    let servers = [
        (
            "AUTH_TEST_POSTGRES_URL",
            env::var("AUTH_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into()),
        ),
        (
            "AUTH_TEST_MYSQL_URL",
            env::var("AUTH_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into()),
        ),
    ];
    let hash_env = [(
        "AUTH_HASH_BENCH_RUNS",
        if quick { "3" } else { "15" }.to_string(),
    )];

    let mut lines = Vec::new();
    let mut failed = Vec::new();
    if run_service {
        run(
            &cargo,
            &["build", "--release", "-q", "-p", "auth-bench"],
            &[],
        )?;
        let exe = root().join("target").join("release").join("auth-bench");
        let mut a = vec!["run".to_owned()];
        a.extend(["--backend".into(), backends.join(",")]);
        for b in &service {
            a.extend(["--bench".into(), b.clone()]);
        }
        a.extend(timing.iter().cloned());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (out, ok) = capture(&exe.to_string_lossy(), &a, &servers)?;
        lines.extend(out);
        if !ok {
            failed.push("auth-bench");
        }
    }
    if hash {
        let (out, ok) = capture(
            &cargo,
            &["bench", "-q", "-p", "auth-hash", "--bench", "argon2"],
            &hash_env,
        )?;
        lines.extend(out);
        if !ok {
            failed.push("the hash benchmark");
        }
    }
    if reference {
        let dir = env::var("AUTH_REFERENCE_DIR").unwrap_or_else(|_| {
            root()
                .join("../shared/reference/python")
                .to_string_lossy()
                .into_owned()
        });
        let mut ref_backends: Vec<&str> = Vec::new();
        for b in &backends {
            let b = if b == "postgres-tokio" { "postgres" } else { b };
            if REFERENCE_BACKENDS.contains(&b) && !ref_backends.contains(&b) {
                ref_backends.push(b);
            }
        }
        let ref_benches: Vec<&str> = service
            .iter()
            .map(String::as_str)
            .filter(|b| REFERENCE_BENCHES.contains(b))
            .collect();
        if run_service
            && !ref_backends.is_empty()
            && (service.is_empty() || !ref_benches.is_empty())
        {
            let run_sh = format!("{dir}/run.sh");
            let joined = ref_backends.join(",");
            let mut a = vec![run_sh.as_str(), "--json", "--backend", joined.as_str()];
            for b in &ref_benches {
                a.extend(["--bench", b]);
            }
            a.extend(timing.iter().map(String::as_str));
            let (out, ok) = capture("bash", &a, &servers)?;
            lines.extend(out);
            if !ok {
                failed.push("the reference");
            }
        }
        if hash {
            let venv = env::var("AUTH_REFERENCE_VENV").unwrap_or_else(|_| {
                format!(
                    "{}/.cache/auth-reference-venv",
                    env::var("HOME").unwrap_or_default()
                )
            });
            let (out, ok) = capture(
                &format!("{venv}/bin/python"),
                &["crates/auth-hash/benches/reference_argon2.py"],
                &hash_env,
            )?;
            lines.extend(out);
            if !ok {
                failed.push("the reference's hashers");
            }
        }
    }

    let results = root().join("target").join("bench");
    let _ = std::fs::create_dir_all(&results);
    let mut all = lines.join("\n");
    all.push('\n');
    let _ = std::fs::write(results.join("results.jsonl"), &all);
    if json {
        print!("{all}");
    } else {
        let exe = root().join("target").join("release").join("auth-bench");
        if exe.exists() {
            pipe(&exe.to_string_lossy(), &["report"], &all)?;
        } else {
            print!("{all}");
        }
    }
    if docs {
        let exe = root().join("target").join("release").join("auth-bench");
        if !exe.exists() {
            run(
                &cargo,
                &["build", "--release", "-q", "-p", "auth-bench"],
                &[],
            )?;
        }
        let command = format!("cargo xtask bench {}", args.join(" "));
        let dir = root().join("docs");
        let dir = dir.to_string_lossy();
        let mut a = vec!["report", "--write-docs", dir.as_ref(), "--command"];
        a.push(&command);
        a.extend(["--load", load.as_str()]);
        let status = Command::new(&*exe.to_string_lossy())
            .args(&a)
            .current_dir(root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .expect("piped")
                    .write_all(all.as_bytes())?;
                child.wait()
            })
            .map_err(|e| format!("auth-bench report ({e})"))?;
        if !status.success() {
            return Err("`auth-bench report --write-docs`".into());
        }
    }
    eprintln!(
        "xtask: {} records in {}",
        lines.len(),
        results.join("results.jsonl").display()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join(", "))
    }
}

/// Runs a command, passing stderr through; returns its stdout's JSON lines and whether it
/// succeeded (the lines of a partly failed run are kept).
fn capture(
    program: &str,
    args: &[&str],
    envs: &[(&str, String)],
) -> Result<(Vec<String>, bool), String> {
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
        eprintln!("xtask: `{shown}` failed ({})", out.status);
    }
    Ok((
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(String::from)
            .collect(),
        out.status.success(),
    ))
}

/// Runs a command with `input` on its stdin, its stdout and stderr passed through.
fn pipe(program: &str, args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{program}` ({e})"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}`", args.join(" ")))
    }
}
