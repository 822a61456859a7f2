//! `desktop` streams (issue 12): the screen as changed JPEG rectangles, input replayed
//! on the device. Protocol: `breeze_proto::agent::remote_desktop`.
//!
//! - `backend`: the [`backend::Screen`] trait (monitors, capture, input) and the choice
//!   of backend for this device: X11 (`x11`), a Wayland session (`wayland`), Windows
//!   (`windows`) or macOS (`macos`), each behind its `cfg`.
//! - `encode`: tiles compared with the previous capture, changed runs as JPEG.
//! - `input`: DOM keys and buttons to X keysyms and buttons.
//! - `rtc`: the WebRTC path of the frames (answer, data channel, fallback events).
//!
//! Threads: a `desktop` thread per stream owns the screen (capture and input calls block)
//! and takes jobs in order (capture, input, monitor switch); an async task pumps the
//! stream, paces captures (at most [`MAX_FPS`] a second, at most [`MAX_UNACKED`]
//! unacknowledged) and never blocks the channel task. It sends each frame over the WebRTC
//! data channel while one is open, else over the stream.

pub mod backend;
pub mod encode;
pub mod input;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(any(windows, target_os = "macos", test))]
mod portable;
pub mod rtc;
#[cfg(target_os = "linux")]
mod wayland;
#[cfg(windows)]
mod windows;
#[cfg(all(unix, not(target_os = "macos")))]
mod x11;

use super::RemoteConfig;
use breeze_mux::{Incoming, Stream};
use breeze_proto::agent::remote_desktop::{
    DEFAULT_QUALITY, DesktopControl, DesktopInfo, DesktopParams, Frame, MAX_FPS, MAX_UNACKED,
    length_prefixed,
};
use std::sync::Arc;

/// Serves a `desktop` stream: refuses it, or accepts it and spawns its session.
pub fn serve(inc: Incoming, config: Arc<RemoteConfig>) {
    match backend::choose(&config) {
        Err(reason) => inc.refuse(reason),
        Ok(choice) => session::start(inc, choice, config.webrtc_interfaces.clone()),
    }
}

mod session {
    use super::*;
    use breeze_mux::Event;
    use breeze_proto::agent::remote_desktop::TransportPath;
    use breeze_proto::agent::remote_desktop::{DesktopMonitor, FrameRect};
    use encode::TileEncoder;
    use rtc::{FrameChannel, Negotiation, RtcEvent};
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;
    use tokio::sync::oneshot;

    /// What the `desktop` thread answers a capture with: the monitor shown, its size and
    /// the rectangles that changed (empty: nothing did).
    struct Captured {
        monitor: u16,
        width: u16,
        height: u16,
        rects: Vec<FrameRect>,
    }

    enum Job {
        Capture {
            full: bool,
            reply: oneshot::Sender<Result<Captured, String>>,
        },
        Monitor {
            index: u16,
            reply: oneshot::Sender<Result<u16, String>>,
        },
        Input(DesktopControl),
    }

    pub fn start(inc: Incoming, choice: backend::Choice, interfaces: Option<Vec<String>>) {
        let params: DesktopParams = match serde_json::from_value(inc.params.clone()) {
            Ok(p) => p,
            Err(e) => {
                inc.refuse(format!("invalid desktop params: {e}"));
                return;
            }
        };
        let (jobs_tx, jobs_rx) = std_mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<DesktopInfo, String>>();
        let p = params.clone();
        let spawned = std::thread::Builder::new()
            .name("desktop".into())
            .spawn(move || worker(choice, p, ready_tx, jobs_rx));
        if let Err(e) = spawned {
            inc.refuse(format!("cannot start the desktop thread: {e}"));
            return;
        }
        tokio::spawn(async move {
            match ready_rx.await {
                Ok(Ok(info)) => {
                    let json = serde_json::to_value(&info).unwrap_or_default();
                    let stream = inc.accept(json);
                    pump(stream, jobs_tx, params.view_only, interfaces).await;
                }
                Ok(Err(reason)) => inc.refuse(reason),
                Err(_) => inc.refuse("the desktop thread stopped"),
            }
        });
    }

    /// The `desktop` thread: opens the display, then serves jobs until the stream ends.
    fn worker(
        choice: backend::Choice,
        params: DesktopParams,
        ready: oneshot::Sender<Result<DesktopInfo, String>>,
        jobs: std_mpsc::Receiver<Job>,
    ) {
        let mut screen = match choice.open() {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let monitors = screen.monitors().to_vec();
        let primary = monitors.iter().position(|m| m.primary).unwrap_or(0);
        let mut current = params
            .monitor
            .map(usize::from)
            .filter(|i| *i < monitors.len())
            .unwrap_or(primary);
        let info = DesktopInfo {
            display: screen.display(),
            monitors,
            current: u16::try_from(current).unwrap_or(0),
            view_only: params.view_only,
        };
        if ready.send(Ok(info)).is_err() {
            return;
        }
        let mut enc = TileEncoder::new(params.quality.unwrap_or(DEFAULT_QUALITY));
        while let Ok(job) = jobs.recv() {
            let Some(m) = screen.monitors().get(current).cloned() else {
                break;
            };
            match job {
                Job::Capture { full, reply } => {
                    let r = capture(screen.as_ref(), &m, &mut enc, full);
                    let _ = reply.send(r);
                }
                Job::Monitor { index, reply } => {
                    if usize::from(index) < screen.monitors().len() {
                        current = usize::from(index);
                        enc.reset();
                        let _ = reply.send(Ok(index));
                    } else {
                        let _ = reply.send(Err(format!("there is no monitor {index}")));
                    }
                }
                Job::Input(ev) => {
                    if let Err(e) = screen.input(&m, &ev) {
                        tracing::warn!(error = %e, "desktop input failed");
                    }
                }
            }
        }
        screen.release_all();
    }

    fn capture(
        screen: &dyn backend::Screen,
        m: &DesktopMonitor,
        enc: &mut TileEncoder,
        full: bool,
    ) -> Result<Captured, String> {
        let img = screen.capture(m)?;
        let width = u16::try_from(img.width).unwrap_or(u16::MAX);
        let height = u16::try_from(img.height).unwrap_or(u16::MAX);
        let rects = enc.encode(img, full)?;
        Ok(Captured {
            monitor: m.index,
            width,
            height,
            rects,
        })
    }

    /// Pumps the stream: controls in, paced frames out (over the data channel while one is
    /// open, else over the stream).
    async fn pump(
        stream: Stream,
        jobs: std_mpsc::Sender<Job>,
        view_only: bool,
        interfaces: Option<Vec<String>>,
    ) {
        let (mut reader, writer) = stream.split();
        let mut seq: u32 = 0;
        let mut acked: u32 = 0;
        let mut full = false;
        let mut told_view_only = false;
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / u64::from(MAX_FPS)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (rtc_tx, mut rtc_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, RtcEvent)>();
        let mut negotiation: Option<Negotiation> = None;
        let mut channel: Option<FrameChannel> = None;
        let mut negotiations: u64 = 0;
        // Frames sent on a path that went away are never acknowledged: forgive them and
        // start the other path with a whole monitor.
        macro_rules! fall_back {
            ($reason:expr) => {{
                negotiation = None;
                if channel.take().is_some() {
                    acked = seq;
                    full = true;
                }
                let msg = DesktopControl::Transport {
                    path: TransportPath::Relay,
                    reason: Some($reason),
                };
                if writer.control(&msg).await.is_err() {
                    break;
                }
            }};
        }
        loop {
            tokio::select! {
                ev = reader.recv() => {
                    let Some(ev) = ev else { break };
                    let Event::Control(v) = ev else { continue };
                    let ctl = match serde_json::from_value::<DesktopControl>(v) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = writer.control(&DesktopControl::Error { message: format!("invalid control: {e}") }).await;
                            continue;
                        }
                    };
                    match ctl {
                        DesktopControl::Ack { seq: s } if s <= seq && s > acked => acked = s,
                        DesktopControl::Refresh => full = true,
                        DesktopControl::RtcOffer { sdp, ice_servers } => {
                            // The old negotiation (and its connection) ends here.
                            drop(negotiation.take());
                            if channel.take().is_some() {
                                acked = seq;
                                full = true;
                                let reason = Some("a new WebRTC offer replaced the connection".to_string());
                                let msg = DesktopControl::Transport { path: TransportPath::Relay, reason };
                                if writer.control(&msg).await.is_err() {
                                    break;
                                }
                            }
                            negotiations += 1;
                            negotiation = Some(rtc::negotiate(
                                negotiations,
                                sdp,
                                ice_servers,
                                interfaces.clone(),
                                rtc_tx.clone(),
                            ));
                        }
                        DesktopControl::Monitor { index } => {
                            let (reply, rx) = oneshot::channel();
                            if jobs.send(Job::Monitor { index, reply }).is_err() {
                                break;
                            }
                            let msg = match rx.await {
                                Ok(Ok(current)) => DesktopControl::MonitorChanged { current },
                                Ok(Err(message)) => DesktopControl::Error { message },
                                Err(_) => break,
                            };
                            if writer.control(&msg).await.is_err() {
                                break;
                            }
                        }
                        c if c.is_input() => {
                            if view_only {
                                if !told_view_only {
                                    told_view_only = true;
                                    let message = "input refused: this session is view-only".to_string();
                                    let _ = writer.control(&DesktopControl::Error { message }).await;
                                }
                            } else if jobs.send(Job::Input(c)).is_err() {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                Some((id, ev)) = rtc_rx.recv() => {
                    if negotiation.as_ref().map(|n| n.id) != Some(id) {
                        continue;
                    }
                    match ev {
                        RtcEvent::Answer(sdp) => {
                            if writer.control(&DesktopControl::RtcAnswer { sdp }).await.is_err() {
                                break;
                            }
                        }
                        RtcEvent::Open(ch) => {
                            channel = Some(ch);
                            full = true;
                            let msg = DesktopControl::Transport { path: TransportPath::Webrtc, reason: None };
                            if writer.control(&msg).await.is_err() {
                                break;
                            }
                        }
                        RtcEvent::Down(reason) => fall_back!(reason),
                    }
                }
                _ = tick.tick(), if seq.wrapping_sub(acked) < MAX_UNACKED => {
                    let (reply, rx) = oneshot::channel();
                    if jobs.send(Job::Capture { full: std::mem::take(&mut full), reply }).is_err() {
                        break;
                    }
                    let captured = match rx.await {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => {
                            writer.close(Some(e));
                            return;
                        }
                        Err(_) => break,
                    };
                    if captured.rects.is_empty() {
                        continue;
                    }
                    seq = seq.wrapping_add(1);
                    let frame = Frame {
                        seq,
                        monitor: captured.monitor,
                        width: captured.width,
                        height: captured.height,
                        rects: captured.rects,
                    };
                    let Some(bytes) = frame.encode().ok().and_then(|b| length_prefixed(&b)) else {
                        writer.close(Some("a frame was too large to send".into()));
                        return;
                    };
                    if let Some(ch) = &channel {
                        if let Err(reason) = ch.send(&bytes).await {
                            fall_back!(reason);
                        }
                    } else if writer.send(&bytes).await.is_err() {
                        break;
                    }
                }
            }
        }
        writer.close(None);
    }
}
