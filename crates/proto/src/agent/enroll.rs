//! Enrollment: `POST /api/v1/agents/enroll`.

use super::SecretToken;
use crate::ids::{DeviceId, OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Operating system family (seed 004 `Device.os_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OsType {
    Linux,
    Macos,
    Windows,
}

/// Sent once to enroll. Exactly one of `enrollment_key` (a site enrollment key, may be
/// used several times until it expires or reaches `max_uses`) or `enrollment_token`
/// (single-use device enrollment token for a pre-created pending device, seed 001) is
/// set; the server answers 400 when both or neither are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub protocol_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_key: Option<SecretToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token: Option<SecretToken>,
    /// Site requested by the installer (`--site`); the server checks it is the key's
    /// site or inside the key's organization, and answers 403/404 otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<SiteId>,
    pub hostname: String,
    pub os_type: OsType,
    pub os_version: String,
    #[serde(default)]
    pub os_build: String,
    /// `amd64`, `arm64`, `386`, `arm` … (Go-style names, as in seed 004).
    pub architecture: String,
    pub agent_version: String,
    /// Stable machine fingerprint: lowercase hex SHA-256 over the machine's stable
    /// identifiers (Linux: `/etc/machine-id`, DMI product uuid where readable, …).
    /// Survives reinstalling the agent; the server stores it (seed 001 `fingerprint`).
    pub fingerprint: String,
    pub hardware: HardwareSummary,
}

/// A short hardware description for the enrollment record; full detail comes with
/// the first inventory upload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HardwareSummary {
    #[serde(default)]
    pub cpu_model: String,
    #[serde(default)]
    pub cpu_cores: u32,
    #[serde(default)]
    pub ram_total_mb: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// The server's answer to a successful enrollment (`201` or `200`).
/// Errors: 400 malformed, 401 unknown/expired/used-up key or token, 403 suspended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// Used in every agent path (`/api/v1/agents/{agent_id}/…`); equals `device_id`.
    pub agent_id: DeviceId,
    pub device_id: DeviceId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    /// Bearer token for every later request. The server keeps only its SHA-256.
    pub auth_token: SecretToken,
    /// The server's ed25519 command-signing public key: standard base64 (with
    /// padding) of the 32 raw key bytes.
    pub signing_public_key: String,
    pub config: AgentConfig,
    pub server_time: DateTime<Utc>,
}

/// Agent settings the server controls. Every field has a default so a server can send
/// a partial object and older agents ignore fields they don't know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct AgentConfig {
    /// Seconds between heartbeats (clamped by the agent to 5..=3600).
    pub heartbeat_interval_secs: u64,
    /// Seconds between inventory collections; only changed sections are sent.
    pub inventory_interval_secs: u64,
    /// Whether the agent keeps the WebSocket channel open.
    pub ws_enabled: bool,
    /// Cap on captured stdout and on captured stderr of one execution, in bytes; the
    /// agent keeps the tail and marks the stream truncated.
    pub max_output_bytes: u64,
    /// Timeout used for a script whose command carries `timeout_secs: 0`.
    pub default_script_timeout_secs: u64,
    /// Upper bound of the channel/outbox reconnect backoff.
    pub max_backoff_secs: u64,
    /// Whether the processes section is part of inventory.
    pub collect_processes: bool,
    /// Whether the software section is part of inventory.
    pub collect_software: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 60,
            inventory_interval_secs: 900,
            ws_enabled: true,
            max_output_bytes: 1024 * 1024,
            default_script_timeout_secs: 3600,
            max_backoff_secs: 300,
            collect_processes: true,
            collect_software: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_takes_defaults_for_the_rest() -> Result<(), serde_json::Error> {
        let c: AgentConfig = serde_json::from_str(r#"{"heartbeat_interval_secs": 15}"#)?;
        assert_eq!(c.heartbeat_interval_secs, 15);
        assert_eq!(
            c.inventory_interval_secs,
            AgentConfig::default().inventory_interval_secs
        );
        Ok(())
    }
}
