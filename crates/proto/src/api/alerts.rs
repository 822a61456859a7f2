//! Alerting (issue 11): alert rules, the alerts they raise, notification channels, the
//! deliveries sent through them, and escalation policies.
//!
//! Rule `targets` and `conditions` travel as JSON objects here; the server parses them into
//! checked types (`breeze_core::alerts`) and answers 422 naming the bad part.

use super::*;

api_type! {
    /// An alert rule: which devices it watches, what it watches for, who hears of it.
    pub struct AlertRule {
        pub id: AlertRuleId,
        pub org_id: OrgId,
        pub name: String,
        pub description: Option<String>,
        pub enabled: bool,
        /// `critical`, `high`, `medium`, `low` or `info`.
        pub severity: String,
        /// `{"all": true}` or `{"site_ids": [...], "group_ids": [...], "device_ids": [...], "os_types": [...]}`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        /// One condition, or `{"all": [...]}` / `{"any": [...]}` of conditions.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub conditions: Value,
        pub cooldown_minutes: i64,
        pub auto_resolve: bool,
        pub escalation_policy_id: Option<EscalationPolicyId>,
        pub notification_channels: Vec<NotificationChannelId>,
        /// The built-in template the rule was made from, if any.
        pub template: Option<String>,
        /// Alerts of this rule not yet resolved.
        pub open_alerts: i64,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// A built-in rule template (`GET /api/v1/alert-rules/templates`).
    pub struct AlertRuleTemplate {
        /// `cpu_high`, `memory_high`, `disk_almost_full`, `device_offline`, `antivirus_removed`.
        pub key: String,
        pub name: String,
        pub description: String,
        pub severity: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub conditions: Value,
        pub cooldown_minutes: i64,
    }

    /// What `POST /api/v1/alert-rules/{id}/test` found, without raising or notifying.
    pub struct AlertRuleTestResult {
        pub rule_id: AlertRuleId,
        /// Devices the rule targets.
        pub evaluated_devices: i64,
        /// Devices whose current data meet the conditions.
        pub firing_devices: i64,
        pub devices: Vec<AlertRuleTestDevice>,
    }

    pub struct AlertRuleTestDevice {
        pub device_id: DeviceId,
        pub hostname: String,
        pub firing: bool,
        /// The values, thresholds and window the evaluation saw.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub context: Value,
    }

    /// An alert: one rule firing on one device.
    pub struct Alert {
        pub id: AlertId,
        pub org_id: OrgId,
        /// `null` once the rule was deleted.
        pub rule_id: Option<AlertRuleId>,
        pub rule_name: Option<String>,
        pub device_id: DeviceId,
        pub hostname: String,
        pub site_id: SiteId,
        /// `active`, `acknowledged`, `resolved` or `suppressed`.
        pub status: String,
        pub severity: String,
        pub title: String,
        pub message: Option<String>,
        /// The values, thresholds and window that fired the alert.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub context: Value,
        pub triggered_at: DateTime<Utc>,
        pub acknowledged_at: Option<DateTime<Utc>>,
        pub acknowledged_by: Option<UserId>,
        pub resolved_at: Option<DateTime<Utc>>,
        /// A user id, or `auto` when the condition cleared.
        pub resolved_by: Option<String>,
        pub resolution_note: Option<String>,
        pub suppressed_until: Option<DateTime<Utc>>,
        /// The escalation step reached (0 = the first).
        pub escalation_step: i64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// Open alerts by severity (`GET /api/v1/alerts/counts`).
    pub struct AlertCounts {
        pub active: i64,
        pub acknowledged: i64,
        pub suppressed: i64,
        pub critical: i64,
        pub high: i64,
        pub medium: i64,
        pub low: i64,
        pub info: i64,
    }

    /// A notification channel. Credentials (webhook secrets, Slack/Teams/PagerDuty/SMS
    /// tokens, SMTP passwords) are sealed at rest and never returned.
    pub struct NotificationChannel {
        pub id: NotificationChannelId,
        pub org_id: OrgId,
        pub name: String,
        /// `email`, `webhook`, `slack`, `teams`, `pagerduty` or `sms`.
        #[serde(rename = "type")]
        pub channel_type: String,
        /// The configuration without its credentials.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub config: Value,
        pub enabled: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// `POST /api/v1/notification-channels` answer: the channel, and a webhook's signing
    /// secret, shown this once.
    pub struct NotificationChannelCreated {
        #[serde(flatten)]
        pub channel: NotificationChannel,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub secret: Option<String>,
    }

    /// One notification sent (or being sent) through a channel.
    pub struct Delivery {
        pub id: DeliveryId,
        pub alert_id: Option<AlertId>,
        pub channel_id: NotificationChannelId,
        pub channel_name: String,
        pub channel_type: String,
        /// `alert.triggered`, `alert.resolved`, `alert.escalated` or `test`.
        pub event: String,
        pub escalation_step: Option<i64>,
        /// `pending`, `sent` or `failed`.
        pub status: String,
        pub attempts: i64,
        /// The server's own category of the last failure; never the receiver's body.
        pub last_error: Option<String>,
        /// The receiver's HTTP status (or SMTP reply code), when it answered.
        pub response_status: Option<i64>,
        pub created_at: DateTime<Utc>,
        pub sent_at: Option<DateTime<Utc>>,
    }

    /// An escalation policy: a ladder of steps, climbed while the alert stays unacknowledged.
    pub struct EscalationPolicy {
        pub id: EscalationPolicyId,
        pub org_id: OrgId,
        pub name: String,
        pub description: Option<String>,
        pub steps: Vec<EscalationStep>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

request_type! {
    /// One rung of an escalation ladder: `delay_minutes` after the alert was raised, notify
    /// these channels and e-mail these users and role holders.
    pub struct EscalationStep {
        pub delay_minutes: u32,
        #[serde(default)]
        pub channels: Vec<NotificationChannelId>,
        #[serde(default)]
        pub targets: EscalationTargets,
    }

    /// People an escalation step e-mails (through the partner's SMTP settings).
    #[derive(Default)]
    pub struct EscalationTargets {
        #[serde(default)]
        pub user_ids: Vec<UserId>,
        #[serde(default)]
        pub role_ids: Vec<RoleId>,
    }

    pub struct CreateAlertRule {
        pub org_id: OrgId,
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        /// Default `true`.
        #[serde(default)]
        pub enabled: Option<bool>,
        pub severity: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub conditions: Value,
        /// Minutes after an alert resolves before the rule may raise another on the same
        /// device (default 15).
        #[serde(default)]
        pub cooldown_minutes: Option<u32>,
        /// Resolve the alert when the condition clears (default `true`).
        #[serde(default)]
        pub auto_resolve: Option<bool>,
        #[serde(default)]
        pub notification_channels: Vec<NotificationChannelId>,
        #[serde(default)]
        pub escalation_policy_id: Option<EscalationPolicyId>,
    }

    pub struct UpdateAlertRule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub description: Option<Option<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub severity: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub targets: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub conditions: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cooldown_minutes: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auto_resolve: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub notification_channels: Option<Vec<NotificationChannelId>>,
        /// `null` removes the policy.
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub escalation_policy_id: Option<Option<EscalationPolicyId>>,
    }

    /// `POST /api/v1/alert-rules/from-template`: enable built-in rules for an organization.
    pub struct RulesFromTemplate {
        pub org_id: OrgId,
        /// Template keys; all of them when absent.
        #[serde(default)]
        pub templates: Option<Vec<String>>,
        #[serde(default)]
        pub notification_channels: Vec<NotificationChannelId>,
    }

    /// `POST /api/v1/alerts/{id}/resolve`.
    #[derive(Default)]
    pub struct ResolveAlert {
        #[serde(default)]
        pub note: Option<String>,
    }

    /// `POST /api/v1/alerts/{id}/suppress`: silence until a time.
    pub struct SuppressAlert {
        pub until: DateTime<Utc>,
        #[serde(default)]
        pub note: Option<String>,
    }

    /// `POST /api/v1/alerts/acknowledge` and `/api/v1/alerts/resolve`: many at once.
    pub struct BulkAlerts {
        pub ids: Vec<AlertId>,
        #[serde(default)]
        pub note: Option<String>,
    }

    pub struct CreateNotificationChannel {
        pub org_id: OrgId,
        pub name: String,
        #[serde(rename = "type")]
        pub channel_type: String,
        /// Email `{"to": ["a@b.c"], "smtp"?: {...}}`; webhook `{"url", "headers"?}`;
        /// slack/teams `{"url"}`; pagerduty `{"routing_key"}`; sms `{"url", "to": [...], "token"?}`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub config: Value,
        /// Default `true`.
        #[serde(default)]
        pub enabled: Option<bool>,
    }

    pub struct UpdateNotificationChannel {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// Replaces the configuration; credentials left out are kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub config: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
    }

    pub struct CreateEscalationPolicy {
        pub org_id: OrgId,
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        pub steps: Vec<EscalationStep>,
    }

    pub struct UpdateEscalationPolicy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub description: Option<Option<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub steps: Option<Vec<EscalationStep>>,
    }
}

/// `GET /api/v1/alerts` (and `/api/v1/devices/{id}/alerts`) filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AlertListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `open` means active, acknowledged or suppressed.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::alert_status_filter))]
    pub status: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::alert_severity))]
    pub severity: Option<String>,
    pub org_id: Option<OrgId>,
    pub device_id: Option<DeviceId>,
    pub rule_id: Option<AlertRuleId>,
    /// Triggered at or after.
    pub from: Option<DateTime<Utc>>,
    /// Triggered before.
    pub to: Option<DateTime<Utc>>,
}

/// `GET /api/v1/alert-rules`, `/notification-channels`, `/escalation-policies` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AlertingListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub org_id: Option<OrgId>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// `GET /api/v1/alerts/counts` filter.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AlertCountsQuery {
    pub org_id: Option<OrgId>,
}
