//! The desktop bridge (issue 12): screen frames agent → browser, input browser → agent.

use super::{BridgeEnd, SessionCtx};
use axum::extract::ws::WebSocket;

/// `stream_open` params for a desktop stream of this session.
pub fn open_params(ctx: &SessionCtx) -> serde_json::Value {
    serde_json::json!({ "view_only": ctx.view_only })
}

/// Pumps a desktop session between the browser `socket` and the agent `stream` until
/// either ends.
pub async fn bridge(
    _ctx: SessionCtx,
    _socket: WebSocket,
    stream: breeze_mux::Stream,
    _info: serde_json::Value,
) -> BridgeEnd {
    stream
        .writer
        .close(Some("desktop sessions are not built yet".into()));
    BridgeEnd {
        bytes: 0,
        reason: Some("desktop sessions are not built yet".into()),
        failed: true,
    }
}
