//! The append-only audit log. Rows are chained: each checksum covers the row and the
//! previous checksum (see `breeze_core::audit_chain`); `audit_chain` holds the head, so
//! deleting the newest rows is caught too.

use crate::StoreError;
use crate::db::{Db, Q};
use breeze_core::audit_chain::{self, ChainedFields, GENESIS};
use breeze_core::scope::{OrgAccess, Scope, ScopeLevel, SiteAccess};
use breeze_proto::api::{self, AuditQuery, CountBy};
use breeze_proto::ids::{AuditLogId, DeviceId, OrgId, PartnerId, SiteId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A row to append.
#[derive(Clone, Debug)]
pub struct NewAudit {
    pub partner_id: Option<PartnerId>,
    pub org_id: Option<OrgId>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub details: Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub result: String,
    pub error_message: Option<String>,
    /// The site the row concerns (NULL: an organization- or partner-level row).
    pub site_id: Option<SiteId>,
    /// The device the row concerns.
    pub device_id: Option<DeviceId>,
}

#[derive(sqlx::FromRow)]
struct Head {
    seq: i64,
    checksum: String,
}

/// Appends one row to the chain.
pub async fn append(db: &Db, a: &NewAudit, now: DateTime<Utc>) -> Result<AuditLogId, StoreError> {
    let ids = append_batch(db, &[(a, now)]).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("an append wrote no row".into()))
}

/// Appends rows to the chain in one transaction, in the order given: the head row is
/// locked once and the commit flushed once for all of them (the server's audit writer
/// groups concurrent requests' rows this way, since every audited write in a cluster
/// otherwise queues on that one row). All or none are written.
pub async fn append_batch(
    db: &Db,
    rows: &[(&NewAudit, DateTime<Utc>)],
) -> Result<Vec<AuditLogId>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(rows.len()).map_err(|_| StoreError::invalid("rows", "too many"))?;
    let mut tx = db.begin().await?;
    // Taking the head row's lock first serializes writers on both engines.
    let head: Head = tx
        .one(
            Q::new("UPDATE audit_chain SET seq = seq + ? WHERE id = 1 RETURNING seq, checksum")
                .bind(n),
        )
        .await?;
    let mut seq = head.seq - n;
    let mut prev = head.checksum;
    let mut ids = Vec::with_capacity(rows.len());
    for (a, now) in rows {
        seq += 1;
        let id = AuditLogId::new();
        let fields = ChainedFields {
            version: audit_chain::CURRENT_VERSION,
            seq,
            id: id.0,
            timestamp: *now,
            partner_id: a.partner_id.map(|p| p.0),
            org_id: a.org_id.map(|o| o.0),
            actor_type: &a.actor_type,
            actor_id: a.actor_id,
            actor_email: a.actor_email.as_deref(),
            action: &a.action,
            resource_type: &a.resource_type,
            resource_id: a.resource_id.as_deref(),
            resource_name: a.resource_name.as_deref(),
            details: &a.details,
            ip_address: a.ip_address.as_deref(),
            user_agent: a.user_agent.as_deref(),
            result: &a.result,
            error_message: a.error_message.as_deref(),
            site_id: a.site_id.map(|s| s.0),
            device_id: a.device_id.map(|d| d.0),
        };
        let sum = audit_chain::checksum(&prev, &fields);
        tx.exec(
            Q::new(
                "INSERT INTO audit_logs (id, seq, partner_id, org_id, timestamp, actor_type, actor_id, actor_email, action, \
                 resource_type, resource_id, resource_name, details, ip_address, user_agent, result, error_message, checksum, \
                 site_id, device_id, chain_version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(seq)
            .bind(a.partner_id)
            .bind(a.org_id)
            .bind(*now)
            .bind(a.actor_type.as_str())
            .bind(a.actor_id)
            .bind(a.actor_email.clone())
            .bind(a.action.as_str())
            .bind(a.resource_type.as_str())
            .bind(a.resource_id.clone())
            .bind(a.resource_name.clone())
            .bind(a.details.clone())
            .bind(a.ip_address.clone())
            .bind(a.user_agent.clone())
            .bind(a.result.as_str())
            .bind(a.error_message.clone())
            .bind(sum.as_str())
            .bind(a.site_id)
            .bind(a.device_id)
            .bind(audit_chain::CURRENT_VERSION),
        )
        .await?;
        prev = sum;
        ids.push(id);
    }
    tx.exec(Q::new("UPDATE audit_chain SET checksum = ? WHERE id = 1").bind(prev))
        .await?;
    tx.commit().await?;
    Ok(ids)
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct AuditRow {
    pub id: Uuid,
    pub seq: i64,
    pub partner_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub timestamp: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub details: Json<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub result: String,
    pub error_message: Option<String>,
    pub checksum: String,
    pub site_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub chain_version: Option<i64>,
}

impl From<AuditRow> for api::AuditEntry {
    fn from(r: AuditRow) -> Self {
        api::AuditEntry {
            id: AuditLogId(r.id),
            seq: r.seq,
            timestamp: r.timestamp,
            partner_id: r.partner_id.map(PartnerId),
            org_id: r.org_id.map(OrgId),
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            actor_email: r.actor_email,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            resource_name: r.resource_name,
            details: r.details.0,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
            result: r.result,
            error_message: r.error_message,
            checksum: r.checksum,
            site_id: r.site_id.map(SiteId),
            device_id: r.device_id.map(DeviceId),
        }
    }
}

const COLS: &str = "SELECT id, seq, partner_id, org_id, timestamp, actor_type, actor_id, actor_email, action, \
    resource_type, resource_id, resource_name, details, ip_address, user_agent, result, error_message, checksum, \
    site_id, device_id, chain_version FROM audit_logs WHERE 1 = 1";

/// Rows a scope may read: partner-wide staff see their partner's rows; others see the rows
/// of organizations in reach; platform operators see platform rows (no partner). Within
/// those, a site-limited scope sees only rows about its sites (organization-level rows,
/// which concern no site, are for org-wide users), and a device-group-limited scope only
/// rows about devices of its groups, as the device lists are scoped.
fn in_scope(q: &mut Q, scope: &Scope) {
    orgs_in_scope(q, scope);
    if let SiteAccess::Only(ids) = &scope.sites {
        q.push(" AND site_id IN ").push_list(ids.iter().copied());
    }
    if let Some(groups) = &scope.device_groups {
        q.push(
            " AND device_id IN (SELECT m.device_id FROM device_group_memberships m WHERE m.group_id IN ",
        )
        .push_list(groups.iter().copied())
        .push(")");
    }
}

fn orgs_in_scope(q: &mut Q, scope: &Scope) {
    match (scope.level, &scope.orgs, scope.partner_id) {
        (ScopeLevel::System, _, _) => {
            q.push(" AND partner_id IS NULL");
        }
        (_, OrgAccess::All, Some(p)) => {
            q.push(" AND partner_id = ").push_bind(p);
        }
        (_, OrgAccess::Only(ids), Some(p)) => {
            q.push(" AND partner_id = ")
                .push_bind(p)
                .push(" AND org_id IN ")
                .push_list(ids.iter().copied());
        }
        (_, _, None) => {
            q.push(" AND 1 = 0");
        }
    }
}

fn filters(q: &mut Q, f: &AuditQuery) {
    if let Some(actor) = f.actor.as_deref().filter(|s| !s.is_empty()) {
        match Uuid::parse_str(actor) {
            Ok(id) => q.push(" AND actor_id = ").push_bind(id),
            Err(_) => q
                .push(" AND LOWER(actor_email) = ")
                .push_bind(actor.to_lowercase()),
        };
    }
    if let Some(action) = f.action.as_deref().filter(|s| !s.is_empty()) {
        if let Some(prefix) = action
            .strip_suffix('*')
            .or_else(|| action.ends_with('.').then_some(action))
        {
            let escaped = crate::listing::like_escape(prefix);
            q.push(" AND action LIKE ")
                .push_bind(format!("{escaped}%"))
                .push(" ESCAPE '\\'");
        } else {
            q.push(" AND action = ").push_bind(action);
        }
    }
    if let Some(r) = f.resource_type.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND resource_type = ").push_bind(r);
    }
    if let Some(r) = f.resource_id.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND resource_id = ").push_bind(r);
    }
    if let Some(r) = f.result.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND result = ").push_bind(r);
    }
    if let Some(o) = f.org_id {
        q.push(" AND org_id = ").push_bind(o);
    }
    if let Some(t) = f.from {
        q.push(" AND timestamp >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        q.push(" AND timestamp < ").push_bind(t);
    }
}

/// Newest first; `before_seq` pages backwards.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &AuditQuery,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut q = Q::new(COLS);
    in_scope(&mut q, scope);
    filters(&mut q, f);
    if let Some(s) = before_seq {
        q.push(" AND seq < ").push_bind(s);
    }
    q.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    db.all(q).await
}

#[derive(sqlx::FromRow)]
struct KeyCount {
    key: Option<String>,
    n: i64,
}

pub async fn summary(
    db: &Db,
    scope: &Scope,
    f: &AuditQuery,
) -> Result<api::AuditSummary, StoreError> {
    let group = |col: &'static str| {
        let mut q = Q::new("SELECT ");
        q.push_trusted(col)
            .push(" AS key, COUNT(*) AS n FROM audit_logs WHERE 1 = 1");
        in_scope(&mut q, scope);
        filters(&mut q, f);
        q.push(" GROUP BY ")
            .push_trusted(col)
            .push(" ORDER BY n DESC LIMIT 20");
        q
    };
    let to_counts = |rows: Vec<KeyCount>| -> Vec<CountBy> {
        rows.into_iter()
            .map(|r| CountBy {
                key: r.key.unwrap_or_default(),
                count: r.n,
            })
            .collect()
    };
    let by_action = to_counts(db.all(group("action")).await?);
    let by_result = to_counts(db.all(group("result")).await?);
    let by_actor = to_counts(db.all(group("actor_email")).await?);
    let mut tq = Q::new("SELECT 'total' AS key, COUNT(*) AS n FROM audit_logs WHERE 1 = 1");
    in_scope(&mut tq, scope);
    filters(&mut tq, f);
    let total: KeyCount = db.one(tq).await?;
    Ok(api::AuditSummary {
        total: total.n,
        by_action,
        by_result,
        by_actor,
    })
}

/// The site and device an audit row concerns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub site_id: Option<SiteId>,
    pub device_id: Option<DeviceId>,
}

#[derive(sqlx::FromRow)]
struct PlaceRow {
    site_id: Option<Uuid>,
    device_id: Option<Uuid>,
}

/// Where the resource of an audit row sits, for rows that did not say: a device (and its
/// site), a device command's device, a site, an enrollment key's or a device group's site
/// (NULL for an organization-wide group). Unknown kinds and ids concern no site.
pub async fn place_of(
    db: &Db,
    resource_type: &str,
    resource_id: &str,
) -> Result<Place, StoreError> {
    let Ok(id) = Uuid::parse_str(resource_id) else {
        return Ok(Place::default());
    };
    let sql = match resource_type {
        "device" => "SELECT site_id, id AS device_id FROM devices WHERE id = ?",
        "device_command" => {
            "SELECT d.site_id, d.id AS device_id FROM device_commands c JOIN devices d ON d.id = c.device_id WHERE c.id = ?"
        }
        "site" => "SELECT id AS site_id, NULL AS device_id FROM sites WHERE id = ?",
        "enrollment_key" => "SELECT site_id, NULL AS device_id FROM enrollment_keys WHERE id = ?",
        "device_group" => "SELECT site_id, NULL AS device_id FROM device_groups WHERE id = ?",
        _ => return Ok(Place::default()),
    };
    let row: Option<PlaceRow> = db.optional(Q::new(sql).bind(id)).await?;
    Ok(row.map_or_else(Place::default, |r| Place {
        site_id: r.site_id.map(SiteId),
        device_id: r.device_id.map(DeviceId),
    }))
}

/// What `breeze audit verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// The row's content or link does not match its checksum.
    Altered { seq: i64, id: Uuid },
    /// Rows between two sequence numbers are missing.
    Missing { after_seq: i64, next_seq: i64 },
    /// The newest rows are missing (the head says more were written).
    Truncated { last_seq: i64, head_seq: i64 },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::Altered { seq, id } => {
                write!(f, "row seq={seq} id={id} was altered (checksum mismatch)")
            }
            ChainProblem::Missing {
                after_seq,
                next_seq,
            } => {
                write!(
                    f,
                    "rows after seq={after_seq} up to seq={next_seq} are missing (deleted)"
                )
            }
            ChainProblem::Truncated { last_seq, head_seq } => {
                write!(
                    f,
                    "rows after seq={last_seq} up to seq={head_seq} are missing (deleted from the end)"
                )
            }
        }
    }
}

/// Walks the whole chain in order, in pages. Answers the rows checked and the problems found.
pub async fn verify(db: &Db) -> Result<(i64, Vec<ChainProblem>), StoreError> {
    let mut problems = Vec::new();
    let mut prev_sum = GENESIS.to_string();
    let mut prev_seq = 0i64;
    let mut checked = 0i64;
    loop {
        let mut q = Q::new(COLS);
        q.push(" AND seq > ")
            .push_bind(prev_seq)
            .push(" ORDER BY seq LIMIT 1000");
        let rows: Vec<AuditRow> = db.all(q).await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            if r.seq != prev_seq + 1 {
                problems.push(ChainProblem::Missing {
                    after_seq: prev_seq,
                    next_seq: r.seq,
                });
            }
            let fields = ChainedFields {
                version: r.chain_version.unwrap_or(1),
                seq: r.seq,
                id: r.id,
                timestamp: r.timestamp,
                partner_id: r.partner_id,
                org_id: r.org_id,
                actor_type: &r.actor_type,
                actor_id: r.actor_id,
                actor_email: r.actor_email.as_deref(),
                action: &r.action,
                resource_type: &r.resource_type,
                resource_id: r.resource_id.as_deref(),
                resource_name: r.resource_name.as_deref(),
                details: &r.details.0,
                ip_address: r.ip_address.as_deref(),
                user_agent: r.user_agent.as_deref(),
                result: &r.result,
                error_message: r.error_message.as_deref(),
                site_id: r.site_id,
                device_id: r.device_id,
            };
            if audit_chain::checksum(&prev_sum, &fields) != r.checksum {
                problems.push(ChainProblem::Altered {
                    seq: r.seq,
                    id: r.id,
                });
            }
            prev_sum = r.checksum;
            prev_seq = r.seq;
            checked += 1;
        }
    }
    let head: Head = db
        .one(Q::new("SELECT seq, checksum FROM audit_chain WHERE id = 1"))
        .await?;
    if head.seq > prev_seq {
        problems.push(ChainProblem::Truncated {
            last_seq: prev_seq,
            head_seq: head.seq,
        });
    } else if head.seq == prev_seq && head.checksum != prev_sum && prev_seq > 0 {
        problems.push(ChainProblem::Altered {
            seq: prev_seq,
            id: Uuid::nil(),
        });
    }
    Ok((checked, problems))
}
