//! Commands the server settles itself, without an agent result:
//!
//! - **quarantine**: a quarantined device runs nothing, so its commands that have not
//!   started (`pending`, or `sent` but not acknowledged) are `cancelled` with a reason,
//!   and [`crate::commands::take_pending_for_agent`] never hands one to it;
//! - **lost**: a `running` command the agent stopped reporting (its heartbeat's
//!   `running_commands` leaves it out) or that ran past its timeout plus a grace period
//!   is `lost`. A result the agent still delivers later replaces `lost` (an agent whose
//!   result waited in its outbox loses nothing).
//!
//! A script execution follows its command.

use crate::StoreError;
use crate::commands::One;
use crate::db::{Db, Q, Tx};
use breeze_core::DeviceCoords;
use breeze_proto::ids::{CommandId, DeviceId, ExecutionId, OrgId, PartnerId, SiteId};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// The reason written on commands cancelled by a quarantine.
pub const QUARANTINE_REASON: &str = "cancelled: the device was quarantined";
/// The reason written on commands the agent stopped reporting.
pub const LOST_UNREPORTED: &str = "lost: the agent no longer reports this command as running (it restarted or died while running it)";
/// The reason written on commands past their deadline.
pub const LOST_OVERDUE: &str =
    "lost: no result arrived within the command's timeout plus the grace period";

/// Timeout assumed for a running command that has none of its own (device commands:
/// reboot, inventory, config), before the grace period.
pub const DEFAULT_TIMEOUT_SECS: i64 = 3600;

/// How long past its timeout a running command may stay silent before the sweep calls
/// it lost (an agent's result may wait in its outbox while the server is unreachable).
pub const LOST_GRACE_SECS: i64 = 300;

/// A command the server settled, with what the live streams need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub command_id: CommandId,
    pub execution_id: Option<ExecutionId>,
    pub at: DeviceCoords,
    pub status: &'static str,
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

#[derive(sqlx::FromRow)]
struct ExecRow {
    id: Uuid,
    command_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct CoordsRow {
    id: Uuid,
    device_id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
    partner_id: Uuid,
}

/// Moves the executions of `ids` to the commands' new status and answers what changed.
async fn settle(
    tx: &mut Tx,
    ids: &[Uuid],
    status: &'static str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("UPDATE script_executions SET status = ");
    q.push_bind(status)
        .push(", completed_at = ")
        .push_bind(now)
        .push(", error_message = ")
        .push_bind(reason.to_string())
        .push(" WHERE command_id IN ")
        .push_list(ids.iter().copied())
        .push(" RETURNING id, command_id");
    let execs: HashMap<Uuid, Uuid> = tx
        .all::<ExecRow>(q)
        .await?
        .into_iter()
        .map(|r| (r.command_id, r.id))
        .collect();
    let mut q = Q::new(
        "SELECT c.id, c.device_id, d.org_id, d.site_id, o.partner_id FROM device_commands c \
         JOIN devices d ON d.id = c.device_id JOIN organizations o ON o.id = d.org_id WHERE c.id IN ",
    );
    q.push_list(ids.iter().copied());
    let mut out: Vec<Settled> = tx
        .all::<CoordsRow>(q)
        .await?
        .into_iter()
        .map(|r| Settled {
            command_id: CommandId(r.id),
            execution_id: execs.get(&r.id).copied().map(ExecutionId),
            at: DeviceCoords {
                partner_id: PartnerId(r.partner_id),
                org_id: OrgId(r.org_id),
                site_id: SiteId(r.site_id),
                device_id: DeviceId(r.device_id),
            },
            status,
        })
        .collect();
    out.sort_by_key(|s| s.command_id.0);
    Ok(out)
}

/// Cancels every command of a (just quarantined) device that has not started: pending,
/// or delivered and not acknowledged.
pub async fn cancel_for_quarantine(
    db: &Db,
    device: DeviceId,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    cancel_waiting(
        db,
        Q::new(
            "UPDATE device_commands SET status = 'cancelled', completed_at = ?, error_message = ? \
             WHERE device_id = ? AND status IN ('pending', 'sent') RETURNING id",
        )
        .bind(now)
        .bind(QUARANTINE_REASON)
        .bind(device),
        now,
    )
    .await
}

/// The periodic sweep's side of [`cancel_for_quarantine`]: a command queued in the instant
/// between a handler's quarantine check and the quarantine itself is cancelled here
/// rather than left waiting (undelivered) until it expires.
pub async fn cancel_for_quarantined_devices(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    cancel_waiting(
        db,
        Q::new(
            "UPDATE device_commands SET status = 'cancelled', completed_at = ?, error_message = ? \
             WHERE status IN ('pending', 'sent') AND device_id IN \
             (SELECT id FROM devices WHERE status = 'quarantined' OR quarantined_at IS NOT NULL) RETURNING id",
        )
        .bind(now)
        .bind(QUARANTINE_REASON),
        now,
    )
    .await
}

async fn cancel_waiting(db: &Db, q: Q, now: DateTime<Utc>) -> Result<Vec<Settled>, StoreError> {
    update_and_settle(db, q, "cancelled", QUARANTINE_REASON, now).await
}

/// Runs `q` (an `UPDATE device_commands … RETURNING id` that moved commands to `status`)
/// and [`settle`]s what it moved, in one transaction.
async fn update_and_settle(
    db: &Db,
    q: Q,
    status: &'static str,
    reason: &'static str,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    let mut tx = db.begin().await?;
    let ids: Vec<Uuid> = tx
        .all::<IdRow>(q)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let out = settle(&mut tx, &ids, status, reason, now).await?;
    tx.commit().await?;
    Ok(out)
}

/// A heartbeat listed the commands running on the agent: the device's `running`
/// commands it left out are lost. Only commands delivered before the previous
/// heartbeat (`previous_heartbeat`) count, so a command that started between the
/// agent building its heartbeat and the server reading it is not caught.
pub async fn lose_unreported_for_agent(
    db: &Db,
    device: DeviceId,
    reported: &[CommandId],
    previous_heartbeat: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    let Some(previous) = previous_heartbeat else {
        return Ok(Vec::new());
    };
    let unreported = |q: &mut Q| {
        q.push(" WHERE device_id = ")
            .push_bind(device)
            .push(" AND status = 'running' AND COALESCE(sent_at, started_at) < ")
            .push_bind(previous);
        if !reported.is_empty() {
            q.push(" AND id NOT IN ")
                .push_list(reported.iter().copied());
        }
    };
    // A read first: nearly every heartbeat has nothing to lose, and on SQLite the read
    // does not queue for the one writer (the transaction below takes it even when it
    // changes nothing) behind the heartbeat and metrics flushes.
    let mut any = Q::new("SELECT CAST(1 AS BIGINT) AS one FROM device_commands");
    unreported(&mut any);
    any.push(" LIMIT 1");
    if db.optional::<One>(any).await?.is_none() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("UPDATE device_commands SET status = 'lost', completed_at = ");
    q.push_bind(now)
        .push(", error_message = ")
        .push_bind(LOST_UNREPORTED);
    unreported(&mut q);
    q.push(" RETURNING id");
    update_and_settle(db, q, "lost", LOST_UNREPORTED, now).await
}

#[derive(sqlx::FromRow)]
struct RunningRow {
    id: Uuid,
    started_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    timeout_secs: Option<i64>,
}

/// The periodic sweep: `running` commands whose timeout (or
/// [`DEFAULT_TIMEOUT_SECS`]) plus `grace` has passed since they started are lost.
pub async fn lose_overdue(
    db: &Db,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Settled>, StoreError> {
    let rows: Vec<RunningRow> = db
        .all(Q::new(
            "SELECT id, started_at, sent_at, created_at, timeout_secs FROM device_commands WHERE status = 'running'",
        ))
        .await?;
    let overdue: Vec<Uuid> = rows
        .into_iter()
        .filter(|r| {
            let since = r.started_at.or(r.sent_at).unwrap_or(r.created_at);
            let timeout = Duration::seconds(r.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(0));
            since + timeout + grace < now
        })
        .map(|r| r.id)
        .collect();
    if overdue.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("UPDATE device_commands SET status = 'lost', completed_at = ");
    q.push_bind(now)
        .push(", error_message = ")
        .push_bind(LOST_OVERDUE)
        .push(" WHERE status = 'running' AND id IN ")
        .push_list(overdue.iter().copied())
        .push(" RETURNING id");
    update_and_settle(db, q, "lost", LOST_OVERDUE, now).await
}
