//! Remote desktop frames/s and bandwidth at 1920×1080 (BENCHMARKS.md "Remote desktop").
//!
//! Runs the agent's real desktop stream (`breeze_agent::remote::serve`: X11 capture, tile
//! diff, JPEG, pacing, acks) against a fresh Xvfb, through a real mux pair whose frames go
//! through JSON/binary channel framing as on the socket; the viewer acknowledges each frame
//! as soon as it has it (a fast browser). Two scenarios: a static screen (a window drawn,
//! nothing moves) and a moving window (the bench's X client moves a 640×480 window by 16 px
//! after every frame).
//!
//! `cargo run --release -p breeze-bench --bin breeze-bench-desktop -- --seconds 10`

use anyhow::{Context as _, Result};
use breeze_agent::remote::{RemoteConfig, serve};
use breeze_e2e::xvfb::{TestWindow, Xvfb};
use breeze_mux::{Dispatch, Event, Mux, MuxOutput, Outgoing, Side};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote::KIND_DESKTOP;
use breeze_proto::agent::remote_desktop::{DesktopControl, Frame, MessageSplitter};
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// JPEG quality.
    #[arg(long, default_value_t = 80)]
    quality: u8,
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

struct Figures {
    frames: u64,
    bytes: u64,
    first_bytes: u64,
    secs: f64,
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
    let mut fig = Figures {
        frames: 0,
        bytes: 0,
        first_bytes: 0,
        secs: 0.0,
    };
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
    let f = scenario(&display, args.quality, args.seconds, None).await?;
    report("static screen", &f);
    let moving = TestWindow::open(&display, 0, 300, 640, 480, 0xcc3333)?;
    let f = scenario(&display, args.quality, args.seconds, Some(&moving)).await?;
    report("moving window", &f);
    Ok(())
}
