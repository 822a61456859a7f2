//! The durable job queue: outbound mail now, alert notifications later. A job is a kind and
//! a JSON payload (the server seals any secret in it before it gets here). Workers claim
//! due jobs with one atomic `UPDATE … RETURNING` (on PostgreSQL the candidate rows are
//! locked `FOR UPDATE SKIP LOCKED`, so replicas share the queue without taking the same
//! job), holding each for a lease: a job whose worker died is claimed again once its lease
//! ends, or failed ([`fail_abandoned`]) when that was its last attempt. Each claim counts
//! as an attempt; a failure is retried at the time the caller
//! chooses, until `max_attempts`, after which the job stays `failed`.

use crate::StoreError;
use crate::db::{Db, Engine, Q};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A claimed job, for its worker.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub max_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: Uuid,
    kind: String,
    payload: Json<Value>,
    attempts: i64,
    max_attempts: i64,
}

/// A job as stored, for inspection.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub next_run_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Queues a job to run at `run_at`.
pub async fn enqueue(
    db: &Db,
    id: Uuid,
    kind: &str,
    payload: Value,
    max_attempts: i64,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, next_run_at, \
             created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(max_attempts.max(1))
        .bind(run_at)
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// Why a job failed whose worker stopped (crashed, was killed) during its last attempt.
pub const ABANDONED: &str = "the worker stopped during the last attempt";

/// Marks failed the running jobs whose lease ended after their last attempt (their
/// worker died with it) and answers them, so the caller can record the failure where
/// the job's kind keeps it. Call before [`claim`], which leaves such jobs alone. The
/// job's `last_error` keeps an earlier attempt's error when there was one.
pub async fn fail_abandoned(db: &Db, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
    let rows: Vec<ClaimedRow> = db
        .all(
            Q::new(
                "UPDATE jobs SET status = 'failed', locked_until = NULL, updated_at = ?, \
                 last_error = COALESCE(last_error, ?) \
                 WHERE status = 'running' AND locked_until <= ? AND attempts >= max_attempts \
                 RETURNING id, kind, payload, attempts, max_attempts",
            )
            .bind(now)
            .bind(ABANDONED)
            .bind(now),
        )
        .await?;
    let mut jobs: Vec<Job> = rows.into_iter().map(Job::from).collect();
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

impl From<ClaimedRow> for Job {
    fn from(r: ClaimedRow) -> Job {
        Job {
            id: r.id,
            kind: r.kind,
            payload: r.payload.0,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
        }
    }
}

/// Claims up to `limit` due jobs (queued and due, or running with an expired lease and
/// attempts left), leasing them until `lease_until`. Running jobs whose lease ended after
/// their last attempt are not claimed: [`fail_abandoned`] fails them.
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let q = match db.engine() {
        Engine::Postgres => Q::new(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = ?, updated_at = ? \
             WHERE id IN (SELECT id FROM jobs WHERE ((status = 'queued' AND next_run_at <= ?) \
             OR (status = 'running' AND locked_until <= ?)) AND attempts < max_attempts \
             ORDER BY next_run_at LIMIT ? FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, payload, attempts, max_attempts",
        ),
        // One writer at a time: the UPDATE itself is atomic.
        Engine::Sqlite => Q::new(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = ?, updated_at = ? \
             WHERE id IN (SELECT id FROM jobs WHERE ((status = 'queued' AND next_run_at <= ?) \
             OR (status = 'running' AND locked_until <= ?)) AND attempts < max_attempts \
             ORDER BY next_run_at LIMIT ?) \
             RETURNING id, kind, payload, attempts, max_attempts",
        ),
    }
    .bind(lease_until)
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(limit);
    let rows: Vec<ClaimedRow> = db.all(q).await?;
    let mut jobs: Vec<Job> = rows.into_iter().map(Job::from).collect();
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// A job done: removed, payload and all.
pub async fn complete(db: &Db, id: Uuid) -> Result<(), StoreError> {
    db.exec(Q::new("DELETE FROM jobs WHERE id = ?").bind(id))
        .await?;
    Ok(())
}

/// What became of a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queued again for its next attempt.
    Retry,
    /// Out of attempts (or not worth retrying): left `failed`.
    Failed,
}

/// Records a failed attempt: queued again at `retry_at` while attempts remain (and
/// `retry_at` is given), else `failed`. `error` is the server's own category text.
pub async fn fail(
    db: &Db,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<AfterFailure, StoreError> {
    let retry = retry_at.is_some();
    #[derive(sqlx::FromRow)]
    struct Status {
        status: String,
    }
    let s: Status = db
        .one(
            Q::new(
                "UPDATE jobs SET status = CASE WHEN ? AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
                 next_run_at = ?, locked_until = NULL, last_error = ?, updated_at = ? \
                 WHERE id = ? RETURNING status",
            )
            .bind(retry)
            .bind(retry_at.unwrap_or(now))
            .bind(error)
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok(if s.status == "queued" {
        AfterFailure::Retry
    } else {
        AfterFailure::Failed
    })
}

/// One job as stored.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<JobRecord>, StoreError> {
    db.optional(
        Q::new(
            "SELECT id, kind, status, attempts, max_attempts, next_run_at, locked_until, last_error \
             FROM jobs WHERE id = ?",
        )
        .bind(id),
    )
    .await
}

/// Every job of a kind, oldest first (inspection and tests).
pub async fn list(db: &Db, kind: &str) -> Result<Vec<JobRecord>, StoreError> {
    db.all(
        Q::new(
            "SELECT id, kind, status, attempts, max_attempts, next_run_at, locked_until, last_error \
             FROM jobs WHERE kind = ? ORDER BY created_at, id",
        )
        .bind(kind),
    )
    .await
}
