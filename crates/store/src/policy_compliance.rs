//! Policy compliance (issue 13): the targeted devices of each policy with their overall
//! status, the current result per device × rule, the history of status changes, and the
//! aggregated counts.
//!
//! The counts (`policy_compliance_counts`) change in the same transaction as the statuses
//! they count: a device added to a policy's targets adds one `unknown`, a result that moves
//! a device from `compliant` to `non_compliant` moves one count, a device that leaves takes
//! its counts with it. Reading them is one indexed read per policy, whatever the fleet size.
//! Adjustments run rule by rule (in order) and then the device row, so two transactions on
//! one policy take the row locks in the same order (PostgreSQL).

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use crate::listing::ListOpts;
use breeze_core::Scope;
use breeze_core::group_rules::Rules;
use breeze_core::policy_rules::worst;
use breeze_proto::api::{
    ComplianceChange, ComplianceCounts, ComplianceStatus, DeviceCompliance, RuleComplianceCounts,
    RuleResult,
};
use breeze_proto::ids::{CommandId, DeviceGroupId, DeviceId, ExecutionId, OrgId, PolicyId, SiteId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Rows per multi-row INSERT (well under both engines' bind limits).
const BATCH: usize = 500;

fn status_of(s: &str) -> Result<ComplianceStatus, StoreError> {
    ComplianceStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("compliance status {s}")))
}

/// Moves `n` from the `from` column to the `to` column of a counts row (either side may be
/// absent: a row entering or leaving).
async fn adjust(
    tx: &mut Tx,
    policy: PolicyId,
    rule_index: i64,
    from: Option<ComplianceStatus>,
    to: Option<ComplianceStatus>,
    n: i64,
) -> Result<(), StoreError> {
    if from == to || n == 0 {
        return Ok(());
    }
    let mut q = Q::new("UPDATE policy_compliance_counts SET ");
    if let Some(f) = from {
        q.push_trusted(f.as_str())
            .push(" = ")
            .push_trusted(f.as_str())
            .push(" - ")
            .push_bind(n);
    }
    if let Some(t) = to {
        if from.is_some() {
            q.push(", ");
        }
        q.push_trusted(t.as_str())
            .push(" = ")
            .push_trusted(t.as_str())
            .push(" + ")
            .push_bind(n);
    }
    q.push(" WHERE policy_id = ")
        .push_bind(policy)
        .push(" AND rule_index = ")
        .push_bind(rule_index);
    tx.exec(q).await?;
    Ok(())
}

async fn ensure_counts_row(
    tx: &mut Tx,
    policy: PolicyId,
    rule_index: i64,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "INSERT INTO policy_compliance_counts (policy_id, rule_index, compliant, non_compliant, unknown, error) \
             VALUES (?, ?, 0, 0, 0, 0) ON CONFLICT (policy_id, rule_index) DO NOTHING",
        )
        .bind(policy)
        .bind(rule_index),
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn history_q(
    policy: PolicyId,
    device: DeviceId,
    org: OrgId,
    rule_index: Option<i64>,
    status: ComplianceStatus,
    previous: Option<ComplianceStatus>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Q {
    Q::new(
        "INSERT INTO policy_compliance_history (id, policy_id, device_id, org_id, rule_index, status, \
         previous_status, detail, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7())
    .bind(policy)
    .bind(device)
    .bind(org)
    .bind(rule_index)
    .bind(status.as_str())
    .bind(previous.map(|p| p.as_str()))
    .bind(detail)
    .bind(now)
}

/// New rules: every device's results are dropped and its status becomes `unknown` (and
/// due for a check at once); the rule counts go, the device counts are rebuilt.
pub(crate) async fn reset_results_tx(tx: &mut Tx, policy: PolicyId) -> Result<(), StoreError> {
    tx.exec(Q::new("DELETE FROM policy_rule_results WHERE policy_id = ?").bind(policy))
        .await?;
    tx.exec(
        Q::new("DELETE FROM policy_compliance_counts WHERE policy_id = ? AND rule_index >= 0")
            .bind(policy),
    )
    .await?;
    tx.exec(
        Q::new(
            "UPDATE policy_device_status SET status = 'unknown', pending_command_id = NULL, \
             queued_at = NULL, remediation_attempts = 0 WHERE policy_id = ?",
        )
        .bind(policy),
    )
    .await?;
    // A write-time count (an admin changed the rules), never a read-time one.
    tx.exec(
        Q::new(
            "UPDATE policy_compliance_counts SET compliant = 0, non_compliant = 0, error = 0, \
             unknown = (SELECT COUNT(*) FROM policy_device_status s WHERE s.policy_id = ?) \
             WHERE policy_id = ? AND rule_index = -1",
        )
        .bind(policy)
        .bind(policy),
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ targets (sweep)

/// What target matching needs of a device (system code path).
#[derive(Clone, Debug)]
pub struct TargetDevice {
    pub id: DeviceId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub os_type: String,
    pub status: String,
    /// Static memberships and the dynamic groups whose rules match it now.
    pub group_ids: Vec<DeviceGroupId>,
}

#[derive(sqlx::FromRow)]
struct Membership {
    device_id: Uuid,
    group_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct DynGroup {
    id: Uuid,
    site_id: Option<Uuid>,
    rules: Option<Json<serde_json::Value>>,
}

/// The organization's enrolled, not decommissioned devices with their groups (static and
/// dynamic), read in three queries whatever the number of devices.
pub async fn org_devices_for_system(db: &Db, org: OrgId) -> Result<Vec<TargetDevice>, StoreError> {
    let mut q = Q::new(crate::devices::COLS);
    q.push(" AND d.org_id = ")
        .push_bind(org)
        .push(" AND d.status NOT IN ('decommissioned', 'pending') AND d.enrolled_at IS NOT NULL");
    let rows: Vec<crate::devices::DeviceRow> = db.all(q).await?;
    let mut members: HashMap<Uuid, Vec<DeviceGroupId>> = HashMap::new();
    let static_rows: Vec<Membership> = db
        .all(
            Q::new(
                "SELECT m.device_id, m.group_id FROM device_group_memberships m \
                 JOIN device_groups g ON g.id = m.group_id WHERE g.org_id = ?",
            )
            .bind(org),
        )
        .await?;
    for m in static_rows {
        members
            .entry(m.device_id)
            .or_default()
            .push(DeviceGroupId(m.group_id));
    }
    let dynamic: Vec<DynGroup> = db
        .all(
            Q::new("SELECT id, site_id, rules FROM device_groups WHERE org_id = ? AND type = 'dynamic'")
                .bind(org),
        )
        .await?;
    let dynamic: Vec<(Uuid, Option<Uuid>, Rules)> = dynamic
        .into_iter()
        .filter_map(|g| {
            let rules = Rules::parse(&g.rules?.0).ok()?;
            Some((g.id, g.site_id, rules))
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let facts = (!dynamic.is_empty()).then(|| r.facts());
            let d: breeze_proto::api::Device = r.into();
            let mut groups = members.remove(&d.id.0).unwrap_or_default();
            if let Some(facts) = facts {
                for (id, site, rules) in &dynamic {
                    if site.is_none_or(|s| s == d.site_id.0) && rules.matches(&facts) {
                        groups.push(DeviceGroupId(*id));
                    }
                }
            }
            TargetDevice {
                id: d.id,
                org_id: d.org_id,
                site_id: d.site_id,
                os_type: d.os_type,
                status: d.status,
                group_ids: groups,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct Existing {
    device_id: Uuid,
    status: String,
}

#[derive(sqlx::FromRow)]
struct RuleTally {
    rule_index: i64,
    status: String,
    n: i64,
}

/// What [`reconcile_for_system`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub added: usize,
    pub removed: usize,
}

/// Makes the policy's device rows exactly `targeted`: new devices start `unknown`, devices
/// that left lose their rows, results and counts. One transaction.
pub async fn reconcile_for_system(
    db: &Db,
    policy: PolicyId,
    targeted: &[(DeviceId, OrgId)],
    now: DateTime<Utc>,
) -> Result<Reconciled, StoreError> {
    let mut tx = db.begin().await?;
    let existing: Vec<Existing> = tx
        .all(
            Q::new("SELECT device_id, status FROM policy_device_status WHERE policy_id = ?")
                .bind(policy),
        )
        .await?;
    let want: HashSet<Uuid> = targeted.iter().map(|(d, _)| d.0).collect();
    let have: HashSet<Uuid> = existing.iter().map(|e| e.device_id).collect();
    let gone: Vec<&Existing> = existing
        .iter()
        .filter(|e| !want.contains(&e.device_id))
        .collect();
    let new: Vec<&(DeviceId, OrgId)> = targeted
        .iter()
        .filter(|(d, _)| !have.contains(&d.0))
        .collect();
    ensure_counts_row(&mut tx, policy, -1).await?;
    for chunk in gone.chunks(BATCH) {
        let ids: Vec<Uuid> = chunk.iter().map(|e| e.device_id).collect();
        let mut q = Q::new(
            "SELECT rule_index, status, COUNT(*) AS n FROM policy_rule_results WHERE policy_id = ",
        );
        q.push_bind(policy)
            .push(" AND device_id IN ")
            .push_list(ids.iter().copied())
            .push(" GROUP BY rule_index, status ORDER BY rule_index, status");
        let tallies: Vec<RuleTally> = tx.all(q).await?;
        for t in tallies {
            adjust(
                &mut tx,
                policy,
                t.rule_index,
                Some(status_of(&t.status)?),
                None,
                t.n,
            )
            .await?;
        }
        let mut by_status: HashMap<ComplianceStatus, i64> = HashMap::new();
        for e in chunk {
            *by_status.entry(status_of(&e.status)?).or_default() += 1;
        }
        for s in ComplianceStatus::ALL {
            if let Some(n) = by_status.get(&s) {
                adjust(&mut tx, policy, -1, Some(s), None, *n).await?;
            }
        }
        let mut q = Q::new("DELETE FROM policy_rule_results WHERE policy_id = ");
        q.push_bind(policy)
            .push(" AND device_id IN ")
            .push_list(ids.iter().copied());
        tx.exec(q).await?;
        let mut q = Q::new("DELETE FROM policy_device_status WHERE policy_id = ");
        q.push_bind(policy)
            .push(" AND device_id IN ")
            .push_list(ids.iter().copied());
        tx.exec(q).await?;
    }
    for chunk in new.chunks(BATCH) {
        let mut q = Q::new(
            "INSERT INTO policy_device_status (policy_id, device_id, org_id, status, checked_at, \
             pending_command_id, queued_at, remediation_attempts, updated_at) VALUES ",
        );
        for (i, (d, o)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(policy)
                .push(", ")
                .push_bind(*d)
                .push(", ")
                .push_bind(*o)
                .push(", 'unknown', NULL, NULL, NULL, 0, ")
                .push_bind(now)
                .push(")");
        }
        tx.exec(q).await?;
        adjust(
            &mut tx,
            policy,
            -1,
            None,
            Some(ComplianceStatus::Unknown),
            chunk.len() as i64,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Reconciled {
        added: new.len(),
        removed: gone.len(),
    })
}

/// A targeted device due for a check.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DueDevice {
    pub device_id: Uuid,
    pub org_id: Uuid,
}

/// Up to `limit` online devices of the policy whose last check was queued before
/// `cutoff` (or never), oldest first. A check still in flight counts as queued, so checks
/// do not stack; one unanswered for a whole interval is replaced.
pub async fn due_for_system(
    db: &Db,
    policy: PolicyId,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueDevice>, StoreError> {
    db.all(
        Q::new(
            "SELECT s.device_id, s.org_id FROM policy_device_status s JOIN devices d ON d.id = s.device_id \
             WHERE s.policy_id = ? AND (s.queued_at IS NULL OR s.queued_at < ?) AND d.status = 'online' \
             ORDER BY s.queued_at IS NOT NULL, s.queued_at, s.device_id LIMIT ?",
        )
        .bind(policy)
        .bind(cutoff)
        .bind(limit),
    )
    .await
}

/// Devices of the policy among `devices` with a check in flight queued after `since`
/// (older ones are taken as lost).
pub async fn pending_among(
    db: &Db,
    policy: PolicyId,
    devices: &[DeviceId],
    since: DateTime<Utc>,
) -> Result<HashSet<DeviceId>, StoreError> {
    if devices.is_empty() {
        return Ok(HashSet::new());
    }
    #[derive(sqlx::FromRow)]
    struct D {
        device_id: Uuid,
    }
    let mut out = HashSet::new();
    for chunk in devices.chunks(BATCH) {
        let mut q = Q::new(
            "SELECT device_id FROM policy_device_status WHERE pending_command_id IS NOT NULL AND queued_at >= ",
        );
        q.push_bind(since)
            .push(" AND policy_id = ")
            .push_bind(policy)
            .push(" AND device_id IN ")
            .push_list(chunk.iter().copied());
        let rows: Vec<D> = db.all(q).await?;
        out.extend(rows.into_iter().map(|r| DeviceId(r.device_id)));
    }
    Ok(out)
}

/// What a command queued for a policy was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    Check,
    Remediation,
}

impl CommandKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Remediation => "remediation",
        }
    }
}

/// A command this feature queued.
#[derive(Clone, Debug)]
pub struct PolicyCommand {
    pub command_id: CommandId,
    pub policy_id: PolicyId,
    pub device_id: DeviceId,
    pub kind: CommandKind,
    pub rules_version: i64,
    pub execution_id: Option<ExecutionId>,
}

/// Records a queued check (in the caller's transaction, with the command itself): the
/// device's check in flight, and the command's purpose for when its result comes.
pub async fn note_check_tx(
    tx: &mut Tx,
    policy: PolicyId,
    device: DeviceId,
    command: CommandId,
    rules_version: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "UPDATE policy_device_status SET pending_command_id = ?, queued_at = ?, updated_at = ? \
             WHERE policy_id = ? AND device_id = ?",
        )
        .bind(command)
        .bind(now)
        .bind(now)
        .bind(policy)
        .bind(device),
    )
    .await?;
    insert_command(
        tx,
        policy,
        device,
        command,
        CommandKind::Check,
        rules_version,
        None,
        now,
    )
    .await
}

/// Records a queued remediation run: one more attempt for the device.
pub async fn note_remediation_tx(
    tx: &mut Tx,
    policy: PolicyId,
    device: DeviceId,
    command: CommandId,
    execution: ExecutionId,
    rules_version: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "UPDATE policy_device_status SET remediation_attempts = remediation_attempts + 1, updated_at = ? \
             WHERE policy_id = ? AND device_id = ?",
        )
        .bind(now)
        .bind(policy)
        .bind(device),
    )
    .await?;
    insert_command(
        tx,
        policy,
        device,
        command,
        CommandKind::Remediation,
        rules_version,
        Some(execution),
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_command(
    tx: &mut Tx,
    policy: PolicyId,
    device: DeviceId,
    command: CommandId,
    kind: CommandKind,
    rules_version: i64,
    execution: Option<ExecutionId>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "INSERT INTO policy_commands (command_id, policy_id, device_id, kind, rules_version, execution_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(command)
        .bind(policy)
        .bind(device)
        .bind(kind.as_str())
        .bind(rules_version)
        .bind(execution)
        .bind(now),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CommandRow {
    command_id: Uuid,
    policy_id: Uuid,
    device_id: Uuid,
    kind: String,
    rules_version: i64,
    execution_id: Option<Uuid>,
}

/// The policy command with this id, if it is one (system code path: results).
pub async fn command_for_system(
    db: &Db,
    id: CommandId,
) -> Result<Option<PolicyCommand>, StoreError> {
    let row: Option<CommandRow> = db
        .optional(
            Q::new(
                "SELECT command_id, policy_id, device_id, kind, rules_version, execution_id \
                 FROM policy_commands WHERE command_id = ?",
            )
            .bind(id),
        )
        .await?;
    row.map(|r| {
        let kind = match r.kind.as_str() {
            "check" => CommandKind::Check,
            "remediation" => CommandKind::Remediation,
            k => return Err(StoreError::Corrupt(format!("policy command kind {k}"))),
        };
        Ok(PolicyCommand {
            command_id: CommandId(r.command_id),
            policy_id: PolicyId(r.policy_id),
            device_id: DeviceId(r.device_id),
            kind,
            rules_version: r.rules_version,
            execution_id: r.execution_id.map(ExecutionId),
        })
    })
    .transpose()
}

// ------------------------------------------------------------------ results

/// One rule's outcome as the agent reported it.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub rule_index: i64,
    pub status: ComplianceStatus,
    pub detail: Option<String>,
}

/// What a recorded check changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub org_id: OrgId,
    pub previous: ComplianceStatus,
    pub status: ComplianceStatus,
    /// Remediation runs since the device was last compliant (0 once it is).
    pub remediation_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct DeviceStatusRow {
    org_id: Uuid,
    status: String,
    pending_command_id: Option<Uuid>,
    remediation_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct ResultRow {
    rule_index: i64,
    status: String,
    detail: Option<String>,
}

/// Records a check's outcomes for one device: each rule whose status changed is written
/// with a history row and moves its rule count; the device's overall status (the worst
/// rule) likewise. `None` when the device is no longer targeted (its row is gone).
pub async fn record_check(
    db: &Db,
    policy: PolicyId,
    device: DeviceId,
    command: CommandId,
    outcomes: &[Outcome],
    now: DateTime<Utc>,
) -> Result<Option<Recorded>, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<DeviceStatusRow> = tx
        .optional(
            Q::new(
                "SELECT org_id, status, pending_command_id, remediation_attempts FROM policy_device_status \
                 WHERE policy_id = ? AND device_id = ?",
            )
            .bind(policy)
            .bind(device),
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let org = OrgId(row.org_id);
    let previous = status_of(&row.status)?;
    let current: Vec<ResultRow> = tx
        .all(
            Q::new(
                "SELECT rule_index, status, detail FROM policy_rule_results WHERE policy_id = ? AND device_id = ?",
            )
            .bind(policy)
            .bind(device),
        )
        .await?;
    let mut known: HashMap<i64, (ComplianceStatus, Option<String>)> = HashMap::new();
    for r in current {
        known.insert(r.rule_index, (status_of(&r.status)?, r.detail));
    }
    let mut sorted: Vec<&Outcome> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.rule_index);
    for o in &sorted {
        match known.get(&o.rule_index) {
            None => {
                tx.exec(
                    Q::new(
                        "INSERT INTO policy_rule_results (policy_id, device_id, rule_index, status, detail, since) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(policy)
                    .bind(device)
                    .bind(o.rule_index)
                    .bind(o.status.as_str())
                    .bind(o.detail.as_deref())
                    .bind(now),
                )
                .await?;
                tx.exec(history_q(
                    policy,
                    device,
                    org,
                    Some(o.rule_index),
                    o.status,
                    None,
                    o.detail.as_deref(),
                    now,
                ))
                .await?;
                ensure_counts_row(&mut tx, policy, o.rule_index).await?;
                adjust(&mut tx, policy, o.rule_index, None, Some(o.status), 1).await?;
            }
            Some((s, _)) if *s != o.status => {
                tx.exec(
                    Q::new(
                        "UPDATE policy_rule_results SET status = ?, detail = ?, since = ? \
                         WHERE policy_id = ? AND device_id = ? AND rule_index = ?",
                    )
                    .bind(o.status.as_str())
                    .bind(o.detail.as_deref())
                    .bind(now)
                    .bind(policy)
                    .bind(device)
                    .bind(o.rule_index),
                )
                .await?;
                tx.exec(history_q(
                    policy,
                    device,
                    org,
                    Some(o.rule_index),
                    o.status,
                    Some(*s),
                    o.detail.as_deref(),
                    now,
                ))
                .await?;
                adjust(&mut tx, policy, o.rule_index, Some(*s), Some(o.status), 1).await?;
            }
            Some((_, d)) if d.as_deref() != o.detail.as_deref() => {
                tx.exec(
                    Q::new(
                        "UPDATE policy_rule_results SET detail = ? \
                         WHERE policy_id = ? AND device_id = ? AND rule_index = ?",
                    )
                    .bind(o.detail.as_deref())
                    .bind(policy)
                    .bind(device)
                    .bind(o.rule_index),
                )
                .await?;
            }
            Some(_) => {}
        }
    }
    let status = worst(outcomes.iter().map(|o| o.status));
    let attempts = if status == ComplianceStatus::Compliant {
        0
    } else {
        row.remediation_attempts
    };
    if status != previous {
        tx.exec(history_q(
            policy,
            device,
            org,
            None,
            status,
            Some(previous),
            None,
            now,
        ))
        .await?;
        adjust(&mut tx, policy, -1, Some(previous), Some(status), 1).await?;
    }
    let mut q = Q::new("UPDATE policy_device_status SET status = ");
    q.push_bind(status.as_str())
        .push(", checked_at = ")
        .push_bind(now)
        .push(", remediation_attempts = ")
        .push_bind(attempts)
        .push(", updated_at = ")
        .push_bind(now);
    if row.pending_command_id == Some(command.0) {
        q.push(", pending_command_id = NULL");
    }
    q.push(" WHERE policy_id = ")
        .push_bind(policy)
        .push(" AND device_id = ")
        .push_bind(device);
    tx.exec(q).await?;
    tx.commit().await?;
    Ok(Some(Recorded {
        org_id: org,
        previous,
        status,
        remediation_attempts: attempts,
    }))
}

/// A check that produced nothing to record (stale rules, unreadable report): the device
/// is no longer waiting on it.
pub async fn clear_pending_for_system(
    db: &Db,
    policy: PolicyId,
    device: DeviceId,
    command: CommandId,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE policy_device_status SET pending_command_id = NULL \
             WHERE policy_id = ? AND device_id = ? AND pending_command_id = ?",
        )
        .bind(policy)
        .bind(device)
        .bind(command),
    )
    .await?;
    Ok(())
}

/// Makes the device due for a check at the next sweep (after a remediation ran).
pub async fn make_due_for_system(
    db: &Db,
    policy: PolicyId,
    device: DeviceId,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE policy_device_status SET queued_at = NULL, pending_command_id = NULL \
             WHERE policy_id = ? AND device_id = ?",
        )
        .bind(policy)
        .bind(device),
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ reads

#[derive(sqlx::FromRow)]
struct CountRow {
    rule_index: i64,
    compliant: i64,
    non_compliant: i64,
    unknown: i64,
    error: i64,
}

/// The policy's device counts and per-rule counts: one indexed read of at most
/// `1 + rules` rows (the caller reached the policy through its scope).
pub async fn counts(
    db: &Db,
    policy: PolicyId,
) -> Result<(ComplianceCounts, Vec<RuleComplianceCounts>), StoreError> {
    let rows: Vec<CountRow> = db
        .all(
            Q::new(
                "SELECT rule_index, compliant, non_compliant, unknown, error FROM policy_compliance_counts \
                 WHERE policy_id = ? ORDER BY rule_index",
            )
            .bind(policy),
        )
        .await?;
    let mut devices = ComplianceCounts::default();
    let mut rules = Vec::new();
    for r in rows {
        let c = crate::policies::counts(
            Some(r.compliant),
            Some(r.non_compliant),
            Some(r.unknown),
            Some(r.error),
        );
        if r.rule_index < 0 {
            devices = c;
        } else {
            rules.push(RuleComplianceCounts {
                rule_index: r.rule_index,
                counts: c,
            });
        }
    }
    Ok((devices, rules))
}

#[derive(sqlx::FromRow)]
struct ListRow {
    device_id: Uuid,
    hostname: String,
    site_id: Uuid,
    os_type: String,
    status: String,
    checked_at: Option<DateTime<Utc>>,
    pending_command_id: Option<Uuid>,
    remediation_attempts: i64,
}

#[derive(sqlx::FromRow)]
struct PageResult {
    device_id: Uuid,
    rule_index: i64,
    status: String,
    detail: Option<String>,
    since: DateTime<Utc>,
}

/// A page of the policy's devices in scope (by device id), each with its rule results.
/// `rule_types`: the policy's rule types by index.
pub async fn list_devices(
    db: &Db,
    scope: &Scope,
    policy: PolicyId,
    rule_types: &[&str],
    status: Option<ComplianceStatus>,
    device: Option<DeviceId>,
    opts: &ListOpts,
) -> Result<(Vec<DeviceCompliance>, Option<String>), StoreError> {
    let mut q = Q::new(
        "SELECT s.device_id, d.hostname, d.site_id, d.os_type, s.status, s.checked_at, s.pending_command_id, \
         s.remediation_attempts FROM policy_device_status s JOIN devices d ON d.id = s.device_id \
         JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL AND s.policy_id = ",
    );
    q.push_bind(policy);
    crate::devices::scoped(&mut q, scope);
    if let Some(s) = status {
        q.push(" AND s.status = ").push_bind(s.as_str());
    }
    if let Some(d) = device {
        q.push(" AND s.device_id = ").push_bind(d);
    }
    opts.finish(&mut q, &[], "s.device_id")?;
    let rows: Vec<ListRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    let mut results: HashMap<Uuid, Vec<RuleResult>> = HashMap::new();
    if !rows.is_empty() {
        let mut q = Q::new(
            "SELECT device_id, rule_index, status, detail, since FROM policy_rule_results WHERE policy_id = ",
        );
        q.push_bind(policy)
            .push(" AND device_id IN ")
            .push_list(rows.iter().map(|r| r.device_id))
            .push(" ORDER BY device_id, rule_index");
        let found: Vec<PageResult> = db.all(q).await?;
        for r in found {
            let rule_type = usize::try_from(r.rule_index)
                .ok()
                .and_then(|i| rule_types.get(i))
                .copied()
                .unwrap_or("unknown");
            results.entry(r.device_id).or_default().push(RuleResult {
                rule_index: r.rule_index,
                rule_type: rule_type.to_string(),
                status: status_of(&r.status)?,
                detail: r.detail,
                since: r.since,
            });
        }
    }
    let out = rows
        .into_iter()
        .map(|r| {
            Ok(DeviceCompliance {
                device_id: DeviceId(r.device_id),
                hostname: r.hostname,
                site_id: SiteId(r.site_id),
                os_type: r.os_type,
                status: status_of(&r.status)?,
                checked_at: r.checked_at,
                check_pending: r.pending_command_id.is_some(),
                remediation_attempts: r.remediation_attempts,
                rules: results.remove(&r.device_id).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((out, next))
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    device_id: Uuid,
    hostname: String,
    rule_index: Option<i64>,
    status: String,
    previous_status: Option<String>,
    detail: Option<String>,
    changed_at: DateTime<Utc>,
}

/// Status changes of the policy's devices in scope, newest first.
pub async fn history(
    db: &Db,
    scope: &Scope,
    policy: PolicyId,
    device: Option<DeviceId>,
    opts: &ListOpts,
) -> Result<(Vec<ComplianceChange>, Option<String>), StoreError> {
    let mut q = Q::new(
        "SELECT h.device_id, d.hostname, h.rule_index, h.status, h.previous_status, h.detail, h.changed_at \
         FROM policy_compliance_history h JOIN devices d ON d.id = h.device_id \
         JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL AND h.policy_id = ",
    );
    q.push_bind(policy);
    crate::devices::scoped(&mut q, scope);
    if let Some(d) = device {
        q.push(" AND h.device_id = ").push_bind(d);
    }
    opts.finish(&mut q, &[], "h.changed_at DESC, h.id DESC")?;
    let rows: Vec<HistoryRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    let out = rows
        .into_iter()
        .map(|r| {
            Ok(ComplianceChange {
                device_id: DeviceId(r.device_id),
                hostname: r.hostname,
                rule_index: r.rule_index,
                status: status_of(&r.status)?,
                previous_status: r.previous_status.as_deref().map(status_of).transpose()?,
                detail: r.detail,
                changed_at: r.changed_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((out, next))
}
