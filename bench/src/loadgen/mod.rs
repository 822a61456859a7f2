//! The parts of `breeze-loadgen`: the simulated agents and what they share, the servers they
//! talk to, the admin who queues commands during the run, the closed-loop probes, and `/proc` readings.

pub mod commands;
pub mod h2;
pub mod inventory;
pub mod probes;
pub mod procfs;
pub mod replicas;
pub mod sim_agent;
pub mod sources;
pub mod split;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latencies in microseconds, appended from many tasks.
#[derive(Default)]
pub struct Latencies(Mutex<Vec<u64>>);

impl Latencies {
    pub fn push(&self, d: Duration) {
        if let Ok(mut v) = self.0.lock() {
            v.push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut v) = self.0.lock() {
            v.clear();
        }
    }

    /// The latencies so far, sorted.
    pub fn sorted(&self) -> Vec<u64> {
        let mut v = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort_unstable();
        v
    }
}

/// A counter that also prints its first few events.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts, and prints `what` for the first five.
    pub fn add_noting(&self, what: impl FnOnce() -> String) {
        if self.add() < 5 {
            eprintln!("{}", what());
        }
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the simulated agents count.
#[derive(Default)]
pub struct Stats {
    pub heartbeats: Counter,
    pub heartbeat_errors: Counter,
    /// Heartbeats the server answered 503 (overload shedding).
    pub heartbeats_shed: Counter,
    pub heartbeat_latency: Latencies,
    pub results: Counter,
    pub result_errors: Counter,
    /// Channels that got their first `welcome`.
    pub channels_opened: Counter,
    pub channel_open_latency: Latencies,
    /// Channels dropped on purpose (churn).
    pub churn_drops: Counter,
    /// Channels back after a drop (churn or lost).
    pub reconnects: Counter,
    pub reconnect_latency: Latencies,
    /// Channels the server closed or that failed.
    pub channels_lost: Counter,
    pub connect_errors: Counter,
    /// `error` frames from the server.
    pub error_frames: Counter,
}
