//! Heartbeat write coalescing (issue 14): the steady-state part of each heartbeat (last
//! seen time and address, and the agent-reported fields that change no status) waits
//! here, one entry per device (the latest wins), and is written in batches by the
//! writer in `jobs::spawn` every `agents.metrics_flush_millis`, early once
//! [`FLUSH_AT`] devices wait, before every tick of the periodic jobs, and at shutdown.
//!
//! What a heartbeat's answer or another reader depends on is still written at once by
//! the heartbeat route: a status change (offline, pending or awaiting check-in →
//! online), token rotation, a configuration hash, a new source address.
//!
//! The offline sweep reads `last_seen_at`: this replica flushes before its sweep, and
//! another replica's entries are at most one flush interval old, which `Config`
//! validation keeps far below the offline cutoff.

use crate::state::AppState;
use breeze_proto::ids::DeviceId;
use breeze_store::agents::{self, SeenUpdate};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Flush early when this many devices wait.
pub const FLUSH_AT: usize = 5000;

/// Coalesced heartbeats waiting to be written.
#[derive(Default)]
pub struct HeartbeatBuffer {
    pending: Mutex<HashMap<DeviceId, SeenUpdate>>,
    pub(crate) full: Notify,
    batches: AtomicU64,
    rows: AtomicU64,
}

impl HeartbeatBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, SeenUpdate>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `u` for the next batch, replacing the device's older entry.
    pub fn push(&self, u: SeenUpdate) {
        let len = {
            let mut m = self.lock();
            m.insert(u.device_id, u);
            m.len()
        };
        if len >= FLUSH_AT {
            self.full.notify_one();
        }
    }

    /// Drops the device's entry: an immediate write of a newer heartbeat replaces it.
    pub fn forget(&self, device: DeviceId) {
        self.lock().remove(&device);
    }

    /// When the device's waiting heartbeat arrived, if one waits.
    pub fn last_seen(&self, device: DeviceId) -> Option<DateTime<Utc>> {
        self.lock().get(&device).map(|u| u.last_seen_at)
    }

    /// Devices waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batches written so far (one per flush that had something to write).
    pub fn batches_written(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Device rows written by batches so far.
    pub fn rows_written(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Writes everything waiting. On failure the entries go back (unless a newer one
    /// arrived meanwhile) for the next flush.
    pub async fn flush(&self, state: &AppState) {
        let batch: Vec<SeenUpdate> = std::mem::take(&mut *self.lock()).into_values().collect();
        if batch.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let result = agents::record_seen_batch(&state.db, &batch).await;
        super::warn_if_slow("heartbeat flush", started, batch.len());
        match result {
            Ok(n) => {
                self.batches.fetch_add(1, Ordering::Relaxed);
                self.rows.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, devices = batch.len(), "writing heartbeats failed; kept for the next flush");
                let mut m = self.lock();
                for u in batch {
                    m.entry(u.device_id).or_insert(u);
                }
            }
        }
    }
}
