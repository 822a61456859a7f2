//! Automations store (issue 13): `automations` and the webhook replay guard. Automations
//! belong to an organization; a scope reaches the automations of its organizations.
//! Deleting an automation deletes its runs (and their step logs).

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{AutomationId, NotificationChannelId, OrgId, PartnerId, ScriptId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: Option<String>,
    enabled: bool,
    trigger: Json<Value>,
    targets: Json<Value>,
    conditions: Option<Json<Value>>,
    actions: Json<Value>,
    on_failure: String,
    notify_channel_ids: Json<Value>,
    has_secret: bool,
    next_run_at: Option<DateTime<Utc>>,
    last_slot_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn channels(v: &Value) -> Vec<NotificationChannelId> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str()?.parse().ok())
                .map(NotificationChannelId)
                .collect()
        })
        .unwrap_or_default()
}

impl From<Row> for api::Automation {
    fn from(r: Row) -> Self {
        api::Automation {
            id: AutomationId(r.id),
            org_id: OrgId(r.org_id),
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            trigger: r.trigger.0,
            targets: r.targets.0,
            conditions: r.conditions.map(|c| c.0),
            actions: match r.actions.0 {
                Value::Array(a) => a,
                _ => Vec::new(),
            },
            on_failure: r.on_failure,
            notify_channel_ids: channels(&r.notify_channel_ids.0),
            next_run_at: r.next_run_at,
            last_slot_at: r.last_slot_at,
            has_webhook_secret: r.has_secret,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT a.id, a.org_id, a.name, a.description, a.enabled, a.trigger, a.targets, \
    a.conditions, a.actions, a.on_failure, a.notify_channel_ids, \
    (a.webhook_secret_sealed IS NOT NULL) AS has_secret, a.next_run_at, a.last_slot_at, \
    a.created_by, a.created_at, a.updated_at \
    FROM automations a JOIN organizations o ON o.id = a.org_id WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[("name", "a.name"), ("created_at", "a.created_at")];

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::orgs_in_scope(q, scope, "o.partner_id", "o.id");
}

pub async fn get(db: &Db, scope: &Scope, id: AutomationId) -> Result<api::Automation, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND a.id = ").push_bind(id);
    db.one::<Row>(q).await.map(Into::into)
}

/// An automation by id with no tenant scope (executor, triggers, webhook).
pub async fn get_for_system(db: &Db, id: AutomationId) -> Result<api::Automation, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND a.id = ").push_bind(id);
    db.one::<Row>(q).await.map(Into::into)
}

/// `GET /api/v1/automations` filters.
#[derive(Default)]
pub struct Filter {
    pub org_id: Option<OrgId>,
    pub trigger_type: Option<String>,
    pub enabled: Option<bool>,
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    opts: &ListOpts,
) -> Result<(Vec<api::Automation>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = f.org_id {
        q.push(" AND a.org_id = ").push_bind(o);
    }
    if let Some(t) = &f.trigger_type {
        q.push(" AND a.trigger_type = ").push_bind(t.as_str());
    }
    if let Some(e) = f.enabled {
        q.push(" AND a.enabled = ").push_bind(e);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(a.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "a.name, a.id")?;
    let rows: Vec<Row> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// Enabled automations of live organizations with this trigger type (system code path:
/// event triggers and the schedule).
pub async fn enabled_by_trigger_for_system(
    db: &Db,
    trigger_type: &str,
) -> Result<Vec<api::Automation>, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND a.enabled = ")
        .push_bind(true)
        .push(" AND a.trigger_type = ")
        .push_bind(trigger_type)
        .push(" ORDER BY a.id");
    Ok(db
        .all::<Row>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// An automation to create; the JSON parts in their canonical (checked) form.
pub struct NewAutomation {
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub trigger_type: String,
    pub trigger: Value,
    pub targets: Value,
    pub conditions: Option<Value>,
    pub actions: Vec<Value>,
    pub on_failure: String,
    pub notify_channel_ids: Vec<NotificationChannelId>,
    /// The sealed webhook secret (webhook triggers).
    pub webhook_secret_sealed: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
}

/// Creates an automation (the caller checked the organization is in its scope).
pub async fn create(
    db: &Db,
    a: &NewAutomation,
    now: DateTime<Utc>,
) -> Result<AutomationId, StoreError> {
    let id = AutomationId::new();
    db.exec(
        Q::new(
            "INSERT INTO automations (id, org_id, name, description, enabled, trigger_type, trigger, targets, \
             conditions, actions, on_failure, notify_channel_ids, webhook_secret_sealed, next_run_at, \
             created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(a.org_id)
        .bind(a.name.as_str())
        .bind(a.description.clone())
        .bind(a.enabled)
        .bind(a.trigger_type.as_str())
        .bind(a.trigger.clone())
        .bind(a.targets.clone())
        .bind(a.conditions.clone())
        .bind(Value::Array(a.actions.clone()))
        .bind(a.on_failure.as_str())
        .bind(serde_json::json!(a.notify_channel_ids))
        .bind(a.webhook_secret_sealed.clone())
        .bind(a.next_run_at)
        .bind(a.created_by)
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(id)
}

/// Writes back an automation the caller fetched through its scope and patched
/// (`trigger_type` copied from its trigger). `next_run_at` is written too: the caller
/// recomputes it when the trigger changed.
pub async fn update(
    db: &Db,
    scope: &Scope,
    a: &api::Automation,
    trigger_type: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, a.id).await?;
    db.exec(
        Q::new(
            "UPDATE automations SET name = ?, description = ?, enabled = ?, trigger_type = ?, trigger = ?, \
             targets = ?, conditions = ?, actions = ?, on_failure = ?, notify_channel_ids = ?, \
             next_run_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(a.name.as_str())
        .bind(a.description.clone())
        .bind(a.enabled)
        .bind(trigger_type)
        .bind(a.trigger.clone())
        .bind(a.targets.clone())
        .bind(a.conditions.clone())
        .bind(Value::Array(a.actions.clone()))
        .bind(a.on_failure.as_str())
        .bind(serde_json::json!(a.notify_channel_ids))
        .bind(a.next_run_at)
        .bind(now)
        .bind(a.id),
    )
    .await?;
    Ok(())
}

/// Sets (or with `None` clears) the sealed webhook secret.
pub async fn set_webhook_secret(
    db: &Db,
    id: AutomationId,
    sealed: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE automations SET webhook_secret_sealed = ?, updated_at = ? WHERE id = ?")
            .bind(sealed)
            .bind(now)
            .bind(id),
    )
    .await?;
    Ok(())
}

/// What the webhook endpoint needs: the automation's trigger type, whether it is enabled
/// and its sealed secret (system code path: the webhook has no user).
pub struct WebhookTarget {
    pub org_id: OrgId,
    pub enabled: bool,
    pub trigger_type: String,
    pub sealed: Option<String>,
}

pub async fn webhook_target_for_system(
    db: &Db,
    id: AutomationId,
) -> Result<Option<WebhookTarget>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct W {
        org_id: Uuid,
        enabled: bool,
        trigger_type: String,
        webhook_secret_sealed: Option<String>,
    }
    let w: Option<W> = db
        .optional(
            Q::new(
                "SELECT a.org_id, a.enabled, a.trigger_type, a.webhook_secret_sealed FROM automations a \
                 JOIN organizations o ON o.id = a.org_id WHERE o.deleted_at IS NULL AND a.id = ?",
            )
            .bind(id),
        )
        .await?;
    Ok(w.map(|w| WebhookTarget {
        org_id: OrgId(w.org_id),
        enabled: w.enabled,
        trigger_type: w.trigger_type,
        sealed: w.webhook_secret_sealed,
    }))
}

/// Remembers a webhook signature; false when it was seen before (a replay).
pub async fn remember_signature(
    db: &Db,
    id: AutomationId,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "INSERT INTO automation_webhook_signatures (automation_id, signature, seen_at) \
                 VALUES (?, ?, ?) ON CONFLICT (automation_id, signature) DO NOTHING",
            )
            .bind(id)
            .bind(signature)
            .bind(now),
        )
        .await?;
    Ok(n == 1)
}

/// Forgets an automation's seen signatures: when its secret is replaced, since none of
/// them can verify again. They are kept until then: the timestamp header is not part of
/// the signed body, so a signature forgotten earlier could be replayed with a fresh one.
pub async fn forget_signatures(db: &Db, id: AutomationId) -> Result<u64, StoreError> {
    db.exec(Q::new("DELETE FROM automation_webhook_signatures WHERE automation_id = ?").bind(id))
        .await
}

/// Deletes an automation in scope, with its runs.
pub async fn delete(db: &Db, scope: &Scope, id: AutomationId) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    db.exec(Q::new("DELETE FROM automations WHERE id = ?").bind(id))
        .await?;
    Ok(())
}

/// Records the schedule's slots (written by the schedule trigger).
pub async fn set_schedule_for_system(
    db: &Db,
    id: AutomationId,
    next_run_at: Option<DateTime<Utc>>,
    last_slot_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE automations SET next_run_at = ?, last_slot_at = ? WHERE id = ?")
            .bind(next_run_at)
            .bind(last_slot_at)
            .bind(id),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Id {
    id: Uuid,
}

/// 422 naming `field` unless the script is usable in `org`: the organization's own, or a
/// partner-wide script of its partner.
pub async fn check_script(
    db: &Db,
    org: OrgId,
    partner: PartnerId,
    id: ScriptId,
    field: &str,
) -> Result<(), StoreError> {
    let found: Option<Id> = db
        .optional(
            Q::new(
                "SELECT id FROM scripts WHERE deleted_at IS NULL AND id = ? \
                 AND (org_id = ? OR (org_id IS NULL AND partner_id = ?))",
            )
            .bind(id)
            .bind(org)
            .bind(partner),
        )
        .await?;
    if found.is_some_and(|f| f.id == id.0) {
        return Ok(());
    }
    Err(StoreError::invalid(
        field,
        "no such script in the automation's organization",
    ))
}

/// 422 naming `field` unless `id` is an automation of `org`.
pub async fn check_same_org(
    db: &Db,
    org: OrgId,
    id: AutomationId,
    field: &str,
) -> Result<(), StoreError> {
    let found: Option<Id> = db
        .optional(
            Q::new("SELECT id FROM automations WHERE org_id = ? AND id = ?")
                .bind(org)
                .bind(id),
        )
        .await?;
    if found.is_some_and(|f| f.id == id.0) {
        return Ok(());
    }
    Err(StoreError::invalid(
        field,
        "no such automation in the automation's organization",
    ))
}
