//! Alerting store (issue 11): `alerts`. One open (not resolved) alert per rule × device,
//! kept by the partial unique index `uq_alerts_open_rule_device`: raising is an
//! `INSERT … ON CONFLICT DO NOTHING`, atomic on both engines. A scope reaches the alerts
//! of the devices it reaches.
//!
//! Lifecycle: `active` → `acknowledged` → `resolved`; `active`/`acknowledged` →
//! `suppressed` until a time, then `active` again (the sweep). Changes that the state
//! refuses answer [`StoreError::Conflict`] (409).

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use breeze_core::{DeviceCoords, Scope};
use breeze_proto::agent::Metrics;
use breeze_proto::api;
use breeze_proto::ids::{
    AlertId, AlertRuleId, DeviceGroupId, DeviceId, OrgId, PartnerId, SiteId, UserId,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: Uuid,
    org_id: Uuid,
    rule_id: Option<Uuid>,
    rule_name: Option<String>,
    device_id: Uuid,
    hostname: String,
    site_id: Uuid,
    status: String,
    severity: String,
    title: String,
    message: Option<String>,
    context: Json<Value>,
    triggered_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<Uuid>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolution_note: Option<String>,
    suppressed_until: Option<DateTime<Utc>>,
    escalation_step: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AlertRow> for api::Alert {
    fn from(r: AlertRow) -> Self {
        api::Alert {
            id: AlertId(r.id),
            org_id: OrgId(r.org_id),
            rule_id: r.rule_id.map(AlertRuleId),
            rule_name: r.rule_name,
            device_id: DeviceId(r.device_id),
            hostname: r.hostname,
            site_id: SiteId(r.site_id),
            status: r.status,
            severity: r.severity,
            title: r.title,
            message: r.message,
            context: r.context.0,
            triggered_at: r.triggered_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by.map(UserId),
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution_note: r.resolution_note,
            suppressed_until: r.suppressed_until,
            escalation_step: r.escalation_step,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT a.id, a.org_id, a.rule_id, a.rule_name, a.device_id, d.hostname, d.site_id, \
    a.status, a.severity, a.title, a.message, a.context, a.triggered_at, a.acknowledged_at, \
    a.acknowledged_by, a.resolved_at, a.resolved_by, a.resolution_note, a.suppressed_until, \
    a.escalation_step, a.created_at, a.updated_at \
    FROM alerts a JOIN devices d ON d.id = a.device_id JOIN organizations o ON o.id = a.org_id \
    WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("triggered_at", "a.triggered_at"),
    ("severity", "a.severity"),
    ("status", "a.status"),
];

pub async fn get(db: &Db, scope: &Scope, id: AlertId) -> Result<api::Alert, StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    q.push(" AND a.id = ").push_bind(id);
    db.one::<AlertRow>(q).await.map(Into::into)
}

/// An alert by id, for the engine (system code path: no tenant scope).
pub async fn get_for_system(db: &Db, id: AlertId) -> Result<api::Alert, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND a.id = ").push_bind(id);
    db.one::<AlertRow>(q).await.map(Into::into)
}

/// Filters of an alert list.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// A status, or `open` (anything but resolved).
    pub status: Option<String>,
    pub severity: Option<String>,
    pub org_id: Option<OrgId>,
    pub device_id: Option<DeviceId>,
    pub rule_id: Option<AlertRuleId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Alerts in scope, newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &AlertFilter,
    opts: &ListOpts,
) -> Result<(Vec<api::Alert>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    match f.status.as_deref() {
        Some("open") => {
            q.push(" AND a.status <> 'resolved'");
        }
        Some(s) => {
            q.push(" AND a.status = ").push_bind(s);
        }
        None => {}
    }
    if let Some(s) = &f.severity {
        q.push(" AND a.severity = ").push_bind(s.as_str());
    }
    if let Some(o) = f.org_id {
        q.push(" AND a.org_id = ").push_bind(o);
    }
    if let Some(d) = f.device_id {
        q.push(" AND a.device_id = ").push_bind(d);
    }
    if let Some(r) = f.rule_id {
        q.push(" AND a.rule_id = ").push_bind(r);
    }
    if let Some(t) = f.from {
        q.push(" AND a.triggered_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        q.push(" AND a.triggered_at < ").push_bind(t);
    }
    opts.finish(&mut q, SORTS, "a.triggered_at DESC, a.id DESC")?;
    let rows: Vec<AlertRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

#[derive(sqlx::FromRow)]
struct CountRow {
    status: String,
    severity: String,
    n: i64,
}

/// Open alerts in scope by status and by severity.
pub async fn counts(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
) -> Result<api::AlertCounts, StoreError> {
    let mut q = Q::new(
        "SELECT a.status, a.severity, COUNT(*) AS n FROM alerts a JOIN devices d ON d.id = a.device_id \
         JOIN organizations o ON o.id = a.org_id WHERE o.deleted_at IS NULL AND a.status <> 'resolved'",
    );
    crate::devices::scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND a.org_id = ").push_bind(o);
    }
    q.push(" GROUP BY a.status, a.severity");
    let rows: Vec<CountRow> = db.all(q).await?;
    let mut c = api::AlertCounts {
        active: 0,
        acknowledged: 0,
        suppressed: 0,
        critical: 0,
        high: 0,
        medium: 0,
        low: 0,
        info: 0,
    };
    for r in rows {
        match r.status.as_str() {
            "active" => c.active += r.n,
            "acknowledged" => c.acknowledged += r.n,
            "suppressed" => c.suppressed += r.n,
            _ => {}
        }
        match r.severity.as_str() {
            "critical" => c.critical += r.n,
            "high" => c.high += r.n,
            "medium" => c.medium += r.n,
            "low" => c.low += r.n,
            "info" => c.info += r.n,
            _ => {}
        }
    }
    Ok(c)
}

/// An alert the engine raises.
pub struct NewAlert {
    pub org_id: OrgId,
    pub rule_id: AlertRuleId,
    pub rule_name: String,
    pub device_id: DeviceId,
    pub severity: String,
    pub title: String,
    pub message: Option<String>,
    pub context: Value,
    pub cooldown_minutes: i64,
}

/// What raising an alert came to.
#[derive(Debug)]
pub enum Raised {
    New(Box<api::Alert>),
    /// An alert of this rule on this device is open already.
    AlreadyOpen,
    /// The rule's previous alert on this device resolved less than its cooldown ago:
    /// nothing is raised before `until`.
    CoolingDown {
        until: DateTime<Utc>,
    },
    /// The device is in maintenance (or decommissioned): it raises nothing.
    DeviceSilenced,
}

#[derive(sqlx::FromRow)]
struct LastResolved {
    resolved_at: Option<DateTime<Utc>>,
}

/// Raises an alert unless one is open for the rule × device (the partial unique index
/// decides, atomically), the rule's cooldown since its last resolved alert on the device
/// has not passed, or the device is in maintenance.
pub async fn raise_for_system(
    db: &Db,
    a: &NewAlert,
    now: DateTime<Utc>,
) -> Result<Raised, StoreError> {
    let since = now - chrono::Duration::minutes(a.cooldown_minutes);
    let id = AlertId::new();
    let n = db
        .exec(
            Q::new(
                "INSERT INTO alerts (id, org_id, rule_id, rule_name, device_id, status, severity, title, message, \
                 context, triggered_at, escalation_step, created_at, updated_at) \
                 SELECT ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, 0, ?, ? \
                 WHERE EXISTS (SELECT 1 FROM devices WHERE id = ? AND status NOT IN ('maintenance', 'decommissioned')) \
                 AND NOT EXISTS (SELECT 1 FROM alerts WHERE rule_id = ? AND device_id = ? AND status = 'resolved' \
                 AND resolved_at > ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(a.org_id)
            .bind(a.rule_id)
            .bind(a.rule_name.as_str())
            .bind(a.device_id)
            .bind(a.severity.as_str())
            .bind(a.title.as_str())
            .bind(a.message.clone())
            .bind(a.context.clone())
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(a.device_id)
            .bind(a.rule_id)
            .bind(a.device_id)
            .bind(since),
        )
        .await?;
    if n == 1 {
        return Ok(Raised::New(Box::new(get_for_system(db, id).await?)));
    }
    // Not raised: tell why.
    if open_for_system(db, a.rule_id, a.device_id).await?.is_some() {
        return Ok(Raised::AlreadyOpen);
    }
    let last: Option<LastResolved> = db
        .optional(
            Q::new(
                "SELECT MAX(resolved_at) AS resolved_at FROM alerts WHERE rule_id = ? AND device_id = ? \
                 AND status = 'resolved'",
            )
            .bind(a.rule_id)
            .bind(a.device_id),
        )
        .await?;
    match last.and_then(|l| l.resolved_at) {
        Some(t) if t > since => Ok(Raised::CoolingDown {
            until: t + chrono::Duration::minutes(a.cooldown_minutes),
        }),
        _ => Ok(Raised::DeviceSilenced),
    }
}

/// The open alert of a rule on a device.
pub async fn open_for_system(
    db: &Db,
    rule: AlertRuleId,
    device: DeviceId,
) -> Result<Option<api::Alert>, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND a.rule_id = ")
        .push_bind(rule)
        .push(" AND a.device_id = ")
        .push_bind(device)
        .push(" AND a.status <> 'resolved'");
    Ok(db.optional::<AlertRow>(q).await?.map(Into::into))
}

#[derive(sqlx::FromRow)]
struct Pair {
    rule_id: Uuid,
    device_id: Uuid,
}

/// Every open rule × device pair (the engine's memory of what is firing, at start).
pub async fn open_pairs_for_system(db: &Db) -> Result<Vec<(AlertRuleId, DeviceId)>, StoreError> {
    let rows: Vec<Pair> = db
        .all(Q::new(
            "SELECT rule_id, device_id FROM alerts WHERE status <> 'resolved' AND rule_id IS NOT NULL",
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (AlertRuleId(r.rule_id), DeviceId(r.device_id)))
        .collect())
}

/// Who resolves an alert.
#[derive(Clone, Copy, Debug)]
pub enum Resolver {
    User(UserId),
    /// The condition cleared.
    Auto,
}

impl Resolver {
    fn as_text(self) -> String {
        match self {
            Resolver::User(u) => u.to_string(),
            Resolver::Auto => "auto".into(),
        }
    }
}

/// Resolves an open alert by id (no scope: the caller fetched it through its scope, or
/// is the engine). 409 when it is resolved already.
pub async fn resolve(
    db: &Db,
    id: AlertId,
    by: Resolver,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<api::Alert, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, resolution_note = ?, \
                 suppressed_until = NULL, next_escalation_at = NULL, updated_at = ? WHERE id = ? AND status <> 'resolved'",
            )
            .bind(now)
            .bind(by.as_text())
            .bind(note)
            .bind(now)
            .bind(id),
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict("the alert is resolved already".into()));
    }
    get_for_system(db, id).await
}

/// Acknowledges an active or suppressed alert (fetched by the caller through its scope).
pub async fn acknowledge(
    db: &Db,
    id: AlertId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<api::Alert, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, \
                 suppressed_until = NULL, next_escalation_at = NULL, updated_at = ? \
                 WHERE id = ? AND status IN ('active', 'suppressed')",
            )
            .bind(now)
            .bind(by)
            .bind(now)
            .bind(id),
        )
        .await?;
    if n == 0 {
        let a = get_for_system(db, id).await?;
        return Err(StoreError::Conflict(format!("the alert is {}", a.status)));
    }
    get_for_system(db, id).await
}

/// Silences an open alert until `until` (then the sweep makes it active again).
pub async fn suppress(
    db: &Db,
    id: AlertId,
    until: DateTime<Utc>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<api::Alert, StoreError> {
    if until <= now {
        return Err(StoreError::invalid("until", "must be in the future"));
    }
    let n = db
        .exec(
            Q::new(
                "UPDATE alerts SET status = 'suppressed', suppressed_until = ?, \
                 resolution_note = COALESCE(?, resolution_note), updated_at = ? \
                 WHERE id = ? AND status <> 'resolved'",
            )
            .bind(until)
            .bind(note)
            .bind(now)
            .bind(id),
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict("the alert is resolved already".into()));
    }
    get_for_system(db, id).await
}

#[derive(sqlx::FromRow)]
struct Id {
    id: Uuid,
}

/// Suppressed alerts whose time is up become active again; answers them.
pub async fn unsuppress_due_for_system(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<api::Alert>, StoreError> {
    let rows: Vec<Id> = db
        .all(
            Q::new(
                "UPDATE alerts SET status = 'active', suppressed_until = NULL, updated_at = ? \
                 WHERE status = 'suppressed' AND suppressed_until <= ? RETURNING id",
            )
            .bind(now)
            .bind(now),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(get_for_system(db, AlertId(r.id)).await?);
    }
    Ok(out)
}

/// Which of `ids` the scope reaches (for the bulk routes).
pub async fn visible(db: &Db, scope: &Scope, ids: &[AlertId]) -> Result<Vec<AlertId>, StoreError> {
    let mut q = Q::new(
        "SELECT a.id FROM alerts a JOIN devices d ON d.id = a.device_id JOIN organizations o ON o.id = a.org_id \
         WHERE o.deleted_at IS NULL",
    );
    crate::devices::scoped(&mut q, scope);
    q.push(" AND a.id IN ").push_list(ids.iter().copied());
    Ok(db
        .all::<Id>(q)
        .await?
        .into_iter()
        .map(|r| AlertId(r.id))
        .collect())
}

/// What the engine needs to know about a device to match targets and skip silenced ones.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EngineDevice {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site_id: Uuid,
    pub partner_id: Uuid,
    pub hostname: String,
    pub os_type: String,
    pub status: String,
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl EngineDevice {
    pub fn coords(&self) -> DeviceCoords {
        DeviceCoords {
            partner_id: PartnerId(self.partner_id),
            org_id: OrgId(self.org_id),
            site_id: SiteId(self.site_id),
            device_id: DeviceId(self.id),
        }
    }
}

const ENGINE_DEVICE: &str = "SELECT d.id, d.org_id, d.site_id, o.partner_id, d.hostname, d.os_type, d.status, \
    d.last_seen_at FROM devices d JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL";

pub async fn device_for_system(db: &Db, id: DeviceId) -> Result<EngineDevice, StoreError> {
    let mut q = Q::new(ENGINE_DEVICE);
    q.push(" AND d.id = ").push_bind(id);
    db.one(q).await
}

/// Enrolled, live devices of these organizations (for the status sweep), skipping
/// organizations whose agents are refused (suspended, churned).
pub async fn devices_of_orgs_for_system(
    db: &Db,
    orgs: &[OrgId],
) -> Result<Vec<EngineDevice>, StoreError> {
    let mut q = Q::new(ENGINE_DEVICE);
    q.push(
        " AND d.status NOT IN ('decommissioned', 'pending') AND d.enrolled_at IS NOT NULL \
         AND o.status NOT IN ('suspended', 'churned') AND d.org_id IN ",
    )
    .push_list(orgs.iter().copied());
    db.all(q).await
}

/// What alert-rule targets read of a device beyond its coordinates.
pub struct DeviceTargets {
    pub os_type: String,
    pub groups: Vec<DeviceGroupId>,
}

/// A device's OS and the groups it is a member of: static memberships, and dynamic
/// groups of its organization (and site) whose rules match it now.
pub async fn targets_of_device_for_system(
    db: &Db,
    device: DeviceId,
) -> Result<DeviceTargets, StoreError> {
    let mut q = Q::new(crate::devices::COLS);
    q.push(" AND d.id = ").push_bind(device);
    let facts = db.one::<crate::devices::DeviceRow>(q).await?.facts();
    let mut groups: Vec<DeviceGroupId> = db
        .all::<Id>(
            Q::new("SELECT group_id AS id FROM device_group_memberships WHERE device_id = ?")
                .bind(device),
        )
        .await?
        .into_iter()
        .map(|r| DeviceGroupId(r.id))
        .collect();
    #[derive(sqlx::FromRow)]
    struct Dyn {
        id: Uuid,
        site_id: Option<Uuid>,
        rules: Option<Json<Value>>,
    }
    let dynamic: Vec<Dyn> = db
        .all(
            Q::new(
                "SELECT g.id, g.site_id, g.rules FROM device_groups g JOIN devices d ON d.org_id = g.org_id \
                 WHERE d.id = ? AND g.type = 'dynamic'",
            )
            .bind(device),
        )
        .await?;
    for g in dynamic {
        if g.site_id.is_some_and(|s| s.to_string() != facts.site_id) {
            continue;
        }
        let rules = g
            .rules
            .as_ref()
            .and_then(|r| breeze_core::group_rules::Rules::parse(&r.0).ok());
        if rules.is_some_and(|r| r.matches(&facts)) {
            groups.push(DeviceGroupId(g.id));
        }
    }
    Ok(DeviceTargets {
        os_type: facts.os_type,
        groups,
    })
}

#[derive(sqlx::FromRow)]
struct Name {
    name: String,
}

/// The names of the software a device's inventory holds (before an upload replaces it).
pub async fn software_names_for_agent(
    db: &Db,
    device: DeviceId,
) -> Result<Vec<String>, StoreError> {
    Ok(db
        .all::<Name>(
            Q::new("SELECT DISTINCT name FROM device_software WHERE device_id = ?").bind(device),
        )
        .await?
        .into_iter()
        .map(|n| n.name)
        .collect())
}

#[derive(sqlx::FromRow)]
struct MetricRow {
    ts: DateTime<Utc>,
    cpu_percent: Option<f64>,
    ram_percent: Option<f64>,
    disk_percent: Option<f64>,
    network_in_bytes: Option<f64>,
    network_out_bytes: Option<f64>,
    process_count: Option<f64>,
    custom: Option<Json<Value>>,
}

/// The device's latest stored metrics sample.
pub async fn latest_metrics(
    db: &Db,
    device: DeviceId,
) -> Result<Option<(DateTime<Utc>, Metrics)>, StoreError> {
    let row: Option<MetricRow> = db
        .optional(
            Q::new(
                "SELECT ts, cpu_percent, ram_percent, disk_percent, network_in_bytes, network_out_bytes, \
                 process_count, custom FROM device_metrics WHERE device_id = ? ORDER BY ts DESC LIMIT 1",
            )
            .bind(device),
        )
        .await?;
    Ok(row.map(|r| {
        let custom = r
            .custom
            .and_then(|c| serde_json::from_value(c.0).ok())
            .unwrap_or_default();
        (
            r.ts,
            Metrics {
                cpu_percent: r.cpu_percent.unwrap_or_default(),
                ram_percent: r.ram_percent.unwrap_or_default(),
                disk_percent: r.disk_percent.unwrap_or_default(),
                network_in_bytes: r.network_in_bytes.unwrap_or_default() as u64,
                network_out_bytes: r.network_out_bytes.unwrap_or_default() as u64,
                process_count: r.process_count.unwrap_or_default() as u64,
                custom,
                ..Metrics::default()
            },
        )
    }))
}
