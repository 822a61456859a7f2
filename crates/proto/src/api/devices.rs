//! API bodies for devices, enrollment keys, commands, scripts and executions
//! (seed 004 "Device Management", "Scripts & Automation").

use super::*;
use crate::agent::{DiskInfo, HardwareInventory, NetworkInterface, OsInventory, RunAs};
use std::collections::BTreeMap;
use uuid::Uuid;

// ---------------------------------------------------------------- enrollment

request_type! {
    pub struct CreateEnrollmentKey {
        pub org_id: OrgId,
        pub site_id: SiteId,
        pub name: String,
        /// How many enrollments the key allows (default: unlimited until it expires).
        #[serde(default)]
        pub max_uses: Option<i64>,
        /// Hours until the key expires (1..=8760, default 24).
        #[serde(default)]
        pub expires_in_hours: Option<i64>,
    }

    pub struct CreatePendingDevice {
        pub site_id: SiteId,
        pub hostname: String,
        #[serde(default)]
        pub display_name: Option<String>,
        /// `linux`, `macos` or `windows`.
        pub os_type: String,
        #[serde(default)]
        pub tags: Option<Vec<String>>,
    }
}

api_type! {
    pub struct EnrollmentKey {
        pub id: EnrollmentKeyId,
        pub org_id: OrgId,
        pub site_id: SiteId,
        pub name: String,
        /// The first characters of the key, to recognise it.
        pub key_prefix: String,
        pub max_uses: Option<i64>,
        pub uses: i64,
        pub expires_at: DateTime<Utc>,
        pub revoked_at: Option<DateTime<Utc>>,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
    }

    /// The answer to creating a key: the secret `key` is shown only here.
    pub struct EnrollmentKeyCreated {
        #[serde(flatten)]
        pub enrollment_key: EnrollmentKey,
        pub key: String,
        /// `breeze-agent enroll --server <public_url> --key <key>`
        pub install_command: String,
        /// `curl -fsSL <public_url>/install.sh | sudo sh -s -- --key <key>`: downloads the
        /// agent from this server, verifies it, enrolls and starts the service.
        pub install_script_command: String,
    }

    /// A pre-created pending device and its single-use enrollment token (shown once).
    pub struct PendingDeviceCreated {
        pub device: Device,
        pub enrollment_token: String,
        pub expires_at: DateTime<Utc>,
        pub install_command: String,
        /// `curl -fsSL <public_url>/install.sh | sudo sh -s -- --token <token>`
        pub install_script_command: String,
    }
}

/// `GET /api/v1/enrollment-keys` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct EnrollmentKeyListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub org_id: Option<OrgId>,
    pub site_id: Option<SiteId>,
}

// ---------------------------------------------------------------- devices

api_type! {
    pub struct Device {
        pub id: DeviceId,
        pub org_id: OrgId,
        /// The organization's name (which customer the device belongs to).
        pub org_name: String,
        pub site_id: SiteId,
        pub site_name: String,
        pub hostname: String,
        pub display_name: Option<String>,
        pub os_type: String,
        /// The distribution or product name from the agent's OS inventory, e.g.
        /// `Debian GNU/Linux`; absent until the first inventory arrives.
        pub os_name: Option<String>,
        pub os_version: Option<String>,
        pub os_build: Option<String>,
        pub os_kernel: Option<String>,
        pub architecture: Option<String>,
        pub agent_version: Option<String>,
        /// `pending` (pre-created, not enrolled), `awaiting_checkin` (enrolled, the agent has
        /// not checked in yet), `online`, `offline`, `maintenance`, `quarantined`,
        /// `decommissioned`.
        pub status: String,
        /// `low`, `medium`, `high` (seed 001).
        pub trust_level: String,
        pub fingerprint: Option<String>,
        pub last_seen_at: Option<DateTime<Utc>>,
        pub last_seen_ip: Option<String>,
        pub enrolled_at: Option<DateTime<Utc>>,
        pub tags: Vec<String>,
        pub pending_reboot: bool,
        pub last_user: Option<String>,
        pub uptime_secs: Option<i64>,
        pub cpu_model: Option<String>,
        pub cpu_cores: Option<i64>,
        pub ram_total_mb: Option<i64>,
        pub disk_total_gb: Option<f64>,
        pub serial_number: Option<String>,
        pub primary_ip: Option<String>,
        pub agent_health: Option<String>,
        pub quarantined_at: Option<DateTime<Utc>>,
        pub quarantined_reason: Option<String>,
        /// The agent's token was suspended (used for another device's resources).
        pub token_suspended: bool,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

request_type! {
    pub struct UpdateDevice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub display_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tags: Option<Vec<String>>,
        /// Another site of the same organization.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub site_id: Option<SiteId>,
    }

    pub struct DeviceStatusChange {
        #[serde(default)]
        pub reason: Option<String>,
    }

    /// `POST /api/v1/devices/{id}/commands`: `reboot` {delay_secs}, `collect_inventory_now`,
    /// `update_config` {config}, `cancel` {command_id}. (Scripts run through
    /// `POST /api/v1/scripts/{id}/execute`.)
    pub struct QueueCommand {
        #[serde(rename = "type")]
        pub command_type: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub payload: Option<Value>,
        /// Seconds the command may wait for the agent (default from the server config).
        #[serde(default)]
        pub expires_in_secs: Option<i64>,
    }
}

/// `GET /api/v1/devices` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct DeviceListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `hostname`, `status`, `os_type`, `last_seen_at`, `created_at`, `org_name`,
    /// `site_name` (`-` for descending).
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::device_sort))]
    pub sort: Option<String>,
    /// Text search over hostname, display name, IP and serial number.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
    pub org_id: Option<OrgId>,
    pub site_id: Option<SiteId>,
    pub group_id: Option<DeviceGroupId>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::device_status))]
    pub status: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::os_type))]
    pub os: Option<String>,
    /// Devices carrying this tag (exact, at most 200 characters).
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub tag: Option<String>,
}

api_type! {
    pub struct DeviceHardware {
        pub hardware: Option<HardwareInventory>,
        pub os: Option<OsInventory>,
        pub updated_at: Option<DateTime<Utc>>,
    }

    pub struct SoftwareItem {
        pub name: String,
        pub version: String,
        pub publisher: Option<String>,
        pub source: String,
        pub install_date: Option<NaiveDate>,
        pub architecture: Option<String>,
    }

    /// A page of a device's installed software, with how many items match in all.
    pub struct SoftwarePage {
        pub data: Vec<SoftwareItem>,
        /// Pass as `cursor` to get the next page; absent on the last page.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub next_cursor: Option<String>,
        /// Items matching `q` (every item without it), over all pages.
        pub total: i64,
        /// Where this page starts in the whole list (0 for the first page).
        pub offset: i64,
    }

    pub struct DeviceDisks {
        pub data: Vec<DiskInfo>,
    }

    pub struct DeviceNetwork {
        pub data: Vec<NetworkInterface>,
    }

    pub struct MetricPoint {
        pub timestamp: DateTime<Utc>,
        pub cpu_percent: f64,
        pub ram_percent: f64,
        pub ram_used_mb: f64,
        pub disk_percent: f64,
        pub disk_used_gb: f64,
        pub network_in_bytes: f64,
        pub network_out_bytes: f64,
        pub process_count: f64,
        /// Raw samples behind this point (1 for `raw`).
        pub samples: i64,
    }

    pub struct DeviceMetrics {
        /// `raw`, `5m` or `1h`.
        #[cfg_attr(feature = "openapi", schema(value_type = MetricsResolution))]
        pub resolution: String,
        pub data: Vec<MetricPoint>,
    }

    pub struct DeviceCommand {
        pub id: CommandId,
        pub device_id: DeviceId,
        #[serde(rename = "type")]
        pub command_type: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub payload: Value,
        /// `pending`, `sent`, `running`, `completed`, `failed`, `timeout`, `cancelled`,
        /// `expired`, `rejected`, `lost` (the agent stopped reporting it while it ran).
        pub status: String,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
        pub sent_at: Option<DateTime<Utc>>,
        pub started_at: Option<DateTime<Utc>>,
        pub completed_at: Option<DateTime<Utc>>,
        pub exit_code: Option<i64>,
        pub stdout: Option<String>,
        pub stderr: Option<String>,
        pub error_message: Option<String>,
        /// Why the agent refused it (`bad_signature`, `expired`, `replayed` …).
        pub rejection: Option<String>,
    }

    pub struct DeviceEvent {
        pub id: Uuid,
        pub device_id: DeviceId,
        pub event_type: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub details: Value,
        pub ip_address: Option<String>,
        pub created_at: DateTime<Utc>,
    }
}

/// `GET /api/v1/devices/{id}/metrics` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct MetricsQuery {
    /// Default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Default: now.
    pub to: Option<DateTime<Utc>>,
    /// `raw`, `5m` or `1h` (default `raw`).
    #[cfg_attr(feature = "openapi", param(value_type = Option<MetricsResolution>))]
    pub resolution: Option<String>,
}

/// The resolutions of `GET /api/v1/devices/{id}/metrics`: raw samples (kept 48 hours by
/// default), 5-minute rollups (30 days) and hourly rollups (a year).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum MetricsResolution {
    #[serde(rename = "raw")]
    Raw,
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    Hour,
}

/// `GET /api/v1/devices/{id}/software` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct SoftwareQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Case-insensitive search over name and publisher.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// Paging for a device's commands or events.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct HistoryQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

// ---------------------------------------------------------------- scripts

api_type! {
    pub struct Script {
        pub id: ScriptId,
        /// Owning organization; `None` for a partner-wide script.
        pub org_id: Option<OrgId>,
        pub partner_id: PartnerId,
        pub name: String,
        pub description: Option<String>,
        pub category: Option<String>,
        /// `bash`, `sh`, `python`, `powershell`, `cmd`.
        pub language: String,
        /// `linux`, `macos`, `windows`.
        pub os_types: Vec<String>,
        pub content: String,
        /// `[{name, type, required, default, options}]`.
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
        pub parameters: Value,
        pub timeout_seconds: i64,
        pub run_as: RunAs,
        /// Starts at 1; every change of content, language or parameters adds one.
        pub version: i64,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    pub struct ExecutionRef {
        pub id: ExecutionId,
        pub device_id: DeviceId,
        pub status: String,
    }

    pub struct ScriptExecution {
        pub id: ExecutionId,
        pub script_id: ScriptId,
        /// The script's current name (a deleted script keeps its row and name).
        pub script_name: String,
        pub script_version: i64,
        pub device_id: DeviceId,
        /// The device's display name, or its hostname when it has none.
        pub device_hostname: String,
        pub command_id: Option<CommandId>,
        pub triggered_by: Option<UserId>,
        /// `manual` (API), later `automation`, `policy`, `schedule`.
        pub trigger_type: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub parameters: Value,
        /// `pending`, `sent`, `running`, `completed`, `failed`, `timeout`, `cancelled`,
        /// `expired`, `rejected`, `lost` (the agent stopped reporting it while it ran).
        pub status: String,
        pub exit_code: Option<i64>,
        pub stdout: Option<String>,
        pub stderr: Option<String>,
        pub stdout_truncated: bool,
        pub stderr_truncated: bool,
        pub duration_ms: Option<i64>,
        pub error_message: Option<String>,
        pub created_at: DateTime<Utc>,
        pub started_at: Option<DateTime<Utc>>,
        pub completed_at: Option<DateTime<Utc>>,
    }
}

request_type! {
    pub struct CreateScript {
        /// Owning organization; omit for a partner-wide script (partner staff only).
        #[serde(default)]
        pub org_id: Option<OrgId>,
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        #[serde(default)]
        pub category: Option<String>,
        pub language: String,
        pub os_types: Vec<String>,
        pub content: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
        pub parameters: Option<Value>,
        #[serde(default)]
        pub timeout_seconds: Option<i64>,
        #[serde(default)]
        pub run_as: Option<RunAs>,
    }

    pub struct UpdateScript {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub language: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub os_types: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
        pub parameters: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timeout_seconds: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub run_as: Option<RunAs>,
    }

    pub struct ExecuteScript {
        #[serde(default)]
        pub device_ids: Vec<DeviceId>,
        #[serde(default)]
        pub group_ids: Vec<DeviceGroupId>,
        #[serde(default)]
        pub site_ids: Vec<SiteId>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub parameters: BTreeMap<String, Value>,
    }
}

/// `GET /api/v1/scripts` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ScriptListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::script_sort))]
    pub sort: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
    pub org_id: Option<OrgId>,
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub category: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::script_language))]
    pub language: Option<String>,
}

/// `GET /api/v1/script-executions` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ExecutionListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub script_id: Option<ScriptId>,
    pub device_id: Option<DeviceId>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::execution_status))]
    pub status: Option<String>,
}

/// `GET /api/v1/devices/{id}/processes` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ProcessListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Default `-cpu` (busiest first).
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::process_sort))]
    pub sort: Option<String>,
    /// Searches name and user.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// `GET /api/v1/devices/{id}/users` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct SessionListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Default `username`.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::session_sort))]
    pub sort: Option<String>,
    /// Searches username, terminal and host.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// The paging, sort and search of a list query, as every list takes them.
macro_rules! into_list_params {
    ($($t:ty),*) => {$(
        impl From<$t> for ListParams {
            fn from(p: $t) -> Self {
                ListParams {
                    limit: p.limit,
                    cursor: p.cursor,
                    sort: p.sort,
                    q: p.q,
                }
            }
        }
    )*};
}

into_list_params!(
    ProcessListQuery,
    SessionListQuery,
    SiteListQuery,
    DeviceListQuery,
    ScriptListQuery,
    GroupListQuery,
    OrgListQuery
);
