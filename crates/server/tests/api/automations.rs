//! Automations (issue 13), core: CRUD and validation naming the field, another tenant's
//! automations and runs are 404, the signed webhook (secret once, bad signature, replay,
//! stale timestamp), and the executor in-process: a wait advances only when the
//! FixedClock passes it, update_device changes tags, a condition with no exit code takes
//! the else branch (the step log proves it), and restarts: a run parked on a script's
//! command finishes when the result reaches the restarted server, a step cut short by the
//! restart ends `interrupted` with the reason. Script steps with a real agent are in e2e.

use crate::events::store_user;
use crate::harness::{TestApp, engines, spawn_clocked};
use breeze_client::BreezeClient;
use breeze_core::FixedClock;
use breeze_proto::api::*;
use breeze_proto::ids::*;
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;

struct Env {
    app: TestApp,
    clock: Arc<FixedClock>,
    admin: BreezeClient,
    org: OrgId,
    dev: DeviceId,
    /// The device's agent credentials.
    agent: BreezeClient,
}

async fn env(engine: crate::harness::Engine) -> Env {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let app = spawn_clocked(engine, Some(clock.clone()), |c| {
        c.auth.access_ttl_secs = 3600
    })
    .await;
    let admin = app.admin().await;
    let (org, site) = crate::device_state::org_and_site(&admin, "Auto").await;
    let (dev, agent) = crate::device_state::enroll(&app, &admin, org, site, "web-01").await;
    Env {
        app,
        clock,
        admin,
        org,
        dev,
        agent,
    }
}

impl Env {
    async fn create(&self, body: Value) -> AutomationCreated {
        let mut b = json!({"org_id": self.org, "name": "auto", "enabled": true,
            "trigger": {"type": "manual"}, "targets": {"all": true}});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        self.admin
            .post("/api/v1/automations", &b)
            .await
            .expect("create")
    }

    async fn run_detail(&self, id: AutomationRunId) -> AutomationRunDetail {
        self.admin
            .get(&format!("/api/v1/automation-runs/{id}"))
            .await
            .expect("run")
    }

    /// Polls until the run's devices reach one of `statuses` (and, for final ones, the
    /// run itself has finished: it is finished just after its last device).
    async fn until(&self, id: AutomationRunId, statuses: &[&str]) -> AutomationRunDetail {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let open = statuses
            .iter()
            .any(|s| ["pending", "running", "waiting"].contains(s));
        loop {
            let r = self.run_detail(id).await;
            if r.devices
                .iter()
                .all(|d| statuses.contains(&d.status.as_str()))
                && (open || r.run.finished_at.is_some())
            {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "run stuck: {r:#?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn run(&self, automation: AutomationId) -> AutomationRunId {
        let started: AutomationRunStarted = self
            .admin
            .post(&format!("/api/v1/automations/{automation}/run"), &json!({}))
            .await
            .expect("run");
        started.run_id.expect("a run")
    }

    async fn sweep(&self) {
        breeze_server::jobs::sweep_once(&self.app.state)
            .await
            .expect("sweep");
    }
}

fn field_of(err: breeze_client::ClientError) -> String {
    match err {
        breeze_client::ClientError::Api { status, body, raw } => {
            assert_eq!(status.as_u16(), 422, "{raw}");
            body.and_then(|b: ErrorBody| b.error.field)
                .unwrap_or_default()
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn crud_and_validation_name_the_field() {
    for engine in engines() {
        let e = env(engine).await;
        let wait = json!([{"type": "wait", "seconds": 5}]);
        let cases = vec![
            (
                json!({"trigger": {"type": "hourly"}, "actions": wait}),
                "trigger.type",
            ),
            (
                json!({"trigger": {"type": "event", "event": "device.rebooted"}, "actions": wait}),
                "trigger.event",
            ),
            (
                json!({"trigger": {"type": "schedule"}, "actions": wait}),
                "trigger.cron",
            ),
            (json!({"actions": [{"type": "reboot"}]}), "actions[0].type"),
            (
                json!({"actions": [{"type": "condition", "if": {"exit_code": {"eq": 0}},
                "then": [{"type": "run_script", "script_id": ScriptId::new()}]}]}),
                "actions[0].then[0].script_id",
            ),
            (
                json!({"actions": [{"type": "condition", "if": {"exit_code": {"eq": 0}}, "then": [
                {"type": "condition", "if": {"exit_code": {"eq": 0}}, "then": [
                {"type": "condition", "if": {"exit_code": {"eq": 0}}, "then": [
                {"type": "condition", "if": {"exit_code": {"eq": 0}}, "then": []}]}]}]}]}),
                "actions[0].then[0].then[0].then[0]",
            ),
            (
                json!({"actions": wait, "targets": {"site_ids": ["x"]}}),
                "targets.site_ids[0]",
            ),
            (
                json!({"actions": wait, "on_failure": "panic"}),
                "on_failure",
            ),
            (
                json!({"actions": wait, "on_failure": "notify"}),
                "notify_channel_ids",
            ),
            (
                json!({"actions": [{"type": "run_automation", "automation_id": AutomationId::new()}]}),
                "actions[0].automation_id",
            ),
            (
                json!({"actions": wait, "conditions": {"time_window": {"start": "8", "end": "18:00"}}}),
                "conditions.time_window.start",
            ),
        ];
        for (body, field) in cases {
            let mut b = json!({"org_id": e.org, "name": "bad", "trigger": {"type": "manual"},
                "targets": {"all": true}});
            for (k, v) in body.as_object().unwrap() {
                b[k] = v.clone();
            }
            let err = e
                .admin
                .post::<_, Value>("/api/v1/automations", &b)
                .await
                .expect_err("refused");
            assert_eq!(field_of(err), field, "{engine:?} {b}");
        }
        let a = e.create(json!({"actions": wait})).await.automation;
        assert!(!a.has_webhook_secret);
        let got: Automation = e
            .admin
            .get(&format!("/api/v1/automations/{}", a.id))
            .await
            .unwrap();
        assert_eq!(got.actions, vec![json!({"type": "wait", "seconds": 5})]);
        let patched: AutomationCreated = e
            .admin
            .patch(
                &format!("/api/v1/automations/{}", a.id),
                &json!({"name": "renamed", "enabled": false}),
            )
            .await
            .unwrap();
        assert_eq!(patched.automation.name, "renamed");
        assert!(!patched.automation.enabled);
        let list: Page<Automation> = e.admin.get("/api/v1/automations").await.unwrap();
        assert_eq!(list.data.len(), 1);
        let _: OkBody = e
            .admin
            .delete(&format!("/api/v1/automations/{}", a.id))
            .await
            .unwrap();
        let list: Page<Automation> = e.admin.get("/api/v1/automations").await.unwrap();
        assert!(list.data.is_empty());
        // Audit rows for create, update and delete.
        let logs: Value = e.admin.get("/api/v1/audit/logs?limit=100").await.unwrap();
        let actions: Vec<&str> = logs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["action"].as_str())
            .collect();
        for want in [
            "automation.create",
            "automation.update",
            "automation.delete",
        ] {
            assert!(actions.contains(&want), "{want} not audited: {actions:?}");
        }
    }
}

#[tokio::test]
async fn wait_update_device_and_else_branch_run_durably() {
    for engine in engines() {
        let e = env(engine).await;
        let a = e
            .create(json!({"actions": [
                {"type": "update_device", "tags_add": ["patched"]},
                {"type": "wait", "seconds": 600},
                {"type": "condition", "if": {"exit_code": {"eq": 0}},
                 "then": [{"type": "update_device", "tags_add": ["then-ran"]}],
                 "else": [{"type": "update_device", "tags_add": ["else-ran"]}]}
            ]}))
            .await
            .automation;
        let started: AutomationRunStarted = e
            .admin
            .post(&format!("/api/v1/automations/{}/run", a.id), &json!({}))
            .await
            .unwrap();
        let run = started.run_id.expect("a run");
        let r = e.until(run, &["waiting"]).await;
        assert_eq!(r.devices[0].device_id, e.dev);
        // The wait holds until the clock passes it, sweeps or not.
        e.clock.advance(Duration::seconds(599));
        e.sweep().await;
        assert_eq!(e.run_detail(run).await.devices[0].status, "waiting");
        e.clock.advance(Duration::seconds(2));
        e.sweep().await;
        let r = e.until(run, &["completed"]).await;
        assert_eq!(r.run.status, "completed", "{engine:?} {r:#?}");
        assert_eq!(r.run.devices_succeeded, 1);
        let steps: Vec<(&str, &str)> = r.devices[0]
            .steps
            .iter()
            .map(|s| (s.path.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("0", "completed"),
                ("1", "completed"),
                ("2", "completed"),
                ("2.else.0", "completed")
            ],
            "{r:#?}"
        );
        let dev: Device = e
            .admin
            .get(&format!("/api/v1/devices/{}", e.dev))
            .await
            .unwrap();
        assert!(dev.tags.contains(&"patched".to_string()));
        assert!(dev.tags.contains(&"else-ran".to_string()));
        assert!(!dev.tags.contains(&"then-ran".to_string()));
        // Each change the run made to the device is audited, naming the run and the step.
        let log: Value = e
            .admin
            .get("/api/v1/audit/logs?action=automation.update_device")
            .await
            .unwrap();
        let mut audited: Vec<&str> = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|r| assert_eq!(r["details"]["run_id"], run.to_string()))
            .filter_map(|r| r["details"]["step"].as_str())
            .collect();
        audited.sort();
        assert_eq!(audited, vec!["0", "2.else.0"], "{engine:?}: {log}");
        let runs: Page<AutomationRun> = e
            .admin
            .get(&format!("/api/v1/automations/{}/runs", a.id))
            .await
            .unwrap();
        assert_eq!(runs.data.len(), 1);
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn webhook_signature_replay_and_window() {
    for engine in engines() {
        let e = env(engine).await;
        let created = e
            .create(json!({"trigger": {"type": "webhook"},
                "actions": [{"type": "update_device", "tags_add": ["hooked"]}]}))
            .await;
        let secret = created.secret.clone().expect("secret shown once");
        let id = created.automation.id;
        let got: Value = e
            .admin
            .get(&format!("/api/v1/automations/{id}"))
            .await
            .unwrap();
        assert!(got.get("secret").is_none(), "GET never shows the secret");
        assert_eq!(got["has_webhook_secret"], json!(true));
        let http = reqwest::Client::new();
        let url = e
            .app
            .client
            .base()
            .join(&format!("/api/v1/automations/{id}/webhook"))
            .unwrap();
        let call = |body: &'static [u8], sig: String, ts: i64| {
            http.post(url.clone())
                .header("content-type", "application/json")
                .header("x-breeze-signature", sig)
                .header("x-breeze-timestamp", ts.to_string())
                .body(body)
                .send()
        };
        let now = e.app.state.now().timestamp();
        let body: &[u8] = br#"{"ticket": 42}"#;
        let r = call(body, sign("whsec_wrong", body), now).await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = call(body, sign(&secret, body), now).await.unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let started: AutomationRunStarted = r.json().await.unwrap();
        let run = started.run_id.expect("run");
        let done = e.until(run, &["completed"]).await;
        assert_eq!(done.run.trigger.trigger_type, "webhook");
        assert_eq!(done.run.trigger.context["body"]["ticket"], json!(42));
        // The same request again: a repeat.
        let r = call(body, sign(&secret, body), now).await.unwrap();
        assert_eq!(r.status().as_u16(), 409);
        // A new body signed 6 minutes ago: stale.
        let other: &[u8] = br#"{"ticket": 43}"#;
        let r = call(other, sign(&secret, other), now - 360).await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        // The captured request replayed an hour later with a fresh timestamp (the header is
        // not signed): still a repeat, after sweeps, for as long as the secret lives.
        e.clock.advance(Duration::hours(1));
        e.sweep().await;
        let later = e.app.state.now().timestamp();
        let r = call(body, sign(&secret, body), later).await.unwrap();
        assert_eq!(r.status().as_u16(), 409, "a replay after the window");
        // A number the run's stored context could not give back (PostgreSQL's jsonb prints
        // it in full; every read of the run failed) is refused, naming where it is.
        let huge: &[u8] = br#"{"ticket": 44, "amount": [1, -1.7976931348623157e308]}"#;
        let r = call(huge, sign(&secret, huge), later).await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["field"], "body.amount[1]", "{err}");
        let _ = engine;
    }
}

#[tokio::test]
async fn other_tenants_automations_and_runs_are_404() {
    for engine in engines() {
        let e = env(engine).await;
        let a = e
            .create(json!({"actions": [{"type": "update_device", "tags_add": ["x"]}]}))
            .await
            .automation;
        let started: AutomationRunStarted = e
            .admin
            .post(&format!("/api/v1/automations/{}/run", a.id), &json!({}))
            .await
            .unwrap();
        let run = started.run_id.unwrap();
        let rival = store_user(&e.app, "boss@rival.test", Some("Rival IT")).await;
        use reqwest::Method as M;
        let routes: Vec<(M, String, Option<Value>)> = vec![
            (M::GET, format!("/api/v1/automations/{}", a.id), None),
            (
                M::PATCH,
                format!("/api/v1/automations/{}", a.id),
                Some(json!({"name": "x"})),
            ),
            (M::DELETE, format!("/api/v1/automations/{}", a.id), None),
            (
                M::POST,
                format!("/api/v1/automations/{}/run", a.id),
                Some(json!({})),
            ),
            (M::GET, format!("/api/v1/automations/{}/runs", a.id), None),
            (M::GET, format!("/api/v1/automation-runs/{run}"), None),
            (
                M::POST,
                format!("/api/v1/automations/{}/webhook/rotate", a.id),
                Some(json!({})),
            ),
        ];
        for (m, path, body) in &routes {
            let (status, text) = rival.raw(m.clone(), path, body.as_ref()).await.unwrap();
            assert_eq!(status.as_u16(), 404, "{engine:?} {m} {path}: {text}");
        }
        let list: Page<Automation> = rival.get("/api/v1/automations").await.unwrap();
        assert!(list.data.is_empty());
    }
}

/// The command a run_script step of `run` (its only device) queued.
async fn step_command(e: &Env, run: AutomationRunId, step: usize) -> CommandId {
    let r = e.run_detail(run).await;
    let exec = r.devices[0].steps[step]
        .execution_id
        .unwrap_or_else(|| panic!("an execution: {r:#?}"));
    let x: ScriptExecution = e
        .admin
        .get(&format!("/api/v1/script-executions/{exec}"))
        .await
        .expect("execution");
    x.command_id.expect("a command")
}

/// A restart in the middle of runs. Run 1 is parked on its run_script command (queued,
/// the agent has not answered): the result reaches the restarted server and the run goes
/// on and completes. Run 2's device row is left `running` in the middle of its run_script
/// step with no command recorded (what a server killed between logging the step's start
/// and queueing its command leaves; set up here through the store: the row claimed, its
/// command forgotten): after the restart the sweep leaves it alone until the FixedClock
/// passes `STALE_SECS`, then marks it `interrupted` with the reason, the run too.
#[tokio::test]
async fn runs_resume_after_a_restart_or_end_interrupted_with_the_reason() {
    use breeze_server::automations::executor::STALE_SECS;
    use breeze_store::automation_runs as runs;
    for engine in engines() {
        let e = env(engine).await;
        let script = crate::device_state::script(&e.admin, e.org).await;
        let a = e
            .create(json!({"actions": [
                {"type": "run_script", "script_id": script},
                {"type": "update_device", "tags_add": ["after-restart"]}
            ]}))
            .await
            .automation;
        let run1 = e.run(a.id).await;
        e.until(run1, &["waiting"]).await;
        let cmd1 = step_command(&e, run1, 0).await;
        let run2 = e.run(a.id).await;
        e.until(run2, &["waiting"]).await;
        let cmd2 = step_command(&e, run2, 0).await;
        let now = e.app.state.now();
        let rd = runs::claim_by_command(&e.app.state.db, cmd2, now)
            .await
            .expect("claim")
            .expect("run 2's row waits on its command");
        let mut row = runs::device_state(&e.app.state.db, rd).await.expect("row");
        assert_eq!(row.status, "running");
        row.command_id = None;
        row.execution_id = None;
        runs::save_device(&e.app.state.db, &row, now)
            .await
            .expect("save");

        let Env {
            app,
            clock,
            org,
            dev,
            agent,
            ..
        } = e;
        let app = app
            .restart(Some(clock.clone()), |c| c.auth.access_ttl_secs = 3600)
            .await;
        let admin = app
            .client
            .clone()
            .login_as(crate::harness::ADMIN_EMAIL, crate::harness::PASSWORD)
            .await
            .expect("login");
        let agent = app.client.with_token(agent.token().expect("agent token"));
        let e = Env {
            app,
            clock,
            admin,
            org,
            dev,
            agent,
        };

        // Not stale yet: the sweep leaves run 2 running (a live server may hold it).
        e.sweep().await;
        let r2 = e.run_detail(run2).await;
        assert_eq!(r2.devices[0].status, "running", "{engine:?} {r2:#?}");
        assert_eq!(r2.run.status, "running");

        // Run 1's result reaches the new server: the run goes on and completes.
        let _: Value = e
            .agent
            .post(
                &format!("/api/v1/agents/{}/commands/{cmd1}/result", e.dev),
                &json!({"command_id": cmd1, "command_type": "run_script", "status": "completed",
                    "exit_code": 0, "stdout": "hi from before the restart\n",
                    "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("result");
        let r1 = e.until(run1, &["completed", "failed", "interrupted"]).await;
        assert_eq!(r1.run.status, "completed", "{engine:?} {r1:#?}");
        assert!(r1.run.finished_at.is_some());
        assert_eq!(
            (
                r1.run.devices_targeted,
                r1.run.devices_succeeded,
                r1.run.devices_failed
            ),
            (1, 1, 0)
        );
        let steps: Vec<(&str, &str)> = r1.devices[0]
            .steps
            .iter()
            .map(|s| (s.path.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(steps, [("0", "completed"), ("1", "completed")], "{r1:#?}");
        let s0 = &r1.devices[0].steps[0];
        assert_eq!(s0.exit_code, Some(0));
        assert!(
            s0.output
                .as_deref()
                .is_some_and(|o| o.contains("hi from before the restart")),
            "{s0:?}"
        );
        let d: Device = e
            .admin
            .get(&format!("/api/v1/devices/{}", e.dev))
            .await
            .unwrap();
        assert!(d.tags.contains(&"after-restart".to_string()), "{d:?}");

        // Past STALE_SECS: run 2's step is interrupted, with the reason; never resumed.
        e.clock.advance(Duration::seconds(STALE_SECS + 1));
        e.sweep().await;
        let r2 = e.run_detail(run2).await;
        let d2 = &r2.devices[0];
        assert_eq!(d2.status, "interrupted", "{engine:?} {r2:#?}");
        assert!(
            d2.error
                .as_deref()
                .is_some_and(|m| m.contains("server restarted during step")),
            "{d2:?}"
        );
        assert!(d2.finished_at.is_some());
        assert_eq!(d2.steps.len(), 1, "nothing after the cut step ran: {d2:#?}");
        assert_eq!(d2.steps[0].path, "0");
        assert_eq!(d2.steps[0].status, "interrupted");
        assert_eq!(
            d2.steps[0].message.as_deref(),
            Some("server restarted during step")
        );
        assert_eq!(r2.run.status, "interrupted");
        assert!(r2.run.finished_at.is_some());
        assert!(r2.run.error.is_some(), "{r2:#?}");
        assert_eq!((r2.run.devices_succeeded, r2.run.devices_failed), (0, 1));
        // Another sweep changes nothing.
        e.sweep().await;
        assert_eq!(e.run_detail(run2).await.devices[0].status, "interrupted");
    }
}
