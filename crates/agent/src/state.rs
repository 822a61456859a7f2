//! The agent's state directory and the credentials kept in it.
//!
//! Layout (all files `0600`, directories `0700`):
//!
//! | path | what |
//! |---|---|
//! | `credentials.json` | server URL, agent id, bearer token (+ pending rotated token), signing key, config |
//! | `status.json` | last heartbeat outcome, for `breeze-agent status` |
//! | `seen_commands.json` | command ids already received, kept until they expire (replay guard) |
//! | `inventory_hashes.json` | hash of each inventory section the server accepted |
//! | `outbox/<command_id>.json` | results not yet acknowledged by the server |
//! | `run/<command_id>/` | temporary script files of running executions |

use crate::durable;
use anyhow::{Context as _, Result};
use breeze_proto::agent::{AgentConfig, SecretToken};
use breeze_proto::ids::{DeviceId, OrgId, SiteId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Paths inside one state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Uses (and creates, `0700`) `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        durable::create_private_dir(&root)?;
        Ok(Self { root })
    }

    /// Uses `root` without creating anything (for read-only commands like `status`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials.json")
    }
    pub fn status(&self) -> PathBuf {
        self.root.join("status.json")
    }
    pub fn seen_commands(&self) -> PathBuf {
        self.root.join("seen_commands.json")
    }
    pub fn inventory_hashes(&self) -> PathBuf {
        self.root.join("inventory_hashes.json")
    }
    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    /// Custom metrics that scripts report: `*.metrics` files of `name value` lines, sent
    /// with every heartbeat (see `collectors::metrics::read_custom_dir`).
    pub fn metrics_dir(&self) -> PathBuf {
        self.root.join("metrics.d")
    }
}

/// What enrollment produced; the token is redacted in `Debug`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credentials {
    pub server_url: String,
    pub agent_id: DeviceId,
    pub device_id: DeviceId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub auth_token: SecretToken,
    /// A rotated token not yet confirmed to the server (two-phase rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_token: Option<SecretToken>,
    pub signing_public_key: String,
    pub config: AgentConfig,
    pub fingerprint: String,
    pub enrolled_at: DateTime<Utc>,
}

impl Credentials {
    pub fn load(state: &StateDir) -> Result<Option<Self>> {
        durable::read_json(&state.credentials())
    }

    /// Loads the credentials or explains that the agent must be enrolled first.
    pub fn require(state: &StateDir) -> Result<Self> {
        Self::load(state)?.with_context(|| {
            format!(
                "this agent is not enrolled (no {}); run `breeze-agent enroll --server URL --key KEY` first",
                state.credentials().display()
            )
        })
    }

    pub fn save(&self, state: &StateDir) -> Result<()> {
        durable::write_json(&state.credentials(), self, 0o600).context("saving credentials")
    }
}

/// Last known state of the service loop, for `breeze-agent status`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub pid: Option<u32>,
    pub agent_version: String,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_heartbeat_ok: bool,
    pub last_error: Option<String>,
    pub channel_connected: bool,
    pub outbox_pending: u32,
    pub updated_at: Option<DateTime<Utc>>,
}

impl ServiceStatus {
    pub fn load(state: &StateDir) -> Result<Option<Self>> {
        durable::read_json(&state.status())
    }

    pub fn save(&self, state: &StateDir) -> Result<()> {
        durable::write_json(&state.status(), self, 0o600)
    }
}
