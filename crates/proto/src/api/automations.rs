//! Automations (issue 13): workflows with a trigger (schedule, event, webhook, manual),
//! targets (the alert-rule shape), optional conditions, ordered actions, and the runs they
//! make.
//!
//! `trigger`, `targets`, `conditions` and `actions` travel as JSON objects here; the server
//! parses them into checked types and answers 422 naming the bad part (`actions[2].then[0].script_id`).
//!
//! **trigger** (one of):
//! - `{"type":"schedule","cron":"*/5 * * * *","timezone":"Europe/Berlin","missed":"skip"|"run_once"}`
//!   (`missed` defaults to `skip`: what to do with slots missed while the server was down);
//! - `{"type":"event","event":"device.enrolled"|"device.offline"|"alert.triggered"|"script.failed"|"software.changed"}`
//!   with `"minutes": N` (device.offline: offline for N minutes), `"rule_id"` (alert.triggered:
//!   only this alert rule), `"script_id"` (script.failed: only this script);
//! - `{"type":"webhook"}` (`POST /api/v1/automations/{id}/webhook`, signed with the secret
//!   answered once at creation);
//! - `{"type":"manual"}`.
//!
//! **targets**: `{"all": true}` or `{"site_ids", "group_ids", "device_ids", "os_types"}`,
//! exactly as alert rules (dynamic groups are resolved when a run starts).
//!
//! **conditions** (optional, checked per device when a run starts; a device that does not
//! match is recorded `skipped` with the reason):
//! `{"os_types":[…], "status":["online",…], "site_ids":[…], "tags":[…] (all must be present),
//!   "time_window":{"days":[1..7] (1 = Monday), "start":"08:00", "end":"18:00", "timezone":"Europe/Berlin"}}`.
//!
//! **actions** (ordered, at most 50 in all, `then`/`else` nested at most 3 deep):
//! - `{"type":"run_script","script_id","parameters":{…},"timeout_seconds"?}`: a normal script
//!   execution (trigger type `automation`); the step fails when the command fails, times out,
//!   is lost, or the script exits non-zero — except when the next step is a `condition`,
//!   which then judges the exit code itself;
//! - `{"type":"notify","channel_ids":[…],"message":"…"}`: one delivery per channel through
//!   the notification channels (event `automation.notify`);
//! - `{"type":"update_device","tags_add"?:[…],"tags_remove"?:[…],"display_name"?:"…"}`;
//! - `{"type":"run_automation","automation_id"}`: starts that automation on this device
//!   (a nested run, at most 3 deep; a cycle fails the step, never loops);
//! - `{"type":"wait","seconds":N}` (durable: resumed by the sweep once the time has passed);
//! - `{"type":"condition","if":{"exit_code":{"eq":0}} | {"exit_code":{"ne":0}} | {"output_contains":"…"},"then":[…],"else":[…]}`
//!   on the previous run_script step's exit code / output.
//!
//! **on_failure**: `stop` (the device's run ends `failed` at the failed step), `continue`
//! (the next steps run; the device still ends `failed`), or `notify` (stop, and send a
//! notice through `notify_channel_ids`).
//!
//! Step paths name a step in the action tree: `"0"`, `"2.then.0"`, `"2.else.1.then.0"`.

use super::*;

api_type! {
    /// An automation.
    pub struct Automation {
        pub id: AutomationId,
        pub org_id: OrgId,
        pub name: String,
        pub description: Option<String>,
        pub enabled: bool,
        /// See the module docs: `{"type": "schedule"|"event"|"webhook"|"manual", …}`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub trigger: Value,
        /// `{"all": true}` or `{"site_ids": [...], "group_ids": [...], "device_ids": [...], "os_types": [...]}`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        /// Device filters and a time window, or `null`.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub conditions: Option<Value>,
        /// The ordered steps (see the module docs for each `type`).
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
        pub actions: Vec<Value>,
        /// `stop`, `continue` or `notify`.
        pub on_failure: String,
        /// Channels told when a step fails and `on_failure` is `notify`.
        pub notify_channel_ids: Vec<NotificationChannelId>,
        /// The next schedule slot (schedule triggers).
        pub next_run_at: Option<DateTime<Utc>>,
        /// The last schedule slot that fired.
        pub last_slot_at: Option<DateTime<Utc>>,
        /// Whether a webhook secret is set (the secret itself is never shown again).
        pub has_webhook_secret: bool,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// `POST /api/v1/automations` answer (and the webhook secret rotation): the
    /// automation, and a webhook automation's signing secret, shown this once.
    pub struct AutomationCreated {
        #[serde(flatten)]
        pub automation: Automation,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub secret: Option<String>,
    }

    /// One run of an automation.
    pub struct AutomationRun {
        pub id: AutomationRunId,
        pub automation_id: AutomationId,
        pub automation_name: String,
        pub org_id: OrgId,
        /// `pending`, `running`, `completed`, `failed`, `partial`, `interrupted` or `cancelled`.
        pub status: String,
        pub trigger: AutomationRunTrigger,
        pub triggered_by: Option<UserId>,
        /// The schedule slot this run is for (schedule triggers).
        pub scheduled_for: Option<DateTime<Utc>>,
        /// Nesting depth: 0, or 1..3 for runs started by a `run_automation` step.
        pub depth: i64,
        pub started_at: DateTime<Utc>,
        pub finished_at: Option<DateTime<Utc>>,
        pub devices_targeted: i64,
        pub devices_succeeded: i64,
        pub devices_failed: i64,
        pub devices_skipped: i64,
        pub error: Option<String>,
    }

    /// What started a run.
    pub struct AutomationRunTrigger {
        /// `schedule`, `event`, `webhook`, `manual` or `automation` (a `run_automation` step).
        #[serde(rename = "type")]
        pub trigger_type: String,
        /// The event, webhook body, slot or parent run.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub context: Value,
    }

    /// `GET /api/v1/automation-runs/{id}`: the run and its per-device results.
    pub struct AutomationRunDetail {
        #[serde(flatten)]
        pub run: AutomationRun,
        pub devices: Vec<AutomationRunDevice>,
    }

    /// One device's part of a run.
    pub struct AutomationRunDevice {
        pub device_id: DeviceId,
        pub hostname: String,
        /// `pending`, `running`, `waiting`, `completed`, `failed`, `skipped`, `interrupted` or `cancelled`.
        pub status: String,
        pub started_at: Option<DateTime<Utc>>,
        pub finished_at: Option<DateTime<Utc>>,
        pub error: Option<String>,
        /// The step log, in the order the steps ran.
        pub steps: Vec<AutomationStepLog>,
    }

    /// One step as it ran on one device.
    pub struct AutomationStepLog {
        /// Position in the order the steps ran (0, 1, …).
        pub index: i64,
        /// The step in the action tree: `"0"`, `"2.then.0"`.
        pub path: String,
        /// The action type.
        #[serde(rename = "type")]
        pub step_type: String,
        /// `running`, `waiting`, `completed`, `failed`, `skipped` or `interrupted`.
        pub status: String,
        pub started_at: DateTime<Utc>,
        pub finished_at: Option<DateTime<Utc>>,
        pub exit_code: Option<i64>,
        /// Script output (stdout, then stderr), at most 4 KiB.
        pub output: Option<String>,
        /// What happened (branch taken, wait end, error, nested run).
        pub message: Option<String>,
        pub execution_id: Option<ExecutionId>,
    }

    /// `POST /api/v1/automations/{id}/run` and the webhook's answer.
    pub struct AutomationRunStarted {
        /// `null` when no run started (the automation is disabled).
        pub run_id: Option<AutomationRunId>,
    }
}

request_type! {
    pub struct CreateAutomation {
        pub org_id: OrgId,
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        /// Default `true`.
        #[serde(default)]
        pub enabled: Option<bool>,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub trigger: Value,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub conditions: Option<Value>,
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
        pub actions: Vec<Value>,
        /// `stop` (default), `continue` or `notify`.
        #[serde(default)]
        pub on_failure: Option<String>,
        /// Required non-empty when `on_failure` is `notify`.
        #[serde(default)]
        pub notify_channel_ids: Vec<NotificationChannelId>,
    }

    pub struct UpdateAutomation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub description: Option<Option<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        /// Changing the type to `webhook` answers a new secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub trigger: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub targets: Option<Value>,
        /// `null` removes the conditions.
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub conditions: Option<Option<Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
        pub actions: Option<Vec<Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub on_failure: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub notify_channel_ids: Option<Vec<NotificationChannelId>>,
    }

    /// `POST /api/v1/automations/{id}/run` body (optional).
    #[derive(Default)]
    pub struct RunAutomation {
        /// Only these of the automation's target devices; all of them when absent.
        #[serde(default)]
        pub device_ids: Option<Vec<DeviceId>>,
    }
}

/// `GET /api/v1/automations` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AutomationListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub org_id: Option<OrgId>,
    /// `schedule`, `event`, `webhook` or `manual`.
    pub trigger_type: Option<String>,
    pub enabled: Option<bool>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// `GET /api/v1/automations/{id}/runs` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AutomationRunListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub status: Option<String>,
}
