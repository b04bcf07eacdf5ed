//! An ad-hoc loop (not the benchmark harness, which is `cargo xtask bench`): the
//! `authenticate` store read, `find_access_token`, from 16 concurrent tasks, on the sqlx
//! `PgStore` and on the tokio-postgres `PostgresStore` with several read-sharing
//! settings, on one database, rounds interleaved; prints the median of the rounds.
//!
//! ```text
//! AUTH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --release -p store-swap-example --example lookup_throughput
//! ```
//!
//! Works in a schema of its own, dropped at the end (kept with `KEEP_SCHEMA=1`). `ROUNDS`
//! (default 5) and `SECS` (seconds per round, default 3) tune it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use auth_core::{
    ClientInfo, IdKind, NewSession, NewToken, NewUser, OffsetDateTime, SessionId, SessionStore,
    TokenDigest, TokenKind, UserStore,
};
use auth_store_postgres::tokio_postgres::{self, NoTls};
use auth_store_postgres::{PostgresStore, StoreOptions};
use auth_store_sqlx::{PgStore, UserTable};

const TASKS: usize = 16;
const TOKENS: u32 = 1_000;

fn digest(i: u32) -> TokenDigest {
    let mut d = [7u8; 32];
    d[..4].copy_from_slice(&i.to_be_bytes());
    TokenDigest(d)
}

/// Runs `TASKS` tasks calling `lookup` for `secs`; returns (ops/s, p50 µs, p99 µs).
async fn measure<S: SessionStore + Clone + 'static>(store: &S, secs: u64) -> (f64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(200_000);
                let mut i = t as u32;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let found = store.find_access_token(&digest(i % TOKENS)).await;
                    latencies.push(started.elapsed().as_micros() as u64);
                    assert!(found.expect("lookup").is_some());
                    i = i.wrapping_add(7);
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    (all.len() as f64 / elapsed, pct(0.50), pct(0.99))
}

/// A configuration's name and its per-round ops/s, p50 and p99.
type Series = (String, Vec<f64>, Vec<u64>, Vec<u64>);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(base) = std::env::var("AUTH_TEST_POSTGRES_URL") else {
        println!("set AUTH_TEST_POSTGRES_URL to run this loop");
        return Ok(());
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let schema = format!("tsw_bench_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&base, NoTls).await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let users = || UserTable::new("users", IdKind::Integer);

    let setup = PostgresStore::connect(&url, users()).await?;
    setup.migrate().await?;
    let user = setup
        .create_user(
            &NewUser::new("bench@example.com")?,
            OffsetDateTime::now_utc(),
        )
        .await?;
    let now = OffsetDateTime::now_utc();
    for i in 0..TOKENS {
        let mut id = [1u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let session = NewSession {
            id: SessionId::from_bytes(id),
            user_id: user.id,
            created_at: now,
            expires_at: now + Duration::from_secs(86_400),
            absolute_expires_at: now + Duration::from_secs(86_400),
            client: ClientInfo::none(),
            claims: None,
        };
        let token = NewToken {
            digest: digest(i),
            kind: TokenKind::Access,
            expires_at: now + Duration::from_secs(3_600),
        };
        setup.create_session(&session, &[token], None).await?;
    }
    drop(setup);

    let sqlx = PgStore::connect(&url, users()).await?;
    let tokio_with = |shared: usize| {
        let url = url.clone();
        async move {
            PostgresStore::connect_with(
                &url,
                users(),
                StoreOptions::default().shared_read_connections(shared),
            )
            .await
        }
    };
    let stores = [
        ("tokio-postgres, 2 shared (default)", tokio_with(2).await?),
        ("tokio-postgres, 1 shared", tokio_with(1).await?),
        ("tokio-postgres, 4 shared", tokio_with(4).await?),
        ("tokio-postgres, exclusive checkout", tokio_with(0).await?),
    ];
    // Warm every pool's connections and statement caches.
    measure(&sqlx, 1).await;
    for (_, store) in &stores {
        measure(store, 1).await;
    }
    let mut results: Vec<Series> = Vec::new();
    results.push(("sqlx PgStore (pool 10)".into(), vec![], vec![], vec![]));
    for (name, _) in &stores {
        results.push(((*name).into(), vec![], vec![], vec![]));
    }
    for round in 0..rounds {
        let (ops, p50, p99) = measure(&sqlx, secs).await;
        results[0].1.push(ops);
        results[0].2.push(p50);
        results[0].3.push(p99);
        for (i, (_, store)) in stores.iter().enumerate() {
            let (ops, p50, p99) = measure(store, secs).await;
            results[i + 1].1.push(ops);
            results[i + 1].2.push(p50);
            results[i + 1].3.push(p99);
        }
        eprintln!("round {} done", round + 1);
    }
    println!(
        "find_access_token, {TASKS} tasks, {rounds} rounds of {secs} s, medians (ops/s, p50 us, p99 us):"
    );
    let base_ops = median(results[0].1.clone());
    for (name, ops, p50, p99) in results {
        let m = median(ops.clone());
        let p50 = median(p50.iter().map(|v| *v as f64).collect());
        let p99 = median(p99.iter().map(|v| *v as f64).collect());
        println!(
            "  {name:<40} {m:>9.0}/s  p50 {p50:>5.0}  p99 {p99:>5.0}  x{:.2} vs sqlx   rounds: {:?}",
            m / base_ops,
            ops.iter().map(|o| o.round() as u64).collect::<Vec<_>>()
        );
    }
    drop((sqlx, stores));
    if std::env::var_os("KEEP_SCHEMA").is_some() {
        println!("kept schema {schema}");
    } else {
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await?;
    }
    Ok(())
}
