//! End to end with real processes: the `breeze` server binary and the `breeze-agent`
//! binary on this machine, talking over loopback.

use crate::support::{self, Api, eventually};
use anyhow::{Context, Result, bail};
use breeze_proto::agent::{CommandEnvelope, SignedCommand, sign_command, signing_key_from_base64};
use breeze_proto::ids::{CommandId, DeviceId, OrgId};
use breeze_store::Q;
use breeze_store::commands::{self, NewCommand};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Builds the workspace's binaries (`breeze`, `breeze-agent`) once, into this test's
/// target directory, and answers the directory holding them.
pub(crate) fn binaries() -> Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        // …/target/<profile>/deps/e2e-HASH
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("unexpected test binary location")?
            .to_path_buf();
        let target = profile_dir.parent().ok_or("no target dir")?.to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        // What `make` built before the tests ran, so this finds it built.
        build.args(["build", "--workspace", "--bins"]);
        // Without the variables `cargo test` set for this test binary (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR…): ring's build script declares it depends on them, so
        // inheriting them made this build redo ring, rustls, sqlx and the server (~30 s)
        // at the start of every `make test`, and the next `make` undo it. The user's
        // own CARGO_* settings (CARGO_HOME, CARGO_BUILD_JOBS…) stay.
        const SET_FOR_TESTS: &[&str] = &[
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ];
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if SET_FOR_TESTS.iter().any(|p| k.starts_with(p)) {
                build.env_remove(k.as_ref());
            }
        }
        build.env("CARGO_TARGET_DIR", &target);
        let status = build.status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("building breeze and breeze-agent failed".into());
        }
        Ok(profile_dir)
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

/// A loopback port free now, for a server or receiver a test starts on it later.
///
/// Taken below Linux's ephemeral range (32768–60999 here): a port the OS hands out for
/// port 0 is also what it gives outgoing connections as their source port, and with the
/// suite's tests running side by side one of those took a port between its reservation
/// and the bind that followed ("Address already in use"). Other tests pick at random too,
/// and the bind checks the port is free now.
pub(crate) fn free_port() -> Result<u16> {
    use std::hash::{BuildHasher, Hasher as _};
    for _ in 0..200 {
        // Every `RandomState` is seeded afresh: an empty hash of it is a random number.
        let h = std::collections::hash_map::RandomState::new().build_hasher();
        let port = 20_000 + u16::try_from(h.finish() % 12_000)?;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port between 20000 and 32000")
}

pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) data: PathBuf,
    port: u16,
}

impl Server {
    /// The server process's id (to read its memory use).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

pub(crate) async fn start_server(bin: &Path, data: &Path, port: u16) -> Result<Server> {
    let config = data.join("breeze.toml");
    std::fs::write(
        &config,
        "[auth]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n\n[agents]\nheartbeat_interval_secs = 5\nsweep_interval_secs = 1\nmetrics_flush_millis = 200\n",
    )?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("server.log"))?;
    let child = Command::new(bin.join("breeze"))
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting breeze serve")?;
    let url = format!("http://127.0.0.1:{port}");
    let api = Api::new(&url);
    eventually(60, "the server to listen", || {
        let api = api.clone();
        async move { Ok(api.get("/api/v1/setup/status").await.ok().map(|_| ())) }
    })
    .await?;
    Ok(Server {
        child,
        url,
        data: data.to_path_buf(),
        port,
    })
}

pub(crate) fn agent_cmd(bin: &Path, state: &Path) -> Command {
    let mut c = Command::new(bin.join("breeze-agent"));
    c.arg("--state-dir").arg(state).kill_on_drop(true);
    c
}

pub(crate) async fn enroll_agent(bin: &Path, state: &Path, url: &str, key: &str) -> Result<()> {
    let out = agent_cmd(bin, state)
        .args(["enroll", "--server", url, "--key", key])
        .output()
        .await?;
    if !out.status.success() {
        bail!("enroll failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

pub(crate) fn run_agent(bin: &Path, state: &Path) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.with_extension("log"))?;
    Ok(agent_cmd(bin, state)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?)
}

/// SIGTERM and wait (the agent stops cleanly).
pub(crate) async fn stop(child: &mut Child) -> Result<()> {
    if let Some(pid) = child.id() {
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    let _ = child.kill().await;
    Ok(())
}

/// A fresh `breeze serve` (binary) with its first admin, one organization and site, and
/// an agent enrolled into them (state in `<dir>/<agent>`, not started yet).
pub(crate) struct Enrolled {
    pub(crate) bin: PathBuf,
    pub(crate) server: Server,
    pub(crate) admin: Api,
    pub(crate) org: String,
    pub(crate) dev: String,
    pub(crate) state: PathBuf,
}

pub(crate) async fn server_with_enrolled_agent(
    dir: &Path,
    org_name: &str,
    agent: &str,
) -> Result<Enrolled> {
    let bin = binaries()?;
    let data = dir.join("server");
    std::fs::create_dir_all(&data)?;
    let server = start_server(&bin, &data, free_port()?).await?;
    let admin = support::setup(&server.url, &server.data, "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, org_name).await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state = dir.join(agent);
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    Ok(Enrolled {
        bin,
        server,
        admin,
        org,
        dev,
        state,
    })
}

pub(crate) fn credentials(state: &Path) -> Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(
        state.join("credentials.json"),
    )?)?)
}

const FINAL: &[&str] = &[
    "completed",
    "failed",
    "timeout",
    "cancelled",
    "expired",
    "rejected",
];

/// Polls the execution until `ready` holds for it; answers it then.
pub(crate) async fn execution_when(
    api: &Api,
    exec: &str,
    secs: u64,
    what: &str,
    ready: fn(&Value) -> bool,
) -> Result<Value> {
    eventually(secs, what, || {
        let api = api.clone();
        let exec = exec.to_string();
        async move {
            let (_, v) = api
                .get(&format!("/api/v1/script-executions/{exec}"))
                .await?;
            Ok(ready(&v).then_some(v))
        }
    })
    .await
}

pub(crate) async fn wait_execution(api: &Api, id: &str, secs: u64) -> Result<Value> {
    execution_when(api, id, secs, "the execution to finish", |v| {
        v["status"].as_str().is_some_and(|s| FINAL.contains(&s))
    })
    .await
}

pub(crate) async fn script(
    api: &Api,
    org: &str,
    content: &str,
    timeout: i64,
    params: Value,
) -> Result<String> {
    let s = api
        .ok(
            reqwest::Method::POST,
            "/api/v1/scripts",
            Some(json!({"org_id": org, "name": format!("s{}", uuid::Uuid::new_v4().simple()), "language": "bash",
                "os_types": ["linux"], "content": content, "timeout_seconds": timeout, "parameters": params})),
        )
        .await?;
    Ok(s["id"].as_str().context("script id")?.to_string())
}

pub(crate) async fn execute(
    api: &Api,
    script: &str,
    device: &str,
    params: Value,
) -> Result<String> {
    let e = api
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/scripts/{script}/execute"),
            Some(json!({"device_ids": [device], "parameters": params})),
        )
        .await?;
    Ok(e["data"][0]["id"]
        .as_str()
        .context("execution id")?
        .to_string())
}

/// Time from queueing a script until the agent has started it (status leaves pending/sent).
async fn delivery_latency(api: &Api, script_id: &str, device: &str) -> Result<(Duration, String)> {
    let t0 = Instant::now();
    let id = execute(api, script_id, device, json!({})).await?;
    eventually(60, "the agent to start the command", || {
        let api = api.clone();
        let id = id.clone();
        async move {
            let (_, v) = api.get(&format!("/api/v1/script-executions/{id}")).await?;
            Ok((!matches!(v["status"].as_str(), Some("pending" | "sent"))).then_some(()))
        }
    })
    .await?;
    Ok((t0.elapsed(), id))
}

fn processes_with_args(needle: &[&str]) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| {
            let parts: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            parts
                .windows(needle.len())
                .any(|w| w.iter().zip(needle).all(|(a, b)| a.ends_with(b.as_bytes())))
        })
        .count()
}

fn meminfo_total_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

async fn events_of(api: &Api, dev: &str) -> Result<Vec<Value>> {
    let (_, v) = api
        .get(&format!("/api/v1/devices/{dev}/events?limit=500"))
        .await?;
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_enrolls_reports_runs_scripts_and_survives_a_server_restart() -> Result<()> {
    let bin = binaries()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let port = free_port()?;
    let mut server = start_server(&bin, &data, port).await?;
    let admin = support::setup(&server.url, &server.data, "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "E2E").await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state_a = dir.path().join("agent-a");
    enroll_agent(&bin, &state_a, &server.url, &key).await?;
    let dev = credentials(&state_a)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let mut agent = run_agent(&bin, &state_a)?;

    // The device appears online with this machine's real facts.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_string();
    let hw = eventually(90, "hardware inventory", || {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            let (_, v) = admin
                .get(&format!("/api/v1/devices/{dev}/hardware"))
                .await?;
            Ok((!v["hardware"].is_null() && !v["os"].is_null()).then_some(v))
        }
    })
    .await?;
    let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(d["status"], "online");
    assert_eq!(d["hostname"], hostname.as_str());
    assert_eq!(hw["os"]["hostname"], hostname.as_str());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")?;
    let threads = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    assert_eq!(
        hw["hardware"]["cpu_threads"].as_u64(),
        Some(threads as u64),
        "{hw}"
    );
    assert!(
        !hw["hardware"]["cpu_model"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    let ram = hw["hardware"]["ram_total_mb"].as_u64().unwrap_or_default();
    let real_ram = meminfo_total_mb().unwrap_or_default();
    assert!(
        ram.abs_diff(real_ram) <= real_ram / 50 + 1,
        "ram {ram} MB vs /proc/meminfo {real_ram} MB"
    );
    let (_, disks) = admin.get(&format!("/api/v1/devices/{dev}/disks")).await?;
    assert!(
        disks["data"].as_array().is_some_and(|d| !d.is_empty()),
        "{disks}"
    );
    let (_, nics) = admin.get(&format!("/api/v1/devices/{dev}/network")).await?;
    let names: Vec<String> = std::fs::read_dir("/sys/class/net")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    assert!(
        nics["data"].as_array().is_some_and(|l| l
            .iter()
            .any(|n| names.iter().any(|x| n["name"] == x.as_str()))),
        "{nics} vs {names:?}"
    );
    if let Ok(out) = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Package}\n"])
        .output()
        && out.status.success()
    {
        let pkgs = String::from_utf8_lossy(&out.stdout).to_string();
        let pick = if pkgs.lines().any(|l| l == "bash") {
            "bash"
        } else {
            pkgs.lines().next().unwrap_or("bash")
        };
        let sw = eventually(60, "software inventory", || {
            let admin = admin.clone();
            let dev = dev.clone();
            async move {
                let (_, v) = admin
                    .get(&format!("/api/v1/devices/{dev}/software?q={pick}"))
                    .await?;
                Ok(v["data"].as_array().filter(|l| !l.is_empty()).cloned())
            }
        })
        .await?;
        assert!(
            sw.iter()
                .any(|p| p["name"] == pick && p["source"] == "dpkg"),
            "{sw:?}"
        );
    }
    // The real agent's process snapshot is served, its own process among them.
    let procs = eventually(60, "process snapshot", || {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            let (_, v) = admin
                .get(&format!(
                    "/api/v1/devices/{dev}/processes?q=breeze-agent&limit=500"
                ))
                .await?;
            Ok(v["data"].as_array().filter(|l| !l.is_empty()).cloned())
        }
    })
    .await?;
    assert!(
        procs.iter().all(|p| p["pid"].as_u64().is_some()),
        "{procs:?}"
    );

    // stdout, stderr and exit code exactly; delivery over the channel.
    let s3 = script(
        &admin,
        &org,
        "echo out-line\necho err-line >&2\nexit 3\n",
        60,
        json!([]),
    )
    .await?;
    let (latency, e3) = delivery_latency(&admin, &s3, &dev).await?;
    println!(
        "command delivery over the WebSocket channel: {} ms",
        latency.as_millis()
    );
    let r = wait_execution(&admin, &e3, 60).await?;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["exit_code"], 3);
    assert_eq!(r["stdout"], "out-line\n");
    assert_eq!(r["stderr"], "err-line\n");
    assert_eq!(r["script_version"], 1);
    assert!(!r["started_at"].is_null() && !r["completed_at"].is_null());

    // Parameters arrive as plain data, never as script text.
    let canary = dir.path().join("canary");
    let evil = format!(
        "$(touch {}) `touch {}` ; rm -rf /nonexistent-breeze",
        canary.display(),
        canary.display()
    );
    let sp = script(
        &admin,
        &org,
        "printf '%s' \"$BREEZE_PARAM_TARGET\"\n",
        60,
        json!([{"name": "target", "type": "string", "required": true}]),
    )
    .await?;
    let ep = execute(&admin, &sp, &dev, json!({"target": evil})).await?;
    let r = wait_execution(&admin, &ep, 60).await?;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["stdout"], evil.as_str());
    assert!(!canary.exists(), "the parameter was executed");

    // A 2 s timeout ends `sleep 613` as `timeout`, with no process left.
    let st = script(&admin, &org, "sleep 613\n", 2, json!([])).await?;
    let et = execute(&admin, &st, &dev, json!({})).await?;
    let r = wait_execution(&admin, &et, 60).await?;
    assert_eq!(r["status"], "timeout", "{r}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        processes_with_args(&["sleep", "613"]),
        0,
        "a `sleep 613` survived the timeout"
    );

    // Server stopped while a script runs: the result arrives after restart, once.
    let sr = script(&admin, &org, "sleep 4\necho finished\n", 60, json!([])).await?;
    let er = execute(&admin, &sr, &dev, json!({})).await?;
    eventually(30, "the script to start", || {
        let admin = admin.clone();
        let er = er.clone();
        async move {
            let (_, v) = admin
                .get(&format!("/api/v1/script-executions/{er}"))
                .await?;
            Ok((v["status"] == "running").then_some(()))
        }
    })
    .await?;
    server.child.kill().await?;
    let _ = server.child.wait().await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    server = start_server(&bin, &data, server.port).await?;
    let admin = support::login(&server.url, "admin@example.com", support::PASSWORD).await?;
    let r = wait_execution(&admin, &er, 120).await?;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["stdout"], "finished\n");
    let cmd_id = r["command_id"].as_str().context("command id")?.to_string();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let results = events_of(&admin, &dev)
        .await?
        .into_iter()
        .filter(|e| {
            e["event_type"] == "command_result" && e["details"]["command_id"] == cmd_id.as_str()
        })
        .count();
    assert_eq!(results, 1, "the result was recorded exactly once");

    // Tampered, expired and replayed commands are refused by the agent, visibly.
    let db = breeze_store::Db::connect(
        &format!("sqlite://{}", data.join("breeze.db").display()),
        &Default::default(),
    )
    .await?;
    let signing = signing_key_from_base64(&std::fs::read_to_string(data.join("signing.key"))?)?;
    let device_id: DeviceId = dev.parse()?;
    let org_id: OrgId = org.parse()?;
    let now = chrono::Utc::now();
    let envelope = |issued: chrono::DateTime<chrono::Utc>, ttl: chrono::Duration| CommandEnvelope {
        id: CommandId::new(),
        device_id,
        command_type: "collect_inventory_now".into(),
        payload: json!({}),
        issued_at: issued,
        expires_at: issued + ttl,
        nonce: None,
    };
    let mut tampered: SignedCommand =
        sign_command(&signing, envelope(now, chrono::Duration::hours(1)));
    tampered.envelope.payload = json!({"tampered": true});
    let expired = sign_command(
        &signing,
        envelope(now - chrono::Duration::hours(2), chrono::Duration::hours(1)),
    );
    for c in [&tampered, &expired] {
        commands::enqueue(
            &db,
            &NewCommand {
                device_id,
                org_id,
                signed: c,
                created_by: None,
                created_at: now,
                timeout_secs: None,
            },
        )
        .await?;
    }
    // Delivered late: the queue thinks it is still valid, the signed envelope says expired.
    db.exec(
        Q::new("UPDATE device_commands SET expires_at = ? WHERE id = ?")
            .bind(now + chrono::Duration::hours(1))
            .bind(expired.envelope.id),
    )
    .await?;
    // A replay: the exact signed bytes of the command that already ran.
    db.exec(
        Q::new(
            "INSERT INTO device_commands (id, device_id, org_id, type, payload, status, envelope, signature, created_at, expires_at, \
             stdout_truncated, stderr_truncated) SELECT ?, device_id, org_id, type, payload, 'pending', envelope, signature, ?, ?, \
             stdout_truncated, stderr_truncated FROM device_commands WHERE id = ?",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(now)
        .bind(now + chrono::Duration::hours(1))
        .bind(uuid::Uuid::parse_str(r["command_id"].as_str().unwrap_or_default())?),
    )
    .await?;
    // The rows went in behind the server's back (no wake-up on the channel): the agent
    // takes them with its next heartbeat, every 5 s here.
    let refusals = || async {
        let mut reasons: Vec<String> = events_of(&admin, &dev)
            .await?
            .into_iter()
            .filter(|e| e["event_type"] == "command_rejected")
            .filter_map(|e| e["details"]["reason"].as_str().map(str::to_string))
            .collect();
        reasons.sort();
        anyhow::Ok(reasons)
    };
    let waited = eventually(60, "three refusals", || async {
        let reasons = refusals().await?;
        Ok((reasons.len() >= 3).then_some(reasons))
    })
    .await;
    let reasons = match waited {
        Ok(r) => r,
        Err(e) => {
            // Say which refusals came, where each command is, and what the agent last told
            // about itself.
            let reasons = refusals().await?;
            let (_, hist) = admin
                .get(&format!("/api/v1/devices/{dev}/commands?limit=20"))
                .await?;
            let status = std::fs::read_to_string(state_a.join("status.json")).unwrap_or_default();
            let log = std::fs::read_to_string(state_a.with_extension("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            bail!(
                "{e:#}: got {reasons:?}; commands: {hist}; agent status: {status}; \
                 agent log, last lines first:\n{}",
                tail.join("\n")
            );
        }
    };
    assert_eq!(reasons, ["bad_signature", "expired", "replayed"]);
    let (_, hist) = admin
        .get(&format!("/api/v1/devices/{dev}/commands?limit=100"))
        .await?;
    let status_of = |id: CommandId| {
        hist["data"].as_array().and_then(|l| {
            l.iter()
                .find(|c| c["id"] == id.to_string().as_str())
                .cloned()
        })
    };
    assert_eq!(
        status_of(tampered.envelope.id).map(|c| c["status"].clone()),
        Some(json!("rejected"))
    );
    assert_eq!(
        status_of(expired.envelope.id).map(|c| c["rejection"].clone()),
        Some(json!("expired"))
    );
    db.close().await;

    // With the channel off, commands still arrive by heartbeat.
    stop(&mut agent).await?;
    let mut creds = credentials(&state_a)?;
    creds["config"]["ws_enabled"] = json!(false);
    std::fs::write(
        state_a.join("credentials.json"),
        serde_json::to_vec_pretty(&creds)?,
    )?;
    let mut agent = run_agent(&bin, &state_a)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (latency, eh) = delivery_latency(&admin, &s3, &dev).await?;
    println!(
        "command delivery by heartbeat polling (channel disabled, 5 s interval): {} ms",
        latency.as_millis()
    );
    let r = wait_execution(&admin, &eh, 60).await?;
    assert_eq!(r["exit_code"], 3);

    // Agent B's token on agent A's device: 404, B's token suspended, audited.
    let state_b = dir.path().join("agent-b");
    enroll_agent(&bin, &state_b, &server.url, &key).await?;
    let creds_b = credentials(&state_b)?;
    let b = Api::new(&server.url).with_token(creds_b["auth_token"].as_str().context("token")?);
    let hb = json!({"protocol_version": 1, "agent_version": "x", "sent_at": chrono::Utc::now(), "status": "ok", "metrics": {}});
    let (s, _) = b
        .post(&format!("/api/v1/agents/{dev}/heartbeat"), hb.clone())
        .await?;
    assert_eq!(s, reqwest::StatusCode::NOT_FOUND);
    let dev_b = creds_b["device_id"].as_str().context("device b")?;
    let (s, _) = b
        .post(&format!("/api/v1/agents/{dev_b}/heartbeat"), hb)
        .await?;
    assert_eq!(s, reqwest::StatusCode::UNAUTHORIZED);
    let (_, d) = admin.get(&format!("/api/v1/devices/{dev_b}")).await?;
    assert_eq!(d["token_suspended"], true);
    let (_, log) = admin
        .get("/api/v1/audit/logs?action=agent.token.suspended")
        .await?;
    assert_eq!(log["data"].as_array().map(Vec::len), Some(1));
    let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(d["token_suspended"], false, "A is not affected");

    stop(&mut agent).await?;
    Ok(())
}
