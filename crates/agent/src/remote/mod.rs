//! Remote access on the agent (issue 12): streams the server opens on the channel.
//! `serve` is called by the channel task for every `stream_open` and must not block it:
//! each kind spawns its own task (or thread, for the PTY and screen capture).
//!
//! Configuration (`[remote]` in agent.toml, or `BREEZE_AGENT_*` variables):
//! ```toml
//! [remote]
//! terminal_user = "alice"          # login shell account (default: the agent's own)
//! files_root = "/srv/share"        # file manager confined here (default: no limit)
//! desktop_display = ":0"           # X display to capture (default: $DISPLAY)
//! webrtc_interfaces = ["eth0"]     # interfaces WebRTC may use (default: all but loopback)
//! ```

pub mod desktop;
pub mod files;
pub mod terminal;

use breeze_mux::Incoming;
use breeze_proto::agent::remote::{KIND_DESKTOP, KIND_FILES, KIND_TERMINAL};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// The `[remote]` section of agent.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// The account whose login shell a terminal runs (the agent must be root to use
    /// another account than its own).
    pub terminal_user: Option<String>,
    /// When set, file operations are confined to this directory.
    pub files_root: Option<PathBuf>,
    /// The X display a desktop session captures (default: `$DISPLAY`).
    pub desktop_display: Option<String>,
    /// The network interfaces whose addresses a desktop session's WebRTC connection may
    /// use (loopback too, when named); default: every interface but loopback.
    pub webrtc_interfaces: Option<Vec<String>>,
}

/// Serves a stream the server opened.
pub fn serve(inc: Incoming, config: Arc<RemoteConfig>) {
    match inc.kind.as_str() {
        KIND_TERMINAL => terminal::serve(inc, config),
        KIND_FILES => files::serve(inc, config),
        KIND_DESKTOP => desktop::serve(inc, config),
        other => {
            let reason = format!("unsupported stream kind: {other}");
            inc.refuse(reason);
        }
    }
}
