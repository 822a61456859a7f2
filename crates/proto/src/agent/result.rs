//! Command acknowledgements and results.

use super::CommandRejection;
use crate::ids::CommandId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Final status of a command as the agent reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Ran to the end. For scripts the exit code may still be non-zero: the server
    /// decides how to show it (seed 004 keeps `completed` + `exit_code`).
    Completed,
    /// Could not be run or failed on the agent's side (no interpreter, bad run_as,
    /// reboot refused …); see `error_message`.
    Failed,
    /// Hit its timeout; the process tree was killed.
    Timeout,
    /// Stopped by a `cancel` command (or by the agent shutting down).
    Cancelled,
    /// Refused before running; see `rejection` and `error_message`.
    Rejected,
    /// Set by the server, never sent by an agent (a result with it is refused): the
    /// command was running and the agent stopped reporting it (its heartbeat's
    /// `running_commands` left it out), or its timeout plus a grace period passed with
    /// no result. A result the agent delivers later still replaces it.
    Lost,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
            Self::Lost => "lost",
        }
    }
}

/// Body of `POST /api/v1/agents/{agent_id}/commands/{command_id}/result`.
///
/// The agent delivers exactly one result per `command_id` and retries until the
/// server answers 2xx or 409; the server must dedupe on `command_id` (first final
/// result wins) so a retry after a lost answer changes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandResult {
    pub command_id: CommandId,
    /// The envelope's `command_type` (as received, even when unknown).
    pub command_type: String,
    pub status: CommandStatus,
    /// Present when status is `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<CommandRejection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// UTF-8 (invalid bytes replaced by U+FFFD). When truncated, this is the *tail*
    /// of the output, at most `max_output_bytes` long.
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr_truncated: bool,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: DateTime<Utc>,
}

/// What an acknowledgement says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Verified and started (the server shows the command as `running`).
    Running,
}

/// "Command started": `POST …/commands/{command_id}/ack` or [`super::ChannelFrame::CommandAck`].
/// Best effort: the final [`CommandResult`] is what counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandAck {
    pub command_id: CommandId,
    pub status: AckStatus,
    pub started_at: DateTime<Utc>,
}

/// Which output stream of a running command a chunk belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Live output of a running script: [`super::ChannelFrame::CommandOutput`], agent →
/// server, best effort. The agent sends what the script printed since its last chunk
/// at most every [`OUTPUT_FLUSH_MILLIS`] ms (sooner once [`OUTPUT_CHUNK_MAX_BYTES`] are
/// waiting), and stops once a stream has sent the command's `max_output_bytes`. Chunks
/// are never retried: a chunk lost with the channel leaves a gap the server will not
/// fill (it takes a chunk only at the `offset` it expects), and the final
/// [`CommandResult`] replaces the live output in any case. An agent that does not
/// stream (older versions) simply sends the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandOutput {
    pub command_id: CommandId,
    pub stream: OutputStream,
    /// UTF-8 bytes of this stream sent before this chunk (the sum of the earlier
    /// chunks' `data` lengths), so the receiver can append in order and skip a repeat.
    pub offset: u64,
    /// The new text (UTF-8; invalid bytes replaced by U+FFFD, never half a character).
    pub data: String,
}

/// How often a running script's new output is sent at most.
pub const OUTPUT_FLUSH_MILLIS: u64 = 250;
/// Waiting output is sent at once when it reaches this size; one chunk is never larger.
pub const OUTPUT_CHUNK_MAX_BYTES: usize = 16 * 1024;
