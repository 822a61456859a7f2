//! The agent channel: WebSocket `GET /ws/agents/{agent_id}` with
//! `Authorization: Bearer <token>` on the upgrade request.
//!
//! Every message is one JSON **text** frame holding a [`ChannelFrame`], tagged by
//! `type`. Control frames (`hello`, `welcome`, `command`, `command_ack`, `ping`,
//! `pong`, `error`) belong to the channel itself; `stream_*` frames carry a `stream`
//! id so later features (terminal, file transfer, desktop) multiplex on the same
//! socket without a new protocol.
//!
//! Flow:
//! 1. The agent connects and sends `hello`. The server answers `welcome`.
//! 2. The server pushes each queued command as a `command` frame (and marks it
//!    `sent`). The agent answers `command_ack` when it starts it; the *result* goes
//!    over HTTP (`…/commands/{id}/result`), never over the channel. While a script
//!    runs, the agent may send its new output as `command_output` frames (best effort,
//!    see [`CommandOutput`]); a server that does not know the frame answers `error`.
//! 3. Either side may send `ping`; the other answers `pong` with the same `id`. The
//!    agent pings every 30 s and reconnects when no frame arrived for 90 s.
//!    WebSocket-level ping/pong is answered too.
//! 4. On any error the agent closes, falls back to heartbeat polling, and reconnects
//!    with jittered exponential backoff (1 s doubling up to `max_backoff_secs`).
//!
//! Streams (reserved for later issues): the opener sends `stream_open` with a fresh
//! `stream` id (server-opened streams use even ids, agent-opened odd ids; 0 is never a
//! stream), then both sides send `stream_data` (base64 payload) and either side ends
//! it with `stream_close`. An agent that does not know a stream `kind` answers
//! `stream_close` with `reason: "unsupported stream kind: …"`.

use super::{CommandAck, CommandOutput, SignedCommand};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Identifies one multiplexed stream on the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct StreamId(pub u64);

/// One text frame on the agent channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelFrame {
    /// agent → server, first frame after the upgrade.
    Hello {
        protocol_version: u32,
        agent_version: String,
    },
    /// server → agent, answer to `hello`.
    Welcome {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_time: Option<DateTime<Utc>>,
    },
    /// server → agent: a command to verify and run.
    Command(SignedCommand),
    /// agent → server: the command was verified and started.
    CommandAck(CommandAck),
    /// agent → server: output a running script printed since its previous chunk.
    CommandOutput(CommandOutput),
    /// either way; answered by `pong` with the same id.
    Ping {
        id: u64,
    },
    Pong {
        id: u64,
    },
    /// either way: something about the previous frame was wrong (for logs; the
    /// channel stays open).
    Error {
        message: String,
    },
    /// Opens a stream of `kind` (`terminal`, `file_transfer`, `desktop` … in later
    /// issues) with kind-specific `params`.
    StreamOpen {
        stream: StreamId,
        kind: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        params: serde_json::Value,
    },
    /// Stream bytes, standard base64.
    StreamData {
        stream: StreamId,
        data: String,
    },
    StreamClose {
        stream: StreamId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl ChannelFrame {
    /// The stream a frame belongs to (`None` for control frames).
    pub fn stream(&self) -> Option<StreamId> {
        match self {
            Self::StreamOpen { stream, .. }
            | Self::StreamData { stream, .. }
            | Self::StreamClose { stream, .. } => Some(*stream),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() -> Result<(), serde_json::Error> {
        let f = ChannelFrame::Ping { id: 7 };
        assert_eq!(serde_json::to_string(&f)?, r#"{"type":"ping","id":7}"#);
        let open: ChannelFrame = serde_json::from_str(
            r#"{"type":"stream_open","stream":2,"kind":"terminal","params":{"cols":80}}"#,
        )?;
        assert_eq!(open.stream(), Some(StreamId(2)));
        let out: ChannelFrame = serde_json::from_str(
            r#"{"type":"command_output","command_id":"0190f5d2-8a4e-7c3b-9d1e-2f3a4b5c6d7e","stream":"stderr","offset":12,"data":"x"}"#,
        )?;
        match out {
            ChannelFrame::CommandOutput(o) => {
                assert_eq!(
                    (o.stream, o.offset, o.data.as_str()),
                    (super::super::OutputStream::Stderr, 12, "x")
                );
            }
            other => panic!("expected command_output, got {other:?}"),
        }
        Ok(())
    }
}
