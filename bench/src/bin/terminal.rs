//! Terminal keystroke round trip through the relay (issue 12): a socket client (standing
//! in for the browser) → `breeze serve` → the agent channel → `breeze-agent`'s PTY → back.
//!
//! Run by `bench/terminal.sh`, which builds release binaries and starts a fresh server.
//! This tool finishes first-run setup, enrolls and starts a real `breeze-agent`, opens a
//! terminal session, starts `stty -icanon; cat > /dev/null` in the shell (every key is
//! echoed by the PTY's line discipline at once and the program discards it), then sends
//! one byte at a time and waits for its echo, N times, and prints p50/p90/p99/max.

use anyhow::{Context, Result};
use breeze_bench::remote_agent::RemoteAgent;
use breeze_bench::stats::{percentile_ms, sorted_micros};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// The server, e.g. http://127.0.0.1:3001.
    #[arg(long)]
    server: String,
    /// The fresh server's data directory (for the setup token).
    #[arg(long)]
    setup_data_dir: PathBuf,
    /// The `breeze-agent` binary to enroll and run.
    #[arg(long)]
    agent_bin: PathBuf,
    /// Keystrokes to time.
    #[arg(long, default_value_t = 1000)]
    keystrokes: usize,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads binary frames until their text contains `want` (or `secs` pass).
async fn read_until(ws: &mut Ws, want: &[u8], secs: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, ws.next())
            .await
            .with_context(|| {
                format!(
                    "waiting for {:?}; saw {:?}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&seen)
                )
            })?
            .context("socket closed")??;
        if let Message::Binary(b) = m {
            seen.extend_from_slice(&b);
            if seen.windows(want.len()).any(|w| w == want) {
                return Ok(());
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let remote =
        RemoteAgent::start(&args.server, &args.setup_data_dir, &args.agent_bin, &[]).await?;
    let (_created, url) = remote
        .open_session("terminal", json!({"cols": 120, "rows": 40}))
        .await?;
    // Browsers send each keystroke at once; so does this client (no Nagle delay).
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true).await?;
    ws.send(Message::Binary(
        b"stty -icanon; echo READY-$((40+2)); exec cat > /dev/null\r"
            .to_vec()
            .into(),
    ))
    .await?;
    read_until(&mut ws, b"READY-42", 30).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Warm up, then time.
    let keys = b"abcdefghijklmnopqrstuvwxyz";
    let mut samples = Vec::with_capacity(args.keystrokes);
    for i in 0..(args.keystrokes + 50) {
        let k = keys[i % keys.len()];
        let t0 = Instant::now();
        ws.send(Message::Binary(vec![k].into())).await?;
        read_until(&mut ws, &[k], 10).await?;
        if i >= 50 {
            samples.push(t0.elapsed());
        }
    }
    let sorted = sorted_micros(&samples);
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "keystroke round trip over {} keystrokes: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms",
        samples.len(),
        percentile_ms(&sorted, 0.5),
        percentile_ms(&sorted, 0.9),
        percentile_ms(&sorted, 0.99),
        percentile_ms(&sorted, 1.0),
        mean.as_secs_f64() * 1e3,
    );
    let _ = ws.send(Message::Close(None)).await;
    let mut agent = remote.agent;
    let _ = agent.kill().await;
    Ok(())
}
