//! Project automation, run as `cargo xtask <command>`:
//!
//! - `ci`: starts the database services, then `cargo fmt --check`, `cargo clippy -D warnings`
//!   and the whole test suite with every backend required (`AUTH_TEST_REQUIRE_ALL=1`).
//! - `services`: starts PostgreSQL, MariaDB and Redis where installed but not running.
//! - `bench`: the benchmarks, side by side with the Python reference where it can run.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("services") => services(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci | services | bench [--reference]>");
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
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    let test_env = [
        ("AUTH_TEST_REQUIRE_ALL", "1".to_string()),
        (
            "AUTH_TEST_POSTGRES_URL",
            env::var("AUTH_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into()),
        ),
        (
            "AUTH_TEST_MYSQL_URL",
            env::var("AUTH_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into()),
        ),
    ];
    run(&cargo, &["test", "--workspace"], &test_env)
}

fn bench(args: &[String]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(
        &cargo,
        &["bench", "-p", "auth-hash", "--bench", "argon2"],
        &[],
    )?;
    if args.iter().any(|a| a == "--reference") {
        let venv = env::var("AUTH_REFERENCE_VENV").unwrap_or_else(|_| {
            format!(
                "{}/.cache/auth-reference-venv",
                env::var("HOME").unwrap_or_default()
            )
        });
        let python = format!("{venv}/bin/python");
        if !Path::new(&python).exists() {
            // The reference's run.sh builds its pinned venv on first use.
            run(
                "bash",
                &["../shared/reference/python/run.sh", "--help"],
                &[],
            )?;
        }
        run(
            &python,
            &["crates/auth-hash/benches/reference_argon2.py"],
            &[],
        )?;
    }
    Ok(())
}
