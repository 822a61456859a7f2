//! File transfer throughput through the relay (issue 12): the real `breeze` server and
//! `breeze-agent` binaries on loopback, one file uploaded in chunks and downloaded back,
//! with the server's and the agent's RSS sampled every 20 ms (`/proc/<pid>/status`).
//!
//! ```sh
//! cargo build --release -p breeze-cli -p breeze-agent -p breeze-bench
//! target/release/breeze-bench-files --bin-dir target/release --mb 200
//! ```

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Directory holding the `breeze` and `breeze-agent` binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// File size in MB.
    #[arg(long, default_value_t = 200)]
    mb: usize,
    /// Upload chunk (one PUT) in MB.
    #[arg(long, default_value_t = 50)]
    chunk_mb: usize,
}

const MB: usize = 1024 * 1024;
const PASSWORD: &str = "Correct-Horse-Battery-42!";

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the RSS of `pids` until dropped; answers the peaks.
struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Vec<Arc<AtomicU64>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pids: &[u32]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks: Vec<Arc<AtomicU64>> = pids
            .iter()
            .map(|p| Arc::new(AtomicU64::new(rss_kib(*p))))
            .collect();
        let (s, ps, pids) = (stop.clone(), peaks.clone(), pids.to_vec());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for (pid, peak) in pids.iter().zip(&ps) {
                    peak.fetch_max(rss_kib(*pid), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler {
            stop,
            peaks,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peaks
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

async fn ok(r: reqwest::RequestBuilder, what: &str) -> Result<Value> {
    let resp = r.send().await.with_context(|| what.to_string())?;
    let s = resp.status();
    let text = resp.text().await?;
    if !s.is_success() {
        bail!("{what}: {s} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let base = std::fs::canonicalize(dir.path())?;
    let data_dir = base.join("server");
    let share = base.join("share");
    std::fs::create_dir_all(&data_dir)?;
    std::fs::create_dir_all(&share)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let cfg = data_dir.join("breeze.toml");
    std::fs::write(
        &cfg,
        "[auth]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n",
    )?;
    let server = Kill(
        Command::new(args.bin_dir.join("breeze"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&cfg)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting breeze")?,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let mut ready = false;
    for _ in 0..300 {
        if http
            .get(format!("{url}/api/v1/setup/status"))
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !ready {
        bail!("the server did not start");
    }
    let token = std::fs::read_to_string(data_dir.join("setup-token"))?;
    let v = ok(
        http.post(format!("{url}/api/v1/setup"))
            .json(&json!({"setup_token": token.trim(),
            "partner_name": "Bench", "admin_name": "Bench", "admin_email": "bench@example.com",
            "admin_password": PASSWORD})),
        "setup",
    )
    .await?;
    let at = v["access_token"].as_str().context("token")?.to_string();
    let org = ok(
        http.post(format!("{url}/api/v1/orgs"))
            .bearer_auth(&at)
            .json(&json!({"name": "Bench"})),
        "org",
    )
    .await?;
    let org = org["id"].as_str().context("org")?.to_string();
    let site = ok(
        http.post(format!("{url}/api/v1/orgs/{org}/sites"))
            .bearer_auth(&at)
            .json(&json!({"name": "HQ"})),
        "site",
    )
    .await?;
    let key = ok(
        http.post(format!("{url}/api/v1/enrollment-keys"))
            .bearer_auth(&at)
            .json(&json!({"org_id": org, "site_id": site["id"], "name": "k", "max_uses": 1})),
        "key",
    )
    .await?;
    let state = base.join("agent");
    let agent_bin = args.bin_dir.join("breeze-agent");
    let out = Command::new(&agent_bin)
        .arg("--state-dir")
        .arg(&state)
        .args(["enroll", "--server", &url, "--key"])
        .arg(key["key"].as_str().context("key")?)
        .output()?;
    if !out.status.success() {
        bail!("enroll: {}", String::from_utf8_lossy(&out.stderr));
    }
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("credentials.json"))?)?;
    let dev = creds["device_id"].as_str().context("device")?.to_string();
    let agent_toml = base.join("agent.toml");
    std::fs::write(
        &agent_toml,
        format!("[remote]\nfiles_root = \"{}\"\n", share.display()),
    )?;
    let agent = Kill(
        Command::new(&agent_bin)
            .arg("--state-dir")
            .arg(&state)
            .arg("--config")
            .arg(&agent_toml)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let files = format!("{url}/api/v1/devices/{dev}/files");
    let mut up = false;
    for _ in 0..600 {
        let r = http
            .get(format!("{files}?path="))
            .bearer_auth(&at)
            .send()
            .await?;
        if r.status().is_success() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!("the agent's channel did not come up");
    }

    let size = args.mb * MB;
    let chunk = args.chunk_mb * MB;
    let data = random_bytes(size, 42);
    let want = hex::encode(Sha256::digest(&data));
    let pids = [server.0.id(), agent.0.id()];
    let before: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();

    let sampler = Sampler::start(&pids);
    let t = Instant::now();
    let mut offset = 0;
    while offset < size {
        let end = (offset + chunk).min(size);
        ok(
            http.put(format!(
                "{files}/content?path=bench.bin&offset={offset}&total={size}"
            ))
            .bearer_auth(&at)
            .header("content-type", "application/octet-stream")
            .body(data[offset..end].to_vec()),
            "upload",
        )
        .await?;
        offset = end;
    }
    let up_secs = t.elapsed().as_secs_f64();
    let up_peaks = sampler.finish();
    ok(
        http.post(format!("{files}/complete"))
            .bearer_auth(&at)
            .json(&json!({"path": "bench.bin", "sha256": want})),
        "complete",
    )
    .await?;

    let sampler = Sampler::start(&pids);
    let t = Instant::now();
    let mut r = http
        .get(format!("{files}/content?path=bench.bin"))
        .bearer_auth(&at)
        .send()
        .await?;
    let mut h = Sha256::new();
    let mut n = 0usize;
    while let Some(c) = r.chunk().await? {
        n += c.len();
        h.update(&c);
    }
    let down_secs = t.elapsed().as_secs_f64();
    let down_peaks = sampler.finish();
    if n != size || hex::encode(h.finalize()) != want {
        bail!("the download differs ({n} bytes)");
    }
    let mbs = |secs: f64| args.mb as f64 / secs;
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "file transfer, {} MB in {} MB chunks, loopback, binaries from {}",
        args.mb,
        args.chunk_mb,
        args.bin_dir.display()
    );
    println!("upload:   {up_secs:.2} s, {:.0} MB/s", mbs(up_secs));
    println!("download: {down_secs:.2} s, {:.0} MB/s", mbs(down_secs));
    println!(
        "server RSS: {:.1} MiB idle, peak {:.1} MiB uploading, {:.1} MiB downloading",
        mib(before[0]),
        mib(up_peaks[0]),
        mib(down_peaks[0])
    );
    println!(
        "agent RSS:  {:.1} MiB idle, peak {:.1} MiB uploading, {:.1} MiB downloading",
        mib(before[1]),
        mib(up_peaks[1]),
        mib(down_peaks[1])
    );
    drop(agent);
    drop(server);
    Ok(())
}
