//! Notification channels: where an organization's alerts are sent (e-mail, webhook, Slack,
//! Teams, PagerDuty, SMS). `config` holds what the API shows; `sealed` holds the
//! credentials, sealed by the server with the master key (the store never sees them in
//! the clear). Channels belong to an organization and are scoped like it.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{NotificationChannelId, OrgId, PartnerId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    org_id: Uuid,
    partner_id: Uuid,
    name: String,
    #[sqlx(rename = "type")]
    channel_type: String,
    config: Json<Value>,
    sealed: Option<String>,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A channel with its sealed credentials and its organization's partner (for sending).
#[derive(Clone, Debug)]
pub struct ChannelRecord {
    pub channel: api::NotificationChannel,
    pub partner_id: PartnerId,
    pub sealed: Option<String>,
}

impl From<ChannelRow> for ChannelRecord {
    fn from(r: ChannelRow) -> Self {
        ChannelRecord {
            channel: api::NotificationChannel {
                id: NotificationChannelId(r.id),
                org_id: OrgId(r.org_id),
                name: r.name,
                channel_type: r.channel_type,
                config: r.config.0,
                enabled: r.enabled,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            partner_id: PartnerId(r.partner_id),
            sealed: r.sealed,
        }
    }
}

const COLS: &str = "SELECT c.id, c.org_id, o.partner_id, c.name, c.type, c.config, c.sealed, \
    c.enabled, c.created_at, c.updated_at FROM notification_channels c \
    JOIN organizations o ON o.id = c.org_id WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "c.name"),
    ("type", "c.type"),
    ("created_at", "c.created_at"),
];

/// A channel in scope, with its sealed credentials.
pub async fn find(
    db: &Db,
    scope: &Scope,
    id: NotificationChannelId,
) -> Result<ChannelRecord, StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND c.id = ").push_bind(id.0);
    db.one::<ChannelRow>(q).await.map(Into::into)
}

/// A channel in scope, as the API shows it.
pub async fn get(
    db: &Db,
    scope: &Scope,
    id: NotificationChannelId,
) -> Result<api::NotificationChannel, StoreError> {
    Ok(find(db, scope, id).await?.channel)
}

/// A channel by id alone, for the delivery worker (which acts for no user).
pub async fn load(db: &Db, id: NotificationChannelId) -> Result<ChannelRecord, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND c.id = ").push_bind(id.0);
    db.one::<ChannelRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    opts: &ListOpts,
) -> Result<(Vec<api::NotificationChannel>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    if let Some(o) = org {
        q.push(" AND c.org_id = ").push_bind(o);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(c.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "c.name, c.id")?;
    let rows: Vec<ChannelRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((
        rows.into_iter()
            .map(|r| ChannelRecord::from(r).channel)
            .collect(),
        next,
    ))
}

pub struct NewChannel {
    pub id: NotificationChannelId,
    pub org_id: OrgId,
    pub name: String,
    pub channel_type: String,
    pub config: Value,
    pub sealed: Option<String>,
    pub enabled: bool,
    pub created_by: Option<UserId>,
}

/// Creates a channel. The caller has fetched the organization through its scope.
pub async fn create(db: &Db, c: &NewChannel, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO notification_channels (id, org_id, name, type, config, sealed, enabled, \
             created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.0)
        .bind(c.org_id)
        .bind(c.name.as_str())
        .bind(c.channel_type.as_str())
        .bind(c.config.clone())
        .bind(c.sealed.clone())
        .bind(c.enabled)
        .bind(c.created_by)
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// Writes back a channel the caller fetched through its scope and changed.
pub async fn update(
    db: &Db,
    scope: &Scope,
    c: &ChannelRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    find(db, scope, c.channel.id).await?;
    db.exec(
        Q::new(
            "UPDATE notification_channels SET name = ?, config = ?, sealed = ?, enabled = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(c.channel.name.as_str())
        .bind(c.channel.config.clone())
        .bind(c.sealed.clone())
        .bind(c.channel.enabled)
        .bind(now)
        .bind(c.channel.id.0),
    )
    .await?;
    Ok(())
}

/// Deletes a channel (its delivery log goes with it).
pub async fn delete(db: &Db, scope: &Scope, id: NotificationChannelId) -> Result<(), StoreError> {
    find(db, scope, id).await?;
    db.exec(Q::new("DELETE FROM notification_channels WHERE id = ?").bind(id.0))
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

/// Which of `ids` are channels of `org` (to check references from rules and policies).
pub async fn existing_in_org(
    db: &Db,
    org: OrgId,
    ids: &[NotificationChannelId],
) -> Result<Vec<NotificationChannelId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("SELECT id FROM notification_channels WHERE org_id = ");
    q.push_bind(org)
        .push(" AND id IN ")
        .push_list(ids.iter().map(|i| i.0));
    let rows: Vec<IdRow> = db.all(q).await?;
    Ok(rows
        .into_iter()
        .map(|r| NotificationChannelId(r.id))
        .collect())
}
