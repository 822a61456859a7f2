//! Desired-state policies (issue 13): CRUD with validation naming the bad part, checks
//! queued as signed commands and answered in command results, counts that follow each
//! result incrementally, history, targets that shrink, enforce-mode remediation with its
//! attempt limit, audit, and tenant isolation on every route. The server's Clock is a
//! FixedClock; the agents are this test posting heartbeats and results.

use crate::events::{invite, store_user};
use crate::harness::{TestApp, engines, spawn_clocked};
use breeze_client::BreezeClient;
use breeze_core::FixedClock;
use breeze_core::roles::{ORG_ADMIN, ORG_VIEWER};
use breeze_proto::agent::{Command, HeartbeatResponse, PolicyCheckPayload, SignedCommand};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use chrono::Duration;
use serde_json::{Value, json};
use std::sync::Arc;

struct Env {
    app: TestApp,
    clock: Arc<FixedClock>,
    admin: BreezeClient,
    org: OrgId,
    devs: Vec<(DeviceId, BreezeClient)>,
}

async fn env(engine: crate::harness::Engine, devices: usize) -> Env {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let app = spawn_clocked(engine, Some(clock.clone()), |c| {
        c.auth.access_ttl_secs = 3600;
        // The test runs the sweep itself.
        c.agents.sweep_interval_secs = 3600;
    })
    .await;
    let admin = app.admin().await;
    let (org, site) = crate::device_state::org_and_site(&admin, "Policies").await;
    let mut devs = Vec::new();
    for i in 0..devices {
        let (dev, agent) =
            crate::device_state::enroll(&app, &admin, org, site, &format!("host-{i}")).await;
        devs.push((dev, agent));
    }
    let e = Env {
        app,
        clock,
        admin,
        org,
        devs,
    };
    for i in 0..devices {
        e.beat(i).await;
    }
    e
}

fn rules() -> Value {
    json!([
        {"type": "package_installed", "name": "curl", "min_version": "7.0"},
        {"type": "file_exists", "path": "/etc/motd"},
    ])
}

impl Env {
    /// A heartbeat of device `i`: answers the policy checks it carries.
    async fn beat(&self, i: usize) -> Vec<(CommandId, PolicyCheckPayload)> {
        let (dev, agent) = &self.devs[i];
        let r: HeartbeatResponse = agent
            .post(
                &format!("/api/v1/agents/{dev}/heartbeat"),
                &json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
                    "status": "ok", "metrics": {"cpu_percent": 1.0, "ram_percent": 2.0}}),
            )
            .await
            .expect("heartbeat");
        checks(&r.commands)
    }

    async fn policy(&self, body: Value) -> Policy {
        let mut b = json!({"org_id": self.org, "name": "Baseline", "enforcement": "monitor",
            "targets": {"all": true}, "rules": rules()});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        self.admin
            .post("/api/v1/policies", &b)
            .await
            .expect("policy")
    }

    async fn evaluate(&self, p: PolicyId) -> PolicyEvaluation {
        self.admin
            .post(&format!("/api/v1/policies/{p}/evaluate"), &json!({}))
            .await
            .expect("evaluate")
    }

    /// Device `i` answers check `cmd` with these statuses (one per rule).
    async fn answer(&self, i: usize, cmd: CommandId, policy: PolicyId, statuses: &[&str]) {
        let (dev, agent) = &self.devs[i];
        let results: Vec<Value> = statuses
            .iter()
            .enumerate()
            .map(|(n, s)| json!({"rule_index": n, "status": s, "detail": format!("rule {n} {s}")}))
            .collect();
        let report = json!({"policy_id": policy, "results": results}).to_string();
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{cmd}/result"),
                &json!({"command_id": cmd, "command_type": "policy_check", "status": "completed",
                    "exit_code": 0, "stdout": report, "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("result");
    }

    async fn compliance(&self, p: PolicyId) -> PolicyCompliance {
        self.admin
            .get(&format!("/api/v1/policies/{p}/compliance"))
            .await
            .expect("compliance")
    }

    async fn sweep(&self) {
        breeze_server::jobs::sweep_once(&self.app.state)
            .await
            .expect("sweep");
    }
}

fn checks(cmds: &[SignedCommand]) -> Vec<(CommandId, PolicyCheckPayload)> {
    cmds.iter()
        .filter_map(|c| match Command::parse(&c.envelope).ok()? {
            Command::PolicyCheck(p) => Some((c.envelope.id, p)),
            _ => None,
        })
        .collect()
}

fn counts(
    total: i64,
    compliant: i64,
    non_compliant: i64,
    unknown: i64,
    error: i64,
) -> ComplianceCounts {
    ComplianceCounts {
        total,
        compliant,
        non_compliant,
        unknown,
        error,
    }
}

async fn status_of(
    c: &BreezeClient,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let body = (!body.is_null()).then_some(body);
    let (s, v) = c.raw(method, path, body.as_ref()).await.expect("request");
    (s.as_u16(), serde_json::from_str(&v).unwrap_or_default())
}

/// Create, read, list, change and delete; each write audited.
#[tokio::test]
async fn crud_and_audit() {
    for engine in engines() {
        let e = env(engine, 0).await;
        let p = e
            .policy(json!({"description": "the basics", "check_interval_minutes": 30}))
            .await;
        assert_eq!(p.enforcement, Enforcement::Monitor);
        assert_eq!(p.check_interval_minutes, 30);
        assert_eq!(p.remediation_max_attempts, 3);
        assert_eq!(p.rules.len(), 2);
        assert_eq!(
            p.rules[0],
            PolicyRule::PackageInstalled {
                name: "curl".into(),
                min_version: Some("7.0".into())
            }
        );
        assert_eq!(p.counts, counts(0, 0, 0, 0, 0));
        let got: Policy = e
            .admin
            .get(&format!("/api/v1/policies/{}", p.id))
            .await
            .unwrap();
        assert_eq!(got, p);
        let l: Page<Policy> = e.admin.get("/api/v1/policies?q=basel").await.unwrap();
        assert_eq!(l.data.len(), 1);
        let script: Script = e
            .admin
            .post(
                "/api/v1/scripts",
                &json!({"org_id": e.org, "name": "fix", "language": "sh",
                    "os_types": ["linux"], "content": "true"}),
            )
            .await
            .unwrap();
        let up: Policy = e
            .admin
            .patch(
                &format!("/api/v1/policies/{}", p.id),
                &json!({"enforcement": "enforce", "remediation_script_id": script.id,
                    "remediation_max_attempts": 2, "description": null}),
            )
            .await
            .unwrap();
        assert_eq!(up.enforcement, Enforcement::Enforce);
        assert_eq!(up.remediation_script_id, Some(script.id));
        assert_eq!(up.description, None);
        // Enforce mode cannot lose its script.
        let (s, v) = status_of(
            &e.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/policies/{}", p.id),
            json!({"remediation_script_id": null}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("remediation_script_id"))
        );
        let ev = e.evaluate(p.id).await;
        assert_eq!((ev.queued, ev.skipped), (0, 0));
        let _: OkBody = e
            .admin
            .delete(&format!("/api/v1/policies/{}", p.id))
            .await
            .unwrap();
        let (s, _) = status_of(
            &e.admin,
            reqwest::Method::GET,
            &format!("/api/v1/policies/{}", p.id),
            Value::Null,
        )
        .await;
        assert_eq!(s, 404);
        for action in [
            "policy.create",
            "policy.update",
            "policy.evaluate",
            "policy.delete",
        ] {
            let log: Value = e
                .admin
                .get(&format!("/api/v1/audit/logs?action={action}"))
                .await
                .unwrap();
            let rows = log["data"].as_array().unwrap();
            assert_eq!(rows.len(), 1, "{engine:?} {action}: {log}");
            assert_eq!(rows[0]["resource_id"], p.id.to_string(), "{action}");
        }
    }
}

/// Bad bodies are 422 naming the bad part.
#[tokio::test]
async fn bad_policies_are_422_with_paths() {
    for engine in engines() {
        let e = env(engine, 0).await;
        let ok = json!({"type": "file_absent", "path": "/tmp/x"});
        // Another organization's script may not be used.
        let (org_b, _) = crate::device_state::org_and_site(&e.admin, "Other").await;
        let foreign: Script = e
            .admin
            .post(
                "/api/v1/scripts",
                &json!({"org_id": org_b, "name": "theirs", "language": "sh",
                    "os_types": ["linux"], "content": "true"}),
            )
            .await
            .unwrap();
        let cases = vec![
            (
                json!({"rules": [ok, ok, {"type": "file_exists", "path": "etc/motd"}]}),
                "rules[2].path",
            ),
            (
                json!({"rules": [{"type": "registry_key"}]}),
                "rules[0].type",
            ),
            (json!({"rules": []}), "rules"),
            (
                json!({"rules": [{"type": "sysctl", "key": "net.ipv4.ip_forward"}]}),
                "rules[0].value",
            ),
            (
                json!({"rules": [{"type": "file_exists", "path": "/a", "mode": "rwx"}]}),
                "rules[0].mode",
            ),
            (
                json!({"rules": [{"type": "script", "script_id": foreign.id}]}),
                "rules[0].script_id",
            ),
            (
                json!({"targets": {"site_ids": ["nope"]}}),
                "targets.site_ids[0]",
            ),
            (json!({"targets": {}}), "targets"),
            (
                json!({"check_interval_minutes": 1}),
                "check_interval_minutes",
            ),
            (json!({"enforcement": "punish"}), "enforcement"),
            (json!({"enforcement": "enforce"}), "remediation_script_id"),
            (
                json!({"enforcement": "enforce", "remediation_script_id": foreign.id}),
                "remediation_script_id",
            ),
            (
                json!({"remediation_max_attempts": 0}),
                "remediation_max_attempts",
            ),
            (json!({"name": ""}), "name"),
            (json!({"surprise": 1}), "surprise"),
        ];
        for (patch, field) in cases {
            let mut b = json!({"org_id": e.org, "name": "P", "enforcement": "monitor",
                "targets": {"all": true}, "rules": [ok]});
            for (k, v) in patch.as_object().unwrap() {
                b[k] = v.clone();
            }
            let (s, v) = status_of(&e.admin, reqwest::Method::POST, "/api/v1/policies", b).await;
            assert_eq!(s, 422, "{engine:?} {field}: {v}");
            assert_eq!(v["error"]["field"], field, "{engine:?}: {v}");
        }
        let p = e.policy(json!({})).await;
        let (s, v) = status_of(
            &e.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/policies/{}", p.id),
            json!({"rules": [ok, {"type": "user_present", "name": "a b"}]}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("rules[1].name")),
            "{v}"
        );
    }
}

/// Checks go out as signed commands, one in flight per device; each result moves the
/// counts by exactly what changed (devices by overall status, results per rule), appends
/// history on changes only, and the sweep re-checks after the interval and drops devices
/// that leave the targets.
#[tokio::test]
async fn results_move_counts_incrementally() {
    for engine in engines() {
        let mut e = env(engine, 3).await;
        let p = e.policy(json!({"check_interval_minutes": 60})).await;
        let ev = e.evaluate(p.id).await;
        assert_eq!((ev.queued, ev.skipped), (3, 0), "{engine:?}");
        // All targeted, none checked yet.
        assert_eq!(e.compliance(p.id).await.counts, counts(3, 0, 0, 3, 0));
        // A second evaluate does not stack checks.
        let ev = e.evaluate(p.id).await;
        assert_eq!((ev.queued, ev.skipped), (0, 3));
        let mut cmds = Vec::new();
        for i in 0..3 {
            let c = e.beat(i).await;
            assert_eq!(c.len(), 1, "{engine:?}: one check for device {i}");
            assert_eq!(c[0].1.policy_id, p.id);
            assert_eq!(c[0].1.rules, p.rules);
            cmds.push(c[0].0);
        }
        e.answer(0, cmds[0], p.id, &["compliant", "compliant"])
            .await;
        e.answer(1, cmds[1], p.id, &["non_compliant", "compliant"])
            .await;
        let c = e.compliance(p.id).await;
        assert_eq!(c.counts, counts(3, 1, 1, 1, 0), "{engine:?}");
        assert_eq!(c.rule_counts.len(), 2);
        assert_eq!(c.rule_counts[0].counts, counts(2, 1, 1, 0, 0));
        assert_eq!(c.rule_counts[1].counts, counts(2, 2, 0, 0, 0));
        let d1 = c.data.iter().find(|d| d.device_id == e.devs[1].0).unwrap();
        assert_eq!(d1.status, ComplianceStatus::NonCompliant);
        assert!(!d1.check_pending);
        assert_eq!(d1.rules[0].rule_type, "package_installed");
        assert_eq!(d1.rules[0].detail.as_deref(), Some("rule 0 non_compliant"));
        let d2 = c.data.iter().find(|d| d.device_id == e.devs[2].0).unwrap();
        assert_eq!(d2.status, ComplianceStatus::Unknown);
        assert!(d2.check_pending);
        // The stored counts equal a recount of the rows.
        let filtered: PolicyCompliance = e
            .admin
            .get(&format!(
                "/api/v1/policies/{}/compliance?status=non_compliant",
                p.id
            ))
            .await
            .unwrap();
        assert_eq!(filtered.data.len(), 1);
        assert_eq!(filtered.data[0].device_id, e.devs[1].0);
        // Device 2 errs on one rule: error wins over non-compliant.
        e.answer(2, cmds[2], p.id, &["non_compliant", "error"])
            .await;
        assert_eq!(e.compliance(p.id).await.counts, counts(3, 1, 1, 0, 1));
        // The summary carries the same counts without counting.
        let s: Page<PolicyComplianceSummary> = e
            .admin
            .get("/api/v1/policies/compliance-summary")
            .await
            .unwrap();
        assert_eq!(s.data.len(), 1);
        assert_eq!(s.data[0].counts, counts(3, 1, 1, 0, 1));
        // Nothing is due before the interval.
        e.tick_and_sweep(30).await;
        assert!(e.beat(1).await.is_empty(), "{engine:?}: checked too early");
        // After it, every online device gets one check; device 1 is now compliant.
        e.tick_and_sweep(31).await;
        let again = e.beat(1).await;
        assert_eq!(again.len(), 1, "{engine:?}");
        e.answer(1, again[0].0, p.id, &["compliant", "compliant"])
            .await;
        let c = e.compliance(p.id).await;
        assert_eq!(c.counts, counts(3, 2, 0, 0, 1), "{engine:?}");
        assert_eq!(c.rule_counts[0].counts, counts(3, 2, 1, 0, 0));
        // Same answer again: no history row, no count change.
        let same = e.beat(0).await;
        e.answer(0, same[0].0, p.id, &["compliant", "compliant"])
            .await;
        assert_eq!(e.compliance(p.id).await.counts, counts(3, 2, 0, 0, 1));
        let h: Page<ComplianceChange> = e
            .admin
            .get(&format!(
                "/api/v1/policies/{}/compliance/history?device_id={}",
                p.id, e.devs[1].0
            ))
            .await
            .unwrap();
        // Newest first: overall compliant, rule 0 compliant, then the first check's three.
        let seen: Vec<(Option<i64>, ComplianceStatus, Option<ComplianceStatus>)> = h
            .data
            .iter()
            .map(|c| (c.rule_index, c.status, c.previous_status))
            .collect();
        use ComplianceStatus::*;
        assert_eq!(seen.len(), 5, "{engine:?}: {seen:?}");
        assert!(
            seen[..2].contains(&(None, Compliant, Some(NonCompliant))),
            "{seen:?}"
        );
        assert!(
            seen[..2].contains(&(Some(0), Compliant, Some(NonCompliant))),
            "{seen:?}"
        );
        assert!(
            seen[2..].contains(&(None, NonCompliant, Some(Unknown))),
            "{seen:?}"
        );
        let h0: Page<ComplianceChange> = e
            .admin
            .get(&format!(
                "/api/v1/policies/{}/compliance/history?device_id={}",
                p.id, e.devs[0].0
            ))
            .await
            .unwrap();
        assert_eq!(
            h0.data.len(),
            3,
            "{engine:?}: no rows for an unchanged answer"
        );
        // Device 2 leaves the targets: its rows and counts go at the next sweep.
        let _: Policy = e
            .admin
            .patch(
                &format!("/api/v1/policies/{}", p.id),
                &json!({"targets": {"device_ids": [e.devs[0].0, e.devs[1].0]}}),
            )
            .await
            .unwrap();
        e.sweep().await;
        let c = e.compliance(p.id).await;
        assert_eq!(c.counts, counts(2, 2, 0, 0, 0), "{engine:?}");
        assert_eq!(c.rule_counts[0].counts, counts(2, 2, 0, 0, 0));
        assert_eq!(c.rule_counts[1].counts, counts(2, 2, 0, 0, 0));
        // New rules: everyone unknown until checked again; a stale answer is dropped.
        let stale = e.beat(0).await;
        assert!(stale.is_empty());
        e.tick_and_sweep(61).await;
        let stale = e.beat(0).await;
        assert_eq!(stale.len(), 1);
        let _: Policy = e
            .admin
            .patch(
                &format!("/api/v1/policies/{}", p.id),
                &json!({"rules": [{"type": "user_absent", "name": "guest"}]}),
            )
            .await
            .unwrap();
        e.answer(0, stale[0].0, p.id, &["compliant", "compliant"])
            .await;
        let c = e.compliance(p.id).await;
        assert_eq!(c.counts, counts(2, 0, 0, 2, 0), "{engine:?}");
        assert!(c.rule_counts.is_empty());
    }
}

impl Env {
    async fn tick_and_sweep(&mut self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
        // Tokens live an hour: log in again, and keep the devices online.
        self.admin = self
            .app
            .client
            .login_as(crate::harness::ADMIN_EMAIL, crate::harness::PASSWORD)
            .await
            .expect("login");
        for i in 0..self.devs.len() {
            assert!(self.beat(i).await.is_empty(), "a check before the sweep");
        }
        self.sweep().await;
    }
}

/// Enforce mode: a non-compliant device runs the remediation script (trigger `policy`),
/// its result queues a new check, and attempts stop at the limit until the device is
/// compliant again. Warn mode records a device event.
#[tokio::test]
async fn enforce_remediates_up_to_the_limit() {
    for engine in engines() {
        let e = env(engine, 1).await;
        let (dev, agent) = (&e.devs[0].0, &e.devs[0].1);
        let script: Script = e
            .admin
            .post(
                "/api/v1/scripts",
                &json!({"org_id": e.org, "name": "install curl", "language": "sh",
                    "os_types": ["linux"], "content": "apt-get install -y curl"}),
            )
            .await
            .unwrap();
        let p = e
            .policy(
                json!({"enforcement": "enforce", "remediation_script_id": script.id,
                "remediation_max_attempts": 2}),
            )
            .await;
        e.evaluate(p.id).await;
        let mut check = e.beat(0).await[0].0;
        for attempt in 1..=3 {
            e.answer(0, check, p.id, &["non_compliant", "compliant"])
                .await;
            let r: HeartbeatResponse = agent
                .post(
                    &format!("/api/v1/agents/{dev}/heartbeat"),
                    &json!({"protocol_version": 1, "agent_version": "0.1.0",
                        "sent_at": chrono::Utc::now(), "status": "ok", "metrics": {}}),
                )
                .await
                .unwrap();
            let runs: Vec<&SignedCommand> = r
                .commands
                .iter()
                .filter(|c| c.envelope.command_type == "run_script")
                .collect();
            if attempt == 3 {
                assert!(runs.is_empty(), "{engine:?}: a third remediation");
                break;
            }
            assert_eq!(runs.len(), 1, "{engine:?}: attempt {attempt}");
            let run = runs[0].envelope.id;
            let ex: Page<ScriptExecution> = e
                .admin
                .get(&format!("/api/v1/script-executions?device_id={dev}"))
                .await
                .unwrap();
            assert_eq!(ex.data.len(), attempt);
            assert_eq!(ex.data[0].trigger_type, "policy");
            let c = e.compliance(p.id).await;
            assert_eq!(c.data[0].remediation_attempts, attempt as i64);
            // The remediation's result queues a check at once.
            let _: Value = agent
                .post(
                    &format!("/api/v1/agents/{dev}/commands/{run}/result"),
                    &json!({"command_id": run, "command_type": "run_script", "status": "completed",
                        "exit_code": 0, "completed_at": chrono::Utc::now()}),
                )
                .await
                .unwrap();
            let next = e.beat(0).await;
            assert_eq!(next.len(), 1, "{engine:?}: re-check after remediation");
            check = next[0].0;
        }
        // Compliant again: the attempts start over.
        let _ = check;
        // Each remediation the server started is audited, with the device and attempt.
        let log: Value = e
            .admin
            .get("/api/v1/audit/logs?action=policy.remediate")
            .await
            .unwrap();
        let rows = log["data"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{engine:?}: {log}");
        assert_eq!(rows[0]["resource_id"], p.id.to_string());
        assert_eq!(rows[0]["details"]["device_id"], dev.to_string());
        assert_eq!(e.evaluate(p.id).await.queued, 1);
        let last = e.beat(0).await[0].0;
        e.answer(0, last, p.id, &["compliant", "compliant"]).await;
        let c = e.compliance(p.id).await;
        assert_eq!(c.data[0].status, ComplianceStatus::Compliant);
        assert_eq!(c.data[0].remediation_attempts, 0);
        let events: Value = e
            .admin
            .get(&format!("/api/v1/devices/{dev}/events"))
            .await
            .unwrap();
        let kinds: Vec<&str> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["event_type"].as_str())
            .filter(|t| t.starts_with("policy."))
            .collect();
        assert_eq!(
            kinds,
            vec!["policy.compliant", "policy.non_compliant"],
            "{engine:?}"
        );
    }
}

/// Another partner's and another organization's policies are 404 on every route; their
/// lists and summary are empty; a viewer reads but does not write.
#[tokio::test]
async fn other_tenants_policies_are_404() {
    for engine in engines() {
        let e = env(engine, 1).await;
        let p = e.policy(json!({})).await;
        let (org_b, _) = crate::device_state::org_and_site(&e.admin, "Other").await;
        let b_admin = invite(
            &e.app,
            &e.admin,
            "b-admin@other.test",
            RoleId(ORG_ADMIN),
            org_b,
            None,
        )
        .await;
        let p2 = store_user(&e.app, "boss@rival.test", Some("Rival IT")).await;
        let viewer = invite(
            &e.app,
            &e.admin,
            "viewer@pol.test",
            RoleId(ORG_VIEWER),
            e.org,
            None,
        )
        .await;
        use reqwest::Method as M;
        let id = p.id;
        let routes: Vec<(M, String, Value)> = vec![
            (M::GET, format!("/api/v1/policies/{id}"), Value::Null),
            (
                M::PATCH,
                format!("/api/v1/policies/{id}"),
                json!({"name": "x"}),
            ),
            (M::DELETE, format!("/api/v1/policies/{id}"), Value::Null),
            (
                M::GET,
                format!("/api/v1/policies/{id}/compliance"),
                Value::Null,
            ),
            (
                M::GET,
                format!("/api/v1/policies/{id}/compliance/history"),
                Value::Null,
            ),
            (
                M::POST,
                format!("/api/v1/policies/{id}/evaluate"),
                json!({}),
            ),
        ];
        for (who, c) in [("org b", &b_admin), ("partner 2", &p2)] {
            for (m, path, body) in &routes {
                let (s, _) = status_of(c, m.clone(), path, body.clone()).await;
                assert_eq!(s, 404, "{engine:?} {who}: {m} {path}");
            }
            let l: Page<Policy> = c.get("/api/v1/policies").await.unwrap();
            assert!(l.data.is_empty(), "{who}");
            let s: Page<PolicyComplianceSummary> =
                c.get("/api/v1/policies/compliance-summary").await.unwrap();
            assert!(s.data.is_empty(), "{who}");
            let (s, v) = status_of(
                c,
                M::POST,
                "/api/v1/policies",
                json!({"org_id": e.org, "name": "x", "enforcement": "monitor",
                    "targets": {"all": true}, "rules": rules()}),
            )
            .await;
            assert_eq!(
                (s, v["error"]["field"].as_str()),
                (422, Some("org_id")),
                "{who}: {v}"
            );
        }
        let _: Policy = viewer.get(&format!("/api/v1/policies/{id}")).await.unwrap();
        let _: PolicyCompliance = viewer
            .get(&format!("/api/v1/policies/{id}/compliance"))
            .await
            .unwrap();
        for (m, path, body) in [
            (
                M::PATCH,
                format!("/api/v1/policies/{id}"),
                json!({"name": "x"}),
            ),
            (
                M::POST,
                format!("/api/v1/policies/{id}/evaluate"),
                json!({}),
            ),
            (M::DELETE, format!("/api/v1/policies/{id}"), Value::Null),
        ] {
            let (s, _) = status_of(&viewer, m.clone(), &path, body).await;
            assert_eq!(s, 403, "{engine:?} viewer {m} {path}");
        }
    }
}
