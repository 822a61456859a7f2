//! The terminal bridge: browser socket ↔ the agent's PTY stream.
//!
//! - Browser binary frames → the stream (the PTY's input); stream data → browser binary
//!   frames (and the recording).
//! - Browser text `{"type":"resize","cols":N,"rows":N}` → a `resize` control to the agent;
//!   a text frame that is not a valid resize gets an error frame back and is otherwise
//!   ignored.
//! - The agent's `exit` control → browser `{"type":"exit","code":N}` and the socket closes;
//!   the stream closing with a reason → `{"type":"error","message":…}`.
//!
//! Back-pressure: the next stream event is read only once the browser send completed
//! (the mux grants the agent more credit on that read), and the next browser frame only
//! once the stream accepted the previous one, so neither direction buffers here beyond a
//! frame. Bytes are counted both ways; a session with no byte either way for the idle
//! timeout is closed.

use super::recording::Recorder;
use super::{BridgeEnd, SessionCtx};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use breeze_mux::{Event, Stream};
use breeze_proto::agent::remote::TerminalControl;
use breeze_proto::api::{TerminalClientMessage, TerminalServerMessage};
use breeze_store::remote_sessions as store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// `last_activity_at` and the byte count are written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(30);
/// Largest terminal dimension accepted.
const MAX_DIM: u16 = 1000;

async fn send_json(socket: &mut WebSocket, msg: &TerminalServerMessage) -> bool {
    match serde_json::to_string(msg) {
        Ok(t) => socket.send(Message::Text(t.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.chars().take(100).collect::<String>().into(),
        })))
        .await;
}

/// Checks a browser text frame: a resize with both dimensions in 1..=1000.
fn parse_resize(text: &str) -> Result<(u16, u16), String> {
    match serde_json::from_str::<TerminalClientMessage>(text) {
        Ok(TerminalClientMessage::Resize { cols, rows }) => {
            if !(1..=MAX_DIM).contains(&cols) {
                return Err(format!("cols must be between 1 and {MAX_DIM}"));
            }
            if !(1..=MAX_DIM).contains(&rows) {
                return Err(format!("rows must be between 1 and {MAX_DIM}"));
            }
            Ok((cols, rows))
        }
        Err(e) => Err(format!(
            "a text frame must be {{\"type\":\"resize\",\"cols\":N,\"rows\":N}}: {e}"
        )),
    }
}

async fn start_recording(ctx: &SessionCtx) -> Option<Recorder> {
    let cfg = &ctx.state.config.remote;
    if !cfg.record_sessions {
        return None;
    }
    match Recorder::create(
        &ctx.state.config.data_dir,
        &ctx.id.to_string(),
        ctx.cols,
        ctx.rows,
        ctx.state.now().timestamp(),
        cfg.recording_max_bytes,
    )
    .await
    {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, session = %ctx.id, "starting a recording failed; the session goes on unrecorded");
            None
        }
    }
}

async fn finish_recording(ctx: &SessionCtx, rec: Option<Recorder>) {
    let Some(rec) = rec else { return };
    match rec.finish().await {
        Ok((path, bytes)) => {
            let path = path.to_string_lossy().into_owned();
            if let Err(e) = store::set_recording(&ctx.state.db, ctx.id, &path, bytes).await {
                tracing::error!(error = %e, session = %ctx.id, "saving the recording's path failed");
            }
        }
        Err(e) => tracing::error!(error = %e, session = %ctx.id, "closing a recording failed"),
    }
}

/// Drops the recorder after a write error (the session goes on).
async fn record<F>(rec: &mut Option<Recorder>, ctx: &SessionCtx, f: F)
where
    F: AsyncFnOnce(&mut Recorder) -> std::io::Result<()>,
{
    if let Some(r) = rec.as_mut()
        && let Err(e) = f(r).await
    {
        tracing::error!(error = %e, session = %ctx.id, "writing the recording failed; it stops here");
        *rec = None;
    }
}

/// Pumps a terminal session until either side ends, the session is cancelled
/// (`DELETE`) or it idles out.
pub async fn bridge(
    ctx: SessionCtx,
    mut socket: WebSocket,
    stream: Stream,
    mut cancel: watch::Receiver<Option<String>>,
) -> BridgeEnd {
    let (mut reader, writer) = stream.split();
    let mut rec = start_recording(&ctx).await;
    let mut bytes: u64 = 0;
    let mut deadline = Instant::now() + ctx.idle_timeout;
    let mut touched = Instant::now();
    let mut touched_bytes = 0u64;
    let (reason, failed) = loop {
        if bytes != touched_bytes && touched.elapsed() >= TOUCH_EVERY {
            touched = Instant::now();
            touched_bytes = bytes;
            if let Err(e) = store::touch(&ctx.state.db, ctx.id, bytes, ctx.state.now()).await {
                tracing::warn!(error = %e, session = %ctx.id, "touching a session failed");
            }
        }
        tokio::select! {
            r = super::sessions::cancelled(&mut cancel) => {
                writer.close(None);
                let _ = send_json(&mut socket, &TerminalServerMessage::Error { message: format!("the session was ended: {r}") }).await;
                close(&mut socket, 1000, &r).await;
                break (r, false);
            }
            _ = tokio::time::sleep_until(deadline) => {
                writer.close(None);
                let _ = send_json(&mut socket, &TerminalServerMessage::Error { message: "idle timeout".into() }).await;
                close(&mut socket, 1000, "idle timeout").await;
                break ("idle timeout".to_string(), false);
            }
            m = socket.recv() => match m {
                Some(Ok(Message::Binary(b))) => {
                    if b.is_empty() { continue; }
                    bytes += b.len() as u64;
                    deadline = Instant::now() + ctx.idle_timeout;
                    let sent = tokio::select! {
                        r = writer.send(&b) => r,
                        r = super::sessions::cancelled(&mut cancel) => {
                            writer.close(None);
                            close(&mut socket, 1000, &r).await;
                            break (r, false);
                        }
                    };
                    if let Err(e) = sent {
                        let why = format!("the agent stream ended: {e}");
                        let _ = send_json(&mut socket, &TerminalServerMessage::Error { message: why.clone() }).await;
                        close(&mut socket, 1011, "agent stream ended").await;
                        break (why, true);
                    }
                }
                Some(Ok(Message::Text(t))) => match parse_resize(t.as_str()) {
                    Ok((cols, rows)) => {
                        if writer.control(&TerminalControl::Resize { cols, rows }).await.is_err() {
                            break ("the agent stream ended".to_string(), true);
                        }
                        record(&mut rec, &ctx, async |r: &mut Recorder| r.resize(cols, rows).await).await;
                    }
                    Err(message) => {
                        if !send_json(&mut socket, &TerminalServerMessage::Error { message }).await {
                            writer.close(None);
                            break ("closed by the browser".to_string(), false);
                        }
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    writer.close(None);
                    break ("closed by the browser".to_string(), false);
                }
                // Pings are answered by the socket itself.
                Some(Ok(_)) => {}
            },
            ev = reader.recv() => match ev {
                Some(Event::Data(b)) => {
                    bytes += b.len() as u64;
                    deadline = Instant::now() + ctx.idle_timeout;
                    record(&mut rec, &ctx, async |r: &mut Recorder| r.output(&b).await).await;
                    // A browser that stops reading holds this send (and so the agent's
                    // output) but not the session: DELETE and the idle timeout still end it.
                    let sent = tokio::select! {
                        r = socket.send(Message::Binary(b)) => r.is_ok(),
                        r = super::sessions::cancelled(&mut cancel) => {
                            writer.close(None);
                            break (r, false);
                        }
                        _ = tokio::time::sleep_until(deadline) => {
                            writer.close(None);
                            break ("idle timeout".to_string(), false);
                        }
                    };
                    if !sent {
                        writer.close(None);
                        break ("closed by the browser".to_string(), false);
                    }
                }
                Some(Event::Control(v)) => match serde_json::from_value::<TerminalControl>(v) {
                    Ok(TerminalControl::Exit { code }) => {
                        let _ = send_json(&mut socket, &TerminalServerMessage::Exit { code }).await;
                        close(&mut socket, 1000, "the shell exited").await;
                        writer.close(None);
                        break (format!("exit {code}"), false);
                    }
                    Ok(other) => tracing::debug!(?other, session = %ctx.id, "unexpected terminal control from the agent"),
                    Err(e) => tracing::debug!(error = %e, session = %ctx.id, "unreadable terminal control from the agent"),
                },
                None => match reader.close_reason() {
                    Some(r) => {
                        let why = r.to_string();
                        let _ = send_json(&mut socket, &TerminalServerMessage::Error { message: why.clone() }).await;
                        close(&mut socket, 1011, "agent stream failed").await;
                        break (why, true);
                    }
                    None => {
                        close(&mut socket, 1000, "the agent closed the terminal").await;
                        break ("the agent closed the terminal".to_string(), false);
                    }
                },
            },
        }
    };
    finish_recording(&ctx, rec).await;
    BridgeEnd {
        bytes,
        reason: Some(reason),
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_resize;

    #[test]
    fn resize_frames_are_checked() {
        assert_eq!(
            parse_resize(r#"{"type":"resize","cols":100,"rows":40}"#),
            Ok((100, 40))
        );
        assert!(
            parse_resize(r#"{"type":"resize","cols":0,"rows":40}"#)
                .unwrap_err()
                .contains("cols")
        );
        assert!(
            parse_resize(r#"{"type":"resize","cols":10,"rows":1001}"#)
                .unwrap_err()
                .contains("rows")
        );
        assert!(parse_resize(r#"{"type":"resize","cols":70000,"rows":1}"#).is_err());
        assert!(parse_resize("hello").is_err());
        assert!(parse_resize(r#"{"type":"exit","code":1}"#).is_err());
    }
}
