//! Sites (an organization's locations). Scoped: a site outside the caller's organizations,
//! or outside their sites when they are site-limited, is `NotFound`.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    address: Option<Json<Value>>,
    timezone: String,
    contact: Option<Json<Value>>,
    settings: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SiteRow> for api::Site {
    fn from(r: SiteRow) -> Self {
        api::Site {
            id: SiteId(r.id),
            org_id: OrgId(r.org_id),
            name: r.name,
            address: r.address.map(|j| j.0),
            timezone: r.timezone,
            contact: r.contact.map(|j| j.0),
            settings: r.settings.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT s.id, s.org_id, s.name, s.address, s.timezone, s.contact, s.settings, s.created_at, \
    s.updated_at FROM sites s JOIN organizations o ON o.id = s.org_id WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "s.name"),
    ("timezone", "s.timezone"),
    ("created_at", "s.created_at"),
];

pub async fn get(db: &Db, scope: &Scope, id: SiteId) -> Result<api::Site, StoreError> {
    let mut q = Q::new(COLS);
    tenancy::sites_in_scope(&mut q, scope, "o.partner_id", "o.id", "s.id", false);
    q.push(" AND s.id = ").push_bind(id);
    db.one::<SiteRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    opts: &ListOpts,
) -> Result<(Vec<api::Site>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::sites_in_scope(&mut q, scope, "o.partner_id", "o.id", "s.id", false);
    if let Some(o) = org {
        q.push(" AND s.org_id = ").push_bind(o);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(s.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "s.name, s.id")?;
    let rows: Vec<SiteRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

pub struct NewSite {
    pub name: String,
    pub timezone: String,
    pub address: Option<Value>,
    pub contact: Option<Value>,
    pub settings: Value,
}

/// Creates a site in an organization the caller has already fetched through its scope.
pub async fn create(
    db: &Db,
    org: OrgId,
    s: &NewSite,
    now: DateTime<Utc>,
) -> Result<SiteId, StoreError> {
    let id = SiteId::new();
    db.exec(
        Q::new(
            "INSERT INTO sites (id, org_id, name, address, timezone, contact, settings, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(s.name.as_str())
        .bind(s.address.clone())
        .bind(s.timezone.as_str())
        .bind(s.contact.clone())
        .bind(s.settings.clone())
        .bind(now)
        .bind(now),
    )
    .await
    .map_err(name_conflict)?;
    Ok(id)
}

fn name_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict("this organization already has a site with this name".into())
        }
        e => e,
    }
}

/// Writes back a site the caller fetched through its scope and patched.
pub async fn update(
    db: &Db,
    scope: &Scope,
    s: &api::Site,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, s.id).await?;
    db.exec(
        Q::new("UPDATE sites SET name = ?, address = ?, timezone = ?, contact = ?, settings = ?, updated_at = ? WHERE id = ?")
            .bind(s.name.as_str())
            .bind(s.address.clone())
            .bind(s.timezone.as_str())
            .bind(s.contact.clone())
            .bind(s.settings.clone())
            .bind(now)
            .bind(s.id),
    )
    .await
    .map_err(name_conflict)?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct N {
    n: i64,
}

/// Deletes a site; refused while devices are still assigned to it.
pub async fn delete(db: &Db, scope: &Scope, id: SiteId) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    let n: N = db
        .one(Q::new("SELECT COUNT(*) AS n FROM devices WHERE site_id = ?").bind(id))
        .await?;
    if n.n > 0 {
        return Err(StoreError::Conflict(format!(
            "{} device(s) are still assigned to this site; move them first",
            n.n
        )));
    }
    db.exec(Q::new("DELETE FROM sites WHERE id = ?").bind(id))
        .await?;
    Ok(())
}

/// Which of `ids` are sites of `org` (for validating a user's site list).
pub async fn belonging_to(db: &Db, org: OrgId, ids: &[SiteId]) -> Result<Vec<SiteId>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Id {
        id: Uuid,
    }
    let mut q = Q::new("SELECT id FROM sites WHERE org_id = ");
    q.push_bind(org)
        .push(" AND id IN ")
        .push_list(ids.iter().copied());
    Ok(db
        .all::<Id>(q)
        .await?
        .into_iter()
        .map(|r| SiteId(r.id))
        .collect())
}
