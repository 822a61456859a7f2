//! The desktop bridge (issue 12): screen frames agent → browser, input browser → agent.
//!
//! Socket frames: `breeze_proto::api::remote_desktop` (binary: one screen frame each;
//! text: JSON messages). Stream: `breeze_proto::agent::remote_desktop` (length-prefixed
//! frames; controls). The bridge splits the stream back into frames and sends each as one
//! binary WebSocket message, reading the next stream event only once that send completed,
//! so a slow browser holds the agent back through the stream's window (and the agent's
//! own limit of two unacknowledged frames) instead of growing a buffer here: the bridge
//! holds at most one partial frame.
//!
//! In a view-only session input never reaches the agent: the bridge drops it and tells the
//! browser once (the agent refuses it as well, having been opened view-only).
//!
//! WebRTC (`[remote] webrtc`, `ice_servers`): after `hello` the bridge sends `rtc` with the
//! configured STUN/TURN servers; the browser's `rtc_offer` reaches the agent with those
//! servers added (the agent has no ICE configuration of its own), and the agent's
//! `rtc_answer` and `transport` go back to the browser. Frames on the data channel bypass
//! the server; acks and input still pass here, so view-only and pacing hold on both paths.

use super::{BridgeEnd, SessionCtx};
use axum::extract::ws::{Message, WebSocket};
use breeze_mux::{Event, StreamReader, StreamWriter};
use breeze_proto::agent::remote_desktop::{
    DesktopControl, DesktopInfo, DesktopParams, IceServer, MessageSplitter,
};
use breeze_proto::api::{DesktopClientMessage, DesktopServerMessage};
use futures::{Sink, SinkExt as _, Stream as FStream, StreamExt as _};
use std::time::Duration;

/// `stream_open` params for a desktop stream of this session.
pub fn open_params(ctx: &SessionCtx) -> serde_json::Value {
    serde_json::to_value(DesktopParams {
        view_only: ctx.view_only,
        ..DesktopParams::default()
    })
    .unwrap_or_else(|_| serde_json::json!({ "view_only": ctx.view_only }))
}

/// Pumps a desktop session between the browser `socket` and the agent `stream` until
/// either ends.
pub async fn bridge(
    ctx: SessionCtx,
    socket: WebSocket,
    stream: breeze_mux::Stream,
    info: serde_json::Value,
) -> BridgeEnd {
    let (sink, source) = socket.split();
    let (reader, writer) = stream.split();
    pump(
        sink,
        source,
        reader,
        writer,
        info,
        ctx.view_only,
        ctx.idle_timeout,
        ctx.state.config.remote.rtc_ice_servers(),
    )
    .await
}

/// The bridge over any socket halves (the tests drive it without HTTP). `rtc`: the ICE
/// servers, or `None` when WebRTC is off.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pump<Si, So, E>(
    mut sink: Si,
    mut source: So,
    mut reader: StreamReader,
    writer: StreamWriter,
    info: serde_json::Value,
    view_only: bool,
    idle_timeout: Duration,
    rtc: Option<Vec<IceServer>>,
) -> BridgeEnd
where
    Si: Sink<Message> + Unpin,
    So: FStream<Item = Result<Message, E>> + Unpin,
{
    let mut bytes: u64 = 0;
    let end = |bytes, reason: &str, failed| BridgeEnd {
        bytes,
        reason: Some(reason.to_string()),
        failed,
    };
    let hello = match serde_json::from_value::<DesktopInfo>(info) {
        Ok(i) => DesktopServerMessage::from(i),
        Err(e) => {
            let reason = format!("the agent's desktop info is invalid: {e}");
            writer.close(Some(reason.clone()));
            let _ = send_json(
                &mut sink,
                &DesktopServerMessage::Error {
                    message: reason.clone(),
                },
            )
            .await;
            let _ = sink.send(Message::Close(None)).await;
            return end(0, &reason, true);
        }
    };
    if send_json(&mut sink, &hello).await.is_err() {
        writer.close(None);
        return end(0, "closed by the browser", false);
    }
    if let Some(ice_servers) = &rtc {
        let m = DesktopServerMessage::Rtc {
            ice_servers: ice_servers.clone(),
        };
        if send_json(&mut sink, &m).await.is_err() {
            writer.close(None);
            return end(0, "closed by the browser", false);
        }
    }
    let mut split = MessageSplitter::default();
    let mut told_view_only = false;
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            () = &mut idle => {
                writer.close(None);
                let _ = send_json(&mut sink, &DesktopServerMessage::Error { message: "the session was idle too long".into() }).await;
                let _ = sink.send(Message::Close(None)).await;
                return end(bytes, "idle timeout", false);
            }
            msg = source.next() => {
                let text = match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                        writer.close(None);
                        return end(bytes, "closed by the browser", false);
                    }
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let message = "binary frames are not used from the browser on a desktop socket".to_string();
                        if send_json(&mut sink, &DesktopServerMessage::Error { message }).await.is_err() {
                            writer.close(None);
                            return end(bytes, "closed by the browser", false);
                        }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                bytes += text.len() as u64;
                idle.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                let reply = match serde_json::from_str::<DesktopClientMessage>(text.as_str()) {
                    Err(e) => Some(format!("invalid message: {e}")),
                    Ok(m) if m.is_input() && view_only => {
                        (!std::mem::replace(&mut told_view_only, true))
                            .then(|| "input ignored: this session is view-only".to_string())
                    }
                    Ok(DesktopClientMessage::RtcOffer { .. }) if rtc.is_none() => {
                        Some("WebRTC is turned off on this server; frames come over the relay".to_string())
                    }
                    Ok(m) => {
                        let control = match (DesktopControl::from(m), &rtc) {
                            (DesktopControl::RtcOffer { sdp, .. }, Some(ice)) => {
                                DesktopControl::RtcOffer { sdp, ice_servers: ice.clone() }
                            }
                            (c, _) => c,
                        };
                        if writer.control(&control).await.is_err() {
                            return agent_end(&mut sink, &mut reader, bytes).await;
                        }
                        None
                    }
                };
                if let Some(message) = reply
                    && send_json(&mut sink, &DesktopServerMessage::Error { message }).await.is_err()
                {
                    writer.close(None);
                    return end(bytes, "closed by the browser", false);
                }
            }
            ev = reader.recv() => {
                let out: Vec<Message> = match ev {
                    None => return agent_end(&mut sink, &mut reader, bytes).await,
                    Some(Event::Data(b)) => {
                        bytes += b.len() as u64;
                        idle.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                        match split.push(&b) {
                            Ok(frames) => frames.into_iter().map(|f| Message::Binary(f.into())).collect(),
                            Err(e) => {
                                let reason = format!("the agent sent an invalid frame: {e}");
                                writer.close(Some(reason.clone()));
                                let _ = send_json(&mut sink, &DesktopServerMessage::Error { message: reason.clone() }).await;
                                let _ = sink.send(Message::Close(None)).await;
                                return end(bytes, &reason, true);
                            }
                        }
                    }
                    Some(Event::Control(v)) => match serde_json::from_value::<DesktopControl>(v) {
                        Ok(DesktopControl::MonitorChanged { current }) => {
                            vec![json_message(&DesktopServerMessage::Monitor { current })]
                        }
                        Ok(DesktopControl::Error { message }) => {
                            vec![json_message(&DesktopServerMessage::Error { message })]
                        }
                        Ok(DesktopControl::RtcAnswer { sdp }) => {
                            vec![json_message(&DesktopServerMessage::RtcAnswer { sdp })]
                        }
                        Ok(DesktopControl::Transport { path, reason }) => {
                            vec![json_message(&DesktopServerMessage::Transport { path, reason })]
                        }
                        _ => Vec::new(),
                    },
                };
                for m in out {
                    if sink.send(m).await.is_err() {
                        writer.close(None);
                        return end(bytes, "closed by the browser", false);
                    }
                }
            }
        }
    }
}

/// The agent ended the stream: tell the browser why and close.
async fn agent_end<Si: Sink<Message> + Unpin>(
    sink: &mut Si,
    reader: &mut StreamReader,
    bytes: u64,
) -> BridgeEnd {
    let reason = reader.close_reason().map(str::to_string);
    if let Some(r) = &reason {
        let _ = send_json(sink, &DesktopServerMessage::Error { message: r.clone() }).await;
    }
    let _ = sink.send(Message::Close(None)).await;
    BridgeEnd {
        bytes,
        failed: reason.is_some(),
        reason: Some(reason.unwrap_or_else(|| "closed by the device".into())),
    }
}

fn json_message(m: &DesktopServerMessage) -> Message {
    Message::Text(serde_json::to_string(m).unwrap_or_default().into())
}

async fn send_json<Si: Sink<Message> + Unpin>(
    sink: &mut Si,
    m: &DesktopServerMessage,
) -> Result<(), Si::Error> {
    sink.send(json_message(m)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
