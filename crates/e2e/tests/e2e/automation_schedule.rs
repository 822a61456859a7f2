//! Automation triggers end to end (issue 13, helper "sched").
//!
//! - Two real `breeze serve` processes on ONE PostgreSQL database (same data directory,
//!   so the same keys), sweeping every second with the real clock, and an every-minute
//!   schedule: each slot fires exactly once while both run, and still once each after the
//!   process holding the `automation.schedule` lease is killed (the other takes the lease
//!   over once it expires). Skipped without `BREEZE_TEST_DATABASE_URL` (CI sets it).
//! - With the real agent and the server's Clock under test control: a `*/5` schedule
//!   running a script on the agent fires once per slot across a server restart, including
//!   a slot the first server started but had not yet moved past; and a `device.offline`
//!   automation (at once, and after 10 minutes) runs when the agent process is stopped
//!   and the sweep marks the device offline.

use crate::agent::{binaries, credentials, enroll_agent, run_agent, script, stop};
use crate::alert_crash::Server;
use crate::support::{self, Api, eventually};
use anyhow::{Context, Result, ensure};
use breeze_core::{Clock, FixedClock};
use breeze_server::{App, AppState, Config};
use chrono::{DateTime, Duration, DurationRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::process::Child;

fn slot_of(run: &Value) -> Result<DateTime<Utc>> {
    serde_json::from_value(run["scheduled_for"].clone())
        .with_context(|| format!("scheduled_for of {run}"))
}

async fn runs_of(api: &Api, automation: &str) -> Result<Vec<Value>> {
    let (s, v) = api
        .get(&format!("/api/v1/automations/{automation}/runs?limit=200"))
        .await?;
    ensure!(s.is_success(), "runs: {s} {v}");
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

/// Slot → number of runs for it.
fn count_slots(runs: &[Value]) -> Result<BTreeMap<DateTime<Utc>, usize>> {
    let mut by_slot = BTreeMap::new();
    for r in runs {
        *by_slot.entry(slot_of(r)?).or_insert(0) += 1;
    }
    Ok(by_slot)
}

/// Waits (up to 150 s of real time) until `n` slots of `automation` have runs.
async fn wait_slots(api: &Api, automation: &str, n: usize) -> Result<Vec<Value>> {
    eventually(150, &format!("{n} slots fired"), || async move {
        let runs = runs_of(api, automation).await?;
        Ok((count_slots(&runs)?.len() >= n).then_some(runs))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_fire_each_slot_exactly_once() -> Result<()> {
    if std::env::var("BREEZE_TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: two servers need one PostgreSQL database (BREEZE_TEST_DATABASE_URL)");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut a = Server::new(dir.path()).await?;
    let url = a.database_url.clone().context("database url")?;
    let db = breeze_store::Db::connect(&url, &Default::default()).await?;
    let admin = support::setup(&a.url(), &a.data, "admin@example.com").await?;
    // Started once setup is done (else it opens setup too, with a token of its own).
    let mut b = a.replica().await?;
    let (org, _) = support::org_and_site(&admin, "Twins").await?;
    let auto = admin
        .ok(
            Method::POST,
            "/api/v1/automations",
            Some(
                json!({"org_id": org, "name": "every minute", "enabled": true,
                "trigger": {"type": "schedule", "cron": "* * * * *", "timezone": "UTC"},
                "targets": {"all": true}, "actions": [{"type": "wait", "seconds": 1}],
                "on_failure": "stop"}),
            ),
        )
        .await?;
    let id = auto["id"].as_str().context("automation id")?.to_string();
    let first: DateTime<Utc> = serde_json::from_value(auto["next_run_at"].clone())?;

    // Both running: two slots.
    wait_slots(&admin, &id, 2).await.with_context(|| a.log())?;

    // Kill whichever holds the schedule lease; the other takes over.
    let (holder, _) = breeze_store::leases::holder(&db, "automation.schedule")
        .await?
        .context("a lease holder")?;
    let pid_of = |s: &Server| s.child.as_ref().and_then(Child::id).unwrap_or_default();
    let (a_pid, b_pid) = (pid_of(&a), pid_of(&b));
    // A holder is its replica's id, `<host>-<pid>-<random>`.
    let held_by = |pid: u32| holder.contains(&format!("-{pid}-"));
    let survivor = if held_by(a_pid) {
        a.kill().await?;
        &b
    } else {
        ensure!(
            held_by(b_pid),
            "lease held by {holder}, not {a_pid} or {b_pid}"
        );
        b.kill().await?;
        &a
    };
    let api = Api::new(&survivor.url()).with_token(admin.token.as_deref().unwrap_or_default());
    let before_kill = count_slots(&runs_of(&api, &id).await?)?.len();
    let runs = wait_slots(&api, &id, before_kill + 1)
        .await
        .with_context(|| survivor.log())?;

    let by_slot = count_slots(&runs)?;
    let slots: Vec<DateTime<Utc>> = by_slot.keys().copied().collect();
    let duplicates = by_slot.values().filter(|n| **n > 1).count();
    let want: Vec<DateTime<Utc>> = (0..slots.len() as i64)
        .map(|i| first + Duration::minutes(i))
        .collect();
    println!(
        "{} slots, {} runs, {duplicates} duplicates (lease holder killed after {before_kill} slots)",
        slots.len(),
        runs.len()
    );
    ensure!(duplicates == 0, "a slot fired twice: {by_slot:?}");
    ensure!(
        runs.len() == slots.len(),
        "{} runs for {} slots",
        runs.len(),
        slots.len()
    );
    ensure!(
        slots == want,
        "slots missing or out of order: {slots:?}, want {want:?}"
    );
    ensure!(slots.len() >= 3, "{slots:?}");
    let new_holder = breeze_store::leases::holder(&db, "automation.schedule")
        .await?
        .context("a lease holder")?
        .0;
    ensure!(new_holder != holder, "the lease did not move from {holder}");
    db.close().await;
    Ok(())
}

/// An in-process server on a FixedClock that the test stops and starts again on the same
/// data directory (keys), database and port, with the real agent enrolled.
struct Rig {
    _dir: tempfile::TempDir,
    config: Config,
    clock: Arc<FixedClock>,
    server: Option<Running>,
    admin: Api,
    org: String,
    dev: String,
    agent: Option<Child>,
}

/// One server process's life (in this test process).
struct Running {
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(config: &Config, clock: &Arc<FixedClock>) -> Result<(Running, String)> {
    let app = App::build_with_clock(config.clone(), clock.clone()).await?;
    let url = format!("http://{}", app.local_addr()?);
    let state = app.state.clone();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok((Running { state, stop, task }, url))
}

async fn rig(name: &str) -> Result<Rig> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let mut config = support::test_config(&data);
    config.database_url = support::test_database_url().await?;
    // One login lasts the clock moves; the test runs the sweep itself.
    config.auth.access_ttl_secs = 3600;
    config.agents.sweep_interval_secs = 3600;
    // Whole five minutes and a half: `*/5` slots are predictable.
    let start = Utc::now().duration_trunc(Duration::minutes(5))? + Duration::seconds(30);
    let clock = Arc::new(FixedClock::new(start));
    let (server, url) = serve(&config, &clock).await?;
    // Restarts listen on the same port (the agent keeps its server URL).
    config.listen = url.trim_start_matches("http://").parse()?;
    let admin = support::setup(&url, &data, "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, name).await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let bin = binaries()?;
    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let agent = run_agent(&bin, &state)?;
    let rig = Rig {
        _dir: dir,
        config,
        clock,
        server: Some(server),
        admin,
        org,
        dev,
        agent: Some(agent),
    };
    rig.heard_from_now().await?;
    Ok(rig)
}

impl Rig {
    /// Moves the clock 10 s past `slot`, waits for a heartbeat at that time, and sweeps
    /// (twice: a second sweep at the same instant must add nothing).
    async fn fire(&self, slot: DateTime<Utc>) -> Result<()> {
        self.clock
            .advance(slot + Duration::seconds(10) - self.now());
        self.heard_from_now().await?;
        self.sweep().await?;
        self.sweep().await
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn state(&self) -> Result<&AppState> {
        Ok(&self.server.as_ref().context("server stopped")?.state)
    }

    async fn sweep(&self) -> Result<()> {
        breeze_server::jobs::sweep_once(self.state()?).await
    }

    /// Waits for a heartbeat of the agent at the server's current time (the device is
    /// online and `last_seen_at` is now), so a sweep does not find it overdue.
    async fn heard_from_now(&self) -> Result<()> {
        let now = self.now();
        eventually(
            60,
            "a heartbeat at the current server time",
            || async move {
                let (_, d) = self
                    .admin
                    .get(&format!("/api/v1/devices/{}", self.dev))
                    .await?;
                let seen: Option<DateTime<Utc>> =
                    serde_json::from_value(d["last_seen_at"].clone()).ok();
                Ok((d["status"] == "online" && seen.is_some_and(|s| s >= now)).then_some(()))
            },
        )
        .await
    }

    /// Stops the server (its jobs too) and starts another on the same data, database
    /// and port.
    async fn restart(&mut self) -> Result<()> {
        let old = self.server.take().context("server stopped")?;
        let _ = old.stop.send(());
        old.task.await?;
        let (server, _) = serve(&self.config, &self.clock).await?;
        self.server = Some(server);
        Ok(())
    }

    async fn automation(&self, name: &str, trigger: Value, actions: Value) -> Result<Value> {
        self.admin
            .ok(
                Method::POST,
                "/api/v1/automations",
                Some(json!({"org_id": self.org, "name": name, "enabled": true,
                    "trigger": trigger, "targets": {"device_ids": [self.dev]},
                    "actions": actions, "on_failure": "stop"})),
            )
            .await
    }

    /// The run's detail once it has finished.
    async fn finished(&self, run: &Value) -> Result<Value> {
        let id = run["id"].as_str().context("run id")?.to_string();
        eventually(60, "the run to finish", || {
            let id = id.clone();
            async move {
                let (_, v) = self
                    .admin
                    .get(&format!("/api/v1/automation-runs/{id}"))
                    .await?;
                Ok(v["finished_at"].is_string().then_some(v))
            }
        })
        .await
    }
}

/// `*/5` running a script on the real agent: slot 1 fires and runs; the schedule is put
/// back on slot 1 (as a server killed between starting the run and moving on leaves it)
/// and the server restarts: slot 1 does not run again; slot 2 fires once and runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_with_a_real_agent_fires_once_per_slot_across_a_restart() -> Result<()> {
    let mut rig = rig("Cron E2E").await?;
    let script = script(&rig.admin, &rig.org, "echo slot-ran", 30, json!([])).await?;
    let auto = rig
        .automation(
            "every five",
            json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Berlin"}),
            json!([{"type": "run_script", "script_id": script}]),
        )
        .await?;
    let id = auto["id"].as_str().context("id")?.to_string();
    let slot1: DateTime<Utc> = serde_json::from_value(auto["next_run_at"].clone())?;
    ensure!(slot1 == rig.now() + Duration::seconds(270), "{auto}");

    rig.fire(slot1).await?;
    let runs = runs_of(&rig.admin, &id).await?;
    ensure!(runs.len() == 1, "{runs:?}");
    let run1 = rig.finished(&runs[0]).await?;

    let aid: breeze_proto::ids::AutomationId = id.parse()?;
    breeze_store::automation_schedule::set_next_run_for_system(&rig.state()?.db, aid, Some(slot1))
        .await?;
    rig.restart().await?;
    rig.heard_from_now().await?;
    rig.sweep().await?;
    let runs = runs_of(&rig.admin, &id).await?;
    ensure!(
        runs.len() == 1,
        "slot 1 ran again after the restart: {runs:?}"
    );
    let (_, a) = rig.admin.get(&format!("/api/v1/automations/{id}")).await?;
    let next: DateTime<Utc> = serde_json::from_value(a["next_run_at"].clone())?;
    ensure!(next == slot1 + Duration::minutes(5), "{a}");

    rig.fire(next).await?;
    let runs = runs_of(&rig.admin, &id).await?;
    let by_slot = count_slots(&runs)?;
    ensure!(
        by_slot == BTreeMap::from([(slot1, 1), (next, 1)]),
        "one run per slot: {by_slot:?}"
    );
    let run2 = rig
        .finished(
            runs.iter()
                .find(|r| slot_of(r).ok() == Some(next))
                .context("run 2")?,
        )
        .await?;
    for r in [&run1, &run2] {
        ensure!(r["status"] == "completed", "{r}");
        let steps = &r["devices"][0]["steps"];
        ensure!(steps.as_array().map(Vec::len) == Some(1), "{r}");
        ensure!(
            steps[0]["type"] == "run_script" && steps[0]["exit_code"] == 0,
            "{r}"
        );
        ensure!(
            steps[0]["output"]
                .as_str()
                .is_some_and(|o| o.contains("slot-ran")),
            "{r}"
        );
    }
    println!("2 slots, 2 runs, 0 duplicates across a restart");
    if let Some(mut a) = rig.agent.take() {
        stop(&mut a).await?;
    }
    Ok(())
}

/// `device.offline` at once and after 10 minutes: the real agent is stopped, the sweep
/// marks the device offline, and each automation runs once for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_automation_runs_when_the_real_agent_stops() -> Result<()> {
    let mut rig = rig("Offline E2E").await?;
    let at_once = rig
        .automation(
            "offline now",
            json!({"type": "event", "event": "device.offline"}),
            json!([{"type": "update_device", "tags_add": ["went-offline"]}]),
        )
        .await?;
    let ten = rig
        .automation(
            "offline 10",
            json!({"type": "event", "event": "device.offline", "minutes": 10}),
            json!([{"type": "update_device", "tags_add": ["offline-10"]}]),
        )
        .await?;
    let mut agent = rig.agent.take().context("agent")?;
    stop(&mut agent).await?;
    // Past the offline cutoff (three missed 5 s heartbeats) for the server.
    rig.clock.advance(Duration::minutes(1));
    rig.sweep().await?;
    let (_, d) = rig
        .admin
        .get(&format!("/api/v1/devices/{}", rig.dev))
        .await?;
    ensure!(d["status"] == "offline", "{d}");
    let id = at_once["id"].as_str().context("id")?;
    let admin = &rig.admin;
    let runs = eventually(30, "the offline automation to run", || async move {
        let r = runs_of(admin, id).await?;
        Ok((!r.is_empty()).then_some(r))
    })
    .await?;
    ensure!(runs.len() == 1, "{runs:?}");
    let run = rig.finished(&runs[0]).await?;
    ensure!(run["status"] == "completed", "{run}");
    ensure!(
        run["trigger"]["context"]["device_id"] == rig.dev.as_str(),
        "{run}"
    );
    let ten_id = ten["id"].as_str().context("id")?;
    ensure!(runs_of(&rig.admin, ten_id).await?.is_empty());
    rig.clock.advance(Duration::minutes(10));
    rig.sweep().await?;
    rig.clock.advance(Duration::minutes(10));
    rig.sweep().await?;
    let runs = runs_of(&rig.admin, ten_id).await?;
    ensure!(
        runs.len() == 1,
        "offline 10 minutes ran {} times: {runs:?}",
        runs.len()
    );
    rig.finished(&runs[0]).await?;
    let (_, d) = rig
        .admin
        .get(&format!("/api/v1/devices/{}", rig.dev))
        .await?;
    let tags: Vec<String> = serde_json::from_value(d["tags"].clone())?;
    ensure!(
        tags.contains(&"went-offline".to_string()) && tags.contains(&"offline-10".to_string()),
        "{d}"
    );
    Ok(())
}
