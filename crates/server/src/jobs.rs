//! Background jobs, spawned by `App::build` and stopped with the app: the metrics
//! writer (batches heartbeat samples into multi-row inserts), the heartbeat writer
//! ([`heartbeats`]: coalesced device updates), the delivery worker, and the periodic
//! jobs ([`Job`]: offline devices, expired commands, metrics rollups and retention,
//! alerts and escalation, automations, policies, remote sessions), each under a job
//! lease so that with several replicas one runs each period of each job. Time comes from
//! `state.clock`, so tests drive [`sweep_once`] and [`tick`] with a fixed clock.

pub mod heartbeats;

use crate::metrics::JobLabels;
use crate::state::AppState;
use anyhow::Context as _;
use breeze_store::metrics::{self, Resolution, Retention, Sample};
use breeze_store::{agents, command_sweeps, commands, leases};
use chrono::Duration;
use std::sync::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Uses of unlimited enrollment keys waiting to be counted on their rows
/// (`enrollment_keys::add_uses`): a fleet enrolling with one key would otherwise update
/// its one row in every enrollment transaction and queue on its lock. A crash loses at
/// most one flush interval of the counts, never an enrollment.
#[derive(Default)]
pub struct KeyUses {
    uses: Mutex<std::collections::HashMap<breeze_proto::ids::EnrollmentKeyId, i64>>,
    full: Notify,
}

impl KeyUses {
    pub fn add(&self, key: breeze_proto::ids::EnrollmentKeyId) {
        *self
            .uses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// Writes the counts waiting; kept for the next flush when the write fails.
    pub async fn flush(&self, state: &AppState) {
        let batch: Vec<_> =
            std::mem::take(&mut *self.uses.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if batch.is_empty() {
            return;
        }
        if let Err(e) = breeze_store::enrollment_keys::add_uses(&state.db, &batch).await {
            tracing::warn!(error = %e, keys = batch.len(), "counting enrollment key uses failed; retrying");
            let mut m = self.uses.lock().unwrap_or_else(|e| e.into_inner());
            for (k, n) in batch {
                *m.entry(k).or_default() += n;
            }
        }
    }
}

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
        let started = std::time::Instant::now();
        if let Err(e) = metrics::insert_batch(&state.db, &batch).await {
            tracing::error!(error = %e, samples = batch.len(), "writing metrics failed; samples dropped");
        }
        warn_if_slow("metrics flush", started, batch.len());
    }
}

/// The periodic jobs. Each runs under a job lease of its own (`job.<name>` in
/// `job_leases`), so with several replicas on one database one replica at a time runs it,
/// and each period of it once (see [`tick`]). The order is the order a tick runs them in:
/// the offline sweep before the alert conditions that read device status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Devices whose heartbeats stopped become offline.
    Offline,
    /// Expired commands, lost commands, commands of quarantined devices.
    Commands,
    /// Metrics rollups (5 min, 1 h) and retention.
    Metrics,
    /// Alert suppressions, status and no-data conditions, then escalation.
    Alerts,
    /// Due schedules, offline-for-N-minutes triggers, waits and resumed runs.
    Automations,
    /// Policies due for evaluation.
    Policies,
    /// Expired tickets, abandoned sessions, recording retention.
    RemoteSessions,
}

impl Job {
    pub const ALL: [Job; 7] = [
        Job::Offline,
        Job::Commands,
        Job::Metrics,
        Job::Alerts,
        Job::Automations,
        Job::Policies,
        Job::RemoteSessions,
    ];

    /// The `job` label of `breeze_job_runs_total`.
    pub fn name(self) -> &'static str {
        match self {
            Job::Offline => "offline",
            Job::Commands => "commands",
            Job::Metrics => "metrics",
            Job::Alerts => "alerts",
            Job::Automations => "automations",
            Job::Policies => "policies",
            Job::RemoteSessions => "remote_sessions",
        }
    }

    /// Its row in `job_leases`.
    pub fn lease(self) -> &'static str {
        match self {
            Job::Offline => "job.offline",
            Job::Commands => "job.commands",
            Job::Metrics => "job.metrics",
            Job::Alerts => "job.alerts",
            Job::Automations => "job.automations",
            Job::Policies => "job.policies",
            Job::RemoteSessions => "job.remote_sessions",
        }
    }
}

/// A periodic job that runs this long is logged: on SQLite it may have held the one
/// write lock that long, and every writer (heartbeat flushes, status changes) waited.
const SLOW_JOB: std::time::Duration = std::time::Duration::from_millis(500);

/// Logs a batched write (`what`, of `rows` rows) that took [`SLOW_JOB`] or longer.
pub(crate) fn warn_if_slow(what: &'static str, started: std::time::Instant, rows: usize) {
    let took = started.elapsed();
    if took >= SLOW_JOB {
        tracing::warn!(
            write = what,
            rows,
            millis = took.as_millis(),
            "batched write was slow"
        );
    }
}

fn sweep_interval(state: &AppState) -> Duration {
    Duration::seconds(i64::try_from(state.config.agents.sweep_interval_secs).unwrap_or(15))
}

/// How long a job lease lasts without renewal: three sweep intervals. The holder renews
/// every lease at every tick (once a sweep interval), so a live holder keeps them through
/// a slow tick or two; a replica that dies loses them at most three intervals after its
/// last tick, and another replica takes them at its first tick after that: at most four
/// sweep intervals (60 s with the default 15 s) pass without a run.
pub fn lease_ttl(state: &AppState) -> Duration {
    sweep_interval(state) * 3
}

/// The period `now` falls in: periods are the sweep interval long and aligned to the
/// epoch, so every replica numbers them the same way.
pub fn period(now: chrono::DateTime<chrono::Utc>, interval_secs: u64) -> i64 {
    now.timestamp()
        .div_euclid(i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX))
}

/// How long until the next period starts.
fn until_next_period(
    now: chrono::DateTime<chrono::Utc>,
    interval_secs: u64,
) -> std::time::Duration {
    let secs = i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX);
    let next = (period(now, interval_secs) + 1).saturating_mul(secs);
    let ms = next
        .saturating_mul(1000)
        .saturating_sub(now.timestamp_millis())
        .max(1);
    std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(1))
}

/// Which runs a call of [`run_jobs`] may make.
#[derive(Clone, Copy)]
enum When {
    /// Every job whose lease this replica holds or takes, now.
    Now,
    /// Only the jobs whose lease this replica holds and whose period `p` nobody ran yet.
    Period(i64),
}

/// Runs every periodic job now whose lease this replica holds or can take (all of them
/// on a single server), however recently they ran. Tests drive this with a fixed clock.
pub async fn sweep_once(state: &AppState) -> anyhow::Result<()> {
    run_jobs(state, When::Now).await
}

/// One tick of the periodic loop: each job whose lease this replica holds (renewing it)
/// or can take, and whose current period no replica ran yet, runs once. Summed over the
/// replicas, `breeze_job_runs_total{job}` grows by one per period.
pub async fn tick(state: &AppState) -> anyhow::Result<()> {
    let p = period(state.now(), state.config.agents.sweep_interval_secs);
    run_jobs(state, When::Period(p)).await
}

async fn run_jobs(state: &AppState, when: When) -> anyhow::Result<()> {
    // This replica's coalesced heartbeats first: the offline sweep and the alert
    // conditions read `last_seen_at`.
    state.heartbeats.flush(state).await;
    let ttl = lease_ttl(state);
    let holder = crate::automations::schedule::holder(state);
    let mut failed: Option<anyhow::Error> = None;
    for job in Job::ALL {
        let now = state.now();
        let mine = async {
            if !leases::try_acquire(&state.db, job.lease(), holder, ttl, now).await? {
                return Ok(false);
            }
            match when {
                When::Now => Ok(true),
                When::Period(p) => leases::claim_period(&state.db, job.lease(), holder, p).await,
            }
        };
        let result = match mine.await {
            Ok(false) => continue,
            Ok(true) => {
                if let When::Period(p) = when {
                    // Which replica ran which period of which job: the replica test reads
                    // these (at debug level) to prove no period runs twice.
                    tracing::debug!(job = job.name(), period = p, "job period claimed");
                }
                state
                    .metrics
                    .job_runs
                    .get_or_create(&JobLabels { job: job.name() })
                    .inc();
                let started = std::time::Instant::now();
                let result = run(state, job).await;
                let took = started.elapsed();
                state
                    .metrics
                    .job_duration
                    .get_or_create(&JobLabels { job: job.name() })
                    .observe(took.as_secs_f64());
                if took >= SLOW_JOB {
                    tracing::warn!(
                        job = job.name(),
                        millis = took.as_millis(),
                        "periodic job was slow"
                    );
                }
                result
            }
            Err(e) => Err(anyhow::Error::from(e).context("taking the job lease")),
        };
        if let Err(e) = result {
            tracing::error!(
                job = job.name(),
                error = format!("{e:#}"),
                "periodic job failed"
            );
            failed.get_or_insert(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

async fn run(state: &AppState, job: Job) -> anyhow::Result<()> {
    match job {
        Job::Offline => offline(state).await,
        Job::Commands => command_sweeps(state).await,
        Job::Metrics => metrics_rollups(state).await,
        Job::Alerts => alerts(state).await,
        Job::Automations => crate::automations::sweep(state).await,
        Job::Policies => crate::policies::sweep(state).await,
        Job::RemoteSessions => crate::relay::sessions::sweep(state).await,
    }
}

async fn offline(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let cutoff = state.config.agents.offline_cutoff(now);
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
    if !went_offline.is_empty() {
        tracing::info!(offline = went_offline.len(), "offline sweep");
    }
    Ok(())
}

async fn command_sweeps(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
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
    if expired + lost.len() as u64 + cancelled.len() as u64 > 0 {
        tracing::info!(
            expired,
            lost = lost.len(),
            quarantine_cancelled = cancelled.len(),
            "command sweep"
        );
    }
    Ok(())
}

async fn metrics_rollups(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let a = &state.config.agents;
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
    if r5 + r60 + dropped > 0 {
        tracing::info!(
            rollups_5m = r5,
            rollups_1h = r60,
            metrics_dropped = dropped,
            "metrics rollup"
        );
    }
    Ok(())
}

/// Alerts: suppressions that ended, offline and no-data conditions, then escalation
/// (which runs even when the sweep failed).
async fn alerts(state: &AppState) -> anyhow::Result<()> {
    let swept = state.alerting.sweep(state).await;
    let escalated = crate::notify::alerts::escalate_due(state).await;
    swept.context("alert sweep")?;
    let escalated = escalated.context("alert escalation")?;
    if escalated > 0 {
        tracing::info!(escalated, "alert escalation");
    }
    Ok(())
}

/// The running jobs; `stop` ends them (flushing metrics and heartbeats, and giving up
/// the job leases so another replica takes them at its next tick).
pub struct Jobs {
    state: AppState,
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

/// A writer that flushes `flush` every `metrics_flush_millis`, early when `full` fires,
/// and once more when told to stop.
fn spawn_writer<F, Fut>(
    state: &AppState,
    mut rx: watch::Receiver<bool>,
    full: fn(&AppState) -> &Notify,
    flush: F,
) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let state = state.clone();
    tokio::spawn(async move {
        let every = std::time::Duration::from_millis(state.config.agents.metrics_flush_millis);
        loop {
            tokio::select! {
                _ = rx.changed() => { flush(state.clone()).await; return; }
                () = tokio::time::sleep(every) => {}
                () = full(&state).notified() => {}
            }
            flush(state.clone()).await;
        }
    })
}

pub fn spawn(state: &AppState) -> Jobs {
    let (stop, rx) = watch::channel(false);
    let mut handles = vec![
        spawn_writer(
            state,
            rx.clone(),
            |s| &s.metrics_buffer.full,
            |s| async move {
                s.metrics_buffer.flush(&s).await;
            },
        ),
        spawn_writer(
            state,
            rx.clone(),
            |s| &s.heartbeats.full,
            |s| async move {
                s.heartbeats.flush(&s).await;
            },
        ),
        spawn_writer(
            state,
            rx.clone(),
            |s| &s.key_uses.full,
            |s| async move {
                s.key_uses.flush(&s).await;
            },
        ),
    ];
    handles.push(crate::notify::queue::spawn_worker(
        state.clone(),
        rx.clone(),
    ));
    {
        let state = state.clone();
        let mut rx = rx;
        handles.push(tokio::spawn(async move {
            let interval = state.config.agents.sweep_interval_secs;
            // Ticks fall at period starts (plus a little), so every replica ticks at the
            // same moments and the lease holder's tick claims each period. The first
            // comes no sooner than one whole interval after start.
            // A tick that ran past the end of its period is followed at once by the next
            // period's, so a slow tick (a big rollup) costs its jobs no period.
            let mut extra = std::time::Duration::from_secs(interval);
            let mut last: Option<i64> = None;
            loop {
                let behind = last.is_some_and(|l| period(state.now(), interval) > l);
                let wait = if behind {
                    std::time::Duration::ZERO
                } else {
                    until_next_period(state.now(), interval)
                        + std::time::Duration::from_millis(20)
                        + std::mem::take(&mut extra)
                };
                tokio::select! {
                    _ = rx.changed() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                let p = period(state.now(), interval);
                if let Some(l) = last
                    && p > l + 1
                {
                    // The last tick overran more than a whole period: the periods between
                    // ran nowhere (a replica holding no lease would not have run them
                    // either: it tried at their start, when this one still held them).
                    tracing::warn!(
                        skipped = p - l - 1,
                        interval_secs = interval,
                        "periodic jobs fell behind: periods skipped"
                    );
                }
                last = Some(p);
                let t0 = std::time::Instant::now();
                if let Err(e) = tick(&state).await {
                    tracing::error!(error = format!("{e:#}"), "periodic jobs failed");
                }
                let took = t0.elapsed();
                if took.as_secs() >= interval {
                    tracing::warn!(
                        took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                        interval_secs = interval,
                        "a tick of the periodic jobs took longer than its period"
                    );
                }
            }
        }));
    }
    Jobs {
        state: state.clone(),
        stop,
        handles,
    }
}

impl Jobs {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
        release_leases(&self.state).await;
    }
}

/// How long shutdown waits to give the leases up: a lease not given up expires
/// (`lease_ttl`) and another replica takes it then, so a database that does not answer
/// (a lock held elsewhere) must not keep the process from exiting.
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Gives up every job lease this replica holds (at shutdown), waiting at most
/// [`RELEASE_WITHIN`].
pub async fn release_leases(state: &AppState) {
    if tokio::time::timeout(RELEASE_WITHIN, release_all(state))
        .await
        .is_err()
    {
        tracing::warn!(
            within_secs = RELEASE_WITHIN.as_secs(),
            "giving up the job leases took too long; they expire on their own"
        );
    }
}

async fn release_all(state: &AppState) {
    let now = state.now();
    let names = Job::ALL.iter().map(|j| j.lease()).chain([
        crate::automations::schedule::LEASE,
        crate::automations::triggers::LEASE,
    ]);
    for name in names {
        if let Err(e) = leases::release(
            &state.db,
            name,
            crate::automations::schedule::holder(state),
            now,
        )
        .await
        {
            tracing::warn!(lease = name, error = %e, "releasing a job lease failed");
        }
    }
}
