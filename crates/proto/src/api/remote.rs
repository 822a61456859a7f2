//! Remote access (issue 12): sessions (terminal, file manager, desktop) relayed over the
//! agent channel, the browser socket's frames, file operations and transfers.
//!
//! Contract (kept exactly; outside clients rely on it):
//! - `POST /api/v1/remote/sessions {device_id, type, cols?, rows?}` → 201
//!   [`RemoteSessionCreated`] `{id, status, ws_path, ticket, expires_at}`. The browser opens
//!   `ws_path?ticket=<ticket>` (`/ws/remote/{id}`); the ticket is single-use and lives 60 s;
//!   an upgrade whose `Origin` is not the server's own is refused before the upgrade.
//! - Terminal socket: binary frames are raw terminal bytes both ways; text frames are JSON
//!   [`TerminalClientMessage`] (browser → server) and [`TerminalServerMessage`]
//!   (server → browser).
//! - `GET/DELETE /api/v1/remote/sessions/{id}`, `GET /api/v1/remote/sessions` (filtered);
//!   status `pending` → `connecting` → `active` → `disconnected` | `failed`.
//! - Files under `/api/v1/devices/{id}/files…` (see the module `remote_files` types).

use super::*;

/// What a remote session is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RemoteSessionType {
    Terminal,
    FileTransfer,
    Desktop,
}

impl RemoteSessionType {
    pub const ALL: [RemoteSessionType; 3] = [Self::Terminal, Self::FileTransfer, Self::Desktop];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terminal => "terminal",
            Self::FileTransfer => "file_transfer",
            Self::Desktop => "desktop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RemoteSessionStatus {
    /// Created; the browser has not opened the socket yet.
    Pending,
    /// The socket is open and the agent is being asked to open the stream.
    Connecting,
    /// The agent accepted; bytes flow.
    Active,
    /// Ended normally (either side closed, DELETE, idle timeout, the shell exited).
    Disconnected,
    /// Never became active (ticket expired unused, agent offline or refused), or broke.
    Failed,
}

impl RemoteSessionStatus {
    pub const ALL: [RemoteSessionStatus; 5] = [
        Self::Pending,
        Self::Connecting,
        Self::Active,
        Self::Disconnected,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Connecting => "connecting",
            Self::Active => "active",
            Self::Disconnected => "disconnected",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the session is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Disconnected | Self::Failed)
    }
}

request_type! {
    /// `POST /api/v1/remote/sessions`.
    pub struct CreateRemoteSession {
        pub device_id: DeviceId,
        #[serde(rename = "type")]
        pub session_type: RemoteSessionType,
        /// Terminal size (default 80 × 24; 1..=1000).
        #[serde(default)]
        pub cols: Option<u16>,
        #[serde(default)]
        pub rows: Option<u16>,
        /// Desktop only: watch without sending input.
        #[serde(default)]
        pub view_only: Option<bool>,
    }
}

api_type! {
    /// 201 answer to `POST /api/v1/remote/sessions`.
    pub struct RemoteSessionCreated {
        pub id: RemoteSessionId,
        pub status: RemoteSessionStatus,
        /// Open `ws_path?ticket=<ticket>` on this server.
        pub ws_path: String,
        /// Single use, valid until `expires_at` (60 s).
        pub ticket: String,
        pub expires_at: DateTime<Utc>,
    }

    /// A remote session (seed 004 RemoteSession).
    pub struct RemoteSession {
        pub id: RemoteSessionId,
        pub org_id: OrgId,
        pub device_id: DeviceId,
        pub hostname: String,
        pub user_id: UserId,
        /// Who opened it (email), for the list.
        pub user_email: String,
        #[serde(rename = "type")]
        pub session_type: RemoteSessionType,
        pub status: RemoteSessionStatus,
        pub view_only: bool,
        pub created_at: DateTime<Utc>,
        /// When the agent accepted the stream.
        pub started_at: Option<DateTime<Utc>>,
        pub ended_at: Option<DateTime<Utc>>,
        /// `ended_at - started_at` once ended.
        pub duration_seconds: Option<i64>,
        /// Payload bytes relayed in both directions.
        pub bytes_transferred: i64,
        /// Why it ended or failed (`closed by the user`, `idle timeout`, `agent offline`, …).
        pub end_reason: Option<String>,
        /// `GET` this (relative) path for the asciicast v2 recording, when one is kept.
        pub recording_url: Option<String>,
    }
}

/// `GET /api/v1/remote/sessions` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct RemoteSessionListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub org_id: Option<OrgId>,
    pub device_id: Option<DeviceId>,
    pub user_id: Option<UserId>,
    /// `terminal`, `file_transfer` or `desktop`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", param(rename = "type"))]
    pub session_type: Option<String>,
    /// `pending`, `connecting`, `active`, `disconnected` or `failed`.
    pub status: Option<String>,
}

/// Browser → server text frame on a terminal socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalClientMessage {
    Resize { cols: u16, rows: u16 },
}

/// Server → browser text frame on a terminal socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalServerMessage {
    /// The shell exited with `code`; the socket closes after this.
    Exit { code: i32 },
    /// The session failed or was refused; the socket closes after this.
    Error { message: String },
}
