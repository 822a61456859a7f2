//! Device and tenant states that must hold (issue 8): quarantine blocks every command,
//! running commands an agent stopped reporting become `lost`, a suspended device's
//! machine cannot enroll again, device limits and read-only (suspended, churned)
//! organizations, and an agent naming another device's command.

use crate::harness::{PASSWORD, TestApp, engines, spawn};
use breeze_client::{BreezeClient, ClientError, EventStream};
use breeze_core::roles::ORG_ADMIN;
use breeze_proto::agent::EnrollResponse;
use breeze_proto::api::*;
use breeze_proto::ids::*;
use serde_json::{Value, json};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) async fn org_and_site(admin: &BreezeClient, name: &str) -> (OrgId, SiteId) {
    let org: Organization = admin
        .post("/api/v1/orgs", &json!({"name": name}))
        .await
        .expect("org");
    let site: Site = admin
        .post(
            &format!("/api/v1/orgs/{}/sites", org.id),
            &json!({"name": format!("{name} HQ")}),
        )
        .await
        .expect("site");
    (org.id, site.id)
}

async fn try_enroll(
    app: &TestApp,
    admin: &BreezeClient,
    org: OrgId,
    site: SiteId,
    host: &str,
    fingerprint: &str,
) -> Result<(DeviceId, BreezeClient), ClientError> {
    let key: Value = admin
        .post(
            "/api/v1/enrollment-keys",
            &json!({"org_id": org, "site_id": site, "name": host, "max_uses": 1}),
        )
        .await
        .expect("enrollment key");
    let e: EnrollResponse = app
        .client
        .post(
            "/api/v1/agents/enroll",
            &json!({
                "protocol_version": 1, "enrollment_key": key["key"], "hostname": host,
                "os_type": "linux", "os_version": "12", "architecture": "amd64",
                "agent_version": "0.1.0", "fingerprint": fingerprint,
                "hardware": {"cpu_model": "Test CPU", "cpu_cores": 2, "ram_total_mb": 4096}
            }),
        )
        .await?;
    Ok((e.device_id, app.client.with_token(e.auth_token.expose())))
}

pub(crate) async fn enroll(
    app: &TestApp,
    admin: &BreezeClient,
    org: OrgId,
    site: SiteId,
    host: &str,
) -> (DeviceId, BreezeClient) {
    try_enroll(app, admin, org, site, host, &format!("{host:-<64}"))
        .await
        .expect("enroll")
}

fn heartbeat(running: &[CommandId]) -> Value {
    json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
        "status": "ok", "metrics": {"cpu_percent": 1.0, "ram_percent": 2.0},
        "running_commands": running})
}

async fn beat(agent: &BreezeClient, dev: DeviceId, running: &[CommandId]) -> Value {
    agent
        .post(
            &format!("/api/v1/agents/{dev}/heartbeat"),
            &heartbeat(running),
        )
        .await
        .expect("heartbeat")
}

async fn queue_reboot(admin: &BreezeClient, dev: DeviceId) -> Result<CommandId, ClientError> {
    let q: Data<DeviceCommand> = admin
        .post(
            &format!("/api/v1/devices/{dev}/commands"),
            &json!({"type": "reboot", "payload": {"delay_secs": 60}}),
        )
        .await?;
    Ok(q.data.id)
}

async fn command(admin: &BreezeClient, dev: DeviceId, id: CommandId) -> DeviceCommand {
    let page: Page<DeviceCommand> = admin
        .get(&format!("/api/v1/devices/{dev}/commands?limit=100"))
        .await
        .expect("history");
    page.data
        .into_iter()
        .find(|c| c.id == id)
        .expect("command in history")
}

pub(crate) async fn script(admin: &BreezeClient, org: OrgId) -> ScriptId {
    let s: Script = admin
        .post(
            "/api/v1/scripts",
            &json!({"org_id": org, "name": "hello", "language": "bash",
                "os_types": ["linux"], "content": "echo hi"}),
        )
        .await
        .expect("script");
    s.id
}

async fn execute(
    admin: &BreezeClient,
    script: ScriptId,
    dev: DeviceId,
) -> Result<ExecutionRef, ClientError> {
    let r: Data<Vec<ExecutionRef>> = admin
        .post(
            &format!("/api/v1/scripts/{script}/execute"),
            &json!({"device_ids": [dev]}),
        )
        .await?;
    Ok(r.data.into_iter().next().expect("one execution"))
}

async fn ack(agent: &BreezeClient, dev: DeviceId, cmd: CommandId) -> Result<Value, ClientError> {
    agent
        .post(
            &format!("/api/v1/agents/{dev}/commands/{cmd}/ack"),
            &json!({"command_id": cmd, "status": "running", "started_at": chrono::Utc::now()}),
        )
        .await
}

async fn open(c: &BreezeClient) -> EventStream {
    let mut s = c.events().await.expect("events");
    let first = tokio::time::timeout(PATIENCE, s.next())
        .await
        .expect("hello in time");
    assert!(matches!(first, Ok(Some(LiveEvent::Hello))), "{first:?}");
    s
}

/// Reads events until `n` match `want`; answers them.
async fn collect(
    s: &mut EventStream,
    n: usize,
    want: impl Fn(&LiveEvent) -> bool,
) -> Vec<LiveEvent> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = tokio::time::timeout(PATIENCE, s.next())
            .await
            .unwrap_or_else(|_| panic!("no event in time; have {out:?}"))
            .expect("stream readable")
            .expect("stream open");
        if want(&e) {
            out.push(e);
        }
    }
    out
}

fn code(e: &ClientError) -> (Option<u16>, Option<&str>) {
    (e.status().map(|s| s.as_u16()), e.code())
}

async fn audit_actions(admin: &BreezeClient, action: &str) -> Vec<Value> {
    let page: Value = admin
        .get(&format!("/api/v1/audit/logs?action={action}&limit=100"))
        .await
        .expect("audit");
    page["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn quarantine_cancels_waiting_commands_and_refuses_new_ones() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Q").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "q-01").await;
        let sid = script(&pa, org).await;

        // One command delivered but not started, then one pending command and one
        // pending script run.
        let delivered = queue_reboot(&pa, dev).await.expect("queue");
        let hb = beat(&agent, dev, &[]).await;
        assert_eq!(hb["commands"].as_array().map(Vec::len), Some(1));
        let pending = queue_reboot(&pa, dev).await.expect("queue");
        let exec = execute(&pa, sid, dev).await.expect("execute");

        let mut s = open(&pa).await;
        let d: Device = pa
            .post(
                &format!("/api/v1/devices/{dev}/quarantine"),
                &json!({"reason": "suspicious"}),
            )
            .await
            .expect("quarantine");
        assert_eq!(d.status, "quarantined");

        // Cancelled, with the reason, and published.
        for id in [delivered, pending] {
            let c = command(&pa, dev, id).await;
            assert_eq!(c.status, "cancelled", "{engine:?}");
            assert!(
                c.error_message
                    .as_deref()
                    .is_some_and(|m| m.contains("quarantine")),
                "{c:?}"
            );
        }
        let e: ScriptExecution = pa
            .get(&format!("/api/v1/script-executions/{}", exec.id))
            .await
            .expect("execution");
        assert_eq!(e.status, "cancelled");
        assert!(
            e.error_message
                .as_deref()
                .is_some_and(|m| m.contains("quarantine"))
        );
        let seen = collect(&mut s, 3, |e| {
            matches!(e, LiveEvent::CommandUpdated { status, .. } | LiveEvent::ExecutionUpdated { status, .. } if status == "cancelled")
        })
        .await;
        assert!(seen.iter().any(|e| matches!(e, LiveEvent::ExecutionUpdated { execution_id, .. } if *execution_id == exec.id)));
        assert!(seen.iter().any(
            |e| matches!(e, LiveEvent::CommandUpdated { command_id, .. } if *command_id == pending)
        ));

        // New commands and script runs: 409 device_quarantined; maintenance does not
        // release it either.
        let e = queue_reboot(&pa, dev).await.expect_err("refused");
        assert_eq!(code(&e), (Some(409), Some("device_quarantined")));
        let e = pa
            .post::<_, Value>(
                &format!("/api/v1/devices/{dev}/commands"),
                &json!({"type": "collect_inventory_now"}),
            )
            .await
            .expect_err("refused");
        assert_eq!(code(&e), (Some(409), Some("device_quarantined")));
        let e = execute(&pa, sid, dev).await.expect_err("refused");
        assert_eq!(code(&e), (Some(409), Some("device_quarantined")));
        let e = pa
            .post::<_, Device>(&format!("/api/v1/devices/{dev}/maintenance"), &json!({}))
            .await
            .expect_err("refused");
        assert_eq!(code(&e), (Some(409), Some("device_quarantined")));

        // A command left pending under a quarantine (queued in a race with it) is
        // never handed out, by heartbeat or otherwise.
        app.state
            .db
            .exec(
                breeze_store::Q::new("UPDATE device_commands SET status = 'pending' WHERE id = ?")
                    .bind(pending),
            )
            .await
            .expect("force pending");
        let hb = beat(&agent, dev, &[]).await;
        assert_eq!(hb["commands"], json!([]), "{engine:?}");

        // Reactivated: commands flow again.
        let _: Device = pa
            .post(&format!("/api/v1/devices/{dev}/reactivate"), &json!({}))
            .await
            .expect("reactivate");
        let again = queue_reboot(&pa, dev).await.expect("queue after release");
        let hb = beat(&agent, dev, &[]).await;
        let ids: Vec<String> = hb["commands"]
            .as_array()
            .expect("commands")
            .iter()
            .filter_map(|c| c["envelope"]["id"].as_str().map(str::to_string))
            .collect();
        assert!(ids.contains(&again.to_string()), "{hb}");
    }
}

#[tokio::test]
async fn acknowledging_another_devices_command_is_404_audited_and_suspends_the_token() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "F").await;
        let (a, agent_a) = enroll(&app, &pa, org, site, "fa-01").await;
        let (b, _agent_b) = enroll(&app, &pa, org, site, "fb-01").await;
        let theirs = queue_reboot(&pa, b).await.expect("queue");

        // An unknown id: 404, nothing else.
        let e = ack(&agent_a, a, CommandId::new())
            .await
            .expect_err("unknown");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
        beat(&agent_a, a, &[]).await;

        // Another device's command on its own path: 404, audited, token suspended.
        let e = ack(&agent_a, a, theirs).await.expect_err("foreign");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{engine:?}");
        assert_eq!(command(&pa, b, theirs).await.status, "pending");
        let rows = audit_actions(&pa, "agent.token.suspended").await;
        assert!(
            rows.iter()
                .any(|r| r["details"]["command_id"] == json!(theirs) && r["result"] == "denied"),
            "{rows:?}"
        );
        let (status, _) = agent_a
            .raw(
                reqwest::Method::POST,
                &format!("/api/v1/agents/{a}/heartbeat"),
                Some(&heartbeat(&[])),
            )
            .await
            .expect("heartbeat");
        assert_eq!(status.as_u16(), 401, "the token is suspended");
        let d: Device = pa
            .get(&format!("/api/v1/devices/{a}"))
            .await
            .expect("device");
        assert!(d.token_suspended);
    }
}

#[tokio::test]
async fn a_result_for_another_devices_command_is_404_and_suspends_the_token() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "R").await;
        let (a, agent_a) = enroll(&app, &pa, org, site, "ra-01").await;
        let (b, _agent_b) = enroll(&app, &pa, org, site, "rb-01").await;
        let theirs = queue_reboot(&pa, b).await.expect("queue");
        let e = agent_a
            .post::<_, Value>(
                &format!("/api/v1/agents/{a}/commands/{theirs}/result"),
                &json!({"command_id": theirs, "command_type": "reboot", "status": "completed",
                    "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect_err("foreign");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{engine:?}");
        assert_eq!(command(&pa, b, theirs).await.status, "pending");
        let d: Device = pa
            .get(&format!("/api/v1/devices/{a}"))
            .await
            .expect("device");
        assert!(d.token_suspended);
    }
}

#[tokio::test]
async fn a_running_command_the_heartbeat_no_longer_reports_becomes_lost() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "L").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "l-01").await;
        let sid = script(&pa, org).await;
        let exec = execute(&pa, sid, dev).await.expect("execute");
        let hb = beat(&agent, dev, &[]).await;
        let cmd: CommandId = serde_json::from_value(hb["commands"][0]["envelope"]["id"].clone())
            .expect("command id");
        ack(&agent, dev, cmd).await.expect("ack");

        // The heartbeat right after delivery may not list it yet (grace); one that
        // lists it keeps it running.
        beat(&agent, dev, &[]).await;
        assert_eq!(command(&pa, dev, cmd).await.status, "running", "{engine:?}");
        beat(&agent, dev, &[cmd]).await;
        assert_eq!(command(&pa, dev, cmd).await.status, "running");

        // The agent restarted: its heartbeat no longer lists the command.
        let mut s = open(&pa).await;
        beat(&agent, dev, &[]).await;
        let c = command(&pa, dev, cmd).await;
        assert_eq!(c.status, "lost", "{engine:?}");
        assert!(c.completed_at.is_some());
        let e: ScriptExecution = pa
            .get(&format!("/api/v1/script-executions/{}", exec.id))
            .await
            .expect("execution");
        assert_eq!(e.status, "lost");
        let seen = collect(&mut s, 1, |e| {
            matches!(e, LiveEvent::ExecutionUpdated { .. })
        })
        .await;
        assert_eq!(
            seen[0],
            LiveEvent::ExecutionUpdated {
                device_id: dev,
                execution_id: exec.id,
                command_id: cmd,
                status: "lost".into()
            }
        );

        // Agents never report `lost`; a late real result still replaces it.
        let e = agent
            .post::<_, Value>(
                &format!("/api/v1/agents/{dev}/commands/{cmd}/result"),
                &json!({"command_id": cmd, "command_type": "run_script", "status": "lost",
                    "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect_err("lost is the server's");
        assert_eq!(e.field(), Some("status"));
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{cmd}/result"),
                &json!({"command_id": cmd, "command_type": "run_script", "status": "completed",
                    "exit_code": 0, "stdout": "hi\n", "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("late result");
        assert_eq!(command(&pa, dev, cmd).await.status, "completed");
    }
}

#[tokio::test]
async fn the_sweep_marks_a_running_command_lost_after_its_timeout_and_grace() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "S").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "s-01").await;
        let cmd = queue_reboot(&pa, dev).await.expect("queue");
        beat(&agent, dev, &[]).await;
        ack(&agent, dev, cmd).await.expect("ack");
        let fresh = queue_reboot(&pa, dev).await.expect("queue");
        beat(&agent, dev, &[cmd]).await;
        ack(&agent, dev, fresh).await.expect("ack");

        // Within its deadline: nothing happens.
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(command(&pa, dev, cmd).await.status, "running");

        // Started longer ago than the default timeout plus the grace period.
        let long_ago = chrono::Utc::now()
            - chrono::Duration::seconds(
                breeze_store::command_sweeps::DEFAULT_TIMEOUT_SECS
                    + breeze_store::command_sweeps::LOST_GRACE_SECS
                    + 60,
            );
        app.state
            .db
            .exec(
                breeze_store::Q::new(
                    "UPDATE device_commands SET started_at = ?, sent_at = ? WHERE id = ?",
                )
                .bind(long_ago)
                .bind(long_ago)
                .bind(cmd),
            )
            .await
            .expect("age the command");
        let mut s = open(&pa).await;
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        let c = command(&pa, dev, cmd).await;
        assert_eq!(c.status, "lost", "{engine:?}");
        assert!(
            c.error_message
                .as_deref()
                .is_some_and(|m| m.contains("timeout"))
        );
        assert_eq!(command(&pa, dev, fresh).await.status, "running");
        let seen = collect(&mut s, 1, |e| matches!(e, LiveEvent::CommandUpdated { .. })).await;
        assert_eq!(
            seen[0],
            LiveEvent::CommandUpdated {
                device_id: dev,
                command_id: cmd,
                status: "lost".into()
            }
        );
    }
}

/// A command queued in the instant between the handler's quarantine check and the
/// quarantine (which cancels what waits) is not left pending: the sweep cancels it.
#[tokio::test]
async fn the_sweep_cancels_a_command_that_slipped_in_beside_a_quarantine() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "R").await;
        let (dev, _agent) = enroll(&app, &pa, org, site, "r-01").await;
        let cmd = queue_reboot(&pa, dev).await.expect("queue");
        // The quarantine as the race leaves it: set, with this command still waiting.
        app.state
            .db
            .exec(
                breeze_store::Q::new(
                    "UPDATE devices SET status = 'quarantined', quarantined_at = ? WHERE id = ?",
                )
                .bind(chrono::Utc::now())
                .bind(dev),
            )
            .await
            .expect("quarantine behind the handler's back");
        assert_eq!(command(&pa, dev, cmd).await.status, "pending");
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        let c = command(&pa, dev, cmd).await;
        assert_eq!(c.status, "cancelled", "{engine:?}");
        assert!(
            c.error_message
                .as_deref()
                .is_some_and(|m| m.contains("quarantined")),
            "{c:?}"
        );
    }
}

async fn suspend_by_misuse(agent: &BreezeClient, other: DeviceId) {
    let (status, _) = agent
        .raw(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{other}/heartbeat"),
            Some(&heartbeat(&[])),
        )
        .await
        .expect("misuse");
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test]
async fn a_suspended_devices_machine_cannot_enroll_again_until_an_admin_clears_it() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "E").await;
        let (org2, site2) = org_and_site(&pa, "E2").await;
        let fp = "f".repeat(64);
        let (a, agent_a) = try_enroll(&app, &pa, org, site, "e-01", &fp)
            .await
            .expect("enroll");
        let (b, _) = enroll(&app, &pa, org, site, "e-02").await;
        suspend_by_misuse(&agent_a, b).await;

        // Same machine, new key, even into another organization of the partner.
        for (o, s) in [(org, site), (org2, site2)] {
            let e = try_enroll(&app, &pa, o, s, "e-01", &fp)
                .await
                .expect_err("refused");
            assert_eq!(
                code(&e),
                (Some(403), Some("device_suspended")),
                "{engine:?}"
            );
        }
        let rows = audit_actions(&pa, "agent.enroll").await;
        assert!(
            rows.iter().any(|r| r["result"] == "denied"
                && r["details"]["suspended_device_id"] == json!(a)),
            "{rows:?}"
        );

        // Reactivated: the machine may enroll again.
        let _: Device = pa
            .post(&format!("/api/v1/devices/{a}/reactivate"), &json!({}))
            .await
            .expect("reactivate");
        let (c, agent_c) = try_enroll(&app, &pa, org, site, "e-01", &fp)
            .await
            .expect("enroll after reactivation");

        // Suspended again, then decommissioned: enrollment works again too.
        suspend_by_misuse(&agent_c, b).await;
        assert!(try_enroll(&app, &pa, org, site, "e-01", &fp).await.is_err());
        let _: Device = pa
            .delete(&format!("/api/v1/devices/{c}"))
            .await
            .expect("decommission");
        // Device a still holds the fingerprint but is no longer suspended.
        try_enroll(&app, &pa, org, site, "e-01", &fp)
            .await
            .expect("enroll after decommission");
    }
}

#[tokio::test]
async fn enrollment_stops_at_the_device_limit() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "M").await;
        let (org2, site2) = org_and_site(&pa, "M2").await;

        // Organization limit 2: one enrolled, one pending fill it.
        let _: Organization = pa
            .patch(&format!("/api/v1/orgs/{org}"), &json!({"max_devices": 2}))
            .await
            .expect("limit");
        let (first, _) = enroll(&app, &pa, org, site, "m-01").await;
        let _: Value = pa
            .post(
                "/api/v1/devices",
                &json!({"site_id": site, "hostname": "m-02", "os_type": "linux"}),
            )
            .await
            .expect("pending device");
        let e = try_enroll(&app, &pa, org, site, "m-03", &"3".repeat(64))
            .await
            .expect_err("full");
        assert_eq!(
            code(&e),
            (Some(409), Some("device_limit_reached")),
            "{engine:?}"
        );
        let e = pa
            .post::<_, Value>(
                "/api/v1/devices",
                &json!({"site_id": site, "hostname": "m-04", "os_type": "linux"}),
            )
            .await
            .expect_err("full");
        assert_eq!(code(&e), (Some(409), Some("device_limit_reached")));

        // A decommissioned device frees its place.
        let _: Device = pa
            .delete(&format!("/api/v1/devices/{first}"))
            .await
            .expect("decommission");
        try_enroll(&app, &pa, org, site, "m-05", &"5".repeat(64))
            .await
            .expect("a place is free");

        // The partner's limit counts every organization's devices (3 now).
        app.state
            .db
            .exec(breeze_store::Q::new("UPDATE partners SET max_devices = 3"))
            .await
            .expect("partner limit");
        enroll(&app, &pa, org2, site2, "m-06").await;
        let e = try_enroll(&app, &pa, org2, site2, "m-07", &"7".repeat(64))
            .await
            .expect_err("full");
        assert_eq!(code(&e), (Some(409), Some("device_limit_reached")));
    }
}

async fn set_org_status(pa: &BreezeClient, org: OrgId, status: &str) {
    let o: Organization = pa
        .patch(&format!("/api/v1/orgs/{org}"), &json!({"status": status}))
        .await
        .expect("status");
    assert_eq!(o.status, status);
}

async fn org_admin(app: &TestApp, pa: &BreezeClient, org: OrgId, email: &str) -> BreezeClient {
    let inv: Value = pa
        .post(
            "/api/v1/users",
            &json!({"email": email, "name": "Org Admin", "role_id": RoleId(ORG_ADMIN), "org_id": org}),
        )
        .await
        .expect("invite");
    let t = app
        .client
        .accept_invite(inv["invite_token"].as_str().expect("token"), PASSWORD)
        .await
        .expect("accept");
    app.client.with_token(t.access_token)
}

#[tokio::test]
async fn a_suspended_or_churned_organization_is_read_only_and_its_agents_are_refused() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "O").await;
        let (other, other_site) = org_and_site(&pa, "Other").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "o-01").await;
        // Checked in once, so it is online before its organization is suspended.
        beat(&agent, dev, &[]).await;
        let (other_dev, _) = enroll(&app, &pa, other, other_site, "o-02").await;
        let oa = org_admin(&app, &pa, org, "oa@o.test").await;
        let sid = script(&pa, org).await;
        let group: DeviceGroup = pa
            .post(
                "/api/v1/device-groups",
                &json!({"org_id": org, "name": "G"}),
            )
            .await
            .expect("group");

        for status in ["suspended", "churned"] {
            set_org_status(&pa, org, status).await;
            let want = if status == "suspended" {
                "org_suspended"
            } else {
                "org_churned"
            };

            // Agents: 403 with the reason; the device keeps its state.
            let (code_, body) = agent
                .raw(
                    reqwest::Method::POST,
                    &format!("/api/v1/agents/{dev}/heartbeat"),
                    Some(&heartbeat(&[])),
                )
                .await
                .expect("heartbeat");
            assert_eq!(code_.as_u16(), 403, "{engine:?} {body}");
            let body: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(body["error"]["code"], want);
            // Refused, not gone: the offline sweep leaves it as it was too.
            app.state
                .db
                .exec(
                    breeze_store::Q::new("UPDATE devices SET last_seen_at = ? WHERE id = ?")
                        .bind(chrono::Utc::now() - chrono::Duration::hours(1))
                        .bind(dev),
                )
                .await
                .expect("age the device");
            breeze_server::jobs::sweep_once(&app.state)
                .await
                .expect("sweep");
            let d: Device = pa
                .get(&format!("/api/v1/devices/{dev}"))
                .await
                .expect("read");
            assert_eq!(d.status, "online");
            assert!(!d.token_suspended);

            // Users read but do not act: partner staff and the organization's own.
            let _: Page<Device> = oa.get("/api/v1/devices").await.expect("org user reads");
            let _: Organization = oa.get("/api/v1/orgs/current").await.expect("reads org");
            let refusals: Vec<(&str, reqwest::Method, String, Value)> = vec![
                (
                    "device edit",
                    reqwest::Method::PATCH,
                    format!("/api/v1/devices/{dev}"),
                    json!({"display_name": "x"}),
                ),
                (
                    "command",
                    reqwest::Method::POST,
                    format!("/api/v1/devices/{dev}/commands"),
                    json!({"type": "collect_inventory_now"}),
                ),
                (
                    "quarantine",
                    reqwest::Method::POST,
                    format!("/api/v1/devices/{dev}/quarantine"),
                    json!({}),
                ),
                (
                    "script run",
                    reqwest::Method::POST,
                    format!("/api/v1/scripts/{sid}/execute"),
                    json!({"device_ids": [dev]}),
                ),
                (
                    "script edit",
                    reqwest::Method::PATCH,
                    format!("/api/v1/scripts/{sid}"),
                    json!({"name": "y"}),
                ),
                (
                    "site",
                    reqwest::Method::POST,
                    format!("/api/v1/orgs/{org}/sites"),
                    json!({"name": "New"}),
                ),
                (
                    "site edit",
                    reqwest::Method::PATCH,
                    format!("/api/v1/sites/{site}"),
                    json!({"name": "New"}),
                ),
                (
                    "group",
                    reqwest::Method::POST,
                    "/api/v1/device-groups".into(),
                    json!({"org_id": org, "name": "H"}),
                ),
                (
                    "group edit",
                    reqwest::Method::PATCH,
                    format!("/api/v1/device-groups/{}", group.id),
                    json!({"name": "H"}),
                ),
                (
                    "key",
                    reqwest::Method::POST,
                    "/api/v1/enrollment-keys".into(),
                    json!({"org_id": org, "site_id": site, "name": "k"}),
                ),
                (
                    "pending device",
                    reqwest::Method::POST,
                    "/api/v1/devices".into(),
                    json!({"site_id": site, "hostname": "p", "os_type": "linux"}),
                ),
                (
                    "invite",
                    reqwest::Method::POST,
                    "/api/v1/users".into(),
                    json!({"email": "late@n.test", "name": "Late", "role_id": RoleId(ORG_ADMIN), "org_id": org}),
                ),
            ];
            for (who, c) in [("partner admin", &pa), ("org admin", &oa)] {
                for (what, method, path, body) in &refusals {
                    let (st, text) = c.raw(method.clone(), path, Some(body)).await.expect("call");
                    assert_eq!(st.as_u16(), 403, "{engine:?} {status} {who} {what}: {text}");
                    let v: Value = serde_json::from_str(&text).expect("json");
                    assert_eq!(v["error"]["code"], want, "{who} {what}");
                }
            }
            // The organization's own user cannot set the status back.
            let (st, _) = oa
                .raw(
                    reqwest::Method::PATCH,
                    "/api/v1/orgs/current",
                    Some(&json!({"name": "Renamed"})),
                )
                .await
                .expect("call");
            assert_eq!(st.as_u16(), 403);
            let d2: Device = pa
                .get(&format!("/api/v1/devices/{dev}"))
                .await
                .expect("read");
            assert_ne!(d2.display_name.as_deref(), Some("x"), "nothing changed");

            // Other organizations are untouched.
            let _: Data<DeviceCommand> = pa
                .post(
                    &format!("/api/v1/devices/{other_dev}/commands"),
                    &json!({"type": "collect_inventory_now"}),
                )
                .await
                .expect("other org acts");

            // The partner sets it back: everything works again.
            set_org_status(&pa, org, "active").await;
            beat(&agent, dev, &[]).await;
            let _: Device = oa
                .patch(
                    &format!("/api/v1/devices/{dev}"),
                    &json!({"display_name": "ok"}),
                )
                .await
                .expect("writes again");
        }
    }
}

#[tokio::test]
async fn nothing_enrolls_into_a_suspended_organization() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "N").await;
        let key: Value = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "k", "max_uses": 5}),
            )
            .await
            .expect("key");
        set_org_status(&pa, org, "suspended").await;
        let e = app
            .client
            .post::<_, EnrollResponse>(
                "/api/v1/agents/enroll",
                &json!({
                    "protocol_version": 1, "enrollment_key": key["key"], "hostname": "n-01",
                    "os_type": "linux", "os_version": "12", "architecture": "amd64",
                    "agent_version": "0.1.0", "fingerprint": "n".repeat(64),
                    "hardware": {"cpu_model": "Test CPU", "cpu_cores": 2, "ram_total_mb": 4096}
                }),
            )
            .await
            .expect_err("refused");
        assert_eq!(code(&e), (Some(403), Some("org_suspended")), "{engine:?}");
    }
}
