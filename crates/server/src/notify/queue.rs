//! The delivery queue: outbound messages (e-mail, and alert deliveries run by
//! `notify::alerts::deliver`) are durable jobs in the store (`breeze_store::jobs`),
//! never sent inside a request. A request enqueues and answers at once; the worker
//! (spawned with the other jobs) claims due jobs, delivers them, and retries failures with
//! exponential backoff until `[outbound] max_attempts`, then leaves the job `failed`, logs
//! it and audits it (actor: system). Payloads are sealed with the master key, bound to the
//! job's id: reset and invitation links carry tokens that are never stored in the clear.

use crate::audit::AuditEvent;
use crate::notify::guard::{OutboundConfig, OutboundError};
use crate::state::AppState;
use anyhow::Context;
use breeze_proto::ids::PartnerId;
use breeze_store::jobs::{self, AfterFailure, Job};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The kind of an e-mail job.
pub const MAIL: &str = "mail";

/// Wakes the worker when a job is queued.
#[derive(Default)]
pub struct Wakeup(Notify);

impl Wakeup {
    /// Wakes the worker (something was queued).
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// One e-mail to deliver (sealed in the job's payload).
#[derive(Serialize, Deserialize)]
struct MailJob {
    /// Whose SMTP settings to use (none: the server's).
    partner: Option<PartnerId>,
    to: String,
    subject: String,
    body: String,
}

fn purpose(id: Uuid) -> String {
    format!("job:{id}")
}

/// Queues an e-mail for delivery and wakes the worker.
pub async fn enqueue_mail(
    state: &AppState,
    partner: Option<PartnerId>,
    to: &str,
    subject: &str,
    body: String,
) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let plain = serde_json::to_vec(&MailJob {
        partner,
        to: to.to_string(),
        subject: subject.to_string(),
        body,
    })?;
    let sealed = state.keys.seal(&purpose(id), &plain)?;
    let now = state.now();
    jobs::enqueue(
        &state.db,
        id,
        MAIL,
        json!({ "sealed": sealed }),
        i64::from(state.config.outbound.max_attempts),
        now,
        now,
    )
    .await
    .context("queueing an e-mail")?;
    state.delivery.0.notify_one();
    Ok(id)
}

/// How long to wait before attempt `attempts + 1`: the base, doubled per attempt made,
/// capped.
pub fn backoff(c: &OutboundConfig, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = Duration::from_millis(c.retry_base_millis);
    base.checked_mul(1u32 << doublings)
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(c.retry_max_secs))
}

/// Why an attempt failed: retry it, or give up now.
enum JobError {
    Retry(String),
    Permanent(String),
}

/// Delivers an e-mail job; `partner` learns whose mail it was (for the audit row).
async fn deliver_mail(
    state: &AppState,
    job: &Job,
    partner: &mut Option<PartnerId>,
) -> Result<(), JobError> {
    let sealed = job
        .payload
        .get("sealed")
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobError::Permanent("the job's payload is unreadable".into()))?;
    let plain = state
        .keys
        .open(&purpose(job.id), sealed)
        .map_err(|_| JobError::Permanent("the job's payload does not open".into()))?;
    let m: MailJob = serde_json::from_slice(&plain)
        .map_err(|_| JobError::Permanent("the job's payload is unreadable".into()))?;
    *partner = m.partner;
    let mailer = crate::notify::mail::for_partner(state, m.partner)
        .await
        .map_err(|_| JobError::Retry("the partner's SMTP settings are unusable".into()))?;
    match mailer
        .send(&state.config.outbound, &m.to, &m.subject, m.body)
        .await
    {
        Ok(_) => Ok(()),
        Err(e @ (OutboundError::BadMessage | OutboundError::NotAllowed(_))) => {
            Err(JobError::Permanent(e.to_string()))
        }
        Err(e) => Err(JobError::Retry(e.to_string())),
    }
}

/// How a job ended: done (the handler removed it, or the queue should), or failed.
enum Ran {
    /// Done; the queue removes the job.
    Done,
    /// Done, and the handler already removed the job (with its own bookkeeping, in one
    /// transaction).
    Removed,
}

async fn run(
    state: &AppState,
    job: &Job,
    partner: &mut Option<PartnerId>,
) -> Result<Ran, JobError> {
    match job.kind.as_str() {
        MAIL => deliver_mail(state, job, partner).await.map(|()| Ran::Done),
        breeze_store::deliveries::JOB_KIND => {
            match crate::notify::alerts::deliver(state, job, partner).await {
                crate::notify::alerts::Outcome::Done => Ok(Ran::Removed),
                crate::notify::alerts::Outcome::Failed(f) if f.permanent => {
                    Err(JobError::Permanent(f.reason))
                }
                crate::notify::alerts::Outcome::Failed(f) => Err(JobError::Retry(f.reason)),
            }
        }
        _ => Err(JobError::Permanent("unknown job kind".into())),
    }
}

/// The lease a worker holds a job for: longer than one delivery can take.
fn lease(c: &OutboundConfig) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(c.timeout_secs).unwrap_or(600) * 2 + 30)
}

/// Logs and audits a job that failed for good (actor: system), filed under the partner
/// whose job it was, so its admins see it.
async fn failed_for_good(state: &AppState, job: &Job, partner: Option<PartnerId>, error: &str) {
    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job failed for good");
    let ev = AuditEvent::new("job.failed", "job")
        .partner(partner)
        .resource(job.id, Some(&job.kind))
        .details(json!({"kind": job.kind, "attempts": job.attempts}))
        .failed("failure", error.to_string());
    if let Err(e) = state.record(ev, None).await {
        tracing::error!(error = ?e, "auditing a failed job");
    }
}

/// Whose e-mail a mail job is (none when its payload does not open).
fn mail_partner(state: &AppState, job: &Job) -> Option<PartnerId> {
    let sealed = job.payload.get("sealed")?.as_str()?;
    let plain = state.keys.open(&purpose(job.id), sealed).ok()?;
    serde_json::from_slice::<MailJob>(&plain).ok()?.partner
}

/// Fails the jobs whose worker died during their last attempt (a crash, a kill): an
/// alert delivery's row ends `failed` too, and each is audited like any final failure.
async fn fail_abandoned(state: &AppState) -> anyhow::Result<()> {
    for job in jobs::fail_abandoned(&state.db, state.now()).await? {
        let partner = match job.kind.as_str() {
            MAIL => mail_partner(state, &job),
            breeze_store::deliveries::JOB_KIND => {
                crate::notify::alerts::abandoned(state, &job, jobs::ABANDONED).await?
            }
            _ => None,
        };
        failed_for_good(state, &job, partner, jobs::ABANDONED).await;
    }
    Ok(())
}

/// Claims and runs every due job (a batch at a time); answers how many ran.
pub async fn run_due(state: &AppState) -> anyhow::Result<usize> {
    let c = &state.config.outbound;
    let mut ran = 0;
    loop {
        fail_abandoned(state).await?;
        let now = state.now();
        let batch = jobs::claim(&state.db, now, now + lease(c), 8).await?;
        if batch.is_empty() {
            return Ok(ran);
        }
        for job in batch {
            ran += 1;
            let mut partner = None;
            let outcome = run(state, &job, &mut partner).await;
            let now = state.now();
            match outcome {
                Ok(Ran::Done) => jobs::complete(&state.db, job.id).await?,
                Ok(Ran::Removed) => {}
                Err(e) => {
                    let (error, retry_at) = match e {
                        JobError::Retry(m) => {
                            let wait = chrono::Duration::from_std(backoff(c, job.attempts))
                                .unwrap_or(chrono::Duration::hours(1));
                            (m, Some(now + wait))
                        }
                        JobError::Permanent(m) => (m, None),
                    };
                    let after = jobs::fail(&state.db, job.id, &error, retry_at, now).await?;
                    if after == AfterFailure::Failed {
                        failed_for_good(state, &job, partner, &error).await;
                    } else {
                        tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job failed; will retry");
                    }
                }
            }
        }
    }
}

/// The delivery worker: runs due jobs when woken or every `queue_poll_millis`.
pub fn spawn_worker(state: AppState, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.config.outbound.queue_poll_millis);
        loop {
            if let Err(e) = run_due(&state).await {
                tracing::error!(error = format!("{e:#}"), "delivery queue");
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(every) => {}
                () = state.delivery.0.notified() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let c = OutboundConfig {
            retry_base_millis: 1000,
            retry_max_secs: 10,
            ..OutboundConfig::default()
        };
        let secs: Vec<u64> = (1..=6).map(|a| backoff(&c, a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }
}
