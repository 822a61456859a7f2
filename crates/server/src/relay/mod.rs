//! The relay (issue 12): browser sockets ↔ this server ↔ the agent's channel.
//!
//! An agent channel connected to this process owns a `breeze_mux::Mux`
//! (`state.hub.mux(device)`); a session opens one stream on it
//! (`breeze_proto::agent::remote`) and pumps bytes between the stream and the browser
//! socket, with the mux's flow control end to end: a browser that reads slowly stops
//! the agent instead of growing a buffer here.
//!
//! - `sessions`: lifecycle, tickets, the `/ws/remote/{id}` socket and its Origin check.
//! - `terminal`: the terminal bridge and its asciicast v2 recording.
//! - `files`: file operations and transfers (`/api/v1/devices/{id}/files…`).
//! - `desktop`: the desktop bridge.
//! - `route`: the channel's mux wherever it is: here, or tunnelled to the replica that
//!   holds it.

pub mod desktop;
pub mod files;
pub mod recording;
pub mod route;
pub mod sessions;
pub mod terminal;

use crate::state::AppState;
use breeze_proto::ids::{DeviceId, OrgId, RemoteSessionId, UserId};
use std::time::Duration;

/// What a bridge knows about the session it serves (built by `sessions` once the ticket
/// is spent and the agent accepted the stream).
#[derive(Clone)]
pub struct SessionCtx {
    pub state: AppState,
    pub id: RemoteSessionId,
    pub org_id: OrgId,
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub view_only: bool,
    pub cols: u16,
    pub rows: u16,
    /// The session ends after this long with no byte either way.
    pub idle_timeout: Duration,
}

/// How a bridge ended, recorded on the session row by `sessions`.
#[derive(Clone, Debug, Default)]
pub struct BridgeEnd {
    /// Payload bytes relayed, both directions.
    pub bytes: u64,
    /// Why it ended (`closed by the browser`, `idle timeout`, `exit 0`, …).
    pub reason: Option<String>,
    /// Whether it ended in failure (status `failed` rather than `disconnected`).
    pub failed: bool,
}
