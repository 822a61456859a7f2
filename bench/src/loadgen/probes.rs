//! Closed-loop bursts against the running server: `concurrency` workers each send one
//! request after another for a fixed time, so the figure is the server's throughput for
//! that request while the fleet's steady load goes on.

use super::Latencies;
use breeze_bench::stats::summary;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How one request ended.
pub enum Outcome {
    Ok,
    /// 503: the server shed it.
    Shed,
    Failed,
}

impl Outcome {
    /// Reads the body (so the connection is reused) and classifies the answer.
    pub async fn of(r: reqwest::Result<reqwest::Response>) -> Outcome {
        match r {
            Ok(resp) => {
                let s = resp.status();
                let _ = resp.bytes().await;
                if s.is_success() {
                    Outcome::Ok
                } else if s == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                    Outcome::Shed
                } else {
                    Outcome::Failed
                }
            }
            Err(_) => Outcome::Failed,
        }
    }
}

pub struct Burst {
    pub ok: u64,
    pub shed: u64,
    pub failed: u64,
    pub secs: f64,
    pub latency: Vec<u64>,
}

impl Burst {
    pub fn per_sec(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-3)
    }

    pub fn line(&self) -> String {
        format!(
            "{:.0}/s ({} ok, {} shed, {} failed in {:.1} s), {}",
            self.per_sec(),
            self.ok,
            self.shed,
            self.failed,
            self.secs,
            summary(&self.latency)
        )
    }
}

/// Runs `request(worker, n)` from `concurrency` workers for `length`.
pub async fn burst<F, Fut>(concurrency: usize, length: Duration, request: F) -> Burst
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let latency = Arc::new(Latencies::default());
    let start = Instant::now();
    let end = start + length;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (request, counts, latency) = (request.clone(), counts.clone(), latency.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < end {
                    let t = Instant::now();
                    let k = match request(w, n).await {
                        Outcome::Ok => {
                            latency.push(t.elapsed());
                            0
                        }
                        Outcome::Shed => 1,
                        Outcome::Failed => 2,
                    };
                    counts[k].fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    Burst {
        ok: counts[0].load(Ordering::Relaxed),
        shed: counts[1].load(Ordering::Relaxed),
        failed: counts[2].load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
        latency: latency.sorted(),
    }
}
