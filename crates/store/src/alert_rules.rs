//! Alerting store (issue 11): `alert_rules`. Rules belong to an organization; a scope
//! reaches the rules of its organizations. Deleting a rule keeps its alerts (their
//! `rule_id` becomes NULL, `rule_name` stays).

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{AlertRuleId, EscalationPolicyId, NotificationChannelId, OrgId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: Option<String>,
    enabled: bool,
    severity: String,
    targets: Json<Value>,
    conditions: Json<Value>,
    cooldown_minutes: i64,
    auto_resolve: bool,
    escalation_policy_id: Option<Uuid>,
    notification_channels: Json<Value>,
    template: Option<String>,
    open_alerts: i64,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<RuleRow> for api::AlertRule {
    fn from(r: RuleRow) -> Self {
        let channels = r
            .notification_channels
            .0
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str()?.parse().ok())
                    .map(NotificationChannelId)
                    .collect()
            })
            .unwrap_or_default();
        api::AlertRule {
            id: AlertRuleId(r.id),
            org_id: OrgId(r.org_id),
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            severity: r.severity,
            targets: r.targets.0,
            conditions: r.conditions.0,
            cooldown_minutes: r.cooldown_minutes,
            auto_resolve: r.auto_resolve,
            escalation_policy_id: r.escalation_policy_id.map(EscalationPolicyId),
            notification_channels: channels,
            template: r.template,
            open_alerts: r.open_alerts,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT r.id, r.org_id, r.name, r.description, r.enabled, r.severity, r.targets, \
    r.conditions, r.cooldown_minutes, r.auto_resolve, r.escalation_policy_id, r.notification_channels, \
    r.template, (SELECT COUNT(*) FROM alerts a WHERE a.rule_id = r.id AND a.status <> 'resolved') AS open_alerts, \
    r.created_by, r.created_at, r.updated_at \
    FROM alert_rules r JOIN organizations o ON o.id = r.org_id WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "r.name"),
    ("severity", "r.severity"),
    ("created_at", "r.created_at"),
];

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::orgs_in_scope(q, scope, "o.partner_id", "o.id");
}

pub async fn get(db: &Db, scope: &Scope, id: AlertRuleId) -> Result<api::AlertRule, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND r.id = ").push_bind(id);
    db.one::<RuleRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    opts: &ListOpts,
) -> Result<(Vec<api::AlertRule>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND r.org_id = ").push_bind(o);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(r.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "r.name, r.id")?;
    let rows: Vec<RuleRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// Every enabled rule of every live organization, for the alert engine's index
/// (system code path: no tenant scope).
pub async fn enabled_for_system(db: &Db) -> Result<Vec<api::AlertRule>, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND r.enabled = ")
        .push_bind(true)
        .push(" ORDER BY r.id");
    Ok(db
        .all::<RuleRow>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// A rule to create; `targets` and `conditions` in their canonical JSON.
pub struct NewRule {
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub severity: String,
    pub targets: Value,
    pub conditions: Value,
    pub cooldown_minutes: i64,
    pub auto_resolve: bool,
    pub escalation_policy_id: Option<EscalationPolicyId>,
    pub notification_channels: Vec<NotificationChannelId>,
    pub template: Option<String>,
    pub created_by: Option<UserId>,
}

/// Creates a rule (the caller checked the organization is in its scope). A second rule
/// from the same template in one organization is a conflict (`alert_rules.template`).
pub async fn create(db: &Db, r: &NewRule, now: DateTime<Utc>) -> Result<AlertRuleId, StoreError> {
    let id = AlertRuleId::new();
    db.exec(
        Q::new(
            "INSERT INTO alert_rules (id, org_id, name, description, enabled, severity, targets, conditions, \
             cooldown_minutes, auto_resolve, escalation_policy_id, notification_channels, template, created_by, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(r.org_id)
        .bind(r.name.as_str())
        .bind(r.description.clone())
        .bind(r.enabled)
        .bind(r.severity.as_str())
        .bind(r.targets.clone())
        .bind(r.conditions.clone())
        .bind(r.cooldown_minutes)
        .bind(r.auto_resolve)
        .bind(r.escalation_policy_id)
        .bind(serde_json::json!(r.notification_channels))
        .bind(r.template.clone())
        .bind(r.created_by)
        .bind(now)
        .bind(now),
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict("alert_rules.template".into()),
        e => e,
    })?;
    Ok(id)
}

/// The organization's rule made from `template`, if any.
pub async fn by_template(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    template: &str,
) -> Result<Option<api::AlertRule>, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND r.org_id = ")
        .push_bind(org)
        .push(" AND r.template = ")
        .push_bind(template);
    Ok(db.optional::<RuleRow>(q).await?.map(Into::into))
}

/// Writes back a rule the caller fetched through its scope and patched.
pub async fn update(
    db: &Db,
    scope: &Scope,
    r: &api::AlertRule,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, r.id).await?;
    db.exec(
        Q::new(
            "UPDATE alert_rules SET name = ?, description = ?, enabled = ?, severity = ?, targets = ?, \
             conditions = ?, cooldown_minutes = ?, auto_resolve = ?, escalation_policy_id = ?, \
             notification_channels = ?, updated_at = ? WHERE id = ?",
        )
        .bind(r.name.as_str())
        .bind(r.description.clone())
        .bind(r.enabled)
        .bind(r.severity.as_str())
        .bind(r.targets.clone())
        .bind(r.conditions.clone())
        .bind(r.cooldown_minutes)
        .bind(r.auto_resolve)
        .bind(r.escalation_policy_id)
        .bind(serde_json::json!(r.notification_channels))
        .bind(now)
        .bind(r.id),
    )
    .await?;
    Ok(())
}

/// Deletes a rule in scope; its alerts stay (rule_id NULL, rule_name kept).
pub async fn delete(db: &Db, scope: &Scope, id: AlertRuleId) -> Result<(), StoreError> {
    let r = get(db, scope, id).await?;
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new("UPDATE alerts SET rule_name = ? WHERE rule_id = ?")
            .bind(r.name.as_str())
            .bind(id),
    )
    .await?;
    tx.exec(Q::new("DELETE FROM alert_rules WHERE id = ?").bind(id))
        .await?;
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct Id {
    id: Uuid,
}

/// 422 naming `notification_channels` unless every id is a channel of `org`.
pub async fn check_channels(
    db: &Db,
    org: OrgId,
    ids: &[NotificationChannelId],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    if ids.len() > 50 {
        return Err(StoreError::invalid(
            "notification_channels",
            "at most 50 channels",
        ));
    }
    let mut q = Q::new("SELECT id FROM notification_channels WHERE org_id = ");
    q.push_bind(org)
        .push(" AND id IN ")
        .push_list(ids.iter().copied());
    let found: Vec<Id> = db.all(q).await?;
    for (i, c) in ids.iter().enumerate() {
        if !found.iter().any(|f| f.id == c.0) {
            return Err(StoreError::invalid(
                format!("notification_channels[{i}]"),
                "no such notification channel in the rule's organization",
            ));
        }
    }
    Ok(())
}

/// 422 naming `escalation_policy_id` unless it is a policy of `org`.
pub async fn check_policy(db: &Db, org: OrgId, id: EscalationPolicyId) -> Result<(), StoreError> {
    let found: Option<Id> = db
        .optional(
            Q::new("SELECT id FROM escalation_policies WHERE org_id = ? AND id = ?")
                .bind(org)
                .bind(id),
        )
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::invalid(
            "escalation_policy_id",
            "no such escalation policy in the rule's organization",
        )),
    }
}
