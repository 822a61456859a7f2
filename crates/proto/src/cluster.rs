//! Between replicas of one cluster (issue 14): a stream on an agent channel that another
//! replica holds.
//!
//! The replica a browser reached (B) asks over the cluster bus which replica holds the
//! device's channel; the holder (A) answers with its advertised URL. B then opens one
//! WebSocket per stream to A's `GET /internal/v1/streams` with `Authorization: Bearer
//! <StreamGrant>` ([`STREAMS_PATH`]). A opens the stream on the agent's channel and
//! answers one text frame, [`TunnelFrame::Accepted`] or [`TunnelFrame::Refused`]. After
//! that, binary frames are the stream's payload bytes (either way) and text frames are
//! [`TunnelFrame::Control`] or [`TunnelFrame::Close`].
//!
//! The grant is `base64url(json(StreamGrant)) "." base64url(HMAC-SHA256)`, keyed by a key
//! derived from the cluster's shared master key: only a replica can mint one. It names
//! one device, one stream kind and its parameters, expires within seconds and is spent
//! once.

use crate::ids::DeviceId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The holder's endpoint for tunnelled streams.
pub const STREAMS_PATH: &str = "/internal/v1/streams";

/// What a stream grant allows: opening one stream of `kind` with `params` on `device`'s
/// channel, before `expires_at` (unix seconds), once (`nonce`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamGrant {
    pub device: DeviceId,
    pub kind: String,
    pub params: Value,
    pub expires_at: i64,
    pub nonce: String,
    /// The replica asking (for the holder's log).
    pub from: String,
}

/// A text frame on a stream tunnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TunnelFrame {
    /// holder → asker, first: the agent accepted the stream with `info`.
    Accepted { info: Value },
    /// holder → asker, first and last: the stream could not be opened.
    Refused { reason: String },
    /// Either way: a kind-specific control message on the stream.
    Control { message: Value },
    /// Either way, last: the stream ended (`reason` set when it failed).
    Close { reason: Option<String> },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tunnel_frames_are_tagged() {
        let f = TunnelFrame::Close { reason: None };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"type":"close","reason":null}"#
        );
        let back: TunnelFrame =
            serde_json::from_str(r#"{"type":"accepted","info":{"shell":"/bin/sh"}}"#).unwrap();
        assert_eq!(
            back,
            TunnelFrame::Accepted {
                info: serde_json::json!({"shell": "/bin/sh"})
            }
        );
    }
}
