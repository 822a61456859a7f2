//! The 5-minute metrics rollup at fleet scale, and what it costs everything else while it
//! runs. Fills a fresh database with `--devices` × `--minutes` raw samples (one per device
//! per minute, as heartbeats write them), then, on a two-worker runtime like the server's
//! on this machine:
//!
//! - a writer task inserts one second's worth of samples (`--devices / 60`) every second,
//!   as the server's metrics flush does, and times each batch;
//! - a probe task sleeps 5 ms at a time and records how late it wakes (how long a task
//!   that is ready waits for a runtime thread);
//! - after `--baseline` seconds the rollup runs (as the metrics job runs it), and both
//!   keep going until 2 s after it ends;
//! - then retention drops the oldest 5 minutes of raw samples, as the same job does every
//!   5 minutes once raw retention is reached, again with both running.
//!
//! Prints the rollup's and the retention's duration and rows, their time on the runtime
//! (inside `poll`: in all, and the longest single poll), and for each phase
//! (baseline, rollup, retention) the writer batches' p50/max and the probe's p99/max
//! lateness.
//!
//! `cargo run --release -p breeze-bench --bin breeze-bench-rollup -- --devices 100000`

use breeze_bench::stats::{micros, percentile_ms};
use breeze_proto::agent::Metrics;
use breeze_proto::ids::DeviceId;
use breeze_store::metrics::{self, Resolution, Sample};
use breeze_store::{Db, DbOptions, Q};
use chrono::{Duration as Span, DurationRound, Utc};
use clap::Parser;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    devices: usize,
    /// Minutes of raw samples before the rollup (one per device per minute).
    #[arg(long, default_value_t = 10)]
    minutes: i64,
    /// Seconds of writer and probe before the rollup starts.
    #[arg(long, default_value_t = 10)]
    baseline: u64,
    /// Database (default: SQLite in a temporary directory). A PostgreSQL URL gets a
    /// fresh schema.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Default)]
struct Phase {
    /// Microseconds, as every benchmark keeps samples.
    batches: Vec<u64>,
    late: Vec<u64>,
}

/// Baseline, rollup, retention.
#[derive(Default)]
struct Record {
    now: usize,
    phases: [Phase; 3],
}

impl Record {
    fn phase(&mut self) -> &mut Phase {
        &mut self.phases[self.now]
    }
}

/// A future's time inside `poll` on the runtime: in all, and the longest single poll
/// (how long it kept a runtime thread from every other task at once).
struct Timed<F> {
    inner: std::pin::Pin<Box<F>>,
    busy: Duration,
    longest: Duration,
}

impl<F: Future> Future for Timed<F> {
    type Output = (F::Output, Duration, Duration);
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let t = Instant::now();
        let r = self.inner.as_mut().poll(cx);
        let d = t.elapsed();
        self.busy += d;
        self.longest = self.longest.max(d);
        r.map(|out| (out, self.busy, self.longest))
    }
}

fn timed<F: Future>(f: F) -> Timed<F> {
    Timed {
        inner: Box::pin(f),
        busy: Duration::ZERO,
        longest: Duration::ZERO,
    }
}

fn sample(device: DeviceId, ts: chrono::DateTime<Utc>, i: usize) -> Sample {
    Sample {
        device_id: device,
        ts,
        metrics: Metrics {
            cpu_percent: (i % 100) as f64,
            ram_percent: 50.0,
            ram_used_mb: 4096,
            disk_percent: 60.0,
            disk_used_gb: 120.0,
            network_in_bytes: 1_000_000,
            network_out_bytes: 250_000,
            process_count: 210,
            ..Metrics::default()
        },
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = DbOptions::default();
    let schema = format!("bench_rollup_{}", std::process::id());
    let db = match &args.database_url {
        Some(url) => Db::connect_pg_schema(url, &schema, &opts).await?,
        None => {
            let url = format!("sqlite://{}", dir.path().join("breeze.db").display());
            Db::connect(&url, &opts).await?
        }
    };
    breeze_store::migrations::migrate(&db).await?;
    let devices: Vec<DeviceId> = (0..args.devices).map(|_| DeviceId::new()).collect();
    // Samples fill the minutes before the current 5-minute bucket.
    let now = Utc::now();
    let bucket = now.duration_trunc(Span::minutes(5))?;
    let first = bucket - Span::minutes(args.minutes);
    let t = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for m in 0..args.minutes {
        for (i, d) in devices.iter().enumerate() {
            let ts = first + Span::minutes(m) + Span::milliseconds((i % 60_000) as i64);
            batch.push(sample(*d, ts, i));
            if batch.len() == 10_000 {
                metrics::insert_batch(&db, &batch).await?;
                batch.clear();
            }
        }
    }
    metrics::insert_batch(&db, &batch).await?;
    println!(
        "engine {}, {} devices, {} raw rows written in {:.1} s",
        if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        args.devices,
        args.devices as i64 * args.minutes,
        t.elapsed().as_secs_f64()
    );

    let record = Arc::new(Mutex::new(Record::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let per_second = (args.devices / 60).max(1);
    let writer = {
        let (db, record, stop, devices) =
            (db.clone(), record.clone(), stop.clone(), devices.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut k = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let ts = Utc::now();
                let batch: Vec<Sample> = (0..per_second)
                    .map(|j| {
                        k += 1;
                        sample(devices[k % devices.len()], ts, j)
                    })
                    .collect();
                let t = Instant::now();
                if let Err(e) = metrics::insert_batch(&db, &batch).await {
                    eprintln!("writer: {e}");
                }
                let us = micros(t.elapsed());
                record
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .phase()
                    .batches
                    .push(us);
            }
        })
    };
    let probe = {
        let (record, stop) = (record.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                let late = micros(t.elapsed().saturating_sub(Duration::from_millis(5)));
                record
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .phase()
                    .late
                    .push(late);
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(args.baseline)).await;
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .now = 1;
    // The rollup's clock: just past the minute it leaves for late writes, so it takes
    // every bucket written above and none of the writer's.
    let roll_at = bucket + Span::seconds(61);
    let t = Instant::now();
    // As the metrics job runs it: its own task on the runtime.
    let (rows, busy, longest) = tokio::spawn({
        let db = db.clone();
        timed(async move { metrics::rollup(&db, Resolution::FiveMinutes, roll_at).await })
    })
    .await?;
    let rows = rows?;
    let took = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Retention that drops the oldest 5 minutes of raw samples, as the same job does once
    // raw retention is reached (every 5 minutes from then on).
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .now = 2;
    let t = Instant::now();
    let cutoff = first + Span::minutes(5);
    let retention = metrics::Retention {
        raw: roll_at - cutoff,
        five_minutes: Span::days(365),
        hour: Span::days(365),
    };
    let (dropped, busy_retention, longest_retention) = tokio::spawn({
        let db = db.clone();
        timed(async move { metrics::apply_retention(&db, &retention, roll_at).await })
    })
    .await?;
    let dropped = dropped?;
    let took_retention = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await?;
    probe.await?;
    println!(
        "rollup: {rows} rows of 5-minute buckets from {} raw rows in {took:.2} s; \
         on the runtime {:.0} ms in all, longest poll {:.1} ms",
        args.devices as i64 * args.minutes,
        busy.as_secs_f64() * 1e3,
        longest.as_secs_f64() * 1e3,
    );
    println!(
        "retention: {dropped} raw rows deleted in {took_retention:.2} s; \
         on the runtime {:.0} ms in all, longest poll {:.1} ms",
        busy_retention.as_secs_f64() * 1e3,
        longest_retention.as_secs_f64() * 1e3,
    );
    let phases = std::mem::take(
        &mut record
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .phases,
    );
    for (name, mut p) in ["baseline", "rollup", "retention"].into_iter().zip(phases) {
        p.batches.sort_unstable();
        p.late.sort_unstable();
        let n = p.batches.len();
        println!(
            "{name:>8}: writer batches of {per_second}: n {n}, p50 {:.1} ms, max {:.1} ms; \
             runtime lateness (5 ms sleeps): p99 {:.1} ms, max {:.1} ms",
            percentile_ms(&p.batches, 0.5),
            percentile_ms(&p.batches, 1.0),
            percentile_ms(&p.late, 0.99),
            percentile_ms(&p.late, 1.0),
        );
    }
    if args.database_url.is_some() {
        // The schema is this run's alone (named after its process): nothing is left behind.
        let mut drop_schema = Q::new("DROP SCHEMA ");
        drop_schema.push_trusted(&schema).push(" CASCADE");
        db.exec(drop_schema).await?;
    }
    Ok(())
}
