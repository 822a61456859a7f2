//! Heartbeat: `POST /api/v1/agents/{agent_id}/heartbeat`.

use super::{AgentConfig, InventorySection, SecretToken, SignedCommand};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The agent's own view of its health (seed 004 heartbeat `status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentHealth {
    #[default]
    Ok,
    /// Working, with a problem worth showing (e.g. results waiting in the outbox,
    /// a collector failing).
    Warning,
    /// Something essential is broken (e.g. the state directory is not writable).
    Error,
}

/// One metrics sample, taken when the heartbeat is built (seed 004 DeviceMetrics).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Metrics {
    /// Whole-machine CPU use since the previous sample, 0..=100.
    pub cpu_percent: f64,
    pub ram_percent: f64,
    pub ram_used_mb: u64,
    pub ram_total_mb: u64,
    /// Of the filesystems in the disks inventory, all together.
    pub disk_percent: f64,
    pub disk_used_gb: f64,
    pub disk_total_gb: f64,
    /// Bytes received on all non-loopback interfaces since the previous sample
    /// (a delta, not a counter; 0 on the first sample after start).
    pub network_in_bytes: u64,
    /// Bytes sent, same rules as `network_in_bytes`.
    pub network_out_bytes: u64,
    pub process_count: u64,
    /// Free-form numeric metrics (seed 004 `custom_metrics`), e.g. `load_1`.
    pub custom: BTreeMap<String, f64>,
}

/// Sent every `heartbeat_interval_secs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    pub protocol_version: u32,
    pub agent_version: String,
    /// When the agent took this sample.
    pub sent_at: DateTime<Utc>,
    pub status: AgentHealth,
    /// Human-readable reasons for a `warning`/`error` status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_reasons: Vec<String>,
    pub metrics: Metrics,
    /// The OS says a reboot is required (Linux: `/var/run/reboot-required`).
    #[serde(default)]
    pub pending_reboot: bool,
    /// Most recent interactive user, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_user: Option<String>,
    #[serde(default)]
    pub uptime_secs: u64,
    /// Hash of each inventory section as last accepted by the server (see
    /// [`InventorySection`]); a server whose stored hash differs (or that has none)
    /// asks for the section with `inventory_requested`.
    #[serde(default)]
    pub inventory_hashes: BTreeMap<InventorySection, String>,
    /// True when this request is authenticated with the token from an earlier
    /// `rotate_token`: the server makes it current and revokes the previous token.
    #[serde(default)]
    pub confirm_token_rotation: bool,
    /// Command ids the agent is executing right now (lets the server tell a running
    /// command from a lost one after an agent restart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running_commands: Vec<crate::ids::CommandId>,
    /// Number of results waiting in the agent's outbox.
    #[serde(default)]
    pub outbox_pending: u32,
}

/// The server's answer to a heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct HeartbeatResponse {
    /// Queued commands, oldest first. The server marks them `sent`.
    pub commands: Vec<SignedCommand>,
    /// The whole new configuration, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_update: Option<AgentConfig>,
    /// Version the agent should upgrade to (self-update is a later issue; the agent
    /// logs it and reports nothing else yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_to: Option<String>,
    /// A new bearer token (two-phase rotation, see the module docs of `agent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_token: Option<SecretToken>,
    /// Inventory sections the server wants now, whatever their hash.
    pub inventory_requested: Vec<InventorySection>,
    /// The server's clock; the agent uses the offset to judge command expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_time: Option<DateTime<Utc>>,
}
