//! Automation triggers (issue 13, helper "sched"): schedule slots fire once each over many
//! sweeps and across a restart, missed slots follow the automation's policy, and event
//! automations start on enrollment, alerts and devices offline for N minutes. The
//! server's Clock is a FixedClock the tests advance; `jobs::sweep_once` is the sweep.

use crate::harness::{Engine, TestApp, engines, spawn_clocked};
use breeze_client::BreezeClient;
use breeze_core::FixedClock;
use breeze_proto::ids::*;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

struct Env {
    app: TestApp,
    clock: Arc<FixedClock>,
    admin: BreezeClient,
    org: OrgId,
    site: SiteId,
}

/// A server whose clock starts 30 s past a whole five minutes (so `*/5` slots are
/// predictable), with an organization and a site.
async fn env(engine: Engine) -> Env {
    env_with(engine, tweak).await
}

async fn env_with(engine: Engine, tweak: fn(&mut breeze_server::Config)) -> Env {
    let start = Utc::now()
        .duration_trunc(Duration::minutes(5))
        .expect("trunc")
        + Duration::seconds(30);
    let clock = Arc::new(FixedClock::new(start));
    let app = spawn_clocked(engine, Some(clock.clone()), tweak).await;
    let admin = app.admin().await;
    let (org, site) = crate::device_state::org_and_site(&admin, "Sched").await;
    Env {
        app,
        clock,
        admin,
        org,
        site,
    }
}

/// Tokens outlive the clock jumps; the background sweep stays out of the way (the tests
/// sweep themselves).
fn tweak(c: &mut breeze_server::Config) {
    c.auth.access_ttl_secs = 3600;
    c.agents.sweep_interval_secs = 3600;
}

/// The default sweep interval (15 s), so a slot more than 75 s late counts as missed
/// (`schedule::grace`); a background sweep may run meanwhile, which changes nothing.
fn tweak_default_sweep(c: &mut breeze_server::Config) {
    c.auth.access_ttl_secs = 3600;
}

impl Env {
    fn now(&self) -> DateTime<Utc> {
        breeze_core::Clock::now(&*self.clock)
    }

    async fn sweep(&self) {
        breeze_server::jobs::sweep_once(&self.app.state)
            .await
            .expect("sweep");
    }

    async fn fresh(&mut self) {
        self.admin = self
            .app
            .client
            .login_as(crate::harness::ADMIN_EMAIL, crate::harness::PASSWORD)
            .await
            .expect("login");
    }

    async fn automation(&self, name: &str, trigger: Value) -> Value {
        self.admin
            .post(
                "/api/v1/automations",
                &json!({"org_id": self.org, "name": name, "enabled": true, "trigger": trigger,
                    "targets": {"all": true},
                    "actions": [{"type": "update_device", "tags_add": ["touched"]}],
                    "on_failure": "stop"}),
            )
            .await
            .expect("create automation")
    }

    async fn get(&self, id: &Value) -> Value {
        self.admin
            .get(&format!("/api/v1/automations/{}", id.as_str().expect("id")))
            .await
            .expect("automation")
    }

    async fn runs(&self, id: &Value) -> Vec<Value> {
        let p: Value = self
            .admin
            .get(&format!(
                "/api/v1/automations/{}/runs?limit=200",
                id.as_str().expect("id")
            ))
            .await
            .expect("runs");
        p["data"].as_array().cloned().unwrap_or_default()
    }

    /// Polls until `id` has `n` runs (event runs start in a spawned task).
    async fn wait_runs(&self, id: &Value, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let r = self.runs(id).await;
            if r.len() >= n || std::time::Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

fn slots_of(runs: &[Value]) -> Vec<DateTime<Utc>> {
    let mut v: Vec<DateTime<Utc>> = runs
        .iter()
        .map(|r| {
            serde_json::from_value(r["scheduled_for"].clone())
                .unwrap_or_else(|e| panic!("scheduled_for of {r}: {e}"))
        })
        .collect();
    v.sort();
    v
}

fn ts(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// `*/5` in Europe/Berlin over 61 sweeps 30 s apart (30 minutes): one run per slot, each
/// for its slot, none twice; `next_run_at` always the next slot.
#[tokio::test]
async fn every_five_minutes_fires_once_per_slot() {
    for engine in engines() {
        let e = env(engine).await;
        let t0 = e.now();
        let a = e
            .automation(
                "every five",
                json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Berlin"}),
            )
            .await;
        let first = t0 - Duration::seconds(30) + Duration::minutes(5);
        assert_eq!(
            ts(&e.get(&a["id"]).await["next_run_at"]),
            first,
            "{engine:?}"
        );
        for _ in 0..60 {
            e.clock.advance(Duration::seconds(30));
            e.sweep().await;
            // A second sweep at the same instant (another tick, another server) adds nothing.
            e.sweep().await;
        }
        let runs = e.runs(&a["id"]).await;
        let slots = slots_of(&runs);
        let want: Vec<DateTime<Utc>> = (0..6).map(|i| first + Duration::minutes(5 * i)).collect();
        assert_eq!(slots, want, "{engine:?}: one run per slot");
        for r in &runs {
            assert_eq!(r["trigger"]["type"], "schedule", "{r}");
            assert_eq!(r["trigger"]["context"]["cron"], "*/5 * * * *", "{r}");
        }
        let got = e.get(&a["id"]).await;
        assert_eq!(ts(&got["next_run_at"]), first + Duration::minutes(30));
        assert_eq!(ts(&got["last_slot_at"]), first + Duration::minutes(25));
    }
}

/// A slot fired, then the server "died" before moving the schedule on (next_run_at is
/// put back on the slot, as a crash between the two writes leaves it); after a restart the
/// sweep finds the slot due again and makes no second run. A restart between slots loses
/// none either.
#[tokio::test]
async fn a_restart_never_fires_a_slot_twice() {
    for engine in engines() {
        let mut e = env(engine).await;
        let a = e
            .automation(
                "restart",
                json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC", "missed": "run_once"}),
            )
            .await;
        let id = AutomationId(a["id"].as_str().unwrap().parse().unwrap());
        let slot = ts(&a["next_run_at"]);
        e.clock.advance(Duration::minutes(5));
        e.sweep().await;
        assert_eq!(slots_of(&e.runs(&a["id"]).await), vec![slot], "{engine:?}");
        breeze_store::automation_schedule::set_next_run_for_system(&e.app.state.db, id, Some(slot))
            .await
            .unwrap();

        e.app = e.app.restart(Some(e.clock.clone()), tweak).await;
        e.fresh().await;
        e.sweep().await;
        assert_eq!(
            slots_of(&e.runs(&a["id"]).await),
            vec![slot],
            "{engine:?}: the slot in progress ran twice"
        );
        assert_eq!(
            ts(&e.get(&a["id"]).await["next_run_at"]),
            slot + Duration::minutes(5)
        );

        // Restarted again between slots: the next slot fires once.
        e.app = e.app.restart(Some(e.clock.clone()), tweak).await;
        e.fresh().await;
        e.clock.advance(Duration::minutes(5));
        e.sweep().await;
        e.sweep().await;
        assert_eq!(
            slots_of(&e.runs(&a["id"]).await),
            vec![slot, slot + Duration::minutes(5)],
            "{engine:?}"
        );
    }
}

/// The clock jumps an hour with no sweep (the server was down): `skip` runs none of
/// the twelve missed slots, `run_once` runs one, for the latest; both then schedule the
/// next future slot and fire it normally.
#[tokio::test]
async fn missed_slots_skip_or_run_once() {
    for engine in engines() {
        let mut e = env_with(engine, tweak_default_sweep).await;
        let skip = e
            .automation(
                "skip",
                json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC", "missed": "skip"}),
            )
            .await;
        let once = e
            .automation(
                "once",
                json!({"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC", "missed": "run_once"}),
            )
            .await;
        let first = ts(&skip["next_run_at"]);
        // Twelve slots pass; the latest is three minutes old when the sweep comes.
        let latest = first + Duration::minutes(55);
        e.clock.advance(latest + Duration::minutes(3) - e.now());
        e.fresh().await;
        e.sweep().await;
        assert!(
            e.runs(&skip["id"]).await.is_empty(),
            "{engine:?}: skip ran a missed slot"
        );
        assert_eq!(
            slots_of(&e.runs(&once["id"]).await),
            vec![latest],
            "{engine:?}"
        );
        let once_run = &e.runs(&once["id"]).await[0];
        assert_eq!(once_run["trigger"]["context"]["late_seconds"], 180);
        for a in [&skip, &once] {
            assert_eq!(
                ts(&e.get(&a["id"]).await["next_run_at"]),
                latest + Duration::minutes(5)
            );
        }
        e.clock.advance(Duration::minutes(2));
        e.sweep().await;
        assert_eq!(
            slots_of(&e.runs(&skip["id"]).await),
            vec![latest + Duration::minutes(5)]
        );
        assert_eq!(
            slots_of(&e.runs(&once["id"]).await),
            vec![latest, latest + Duration::minutes(5)]
        );
    }
}

/// Bad schedules are refused at save time naming the field; disabling and re-enabling
/// moves `next_run_at` from now, so no stale slot fires.
#[tokio::test]
async fn schedules_are_validated_and_rescheduled_on_update() {
    for engine in engines() {
        let e = env(engine).await;
        for (trigger, field) in [
            (
                json!({"type": "schedule", "cron": "61 * * * *", "timezone": "UTC"}),
                "trigger.cron",
            ),
            (
                json!({"type": "schedule", "cron": "* * *", "timezone": "UTC"}),
                "trigger.cron",
            ),
            (
                json!({"type": "schedule", "cron": "* * * * *", "timezone": "Mars/Base"}),
                "trigger.timezone",
            ),
            (
                json!({"type": "schedule", "cron": "* * * * *", "timezone": "UTC", "missed": "twice"}),
                "trigger.missed",
            ),
        ] {
            let err = e
                .admin
                .post::<_, Value>(
                    "/api/v1/automations",
                    &json!({"org_id": e.org, "name": "bad", "enabled": true, "trigger": trigger,
                        "targets": {"all": true}, "actions": [{"type": "wait", "seconds": 1}],
                        "on_failure": "stop"}),
                )
                .await
                .expect_err("refused");
            assert_eq!(
                err.status().map(|s| s.as_u16()),
                Some(422),
                "{trigger}: {err}"
            );
            assert_eq!(err.field(), Some(field), "{trigger}: {err}");
        }
        let a = e
            .automation(
                "toggle",
                json!({"type": "schedule", "cron": "0 * * * *", "timezone": "UTC"}),
            )
            .await;
        let path = format!("/api/v1/automations/{}", a["id"].as_str().unwrap());
        let _: Value = e
            .admin
            .patch(&path, &json!({"enabled": false}))
            .await
            .expect("disable");
        e.clock.advance(Duration::hours(3));
        let mut e = e;
        e.fresh().await;
        e.sweep().await;
        let b: Value = e
            .admin
            .patch(&path, &json!({"enabled": true}))
            .await
            .expect("enable");
        let now = e.now();
        let next = ts(&b["next_run_at"]);
        assert!(
            next > now && next <= now + Duration::hours(1),
            "{engine:?}: {b}"
        );
        e.sweep().await;
        assert!(
            e.runs(&a["id"]).await.is_empty(),
            "{engine:?}: a stale slot fired"
        );
        // Changing the cron reschedules too.
        let c: Value = e
            .admin
            .patch(
                &path,
                &json!({"trigger": {"type": "schedule", "cron": "*/5 * * * *", "timezone": "UTC"}}),
            )
            .await
            .expect("new cron");
        assert!(ts(&c["next_run_at"]) <= now + Duration::minutes(5), "{c}");
    }
}

/// `device.enrolled` starts a run for the new device only; a targets filter that leaves
/// it out starts none.
#[tokio::test]
async fn enrolled_event_starts_a_run_for_the_device() {
    for engine in engines() {
        let e = env(engine).await;
        let a = e
            .automation(
                "welcome",
                json!({"type": "event", "event": "device.enrolled"}),
            )
            .await;
        let other_site: Value = e
            .admin
            .post(
                &format!("/api/v1/orgs/{}/sites", e.org),
                &json!({"name": "Elsewhere"}),
            )
            .await
            .expect("site");
        let narrow: Value = e
            .admin
            .post(
                "/api/v1/automations",
                &json!({"org_id": e.org, "name": "narrow", "enabled": true,
                    "trigger": {"type": "event", "event": "device.enrolled"},
                    "targets": {"site_ids": [other_site["id"]]},
                    "actions": [{"type": "update_device", "tags_add": ["x"]}], "on_failure": "stop"}),
            )
            .await
            .expect("narrow");
        let (dev, _) = crate::device_state::enroll(&e.app, &e.admin, e.org, e.site, "new-01").await;
        let runs = e.wait_runs(&a["id"], 1).await;
        assert_eq!(runs.len(), 1, "{engine:?}");
        assert_eq!(runs[0]["trigger"]["type"], "event");
        assert_eq!(runs[0]["trigger"]["context"]["event"], "device.enrolled");
        assert_eq!(runs[0]["trigger"]["context"]["device_id"], json!(dev));
        assert_eq!(runs[0]["devices_targeted"], 1);
        let detail: Value = e
            .admin
            .get(&format!(
                "/api/v1/automation-runs/{}",
                runs[0]["id"].as_str().unwrap()
            ))
            .await
            .expect("run");
        assert_eq!(detail["devices"][0]["device_id"], json!(dev), "{detail}");
        assert!(
            e.runs(&narrow["id"]).await.is_empty(),
            "{engine:?}: target filter ignored"
        );
    }
}

/// `alert.triggered` with a `rule_id` starts on that rule's alerts only.
#[tokio::test]
async fn alert_triggered_event_follows_the_rule_filter() {
    for engine in engines() {
        let e = env(engine).await;
        let (dev, agent) =
            crate::device_state::enroll(&e.app, &e.admin, e.org, e.site, "web-01").await;
        let rule = |name: &str, metric: &str| {
            json!({"org_id": e.org, "name": name, "severity": "high", "targets": {"all": true},
                "conditions": {"metric": metric, "operator": "gt", "value": 90}, "cooldown_minutes": 0})
        };
        let cpu: Value = e
            .admin
            .post("/api/v1/alert-rules", &rule("cpu", "cpu_percent"))
            .await
            .expect("rule");
        let ram: Value = e
            .admin
            .post("/api/v1/alert-rules", &rule("ram", "ram_percent"))
            .await
            .expect("rule");
        let on_cpu = e
            .automation(
                "on cpu",
                json!({"type": "event", "event": "alert.triggered", "rule_id": cpu["id"]}),
            )
            .await;
        let on_ram = e
            .automation(
                "on ram",
                json!({"type": "event", "event": "alert.triggered", "rule_id": ram["id"]}),
            )
            .await;
        let any = e
            .automation(
                "any alert",
                json!({"type": "event", "event": "alert.triggered"}),
            )
            .await;
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/heartbeat"),
                &json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": Utc::now(),
                    "status": "ok", "metrics": {"cpu_percent": 99.0, "ram_percent": 10.0}}),
            )
            .await
            .expect("heartbeat");
        let runs = e.wait_runs(&on_cpu["id"], 1).await;
        assert_eq!(runs.len(), 1, "{engine:?}");
        assert_eq!(runs[0]["trigger"]["context"]["rule_id"], cpu["id"]);
        assert!(runs[0]["trigger"]["context"]["alert_id"].is_string());
        assert_eq!(e.wait_runs(&any["id"], 1).await.len(), 1);
        assert!(
            e.runs(&on_ram["id"]).await.is_empty(),
            "{engine:?}: rule filter ignored"
        );
    }
}

/// `device.offline` with no minutes starts when the sweep marks the device offline;
/// with `minutes: 10` only once it stayed offline ten minutes, and once per spell.
#[tokio::test]
async fn offline_for_n_minutes_fires_once_per_spell() {
    for engine in engines() {
        let mut e = env(engine).await;
        let (dev, agent) =
            crate::device_state::enroll(&e.app, &e.admin, e.org, e.site, "web-01").await;
        let beat = |agent: BreezeClient| async move {
            let _: Value = agent
                .post(
                    &format!("/api/v1/agents/{dev}/heartbeat"),
                    &json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": Utc::now(),
                        "status": "ok", "metrics": {"cpu_percent": 1.0}}),
                )
                .await
                .expect("heartbeat");
        };
        beat(agent.clone()).await;
        let now_ = e
            .automation(
                "offline now",
                json!({"type": "event", "event": "device.offline"}),
            )
            .await;
        let ten = e
            .automation(
                "offline 10",
                json!({"type": "event", "event": "device.offline", "minutes": 10}),
            )
            .await;
        // Past the offline cutoff: the sweep marks it offline.
        let cutoff = e.app.state.config.agents.offline_cutoff(e.now());
        let to_offline = e.now() - cutoff + Duration::seconds(1);
        e.clock.advance(to_offline);
        e.sweep().await;
        assert_eq!(e.wait_runs(&now_["id"], 1).await.len(), 1, "{engine:?}");
        assert!(e.runs(&ten["id"]).await.is_empty());
        e.clock.advance(Duration::minutes(9));
        e.sweep().await;
        assert!(
            e.runs(&ten["id"]).await.is_empty(),
            "{engine:?}: fired before 10 minutes"
        );
        e.clock.advance(Duration::minutes(1));
        e.sweep().await;
        let runs = e.runs(&ten["id"]).await;
        assert_eq!(runs.len(), 1, "{engine:?}");
        assert_eq!(runs[0]["trigger"]["context"]["minutes"], 10);
        assert_eq!(runs[0]["trigger"]["context"]["device_id"], json!(dev));
        for _ in 0..3 {
            e.clock.advance(Duration::minutes(10));
            e.sweep().await;
        }
        e.fresh().await;
        assert_eq!(
            e.runs(&ten["id"]).await.len(),
            1,
            "{engine:?}: fired twice in one spell"
        );
        // Back, then gone again: a new spell, a new run of each.
        beat(agent.clone()).await;
        e.sweep().await;
        e.clock.advance(to_offline);
        e.sweep().await;
        assert_eq!(e.wait_runs(&now_["id"], 2).await.len(), 2, "{engine:?}");
        e.clock.advance(Duration::minutes(10));
        e.sweep().await;
        assert_eq!(
            e.runs(&ten["id"]).await.len(),
            2,
            "{engine:?}: second spell"
        );
        let ids: BTreeSet<String> = e
            .runs(&ten["id"])
            .await
            .iter()
            .map(|r| r["trigger"]["context"]["offline_since"].to_string())
            .collect();
        assert_eq!(ids.len(), 2);
    }
}
