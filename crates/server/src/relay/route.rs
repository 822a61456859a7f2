//! Reaching an agent's channel wherever it is (issue 14).
//!
//! A remote session (terminal, desktop, files) needs a stream on the agent's channel,
//! and the channel lives on one replica: the one the agent's connection reached. The
//! browser may reach another. [`mux`] answers the channel's [`Mux`] either way:
//!
//! - held here: the channel's own mux;
//! - held by another replica: a [`breeze_mux::loopback`] mux. Each stream opened on it is
//!   carried by one WebSocket to the holder's `GET /internal/v1/streams`
//!   (`breeze_proto::cluster`), which opens the same stream on the agent's channel and
//!   relays it. Bytes keep the mux's flow control at both ends and TCP's in between, so
//!   a slow browser still stops the agent rather than filling a buffer.
//!
//! The holder is found by asking the cluster bus (`Cluster::locate`); it answers with its
//! advertised URL (`advertise_url`). The same endpoint serves a terminal recording kept in
//! another replica's data directory ([`RECORDING`] grants, [`fetch_recording`]). The tunnel is authorized by a one-time
//! [`StreamGrant`] MACed with a key derived from the cluster's shared master key, naming
//! one device, one stream kind and its parameters, valid for 30 s. The replica the
//! browser reached has already authorized the user and spent the session's ticket; the
//! session row, its recording and its audit rows stay there.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as AxMessage, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use breeze_mux::{Event, Incoming, Mux, Stream};
use breeze_proto::cluster::{STREAMS_PATH, StreamGrant, TunnelFrame};
use breeze_proto::ids::{DeviceId, RemoteSessionId};
use bytes::Bytes;
use futures::{Sink, SinkExt as _, StreamExt as _};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// How long the holder has to answer a locate.
pub const LOCATE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a grant is good for after it is minted.
const GRANT_TTL_SECS: i64 = 30;
/// A grant claiming to live longer than this is refused (clock skew between replicas is
/// allowed for, a forged lifetime is not).
const GRANT_MAX_AHEAD_SECS: i64 = 120;
/// The key purpose grants are MACed under.
const GRANT_PURPOSE: &str = "cluster stream grant v1";
/// The grant kind that reads a recording file (`params: {"session": id}`) instead of
/// opening a stream on an agent's channel.
pub const RECORDING: &str = "recording";

/// The mux of `device`'s channel, on this replica or tunnelled to the one that holds it;
/// None when no replica answers that it holds it.
pub async fn mux(state: &AppState, device: DeviceId) -> Option<Mux> {
    if let Some(m) = state.hub.mux(device) {
        return Some(m);
    }
    let url = state.cluster.locate(device, LOCATE_TIMEOUT).await?;
    Some(remote(state.clone(), device, url))
}

/// Whether some replica holds `device`'s channel now.
pub async fn reachable(state: &AppState, device: DeviceId) -> bool {
    state.hub.mux(device).is_some() || state.cluster.locate(device, LOCATE_TIMEOUT).await.is_some()
}

/// A mux whose streams are served by the replica at `url`.
fn remote(state: AppState, device: DeviceId, url: String) -> Mux {
    let (mux, mut opens) = breeze_mux::loopback();
    tokio::spawn(async move {
        // Ends once the mux and its streams are gone.
        while let Some(inc) = opens.recv().await {
            tokio::spawn(tunnel(state.clone(), device, url.clone(), inc));
        }
    });
    mux
}

/// Spent grant nonces, until their grant expires.
#[derive(Default)]
pub struct SpentGrants(Mutex<HashMap<String, i64>>);

impl SpentGrants {
    /// Records `nonce` as spent until `until`; false when it already was.
    fn spend(&self, nonce: &str, until: i64, now: i64) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, exp| *exp >= now);
        if m.contains_key(nonce) {
            return false;
        }
        m.insert(nonce.to_string(), until);
        true
    }
}

/// `base64url(json(grant)) "." base64url(mac)`.
pub fn mint(keys: &crate::keys::Keys, grant: &StreamGrant) -> anyhow::Result<String> {
    let body = B64.encode(serde_json::to_vec(grant)?);
    let mac = keys.mac(GRANT_PURPOSE, body.as_bytes())?;
    Ok(format!("{body}.{}", B64.encode(mac)))
}

/// Checks a grant's MAC, lifetime and nonce (spending it).
fn check(state: &AppState, token: &str) -> Result<StreamGrant, &'static str> {
    let (body, mac) = token.split_once('.').ok_or("the grant is malformed")?;
    let mac = B64.decode(mac).map_err(|_| "the grant is malformed")?;
    let want = state
        .keys
        .mac(GRANT_PURPOSE, body.as_bytes())
        .map_err(|_| "the grant cannot be checked")?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        mac.as_slice(),
        want.as_slice(),
    )) {
        return Err("the grant's signature is wrong");
    }
    let raw = B64.decode(body).map_err(|_| "the grant is malformed")?;
    let g: StreamGrant = serde_json::from_slice(&raw).map_err(|_| "the grant is malformed")?;
    let now = state.now().timestamp();
    if g.expires_at < now {
        return Err("the grant has expired");
    }
    if g.expires_at > now + GRANT_MAX_AHEAD_SECS {
        return Err("the grant lives too long");
    }
    if !state.grants.spend(&g.nonce, g.expires_at, now) {
        return Err("the grant was already used");
    }
    Ok(g)
}

/// The holder's endpoint, outside the API document (only replicas call it).
pub fn router() -> Router<AppState> {
    Router::new().route(STREAMS_PATH, get(accept))
}

async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("a stream grant is required".into()))?;
    let grant = check(&state, token).map_err(|why| {
        tracing::warn!(reason = why, "a stream tunnel was refused");
        ApiError::Unauthorized(why.into())
    })?;
    let ws =
        ws.map_err(|e| ApiError::refused(e.status(), "websocket_upgrade_required", e.body_text()))?;
    Ok(ws
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| serve(state, grant, socket)))
}

/// The holder's side: opens the stream on the agent's channel and relays it.
async fn serve(state: AppState, grant: StreamGrant, socket: WebSocket) {
    let (mut tx, rx) = axum_wire(socket);
    if grant.kind == RECORDING {
        send_recording(&state, &grant, &mut tx).await;
        return;
    }
    let Some(mux) = state.hub.mux(grant.device) else {
        let _ = tx
            .send(Wire::frame(&TunnelFrame::Refused {
                reason: "the device's agent is not connected".into(),
            }))
            .await;
        return;
    };
    match mux
        .open(
            &grant.kind,
            grant.params.clone(),
            super::sessions::OPEN_TIMEOUT,
        )
        .await
    {
        Ok((stream, info)) => {
            tracing::info!(device = %grant.device, kind = %grant.kind, from = %grant.from,
                "relaying a stream for another replica");
            if tx
                .send(Wire::frame(&TunnelFrame::Accepted { info }))
                .await
                .is_ok()
            {
                pump(stream, tx, rx).await;
            }
        }
        Err(e) => {
            let _ = tx
                .send(Wire::frame(&TunnelFrame::Refused {
                    reason: format!("the agent did not open the stream: {e}"),
                }))
                .await;
        }
    }
}

/// Sends the recording a [`RECORDING`] grant names, from this replica's data directory:
/// `accepted {info: {size}}`, the bytes, `close`.
async fn send_recording(state: &AppState, grant: &StreamGrant, tx: &mut WireSink) {
    use tokio::io::AsyncReadExt as _;
    let session = grant
        .params
        .get("session")
        .and_then(|v| serde_json::from_value::<RemoteSessionId>(v.clone()).ok());
    let file = match session {
        Some(s) => tokio::fs::File::open(super::recording::local_path(state, s))
            .await
            .ok(),
        None => None,
    };
    let Some(mut file) = file else {
        let _ = tx
            .send(Wire::frame(&TunnelFrame::Refused {
                reason: "no such recording here".into(),
            }))
            .await;
        return;
    };
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let accepted = TunnelFrame::Accepted {
        info: serde_json::json!({ "size": size }),
    };
    if tx.send(Wire::frame(&accepted)).await.is_err() {
        return;
    }
    let mut left = size;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
        match file.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                left -= n as u64;
                if tx
                    .send(Wire::Binary(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let reason = (left > 0).then(|| "the recording could not be read whole".to_string());
    let _ = tx.send(Wire::frame(&TunnelFrame::Close { reason })).await;
    let _ = tx.send(Wire::Closed).await;
}

/// A recording another replica keeps (its data directory served the session): its size
/// and its bytes, streamed. None when no replica answers that it has it.
pub async fn fetch_recording(
    state: &AppState,
    session: RemoteSessionId,
    device: DeviceId,
) -> Option<(
    u64,
    futures::stream::BoxStream<'static, std::io::Result<Bytes>>,
)> {
    let url = state
        .cluster
        .locate_recording(session, LOCATE_TIMEOUT)
        .await?;
    let grant = StreamGrant {
        device,
        kind: RECORDING.into(),
        params: serde_json::json!({ "session": session }),
        expires_at: state.now().timestamp() + GRANT_TTL_SECS,
        nonce: format!("{:032x}", rand::random::<u128>()),
        from: state.cluster.replica().to_string(),
    };
    let (_tx, mut rx) = match connect(state, &url, &grant).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, %url, "fetching a recording from another replica failed");
            return None;
        }
    };
    let size = match rx.next().await {
        Some(Wire::Text(t)) => match serde_json::from_str::<TunnelFrame>(&t) {
            Ok(TunnelFrame::Accepted { info }) => info.get("size").and_then(|v| v.as_u64())?,
            _ => return None,
        },
        _ => return None,
    };
    // Bytes until the `close` frame; the tunnel ending before it is an error, so a cut
    // transfer shows as one instead of a short file.
    let body = futures::stream::unfold((rx, _tx, false), |(mut rx, tx, done)| async move {
        if done {
            return None;
        }
        match rx.next().await {
            Some(Wire::Binary(b)) => Some((Ok(b), (rx, tx, false))),
            Some(Wire::Text(t)) => match serde_json::from_str::<TunnelFrame>(&t) {
                Ok(TunnelFrame::Close { reason: None }) => None,
                _ => Some((
                    Err(std::io::Error::other("the recording's transfer failed")),
                    (rx, tx, true),
                )),
            },
            Some(Wire::Closed) | None => Some((
                Err(std::io::Error::other(
                    "the replica sending the recording went away",
                )),
                (rx, tx, true),
            )),
        }
    });
    Some((size, body.boxed()))
}

/// Opens a tunnel to `url` with `grant`.
async fn connect(
    state: &AppState,
    url: &str,
    grant: &StreamGrant,
) -> anyhow::Result<(WireSink, WireStream)> {
    let token = mint(&state.keys, grant)?;
    let ws_url = format!("{}{STREAMS_PATH}", url.replacen("http://", "ws://", 1));
    let mut req = ws_url.as_str().into_client_request()?;
    req.headers_mut().insert(
        axum::http::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    let (ws, _) = tokio::time::timeout(
        super::sessions::OPEN_TIMEOUT,
        tokio_tungstenite::connect_async(req),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no answer in time"))??;
    Ok(tungstenite_wire(ws))
}

/// The asker's side: one stream opened on a [`remote`] mux, carried to the holder.
async fn tunnel(state: AppState, device: DeviceId, url: String, inc: Incoming) {
    let grant = StreamGrant {
        device,
        kind: inc.kind.clone(),
        params: inc.params.clone(),
        expires_at: state.now().timestamp() + GRANT_TTL_SECS,
        nonce: format!("{:032x}", rand::random::<u128>()),
        from: state.cluster.replica().to_string(),
    };
    let opened = async {
        let (tx, mut rx) = connect(&state, &url, &grant).await?;
        let first = match rx.next().await {
            Some(Wire::Text(t)) => serde_json::from_str::<TunnelFrame>(&t).ok(),
            _ => None,
        };
        anyhow::Ok((first, tx, rx))
    };
    match tokio::time::timeout(super::sessions::OPEN_TIMEOUT, opened).await {
        Ok(Ok((Some(TunnelFrame::Accepted { info }), tx, rx))) => {
            let stream = inc.accept(info);
            pump(stream, tx, rx).await;
        }
        Ok(Ok((Some(TunnelFrame::Refused { reason }), _, _))) => inc.refuse(reason),
        Ok(Ok(_)) => inc.refuse("the replica holding the channel answered out of turn"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %url, "reaching the replica holding a channel failed");
            inc.refuse(format!(
                "the replica holding the agent's channel could not be reached: {e}"
            ));
        }
        Err(_) => inc.refuse("the replica holding the agent's channel did not answer in time"),
    }
}

/// A tunnel message, whichever WebSocket library carries it.
enum Wire {
    Binary(Bytes),
    Text(String),
    Closed,
}

impl Wire {
    fn frame(f: &TunnelFrame) -> Wire {
        Wire::Text(serde_json::to_string(f).unwrap_or_default())
    }
}

type WireSink = std::pin::Pin<Box<dyn Sink<Wire, Error = ()> + Send>>;
type WireStream = futures::stream::BoxStream<'static, Wire>;

fn axum_wire(socket: WebSocket) -> (WireSink, WireStream) {
    let (sink, stream) = socket.split();
    let sink = sink.sink_map_err(|_| ()).with(|w: Wire| {
        futures::future::ready(Ok::<_, ()>(match w {
            Wire::Binary(b) => AxMessage::Binary(b),
            Wire::Text(t) => AxMessage::Text(t.into()),
            Wire::Closed => AxMessage::Close(None),
        }))
    });
    let stream = stream.filter_map(|m| {
        futures::future::ready(match m {
            Ok(AxMessage::Binary(b)) => Some(Wire::Binary(b)),
            Ok(AxMessage::Text(t)) => Some(Wire::Text(t.to_string())),
            Ok(AxMessage::Close(_)) | Err(_) => Some(Wire::Closed),
            Ok(_) => None,
        })
    });
    (Box::pin(sink), stream.boxed())
}

fn tungstenite_wire<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> (WireSink, WireStream)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    let sink = sink.sink_map_err(|_| ()).with(|w: Wire| {
        futures::future::ready(Ok::<_, ()>(match w {
            Wire::Binary(b) => TMessage::Binary(b),
            Wire::Text(t) => TMessage::Text(t.into()),
            Wire::Closed => TMessage::Close(None),
        }))
    });
    let stream = stream.filter_map(|m| {
        futures::future::ready(match m {
            Ok(TMessage::Binary(b)) => Some(Wire::Binary(b)),
            Ok(TMessage::Text(t)) => Some(Wire::Text(t.to_string())),
            Ok(TMessage::Close(_)) | Err(_) => Some(Wire::Closed),
            Ok(_) => None,
        })
    });
    (Box::pin(sink), stream.boxed())
}

/// Relays one stream over a tunnel until either end closes it: the stream's bytes and
/// controls out as binary and `control` frames, the peer's in; the stream's end as a
/// `close` frame, the peer's `close` (or the tunnel dropping) as the stream's end.
async fn pump(stream: Stream, mut tx: WireSink, mut rx: WireStream) {
    let (mut reader, writer) = stream.split();
    let down = async {
        while let Some(ev) = reader.recv().await {
            let w = match ev {
                Event::Data(b) => Wire::Binary(b),
                Event::Control(message) => Wire::frame(&TunnelFrame::Control { message }),
            };
            if tx.send(w).await.is_err() {
                // The tunnel is gone: dropping the reader closes the stream.
                return;
            }
        }
        let reason = reader.close_reason().map(str::to_string);
        let _ = tx.send(Wire::frame(&TunnelFrame::Close { reason })).await;
        let _ = tx.send(Wire::Closed).await;
    };
    let up = async {
        while let Some(w) = rx.next().await {
            match w {
                Wire::Binary(b) => {
                    if writer.send(&b).await.is_err() {
                        return;
                    }
                }
                Wire::Text(t) => match serde_json::from_str::<TunnelFrame>(&t) {
                    Ok(TunnelFrame::Control { message }) => {
                        if writer.control(&message).await.is_err() {
                            return;
                        }
                    }
                    Ok(TunnelFrame::Close { reason }) => {
                        writer.close(reason);
                        return;
                    }
                    _ => {
                        writer.close(Some("the tunnel sent an unexpected frame".into()));
                        return;
                    }
                },
                Wire::Closed => break,
            }
        }
        writer.close(Some("the replica relaying the stream went away".into()));
    };
    tokio::pin!(down, up);
    tokio::select! {
        () = &mut down => {}
        // The stream is closed now; what the peer sent before still goes out.
        () = &mut up => down.await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_nonce_is_spent_once_and_forgotten_after_expiry() {
        let s = SpentGrants::default();
        assert!(s.spend("a", 100, 50));
        assert!(!s.spend("a", 100, 60));
        assert!(s.spend("b", 70, 60));
        // At 101 "a" has expired and is pruned (its grant would be refused as expired).
        assert!(s.spend("c", 200, 101));
        assert_eq!(s.0.lock().unwrap().len(), 1);
    }
}
