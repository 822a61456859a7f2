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
//! Streams (remote access, issue 12; implemented by the `breeze-mux` crate on both sides):
//! - The opener sends `stream_open` with a fresh `stream` id (server-opened streams use
//!   even ids, agent-opened odd ids; 0 is never a stream) and kind-specific `params`.
//! - The other side answers `stream_accept` (with kind-specific `info`) or `stream_close`
//!   with a reason. An agent that does not know a stream `kind` answers `stream_close`
//!   with `reason: "unsupported stream kind: …"`.
//! - Bytes travel in **binary** WebSocket frames: an 8-byte big-endian stream id, then the
//!   payload ([`encode_binary`], [`decode_binary`]); at most [`MAX_CHUNK`] payload bytes
//!   per frame. `stream_data` (base64 in a text frame) is still understood.
//! - Flow control: each side may have at most [`STREAM_WINDOW`] payload bytes of a stream
//!   in flight that the other side has not yet granted back with `stream_window`. The
//!   receiver grants bytes back once it has *consumed* them (handed them on to the browser
//!   socket, the PTY, the file), so a slow consumer stops the producer instead of growing
//!   a buffer. A peer that overruns the window gets the stream closed.
//! - `stream_control` carries a kind-specific JSON message (a terminal resize, a file
//!   request's answer, desktop input); see [`super::remote`].
//! - Either side ends a stream with `stream_close` (a `reason` means it failed).

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
    /// server → agent: this server is shutting down. The agent closes the channel and
    /// connects again (to the same address: a proxy sends it to another replica) after a
    /// random delay of at most `within_ms`, so a fleet leaving one replica does not
    /// arrive at the others in one burst.
    Reconnect {
        within_ms: u64,
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
    /// The receiver of `stream_open` accepted the stream.
    StreamAccept {
        stream: StreamId,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        info: serde_json::Value,
    },
    /// Flow control: the sender of this frame consumed `bytes` more of the stream's
    /// payload; the other side may send that many more.
    StreamWindow {
        stream: StreamId,
        bytes: u64,
    },
    /// A kind-specific JSON control message (see `agent::remote`).
    StreamControl {
        stream: StreamId,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        message: serde_json::Value,
    },
}

/// Payload bytes a side may have in flight on one stream before the other grants more.
pub const STREAM_WINDOW: u64 = 1024 * 1024;
/// Largest payload of one binary stream frame.
pub const MAX_CHUNK: usize = 64 * 1024;

/// A binary channel frame: the stream id (8 bytes, big-endian) then the payload.
pub fn encode_binary(stream: StreamId, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&stream.0.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Splits a binary channel frame into its stream id and payload; `None` when it is
/// shorter than the 8-byte header.
pub fn decode_binary(frame: &[u8]) -> Option<(StreamId, &[u8])> {
    let (head, payload) = frame.split_at_checked(8)?;
    let id = u64::from_be_bytes(head.try_into().ok()?);
    Some((StreamId(id), payload))
}

impl ChannelFrame {
    /// The stream a frame belongs to (`None` for control frames).
    pub fn stream(&self) -> Option<StreamId> {
        match self {
            Self::StreamOpen { stream, .. }
            | Self::StreamData { stream, .. }
            | Self::StreamClose { stream, .. }
            | Self::StreamAccept { stream, .. }
            | Self::StreamWindow { stream, .. }
            | Self::StreamControl { stream, .. } => Some(*stream),
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
        let bin = encode_binary(StreamId(258), b"hi");
        assert_eq!(decode_binary(&bin), Some((StreamId(258), &b"hi"[..])));
        assert_eq!(decode_binary(&[0, 1, 2]), None);
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
