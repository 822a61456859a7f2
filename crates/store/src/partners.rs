//! Partners (MSPs): the top-level tenants. Created by the first-run setup or by platform
//! operators.

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use breeze_proto::api;
use breeze_proto::ids::PartnerId;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

pub struct NewPartner<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub partner_type: &'a str,
    pub plan: &'a str,
    pub max_organizations: Option<i64>,
    pub max_devices: Option<i64>,
    pub billing_email: Option<&'a str>,
}

pub async fn insert(
    tx: &mut Tx,
    p: &NewPartner<'_>,
    now: DateTime<Utc>,
) -> Result<PartnerId, StoreError> {
    let id = PartnerId::new();
    tx.exec(
        Q::new(
            "INSERT INTO partners (id, name, slug, type, plan, max_organizations, max_devices, settings, billing_email, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(p.name)
        .bind(p.slug)
        .bind(p.partner_type)
        .bind(p.plan)
        .bind(p.max_organizations)
        .bind(p.max_devices)
        .bind(serde_json::json!({}))
        .bind(p.billing_email)
        .bind(now)
        .bind(now),
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict("a partner with this slug already exists".into()),
        e => e,
    })?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct PartnerRow {
    id: Uuid,
    name: String,
    slug: String,
    #[sqlx(rename = "type")]
    partner_type: String,
    plan: String,
    max_organizations: Option<i64>,
    max_devices: Option<i64>,
    settings: Json<Value>,
    billing_email: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PartnerRow> for api::Partner {
    fn from(r: PartnerRow) -> Self {
        api::Partner {
            id: PartnerId(r.id),
            name: r.name,
            slug: r.slug,
            partner_type: r.partner_type,
            plan: r.plan,
            max_organizations: r.max_organizations,
            max_devices: r.max_devices,
            settings: r.settings.0,
            billing_email: r.billing_email,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT id, name, slug, type, plan, max_organizations, max_devices, settings, billing_email, \
    created_at, updated_at FROM partners WHERE deleted_at IS NULL";

/// A partner by id. Platform-level read: callers check the principal first.
pub async fn get_for_platform(db: &Db, id: PartnerId) -> Result<api::Partner, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND id = ").push_bind(id);
    db.one::<PartnerRow>(q).await.map(Into::into)
}

/// Every partner. Platform-level read: callers check the principal first.
pub async fn list_for_platform(
    db: &Db,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<api::Partner>, StoreError> {
    let mut q = Q::new(COLS);
    if let Some(a) = after {
        q.push(" AND id > ").push_bind(a);
    }
    q.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
    Ok(db
        .all::<PartnerRow>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Whether a slug is free.
pub async fn slug_taken(db: &Db, slug: &str) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct N {
        n: i64,
    }
    let n: N = db
        .one(Q::new("SELECT COUNT(*) AS n FROM partners WHERE slug = ?").bind(slug))
        .await?;
    Ok(n.n > 0)
}

/// Finds a partner by slug or exact name, for the admin CLI (not scoped: operator tooling).
pub async fn find_for_admin(db: &Db, key: &str) -> Result<Option<PartnerId>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Id {
        id: Uuid,
    }
    let row: Option<Id> = db
        .optional(
            Q::new("SELECT id FROM partners WHERE deleted_at IS NULL AND (slug = ? OR name = ?) ORDER BY created_at LIMIT 1")
                .bind(key)
                .bind(key),
        )
        .await?;
    Ok(row.map(|r| PartnerId(r.id)))
}
