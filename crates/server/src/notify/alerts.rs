//! Alert notifications: the alert engine calls [`alert_event`] when an alert is raised or
//! resolved; this turns the rule's channels (and its escalation policy's first step) into
//! deliveries, each a durable job run by the delivery worker ([`deliver`]). The sweep
//! calls [`escalate_due`] to climb the ladder of alerts nobody acknowledged.
//!
//! Exactly once, as far as the receiver allows: a delivery row is unique per (alert,
//! channel, event, step) and written with its job in one transaction, so a repeated event
//! or a restart never queues a second one; a sent delivery is marked sent in the same
//! transaction that removes its job. A crash after the receiver accepted a request but
//! before that transaction commits sends it again after the job's lease ends, with the
//! same `Idempotency-Key` header (webhooks) and the same PagerDuty `dedup_key`, so a
//! receiver that honours them sees it once. E-mail and SMS have no such key. When the
//! attempt that died was the last one allowed, the delivery ends `failed` ("the worker
//! stopped during the last attempt"), never `pending` for ever.

use crate::notify::channels::{self, Notice};
use crate::notify::http::Failure;
use crate::state::AppState;
use anyhow::Context;
use breeze_proto::api::{Alert, EscalationPolicy};
use breeze_proto::ids::{AlertId, DeliveryId, NotificationChannelId, OrgId, PartnerId};
use breeze_store::deliveries::{self, AlertInfo, NewDelivery};
use breeze_store::jobs::Job;
use breeze_store::{escalation_policies, notification_channels};

/// What happened to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEvent {
    Triggered,
    Resolved,
}

impl AlertEvent {
    /// The `event` of a webhook body.
    pub fn name(self) -> &'static str {
        match self {
            AlertEvent::Triggered => "alert.triggered",
            AlertEvent::Resolved => "alert.resolved",
        }
    }
}

/// Queues the notifications for `alert`: one delivery per channel of its rule, and on a
/// trigger the first step of its escalation policy.
pub async fn alert_event(state: &AppState, alert: &Alert, event: AlertEvent) -> anyhow::Result<()> {
    let Some(rule_id) = alert.rule_id else {
        return Ok(());
    };
    if matches!(event, AlertEvent::Triggered) {
        crate::automations::on_event(
            state,
            crate::automations::AutomationEvent::AlertTriggered {
                org_id: alert.org_id,
                site_id: alert.site_id,
                device_id: alert.device_id,
                rule_id,
                alert_id: alert.id,
            },
        );
    }
    let Some(rule) = deliveries::rule_notify(&state.db, rule_id)
        .await
        .context("reading the alert's rule")?
    else {
        return Ok(());
    };
    match event {
        AlertEvent::Triggered => {
            for ch in dedup(rule.channels) {
                queue(state, alert.org_id, alert.id, ch, event.name(), None).await?;
            }
            if let Some(p) = rule.escalation_policy_id
                && let Some(policy) = escalation_policies::load(&state.db, p).await?
            {
                start_escalation(state, alert, &policy).await?;
            }
        }
        AlertEvent::Resolved => {
            let mut chans = rule.channels;
            chans.extend(deliveries::channels_notified(&state.db, alert.id).await?);
            for ch in dedup(chans) {
                queue(state, alert.org_id, alert.id, ch, event.name(), None).await?;
            }
            deliveries::stop_escalation(&state.db, alert.id, state.now()).await?;
        }
    }
    state.delivery.wake();
    Ok(())
}

fn dedup(mut v: Vec<NotificationChannelId>) -> Vec<NotificationChannelId> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|c| seen.insert(*c));
    v
}

/// Queues one delivery (once per idempotency key) through an enabled channel of the
/// alert's organization; channels elsewhere or switched off are skipped.
async fn queue(
    state: &AppState,
    org: OrgId,
    alert: AlertId,
    channel: NotificationChannelId,
    event: &str,
    step: Option<i64>,
) -> anyhow::Result<()> {
    let c = match notification_channels::load(&state.db, channel).await {
        Ok(c) => c,
        Err(breeze_store::StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if c.channel.org_id != org || !c.channel.enabled {
        return Ok(());
    }
    deliveries::queue(
        &state.db,
        &NewDelivery {
            org_id: org,
            alert_id: Some(alert),
            channel_id: channel,
            event: event.to_string(),
            escalation_step: step,
            message: None,
            idempotency_key: deliveries::idempotency_key(alert, channel, event, step),
        },
        i64::from(state.config.outbound.max_attempts),
        state.now(),
    )
    .await
    .context("queueing a delivery")?;
    Ok(())
}

fn due_at(
    triggered: chrono::DateTime<chrono::Utc>,
    policy: &EscalationPolicy,
    step: usize,
) -> Option<chrono::DateTime<chrono::Utc>> {
    policy
        .steps
        .get(step)
        .map(|s| triggered + chrono::Duration::minutes(i64::from(s.delay_minutes)))
}

/// The first rung: a step with no delay notifies now; otherwise the alert waits at step
/// -1 until the first step's delay has passed.
async fn start_escalation(
    state: &AppState,
    alert: &Alert,
    policy: &EscalationPolicy,
) -> anyhow::Result<()> {
    let Some(first) = policy.steps.first() else {
        return Ok(());
    };
    let now = state.now();
    if first.delay_minutes == 0 {
        let Some(info) = deliveries::alert_info(&state.db, alert.id).await? else {
            return Ok(());
        };
        notify_step(state, &info, policy, 0).await?;
        deliveries::set_escalation(
            &state.db,
            alert.id,
            0,
            due_at(alert.triggered_at, policy, 1),
            now,
        )
        .await?;
        mail_step(state, &info, policy, 0).await?;
    } else {
        deliveries::set_escalation(
            &state.db,
            alert.id,
            -1,
            due_at(alert.triggered_at, policy, 0),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Queues the channel deliveries of step `n` (idempotent).
async fn notify_step(
    state: &AppState,
    info: &AlertInfo,
    policy: &EscalationPolicy,
    n: usize,
) -> anyhow::Result<()> {
    let Some(step) = policy.steps.get(n) else {
        return Ok(());
    };
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    for ch in dedup(step.channels.clone()) {
        queue(
            state,
            info.org(),
            info.alert_id(),
            ch,
            "alert.escalated",
            Some(n),
        )
        .await?;
    }
    Ok(())
}

/// E-mails the users and role holders of step `n` through the partner's SMTP (the mail
/// queue): sent after the step was claimed, so at most once per step.
async fn mail_step(
    state: &AppState,
    info: &AlertInfo,
    policy: &EscalationPolicy,
    n: usize,
) -> anyhow::Result<()> {
    let Some(step) = policy.steps.get(n) else {
        return Ok(());
    };
    let to = escalation_policies::recipients(
        &state.db,
        info.org(),
        &step.targets.user_ids,
        &step.targets.role_ids,
    )
    .await?;
    if to.is_empty() {
        return Ok(());
    }
    let notice = Notice {
        event: "alert.escalated",
        alert: Some(info),
        escalation_step: Some(i64::try_from(n).unwrap_or(i64::MAX)),
        delivery_id: uuid::Uuid::nil(),
        idempotency_key: "",
        org_name: &info.org_name,
        sent_at: state.now(),
        message: None,
    };
    let subject = format!("[Breeze] {}", notice.summary());
    for addr in to {
        crate::notify::queue::enqueue_mail(
            state,
            Some(info.partner()),
            &addr,
            &subject,
            notice.details(),
        )
        .await?;
    }
    Ok(())
}

/// Climbs the ladder of every active alert whose next step is due (called by the sweep).
/// Acknowledged, resolved and suppressed alerts are not active and stop climbing.
pub async fn escalate_due(state: &AppState) -> anyhow::Result<u64> {
    let now = state.now();
    let mut climbed = 0;
    for due in deliveries::due_escalations(&state.db, now, 200).await? {
        let alert = AlertId(due.alert_id);
        let policy = escalation_policies::load(
            &state.db,
            breeze_proto::ids::EscalationPolicyId(due.escalation_policy_id),
        )
        .await?;
        let next = usize::try_from(due.escalation_step + 1).unwrap_or(0);
        let Some(policy) = policy.filter(|p| next < p.steps.len()) else {
            deliveries::stop_escalation(&state.db, alert, now).await?;
            continue;
        };
        let Some(info) = deliveries::alert_info(&state.db, alert).await? else {
            continue;
        };
        // Deliveries first (idempotent: a sweep that dies here queues nothing twice), then
        // the step is claimed, then the e-mails (once, by the sweep that claimed it).
        notify_step(state, &info, &policy, next).await?;
        let to = i64::try_from(next).unwrap_or(i64::MAX);
        if deliveries::advance_escalation(
            &state.db,
            alert,
            due.escalation_step,
            to,
            due_at(due.triggered_at, &policy, next + 1),
            now,
        )
        .await?
        {
            climbed += 1;
            mail_step(state, &info, &policy, next).await?;
        }
    }
    if climbed > 0 {
        state.delivery.wake();
    }
    Ok(climbed)
}

/// How a delivery job ended, for the queue.
pub enum Outcome {
    /// Sent, and the job removed with the delivery marked sent.
    Done,
    Failed(Failure),
}

/// Runs a delivery job: sends the delivery once through its channel and records the
/// attempt. `partner` learns whose delivery it was (for the audit row of a final failure).
pub async fn deliver(state: &AppState, job: &Job, partner: &mut Option<PartnerId>) -> Outcome {
    match try_deliver(state, job, partner).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), job = %job.id, "delivery");
            Outcome::Failed(Failure::retry("the delivery could not be recorded", None))
        }
    }
}

fn delivery_of(job: &Job) -> Option<DeliveryId> {
    job.payload
        .get("delivery")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .map(DeliveryId)
}

/// A delivery job the queue failed because its worker died during the last attempt: the
/// delivery ends `failed` with `reason` (it may have reached the receiver; nothing tells).
/// Answers whose delivery it was, for the audit row.
pub async fn abandoned(
    state: &AppState,
    job: &Job,
    reason: &str,
) -> anyhow::Result<Option<PartnerId>> {
    let Some(id) = delivery_of(job) else {
        return Ok(None);
    };
    let Some(d) = deliveries::load(&state.db, id).await? else {
        return Ok(None);
    };
    if d.status == "pending" {
        deliveries::mark_failed(&state.db, id, job.attempts, reason, None, true, state.now())
            .await?;
    }
    match notification_channels::load(&state.db, NotificationChannelId(d.channel_id)).await {
        Ok(c) => Ok(Some(c.partner_id)),
        Err(breeze_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn try_deliver(
    state: &AppState,
    job: &Job,
    partner: &mut Option<PartnerId>,
) -> anyhow::Result<Outcome> {
    let Some(id) = delivery_of(job) else {
        return Ok(Outcome::Failed(Failure::permanent(
            "the job's payload is unreadable",
        )));
    };
    let Some(d) = deliveries::load(&state.db, id).await? else {
        return Ok(Outcome::Failed(Failure::permanent("the delivery is gone")));
    };
    if d.status == "sent" {
        // Sent and marked, but the job survived (it cannot: one transaction); finish it.
        deliveries::mark_sent(&state.db, id, d.attempts, None, state.now()).await?;
        return Ok(Outcome::Done);
    }
    let c = notification_channels::load(&state.db, NotificationChannelId(d.channel_id)).await?;
    *partner = Some(c.partner_id);
    let info = match d.alert_id {
        Some(a) => deliveries::alert_info(&state.db, AlertId(a)).await?,
        None => None,
    };
    let org_name = match &info {
        Some(i) => i.org_name.clone(),
        None => deliveries::org_name(&state.db, c.channel.org_id)
            .await?
            .unwrap_or_default(),
    };
    let result = if c.channel.enabled {
        let n = Notice {
            event: &d.event,
            alert: info.as_ref(),
            escalation_step: d.escalation_step,
            delivery_id: d.id,
            idempotency_key: &d.idempotency_key,
            org_name: &org_name,
            sent_at: state.now(),
            message: d.message.as_deref(),
        };
        channels::send(state, &c, &n).await
    } else {
        Err(Failure::permanent("the channel is switched off"))
    };
    let now = state.now();
    match result {
        Ok(status) => {
            deliveries::mark_sent(&state.db, id, job.attempts, status, now).await?;
            Ok(Outcome::Done)
        }
        Err(f) => {
            let last = f.permanent || job.attempts >= job.max_attempts;
            deliveries::mark_failed(&state.db, id, job.attempts, &f.reason, f.status, last, now)
                .await?;
            Ok(Outcome::Failed(f))
        }
    }
}
