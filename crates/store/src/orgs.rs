//! Organizations (a partner's customers). Every function takes the caller's scope; an
//! organization outside it is `NotFound`.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{OrgId, PartnerId};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    partner_id: Uuid,
    name: String,
    slug: String,
    #[sqlx(rename = "type")]
    org_type: String,
    status: String,
    max_devices: Option<i64>,
    settings: Json<Value>,
    contract_start: Option<NaiveDate>,
    contract_end: Option<NaiveDate>,
    billing_contact: Option<Json<Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OrgRow> for api::Organization {
    fn from(r: OrgRow) -> Self {
        api::Organization {
            id: OrgId(r.id),
            partner_id: PartnerId(r.partner_id),
            name: r.name,
            slug: r.slug,
            org_type: r.org_type,
            status: r.status,
            max_devices: r.max_devices,
            settings: r.settings.0,
            contract_start: r.contract_start,
            contract_end: r.contract_end,
            billing_contact: r.billing_contact.map(|j| j.0),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT o.id, o.partner_id, o.name, o.slug, o.type, o.status, o.max_devices, o.settings, \
    o.contract_start, o.contract_end, o.billing_contact, o.created_at, o.updated_at FROM organizations o \
    WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "o.name"),
    ("slug", "o.slug"),
    ("status", "o.status"),
    ("created_at", "o.created_at"),
];

pub async fn get(db: &Db, scope: &Scope, id: OrgId) -> Result<api::Organization, StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND o.id = ").push_bind(id);
    db.one::<OrgRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    status: Option<&str>,
    opts: &ListOpts,
) -> Result<(Vec<api::Organization>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    if let Some(s) = status {
        q.push(" AND o.status = ").push_bind(s);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND (LOWER(o.name) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR o.slug LIKE ")
            .push_bind(p);
        q.push(" ESCAPE '\\')");
    }
    opts.finish(&mut q, SORTS, "o.name, o.id")?;
    let rows: Vec<OrgRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// A checked new organization.
pub struct NewOrg {
    pub name: String,
    pub slug: String,
    pub org_type: String,
    pub status: String,
    pub max_devices: Option<i64>,
    pub settings: Value,
    pub contract_start: Option<NaiveDate>,
    pub contract_end: Option<NaiveDate>,
    pub billing_contact: Option<Value>,
}

#[derive(sqlx::FromRow)]
struct Limits {
    max_organizations: Option<i64>,
    n: i64,
}

/// Creates an organization under the scope's partner (partner-wide staff only: the caller
/// checks that). Refuses past the partner's `max_organizations`.
pub async fn create(
    db: &Db,
    partner: PartnerId,
    o: &NewOrg,
    now: DateTime<Utc>,
) -> Result<OrgId, StoreError> {
    let mut tx = db.begin().await?;
    let lim: Limits = tx
        .one(
            Q::new(
                "SELECT p.max_organizations, (SELECT COUNT(*) FROM organizations WHERE partner_id = p.id AND deleted_at IS NULL) AS n \
                 FROM partners p WHERE p.id = ? AND p.deleted_at IS NULL",
            )
            .bind(partner),
        )
        .await?;
    if let Some(max) = lim.max_organizations
        && lim.n >= max
    {
        return Err(StoreError::Conflict(format!(
            "the partner's plan allows at most {max} organizations"
        )));
    }
    let id = OrgId::new();
    tx.exec(
        Q::new(
            "INSERT INTO organizations (id, partner_id, name, slug, type, status, max_devices, settings, contract_start, \
             contract_end, billing_contact, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(partner)
        .bind(o.name.as_str())
        .bind(o.slug.as_str())
        .bind(o.org_type.as_str())
        .bind(o.status.as_str())
        .bind(o.max_devices)
        .bind(o.settings.clone())
        .bind(o.contract_start)
        .bind(o.contract_end)
        .bind(o.billing_contact.clone())
        .bind(now)
        .bind(now),
    )
    .await
    .map_err(slug_conflict)?;
    tx.commit().await?;
    Ok(id)
}

fn slug_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict("an organization with this slug already exists".into())
        }
        e => e,
    }
}

/// Writes the given organization back (after the caller merged a patch into it).
pub async fn update(
    db: &Db,
    scope: &Scope,
    o: &api::Organization,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = Q::new(
        "UPDATE organizations SET name = ?, slug = ?, status = ?, max_devices = ?, settings = ?, contract_start = ?, \
         contract_end = ?, billing_contact = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(o.name.as_str())
    .bind(o.slug.as_str())
    .bind(o.status.as_str())
    .bind(o.max_devices)
    .bind(o.settings.clone())
    .bind(o.contract_start)
    .bind(o.contract_end)
    .bind(o.billing_contact.clone())
    .bind(now)
    .bind(o.id);
    tenancy::orgs_in_scope(&mut q, scope, "partner_id", "id");
    match db.exec(q).await.map_err(slug_conflict)? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Soft-deletes an organization.
pub async fn delete(
    db: &Db,
    scope: &Scope,
    id: OrgId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = Q::new("UPDATE organizations SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL")
        .bind(now)
        .bind(now)
        .bind(id);
    tenancy::orgs_in_scope(&mut q, scope, "partner_id", "id");
    match db.exec(q).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The partner's organizations whose status makes them read-only (`suspended`,
/// `churned`), with that status: resolved with each request's caller, so writes on
/// their objects are refused (see `breeze_core::org_status`).
pub async fn read_only_for_auth(
    db: &Db,
    partner: PartnerId,
) -> Result<Vec<(OrgId, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        status: String,
    }
    let rows: Vec<Row> = db
        .all(
            Q::new(
                "SELECT id, status FROM organizations WHERE partner_id = ? AND deleted_at IS NULL \
                 AND status IN ('suspended', 'churned')",
            )
            .bind(partner),
        )
        .await?;
    Ok(rows.into_iter().map(|r| (OrgId(r.id), r.status)).collect())
}
