//! Two `breeze serve` replicas on one PostgreSQL database and one NATS server, behind a
//! loopback TCP proxy that prefers replica A and fails over to B (as a load balancer
//! with health checks would), with a real `breeze-agent` connecting through the proxy.
//!
//! Needs `BREEZE_TEST_DATABASE_URL` and `BREEZE_TEST_NATS_URL` (CI sets both; elsewhere
//! the test says it skipped).

use crate::agent::{binaries, enroll_agent, execute, free_port, run_agent, script};
use crate::support::{self, Api, eventually};
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

struct Replica {
    child: Child,
    url: String,
    port: u16,
}

impl Replica {
    async fn start(bin: &Path, data: &Path, config: &Path, port: u16) -> Result<Replica> {
        std::fs::create_dir_all(data)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("server.log"))?;
        let child = Command::new(bin.join("breeze"))
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(config)
            .args(["--log-format", "json"])
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // The jobs' period claims are at debug level: `claims` reads them.
            .env("RUST_LOG", "info,breeze_server::jobs=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting breeze serve")?;
        let url = format!("http://127.0.0.1:{port}");
        let api = Api::new(&url);
        eventually(60, "the replica to be ready", || {
            let api = api.clone();
            async move {
                Ok(match api.get("/ready").await {
                    Ok((s, _)) if s.is_success() => Some(()),
                    _ => None,
                })
            }
        })
        .await?;
        Ok(Replica { child, url, port })
    }

    async fn ready(&self) -> Result<Value> {
        let (s, v) = Api::new(&self.url).get("/ready").await?;
        if !s.is_success() {
            bail!("{} is not ready: {v}", self.url);
        }
        Ok(v)
    }

    async fn channels(&self) -> usize {
        self.ready()
            .await
            .ok()
            .and_then(|v| v["agent_channels"].as_u64())
            .unwrap_or(0) as usize
    }

    fn signal(&self, sig: &str) -> Result<()> {
        let pid = self.child.id().context("the replica exited")?;
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()?;
        Ok(())
    }
}

/// Forwards each connection to the first backend that accepts it, in order.
async fn proxy(backends: Vec<u16>) -> Result<(u16, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let conns = Arc::new(AtomicU64::new(0));
    let counted = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backends = backends.clone();
            counted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                for p in backends {
                    if let Ok(mut out) = TcpStream::connect(("127.0.0.1", p)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        return;
                    }
                }
            });
        }
    });
    Ok((port, conns))
}

fn config(dir: &Path, db: &str, nats: &str, prefix: &str) -> Result<PathBuf> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let master = b64.encode(rand_bytes());
    let signing = b64.encode(rand_bytes());
    let path = dir.join("breeze.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"{db}\"\nnats_url = \"{nats}\"\nnats_prefix = \"{prefix}\"\n\
             master_key = \"{master}\"\nsigning_key = \"{signing}\"\n\n\
             [auth]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n\n\
             [agents]\nheartbeat_interval_secs = 5\nsweep_interval_secs = 2\nmetrics_flush_millis = 200\n\n\
             [server]\ndrain_secs = 4\n\n[metrics]\npublic = true\n"
        ),
    )?;
    Ok(path)
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for chunk in b.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    b
}

/// Reads `data:` lines of a Server-Sent Events response until one satisfies `want`.
async fn wait_event(
    resp: &mut reqwest::Response,
    buf: &mut String,
    secs: u64,
    want: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        while let Some(i) = buf.find('\n') {
            let line: String = buf.drain(..=i).collect();
            if let Some(data) = line.trim_end().strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                && want(&v)
            {
                return Ok(v);
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .context("no matching event in time")??
            .context("the event stream ended")?;
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn execution_status(api: &Api, id: &str) -> Result<String> {
    let (_, v) = api.get(&format!("/api/v1/script-executions/{id}")).await?;
    Ok(v["status"].as_str().unwrap_or_default().to_string())
}

/// Sums `breeze_job_runs_total` per job over the replicas' `/metrics`.
async fn job_runs(replicas: &[&Replica]) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut sums = std::collections::BTreeMap::new();
    for r in replicas {
        let text = support::http()
            .get(format!("{}/metrics", r.url))
            .send()
            .await?
            .text()
            .await?;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("breeze_job_runs_total{job=\"") else {
                continue;
            };
            let Some((job, value)) = rest.split_once("\"}") else {
                continue;
            };
            let n: f64 = value.trim().parse().unwrap_or(0.0);
            *sums.entry(job.to_string()).or_insert(0) += n as u64;
        }
    }
    Ok(sums)
}

/// Each (job, period) the replicas claimed, from their logs (`job period claimed`), with
/// how many times it was claimed: a period run twice, by one replica or by both, shows 2.
fn claims(logs: &[PathBuf]) -> Result<std::collections::BTreeMap<(String, i64), u32>> {
    let mut m = std::collections::BTreeMap::new();
    for p in logs {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let f = &v["fields"];
            if f["message"] != "job period claimed" {
                continue;
            }
            if let (Some(job), Some(period)) = (f["job"].as_str(), f["period"].as_i64()) {
                *m.entry((job.to_string(), period)).or_insert(0) += 1;
            }
        }
    }
    Ok(m)
}

/// Through B, whose replica does not hold the agent's channel: a terminal session runs a
/// command, and 3 MiB go up and come back down unchanged (more than a stream's window, so
/// flow control works across the tunnel both ways).
async fn remote_through_b(b: &Replica, admin_b: &Api, dev: &str, dir: &Path) -> Result<()> {
    use futures::{SinkExt, StreamExt};
    use sha2::Digest as _;
    use tokio_tungstenite::tungstenite::Message;
    assert_eq!(b.channels().await, 0, "the agent's channel is not on B");
    let (s, created) = admin_b
        .post(
            "/api/v1/remote/sessions",
            json!({"device_id": dev, "type": "terminal", "cols": 80, "rows": 24}),
        )
        .await?;
    if s.as_u16() != 201 {
        bail!("opening a terminal through B: {s} {created}");
    }
    let url = format!(
        "{}{}?ticket={}",
        b.url.replacen("http://", "ws://", 1),
        created["ws_path"].as_str().context("ws_path")?,
        created["ticket"].as_str().context("ticket")?
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let mut screen = String::new();
    let mut typed = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !screen.contains("across-42") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => screen.push_str(&String::from_utf8_lossy(&b)),
            Ok(Some(Ok(Message::Text(t)))) => screen.push_str(&format!("\n[{t}]\n")),
            Ok(Some(Ok(_))) => {}
            other => bail!("the terminal through B ended early ({other:?}); it showed:\n{screen}"),
        }
        if !typed && !screen.is_empty() {
            ws.send(Message::Binary(b"echo across-$((6*7))\r".to_vec().into()))
                .await?;
            typed = true;
        }
    }
    ws.close(None).await?;

    let token = admin_b.token.clone().context("B's token")?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let files = format!("{}/api/v1/devices/{dev}/files/content", b.url);
    let path = dir.join("through-b.bin");
    let path = path.to_str().context("a UTF-8 path")?;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let total = data.len().to_string();
    let r = http
        .put(&files)
        .query(&[("path", path), ("offset", "0"), ("total", total.as_str())])
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("upload through B: {} {}", r.status(), r.text().await?);
    }
    assert_eq!(std::fs::read(path)?, data, "the file the agent wrote");
    let r = http
        .get(&files)
        .query(&[("path", path)])
        .bearer_auth(&token)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("download through B: {} {}", r.status(), r.text().await?);
    }
    let back = r.bytes().await?;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&back)),
        hex::encode(sha2::Sha256::digest(&data)),
        "the file read back through B ({} bytes)",
        back.len()
    );
    Ok(())
}

#[tokio::test]
async fn two_replicas_share_commands_events_and_jobs_and_survive_losing_one() -> Result<()> {
    const JOBS: [&str; 7] = [
        "offline",
        "commands",
        "metrics",
        "alerts",
        "automations",
        "policies",
        "remote_sessions",
    ];
    let (Ok(_), Ok(nats)) = (
        std::env::var("BREEZE_TEST_DATABASE_URL"),
        std::env::var("BREEZE_TEST_NATS_URL"),
    ) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            bail!("CI must set BREEZE_TEST_DATABASE_URL and BREEZE_TEST_NATS_URL");
        }
        eprintln!(
            "SKIPPED replicas test: set BREEZE_TEST_DATABASE_URL and BREEZE_TEST_NATS_URL (nats://127.0.0.1:4222)"
        );
        return Ok(());
    };
    let t_start = Instant::now();
    let bin = binaries()?;
    let dir = tempfile::tempdir()?;
    let db = support::test_database_url()
        .await?
        .context("a PostgreSQL URL")?;
    let prefix = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    let cfg = config(dir.path(), &db, &nats, &prefix)?;
    let (pa, pb) = (free_port()?, free_port()?);
    let a = Replica::start(&bin, &dir.path().join("a"), &cfg, pa).await?;
    let b = Replica::start(&bin, &dir.path().join("b"), &cfg, pb).await?;
    eprintln!("replicas: both up after {:?}", t_start.elapsed());
    let (ra, rb) = (a.ready().await?, b.ready().await?);
    assert_eq!(ra["bus"], "nats");
    assert_ne!(ra["replica"], rb["replica"], "each replica has its own id");
    let (proxy_port, _) = proxy(vec![pa, pb]).await?;
    let front = format!("http://127.0.0.1:{proxy_port}");

    // First-run setup on A (its data dir holds the setup token); B shares the database.
    let admin_a = support::setup(&a.url, &dir.path().join("a"), "admin@replicas.test").await?;
    let admin_b = support::login(&b.url, "admin@replicas.test", support::PASSWORD).await?;
    // B started with its own setup token; the admin in the shared database closes it.
    let status: Value = support::http()
        .get(format!("{}/api/v1/setup/status", b.url))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        status["needs_setup"], false,
        "setup done through A is done on B"
    );
    assert!(
        !dir.path().join("b").join("setup-token").exists(),
        "B removed its setup token file"
    );
    let (org, site) = support::org_and_site(&admin_b, "Replicated").await?;
    let (_, key) = support::enrollment_key(&admin_b, &org, &site).await?;

    // A browser's event stream on B, open before the agent exists.
    let token_b = admin_b.token.clone().context("B's token")?;
    // No overall timeout: the stream stays open for the whole test.
    let _ = support::http();
    let mut events_b = reqwest::Client::builder()
        .build()?
        .get(format!("{}/api/v1/events", b.url))
        .bearer_auth(&token_b)
        .send()
        .await?;
    let mut buf = String::new();
    wait_event(&mut events_b, &mut buf, 10, |v| v["type"] == "hello").await?;

    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &front, &key).await?;
    let mut agent = run_agent(&bin, &state)?;
    eventually(30, "the agent's channel on A", || async {
        Ok((a.channels().await == 1).then_some(()))
    })
    .await?;
    assert_eq!(b.channels().await, 0, "the proxy sends the agent to A");
    eprintln!("replicas: agent connected after {:?}", t_start.elapsed());
    let (_, devs) = admin_b.get("/api/v1/devices").await?;
    let dev = devs["data"][0]["id"]
        .as_str()
        .context("the enrolled device")?
        .to_string();

    // 1. A status change made on A (the device's first check-in, recorded by A) reaches
    //    the stream on B.
    let online = wait_event(&mut events_b, &mut buf, 20, |v| {
        v["type"] == "device.status" && v["device_id"] == dev.as_str() && v["status"] == "online"
    })
    .await?;
    eprintln!("replicas: B's stream saw A's check-in: {online}");
    // And a change made through A's API.
    admin_a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{dev}/maintenance"),
            Some(json!({"reason": "replica test"})),
        )
        .await?;
    wait_event(&mut events_b, &mut buf, 10, |v| {
        v["type"] == "device.status"
            && v["device_id"] == dev.as_str()
            && v["status"] == "maintenance"
    })
    .await?;
    admin_a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{dev}/reactivate"),
            Some(json!({})),
        )
        .await?;

    // 2. A command queued through B reaches the agent on A within a second.
    let quick = script(&admin_b, &org, "echo quick", 30, json!([])).await?;
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let id = execute(&admin_b, &quick, &dev, json!({})).await?;
        eventually(10, "the agent to start the command", || {
            let api = admin_b.clone();
            let id = id.clone();
            async move {
                let s = execution_status(&api, &id).await?;
                Ok((!matches!(s.as_str(), "pending" | "sent")).then_some(()))
            }
        })
        .await?;
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    eprintln!("replicas: command via B → agent on A, started after {latencies:?}");
    assert!(
        latencies[latencies.len() - 1] < Duration::from_secs(1),
        "a command queued through B must reach the agent on A within 1 s: {latencies:?}"
    );

    // 2b. A terminal and file transfers opened through B reach the agent on A: B carries
    //     the streams to A (README "Remote sessions across replicas").
    remote_through_b(&b, &admin_b, &dev, dir.path()).await?;
    eprintln!("replicas: terminal and files through B reached the agent on A");

    // 3. Each periodic job runs once per period across the two replicas, counted once
    //    every job ran twice (past the first ticks, which prepare every statement).
    eventually(60, "every periodic job to run twice", || async {
        let runs = job_runs(&[&a, &b]).await?;
        Ok(JOBS
            .iter()
            .all(|j| runs.get(*j).copied().unwrap_or(0) >= 2)
            .then_some(()))
    })
    .await?;
    let before = job_runs(&[&a, &b]).await?;
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let after = job_runs(&[&a, &b]).await?;
    eprintln!(
        "replicas: job runs over {window:?} (every job each 2 s): before {before:?}, after {after:?}"
    );
    let logs = [
        dir.path().join("a").join("server.log"),
        dir.path().join("b").join("server.log"),
    ];
    for job in JOBS {
        let runs = after.get(job).copied().unwrap_or(0) - before.get(job).copied().unwrap_or(0);
        if !(4..=6).contains(&runs) {
            eprintln!("replicas: job {job} ran {runs} times; the replicas' logs say:");
            for log in &logs {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        l.contains(&format!("\"job\":\"{job}\""))
                            || l.contains("WARN")
                            || l.contains("ERROR")
                    })
                    .collect();
                eprintln!("{}:\n{}", log.display(), lines.join("\n"));
            }
        }
        // Five two-second periods fall in the window, give or take one at its edges; a
        // job run by both replicas would show about ten, a period nobody ran fewer.
        assert!(
            (4..=6).contains(&runs),
            "job {job} ran {runs} times in {window:?} across both replicas; once per period is 5 \
             (before {before:?}, after {after:?})"
        );
    }

    // 4. A dies (SIGKILL) while commands queued through B are on their way: the agent
    //    reconnects through the proxy to B, and every command runs exactly once.
    let marks = dir.path().join("marks.txt");
    let mut executions = Vec::new();
    for n in 0..12 {
        if n == 4 {
            a.signal("-KILL")?;
        }
        let s = script(
            &admin_b,
            &org,
            &format!("echo {n} >> {}", marks.display()),
            30,
            json!([]),
        )
        .await?;
        executions.push(execute(&admin_b, &s, &dev, json!({})).await?);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let t_kill = Instant::now();
    eventually(30, "the agent's channel on B", || async {
        Ok((b.channels().await == 1).then_some(()))
    })
    .await?;
    eprintln!(
        "replicas: agent on B {:?} after A was killed",
        t_kill.elapsed()
    );
    for id in &executions {
        eventually(60, "every command to complete", || {
            let api = admin_b.clone();
            let id = id.clone();
            async move {
                let s = execution_status(&api, &id).await?;
                if matches!(
                    s.as_str(),
                    "failed" | "lost" | "expired" | "rejected" | "cancelled"
                ) {
                    bail!("execution {id} ended {s}");
                }
                Ok((s == "completed").then_some(()))
            }
        })
        .await?;
    }
    let text = std::fs::read_to_string(&marks)?;
    let mut seen: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..12).collect::<Vec<_>>(),
        "each command ran exactly once: {text:?}"
    );

    // B took over the job leases A held when it died: every job now runs on B.
    let b_before = job_runs(&[&b]).await?;
    let t_jobs = Instant::now();
    eventually(30, "B to run every job after A died", || async {
        let now = job_runs(&[&b]).await?;
        let all = JOBS.iter().all(|j| {
            now.get(*j).copied().unwrap_or(0) >= b_before.get(*j).copied().unwrap_or(0) + 2
        });
        Ok(all.then_some(()))
    })
    .await?;
    eprintln!(
        "replicas: every job ran twice on B within {:?} (A dead)",
        t_jobs.elapsed()
    );

    // 5. A comes back; B drains on SIGTERM: the agent is told to reconnect and lands on
    //    A, and a command queued through A reaches it.
    let a2 = Replica::start(&bin, &dir.path().join("a"), &cfg, a.port).await?;
    let t_term = Instant::now();
    b.signal("-TERM")?;
    eventually(15, "the agent's channel on A again", || async {
        Ok((a2.channels().await == 1).then_some(()))
    })
    .await?;
    let moved = t_term.elapsed();
    eprintln!("replicas: after B's SIGTERM the agent was on A in {moved:?}");
    assert!(
        moved < Duration::from_secs(4),
        "the drain moved the agent within drain_secs: {moved:?}"
    );
    let admin_a2 = support::login(&a2.url, "admin@replicas.test", support::PASSWORD).await?;
    let id = execute(&admin_a2, &quick, &dev, json!({})).await?;
    eventually(10, "the command through A after the drain", || {
        let api = admin_a2.clone();
        let id = id.clone();
        async move { Ok((execution_status(&api, &id).await? == "completed").then_some(())) }
    })
    .await?;
    crate::agent::stop(&mut agent).await?;
    drop(events_b);

    // Over the whole run (both replicas up, A killed and its leases taken over, B
    // drained and its leases given back): no period of any job ran twice.
    let claimed = claims(&logs)?;
    let twice: Vec<_> = claimed.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "replicas: {} job periods claimed over the run, {} of them more than once",
        claimed.len(),
        twice.len()
    );
    assert!(
        twice.is_empty(),
        "job periods run more than once: {twice:?}"
    );
    for job in JOBS {
        assert!(
            claimed.keys().filter(|(j, _)| j == job).count() >= 8,
            "job {job} claimed few periods: the claims are not logged as `claims` reads them"
        );
    }
    Ok(())
}
