//! Alert deliveries survive a crash (issue 11: "the server is killed with deliveries
//! pending: they are sent after restart, none twice"), with the real `breeze` binary as a
//! child process killed by SIGKILL, then started again on the same data directory and
//! database. Devices are enrolled and heartbeat through the agent API (no agent process):
//! a rule with no window fires on the first heartbeat above its threshold.
//!
//! - Pending: the webhook receiver is down, so every delivery fails and waits for its
//!   retry; the server is killed; the receiver comes up; the restarted server sends each
//!   delivery exactly once (one request per idempotency key and per alert), the rows end
//!   `sent` on their second attempt, and nothing more arrives afterwards.
//! - In flight: the receiver holds the request without answering and the server is
//!   killed meanwhile. The restarted server sends it again once the job's lease has
//!   expired (the lease is `2 × [outbound] timeout_secs + 30 s`, so this test waits about
//!   40 s), with the same `Idempotency-Key`: deduplicated by key, the alert had one effect.
//!
//! Runs on SQLite, and on PostgreSQL (a fresh schema) when `BREEZE_TEST_DATABASE_URL` is set.

use crate::agent::{binaries, free_port};
use crate::support::{self, Api, eventually};
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// `[outbound] timeout_secs`: the job's lease is twice this plus 30 s. The in-flight test
/// must kill the server within this long of the receiver getting the request (else the
/// attempt times out and is recorded before the kill): 5 s leaves room on a loaded machine.
const TIMEOUT_SECS: u64 = 5;
/// `[outbound] retry_base_millis`: long enough that no retry runs between the first
/// failed attempts and the kill, short enough that the restarted server retries soon.
const RETRY_BASE_MILLIS: u64 = 5000;

/// The `breeze` binary serving one data directory (and database), killed and started
/// again by the test. (Also the automation schedule's two-server test.)
pub(crate) struct Server {
    bin: PathBuf,
    pub(crate) data: PathBuf,
    config: PathBuf,
    pub(crate) database_url: Option<String>,
    port: u16,
    pub(crate) child: Option<Child>,
}

impl Server {
    pub(crate) async fn new(dir: &Path) -> Result<Server> {
        let bin = binaries()?;
        let data = dir.join("server");
        std::fs::create_dir_all(&data)?;
        let config = data.join("breeze.toml");
        std::fs::write(
            &config,
            format!(
                "[auth]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n\n\
                 [agents]\nheartbeat_interval_secs = 5\nsweep_interval_secs = 1\nmetrics_flush_millis = 200\n\n\
                 [outbound]\nallow = [\"127.0.0.1\"]\ntimeout_secs = {TIMEOUT_SECS}\nmax_attempts = 8\n\
                 retry_base_millis = {RETRY_BASE_MILLIS}\nretry_max_secs = 5\nqueue_poll_millis = 100\n"
            ),
        )?;
        // A fresh schema on PostgreSQL, kept across the restart.
        let database_url = support::test_database_url().await?;
        let mut s = Server {
            bin,
            data,
            config,
            database_url,
            port: free_port()?,
            child: None,
        };
        s.start().await?;
        Ok(s)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A second server on the same data directory (keys), configuration and database,
    /// on its own port: another replica.
    pub(crate) async fn replica(&self) -> Result<Server> {
        let mut s = Server {
            bin: self.bin.clone(),
            data: self.data.clone(),
            config: self.config.clone(),
            database_url: self.database_url.clone(),
            port: free_port()?,
            child: None,
        };
        s.start().await?;
        Ok(s)
    }

    async fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("server.log"))?;
        let mut cmd = Command::new(self.bin.join("breeze"));
        cmd.arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config);
        if let Some(u) = &self.database_url {
            cmd.args(["--database-url", u]);
        }
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(cmd.spawn().context("starting breeze serve")?);
        let api = Api::new(&self.url());
        eventually(60, "the server to listen", || {
            let api = api.clone();
            async move { Ok(api.get("/api/v1/setup/status").await.ok().map(|_| ())) }
        })
        .await
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap: no shutdown of any kind.
    pub(crate) async fn kill(&mut self) -> Result<()> {
        let mut child = self.child.take().context("the server is not running")?;
        child.kill().await?;
        Ok(())
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    key: String,
    alert: String,
    event: String,
    at: Instant,
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// 200 at once.
    Accept,
    /// Keeps the request and never answers (the server is killed meanwhile).
    Hold,
}

/// A webhook receiver on loopback that keeps every request it reads.
#[derive(Clone)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    /// Listens on `port` (of 127.0.0.1) from now on, or on one the system picks for 0;
    /// answers the port.
    async fn start_at(port: u16, mode: Mode) -> Result<(Receiver, u16)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("the webhook receiver binding 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let rx = Receiver {
            hits: Arc::default(),
            mode: Arc::new(Mutex::new(mode)),
        };
        let (hits, mode) = (rx.hits.clone(), rx.mode.clone());
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (hits, mode) = (hits.clone(), mode.clone());
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    hits.lock().unwrap_or_else(|e| e.into_inner()).push(Hit {
                        key: headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string(),
                        alert: v["alert"]["id"].as_str().unwrap_or_default().to_string(),
                        event: v["event"].as_str().unwrap_or_default().to_string(),
                        at: Instant::now(),
                    });
                    let m = *mode.lock().unwrap_or_else(|e| e.into_inner());
                    if m == Mode::Hold {
                        tokio::time::sleep(Duration::from_secs(300)).await;
                    }
                    "ok"
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((rx, port))
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn wait_for(&self, n: usize, secs: u64) -> Result<Vec<Hit>> {
        eventually(secs, &format!("{n} webhook requests"), || async move {
            let h = self.hits();
            Ok((h.len() >= n).then_some(h))
        })
        .await
    }
}

/// An enrolled device, heartbeating through the agent API.
struct Device {
    id: String,
    api: Api,
}

impl Device {
    async fn enroll(base: &str, key: &str, host: &str, n: usize) -> Result<Device> {
        let fp = format!("{:x}", n % 16).repeat(64);
        let (s, v) = Api::new(base)
            .post(
                "/api/v1/agents/enroll",
                json!({
                    "protocol_version": 1, "enrollment_key": key, "hostname": host,
                    "os_type": "linux", "os_version": "12.4", "architecture": "amd64",
                    "agent_version": "0.1.0", "fingerprint": fp,
                    "hardware": {"cpu_model": "Test CPU", "cpu_cores": 4, "ram_total_mb": 16000}
                }),
            )
            .await?;
        ensure!(s == reqwest::StatusCode::CREATED, "enroll: {s} {v}");
        Ok(Device {
            id: v["agent_id"].as_str().context("agent id")?.to_string(),
            api: Api::new(base).with_token(v["auth_token"].as_str().context("token")?),
        })
    }

    /// One heartbeat with `cpu_percent` at `cpu`.
    async fn beat(&self, cpu: f64) -> Result<()> {
        let (s, v) = self
            .api
            .post(
                &format!("/api/v1/agents/{}/heartbeat", self.id),
                json!({"protocol_version": 1, "agent_version": "0.1.0",
                    "sent_at": chrono::Utc::now(), "status": "ok",
                    "metrics": {"cpu_percent": cpu, "ram_percent": 20.0}}),
            )
            .await?;
        ensure!(s.is_success(), "heartbeat: {s} {v}");
        Ok(())
    }

    /// The same device, talking to a server started again at `base`.
    fn at(&self, base: &str) -> Device {
        Device {
            id: self.id.clone(),
            api: Api::new(base).with_token(self.api.token.as_deref().unwrap_or_default()),
        }
    }
}

/// A server with its first admin and one organization; a webhook channel to `hook_url`
/// and a rule firing on any heartbeat with `cpu_percent` above 90 notifying it; `n`
/// devices enrolled.
struct Rig {
    server: Server,
    admin: Api,
    channel: String,
    rule: String,
    devices: Vec<Device>,
}

async fn rig(dir: &Path, hook_url: &str, n: usize) -> Result<Rig> {
    let server = Server::new(dir).await?;
    let admin = support::setup(&server.url(), &server.data, "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Crash").await?;
    let ch = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/notification-channels",
            Some(json!({"org_id": org, "name": "hook", "type": "webhook",
                "config": {"url": hook_url}})),
        )
        .await?;
    let channel = ch["id"].as_str().context("channel id")?.to_string();
    let r = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/alert-rules",
            Some(
                json!({"org_id": org, "name": "CPU high", "severity": "critical",
                "targets": {"all": true},
                "conditions": {"metric": "cpu_percent", "operator": "gt", "value": 90},
                "cooldown_minutes": 0, "auto_resolve": false,
                "notification_channels": [channel]}),
            ),
        )
        .await?;
    let rule = r["id"].as_str().context("rule id")?.to_string();
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        devices.push(Device::enroll(&server.url(), &key, &format!("web-{i:02}"), i).await?);
    }
    Ok(Rig {
        server,
        admin,
        channel,
        rule,
        devices,
    })
}

impl Rig {
    /// The rule's alerts, by device id.
    async fn alerts(&self) -> Result<BTreeMap<String, String>> {
        let (s, v) = self
            .admin
            .get(&format!("/api/v1/alerts?rule_id={}&limit=100", self.rule))
            .await?;
        ensure!(s.is_success(), "alerts: {s} {v}");
        let mut by_device = BTreeMap::new();
        for a in v["data"].as_array().cloned().unwrap_or_default() {
            let dev = a["device_id"].as_str().context("device id")?.to_string();
            let id = a["id"].as_str().context("alert id")?.to_string();
            ensure!(
                by_device.insert(dev, id).is_none(),
                "two alerts for one device: {v}"
            );
        }
        Ok(by_device)
    }

    /// An alert's delivery log.
    async fn deliveries(&self, alert: &str) -> Result<Vec<Value>> {
        let (s, v) = self
            .admin
            .get(&format!("/api/v1/alerts/{alert}/deliveries"))
            .await?;
        ensure!(s.is_success(), "deliveries: {s} {v}");
        Ok(v["data"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until every alert has exactly one delivery and `ready` holds for each;
    /// answers them by alert.
    async fn deliveries_when(
        &self,
        alerts: &[String],
        secs: u64,
        what: &str,
        ready: fn(&Value) -> bool,
    ) -> Result<BTreeMap<String, Value>> {
        let last = Mutex::new(BTreeMap::new());
        let r = eventually(secs, what, || async {
            let mut all = BTreeMap::new();
            for a in alerts {
                let log = self.deliveries(a).await?;
                if let [d] = log.as_slice() {
                    all.insert(a.clone(), d.clone());
                }
            }
            let done = all.len() == alerts.len() && all.values().all(ready);
            *last.lock().unwrap_or_else(|e| e.into_inner()) = all.clone();
            Ok(done.then_some(all))
        })
        .await;
        r.with_context(|| {
            format!(
                "last seen {:?}\nserver log:\n{}",
                last.lock().unwrap_or_else(|e| e.into_inner()),
                self.server.log()
            )
        })
    }
}

fn key_of(alert: &str, channel: &str) -> String {
    format!("{alert}:{channel}:alert.triggered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_pending_when_the_server_is_killed_are_sent_once_after_it_restarts() -> Result<()>
{
    const N: usize = 3;
    let dir = tempfile::tempdir()?;
    // The receiver's port, reserved and closed: the receiver is down at first.
    let port = free_port()?;
    let mut rig = rig(dir.path(), &format!("http://127.0.0.1:{port}/hook"), N).await?;
    for d in &rig.devices {
        d.beat(97.0).await?;
    }
    let alerts = eventually(30, "an alert per device", || async {
        let a = rig.alerts().await?;
        Ok((a.len() == N).then_some(a))
    })
    .await?;
    ensure!(
        rig.devices.iter().all(|d| alerts.contains_key(&d.id)),
        "{alerts:?}"
    );
    let ids: Vec<String> = alerts.values().cloned().collect();
    // Every delivery tried once (connection refused) and waiting for its retry.
    let before = rig
        .deliveries_when(&ids, 30, "a failed first attempt per delivery", |d| {
            d["attempts"] == 1
        })
        .await?;
    for d in before.values() {
        ensure!(d["status"] == "pending", "{d}");
        ensure!(d["last_error"] == "connection refused", "{d}");
    }

    // Killed; the receiver comes up; the server starts again on the same data and
    // database (the admin and the devices keep their tokens).
    rig.server.kill().await?;
    let (rx, _) = Receiver::start_at(port, Mode::Accept).await?;
    rig.server.start().await?;
    // The devices report again: the open alerts absorb it, nothing new is queued.
    let url = rig.server.url();
    for d in &rig.devices {
        d.at(&url).beat(98.0).await?;
    }

    let after = rig
        .deliveries_when(&ids, 30, "every delivery sent", |d| d["status"] == "sent")
        .await?;
    for d in after.values() {
        // The attempt before the crash, and the one that went through.
        ensure!(d["attempts"] == 2, "{d}");
        ensure!(d["response_status"] == 200, "{d}");
        ensure!(d["last_error"].is_null(), "{d}");
    }
    // Nothing more arrives.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let hits = rx.hits();
    ensure!(hits.len() == N, "each delivery once: {hits:?}");
    let keys: BTreeSet<&str> = hits.iter().map(|h| h.key.as_str()).collect();
    let by_alert: BTreeSet<&str> = hits.iter().map(|h| h.alert.as_str()).collect();
    ensure!(keys.len() == N, "one request per key: {hits:?}");
    ensure!(
        by_alert == ids.iter().map(String::as_str).collect(),
        "one request per alert: {hits:?} vs {ids:?}"
    );
    for h in &hits {
        ensure!(h.event == "alert.triggered", "{h:?}");
        ensure!(h.key == key_of(&h.alert, &rig.channel), "{h:?}");
    }
    ensure!(rig.alerts().await? == alerts, "the alerts changed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_when_the_server_is_killed_is_sent_again_with_the_same_key()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    // Up from the start: a port the system picks, with no reservation to race.
    let (rx, port) = Receiver::start_at(0, Mode::Hold).await?;
    let mut rig = rig(dir.path(), &format!("http://127.0.0.1:{port}/hook"), 1).await?;
    rig.devices[0].beat(97.0).await?;
    // The request arrives and is held: the server waits for the answer.
    let first = rx.wait_for(1, 30).await?;
    rig.server.kill().await?;
    rx.set(Mode::Accept);
    rig.server.start().await?;
    let alerts = rig.alerts().await?;
    let alert = alerts
        .get(&rig.devices[0].id)
        .context("the device's alert")?
        .clone();
    // Still claimed by the dead worker: nothing is sent until its lease runs out.
    let d = rig.deliveries(&alert).await?;
    ensure!(
        d.len() == 1 && d[0]["status"] == "pending" && d[0]["attempts"] == 0,
        "still claimed, unattempted: {d:?}\nserver log:\n{}",
        rig.server.log()
    );

    let lease = Duration::from_secs(2 * TIMEOUT_SECS + 30);
    let hits = rx.wait_for(2, lease.as_secs() + 30).await?;
    let after = rig
        .deliveries_when(std::slice::from_ref(&alert), 30, "the delivery sent", |d| {
            d["status"] == "sent"
        })
        .await?;
    let d = &after[&alert];
    // The attempt that died with the server, and the one after its lease.
    ensure!(d["attempts"] == 2, "{d}");
    ensure!(d["response_status"] == 200, "{d}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hits_now = rx.hits();
    ensure!(hits_now.len() == 2, "sent twice in all: {hits_now:?}");

    let (a, b) = (&first[0], &hits[1]);
    ensure!(
        b.at.duration_since(a.at) >= lease - Duration::from_secs(4),
        "sent again before the lease ended: {:?} after",
        b.at.duration_since(a.at)
    );
    ensure!(a.key == key_of(&alert, &rig.channel), "{a:?}");
    ensure!(a.key == b.key, "the same Idempotency-Key: {a:?} {b:?}");
    // Deduplicated by key, as a receiver would: one effect for the alert.
    let mut effects: BTreeMap<&str, &str> = BTreeMap::new();
    for h in &hits_now {
        ensure!(h.alert == alert && h.event == "alert.triggered", "{h:?}");
        effects.entry(h.key.as_str()).or_insert(h.alert.as_str());
    }
    ensure!(
        effects.len() == 1 && effects.values().all(|a| *a == alert),
        "{effects:?}"
    );
    Ok(())
}
