//! The reference's methodology (`shared/reference/python/bench.py`), on Tokio: N tasks loop
//! the call until a shared deadline, every call timed; or, for calls that use up state, a
//! set-up step (untimed) before each timed call, measured time being the sum of the call
//! times. Percentiles by linear interpolation; each reported figure is the median of that
//! figure over the repeats.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed future of one call.
pub type BoxFut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// One call, repeatable, shareable with a spawned task.
pub type Op = Arc<dyn Fn() -> BoxFut + Send + Sync>;

/// Makes an [`Op`] from an async closure.
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

/// How long and how often.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Minimum measured seconds per repeat.
    pub seconds: f64,
    /// Repeats per figure.
    pub repeats: usize,
    /// Untimed calls per task before the repeats.
    pub warmup: usize,
}

/// What a bench measures: one op per task, or one op with an untimed set-up before
/// each call (single task).
pub enum Plan {
    /// `ops.len()` tasks, each looping its op until the deadline.
    Tasks(Vec<Op>),
    /// Set-up (untimed), then the call (timed), until the calls add up to the seconds.
    Serial {
        /// Prepares the next call's state.
        setup: Op,
        /// The call.
        call: Op,
    },
}

/// One figure: the medians over the repeats.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Calls per measured second.
    pub ops_per_sec: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Calls in all repeats.
    pub calls: usize,
}

/// Linear interpolation between the closest ranks, as the reference's `percentile`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let lo = k.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo as f64)
}

/// The median (mean of the middle two for an even count), as Python's
/// `statistics.median`.
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Runs `plan`: warm-up calls, then `timing.repeats` repeats; medians of each figure.
pub async fn measure(plan: &Plan, timing: Timing) -> Result<Figure, String> {
    match plan {
        Plan::Tasks(ops) => {
            for op in ops {
                for _ in 0..timing.warmup {
                    op().await?;
                }
            }
        }
        Plan::Serial { setup, call } => {
            for _ in 0..timing.warmup {
                setup().await?;
                call().await?;
            }
        }
    }
    let mut reps = Vec::new();
    let mut calls = 0;
    for _ in 0..timing.repeats {
        let (mut lat, elapsed) = match plan {
            Plan::Tasks(ops) => timed_tasks(ops, timing.seconds).await?,
            Plan::Serial { setup, call } => timed_serial(setup, call, timing.seconds).await?,
        };
        lat.sort_by(f64::total_cmp);
        calls += lat.len();
        reps.push((
            lat.len() as f64 / elapsed,
            percentile(&lat, 50.0) * 1e6,
            percentile(&lat, 99.0) * 1e6,
        ));
    }
    Ok(Figure {
        ops_per_sec: median(reps.iter().map(|r| r.0).collect()),
        p50_us: median(reps.iter().map(|r| r.1).collect()),
        p99_us: median(reps.iter().map(|r| r.2).collect()),
        calls,
    })
}

/// `ops.len()` tasks call their op until a shared deadline (checked after each call);
/// returns every latency (s) and the wall time until the last task finished.
async fn timed_tasks(ops: &[Op], seconds: f64) -> Result<(Vec<f64>, f64), String> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = ops
        .iter()
        .map(|op| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(1 << 16);
                loop {
                    let t = Instant::now();
                    op().await?;
                    let end = Instant::now();
                    lat.push((end - t).as_secs_f64());
                    if end >= deadline {
                        return Ok::<_, String>(lat);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| format!("task: {e}"))??);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

/// Set-up, then one timed call, until the calls add up to `seconds`.
async fn timed_serial(setup: &Op, call: &Op, seconds: f64) -> Result<(Vec<f64>, f64), String> {
    let mut lat = Vec::new();
    let mut busy = 0.0;
    while busy < seconds {
        setup().await?;
        let t = Instant::now();
        call().await?;
        let d = t.elapsed().as_secs_f64();
        lat.push(d);
        busy += d;
    }
    Ok((lat, busy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians_match_the_reference() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&xs, 50.0), 2.5);
        assert!((percentile(&xs, 99.0) - 3.97).abs() < 1e-9);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
