//! Devices as users see them: scoped reads, listing with filters, edits and status
//! changes. The agent-facing side (enrollment, heartbeat, tokens) is in `agents.rs`.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_core::group_rules::{DeviceFacts, Rules};
use breeze_proto::api;
use breeze_proto::ids::{DeviceId, OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
    hostname: String,
    display_name: Option<String>,
    os_type: String,
    os_version: Option<String>,
    os_build: Option<String>,
    os_kernel: Option<String>,
    architecture: Option<String>,
    agent_version: Option<String>,
    status: String,
    trust_level: String,
    fingerprint: Option<String>,
    last_seen_at: Option<DateTime<Utc>>,
    last_seen_ip: Option<String>,
    enrolled_at: Option<DateTime<Utc>>,
    tags: Json<Value>,
    pending_reboot: bool,
    last_user: Option<String>,
    uptime_secs: Option<i64>,
    cpu_model: Option<String>,
    cpu_cores: Option<i64>,
    ram_total_mb: Option<i64>,
    disk_total_gb: Option<f64>,
    serial_number: Option<String>,
    primary_ip: Option<String>,
    agent_health: Option<String>,
    quarantined_at: Option<DateTime<Utc>>,
    quarantined_reason: Option<String>,
    agent_token_suspended_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    org_name: String,
    site_name: String,
    /// The agent's latest OS inventory document (its `name` is the distribution's).
    os_doc: Option<Json<Value>>,
}

fn tags_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl DeviceRow {
    pub(crate) fn id(&self) -> Uuid {
        self.id
    }

    pub(crate) fn site_id(&self) -> Uuid {
        self.site_id
    }

    pub(crate) fn facts(&self) -> DeviceFacts {
        DeviceFacts {
            os_type: self.os_type.clone(),
            os_version: self.os_version.clone(),
            hostname: self.hostname.clone(),
            ram_total_mb: self.ram_total_mb.map(|v| v as f64),
            cpu_cores: self.cpu_cores.map(|v| v as f64),
            disk_total_gb: self.disk_total_gb,
            tags: tags_of(&self.tags.0),
            site_id: self.site_id.to_string(),
            status: self.status.clone(),
            agent_version: self.agent_version.clone(),
        }
    }
}

impl From<DeviceRow> for api::Device {
    fn from(r: DeviceRow) -> Self {
        let tags = tags_of(&r.tags.0);
        let os_name = r
            .os_doc
            .as_ref()
            .and_then(|d| d.0.get("name")?.as_str())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        api::Device {
            id: DeviceId(r.id),
            org_id: OrgId(r.org_id),
            site_id: SiteId(r.site_id),
            hostname: r.hostname,
            display_name: r.display_name,
            org_name: r.org_name,
            site_name: r.site_name,
            os_type: r.os_type,
            os_name,
            os_version: r.os_version,
            os_build: r.os_build,
            os_kernel: r.os_kernel,
            architecture: r.architecture,
            agent_version: r.agent_version,
            status: r.status,
            trust_level: r.trust_level,
            fingerprint: r.fingerprint,
            last_seen_at: r.last_seen_at,
            last_seen_ip: r.last_seen_ip,
            enrolled_at: r.enrolled_at,
            tags,
            pending_reboot: r.pending_reboot,
            last_user: r.last_user,
            uptime_secs: r.uptime_secs,
            cpu_model: r.cpu_model,
            cpu_cores: r.cpu_cores,
            ram_total_mb: r.ram_total_mb,
            disk_total_gb: r.disk_total_gb,
            serial_number: r.serial_number,
            primary_ip: r.primary_ip,
            agent_health: r.agent_health,
            quarantined_at: r.quarantined_at,
            quarantined_reason: r.quarantined_reason,
            token_suspended: r.agent_token_suspended_at.is_some(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(crate) const COLS: &str = "SELECT d.id, d.org_id, d.site_id, o.partner_id, d.hostname, d.display_name, \
    d.os_type, d.os_version, d.os_build, d.os_kernel, d.architecture, d.agent_version, d.status, \
    d.trust_level, d.fingerprint, d.last_seen_at, d.last_seen_ip, d.enrolled_at, d.tags, \
    d.pending_reboot, d.last_user, d.uptime_secs, d.cpu_model, d.cpu_cores, d.ram_total_mb, \
    d.disk_total_gb, d.serial_number, d.primary_ip, d.agent_health, d.quarantined_at, \
    d.quarantined_reason, d.agent_token_suspended_at, d.created_at, d.updated_at, \
    o.name AS org_name, s.name AS site_name, inv.data AS os_doc \
    FROM devices d JOIN organizations o ON o.id = d.org_id JOIN sites s ON s.id = d.site_id \
    LEFT JOIN device_inventory inv ON inv.device_id = d.id AND inv.section = 'os' \
    WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("hostname", "d.hostname"),
    ("status", "d.status"),
    ("os_type", "d.os_type"),
    ("last_seen_at", "d.last_seen_at"),
    ("created_at", "d.created_at"),
    ("org_name", "o.name"),
    ("site_name", "s.name"),
];

/// The scope filter for devices: organizations and sites in reach, and for
/// device-group-limited users only members of their (static) groups.
pub(crate) fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::sites_in_scope(q, scope, "o.partner_id", "o.id", "d.site_id", false);
    if let Some(ids) = &scope.device_groups {
        q.push(
            " AND d.id IN (SELECT m.device_id FROM device_group_memberships m WHERE m.group_id IN ",
        )
        .push_list(ids.iter().copied())
        .push(")");
    }
}

/// A device in scope (decommissioned ones included: their history stays readable).
pub async fn get(db: &Db, scope: &Scope, id: DeviceId) -> Result<api::Device, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND d.id = ").push_bind(id);
    db.one::<DeviceRow>(q).await.map(Into::into)
}

/// Filters of a device list.
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    pub org_id: Option<OrgId>,
    pub site_id: Option<SiteId>,
    pub status: Option<String>,
    pub os_type: Option<String>,
    pub tag: Option<String>,
    /// Devices restricted to these ids (a group's members).
    pub ids: Option<Vec<DeviceId>>,
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &DeviceFilter,
    opts: &ListOpts,
) -> Result<(Vec<api::Device>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = f.org_id {
        q.push(" AND d.org_id = ").push_bind(o);
    }
    if let Some(s) = f.site_id {
        q.push(" AND d.site_id = ").push_bind(s);
    }
    if let Some(s) = &f.status {
        q.push(" AND d.status = ").push_bind(s.as_str());
    } else {
        q.push(" AND d.status <> 'decommissioned'");
    }
    if let Some(s) = &f.os_type {
        q.push(" AND d.os_type = ").push_bind(s.as_str());
    }
    if let Some(t) = &f.tag {
        // Tags are a JSON array of strings; match the quoted element text.
        let esc = crate::listing::like_escape(&t.replace('"', ""));
        q.push(" AND CAST(d.tags AS TEXT) LIKE ")
            .push_bind(format!("%\"{esc}\"%"))
            .push(" ESCAPE '\\'");
    }
    if let Some(ids) = &f.ids {
        q.push(" AND d.id IN ").push_list(ids.iter().copied());
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND (LOWER(d.hostname) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(d.display_name, '')) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(d.last_seen_ip, '')) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(d.primary_ip, '')) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(d.serial_number, '')) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\')");
    }
    opts.finish(&mut q, SORTS, "d.hostname, d.id")?;
    let rows: Vec<DeviceRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// Member devices of a group in scope: the static memberships, or for a dynamic group
/// the devices of its organization (and site) that match its rules.
pub async fn group_members(
    db: &Db,
    scope: &Scope,
    group: &api::DeviceGroup,
) -> Result<Vec<DeviceId>, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND d.org_id = ").push_bind(group.org_id);
    q.push(" AND d.status <> 'decommissioned'");
    if let Some(s) = group.site_id {
        q.push(" AND d.site_id = ").push_bind(s);
    }
    if group.group_type == "dynamic" {
        let rules = group
            .rules
            .as_ref()
            .map(Rules::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("group {} rules: {e}", group.id)))?;
        let Some(rules) = rules else {
            return Ok(Vec::new());
        };
        q.push(" ORDER BY d.hostname, d.id");
        let rows: Vec<DeviceRow> = db.all(q).await?;
        return Ok(rows
            .into_iter()
            .filter(|r| rules.matches(&r.facts()))
            .map(|r| DeviceId(r.id))
            .collect());
    }
    q.push(" AND d.id IN (SELECT m.device_id FROM device_group_memberships m WHERE m.group_id = ")
        .push_bind(group.id)
        .push(") ORDER BY d.hostname, d.id");
    let rows: Vec<DeviceRow> = db.all(q).await?;
    Ok(rows.into_iter().map(|r| DeviceId(r.id)).collect())
}

/// Sets `member_count` of the dynamic groups among `groups` to the number of devices in
/// scope that their rules match now (a dynamic group has no stored memberships). Devices of
/// all the groups' organizations are read once; a group whose rules no longer parse counts 0.
pub(crate) async fn count_dynamic_members(
    db: &Db,
    scope: &Scope,
    groups: &mut [api::DeviceGroup],
) -> Result<(), StoreError> {
    let mut orgs: Vec<OrgId> = groups
        .iter()
        .filter(|g| g.group_type == "dynamic")
        .map(|g| g.org_id)
        .collect();
    if orgs.is_empty() {
        return Ok(());
    }
    orgs.sort_by_key(|o| o.0);
    orgs.dedup();
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND d.status <> 'decommissioned' AND d.org_id IN ")
        .push_list(orgs.iter().copied());
    let rows: Vec<DeviceRow> = db.all(q).await?;
    let facts: Vec<_> = rows
        .iter()
        .map(|r| (r.org_id, r.site_id, r.facts()))
        .collect();
    for g in groups.iter_mut().filter(|g| g.group_type == "dynamic") {
        let rules = g.rules.as_ref().and_then(|r| Rules::parse(r).ok());
        g.member_count = match rules {
            None => 0,
            Some(rules) => facts
                .iter()
                .filter(|(org, site, f)| {
                    *org == g.org_id.0 && g.site_id.is_none_or(|s| s.0 == *site) && rules.matches(f)
                })
                .count() as i64,
        };
    }
    Ok(())
}

/// The devices in scope among `ids` (for fan-out requests), with their org and OS.
pub async fn in_scope(
    db: &Db,
    scope: &Scope,
    ids: &[DeviceId],
) -> Result<Vec<api::Device>, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND d.id IN ").push_list(ids.iter().copied());
    q.push(" ORDER BY d.hostname, d.id");
    Ok(db
        .all::<DeviceRow>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Live devices in scope of the given sites.
pub async fn in_sites(
    db: &Db,
    scope: &Scope,
    sites: &[SiteId],
) -> Result<Vec<DeviceId>, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND d.status <> 'decommissioned' AND d.site_id IN ")
        .push_list(sites.iter().copied());
    Ok(db
        .all::<DeviceRow>(q)
        .await?
        .into_iter()
        .map(|r| DeviceId(r.id))
        .collect())
}

/// Writes display name, tags and site of a device the caller fetched through its scope
/// (and whose new site it checked is in the same organization).
pub async fn update(
    db: &Db,
    scope: &Scope,
    d: &api::Device,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, d.id).await?;
    db.exec(
        Q::new("UPDATE devices SET display_name = ?, tags = ?, site_id = ?, updated_at = ? WHERE id = ?")
            .bind(d.display_name.clone())
            .bind(serde_json::json!(d.tags))
            .bind(d.site_id)
            .bind(now)
            .bind(d.id),
    )
    .await?;
    Ok(())
}

/// A lifecycle status change requested by a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    Quarantine,
    Maintenance,
    Reactivate,
    Decommission,
}

/// Applies a status change to a device in scope. Decommissioning kills the agent token
/// (its heartbeat answers 410); reactivating clears quarantine and a suspended token, and
/// the device is `online` again at once when it was last seen after `online_since`.
pub async fn change_status(
    db: &Db,
    scope: &Scope,
    id: DeviceId,
    change: StatusChange,
    reason: Option<&str>,
    now: DateTime<Utc>,
    online_since: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    let q = match change {
        StatusChange::Quarantine => Q::new(
            "UPDATE devices SET status = 'quarantined', quarantined_at = ?, quarantined_reason = ?, updated_at = ? \
             WHERE id = ? AND status <> 'decommissioned'",
        )
        .bind(now)
        .bind(reason)
        .bind(now)
        .bind(id),
        StatusChange::Maintenance => Q::new(
            "UPDATE devices SET status = 'maintenance', updated_at = ? WHERE id = ? AND status <> 'decommissioned'",
        )
        .bind(now)
        .bind(id),
        StatusChange::Reactivate => Q::new(
            "UPDATE devices SET status = CASE WHEN enrolled_at IS NULL THEN 'pending' \
             WHEN last_seen_at IS NULL THEN 'awaiting_checkin' \
             WHEN last_seen_at >= ? THEN 'online' ELSE 'offline' END, \
             quarantined_at = NULL, quarantined_reason = NULL, agent_token_suspended_at = NULL, \
             agent_token_suspended_reason = NULL, updated_at = ? WHERE id = ? AND status <> 'decommissioned'",
        )
        .bind(online_since)
        .bind(now)
        .bind(id),
        StatusChange::Decommission => Q::new(
            // The token stays known so the agent's heartbeat gets 410 and stops; it
            // authorizes nothing else any more.
            "UPDATE devices SET status = 'decommissioned', decommissioned_at = ?, \
             agent_token_pending_hash = NULL, enrollment_token_hash = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(id),
    };
    if db.exec(q).await? == 0 {
        return Err(StoreError::Conflict("the device is decommissioned".into()));
    }
    Ok(())
}
