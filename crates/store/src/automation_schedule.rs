//! What the schedule and event triggers of automations (issue 13) read and write: due
//! schedule slots, the compare-and-set that moves a schedule to its next slot, the event
//! automations of an organization, and devices offline long enough for a
//! `device.offline` trigger with `minutes`. All system code paths (no caller scope): the
//! triggers act for the organizations that own the automations.

use crate::StoreError;
use crate::db::{Db, Q};
use breeze_proto::ids::{AutomationId, DeviceId, OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Organizations whose agents are refused get no automation runs.
const LIVE_ORG: &str =
    " AND a.org_id NOT IN (SELECT id FROM organizations WHERE status IN ('suspended', 'churned'))";

#[derive(sqlx::FromRow)]
struct AutoRow {
    id: Uuid,
    org_id: Uuid,
    trigger: Json<Value>,
    targets: Json<Value>,
    next_run_at: Option<DateTime<Utc>>,
}

/// An enabled automation as a trigger sees it.
#[derive(Clone, Debug)]
pub struct TriggerAutomation {
    pub id: AutomationId,
    pub org_id: OrgId,
    /// The checked trigger JSON (`{"type": "schedule", "cron": …}` / `{"type": "event", …}`).
    pub trigger: Value,
    /// The targets JSON (alert-rule shape).
    pub targets: Value,
    /// The schedule's next slot (schedule triggers).
    pub next_run_at: Option<DateTime<Utc>>,
}

impl From<AutoRow> for TriggerAutomation {
    fn from(r: AutoRow) -> Self {
        Self {
            id: AutomationId(r.id),
            org_id: OrgId(r.org_id),
            trigger: r.trigger.0,
            targets: r.targets.0,
            next_run_at: r.next_run_at,
        }
    }
}

async fn automations(db: &Db, q: Q) -> Result<Vec<TriggerAutomation>, StoreError> {
    Ok(db
        .all::<AutoRow>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

const COLS: &str = "SELECT a.id, a.org_id, a.trigger, a.targets, a.next_run_at FROM automations a WHERE a.enabled = ?";

/// Enabled schedule automations whose next slot is at or before `now`, oldest first, at
/// most `limit`.
pub async fn due_for_system(
    db: &Db,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<TriggerAutomation>, StoreError> {
    let mut q = Q::new(COLS).bind(true);
    q.push(" AND a.trigger_type = 'schedule' AND a.next_run_at IS NOT NULL AND a.next_run_at <= ")
        .push_bind(now)
        .push(LIVE_ORG)
        .push(" ORDER BY a.next_run_at, a.id LIMIT ")
        .push_bind(limit);
    automations(db, q).await
}

/// Moves a schedule from the slot `expected` to `next` (None: no slot ahead), and
/// records `fired` as its last slot when one fired. A compare-and-set: false when
/// `next_run_at` is no longer `expected` (another server moved it, or the automation was
/// edited meanwhile), and nothing is written.
pub async fn advance_for_system(
    db: &Db,
    id: AutomationId,
    expected: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    fired: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE automations SET next_run_at = ?, last_slot_at = COALESCE(?, last_slot_at) \
                 WHERE id = ? AND next_run_at = ?",
            )
            .bind(next)
            .bind(fired)
            .bind(id)
            .bind(expected),
        )
        .await?;
    Ok(n > 0)
}

/// Sets a schedule's next slot (on create and update; None for other triggers or a
/// schedule with no slot ahead).
pub async fn set_next_run_for_system(
    db: &Db,
    id: AutomationId,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE automations SET next_run_at = ? WHERE id = ?")
            .bind(next)
            .bind(id),
    )
    .await?;
    Ok(())
}

/// Enabled event automations of one organization (`org: None`: of every live one).
pub async fn event_automations_for_system(
    db: &Db,
    org: Option<OrgId>,
) -> Result<Vec<TriggerAutomation>, StoreError> {
    let mut q = Q::new(COLS).bind(true);
    q.push(" AND a.trigger_type = 'event'");
    if let Some(org) = org {
        q.push(" AND a.org_id = ").push_bind(org);
    }
    q.push(LIVE_ORG).push(" ORDER BY a.id");
    automations(db, q).await
}

#[derive(sqlx::FromRow)]
struct SpellRow {
    id: Uuid,
    site_id: Uuid,
    since: DateTime<Utc>,
}

/// A device offline since `since` (its latest `offline` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflineSpell {
    pub device_id: DeviceId,
    pub site_id: SiteId,
    pub since: DateTime<Utc>,
}

/// Devices of `org` offline since at or before `offline_since` (their latest `offline`
/// device event) that `automation` has not run on during this spell: no run of it that
/// includes the device started at or after the spell began. A device that comes back
/// and goes offline again starts a new spell.
pub async fn offline_spells_for_system(
    db: &Db,
    automation: AutomationId,
    org: OrgId,
    offline_since: DateTime<Utc>,
) -> Result<Vec<OfflineSpell>, StoreError> {
    let q = Q::new(
        "SELECT x.id, x.site_id, x.since FROM (SELECT d.id, d.site_id, \
         (SELECT MAX(ev.created_at) FROM device_events ev WHERE ev.device_id = d.id \
         AND ev.event_type = 'offline') AS since FROM devices d \
         WHERE d.org_id = ? AND d.status = 'offline') x \
         WHERE x.since IS NOT NULL AND x.since <= ? AND NOT EXISTS (SELECT 1 FROM automation_run_devices rd \
         JOIN automation_runs r ON r.id = rd.run_id WHERE r.automation_id = ? \
         AND rd.device_id = x.id AND r.started_at >= x.since) ORDER BY x.id",
    )
    .bind(org)
    .bind(offline_since)
    .bind(automation);
    Ok(db
        .all::<SpellRow>(q)
        .await?
        .into_iter()
        .map(|r| OfflineSpell {
            device_id: DeviceId(r.id),
            site_id: SiteId(r.site_id),
            since: r.since,
        })
        .collect())
}
