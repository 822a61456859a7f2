//! Deliveries: one row per notification sent (or being sent) through a channel, for an
//! alert event (`alert.triggered`, `alert.resolved`, `alert.escalated` at a step) or a
//! channel test. Each alert delivery carries a unique idempotency key derived from (alert,
//! channel, event, step), so queueing the same notification twice (an engine retry, a
//! restart) finds the existing row instead of adding one; the row and its durable job
//! (`jobs`, kind [`JOB_KIND`], the job's id being the delivery's) are written in one
//! transaction. A sent delivery is marked in the same transaction that removes its job.
//!
//! Also here: what the delivery side reads of rules and alerts (the rule's channels and
//! policy, the alert with its device and organization) and the escalation bookkeeping on
//! `alerts` (`escalation_step`, `next_escalation_at`).

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{
    AlertId, AlertRuleId, DeliveryId, DeviceId, EscalationPolicyId, NotificationChannelId, OrgId,
    PartnerId, SiteId,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

/// The job kind of an alert delivery; the job's payload is `{"delivery": id}`.
pub const JOB_KIND: &str = "alert_delivery";

/// What a rule says about notifying.
#[derive(Clone, Debug)]
pub struct RuleNotify {
    pub name: String,
    pub channels: Vec<NotificationChannelId>,
    pub escalation_policy_id: Option<EscalationPolicyId>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    notification_channels: Json<Vec<NotificationChannelId>>,
    escalation_policy_id: Option<Uuid>,
    name: String,
}

/// The rule's channels, policy and name; `None` when the rule is gone.
pub async fn rule_notify(db: &Db, rule: AlertRuleId) -> Result<Option<RuleNotify>, StoreError> {
    let r: Option<RuleRow> = db
        .optional(
            Q::new(
                "SELECT notification_channels, escalation_policy_id, name FROM alert_rules WHERE id = ?",
            )
            .bind(rule.0),
        )
        .await?;
    Ok(r.map(|r| RuleNotify {
        name: r.name,
        channels: r.notification_channels.0,
        escalation_policy_id: r.escalation_policy_id.map(EscalationPolicyId),
    }))
}

/// An alert as a notification tells it: with its device, organization and rule.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AlertInfo {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: String,
    pub partner_id: Uuid,
    pub rule_id: Option<Uuid>,
    pub rule_name: Option<String>,
    pub device_id: Uuid,
    pub hostname: String,
    pub site_id: Uuid,
    pub status: String,
    pub severity: String,
    pub title: String,
    pub message: Option<String>,
    pub context: Json<Value>,
    pub triggered_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub escalation_step: i64,
}

impl AlertInfo {
    pub fn alert_id(&self) -> AlertId {
        AlertId(self.id)
    }
    pub fn org(&self) -> OrgId {
        OrgId(self.org_id)
    }
    pub fn partner(&self) -> PartnerId {
        PartnerId(self.partner_id)
    }
    pub fn device(&self) -> DeviceId {
        DeviceId(self.device_id)
    }
    pub fn site(&self) -> SiteId {
        SiteId(self.site_id)
    }
}

pub async fn alert_info(db: &Db, alert: AlertId) -> Result<Option<AlertInfo>, StoreError> {
    db.optional(
        Q::new(
            "SELECT a.id, a.org_id, o.name AS org_name, o.partner_id, a.rule_id, \
             COALESCE(r.name, a.rule_name) AS rule_name, a.device_id, d.hostname, d.site_id, \
             a.status, a.severity, a.title, a.message, a.context, a.triggered_at, a.resolved_at, \
             a.escalation_step FROM alerts a JOIN devices d ON d.id = a.device_id \
             JOIN organizations o ON o.id = a.org_id LEFT JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.id = ?",
        )
        .bind(alert.0),
    )
    .await
}

#[derive(sqlx::FromRow)]
struct Found {
    id: Uuid,
}

/// 404 unless the alert is in scope: its organization, and its device's site for
/// site-limited callers.
pub async fn alert_in_scope(db: &Db, scope: &Scope, alert: AlertId) -> Result<(), StoreError> {
    let mut q = Q::new(
        "SELECT a.id FROM alerts a JOIN devices d ON d.id = a.device_id \
         JOIN organizations o ON o.id = a.org_id WHERE o.deleted_at IS NULL",
    );
    tenancy::sites_in_scope(&mut q, scope, "o.partner_id", "o.id", "d.site_id", false);
    if let Some(groups) = &scope.device_groups {
        q.push(
            " AND d.id IN (SELECT m.device_id FROM device_group_memberships m WHERE m.group_id IN ",
        )
        .push_list(groups.iter().copied())
        .push(")");
    }
    q.push(" AND a.id = ").push_bind(alert.0);
    db.one::<Found>(q).await.map(|_| ())
}

/// A delivery to queue.
pub struct NewDelivery {
    pub org_id: OrgId,
    pub alert_id: Option<AlertId>,
    pub channel_id: NotificationChannelId,
    pub event: String,
    pub escalation_step: Option<i64>,
    pub idempotency_key: String,
    /// The text of a notice that is not about an alert (`automation.notify`).
    pub message: Option<String>,
}

/// The idempotency key of an alert notification: the same for every attempt, retry and
/// restart, different per alert, channel, event and step.
pub fn idempotency_key(
    alert: AlertId,
    channel: NotificationChannelId,
    event: &str,
    step: Option<i64>,
) -> String {
    match step {
        Some(s) => format!("{}:{}:{event}:{s}", alert.0, channel.0),
        None => format!("{}:{}:{event}", alert.0, channel.0),
    }
}

/// Queues a delivery and its job in one transaction, unless a delivery with the same
/// idempotency key exists. Answers the delivery's id and whether it was new.
pub async fn queue(
    db: &Db,
    d: &NewDelivery,
    max_attempts: i64,
    now: DateTime<Utc>,
) -> Result<(DeliveryId, bool), StoreError> {
    let id = DeliveryId::new();
    let mut tx = db.begin().await?;
    let inserted = tx
        .exec(
            Q::new(
                "INSERT INTO alert_deliveries (id, org_id, alert_id, channel_id, event, escalation_step, \
                 status, attempts, idempotency_key, message, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(id.0)
            .bind(d.org_id)
            .bind(d.alert_id.map(|a| a.0))
            .bind(d.channel_id.0)
            .bind(d.event.as_str())
            .bind(d.escalation_step)
            .bind(d.idempotency_key.as_str())
            .bind(d.message.clone())
            .bind(now)
            .bind(now),
        )
        .await?;
    if inserted == 0 {
        let f: Found = tx
            .one(
                Q::new("SELECT id FROM alert_deliveries WHERE idempotency_key = ?")
                    .bind(d.idempotency_key.as_str()),
            )
            .await?;
        tx.commit().await?;
        return Ok((DeliveryId(f.id), false));
    }
    tx.exec(
        Q::new(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, next_run_at, \
             created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        )
        .bind(id.0)
        .bind(JOB_KIND)
        .bind(json!({ "delivery": id.0 }))
        .bind(max_attempts.max(1))
        .bind(now)
        .bind(now)
        .bind(now),
    )
    .await?;
    tx.commit().await?;
    Ok((id, true))
}

/// Records a delivery that is sent at once, without a job (a channel's test).
pub async fn insert_unqueued(
    db: &Db,
    id: DeliveryId,
    d: &NewDelivery,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO alert_deliveries (id, org_id, alert_id, channel_id, event, escalation_step, \
             status, attempts, idempotency_key, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        )
        .bind(id.0)
        .bind(d.org_id)
        .bind(d.alert_id.map(|a| a.0))
        .bind(d.channel_id.0)
        .bind(d.event.as_str())
        .bind(d.escalation_step)
        .bind(d.idempotency_key.as_str())
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// A delivery as the worker needs it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub alert_id: Option<Uuid>,
    pub channel_id: Uuid,
    pub event: String,
    pub escalation_step: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub idempotency_key: String,
    pub message: Option<String>,
}

pub async fn load(db: &Db, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
    db.optional(
        Q::new(
            "SELECT id, org_id, alert_id, channel_id, event, escalation_step, status, attempts, \
             idempotency_key, message FROM alert_deliveries WHERE id = ?",
        )
        .bind(id.0),
    )
    .await
}

/// Marks a delivery sent and removes its job (when it has one), in one transaction: a
/// delivery is never both sent and still queued.
pub async fn mark_sent(
    db: &Db,
    id: DeliveryId,
    attempts: i64,
    response_status: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new(
            "UPDATE alert_deliveries SET status = 'sent', attempts = ?, response_status = ?, \
             last_error = NULL, sent_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(attempts)
        .bind(response_status)
        .bind(now)
        .bind(now)
        .bind(id.0),
    )
    .await?;
    tx.exec(Q::new("DELETE FROM jobs WHERE id = ?").bind(id.0))
        .await?;
    tx.commit().await
}

/// Records a failed attempt: `failed` for good when `last` is true, else still `pending`.
/// `error` is the server's own category text, never the receiver's.
pub async fn mark_failed(
    db: &Db,
    id: DeliveryId,
    attempts: i64,
    error: &str,
    response_status: Option<i64>,
    last: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE alert_deliveries SET status = ?, attempts = ?, last_error = ?, response_status = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(if last { "failed" } else { "pending" })
        .bind(attempts)
        .bind(error)
        .bind(response_status)
        .bind(now)
        .bind(id.0),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    alert_id: Option<Uuid>,
    channel_id: Uuid,
    channel_name: String,
    channel_type: String,
    event: String,
    escalation_step: Option<i64>,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    response_status: Option<i64>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for api::Delivery {
    fn from(r: DeliveryRow) -> Self {
        api::Delivery {
            id: DeliveryId(r.id),
            alert_id: r.alert_id.map(AlertId),
            channel_id: NotificationChannelId(r.channel_id),
            channel_name: r.channel_name,
            channel_type: r.channel_type,
            event: r.event,
            escalation_step: r.escalation_step,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            response_status: r.response_status,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

const COLS: &str = "SELECT d.id, d.alert_id, d.channel_id, c.name AS channel_name, \
    c.type AS channel_type, d.event, d.escalation_step, d.status, d.attempts, d.last_error, \
    d.response_status, d.created_at, d.sent_at FROM alert_deliveries d \
    JOIN notification_channels c ON c.id = d.channel_id \
    JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL";

/// A delivery in scope (its organization's).
pub async fn get(db: &Db, scope: &Scope, id: DeliveryId) -> Result<api::Delivery, StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND d.id = ").push_bind(id.0);
    db.one::<DeliveryRow>(q).await.map(Into::into)
}

/// A channel's delivery log, newest first. The caller checked the channel's scope.
pub async fn list_for_channel(
    db: &Db,
    scope: &Scope,
    channel: NotificationChannelId,
    opts: &ListOpts,
) -> Result<(Vec<api::Delivery>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND d.channel_id = ").push_bind(channel.0);
    opts.finish(&mut q, &[], "d.created_at DESC, d.id DESC")?;
    let rows: Vec<DeliveryRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// An alert's delivery log, newest first. The caller checked the alert's scope.
pub async fn list_for_alert(
    db: &Db,
    scope: &Scope,
    alert: AlertId,
    opts: &ListOpts,
) -> Result<(Vec<api::Delivery>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND d.alert_id = ").push_bind(alert.0);
    opts.finish(&mut q, &[], "d.created_at DESC, d.id DESC")?;
    let rows: Vec<DeliveryRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

#[derive(sqlx::FromRow)]
struct ChannelIdRow {
    channel_id: Uuid,
}

/// The channels an alert was notified through (any event), to send its resolution to.
pub async fn channels_notified(
    db: &Db,
    alert: AlertId,
) -> Result<Vec<NotificationChannelId>, StoreError> {
    let rows: Vec<ChannelIdRow> = db
        .all(
            Q::new(
                "SELECT DISTINCT channel_id FROM alert_deliveries WHERE alert_id = ? \
                 AND event IN ('alert.triggered', 'alert.escalated')",
            )
            .bind(alert.0),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| NotificationChannelId(r.channel_id))
        .collect())
}

/// Sets where an alert stands on its escalation ladder.
pub async fn set_escalation(
    db: &Db,
    alert: AlertId,
    step: i64,
    next_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE alerts SET escalation_step = ?, next_escalation_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(step)
        .bind(next_at)
        .bind(now)
        .bind(alert.0),
    )
    .await?;
    Ok(())
}

/// An active alert whose next escalation step is due.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DueEscalation {
    pub alert_id: Uuid,
    pub escalation_step: i64,
    pub escalation_policy_id: Uuid,
    pub triggered_at: DateTime<Utc>,
}

/// Active alerts (not acknowledged, resolved or suppressed) whose next step is due.
pub async fn due_escalations(
    db: &Db,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueEscalation>, StoreError> {
    db.all(
        Q::new(
            "SELECT a.id AS alert_id, a.escalation_step, r.escalation_policy_id, a.triggered_at \
             FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.status = 'active' AND a.next_escalation_at IS NOT NULL \
             AND a.next_escalation_at <= ? AND r.escalation_policy_id IS NOT NULL \
             ORDER BY a.next_escalation_at LIMIT ?",
        )
        .bind(now)
        .bind(limit),
    )
    .await
}

/// Moves an active alert from step `from` to `to` (compare and set: answers false when
/// another sweep moved it first or the alert is no longer active).
pub async fn advance_escalation(
    db: &Db,
    alert: AlertId,
    from: i64,
    to: i64,
    next_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE alerts SET escalation_step = ?, next_escalation_at = ?, updated_at = ? \
                 WHERE id = ? AND escalation_step = ? AND status = 'active'",
            )
            .bind(to)
            .bind(next_at)
            .bind(now)
            .bind(alert.0)
            .bind(from),
        )
        .await?;
    Ok(n == 1)
}

/// Stops the ladder of a policy-less or finished alert.
pub async fn stop_escalation(
    db: &Db,
    alert: AlertId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE alerts SET next_escalation_at = NULL, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(alert.0),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct NameRow {
    name: String,
}

/// An organization's name, for messages (the worker acts for no user).
pub async fn org_name(db: &Db, org: OrgId) -> Result<Option<String>, StoreError> {
    let r: Option<NameRow> = db
        .optional(Q::new("SELECT name FROM organizations WHERE id = ?").bind(org))
        .await?;
    Ok(r.map(|r| r.name))
}
