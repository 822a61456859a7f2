//! `breeze-loadgen`: simulates N agents against a running `breeze serve` over loopback.
//! Each agent enrolls with a site key, uploads a small inventory once, then heartbeats
//! every `--interval` seconds (spread evenly), posting a result for every command the
//! heartbeat hands out. Prints heartbeats/s, p50/p99 latency, errors and the server's
//! RSS and CPU (from /proc/<pid>).
//!
//! ```text
//! breeze-loadgen --server http://127.0.0.1:3001 --key bzk_… --agents 10000 \
//!     --interval 60 --duration 180 --server-pid $(pgrep -nx breeze)
//! ```
//! or with `--setup-data-dir DIR` it finishes first-run setup on a fresh server and
//! creates the organization, site and key itself.

use anyhow::{Context, Result, bail};
use breeze_proto::agent::{
    CommandResult, CommandStatus, EnrollResponse, HeartbeatResponse, PROTOCOL_VERSION, paths,
};
use clap::Parser;
use rand::Rng as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

#[derive(Parser, Clone)]
#[command(name = "breeze-loadgen")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:3001")]
    server: String,
    /// Site enrollment key (with enough max_uses).
    #[arg(long)]
    key: Option<String>,
    /// Data directory of a fresh server: run setup and create org, site and key.
    #[arg(long)]
    setup_data_dir: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Seconds between heartbeats of one agent.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Seconds of heartbeating to measure (after enrollment).
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Concurrent enrollments.
    #[arg(long, default_value_t = 32)]
    enroll_concurrency: usize,
    /// PID of the server, for RSS and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Alert rules to create in the load organization before enrolling (with
    /// `--setup-data-dir`): see [`alert_rules`] for the mix.
    #[arg(long, default_value_t = 0)]
    alert_rules: usize,
}

#[derive(Default)]
struct Stats {
    heartbeats: AtomicU64,
    errors: AtomicU64,
    commands: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

fn proc_stat(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss_kb))
}

async fn post(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: &Value,
) -> Result<Value> {
    let mut r = c.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await?;
    let s = resp.status();
    let text = resp.text().await?;
    if !s.is_success() {
        bail!("{s}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn bootstrap(c: &reqwest::Client, args: &Args, dir: &std::path::Path) -> Result<String> {
    let token = std::fs::read_to_string(dir.join("setup-token")).context("reading setup-token")?;
    let s = &args.server;
    let t = post(
        c,
        format!("{s}/api/v1/setup"),
        None,
        &json!({"setup_token": token.trim(),
        "partner_name": "Load", "admin_name": "Load Admin", "admin_email": "load@example.com",
        "admin_password": "Load-Test-Password-42!"}),
    )
    .await?;
    let at = t["access_token"]
        .as_str()
        .context("access token")?
        .to_string();
    let org = post(
        c,
        format!("{s}/api/v1/orgs"),
        Some(&at),
        &json!({"name": "Load Org"}),
    )
    .await?;
    let org_id = org["id"].as_str().context("org")?;
    let site = post(
        c,
        format!("{s}/api/v1/orgs/{org_id}/sites"),
        Some(&at),
        &json!({"name": "Load Site"}),
    )
    .await?;
    let k = post(
        c,
        format!("{s}/api/v1/enrollment-keys"),
        Some(&at),
        &json!({"org_id": org_id,
        "site_id": site["id"], "name": "load", "max_uses": 1_000_000, "expires_in_hours": 48}),
    )
    .await?;
    for (i, rule) in alert_rules(args.alert_rules).into_iter().enumerate() {
        let mut rule = rule;
        rule["org_id"] = json!(org_id);
        rule["name"] = json!(format!("bench rule {i}"));
        post(c, format!("{s}/api/v1/alert-rules"), Some(&at), &rule)
            .await
            .with_context(|| format!("creating alert rule {i}"))?;
    }
    Ok(k["key"].as_str().context("key")?.to_string())
}

/// `n` alert rules targeting every device, as an MSP's org might have them: mostly metric
/// thresholds over a 5-minute window on each metric the simulated agents send (CPU is
/// uniform 0..100, so a windowed CPU rule almost never fires), one CPU rule with no window
/// that fires on ~2% of heartbeats and resolves on the next (alert churn), and rules the
/// heartbeat path must not evaluate (offline, software removed).
fn alert_rules(n: usize) -> Vec<Value> {
    let windowed = [
        ("cpu_percent", 90.0),
        ("ram_percent", 95.0),
        ("disk_percent", 95.0),
        ("process_count", 2000.0),
        ("custom.load_1", 16.0),
    ];
    (0..n)
        .map(|i| {
            let conditions = match i % 10 {
                7 => json!({"metric": "cpu_percent", "operator": "gt", "value": 98.0}),
                8 => json!({"type": "status", "status": "offline", "duration_minutes": 10}),
                9 => json!({"type": "software_change", "action": "removed", "name_pattern": "Antivirus*"}),
                k => {
                    let (metric, value) = windowed[k % windowed.len()];
                    json!({"metric": metric, "operator": "gt", "value": value + i as f64 * 0.01,
                        "duration_minutes": 5})
                }
            };
            json!({"severity": "high", "targets": {"all": true}, "conditions": conditions,
                "cooldown_minutes": 0, "auto_resolve": true})
        })
        .collect()
}

fn inventory(host: &str) -> Value {
    let software: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("pkg-{i}"), "version": "1.0", "source": "dpkg"}))
        .collect();
    json!({
        "hardware": {"cpu_model": "Sim CPU", "cpu_cores": 4, "cpu_threads": 8, "ram_total_mb": 16000, "disk_total_gb": 512.0},
        "os": {"os_type": "linux", "name": "Debian", "version": "12", "build": "", "architecture": "amd64",
               "kernel_version": "6.1.0", "hostname": host},
        "disks": [{"mount_point": "/", "filesystem": "ext4", "device": "/dev/sda1", "total_bytes": 512_000_000_000u64, "used_bytes": 100_000_000_000u64, "removable": false}],
        "network": [{"name": "eth0", "mac_address": "02:00:00:00:00:01", "addresses": [{"address": "10.0.0.2", "kind": "ipv4", "prefix_len": 24}], "is_primary": true, "interface_type": "ethernet"}],
        "software": software,
        "hashes": {"hardware": "h1", "os": "h2", "disks": "h3", "network": "h4", "software": "h5"}
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()?;
    let key = match (&args.key, &args.setup_data_dir) {
        (Some(k), _) => k.clone(),
        (None, Some(d)) => bootstrap(&client, &args, d).await?,
        (None, None) => bail!("give --key or --setup-data-dir"),
    };

    // Enrollment.
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(args.enroll_concurrency.max(1)));
    let mut handles = Vec::with_capacity(args.agents);
    for i in 0..args.agents {
        let (c, s, key, sem) = (
            client.clone(),
            args.server.clone(),
            key.clone(),
            sem.clone(),
        );
        handles.push(tokio::spawn(async move {
            let _p = sem.acquire().await.ok()?;
            let host = format!("sim-{i:06}");
            let fp: String = (0..64).map(|_| char::from(b"0123456789abcdef"[rand::rng().random_range(0..16)])).collect();
            let body = json!({"protocol_version": PROTOCOL_VERSION, "enrollment_key": key, "hostname": host,
                "os_type": "linux", "os_version": "12", "architecture": "amd64", "agent_version": "sim",
                "fingerprint": fp, "hardware": {"cpu_model": "Sim CPU", "cpu_cores": 4, "ram_total_mb": 16000}});
            let v = post(&c, format!("{s}{}", paths::ENROLL), None, &body).await.ok()?;
            let e: EnrollResponse = serde_json::from_value(v).ok()?;
            let token = e.auth_token.expose().to_string();
            let inv = format!("{s}{}", paths::inventory(e.agent_id));
            let _ = c.put(inv).bearer_auth(&token).json(&inventory(&host)).send().await;
            Some((e.agent_id, token))
        }));
    }
    let mut agents = Vec::new();
    for h in handles {
        if let Ok(Some(a)) = h.await {
            agents.push(a);
        }
    }
    let enroll_secs = t0.elapsed().as_secs_f64();
    println!(
        "enrolled {} of {} agents (+ inventory) in {:.1} s ({:.0}/s)",
        agents.len(),
        args.agents,
        enroll_secs,
        agents.len() as f64 / enroll_secs
    );
    if agents.is_empty() {
        bail!("no agent enrolled");
    }

    // Heartbeats, spread evenly over the interval.
    let stats = Arc::new(Stats::default());
    let interval = Duration::from_secs(args.interval.max(1));
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let end = start + interval + Duration::from_secs(args.duration);
    let n = agents.len();
    for (i, (id, token)) in agents.into_iter().enumerate() {
        let (c, s, stats) = (client.clone(), args.server.clone(), stats.clone());
        let offset = interval.mul_f64(i as f64 / n as f64);
        tokio::spawn(async move {
            let mut next = start + offset;
            let hb = format!("{s}{}", paths::heartbeat(id));
            while next < end {
                tokio::time::sleep_until(next).await;
                next += interval;
                let body = json!({"protocol_version": PROTOCOL_VERSION, "agent_version": "sim",
                    "sent_at": chrono::Utc::now(), "status": "ok",
                    "metrics": {"cpu_percent": rand::rng().random_range(0.0..100.0), "ram_percent": 50.0,
                        "ram_used_mb": 8000, "ram_total_mb": 16000, "process_count": 200,
                        "disk_percent": 40.0, "custom": {"load_1": rand::rng().random_range(0.0..4.0)}},
                    "inventory_hashes": {"hardware": "h1", "os": "h2", "disks": "h3", "network": "h4", "software": "h5"}});
                let t = Instant::now();
                match post(&c, hb.clone(), Some(&token), &body).await {
                    Ok(v) => {
                        let us = t.elapsed().as_micros() as u64;
                        stats.heartbeats.fetch_add(1, Ordering::Relaxed);
                        stats.latencies_us.lock().await.push(us);
                        let resp: HeartbeatResponse = serde_json::from_value(v).unwrap_or_default();
                        for cmd in resp.commands {
                            let now = chrono::Utc::now();
                            let r = CommandResult {
                                command_id: cmd.envelope.id,
                                command_type: cmd.envelope.command_type.clone(),
                                status: CommandStatus::Completed,
                                rejection: None,
                                exit_code: Some(0),
                                stdout: "ok".into(),
                                stderr: String::new(),
                                stdout_truncated: false,
                                stderr_truncated: false,
                                duration_ms: 1,
                                error_message: None,
                                started_at: Some(now),
                                completed_at: now,
                            };
                            let url = format!("{s}{}", paths::command_result(id, cmd.envelope.id));
                            if c.post(url)
                                .bearer_auth(&token)
                                .json(&r)
                                .send()
                                .await
                                .is_ok()
                            {
                                stats.commands.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Err(e) => {
                        if stats.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("heartbeat error: {e:#}");
                        }
                    }
                }
            }
        });
    }

    // Warm-up: one full interval, then measure `duration` seconds.
    tokio::time::sleep_until(start + interval).await;
    let hb0 = stats.heartbeats.load(Ordering::Relaxed);
    let err0 = stats.errors.load(Ordering::Relaxed);
    stats.latencies_us.lock().await.clear();
    let cpu0 = args.server_pid.and_then(proc_stat);
    let m0 = Instant::now();
    let mut peak_rss = 0u64;
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Some((_, rss)) = args.server_pid.and_then(proc_stat) {
            peak_rss = peak_rss.max(rss);
        }
        println!(
            "  t+{:>4.0}s heartbeats {} errors {}",
            m0.elapsed().as_secs_f64(),
            stats.heartbeats.load(Ordering::Relaxed) - hb0,
            stats.errors.load(Ordering::Relaxed) - err0
        );
    }
    let secs = m0.elapsed().as_secs_f64();
    let hb = stats.heartbeats.load(Ordering::Relaxed) - hb0;
    let errors = stats.errors.load(Ordering::Relaxed) - err0;
    let mut lat = stats.latencies_us.lock().await.clone();
    lat.sort_unstable();
    println!(
        "agents {n}, interval {} s, measured {:.0} s",
        args.interval, secs
    );
    println!(
        "heartbeats {hb} ({:.1}/s, expected {:.1}/s), errors {errors}, command results {}",
        hb as f64 / secs,
        n as f64 / args.interval as f64,
        stats.commands.load(Ordering::Relaxed)
    );
    println!(
        "latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    if let (Some(pid), Some((t0, _))) = (args.server_pid, cpu0)
        && let Some((t1, rss)) = proc_stat(pid)
    {
        // USER_HZ is 100 on Linux.
        let cpu = (t1.saturating_sub(t0)) as f64 / 100.0 / secs * 100.0;
        println!(
            "server pid {pid}: CPU {cpu:.1}% of one core, RSS {:.0} MiB (peak {:.0} MiB)",
            rss as f64 / 1024.0,
            peak_rss.max(rss) as f64 / 1024.0
        );
    }
    Ok(())
}
