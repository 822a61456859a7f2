//! Device groups: static (members added by hand) or dynamic (members from rules), org-wide
//! or tied to a site, optionally nested. Scoped like sites; a device-group-limited user
//! sees only their groups.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{DeviceGroupId, DeviceId, OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: Uuid,
    org_id: Uuid,
    site_id: Option<Uuid>,
    name: String,
    #[sqlx(rename = "type")]
    group_type: String,
    rules: Option<Json<Value>>,
    parent_id: Option<Uuid>,
    member_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<GroupRow> for api::DeviceGroup {
    fn from(r: GroupRow) -> Self {
        api::DeviceGroup {
            id: DeviceGroupId(r.id),
            org_id: OrgId(r.org_id),
            site_id: r.site_id.map(SiteId),
            name: r.name,
            group_type: r.group_type,
            rules: r.rules.map(|j| j.0),
            parent_id: r.parent_id.map(DeviceGroupId),
            member_count: r.member_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT g.id, g.org_id, g.site_id, g.name, g.type, g.rules, g.parent_id, \
    (SELECT COUNT(*) FROM device_group_memberships m WHERE m.group_id = g.id) AS member_count, \
    g.created_at, g.updated_at FROM device_groups g JOIN organizations o ON o.id = g.org_id \
    WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "g.name"),
    ("type", "g.type"),
    ("created_at", "g.created_at"),
];

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::sites_in_scope(q, scope, "o.partner_id", "o.id", "g.site_id", true);
    if let Some(ids) = &scope.device_groups {
        q.push(" AND g.id IN ").push_list(ids.iter().copied());
    }
}

/// A group in scope, as the API answers it: a dynamic group's `member_count` is the
/// devices its rules match now.
pub async fn get(
    db: &Db,
    scope: &Scope,
    id: DeviceGroupId,
) -> Result<api::DeviceGroup, StoreError> {
    let mut g = [find(db, scope, id).await?];
    crate::devices::count_dynamic_members(db, scope, &mut g).await?;
    let [g] = g;
    Ok(g)
}

/// A group in scope without evaluating a dynamic group's rules (its `member_count` is that
/// of stored memberships): for scope checks and for callers that compute the members
/// themselves.
pub async fn find(
    db: &Db,
    scope: &Scope,
    id: DeviceGroupId,
) -> Result<api::DeviceGroup, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND g.id = ").push_bind(id);
    db.one::<GroupRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    site: Option<SiteId>,
    group_type: Option<&str>,
    opts: &ListOpts,
) -> Result<(Vec<api::DeviceGroup>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND g.org_id = ").push_bind(o);
    }
    if let Some(s) = site {
        q.push(" AND g.site_id = ").push_bind(s);
    }
    if let Some(t) = group_type {
        q.push(" AND g.type = ").push_bind(t);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(g.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "g.name, g.id")?;
    let rows: Vec<GroupRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    let mut groups: Vec<api::DeviceGroup> = rows.into_iter().map(Into::into).collect();
    crate::devices::count_dynamic_members(db, scope, &mut groups).await?;
    Ok((groups, next))
}

pub struct NewGroup {
    pub org_id: OrgId,
    pub site_id: Option<SiteId>,
    pub name: String,
    pub group_type: String,
    pub rules: Option<Value>,
    pub parent_id: Option<DeviceGroupId>,
}

/// Creates a group. The caller has fetched the organization, site and parent through its
/// scope and checked they belong together.
pub async fn create(
    db: &Db,
    g: &NewGroup,
    now: DateTime<Utc>,
) -> Result<DeviceGroupId, StoreError> {
    let id = DeviceGroupId::new();
    db.exec(
        Q::new(
            "INSERT INTO device_groups (id, org_id, site_id, name, type, rules, parent_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(g.org_id)
        .bind(g.site_id)
        .bind(g.name.as_str())
        .bind(g.group_type.as_str())
        .bind(g.rules.clone())
        .bind(g.parent_id)
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(id)
}

/// Writes back a group the caller fetched through its scope and patched.
pub async fn update(
    db: &Db,
    scope: &Scope,
    g: &api::DeviceGroup,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    find(db, scope, g.id).await?;
    db.exec(
        Q::new("UPDATE device_groups SET name = ?, rules = ?, parent_id = ?, updated_at = ? WHERE id = ?")
            .bind(g.name.as_str())
            .bind(g.rules.clone())
            .bind(g.parent_id)
            .bind(now)
            .bind(g.id),
    )
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, scope: &Scope, id: DeviceGroupId) -> Result<(), StoreError> {
    find(db, scope, id).await?;
    db.exec(Q::new("DELETE FROM device_groups WHERE id = ?").bind(id))
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Id {
    id: Uuid,
}

/// Whether `ancestor` is `id` or one of its ancestors (refuses cycles when re-parenting).
pub async fn is_ancestor_or_self(
    db: &Db,
    ancestor: DeviceGroupId,
    id: DeviceGroupId,
) -> Result<bool, StoreError> {
    let mut cur = Some(ancestor.0);
    let mut hops = 0;
    while let Some(c) = cur {
        if c == id.0 {
            return Ok(true);
        }
        hops += 1;
        if hops > 64 {
            return Ok(true);
        }
        #[derive(sqlx::FromRow)]
        struct P {
            parent_id: Option<Uuid>,
        }
        let p: Option<P> = db
            .optional(Q::new("SELECT parent_id FROM device_groups WHERE id = ?").bind(c))
            .await?;
        cur = p.and_then(|p| p.parent_id);
    }
    Ok(false)
}

/// The group's member device ids, in scope (a site-limited user sees only their sites' devices).
pub async fn members(
    db: &Db,
    scope: &Scope,
    group: DeviceGroupId,
) -> Result<Vec<DeviceId>, StoreError> {
    find(db, scope, group).await?;
    let mut q = Q::new(
        "SELECT d.id FROM device_group_memberships m JOIN devices d ON d.id = m.device_id \
         JOIN organizations o ON o.id = d.org_id WHERE m.group_id = ",
    );
    q.push_bind(group);
    tenancy::sites_in_scope(&mut q, scope, "o.partner_id", "o.id", "d.site_id", false);
    q.push(" ORDER BY d.hostname, d.id");
    Ok(db
        .all::<Id>(q)
        .await?
        .into_iter()
        .map(|r| DeviceId(r.id))
        .collect())
}

/// Adds devices to a static group. Every device must be in scope and in the group's
/// organization (and site, for a site group); otherwise nothing is added and the answer
/// names the field.
pub async fn add_members(
    db: &Db,
    scope: &Scope,
    group: &api::DeviceGroup,
    devices: &[DeviceId],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut q = Q::new(
        "SELECT d.id FROM devices d JOIN organizations o ON o.id = d.org_id WHERE d.org_id = ",
    );
    q.push_bind(group.org_id);
    if let Some(s) = group.site_id {
        q.push(" AND d.site_id = ").push_bind(s);
    }
    tenancy::sites_in_scope(&mut q, scope, "o.partner_id", "o.id", "d.site_id", false);
    q.push(" AND d.id IN ").push_list(devices.iter().copied());
    let found: Vec<Id> = db.all(q).await?;
    if found.len()
        != devices
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    {
        return Err(StoreError::invalid(
            "device_ids",
            "every device must exist, be visible to you and belong to the group's organization (and site)",
        ));
    }
    let mut tx = db.begin().await?;
    let mut added = 0;
    for d in found {
        added += tx
            .exec(
                Q::new(
                    "INSERT INTO device_group_memberships (device_id, group_id, added_at, added_by) VALUES (?, ?, ?, 'manual') \
                     ON CONFLICT (device_id, group_id) DO NOTHING",
                )
                .bind(d.id)
                .bind(group.id)
                .bind(now),
            )
            .await?;
    }
    tx.commit().await?;
    Ok(added)
}

pub async fn remove_members(
    db: &Db,
    group: DeviceGroupId,
    devices: &[DeviceId],
) -> Result<u64, StoreError> {
    let mut q = Q::new("DELETE FROM device_group_memberships WHERE group_id = ");
    q.push_bind(group)
        .push(" AND device_id IN ")
        .push_list(devices.iter().copied());
    db.exec(q).await
}
