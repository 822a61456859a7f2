//! API tests against the in-process server (`App::build` on port 0): tenant isolation
//! of devices, scripts and enrollment keys; the agent protocol with a scripted agent;
//! jobs driven by a fixed clock; input errors naming the field.

use crate::support::{self, Api, PASSWORD, eventually};
use anyhow::{Context, Result};
use breeze_core::roles::{ORG_ADMIN, PARTNER_ADMIN};
use breeze_core::scope::OrgAccess;
use breeze_core::validate::Email;
use breeze_proto::agent::{SignedCommand, verify_command, verifying_key_from_base64};
use breeze_proto::ids::{DeviceId, RoleId};
use breeze_store::{partners, users};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn enroll_body(key: &str, host: &str, fp: char) -> Value {
    json!({
        "protocol_version": 1, "enrollment_key": key, "hostname": host, "os_type": "linux",
        "os_version": "12.4", "architecture": "amd64", "agent_version": "0.1.0",
        "fingerprint": fp.to_string().repeat(64),
        "hardware": {"cpu_model": "Test CPU", "cpu_cores": 4, "ram_total_mb": 16000}
    })
}

fn heartbeat_body(confirm: bool) -> Value {
    json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
        "status": "ok", "metrics": {"cpu_percent": 12.5, "ram_percent": 40.0},
        "confirm_token_rotation": confirm})
}

/// A scripted agent: id, token, signing key.
struct FakeAgent {
    id: String,
    api: Api,
    public_key: String,
}

async fn enroll(base: &str, key: &str, host: &str, fp: char) -> Result<FakeAgent> {
    let (s, v) = Api::new(base)
        .post("/api/v1/agents/enroll", enroll_body(key, host, fp))
        .await?;
    anyhow::ensure!(s == StatusCode::CREATED, "enroll: {s} {v}");
    Ok(FakeAgent {
        id: v["agent_id"].as_str().context("agent id")?.to_string(),
        api: Api::new(base).with_token(v["auth_token"].as_str().context("token")?),
        public_key: v["signing_public_key"].as_str().context("key")?.to_string(),
    })
}

/// Creates partner B and its admin directly in the store (as `breeze admin create` does).
async fn second_partner(server: &support::TestServer, email: &str) -> Result<Api> {
    let db = &server.state.db;
    let now = chrono::Utc::now();
    let hash =
        breeze_server::auth::password::Hasher::new(&server.state.config.auth)?.hash(PASSWORD)?;
    let email_p = Email::parse("email", email).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut tx = db.begin().await?;
    let uid = users::insert(
        &mut tx,
        &users::NewUser {
            email: &email_p,
            name: "Admin B",
            password_hash: Some(&hash),
            status: "active",
            is_platform_admin: false,
        },
        now,
    )
    .await?;
    let pid = partners::insert(
        &mut tx,
        &partners::NewPartner {
            name: "Partner B",
            slug: "partner-b",
            partner_type: "msp",
            plan: "unlimited",
            max_organizations: None,
            max_devices: None,
            billing_email: None,
        },
        now,
    )
    .await?;
    users::add_partner_member(
        &mut tx,
        pid,
        uid,
        RoleId(PARTNER_ADMIN),
        &OrgAccess::All,
        now,
    )
    .await?;
    tx.commit().await?;
    support::login(&server.url, email, PASSWORD).await
}

#[tokio::test]
async fn a_device_of_partner_a_is_404_for_partner_b_and_for_another_orgs_user() -> Result<()> {
    let server = support::start(false, |_| {}).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org1, site1) = support::org_and_site(&a, "Org One").await?;
    let (key_id, key) = support::enrollment_key(&a, &org1, &site1).await?;
    let agent = enroll(&server.url, &key, "web-01", 'a').await?;
    let dev = agent.id.clone();
    let script = a
        .ok(
            reqwest::Method::POST,
            "/api/v1/scripts",
            Some(json!({"org_id": org1, "name": "hello",
            "language": "bash", "os_types": ["linux"], "content": "echo hi"})),
        )
        .await?;
    let script_id = script["id"].as_str().context("script id")?.to_string();
    let exec = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/scripts/{script_id}/execute"),
            Some(json!({"device_ids": [dev]})),
        )
        .await?;
    let exec_id = exec["data"][0]["id"]
        .as_str()
        .context("execution id")?
        .to_string();
    assert_eq!(exec["data"][0]["status"], "pending");
    assert_eq!(exec["data"][0]["device_id"], dev.as_str());
    // Partner A sees its device.
    let (s, v) = a.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["hostname"], "web-01");
    assert_eq!(v["trust_level"], "medium");

    let b = second_partner(&server, "b@example.com").await?;
    for path in [
        format!("/api/v1/devices/{dev}"),
        format!("/api/v1/devices/{dev}/hardware"),
        format!("/api/v1/devices/{dev}/software"),
        format!("/api/v1/devices/{dev}/metrics"),
        format!("/api/v1/devices/{dev}/commands"),
        format!("/api/v1/devices/{dev}/events"),
        format!("/api/v1/scripts/{script_id}"),
        format!("/api/v1/script-executions/{exec_id}"),
    ] {
        let (s, _) = b.get(&path).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "partner B reading {path}");
    }
    let (_, list) = b.get("/api/v1/devices").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    let (_, keys) = b.get("/api/v1/enrollment-keys").await?;
    assert_eq!(keys["data"].as_array().map(Vec::len), Some(0));
    let (_, execs) = b.get("/api/v1/script-executions").await?;
    assert_eq!(execs["data"].as_array().map(Vec::len), Some(0));
    let writes = [
        b.patch(
            &format!("/api/v1/devices/{dev}"),
            json!({"display_name": "mine"}),
        )
        .await?
        .0,
        b.post(
            &format!("/api/v1/devices/{dev}/commands"),
            json!({"type": "collect_inventory_now"}),
        )
        .await?
        .0,
        b.post(&format!("/api/v1/devices/{dev}/quarantine"), json!({}))
            .await?
            .0,
        b.delete(&format!("/api/v1/devices/{dev}")).await?.0,
        b.delete(&format!("/api/v1/enrollment-keys/{key_id}"))
            .await?
            .0,
        b.post(
            &format!("/api/v1/scripts/{script_id}/execute"),
            json!({"device_ids": [dev]}),
        )
        .await?
        .0,
    ];
    assert!(
        writes.iter().all(|s| *s == StatusCode::NOT_FOUND),
        "{writes:?}"
    );
    // B's own script cannot target A's device either.
    let bs = b
        .ok(
            reqwest::Method::POST,
            "/api/v1/scripts",
            Some(json!({"name": "b", "language": "sh",
            "os_types": ["linux"], "content": "true"})),
        )
        .await?;
    let (s, v) = b
        .post(
            &format!(
                "/api/v1/scripts/{}/execute",
                bs["id"].as_str().unwrap_or_default()
            ),
            json!({"device_ids": [dev]}),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "device_ids");

    // A user of another organization of the same partner.
    let (org2, _site2) = support::org_and_site(&a, "Org Two").await?;
    let inv = a
        .ok(
            reqwest::Method::POST,
            "/api/v1/users",
            Some(json!({"email": "o2@example.com", "name": "Org Two Admin",
            "role_id": RoleId(ORG_ADMIN), "org_id": org2})),
        )
        .await?;
    Api::new(&server.url)
        .ok(
            reqwest::Method::POST,
            "/api/v1/auth/accept-invite",
            Some(json!({
            "token": inv["invite_token"], "password": PASSWORD})),
        )
        .await?;
    let o2 = support::login(&server.url, "o2@example.com", PASSWORD).await?;
    let (s, _) = o2.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = o2
        .get(&format!("/api/v1/script-executions/{exec_id}"))
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = o2.get("/api/v1/devices").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    Ok(())
}

#[tokio::test]
async fn agent_protocol_signed_commands_results_dedupe_rotation_and_decommission() -> Result<()> {
    let server = support::start(false, |c| c.agents.token_rotation_secs = 60).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let (_, key) = support::enrollment_key(&a, &org, &site).await?;
    let agent = enroll(&server.url, &key, "db-01", 'b').await?;
    let dev = agent.id.clone();
    let device_id: DeviceId = dev.parse()?;
    let hb = format!("/api/v1/agents/{dev}/heartbeat");

    // A queued command comes back signed, for this device, and verifies.
    let q = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{dev}/commands"),
            Some(json!({"type": "reboot", "payload": {"delay_secs": 120}})),
        )
        .await?;
    let cmd_id = q["data"]["id"].as_str().context("command id")?.to_string();
    let (s, v) = agent.api.post(&hb, heartbeat_body(false)).await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cmds: Vec<SignedCommand> = serde_json::from_value(v["commands"].clone())?;
    assert_eq!(cmds.len(), 1);
    let key = verifying_key_from_base64(&agent.public_key)?;
    let env = verify_command(&key, &cmds[0], device_id, chrono::Utc::now())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(env.id.to_string(), cmd_id);
    assert_eq!(env.command_type, "reboot");
    let (_, again) = agent.api.post(&hb, heartbeat_body(false)).await?;
    assert_eq!(
        again["commands"].as_array().map(Vec::len),
        Some(0),
        "sent once"
    );

    // Result: first one wins, a retry is 409, and the command shows it.
    let result = json!({"command_id": cmd_id, "command_type": "reboot", "status": "completed",
        "exit_code": 0, "stdout": "reboot scheduled", "completed_at": chrono::Utc::now()});
    let path = format!("/api/v1/agents/{dev}/commands/{cmd_id}/result");
    assert_eq!(
        agent.api.post(&path, result.clone()).await?.0,
        StatusCode::OK
    );
    assert_eq!(agent.api.post(&path, result).await?.0, StatusCode::CONFLICT);
    let (_, hist) = a.get(&format!("/api/v1/devices/{dev}/commands")).await?;
    assert_eq!(hist["data"][0]["status"], "completed");
    assert_eq!(hist["data"][0]["stdout"], "reboot scheduled");

    // A rejected command is visible with its reason.
    let q = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{dev}/commands"),
            Some(json!({"type": "collect_inventory_now"})),
        )
        .await?;
    let c2 = q["data"]["id"].as_str().context("id")?.to_string();
    agent.api.post(&hb, heartbeat_body(false)).await?;
    let (s, _) = agent
        .api
        .post(&format!("/api/v1/agents/{dev}/commands/{c2}/result"), json!({"command_id": c2,
            "command_type": "collect_inventory_now", "status": "rejected", "rejection": "bad_signature",
            "error_message": "bad signature", "completed_at": chrono::Utc::now()}))
        .await?;
    assert_eq!(s, StatusCode::OK);
    let (_, hist) = a.get(&format!("/api/v1/devices/{dev}/commands")).await?;
    assert_eq!(hist["data"][0]["status"], "rejected");
    assert_eq!(hist["data"][0]["rejection"], "bad_signature");
    let (_, ev) = a.get(&format!("/api/v1/devices/{dev}/events")).await?;
    assert!(
        ev["data"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["event_type"] == "command_rejected"))
    );

    // Two-phase rotation: old token works until the new one is confirmed.
    let (_, v) = agent.api.post(&hb, heartbeat_body(false)).await?;
    assert!(v["rotate_token"].is_null(), "not due yet");
    server
        .state
        .db
        .exec(
            breeze_store::Q::new("UPDATE devices SET agent_token_issued_at = ? WHERE id = ?")
                .bind(chrono::Utc::now() - chrono::Duration::hours(1))
                .bind(device_id),
        )
        .await?;
    let (_, v) = agent.api.post(&hb, heartbeat_body(false)).await?;
    let new_token = v["rotate_token"]
        .as_str()
        .context("rotation due")?
        .to_string();
    let fresh = agent.api.with_token(&new_token);
    let inv = format!("/api/v1/agents/{dev}/inventory");
    assert_eq!(
        fresh.put(&inv, json!({})).await?.0,
        StatusCode::UNAUTHORIZED,
        "unconfirmed token"
    );
    assert_eq!(
        agent.api.put(&inv, json!({})).await?.0,
        StatusCode::OK,
        "old token still good"
    );
    let (s, v) = fresh.post(&hb, heartbeat_body(true)).await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        agent.api.post(&hb, heartbeat_body(false)).await?.0,
        StatusCode::UNAUTHORIZED,
        "old token revoked"
    );
    assert_eq!(fresh.put(&inv, json!({})).await?.0, StatusCode::OK);

    // Decommission: the heartbeat answers 410.
    a.ok(
        reqwest::Method::DELETE,
        &format!("/api/v1/devices/{dev}"),
        None,
    )
    .await?;
    assert_eq!(
        fresh.post(&hb, heartbeat_body(false)).await?.0,
        StatusCode::GONE
    );
    Ok(())
}

#[tokio::test]
async fn agent_token_on_another_device_is_404_suspended_and_audited() -> Result<()> {
    let server = support::start(false, |_| {}).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let (_, key) = support::enrollment_key(&a, &org, &site).await?;
    let one = enroll(&server.url, &key, "one", 'c').await?;
    let two = enroll(&server.url, &key, "two", 'd').await?;
    // `one` checks in once (it is online, seen moments ago) before it misbehaves.
    let own_hb = format!("/api/v1/agents/{}/heartbeat", one.id);
    assert_eq!(
        one.api.post(&own_hb, heartbeat_body(false)).await?.0,
        StatusCode::OK
    );
    let (s, _) = one
        .api
        .post(
            &format!("/api/v1/agents/{}/heartbeat", two.id),
            heartbeat_body(false),
        )
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = one
        .api
        .post(
            &format!("/api/v1/agents/{}/heartbeat", one.id),
            heartbeat_body(false),
        )
        .await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the token is suspended");
    let (_, d) = a.get(&format!("/api/v1/devices/{}", one.id)).await?;
    assert_eq!(d["token_suspended"], true);
    let (_, log) = a
        .get("/api/v1/audit/logs?action=agent.token.suspended")
        .await?;
    assert_eq!(log["data"].as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!(
        two.api
            .post(
                &format!("/api/v1/agents/{}/heartbeat", two.id),
                heartbeat_body(false)
            )
            .await?
            .0,
        StatusCode::OK
    );
    // Reactivation lifts the suspension; the device was seen moments ago, so it is
    // online again at once rather than offline until its next heartbeat.
    let back = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{}/reactivate", one.id),
            Some(json!({})),
        )
        .await?;
    assert_eq!(back["status"], "online", "{back}");
    assert_eq!(
        one.api
            .post(
                &format!("/api/v1/agents/{}/heartbeat", one.id),
                heartbeat_body(false)
            )
            .await?
            .0,
        StatusCode::OK
    );
    Ok(())
}

#[tokio::test]
async fn enrollment_keys_expire_run_out_and_device_tokens_work_once() -> Result<()> {
    let server = support::start(false, |_| {}).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let k = a
        .ok(
            reqwest::Method::POST,
            "/api/v1/enrollment-keys",
            Some(json!({"org_id": org, "site_id": site,
            "name": "one use", "max_uses": 1, "expires_in_hours": 1})),
        )
        .await?;
    let secret = k["key"].as_str().context("key")?;
    assert_eq!(
        k["install_command"],
        format!(
            "breeze-agent enroll --server {} --key {secret}",
            server.state.config.public_url()
        )
    );
    let anon = Api::new(&server.url);
    assert_eq!(
        anon.post("/api/v1/agents/enroll", enroll_body(secret, "h1", 'e'))
            .await?
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        anon.post("/api/v1/agents/enroll", enroll_body(secret, "h2", 'f'))
            .await?
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = a.get("/api/v1/enrollment-keys").await?;
    assert_eq!(list["data"][0]["uses"], 1);
    assert!(
        list["data"][0].get("key").is_none(),
        "the secret is shown once"
    );

    let p = a
        .ok(
            reqwest::Method::POST,
            "/api/v1/devices",
            Some(json!({"site_id": site, "hostname": "pre-made", "os_type": "linux"})),
        )
        .await?;
    assert_eq!(p["device"]["status"], "pending");
    let token = p["enrollment_token"].as_str().context("token")?;
    let mut body = enroll_body("x", "pre-made", '1');
    if let Some(o) = body.as_object_mut() {
        o.remove("enrollment_key");
        o.insert("enrollment_token".into(), json!(token));
    }
    let (s, v) = anon.post("/api/v1/agents/enroll", body.clone()).await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["device_id"], p["device"]["id"]);
    assert_eq!(
        anon.post("/api/v1/agents/enroll", body).await?.0,
        StatusCode::UNAUTHORIZED,
        "single use"
    );
    let (_, d) = a
        .get(&format!(
            "/api/v1/devices/{}",
            v["device_id"].as_str().unwrap_or_default()
        ))
        .await?;
    // Enrolled; online only once its agent checks in.
    assert_eq!(d["status"], "awaiting_checkin");
    // Both or neither credential: 400 naming the field.
    let (s, v) = anon.post("/api/v1/agents/enroll", json!({"protocol_version": 1, "hostname": "x", "os_type": "linux",
        "os_version": "1", "architecture": "amd64", "agent_version": "1", "fingerprint": "", "hardware": {}})).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "enrollment_key");
    Ok(())
}

#[tokio::test]
async fn bad_input_answers_4xx_naming_the_field() -> Result<()> {
    let server = support::start(false, |_| {}).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let (_, key) = support::enrollment_key(&a, &org, &site).await?;
    let agent = enroll(&server.url, &key, "h", 'a').await?;
    let cases: Vec<(reqwest::Method, String, Value, &str)> = vec![
        (
            reqwest::Method::POST,
            "/api/v1/enrollment-keys".into(),
            json!({"org_id": org, "site_id": site, "name": "k", "expires_in_hours": 0}),
            "expires_in_hours",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/scripts".into(),
            json!({"org_id": org, "name": "s", "language": "cobol", "os_types": ["linux"], "content": "x"}),
            "language",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/scripts".into(),
            json!({"org_id": org, "name": "s", "language": "bash", "os_types": ["linux"], "content": "x", "parameters": [{"name": "n", "type": "date"}]}),
            "parameters",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/devices/{}/commands", agent.id),
            json!({"type": "format_disk"}),
            "type",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/devices/{}", agent.id),
            json!({"tags": ["ok", ""]}),
            "tags",
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/devices/{}/metrics?resolution=7m", agent.id),
            Value::Null,
            "resolution",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/devices?status=melting".into(),
            Value::Null,
            "status",
        ),
    ];
    for (m, path, body, field) in cases {
        let b = (!body.is_null()).then_some(body);
        let (s, v) = a.call(m, &path, b).await?;
        assert!(s.is_client_error(), "{path}: {s} {v}");
        assert_eq!(v["error"]["field"], field, "{path}: {v}");
    }
    let s = a
        .ok(reqwest::Method::POST, "/api/v1/scripts", Some(json!({"org_id": org, "name": "p", "language": "bash",
            "os_types": ["linux"], "content": "echo $N", "parameters": [{"name": "n", "type": "number", "required": true}]})))
        .await?;
    let (st, v) = a
        .post(
            &format!(
                "/api/v1/scripts/{}/execute",
                s["id"].as_str().unwrap_or_default()
            ),
            json!({"device_ids": [agent.id], "parameters": {"n": "many"}}),
        )
        .await?;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "parameters.n");
    let (st, _) = a.get("/api/v1/devices/not-a-uuid").await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn dynamic_groups_evaluate_rules_and_scripts_edit_into_versions() -> Result<()> {
    let server = support::start(false, |_| {}).await?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let (_, key) = support::enrollment_key(&a, &org, &site).await?;
    let big = enroll(&server.url, &key, "big", 'a').await?;
    let anon = Api::new(&server.url);
    let mut small = enroll_body(&key, "small", 'b');
    small["hardware"]["ram_total_mb"] = json!(4096);
    anon.ok(reqwest::Method::POST, "/api/v1/agents/enroll", Some(small))
        .await?;
    let g = a
        .ok(reqwest::Method::POST, "/api/v1/device-groups", Some(json!({"org_id": org, "name": "big linux", "type": "dynamic",
            "rules": {"all": [{"field": "os_type", "op": "eq", "value": "linux"}, {"field": "ram_total_mb", "op": "gt", "value": 8000}]}})))
        .await?;
    let gid = g["id"].as_str().context("group id")?;
    let (_, m) = a
        .get(&format!("/api/v1/device-groups/{gid}/members"))
        .await?;
    assert_eq!(m["device_ids"], json!([big.id]));
    let (_, l) = a.get(&format!("/api/v1/devices?group_id={gid}")).await?;
    assert_eq!(l["data"].as_array().map(Vec::len), Some(1));
    let (s, v) = a
        .post(
            "/api/v1/device-groups",
            json!({"org_id": org, "name": "bad", "type": "dynamic",
            "rules": {"all": [{"field": "shoe_size", "op": "eq", "value": 1}]}}),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let s = a
        .ok(
            reqwest::Method::POST,
            "/api/v1/scripts",
            Some(json!({"org_id": org, "name": "v", "language": "bash",
            "os_types": ["linux"], "content": "echo 1"})),
        )
        .await?;
    let sid = s["id"].as_str().context("id")?;
    let s2 = a
        .ok(
            reqwest::Method::PATCH,
            &format!("/api/v1/scripts/{sid}"),
            Some(json!({"name": "renamed"})),
        )
        .await?;
    assert_eq!(s2["version"], 1, "a rename is not a new version");
    let s3 = a
        .ok(
            reqwest::Method::PATCH,
            &format!("/api/v1/scripts/{sid}"),
            Some(json!({"content": "echo 2"})),
        )
        .await?;
    assert_eq!(s3["version"], 2);
    let e = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/scripts/{sid}/execute"),
            Some(json!({"group_ids": [gid]})),
        )
        .await?;
    let eid = e["data"][0]["id"].as_str().context("execution")?;
    let (_, ex) = a.get(&format!("/api/v1/script-executions/{eid}")).await?;
    assert_eq!(ex["script_version"], 2);
    let (_, listed) = a
        .get(&format!(
            "/api/v1/script-executions?script_id={sid}&status=pending"
        ))
        .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn sweeps_mark_devices_offline_expire_commands_and_roll_up_metrics() -> Result<()> {
    let server = support::start(true, |c| c.agents.sweep_interval_secs = 3600).await?;
    let clock = server.clock.clone().context("fixed clock")?;
    let a = support::setup(&server.url, server._dir.path(), "a@example.com").await?;
    let (org, site) = support::org_and_site(&a, "Org").await?;
    let (_, key) = support::enrollment_key(&a, &org, &site).await?;
    let agent = enroll(&server.url, &key, "h", 'a').await?;
    let dev = agent.id.clone();
    agent
        .api
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{dev}/heartbeat"),
            Some(heartbeat_body(false)),
        )
        .await?;
    let q = a
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/devices/{dev}/commands"),
            Some(json!({"type": "collect_inventory_now", "expires_in_secs": 10})),
        )
        .await?;
    server.state.metrics_buffer.flush(&server.state).await;
    clock.advance(chrono::Duration::seconds(5 * 3 + 6));
    breeze_server::jobs::sweep_once(&server.state).await?;
    let (_, d) = a.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(d["status"], "offline");
    let (_, hist) = a.get(&format!("/api/v1/devices/{dev}/commands")).await?;
    assert_eq!(hist["data"][0]["id"], q["data"]["id"]);
    assert_eq!(hist["data"][0]["status"], "expired");
    let (_, ev) = a.get(&format!("/api/v1/devices/{dev}/events")).await?;
    assert!(
        ev["data"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["event_type"] == "offline"))
    );
    // A heartbeat brings it back; the raw sample rolls up into 5-minute points.
    agent
        .api
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{dev}/heartbeat"),
            Some(heartbeat_body(false)),
        )
        .await?;
    let (_, d) = a.get(&format!("/api/v1/devices/{dev}")).await?;
    assert_eq!(d["status"], "online");
    server.state.metrics_buffer.flush(&server.state).await;
    // The buckets the rollup job has not written yet are computed from the raw samples, so
    // a device enrolled moments ago has points at every resolution; once the job has run,
    // the same samples are counted once, not twice.
    let samples_at = |res: &'static str| {
        let a = a.clone();
        let dev = dev.clone();
        async move {
            let (_, m) = a
                .get(&format!(
                    "/api/v1/devices/{dev}/metrics?resolution={res}&from=2000-01-01T00:00:00Z"
                ))
                .await?;
            anyhow::Ok(
                m["data"]
                    .as_array()
                    .map(|l| l.iter().filter_map(|p| p["samples"].as_i64()).sum::<i64>())
                    .unwrap_or_default(),
            )
        }
    };
    assert_eq!(samples_at("5m").await?, 2, "5m before the rollup");
    assert_eq!(samples_at("1h").await?, 2, "1h before the rollup");
    clock.advance(chrono::Duration::minutes(12));
    breeze_server::jobs::sweep_once(&server.state).await?;
    assert_eq!(samples_at("5m").await?, 2, "5m after the rollup");
    assert_eq!(samples_at("1h").await?, 2, "1h after the rollup");
    let m = eventually(5, "5m rollup", || {
        let a = a.clone();
        let dev = dev.clone();
        async move {
            let (_, m) = a
                .get(&format!(
                    "/api/v1/devices/{dev}/metrics?resolution=5m&from=2000-01-01T00:00:00Z"
                ))
                .await?;
            Ok(m["data"].as_array().filter(|l| !l.is_empty()).cloned())
        }
    })
    .await?;
    assert!((m[0]["cpu_percent"].as_f64().unwrap_or_default() - 12.5).abs() < 1e-9);
    let (_, raw) = a
        .get(&format!(
            "/api/v1/devices/{dev}/metrics?from=2000-01-01T00:00:00Z"
        ))
        .await?;
    assert_eq!(raw["data"].as_array().map(Vec::len), Some(2));
    Ok(())
}
