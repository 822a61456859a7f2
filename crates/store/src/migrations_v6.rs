//! Migration 6 (issue 11, alerting): alert rules, alerts (one open per rule × device,
//! enforced by a partial unique index), notification channels (credentials sealed by the
//! server), deliveries (one row per notification sent through a channel, driven by a
//! durable job) and escalation policies.

use sea_query::ForeignKeyAction::{Cascade, SetNull};

use crate::migrations::{
    Step, boolean, fk, index, int, int_null, json, table, text, text_null, ts, ts_null, uuid,
    uuid_null,
};

pub(crate) fn v6() -> Vec<Step> {
    let mut steps = Vec::new();

    let mut t = table(
        "escalation_policies",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            text("name"),
            text_null("description"),
            // [{"delay_minutes", "channels": [ids], "targets": {"user_ids", "role_ids"}}]
            json("steps"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(
        &mut t,
        "escalation_policies",
        "org_id",
        "organizations",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "escalation_policies",
        &["org_id"],
        false,
    )));

    let mut t = table(
        "notification_channels",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            text("name"),
            text("type"),
            // The configuration without credentials (what the API shows).
            json("config"),
            // Credentials (webhook secret, tokens, URLs with tokens, SMTP password), sealed
            // with the master key.
            text_null("sealed"),
            boolean("enabled"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(
        &mut t,
        "notification_channels",
        "org_id",
        "organizations",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "notification_channels",
        &["org_id"],
        false,
    )));

    let mut t = table(
        "alert_rules",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            text("name"),
            text_null("description"),
            boolean("enabled"),
            text("severity"),
            json("targets"),
            json("conditions"),
            int("cooldown_minutes"),
            boolean("auto_resolve"),
            uuid_null("escalation_policy_id"),
            // [channel ids]
            json("notification_channels"),
            text_null("template"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut t, "alert_rules", "org_id", "organizations", Cascade);
    fk(
        &mut t,
        "alert_rules",
        "escalation_policy_id",
        "escalation_policies",
        SetNull,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index("alert_rules", &["org_id"], false)));
    // A built-in template is enabled at most once per organization.
    steps.push(Step::Same(
        "CREATE UNIQUE INDEX uq_alert_rules_org_template ON alert_rules (org_id, template) \
         WHERE template IS NOT NULL",
    ));

    let mut t = table(
        "alerts",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            uuid_null("rule_id"),
            // Kept when the rule is deleted, for the history.
            text_null("rule_name"),
            uuid("device_id"),
            // active | acknowledged | resolved | suppressed
            text("status"),
            text("severity"),
            text("title"),
            text_null("message"),
            json("context"),
            ts("triggered_at"),
            ts_null("acknowledged_at"),
            uuid_null("acknowledged_by"),
            ts_null("resolved_at"),
            // a user id, or `auto`
            text_null("resolved_by"),
            text_null("resolution_note"),
            ts_null("suppressed_until"),
            int("escalation_step"),
            ts_null("next_escalation_at"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut t, "alerts", "org_id", "organizations", Cascade);
    fk(&mut t, "alerts", "rule_id", "alert_rules", SetNull);
    fk(&mut t, "alerts", "device_id", "devices", Cascade);
    steps.push(Step::Table(t));
    // One open alert per rule × device.
    steps.push(Step::Same(
        "CREATE UNIQUE INDEX uq_alerts_open_rule_device ON alerts (rule_id, device_id) \
         WHERE status <> 'resolved'",
    ));
    steps.push(Step::Index(index(
        "alerts",
        &["org_id", "status", "triggered_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "alerts",
        &["device_id", "triggered_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "alerts",
        &["rule_id", "device_id", "resolved_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "alerts",
        &["status", "next_escalation_at"],
        false,
    )));

    let mut t = table(
        "alert_deliveries",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            uuid_null("alert_id"),
            uuid("channel_id"),
            // alert.triggered | alert.resolved | alert.escalated | test
            text("event"),
            int_null("escalation_step"),
            // pending | sent | failed
            text("status"),
            int("attempts"),
            text_null("last_error"),
            int_null("response_status"),
            // Sent to the receiver (webhook `Idempotency-Key`, PagerDuty dedup), stable
            // across retries and restarts.
            text("idempotency_key"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("sent_at"),
        ],
    );
    fk(
        &mut t,
        "alert_deliveries",
        "org_id",
        "organizations",
        Cascade,
    );
    fk(&mut t, "alert_deliveries", "alert_id", "alerts", Cascade);
    fk(
        &mut t,
        "alert_deliveries",
        "channel_id",
        "notification_channels",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "alert_deliveries",
        &["alert_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "alert_deliveries",
        &["channel_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "alert_deliveries",
        &["idempotency_key"],
        true,
    )));
    steps
}
