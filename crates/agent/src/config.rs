//! Local configuration: the optional TOML file (`--config`) and where state lives.
//!
//! ```toml
//! # /etc/breeze-agent/agent.toml
//! server_url = "https://rmm.example.com"   # default for `enroll --server`
//! ca_cert = "/etc/breeze-agent/ca.pem"     # extra trusted root(s), PEM
//! state_dir = "/var/lib/breeze-agent"
//! log = "info"                              # tracing filter
//!
//! [remote]                                  # see `crate::remote`
//! files_root = "/srv/share"
//! webrtc_interfaces = ["eth0"]              # or BREEZE_AGENT_WEBRTC_INTERFACES=eth0,wlan0
//! ```
//!
//! Precedence: command-line flag, then `BREEZE_AGENT_*` environment variable (handled
//! by clap, or by `FileConfig::load` for `[remote]` ones), then this file, then the
//! defaults below.

use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the config file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/breeze-agent/agent.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub server_url: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub log: Option<String>,
    /// Remote access (terminal user, file root, display).
    #[serde(default)]
    pub remote: crate::remote::RemoteConfig,
}

impl FileConfig {
    /// Loads `explicit` (which must exist) or the default path (if it exists).
    /// `BREEZE_AGENT_WEBRTC_INTERFACES` (comma-separated interface names) overrides
    /// `[remote] webrtc_interfaces`.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let mut c = Self::load_file(explicit)?;
        if let Ok(v) = std::env::var("BREEZE_AGENT_WEBRTC_INTERFACES") {
            c.remote.webrtc_interfaces = Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
        Ok(c)
    }

    fn load_file(explicit: Option<&Path>) -> Result<Self> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(DEFAULT_CONFIG_PATH);
                if !p.exists() {
                    return Ok(Self::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

/// Whether this process runs as root (Unix) — decides the default state directory
/// and what `run_as` can do.
pub fn is_privileged() -> bool {
    #[cfg(unix)]
    {
        nix::unistd::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The default state directory: `/var/lib/breeze-agent` as root, otherwise
/// `$XDG_STATE_HOME/breeze-agent` or `~/.local/state/breeze-agent`
/// (Windows: `%ProgramData%\Breeze\Agent`).
pub fn default_state_dir() -> PathBuf {
    #[cfg(windows)]
    {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("Breeze").join("Agent")
    }
    #[cfg(not(windows))]
    {
        if is_privileged() {
            return PathBuf::from("/var/lib/breeze-agent");
        }
        if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("breeze-agent");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
        PathBuf::from(home).join(".local/state/breeze-agent")
    }
}

/// Normalizes a server URL given by a person: adds `https://` when no scheme is
/// given and drops a trailing slash.
pub fn normalize_server_url(raw: &str) -> Result<url::Url> {
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url =
        url::Url::parse(&with_scheme).with_context(|| format!("invalid server URL `{raw}`"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => anyhow::bail!("server URL scheme must be http or https, not `{other}`"),
    }
}
