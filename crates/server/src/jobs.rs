//! Background jobs, spawned by `App::build` and stopped with the app: the metrics
//! writer (batches heartbeat samples into multi-row inserts), and the sweep (offline
//! devices, expired commands, metrics rollups and retention, alert status conditions and
//! escalation). Time comes from
//! `state.clock`, so tests drive [`sweep_once`] with a fixed clock.

use crate::state::AppState;
use breeze_store::metrics::{self, Resolution, Retention, Sample};
use breeze_store::{agents, command_sweeps, commands};
use chrono::Duration;
use std::sync::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Samples waiting to be written.
#[derive(Default)]
pub struct MetricsBuffer {
    samples: Mutex<Vec<Sample>>,
    full: Notify,
}

/// Flush early when this many samples wait.
const FLUSH_AT: usize = 2000;

impl MetricsBuffer {
    pub fn push(&self, s: Sample) {
        let len = {
            let mut v = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            v.push(s);
            v.len()
        };
        if len >= FLUSH_AT {
            self.full.notify_one();
        }
    }

    fn take(&self) -> Vec<Sample> {
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Writes everything waiting.
    pub async fn flush(&self, state: &AppState) {
        let batch = self.take();
        if batch.is_empty() {
            return;
        }
        if let Err(e) = metrics::insert_batch(&state.db, &batch).await {
            tracing::error!(error = %e, samples = batch.len(), "writing metrics failed; samples dropped");
        }
    }
}

/// Runs the sweeps once: offline devices, expired commands, rollups, retention.
pub async fn sweep_once(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let a = &state.config.agents;
    let cutoff = a.offline_cutoff(now);
    let went_offline = agents::sweep_offline(&state.db, cutoff, now).await?;
    for at in &went_offline {
        state
            .events
            .publish(*at, &crate::events::device_status(at, "offline"));
        crate::automations::on_event(
            state,
            crate::automations::AutomationEvent::DeviceOffline { at: *at },
        );
    }
    let offline = went_offline.len() as u64;
    let expired = commands::expire_sweep(&state.db, now).await?;
    let lost = command_sweeps::lose_overdue(
        &state.db,
        Duration::seconds(command_sweeps::LOST_GRACE_SECS),
        now,
    )
    .await?;
    crate::dispatch::publish_settled(state, &lost);
    let cancelled = command_sweeps::cancel_for_quarantined_devices(&state.db, now).await?;
    crate::dispatch::publish_settled(state, &cancelled);
    let r5 = metrics::rollup(&state.db, Resolution::FiveMinutes, now).await?;
    let r60 = metrics::rollup(&state.db, Resolution::Hour, now).await?;
    let dropped = metrics::apply_retention(
        &state.db,
        &Retention {
            raw: Duration::hours(a.metrics_raw_retention_hours),
            five_minutes: Duration::days(a.metrics_5m_retention_days),
            hour: Duration::days(a.metrics_1h_retention_days),
        },
        now,
    )
    .await?;
    // Alerts: suppressions that ended, offline and no-data conditions, then escalation. A
    // failure here is logged and leaves the other sweeps' work done.
    if let Err(e) = state.alerting.sweep(state).await {
        tracing::error!(error = format!("{e:#}"), "alert sweep failed");
    }
    let escalated = match crate::notify::alerts::escalate_due(state).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "alert escalation sweep failed");
            0
        }
    };
    // Automations (due schedules, waits, resumed runs) and policies due for evaluation.
    if let Err(e) = crate::automations::sweep(state).await {
        tracing::error!(error = format!("{e:#}"), "automation sweep failed");
    }
    if let Err(e) = crate::policies::sweep(state).await {
        tracing::error!(error = format!("{e:#}"), "policy sweep failed");
    }
    // Remote sessions: expired tickets, abandoned sessions, recording retention.
    if let Err(e) = crate::relay::sessions::sweep(state).await {
        tracing::error!(error = format!("{e:#}"), "remote session sweep failed");
    }
    let lost = lost.len() as u64;
    let quarantine_cancelled = cancelled.len() as u64;
    if offline + expired + lost + quarantine_cancelled + r5 + r60 + dropped + escalated > 0 {
        tracing::info!(
            offline,
            expired,
            lost,
            quarantine_cancelled,
            rollups_5m = r5,
            rollups_1h = r60,
            metrics_dropped = dropped,
            escalated,
            "sweep"
        );
    }
    Ok(())
}

/// The running jobs; `stop` ends them (flushing metrics first).
pub struct Jobs {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

pub fn spawn(state: &AppState) -> Jobs {
    let (stop, rx) = watch::channel(false);
    let mut handles = Vec::new();
    {
        let state = state.clone();
        let mut rx = rx.clone();
        handles.push(tokio::spawn(async move {
            let every = std::time::Duration::from_millis(state.config.agents.metrics_flush_millis);
            loop {
                tokio::select! {
                    _ = rx.changed() => { state.metrics_buffer.flush(&state).await; return; }
                    () = tokio::time::sleep(every) => {}
                    () = state.metrics_buffer.full.notified() => {}
                }
                state.metrics_buffer.flush(&state).await;
            }
        }));
    }
    handles.push(crate::notify::queue::spawn_worker(
        state.clone(),
        rx.clone(),
    ));
    {
        let state = state.clone();
        let mut rx = rx;
        handles.push(tokio::spawn(async move {
            let every = std::time::Duration::from_secs(state.config.agents.sweep_interval_secs);
            loop {
                tokio::select! {
                    _ = rx.changed() => return,
                    () = tokio::time::sleep(every) => {}
                }
                if let Err(e) = sweep_once(&state).await {
                    tracing::error!(error = format!("{e:#}"), "sweep failed");
                }
            }
        }));
    }
    Jobs { stop, handles }
}

impl Jobs {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}
