//! Alerting with the real `breeze-agent` (issue 11) against the in-process server, whose
//! Clock the test drives: the agent heartbeats every 5 s of real time, and the test moves
//! the server's time between heartbeats, so a 5-minute window takes seconds.
//!
//! - A metric rule over a window on the agent's real `process_count`, moved by processes
//!   this test starts and stops: a single spike does not fire, the whole window fires
//!   exactly one alert with its values, falling back resolves it as `auto`, and the
//!   cooldown holds off the next one until it ends.
//! - The agent killed past the offline window fires the offline alert (by the sweep); its
//!   return resolves it; a webhook receiver started here gets both events, signed.
//!
//! Runs on SQLite, and on PostgreSQL when `BREEZE_TEST_DATABASE_URL` is set.

use crate::agent::{
    binaries, credentials, enroll_agent, execute, run_agent, script, stop, wait_execution,
};
use crate::support::{self, Api, TestServer, eventually};
use anyhow::{Context, Result, bail, ensure};
use breeze_core::{Clock, FixedClock};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::process::Child;

/// A server on a FixedClock with one organization and the real agent enrolled and
/// running (online). (Also used by the automations tests.)
pub(crate) struct Rig {
    pub(crate) server: TestServer,
    pub(crate) clock: Arc<FixedClock>,
    pub(crate) admin: Api,
    pub(crate) org: String,
    pub(crate) dev: String,
    pub(crate) bin: PathBuf,
    pub(crate) state: PathBuf,
    pub(crate) agent: Option<Child>,
}

pub(crate) async fn rig(dir: &Path, allow_loopback: bool) -> Result<Rig> {
    let bin = binaries()?;
    let allow =
        breeze_core::outbound::AllowList::parse(&["127.0.0.1"]).map_err(anyhow::Error::msg)?;
    let server = support::start(true, |c| {
        // The test moves the clock by up to ~35 minutes: one login lasts.
        c.auth.access_ttl_secs = 3600;
        // The test runs the sweep itself (a background one would mark the device offline
        // whenever the clock jumps past three heartbeats).
        c.agents.sweep_interval_secs = 3600;
        if allow_loopback {
            c.outbound.allow = allow;
        }
    })
    .await?;
    let clock = server.clock.clone().context("fixed clock")?;
    let admin = support::setup(&server.url, server._dir.path(), "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Alerting E2E").await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state = dir.join("agent");
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let agent = run_agent(&bin, &state)?;
    let mut rig = Rig {
        server,
        clock,
        admin,
        org,
        dev,
        bin,
        state,
        agent: Some(agent),
    };
    rig.online().await?;
    Ok(rig)
}

impl Rig {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn online(&mut self) -> Result<()> {
        eventually(60, "the device online", || {
            let admin = self.admin.clone();
            let dev = self.dev.clone();
            async move {
                let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
                Ok((d["status"] == "online").then_some(()))
            }
        })
        .await
    }

    async fn rule(&self, body: Value) -> Result<String> {
        let mut b = json!({"org_id": self.org, "name": "rule", "severity": "high",
            "targets": {"all": true}, "auto_resolve": true});
        for (k, v) in body.as_object().context("rule body")? {
            b[k] = v.clone();
        }
        let r = self
            .admin
            .ok(reqwest::Method::POST, "/api/v1/alert-rules", Some(b))
            .await?;
        Ok(r["id"].as_str().context("rule id")?.to_string())
    }

    async fn alerts(&self, rule: &str) -> Result<Vec<Value>> {
        let (s, v) = self
            .admin
            .get(&format!("/api/v1/alerts?rule_id={rule}&limit=100"))
            .await?;
        ensure!(s.is_success(), "alerts: {s} {v}");
        Ok(v["data"].as_array().cloned().unwrap_or_default())
    }

    /// The rule evaluated now on the device (`POST /alert-rules/:id/test`): the latest
    /// heartbeat the engine saw (`sampled_at`, the value) and the window it holds.
    async fn rule_test(&self, rule: &str) -> Result<Value> {
        let v = self
            .admin
            .ok(
                reqwest::Method::POST,
                &format!("/api/v1/alert-rules/{rule}/test"),
                None,
            )
            .await?;
        v["devices"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["device_id"] == self.dev.as_str()))
            .cloned()
            .with_context(|| format!("the device in the rule test: {v}"))
    }

    /// Moves the server's clock by `minutes`, then waits until the engine has evaluated
    /// a heartbeat of the real agent taken at the new time whose `process_count` is above
    /// `threshold` (`above`) or not. Answers the rule test's view of the device.
    async fn beat(&self, rule: &str, minutes: i64, threshold: f64, above: bool) -> Result<Value> {
        self.clock.advance(Duration::minutes(minutes));
        let at = self.now();
        let last = Mutex::new(Value::Null);
        let r = eventually(60, "a heartbeat at the new time", || async {
            let d = self.rule_test(rule).await?;
            let sampled: Option<DateTime<Utc>> =
                serde_json::from_value(d["context"]["sampled_at"].clone()).ok();
            let value = d["context"]["conditions"][0]["detail"]["value"].as_f64();
            *last.lock().unwrap_or_else(|e| e.into_inner()) = d.clone();
            Ok(
                (sampled == Some(at) && value.is_some_and(|v| (v > threshold) == above))
                    .then_some(d),
            )
        })
        .await;
        r.with_context(|| {
            format!(
                "at {at}, process_count above {threshold}: {above}; last seen {}",
                last.lock().unwrap_or_else(|e| e.into_inner())
            )
        })
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(a) = self.agent.as_mut() {
            let _ = a.start_kill();
        }
    }
}

/// Idle processes that raise the machine's process count while they live.
struct Crowd(Vec<std::process::Child>);

impl Crowd {
    fn spawn(n: usize) -> Result<Crowd> {
        let mut c = Crowd(Vec::with_capacity(n));
        for _ in 0..n {
            c.0.push(
                std::process::Command::new("sleep")
                    .arg("900")
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .context("starting sleep")?,
            );
        }
        Ok(c)
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Processes on this machine now, as the agent counts them (not threads).
fn process_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count())
}

fn time(v: &Value) -> Result<DateTime<Utc>> {
    serde_json::from_value(v.clone()).with_context(|| format!("a time: {v}"))
}

/// How many processes the crowd adds, and how far above today's count the threshold
/// sits: other work on the machine may start a few dozen processes meanwhile.
const CROWD: usize = 200;
const MARGIN: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agents_metric_fires_once_over_its_window_resolves_when_it_falls_and_cooldown_holds()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rig = rig(dir.path(), false).await?;
    let threshold = (process_count()? + MARGIN) as f64;
    let rule = rig
        .rule(json!({"name": "Too many processes",
            "conditions": {"metric": "process_count", "operator": "gt", "value": threshold,
                "duration_minutes": 5},
            "cooldown_minutes": 15}))
        .await?;
    rig.beat(&rule, 1, threshold, false).await?;

    // A single spike: one minute above, then back below; five minutes later still none.
    let crowd = Crowd::spawn(CROWD)?;
    rig.beat(&rule, 1, threshold, true).await?;
    drop(crowd);
    rig.beat(&rule, 1, threshold, false).await?;
    let d = rig.beat(&rule, 6, threshold, false).await?;
    assert_eq!(d["firing"], false, "{d}");
    assert!(rig.alerts(&rule).await?.is_empty(), "a single spike fired");

    // Above on every heartbeat: nothing until the 5-minute window is covered.
    let crowd = Crowd::spawn(CROWD)?;
    let start = rig.beat(&rule, 1, threshold, true).await?;
    let since = rig.now();
    assert_eq!(
        time(&start["context"]["conditions"][0]["detail"]["breaching_since"])?,
        since,
        "{start}"
    );
    rig.beat(&rule, 2, threshold, true).await?;
    let d = rig.beat(&rule, 2, threshold, true).await?;
    assert_eq!(d["firing"], false, "4 minutes of 5: {d}");
    assert!(
        rig.alerts(&rule).await?.is_empty(),
        "fired before the window"
    );
    rig.beat(&rule, 1, threshold, true).await?;
    let fired_at = rig.now();
    let alert = eventually(30, "the alert", || {
        let rig = &rig;
        let rule = rule.clone();
        async move { Ok(rig.alerts(&rule).await?.into_iter().next()) }
    })
    .await?;
    // Fired by the heartbeat that covered the window, not earlier (an early one would
    // carry an earlier time: the clock only moves when the test moves it).
    assert_eq!(time(&alert["triggered_at"])?, fired_at, "{alert}");
    assert_eq!(alert["status"], "active");
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["device_id"], rig.dev.as_str());
    let ctx = &alert["context"];
    assert_eq!(ctx["metric"], "process_count", "{ctx}");
    assert_eq!(ctx["operator"], "gt");
    assert_eq!(ctx["threshold"].as_f64(), Some(threshold));
    assert_eq!(ctx["window_minutes"], 5);
    assert!(
        ctx["value"].as_f64().is_some_and(|v| v > threshold),
        "{ctx}"
    );
    assert!(ctx["samples"].as_u64().is_some_and(|n| n >= 4), "{ctx}");
    assert_eq!(time(&ctx["breaching_since"])?, since, "{ctx}");
    // Still above a minute later: the same alert, no second one.
    rig.beat(&rule, 1, threshold, true).await?;
    let all = rig.alerts(&rule).await?;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["status"], "active");

    // The processes end: the next heartbeat resolves it, by `auto`.
    drop(crowd);
    rig.beat(&rule, 1, threshold, false).await?;
    let resolved_at = rig.now();
    let a = eventually(30, "the alert resolved", || {
        let rig = &rig;
        let rule = rule.clone();
        async move {
            let l = rig.alerts(&rule).await?;
            Ok(l.into_iter().find(|a| a["status"] == "resolved"))
        }
    })
    .await?;
    assert_eq!(a["id"], alert["id"]);
    assert_eq!(a["resolved_by"], "auto", "{a}");
    assert_eq!(time(&a["resolved_at"])?, resolved_at, "{a}");

    // Above again for longer than the window, within the 15-minute cooldown: nothing.
    let crowd = Crowd::spawn(CROWD)?;
    for step in [1, 2, 2, 2, 4, 3] {
        let d = rig.beat(&rule, step, threshold, true).await?;
        if rig.now() - resolved_at >= Duration::minutes(7) {
            assert_eq!(d["firing"], true, "the window is covered: {d}");
        }
        let all = rig.alerts(&rule).await?;
        assert_eq!(all.len(), 1, "fired within the cooldown: {all:?}");
    }
    assert_eq!(rig.now() - resolved_at, Duration::minutes(14));
    // The cooldown over: the next heartbeat fires a new alert.
    rig.beat(&rule, 2, threshold, true).await?;
    let refired_at = rig.now();
    let all = eventually(30, "a second alert after the cooldown", || {
        let rig = &rig;
        let rule = rule.clone();
        async move {
            let l = rig.alerts(&rule).await?;
            Ok((l.len() == 2).then_some(l))
        }
    })
    .await?;
    let new = all
        .iter()
        .find(|a| a["status"] == "active")
        .with_context(|| format!("an active alert: {all:?}"))?;
    assert_ne!(new["id"], alert["id"]);
    assert_eq!(time(&new["triggered_at"])?, refired_at, "{new}");
    drop(crowd);

    if let Some(mut a) = rig.agent.take() {
        stop(&mut a).await?;
    }
    Ok(())
}

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
struct Hit {
    signature: Option<String>,
    body: Vec<u8>,
}

/// An HTTP receiver on loopback that keeps every request and answers 200.
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(&self) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let keep = self.hits.clone();
        let app = axum::Router::new().fallback(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let signature = headers
                        .get("x-breeze-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    keep.lock().unwrap_or_else(|e| e.into_inner()).push(Hit {
                        signature,
                        body: body.to_vec(),
                    });
                    "ok"
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(url)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn wait_for(&self, n: usize) -> Result<Vec<Hit>> {
        eventually(30, &format!("{n} webhook requests"), || async move {
            let h = self.hits();
            Ok((h.len() >= n).then_some(h))
        })
        .await
    }
}

/// The body, after checking `X-Breeze-Signature: sha256=<hex HMAC-SHA256(body, secret)>`.
fn verified(secret: &str, hit: &Hit) -> Result<Value> {
    let header = hit.signature.as_deref().context("no X-Breeze-Signature")?;
    let hex_sig = header
        .strip_prefix("sha256=")
        .with_context(|| format!("signature without sha256=: {header}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(&hit.body);
    if mac.verify_slice(&hex::decode(hex_sig)?).is_err() {
        bail!("the signature does not match the body and the channel's secret");
    }
    Ok(serde_json::from_slice(&hit.body)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_fires_the_offline_alert_and_its_return_resolves_it_with_signed_webhooks()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let rx = Receiver::default();
    let url = rx.start().await?;
    let mut rig = rig(dir.path(), true).await?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_string();
    let hook = rig
        .admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/notification-channels",
            Some(
                json!({"org_id": rig.org, "name": "Ops webhook", "type": "webhook",
                "config": {"url": url}}),
            ),
        )
        .await?;
    let secret = hook["secret"]
        .as_str()
        .context("a webhook's secret at create")?
        .to_string();
    let rule = rig
        .rule(json!({"name": "Device offline", "severity": "critical",
            "conditions": {"type": "status", "status": "offline", "duration_minutes": 10},
            "notification_channels": [hook["id"]]}))
        .await?;

    // Killed (no goodbye). Past the offline cutoff but not the rule's 10 minutes: the
    // device is offline, no alert.
    let mut agent = rig.agent.take().context("agent")?;
    agent.kill().await?;
    let (_, d) = rig
        .admin
        .get(&format!("/api/v1/devices/{}", rig.dev))
        .await?;
    let last_seen = time(&d["last_seen_at"])?;
    rig.clock.advance(Duration::minutes(5));
    breeze_server::jobs::sweep_once(&rig.server.state).await?;
    let (_, d) = rig
        .admin
        .get(&format!("/api/v1/devices/{}", rig.dev))
        .await?;
    assert_eq!(d["status"], "offline", "{d}");
    assert!(
        rig.alerts(&rule).await?.is_empty(),
        "fired before 10 minutes"
    );

    // Past the window: the sweep fires it, once however often it runs.
    rig.clock.advance(Duration::minutes(6));
    breeze_server::jobs::sweep_once(&rig.server.state).await?;
    breeze_server::jobs::sweep_once(&rig.server.state).await?;
    let all = rig.alerts(&rule).await?;
    assert_eq!(all.len(), 1, "{all:?}");
    let alert = &all[0];
    let alert_id = alert["id"].as_str().context("alert id")?.to_string();
    assert_eq!(alert["status"], "active");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(time(&alert["triggered_at"])?, rig.now());
    assert_eq!(alert["context"]["condition"], "offline", "{alert}");
    assert_eq!(alert["context"]["window_minutes"], 10);
    assert_eq!(time(&alert["context"]["last_seen_at"])?, last_seen);

    let hits = rx.wait_for(1).await?;
    let body = verified(&secret, &hits[0])?;
    assert_eq!(body["event"], "alert.triggered", "{body}");
    assert_eq!(body["alert"]["id"], alert_id.as_str());
    assert_eq!(body["alert"]["severity"], "critical");
    assert_eq!(body["alert"]["title"], alert["title"]);
    assert!(
        body["alert"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("Device offline") && t.contains(&hostname)),
        "{body}"
    );
    assert_eq!(body["device"]["hostname"], hostname.as_str());
    assert_eq!(body["device"]["id"], rig.dev.as_str());

    // The agent starts again: its first heartbeat resolves the alert, by `auto`.
    rig.agent = Some(run_agent(&rig.bin, &rig.state)?);
    let back_at = rig.now();
    let a = eventually(60, "the offline alert resolved", || {
        let rig = &rig;
        let rule = rule.clone();
        async move {
            let l = rig.alerts(&rule).await?;
            Ok(l.into_iter().find(|a| a["status"] == "resolved"))
        }
    })
    .await?;
    assert_eq!(a["id"], alert_id.as_str());
    assert_eq!(a["resolved_by"], "auto", "{a}");
    assert_eq!(time(&a["resolved_at"])?, back_at);
    rig.online().await?;

    let hits = rx.wait_for(2).await?;
    let body = verified(&secret, &hits[1])?;
    assert_eq!(body["event"], "alert.resolved", "{body}");
    assert_eq!(body["alert"]["id"], alert_id.as_str());
    assert_eq!(body["alert"]["severity"], "critical");
    assert_eq!(body["alert"]["title"], alert["title"]);
    assert_eq!(body["device"]["hostname"], hostname.as_str());
    // The alert's delivery log: one per event, both sent; nothing more was received.
    let log = eventually(30, "both deliveries logged as sent", || {
        let admin = rig.admin.clone();
        let alert_id = alert_id.clone();
        async move {
            let (_, v) = admin
                .get(&format!("/api/v1/alerts/{alert_id}/deliveries"))
                .await?;
            let l = v["data"].as_array().cloned().unwrap_or_default();
            Ok((l.len() == 2 && l.iter().all(|d| d["status"] == "sent")).then_some(l))
        }
    })
    .await?;
    let mut events: Vec<&str> = log.iter().filter_map(|d| d["event"].as_str()).collect();
    events.sort_unstable();
    assert_eq!(events, ["alert.resolved", "alert.triggered"], "{log:?}");
    assert!(log.iter().all(|d| d["response_status"] == 200), "{log:?}");
    assert_eq!(rx.hits().len(), 2);

    if let Some(mut a) = rig.agent.take() {
        stop(&mut a).await?;
    }
    Ok(())
}

/// A custom metric a script reports (`BREEZE_METRICS_DIR`) reaches the engine with the
/// real agent's next heartbeat: a `custom.*` rule fires on it, and resolves when the script
/// reports a value back under the threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_metric_reported_by_a_script_fires_and_resolves_a_rule() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rig = rig(dir.path(), false).await?;
    let rule = rig
        .rule(json!({"name": "App slow",
            "conditions": {"metric": "custom.app_response_ms", "operator": "gt", "value": 5000}}))
        .await?;
    let report = script(
        &rig.admin,
        &rig.org,
        "printf 'app_response_ms %s\\n' \"$MS\" > \"$BREEZE_METRICS_DIR/.app.tmp\" && \
         mv \"$BREEZE_METRICS_DIR/.app.tmp\" \"$BREEZE_METRICS_DIR/app.metrics\"",
        60,
        json!([{"name": "MS", "type": "number", "required": true}]),
    )
    .await?;

    let exec = execute(&rig.admin, &report, &rig.dev, json!({"MS": 5210})).await?;
    let done = wait_execution(&rig.admin, &exec, 60).await?;
    ensure!(done["status"] == "completed", "the script: {done}");
    let fired = eventually(60, "the custom-metric alert", || async {
        let a = rig.alerts(&rule).await?;
        Ok((a.len() == 1).then(|| a[0].clone()))
    })
    .await?;
    ensure!(fired["status"] == "active", "{fired}");
    let detail = &fired["context"];
    ensure!(
        detail.to_string().contains("5210"),
        "the context holds the reported value: {detail}"
    );

    let exec = execute(&rig.admin, &report, &rig.dev, json!({"MS": 120})).await?;
    let done = wait_execution(&rig.admin, &exec, 60).await?;
    ensure!(done["status"] == "completed", "the script: {done}");
    let resolved = eventually(60, "the alert resolved by the lower value", || async {
        let a = rig.alerts(&rule).await?;
        Ok((a.len() == 1 && a[0]["status"] == "resolved").then(|| a[0].clone()))
    })
    .await?;
    ensure!(resolved["resolved_by"] == "auto", "{resolved}");
    Ok(())
}
