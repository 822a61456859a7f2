//! Automation runs (issue 13): `automation_runs`, the per-device executor state
//! (`automation_run_devices`) and the step log (`automation_step_logs`).
//!
//! The executor owns a device row while it advances it: every hand-over is a conditional
//! UPDATE (`claim_*`), so a settled command, the sweep and a second server never advance
//! the same device twice. A row the executor left `running` (the server died mid-step)
//! is found by [`stale_running`] and resumed or marked interrupted by the executor.

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_core::alerts::{TargetFacts, Targets};
use breeze_proto::api;
use breeze_proto::ids::{
    AutomationId, AutomationRunId, CommandId, DeviceGroupId, DeviceId, ExecutionId, OrgId, SiteId,
    UserId,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

// ---------------------------------------------------------------- runs

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    automation_id: Uuid,
    automation_name: String,
    org_id: Uuid,
    status: String,
    trigger_type: String,
    trigger_context: Json<Value>,
    triggered_by: Option<Uuid>,
    scheduled_for: Option<DateTime<Utc>>,
    depth: i64,
    devices_targeted: i64,
    devices_succeeded: i64,
    devices_failed: i64,
    devices_skipped: i64,
    error: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<RunRow> for api::AutomationRun {
    fn from(r: RunRow) -> Self {
        api::AutomationRun {
            id: AutomationRunId(r.id),
            automation_id: AutomationId(r.automation_id),
            automation_name: r.automation_name,
            org_id: OrgId(r.org_id),
            status: r.status,
            trigger: api::AutomationRunTrigger {
                trigger_type: r.trigger_type,
                context: r.trigger_context.0,
            },
            triggered_by: r.triggered_by.map(UserId),
            scheduled_for: r.scheduled_for,
            depth: r.depth,
            started_at: r.started_at,
            finished_at: r.finished_at,
            devices_targeted: r.devices_targeted,
            devices_succeeded: r.devices_succeeded,
            devices_failed: r.devices_failed,
            devices_skipped: r.devices_skipped,
            error: r.error,
        }
    }
}

const RUN_COLS: &str = "SELECT r.id, r.automation_id, a.name AS automation_name, r.org_id, r.status, \
    r.trigger_type, r.trigger_context, r.triggered_by, r.scheduled_for, r.depth, r.devices_targeted, \
    r.devices_succeeded, r.devices_failed, r.devices_skipped, r.error, r.started_at, r.finished_at \
    FROM automation_runs r JOIN automations a ON a.id = r.automation_id \
    JOIN organizations o ON o.id = r.org_id WHERE o.deleted_at IS NULL";

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::orgs_in_scope(q, scope, "o.partner_id", "o.id");
}

pub async fn get(
    db: &Db,
    scope: &Scope,
    id: AutomationRunId,
) -> Result<api::AutomationRun, StoreError> {
    let mut q = Q::new(RUN_COLS);
    scoped(&mut q, scope);
    q.push(" AND r.id = ").push_bind(id);
    db.one::<RunRow>(q).await.map(Into::into)
}

pub async fn get_for_system(
    db: &Db,
    id: AutomationRunId,
) -> Result<api::AutomationRun, StoreError> {
    let mut q = Q::new(RUN_COLS);
    q.push(" AND r.id = ").push_bind(id);
    db.one::<RunRow>(q).await.map(Into::into)
}

/// Runs of an automation (the caller checked it is in scope), newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    automation: AutomationId,
    status: Option<&str>,
    opts: &ListOpts,
) -> Result<(Vec<api::AutomationRun>, Option<String>), StoreError> {
    let mut q = Q::new(RUN_COLS);
    scoped(&mut q, scope);
    q.push(" AND r.automation_id = ").push_bind(automation);
    if let Some(s) = status {
        q.push(" AND r.status = ").push_bind(s);
    }
    opts.finish(&mut q, &[], "r.started_at DESC, r.id")?;
    let rows: Vec<RunRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// A device's place in a new run: `pending`, or `skipped` with the reason.
pub struct NewRunDevice {
    pub device_id: DeviceId,
    pub hostname: String,
    pub skipped: Option<String>,
}

pub struct NewRun {
    pub id: AutomationRunId,
    pub automation_id: AutomationId,
    pub org_id: OrgId,
    pub trigger_type: String,
    pub trigger_context: Value,
    pub triggered_by: Option<UserId>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub depth: i64,
    pub chain: Vec<AutomationId>,
    /// `{"actions", "on_failure", "notify_channel_ids"}` as the run started.
    pub spec: Value,
    /// The first step's path (`None`: no steps).
    pub first_step: Option<String>,
}

/// Creates a run with its device rows in one transaction. `Ok(false)` when the schedule
/// slot (`automation_id`, `scheduled_for`) already has a run.
pub async fn create(
    db: &Db,
    r: &NewRun,
    devices: &[NewRunDevice],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let skipped = devices.iter().filter(|d| d.skipped.is_some()).count() as i64;
    let inserted = tx
        .exec(
            Q::new(
                "INSERT INTO automation_runs (id, automation_id, org_id, status, trigger_type, trigger_context, \
                 triggered_by, scheduled_for, depth, chain, spec, devices_targeted, devices_succeeded, devices_failed, \
                 devices_skipped, started_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)",
            )
            .bind(r.id)
            .bind(r.automation_id)
            .bind(r.org_id)
            .bind(r.trigger_type.as_str())
            .bind(r.trigger_context.clone())
            .bind(r.triggered_by)
            .bind(r.scheduled_for)
            .bind(r.depth)
            .bind(serde_json::json!(r.chain))
            .bind(r.spec.clone())
            .bind(devices.len() as i64)
            .bind(skipped)
            .bind(now),
        )
        .await;
    match inserted {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    }
    for d in devices {
        let (status, finished) = match &d.skipped {
            Some(_) => ("skipped", Some(now)),
            None if r.first_step.is_none() => ("completed", Some(now)),
            None => ("pending", None),
        };
        tx.exec(
            Q::new(
                "INSERT INTO automation_run_devices (id, run_id, device_id, hostname, status, cursor, \
                 had_failure, steps_run, error, finished_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            )
            .bind(Uuid::now_v7())
            .bind(r.id)
            .bind(d.device_id)
            .bind(d.hostname.as_str())
            .bind(status)
            .bind(r.first_step.clone())
            .bind(false)
            .bind(d.skipped.clone())
            .bind(finished)
            .bind(now),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The chain of automations above a run (itself included), for cycle checks.
pub async fn chain_for_system(db: &Db, id: AutomationRunId) -> Result<Vec<Uuid>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct C {
        chain: Json<Vec<Uuid>>,
        automation_id: Uuid,
    }
    let c: C = db
        .one(Q::new("SELECT chain, automation_id FROM automation_runs WHERE id = ?").bind(id))
        .await?;
    let mut v = c.chain.0;
    v.push(c.automation_id);
    Ok(v)
}

/// The run's spec (`{"actions", "on_failure", "notify_channel_ids"}`) and depth.
pub async fn spec_for_system(db: &Db, id: AutomationRunId) -> Result<(Value, i64), StoreError> {
    #[derive(sqlx::FromRow)]
    struct S {
        spec: Json<Value>,
        depth: i64,
    }
    let s: S = db
        .one(Q::new("SELECT spec, depth FROM automation_runs WHERE id = ?").bind(id))
        .await?;
    Ok((s.spec.0, s.depth))
}

/// Marks a run `running` once its first device starts.
pub async fn mark_running(db: &Db, id: AutomationRunId) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE automation_runs SET status = 'running' WHERE id = ? AND status = 'pending'")
            .bind(id),
    )
    .await?;
    Ok(())
}

/// Finishes a run whose devices all reached a final state: counts them and sets the run's
/// status (`interrupted` when any device was, else `completed` / `failed` / `partial`).
/// Answers the final status when this call finished it.
pub async fn finish_if_done(
    db: &Db,
    id: AutomationRunId,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Count {
        status: String,
        n: i64,
    }
    let counts: Vec<Count> = db
        .all(
            Q::new(
                "SELECT status, COUNT(*) AS n FROM automation_run_devices WHERE run_id = ? GROUP BY status",
            )
            .bind(id),
        )
        .await?;
    let n = |s: &str| {
        counts
            .iter()
            .filter(|c| c.status == s)
            .map(|c| c.n)
            .sum::<i64>()
    };
    let open = n("pending") + n("running") + n("waiting");
    if open > 0 {
        return Ok(None);
    }
    let succeeded = n("completed");
    let failed = n("failed") + n("interrupted") + n("cancelled");
    let skipped = n("skipped");
    let (status, error) = if n("interrupted") > 0 {
        (
            "interrupted",
            Some(format!(
                "{} device(s) interrupted (see their step logs)",
                n("interrupted")
            )),
        )
    } else if failed == 0 {
        ("completed", None)
    } else if succeeded == 0 {
        ("failed", None)
    } else {
        ("partial", None)
    };
    let changed = db
        .exec(
            Q::new(
                "UPDATE automation_runs SET status = ?, devices_succeeded = ?, devices_failed = ?, \
                 devices_skipped = ?, error = COALESCE(error, ?), finished_at = ? \
                 WHERE id = ? AND finished_at IS NULL",
            )
            .bind(status)
            .bind(succeeded)
            .bind(failed)
            .bind(skipped)
            .bind(error)
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok((changed == 1).then(|| status.to_string()))
}

/// Keeps a run's succeeded/failed counts current while it runs.
pub async fn refresh_counts(db: &Db, id: AutomationRunId) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE automation_runs SET \
             devices_succeeded = (SELECT COUNT(*) FROM automation_run_devices WHERE run_id = ? AND status = 'completed'), \
             devices_failed = (SELECT COUNT(*) FROM automation_run_devices WHERE run_id = ? \
               AND status IN ('failed', 'interrupted', 'cancelled')) \
             WHERE id = ? AND finished_at IS NULL",
        )
        .bind(id)
        .bind(id)
        .bind(id),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- per-device state

/// One device's executor state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RunDevice {
    pub id: Uuid,
    pub run_id: Uuid,
    pub device_id: Uuid,
    pub hostname: String,
    pub status: String,
    pub cursor: Option<String>,
    pub wait_until: Option<DateTime<Utc>>,
    pub command_id: Option<Uuid>,
    pub execution_id: Option<Uuid>,
    pub last_exit_code: Option<i64>,
    pub last_output: Option<String>,
    pub had_failure: bool,
    pub steps_run: i64,
    pub claimed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RD_COLS: &str = "SELECT id, run_id, device_id, hostname, status, cursor, wait_until, command_id, \
    execution_id, last_exit_code, last_output, had_failure, steps_run, claimed_at, error, started_at, \
    finished_at FROM automation_run_devices";

pub async fn device_state(db: &Db, id: Uuid) -> Result<RunDevice, StoreError> {
    let mut q = Q::new(RD_COLS);
    q.push(" WHERE id = ").push_bind(id);
    db.one(q).await
}

/// Device rows of a run still `pending` (to start).
pub async fn pending_of_run(db: &Db, run: AutomationRunId) -> Result<Vec<Uuid>, StoreError> {
    ids(
        db,
        Q::new(
            "SELECT id FROM automation_run_devices WHERE run_id = ? AND status = 'pending' ORDER BY hostname, id",
        )
        .bind(run),
    )
    .await
}

async fn ids(db: &Db, q: Q) -> Result<Vec<Uuid>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Id {
        id: Uuid,
    }
    Ok(db.all::<Id>(q).await?.into_iter().map(|r| r.id).collect())
}

/// Takes a `pending` device row to `running`; false when someone else took it.
pub async fn claim_pending(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE automation_run_devices SET status = 'running', claimed_at = ?, started_at = COALESCE(started_at, ?), \
                 updated_at = ? WHERE id = ? AND status = 'pending'",
            )
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok(n == 1)
}

/// Takes the device row waiting on `command` to `running`, if any.
pub async fn claim_by_command(
    db: &Db,
    command: CommandId,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    let found = ids(
        db,
        Q::new("SELECT id FROM automation_run_devices WHERE command_id = ? AND status = 'waiting'")
            .bind(command),
    )
    .await?;
    for id in found {
        if claim_waiting(db, id, now).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Takes a `waiting` device row to `running`; false when someone else took it.
pub async fn claim_waiting(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE automation_run_devices SET status = 'running', claimed_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'waiting'",
            )
            .bind(now)
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok(n == 1)
}

/// Takes a `running` row left by an executor that claimed it before `stale_before` (a
/// dead server) for recovery; false when someone else took it or it moved on.
pub async fn claim_stale(
    db: &Db,
    id: Uuid,
    claimed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut q = Q::new("UPDATE automation_run_devices SET claimed_at = ");
    q.push_bind(now)
        .push(", updated_at = ")
        .push_bind(now)
        .push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status = 'running' AND ");
    match claimed_at {
        Some(c) => q.push("claimed_at = ").push_bind(c),
        None => q.push("claimed_at IS NULL"),
    };
    Ok(db.exec(q).await? == 1)
}

/// Rows `waiting` on a wait step whose time has come.
pub async fn due_waits(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let mut q = Q::new(
        "SELECT id FROM automation_run_devices WHERE status = 'waiting' AND wait_until IS NOT NULL AND wait_until <= ",
    );
    q.push_bind(now)
        .push(" ORDER BY wait_until LIMIT ")
        .push_bind(limit);
    ids(db, q).await
}

/// Rows `waiting` on a command that already reached a final state (its settle
/// notification was lost, e.g. the server restarted).
pub async fn settled_waits(db: &Db, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let mut q = Q::new(
        "SELECT r.id FROM automation_run_devices r JOIN device_commands c ON c.id = r.command_id \
         WHERE r.status = 'waiting' AND c.status IN ('completed', 'failed', 'timeout', 'cancelled', 'expired', \
         'rejected', 'lost') ORDER BY r.updated_at LIMIT ",
    );
    q.push_bind(limit);
    ids(db, q).await
}

/// Rows waiting on a command that no longer exists.
pub async fn orphaned_waits(db: &Db, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let mut q = Q::new(
        "SELECT r.id FROM automation_run_devices r WHERE r.status = 'waiting' AND r.command_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM device_commands c WHERE c.id = r.command_id) LIMIT ",
    );
    q.push_bind(limit);
    ids(db, q).await
}

/// Rows `pending` since before `before` (their start task died with the server).
pub async fn stale_pending(
    db: &Db,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let mut q =
        Q::new("SELECT id FROM automation_run_devices WHERE status = 'pending' AND updated_at <= ");
    q.push_bind(before).push(" LIMIT ").push_bind(limit);
    ids(db, q).await
}

/// Rows `running` whose executor claimed them before `before` (a dead server).
pub async fn stale_running(
    db: &Db,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RunDevice>, StoreError> {
    let mut q = Q::new(RD_COLS);
    q.push(" WHERE status = 'running' AND (claimed_at IS NULL OR claimed_at <= ")
        .push_bind(before)
        .push(") LIMIT ")
        .push_bind(limit);
    db.all(q).await
}

/// Writes back the executor state of a device row it holds.
pub async fn save_device(db: &Db, d: &RunDevice, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE automation_run_devices SET status = ?, cursor = ?, wait_until = ?, command_id = ?, \
             execution_id = ?, last_exit_code = ?, last_output = ?, had_failure = ?, steps_run = ?, \
             error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(d.status.as_str())
        .bind(d.cursor.clone())
        .bind(d.wait_until)
        .bind(d.command_id)
        .bind(d.execution_id)
        .bind(d.last_exit_code)
        .bind(d.last_output.clone())
        .bind(d.had_failure)
        .bind(d.steps_run)
        .bind(d.error.clone())
        .bind(d.finished_at)
        .bind(now)
        .bind(d.id),
    )
    .await?;
    Ok(())
}

/// Cancels the open device rows of a run, with the reason.
pub async fn cancel_open(
    db: &Db,
    run: AutomationRunId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    db.exec(
        Q::new(
            "UPDATE automation_run_devices SET status = 'cancelled', error = ?, finished_at = ?, updated_at = ? \
             WHERE run_id = ? AND status IN ('pending', 'waiting', 'running')",
        )
        .bind(reason)
        .bind(now)
        .bind(now)
        .bind(run),
    )
    .await
}

/// Inside the transaction that queued a run_script command: the device row now waits on
/// it, and the step's log entry (at `path`) names the execution.
pub async fn wait_on_command_tx(
    tx: &mut Tx,
    id: Uuid,
    path: &str,
    command: CommandId,
    execution: ExecutionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "UPDATE automation_run_devices SET status = 'waiting', command_id = ?, execution_id = ?, \
             wait_until = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(command)
        .bind(execution)
        .bind(now)
        .bind(id),
    )
    .await?;
    tx.exec(
        Q::new(
            "UPDATE automation_step_logs SET execution_id = ? WHERE run_device_id = ? AND path = ?",
        )
        .bind(execution)
        .bind(id)
        .bind(path),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- step log

/// One step log entry to write (insert or update by device row and path).
pub struct StepEntry<'a> {
    pub run_device_id: Uuid,
    pub seq: i64,
    pub path: &'a str,
    pub step_type: &'a str,
    pub status: &'a str,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i64>,
    pub output: Option<String>,
    pub message: Option<String>,
    pub execution_id: Option<ExecutionId>,
}

/// Writes a step's log entry: the first write inserts it, later ones (the step finished)
/// update status, end, exit code, output and message.
pub async fn log_step(db: &Db, e: &StepEntry<'_>) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO automation_step_logs (id, run_device_id, seq, path, type, status, started_at, \
             finished_at, exit_code, output, message, execution_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (run_device_id, path) DO UPDATE SET status = excluded.status, \
             finished_at = excluded.finished_at, exit_code = COALESCE(excluded.exit_code, automation_step_logs.exit_code), \
             output = COALESCE(excluded.output, automation_step_logs.output), \
             message = COALESCE(excluded.message, automation_step_logs.message), \
             execution_id = COALESCE(excluded.execution_id, automation_step_logs.execution_id)",
        )
        .bind(Uuid::now_v7())
        .bind(e.run_device_id)
        .bind(e.seq)
        .bind(e.path)
        .bind(e.step_type)
        .bind(e.status)
        .bind(e.started_at)
        .bind(e.finished_at)
        .bind(e.exit_code)
        .bind(e.output.clone())
        .bind(e.message.clone())
        .bind(e.execution_id),
    )
    .await?;
    Ok(())
}

/// The started time of a step already logged (a step resumed after a restart).
pub async fn step_started(
    db: &Db,
    run_device_id: Uuid,
    path: &str,
) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct S {
        seq: i64,
        started_at: DateTime<Utc>,
    }
    Ok(db
        .optional::<S>(
            Q::new(
                "SELECT seq, started_at FROM automation_step_logs WHERE run_device_id = ? AND path = ?",
            )
            .bind(run_device_id)
            .bind(path),
        )
        .await?
        .map(|s| (s.seq, s.started_at)))
}

/// Per-device results of a run (the caller checked the run is in scope).
pub async fn devices_of_run(
    db: &Db,
    run: AutomationRunId,
) -> Result<Vec<api::AutomationRunDevice>, StoreError> {
    let mut q = Q::new(RD_COLS);
    q.push(" WHERE run_id = ")
        .push_bind(run)
        .push(" ORDER BY hostname, id");
    let rows: Vec<RunDevice> = db.all(q).await?;
    #[derive(sqlx::FromRow)]
    struct L {
        run_device_id: Uuid,
        seq: i64,
        path: String,
        r#type: String,
        status: String,
        started_at: DateTime<Utc>,
        finished_at: Option<DateTime<Utc>>,
        exit_code: Option<i64>,
        output: Option<String>,
        message: Option<String>,
        execution_id: Option<Uuid>,
    }
    let logs: Vec<L> = db
        .all(
            Q::new(
                "SELECT l.run_device_id, l.seq, l.path, l.type, l.status, l.started_at, l.finished_at, \
                 l.exit_code, l.output, l.message, l.execution_id FROM automation_step_logs l \
                 JOIN automation_run_devices d ON d.id = l.run_device_id WHERE d.run_id = ? ORDER BY l.seq, l.id",
            )
            .bind(run),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| api::AutomationRunDevice {
            device_id: DeviceId(r.device_id),
            hostname: r.hostname,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
            steps: logs
                .iter()
                .filter(|l| l.run_device_id == r.id)
                .map(|l| api::AutomationStepLog {
                    index: l.seq,
                    path: l.path.clone(),
                    step_type: l.r#type.clone(),
                    status: l.status.clone(),
                    started_at: l.started_at,
                    finished_at: l.finished_at,
                    exit_code: l.exit_code,
                    output: l.output.clone(),
                    message: l.message.clone(),
                    execution_id: l.execution_id.map(ExecutionId),
                })
                .collect(),
        })
        .collect())
}

// ---------------------------------------------------------------- executor reads

/// How a script command ended, for a run_script step.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CommandOutcome {
    /// The command's status (`completed`, `failed`, `timeout`, `lost`, …, or still
    /// `pending` / `sent` / `running`).
    pub status: String,
    pub exit_code: Option<i64>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error_message: Option<String>,
}

impl CommandOutcome {
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "timeout" | "cancelled" | "expired" | "rejected" | "lost"
        )
    }
}

pub async fn command_outcome(
    db: &Db,
    command: CommandId,
) -> Result<Option<CommandOutcome>, StoreError> {
    db.optional(
        Q::new(
            "SELECT status, exit_code, stdout, stderr, error_message FROM device_commands WHERE id = ?",
        )
        .bind(command),
    )
    .await
}

/// A device as the executor sees it: coordinates, OS, status and tags.
#[derive(Clone, Debug)]
pub struct TargetDevice {
    pub id: DeviceId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub hostname: String,
    pub os_type: String,
    pub status: String,
    pub tags: Vec<String>,
}

/// The live (not decommissioned, enrolled) devices of `org` that `targets` selects, with
/// static and dynamic group memberships resolved now. `only` narrows to these devices.
pub async fn resolve_targets_for_system(
    db: &Db,
    org: OrgId,
    targets: &Targets,
    only: Option<&[DeviceId]>,
) -> Result<Vec<TargetDevice>, StoreError> {
    let mut q = Q::new(crate::devices::COLS);
    q.push(" AND d.org_id = ")
        .push_bind(org)
        .push(" AND d.status NOT IN ('decommissioned', 'pending') AND d.enrolled_at IS NOT NULL");
    if let Some(only) = only {
        if only.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" AND d.id IN ").push_list(only.iter().copied());
    }
    q.push(" ORDER BY d.hostname, d.id");
    let rows: Vec<crate::devices::DeviceRow> = db.all(q).await?;
    // Group memberships of the targeted groups only.
    let mut member: Vec<(Uuid, DeviceGroupId)> = Vec::new();
    if targets.needs_groups() {
        #[derive(sqlx::FromRow)]
        struct M {
            device_id: Uuid,
            group_id: Uuid,
        }
        let mut q = Q::new(
            "SELECT m.device_id, m.group_id FROM device_group_memberships m JOIN device_groups g ON g.id = m.group_id \
             WHERE g.type = 'static' AND g.org_id = ",
        );
        q.push_bind(org)
            .push(" AND m.group_id IN ")
            .push_list(targets.group_ids.iter().copied());
        for m in db.all::<M>(q).await? {
            member.push((m.device_id, DeviceGroupId(m.group_id)));
        }
        #[derive(sqlx::FromRow)]
        struct Dyn {
            id: Uuid,
            site_id: Option<Uuid>,
            rules: Option<Json<Value>>,
        }
        let mut q = Q::new(
            "SELECT id, site_id, rules FROM device_groups WHERE type = 'dynamic' AND org_id = ",
        );
        q.push_bind(org)
            .push(" AND id IN ")
            .push_list(targets.group_ids.iter().copied());
        for g in db.all::<Dyn>(q).await? {
            let Some(rules) = g
                .rules
                .as_ref()
                .and_then(|r| breeze_core::group_rules::Rules::parse(&r.0).ok())
            else {
                continue;
            };
            for r in &rows {
                if g.site_id.is_some_and(|s| s != r.site_id()) {
                    continue;
                }
                if rules.matches(&r.facts()) {
                    member.push((r.id(), DeviceGroupId(g.id)));
                }
            }
        }
    }
    let mut out = Vec::new();
    for r in rows {
        let groups: Vec<DeviceGroupId> = member
            .iter()
            .filter(|(d, _)| *d == r.id())
            .map(|(_, g)| *g)
            .collect();
        let d: api::Device = r.into();
        let facts = TargetFacts {
            device_id: d.id,
            site_id: d.site_id,
            os_type: &d.os_type,
            group_ids: &groups,
        };
        if targets.matches(&facts) {
            out.push(TargetDevice {
                id: d.id,
                org_id: d.org_id,
                site_id: d.site_id,
                hostname: d.display_name.clone().unwrap_or(d.hostname.clone()),
                os_type: d.os_type,
                status: d.status,
                tags: d.tags,
            });
        }
    }
    Ok(out)
}

/// Adds and removes tags of a device (system code path: an automation step).
pub async fn update_device_for_system(
    db: &Db,
    device: DeviceId,
    tags_add: &[String],
    tags_remove: &[String],
    display_name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct T {
        tags: Json<Value>,
    }
    let mut tx = db.begin().await?;
    let t: T = tx
        .one(Q::new("SELECT tags FROM devices WHERE id = ?").bind(device))
        .await?;
    let mut tags: Vec<String> = t
        .tags
        .0
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    tags.retain(|t| !tags_remove.contains(t));
    for a in tags_add {
        if !tags.contains(a) {
            tags.push(a.clone());
        }
    }
    let mut q = Q::new("UPDATE devices SET tags = ");
    q.push_bind(serde_json::json!(tags));
    if let Some(n) = display_name {
        q.push(", display_name = ").push_bind(n);
    }
    q.push(", updated_at = ")
        .push_bind(now)
        .push(" WHERE id = ")
        .push_bind(device);
    tx.exec(q).await?;
    tx.commit().await?;
    Ok(tags)
}
