//! Remote desktop frames/s and bandwidth at 1920×1080 (BENCHMARKS.md "Remote desktop").
//!
//! Runs the agent's real desktop stream (`breeze_agent::remote::serve`: X11 capture, tile
//! diff, JPEG, pacing, acks) against a fresh Xvfb, through a real mux pair whose frames go
//! through JSON/binary channel framing as on the socket; the viewer acknowledges each frame
//! as soon as it has it (a fast browser). Two scenarios: a static screen (a window drawn,
//! nothing moves) and a moving window (the bench's X client moves a 640×480 window by 16 px
//! after every frame).
//!
//! With `--server` (run by `bench/desktop.sh`) the same two scenarios go the whole way a
//! console's frames go: a real `breeze-agent` (capturing the bench's Xvfb) → its channel →
//! `breeze serve`'s relay → the session WebSocket, which this tool reads as the browser
//! does, acknowledging each frame; the server's RSS is sampled during the run.
//!
//! `cargo run --release -p breeze-bench --bin breeze-bench-desktop -- --seconds 10`
//! `bench/desktop.sh 10` (through the relay)

use anyhow::{Context as _, Result};
use breeze_agent::remote::{RemoteConfig, serve};
use breeze_bench::remote_agent::RemoteAgent;
use breeze_e2e::xvfb::{TestWindow, Xvfb};
use breeze_mux::{Dispatch, Event, Mux, MuxOutput, Outgoing, Side};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote::KIND_DESKTOP;
use breeze_proto::agent::remote_desktop::{DesktopControl, Frame, MessageSplitter};
use breeze_proto::api::DesktopClientMessage;
use clap::Parser;
use futures::{SinkExt as _, StreamExt as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// JPEG quality (in-process mode; through the server the agent's default, 80).
    #[arg(long, default_value_t = 80)]
    quality: u8,
    /// A fresh server to go through, e.g. http://127.0.0.1:3001 (relay mode).
    #[arg(long, requires_all = ["setup_data_dir", "agent_bin"])]
    server: Option<String>,
    /// The fresh server's data directory (for the setup token).
    #[arg(long)]
    setup_data_dir: Option<PathBuf>,
    /// The `breeze-agent` binary to enroll and run.
    #[arg(long)]
    agent_bin: Option<PathBuf>,
    /// The server's pid, to sample its RSS (relay mode).
    #[arg(long)]
    server_pid: Option<u32>,
}

fn carry(mut out: MuxOutput, to: Mux, config: Option<Arc<RemoteConfig>>) {
    tokio::spawn(async move {
        while let Some(o) = out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    let Ok(text) = serde_json::to_string(&f) else {
                        continue;
                    };
                    let Ok(frame) = serde_json::from_str::<ChannelFrame>(&text) else {
                        continue;
                    };
                    if let (Dispatch::Open(inc), Some(c)) = (to.on_frame(frame), config.clone()) {
                        serve(inc, c);
                    }
                }
                Outgoing::Binary(b) => to.on_binary(&b),
            }
        }
    });
}

#[derive(Default)]
struct Figures {
    frames: u64,
    bytes: u64,
    first_bytes: u64,
    secs: f64,
    /// Server RSS (KiB) at the start and the highest seen (relay mode).
    rss_kib: Option<(u64, u64)>,
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One scenario through the server: a desktop session's socket, read as the console
/// reads it (one binary message a frame, an `ack` text message back for each).
async fn scenario_relay(
    remote: &RemoteAgent,
    secs: u64,
    window: Option<&TestWindow>,
    server_pid: Option<u32>,
) -> Result<Figures> {
    let (_created, url) = remote
        .open_session("desktop", serde_json::json!({}))
        .await?;
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .context("opening the session socket")?;
    let mut fig = Figures::default();
    let rss0 = server_pid.and_then(rss_kib);
    let mut rss_max = rss0.unwrap_or(0);
    let mut x = 0i32;
    let mut start: Option<Instant> = None;
    loop {
        let wait = match start {
            Some(t) => Duration::from_secs(secs).saturating_sub(t.elapsed()),
            None => Duration::from_secs(30),
        };
        if wait.is_zero() {
            break;
        }
        let Ok(msg) = tokio::time::timeout(wait, ws.next()).await else {
            break;
        };
        let msg = msg.context("the socket closed")??;
        let Message::Binary(b) = msg else {
            if let Message::Close(c) = msg {
                anyhow::bail!("the server closed the socket: {c:?}");
            }
            continue;
        };
        let f = Frame::decode(&b)?;
        if start.is_none() {
            fig.first_bytes = b.len() as u64;
            start = Some(Instant::now());
        } else {
            fig.frames += 1;
            fig.bytes += b.len() as u64;
        }
        let ack = serde_json::to_string(&DesktopClientMessage::Ack { seq: f.seq })?;
        ws.send(Message::Text(ack.into())).await?;
        if let Some(w) = window {
            x = (x + 16) % (1920 - 640);
            w.move_to(x, 300)?;
        }
        if let Some(r) = server_pid.and_then(rss_kib) {
            rss_max = rss_max.max(r);
        }
    }
    fig.secs = start.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
    fig.rss_kib = rss0.map(|r| (r, rss_max));
    let _ = ws.send(Message::Close(None)).await;
    Ok(fig)
}

async fn scenario(
    display: &str,
    quality: u8,
    secs: u64,
    window: Option<&TestWindow>,
) -> Result<Figures> {
    let config = Arc::new(RemoteConfig {
        desktop_display: Some(display.to_string()),
        ..RemoteConfig::default()
    });
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    carry(server_out, agent, Some(config));
    carry(agent_out, server.clone(), None);
    let (stream, _info) = server
        .open(
            KIND_DESKTOP,
            serde_json::json!({ "quality": quality }),
            Duration::from_secs(10),
        )
        .await
        .context("opening the desktop stream")?;
    let (mut reader, writer) = stream.split();
    let mut split = MessageSplitter::default();
    let mut fig = Figures::default();
    let mut x = 0i32;
    let mut start: Option<Instant> = None;
    loop {
        let wait = match start {
            Some(t) => Duration::from_secs(secs).saturating_sub(t.elapsed()),
            None => Duration::from_secs(10),
        };
        if wait.is_zero() {
            break;
        }
        let Ok(ev) = tokio::time::timeout(wait, reader.recv()).await else {
            break;
        };
        let Some(Event::Data(b)) = ev else {
            if ev.is_none() {
                anyhow::bail!("the stream ended: {:?}", reader.close_reason());
            }
            continue;
        };
        for m in split.push(&b)? {
            let f = Frame::decode(&m)?;
            if start.is_none() {
                // The first (whole-screen) frame is reported apart; measuring starts after it.
                fig.first_bytes = m.len() as u64;
                start = Some(Instant::now());
            } else {
                fig.frames += 1;
                fig.bytes += m.len() as u64;
            }
            writer.control(&DesktopControl::Ack { seq: f.seq }).await?;
            if let Some(w) = window {
                x = (x + 16) % (1920 - 640);
                w.move_to(x, 300)?;
            }
        }
    }
    fig.secs = start.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
    writer.close(None);
    Ok(fig)
}

fn report(name: &str, f: &Figures) {
    let fps = f.frames as f64 / f.secs.max(1e-9);
    let kbps = f.bytes as f64 / f.secs.max(1e-9) / 1024.0;
    let avg = f.bytes.checked_div(f.frames).unwrap_or(0);
    println!(
        "{name:<16} first frame {:>7} B | {:>5} frames in {:>5.1} s = {fps:>5.1} frames/s | {kbps:>8.1} KiB/s | {avg:>7} B/frame",
        f.first_bytes, f.frames, f.secs
    );
    if let Some((start, max)) = f.rss_kib {
        println!(
            "{:<16} server RSS {:.1} MiB at the start, {:.1} MiB at most",
            "",
            start as f64 / 1024.0,
            max as f64 / 1024.0
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let x = Xvfb::start(1920, 1080)?;
    let display = x.display.clone();
    println!(
        "Xvfb {display} 1920x1080x24, JPEG quality {}, {} s per scenario",
        args.quality, args.seconds
    );
    let _static_win = TestWindow::open(&display, 200, 200, 800, 600, 0x3366cc)?;
    let remote = match (&args.server, &args.setup_data_dir, &args.agent_bin) {
        (Some(server), Some(data), Some(bin)) => {
            println!("through the relay: breeze-agent -> {server} -> session WebSocket");
            Some(RemoteAgent::start(server, data, bin, &[("DISPLAY", display.as_str())]).await?)
        }
        _ => None,
    };
    let f = match &remote {
        Some(r) => scenario_relay(r, args.seconds, None, args.server_pid).await?,
        None => scenario(&display, args.quality, args.seconds, None).await?,
    };
    report("static screen", &f);
    let moving = TestWindow::open(&display, 0, 300, 640, 480, 0xcc3333)?;
    let f = match &remote {
        Some(r) => scenario_relay(r, args.seconds, Some(&moving), args.server_pid).await?,
        None => scenario(&display, args.quality, args.seconds, Some(&moving)).await?,
    };
    report("moving window", &f);
    Ok(())
}
