//! The live event stream (`GET /api/v1/events`) over a real HTTP connection: each
//! subscriber receives exactly the events in its scope; device status transitions,
//! enrollment, inventory, command acknowledgements and results (HTTP and the agent
//! channel) are published; the stream needs a bearer token and ends with its session.
//!
//! Negative checks read up to a *marker* event that the subscriber must see and that
//! was published after the event it must not see: events reach a stream in publishing
//! order, so the marker proves the other event was filtered, not late.

use crate::harness::{PASSWORD, TestApp, engines, spawn};
use breeze_client::{BreezeClient, EventStream};
use breeze_core::roles::{ORG_ADMIN, PARTNER_ADMIN};
use breeze_core::scope::OrgAccess;
use breeze_core::validate::Email;
use breeze_proto::agent::EnrollResponse;
use breeze_proto::api::*;
use breeze_proto::ids::*;
use futures::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// Long enough for a loaded CI machine; a passing test never waits for it.
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads events until one matches `stop`; answers every event read, `stop`'s last.
pub(crate) async fn read_until(
    who: &str,
    s: &mut EventStream,
    stop: impl Fn(&LiveEvent) -> bool,
) -> Vec<LiveEvent> {
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE, s.next())
            .await
            .unwrap_or_else(|_| panic!("{who}: no matching event in {PATIENCE:?}; saw {seen:?}"))
            .unwrap_or_else(|e| panic!("{who}: reading the stream: {e}"));
        let Some(e) = next else {
            panic!("{who}: the stream ended; saw {seen:?}");
        };
        let done = stop(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

pub(crate) async fn open(who: &str, c: &BreezeClient) -> EventStream {
    let mut s = c
        .events()
        .await
        .unwrap_or_else(|e| panic!("{who}: opening the stream: {e}"));
    let first = read_until(who, &mut s, |_| true).await;
    assert_eq!(first, vec![LiveEvent::Hello], "{who}: first event");
    s
}

fn about(e: &LiveEvent) -> Option<DeviceId> {
    match e {
        LiveEvent::DeviceStatus { device_id, .. }
        | LiveEvent::DeviceEnrolled { device_id, .. }
        | LiveEvent::DeviceInventory { device_id, .. }
        | LiveEvent::CommandUpdated { device_id, .. }
        | LiveEvent::ExecutionUpdated { device_id, .. } => Some(*device_id),
        _ => None,
    }
}

fn is_status(e: &LiveEvent, device: DeviceId, want: &str) -> bool {
    matches!(e, LiveEvent::DeviceStatus { device_id, status, .. } if *device_id == device && status == want)
}

pub(crate) async fn org_and_site(admin: &BreezeClient, name: &str) -> (OrgId, SiteId) {
    let org: Organization = admin
        .post("/api/v1/orgs", &json!({"name": name}))
        .await
        .expect("org");
    let site = admin
        .create_site(
            org.id,
            &CreateSite {
                name: format!("{name} HQ"),
                timezone: None,
                address: None,
                contact: None,
                settings: None,
            },
        )
        .await
        .expect("site");
    (org.id, site.id)
}

/// A device enrolled through a site enrollment key; answers its id and agent client.
pub(crate) async fn enroll(
    app: &TestApp,
    admin: &BreezeClient,
    org: OrgId,
    site: SiteId,
    host: &str,
) -> (DeviceId, BreezeClient) {
    let key: Value = admin
        .post(
            "/api/v1/enrollment-keys",
            &json!({"org_id": org, "site_id": site, "name": host, "max_uses": 1}),
        )
        .await
        .expect("enrollment key");
    let fingerprint = format!("{host:-<64}");
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
        .await
        .expect("enroll");
    (e.device_id, app.client.with_token(e.auth_token.expose()))
}

pub(crate) fn heartbeat() -> Value {
    json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
        "status": "ok", "metrics": {"cpu_percent": 1.0, "ram_percent": 2.0}})
}

pub(crate) async fn invite(
    app: &TestApp,
    by: &BreezeClient,
    email: &str,
    role: RoleId,
    org: OrgId,
    groups: Option<Vec<DeviceGroupId>>,
) -> BreezeClient {
    let inv = by
        .invite(&InviteUser {
            email: email.into(),
            name: "User".into(),
            role_id: role,
            org_id: Some(org),
            org_access: None,
            org_ids: None,
            site_ids: None,
            device_group_ids: groups,
        })
        .await
        .unwrap_or_else(|e| panic!("invite {email}: {e}"));
    let t = app
        .client
        .accept_invite(&inv.invite_token, PASSWORD)
        .await
        .expect("accept");
    app.client.with_token(t.access_token)
}

/// A user straight in the store (a platform operator, or a second partner's admin).
pub(crate) async fn store_user(app: &TestApp, email: &str, partner: Option<&str>) -> BreezeClient {
    let now = chrono::Utc::now();
    let hash = app.state.hasher.hash(PASSWORD).expect("hash");
    let email_p = Email::parse("email", email).expect("email");
    let mut tx = app.state.db.begin().await.expect("tx");
    let uid = breeze_store::users::insert(
        &mut tx,
        &breeze_store::users::NewUser {
            email: &email_p,
            name: "Someone",
            password_hash: Some(&hash),
            status: "active",
            is_platform_admin: partner.is_none(),
        },
        now,
    )
    .await
    .expect("user");
    if let Some(name) = partner {
        let pid = breeze_store::partners::insert(
            &mut tx,
            &breeze_store::partners::NewPartner {
                name,
                slug: &name.to_lowercase().replace(' ', "-"),
                partner_type: "msp",
                plan: "unlimited",
                max_organizations: None,
                max_devices: None,
                billing_email: None,
            },
            now,
        )
        .await
        .expect("partner");
        breeze_store::users::add_partner_member(
            &mut tx,
            pid,
            uid,
            RoleId(PARTNER_ADMIN),
            &OrgAccess::All,
            now,
        )
        .await
        .expect("member");
    }
    tx.commit().await.expect("commit");
    app.client.login_as(email, PASSWORD).await.expect("login")
}

async fn static_group(admin: &BreezeClient, org: OrgId, name: &str) -> DeviceGroupId {
    let g: DeviceGroup = admin
        .post(
            "/api/v1/device-groups",
            &json!({"org_id": org, "name": name}),
        )
        .await
        .expect("group");
    g.id
}

async fn add_member(admin: &BreezeClient, group: DeviceGroupId, device: DeviceId) {
    let _: Value = admin
        .post(
            &format!("/api/v1/device-groups/{group}/members"),
            &json!({"device_ids": [device]}),
        )
        .await
        .expect("add member");
}

pub(crate) async fn quarantine(admin: &BreezeClient, device: DeviceId) {
    let d: Device = admin
        .post(
            &format!("/api/v1/devices/{device}/quarantine"),
            &json!({"reason": "test"}),
        )
        .await
        .expect("quarantine");
    assert_eq!(d.status, "quarantined");
}

#[tokio::test]
async fn device_events_reach_exactly_the_subscribers_in_scope() {
    for engine in engines() {
        let e = match engine {
            crate::harness::Engine::Sqlite => "sqlite",
            crate::harness::Engine::Postgres => "postgres",
        };
        let app = spawn(engine, |c| c.auth.max_failures_per_ip = 10_000).await;
        let pa = app.admin().await;
        let (org0, site0) = org_and_site(&pa, "A0").await;
        let (org1, site1) = org_and_site(&pa, "A1").await;
        let g_in = static_group(&pa, org0, "in").await;
        let g_out = static_group(&pa, org0, "out").await;
        let no_devices: Role = pa
            .post(
                "/api/v1/roles",
                &json!({"name": "sites only", "scope": "organization", "org_id": org0,
                    "permissions": ["orgs:read", "sites:read"]}),
            )
            .await
            .expect("role");
        let oa = invite(&app, &pa, "oa@acme.test", RoleId(ORG_ADMIN), org0, None).await;
        let ob = invite(&app, &pa, "ob@acme.test", RoleId(ORG_ADMIN), org1, None).await;
        let og_in = invite(
            &app,
            &pa,
            "gin@acme.test",
            RoleId(ORG_ADMIN),
            org0,
            Some(vec![g_in]),
        )
        .await;
        let og_out = invite(
            &app,
            &pa,
            "gout@acme.test",
            RoleId(ORG_ADMIN),
            org0,
            Some(vec![g_out]),
        )
        .await;
        let blind = invite(&app, &pa, "blind@acme.test", no_devices.id, org0, None).await;
        let pb = store_user(&app, "admin@bolt.test", Some("Bolt MSP")).await;
        let operator = store_user(&app, "op@platform.test", None).await;
        let (org_b, site_b) = org_and_site(&pb, "B0").await;

        // Marker devices, enrolled before any stream opens.
        let (d_org1, _) = enroll(&app, &pa, org1, site1, "a1-marker").await;
        let (d_out, _) = enroll(&app, &pa, org0, site0, "out-marker").await;
        add_member(&pa, g_out, d_out).await;
        let (d_b, _) = enroll(&app, &pb, org_b, site_b, "b-marker").await;

        let mut s_pa = open("partner A admin", &pa).await;
        let mut s_oa = open("org A0 admin", &oa).await;
        let mut s_ob = open("org A1 admin", &ob).await;
        let mut s_gin = open("A0 user of group in", &og_in).await;
        let mut s_gout = open("A0 user of group out", &og_out).await;
        let mut s_blind = open("A0 user without devices:read", &blind).await;
        let mut s_pb = open("partner B admin", &pb).await;
        let mut s_op = open("platform operator", &operator).await;

        // The device under test: enrolled now (enrolled + waiting for its first
        // check-in), then put in group `in` and quarantined.
        let (dev, _agent) = enroll(&app, &pa, org0, site0, "web-01").await;
        add_member(&pa, g_in, dev).await;
        quarantine(&pa, dev).await;
        // Markers, published after everything about `dev`.
        quarantine(&pa, d_org1).await;
        quarantine(&pa, d_out).await;
        quarantine(&pb, d_b).await;

        for (who, s) in [("partner A admin", &mut s_pa), ("org A0 admin", &mut s_oa)] {
            let seen = read_until(who, s, |x| is_status(x, dev, "quarantined")).await;
            assert!(
                seen.iter().any(|x| matches!(x, LiveEvent::DeviceEnrolled { device_id, hostname, .. } if *device_id == dev && hostname == "web-01")),
                "{e}: {who} sees the enrollment: {seen:?}"
            );
            assert!(
                seen.iter().any(|x| is_status(x, dev, "awaiting_checkin")),
                "{e}: {who} sees the device wait for its first check-in: {seen:?}"
            );
        }
        // Partner staff see every organization of theirs.
        read_until("partner A admin", &mut s_pa, |x| {
            is_status(x, d_org1, "quarantined")
        })
        .await;

        // A device-group-limited user sees the device only once it is in the group.
        let seen = read_until("A0 user of group in", &mut s_gin, |x| {
            is_status(x, dev, "quarantined")
        })
        .await;
        assert!(
            seen.iter()
                .all(|x| !matches!(x, LiveEvent::DeviceEnrolled { .. })),
            "{e}: the enrollment happened before the device joined the user's group: {seen:?}"
        );

        for (who, s, marker) in [
            ("org A1 admin", &mut s_ob, d_org1),
            ("A0 user of group out", &mut s_gout, d_out),
            ("partner B admin", &mut s_pb, d_b),
        ] {
            let seen = read_until(who, s, |x| is_status(x, marker, "quarantined")).await;
            assert!(
                seen.iter().all(|x| about(x) == Some(marker)),
                "{e}: {who} must see nothing but its own marker device: {seen:?}"
            );
        }

        // No device event at all for these two; everything above was published long
        // before, on this same process.
        for (who, s) in [
            ("A0 user without devices:read", &mut s_blind),
            ("platform operator", &mut s_op),
        ] {
            let got = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
            assert!(got.is_err(), "{e}: {who} received {got:?}");
        }
    }
}

#[tokio::test]
async fn the_event_stream_needs_a_bearer_access_token() {
    let app = crate::harness::spawn_sqlite().await;
    let admin = app.admin().await;
    let token = admin.token().expect("token").to_string();
    let err = app.client.events().await.err().expect("anonymous");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    let err = app
        .client
        .with_token("bza_not-a-token")
        .events()
        .await
        .err()
        .expect("bad token");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    // Tokens in URLs end up in logs: the query string is not a way in.
    for path in [
        format!("/api/v1/events?access_token={token}"),
        format!("/api/v1/events?token={token}"),
    ] {
        let (status, _) = app
            .client
            .raw(Method::GET, &path, None)
            .await
            .expect("request");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // With the header it opens, as an event stream.
    let http = reqwest::Client::new();
    let resp = http
        .get(app.client.base().join("/api/v1/events").expect("url"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("open");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn command_acks_and_results_publish_command_and_execution_events() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "A0").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "db-01").await;
        let mut s = open("admin", &pa).await;

        // A device command, taken by heartbeat, acknowledged and finished over HTTP.
        let q: Data<DeviceCommand> = pa
            .post(
                &format!("/api/v1/devices/{dev}/commands"),
                &json!({"type": "reboot", "payload": {"delay_secs": 60}}),
            )
            .await
            .expect("queue");
        let cmd = q.data.id;
        let hb: Value = agent
            .post(&format!("/api/v1/agents/{dev}/heartbeat"), &heartbeat())
            .await
            .expect("heartbeat");
        assert_eq!(hb["commands"].as_array().map(Vec::len), Some(1));
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{cmd}/ack"),
                &json!({"command_id": cmd, "status": "running", "started_at": chrono::Utc::now()}),
            )
            .await
            .expect("ack");
        let seen = read_until("admin", &mut s, |x| {
            matches!(x, LiveEvent::CommandUpdated { .. })
        })
        .await;
        assert_eq!(
            seen.last(),
            Some(&LiveEvent::CommandUpdated {
                device_id: dev,
                command_id: cmd,
                status: "running".into()
            })
        );
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{cmd}/result"),
                &json!({"command_id": cmd, "command_type": "reboot", "status": "failed",
                    "exit_code": 1, "stderr": "no", "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("result");
        let seen = read_until("admin", &mut s, |x| {
            matches!(x, LiveEvent::CommandUpdated { .. })
        })
        .await;
        assert_eq!(
            seen.last(),
            Some(&LiveEvent::CommandUpdated {
                device_id: dev,
                command_id: cmd,
                status: "failed".into()
            })
        );

        // A script execution: delivered and acknowledged on the agent channel, its
        // result over HTTP.
        let mut ws = crate::live_output::agent_channel(&app, dev, &agent).await;
        let (exec, run) =
            crate::live_output::run_over_channel(&pa, org, dev, &mut ws, "echo hi").await;
        let ack = serde_json::to_string(&json!({"type": "command_ack", "command_id": run,
            "status": "running", "started_at": chrono::Utc::now()}))
        .expect("json");
        ws.send(tokio_tungstenite::tungstenite::Message::Text(ack.into()))
            .await
            .expect("send ack");
        let running = LiveEvent::ExecutionUpdated {
            device_id: dev,
            execution_id: exec,
            command_id: run,
            status: "running".into(),
        };
        let seen = read_until("admin", &mut s, |x| *x == running).await;
        assert!(
            seen.iter()
                .all(|x| !matches!(x, LiveEvent::CommandUpdated { .. })),
            "a script's command is reported as its execution: {seen:?}"
        );
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{run}/result"),
                &json!({"command_id": run, "command_type": "run_script", "status": "completed",
                    "exit_code": 0, "stdout": "hi\n", "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("result");
        let done = LiveEvent::ExecutionUpdated {
            device_id: dev,
            execution_id: exec,
            command_id: run,
            status: "completed".into(),
        };
        read_until("admin", &mut s, |x| *x == done).await;
        let ex: ScriptExecution = pa
            .get(&format!("/api/v1/script-executions/{exec}"))
            .await
            .expect("execution");
        assert_eq!(ex.status, "completed", "the event followed the commit");
    }
}

#[tokio::test]
async fn status_is_published_on_transitions_not_on_every_heartbeat() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "A0").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "app-01").await;
        let hb = format!("/api/v1/agents/{dev}/heartbeat");
        // The first check-in makes it online; the stream opens after that.
        let _: Value = agent.post(&hb, &heartbeat()).await.expect("heartbeat");
        let mut s = open("admin", &pa).await;

        // Silent for longer than the offline threshold: the sweep marks it offline.
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
        let seen = read_until("admin", &mut s, |x| is_status(x, dev, "offline")).await;
        assert_eq!(seen.len(), 1, "{seen:?}");

        // The next heartbeat brings it back; the ones after it are no news.
        for _ in 0..3 {
            let _: Value = agent.post(&hb, &heartbeat()).await.expect("heartbeat");
        }
        let (status, body) = agent
            .raw(
                Method::PUT,
                &format!("/api/v1/agents/{dev}/inventory"),
                Some(&json!({"collected_at": chrono::Utc::now(),
                    "disks": [{"mount_point": "/", "filesystem": "ext4", "device": "/dev/sda1",
                        "total_bytes": 10_000_000_000u64, "used_bytes": 1_000_000_000u64, "removable": false}],
                    "hashes": {"disks": "h1"}})),
            )
            .await
            .expect("inventory");
        assert_eq!(status, StatusCode::OK, "{body}");
        let seen = read_until("admin", &mut s, |x| {
            matches!(x, LiveEvent::DeviceInventory { .. })
        })
        .await;
        assert_eq!(
            seen,
            vec![
                LiveEvent::DeviceStatus {
                    device_id: dev,
                    org_id: org,
                    site_id: site,
                    status: "online".into()
                },
                LiveEvent::DeviceInventory {
                    device_id: dev,
                    org_id: org,
                    site_id: site,
                    sections: vec!["disks".into()]
                },
            ]
        );
    }
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_to_resync() {
    let app = crate::harness::spawn_sqlite().await;
    let pa = app.admin().await;
    let (org, site) = org_and_site(&pa, "A0").await;
    let (dev, _agent) = enroll(&app, &pa, org, site, "lag-01").await;
    let partner = pa.me().await.expect("me").partner_id.expect("partner");
    let mut s = open("admin", &pa).await;
    let at = breeze_core::DeviceCoords {
        partner_id: partner,
        org_id: org,
        site_id: site,
        device_id: dev,
    };
    // Published without yielding: the test runtime is single-threaded, so the stream
    // cannot read any of them before the bus overflows.
    for _ in 0..breeze_server::events::CAPACITY + 10 {
        app.state
            .events
            .publish(at, &breeze_server::events::device_status(&at, "online"));
    }
    let seen = read_until("admin", &mut s, |x| *x == LiveEvent::Resync).await;
    assert_eq!(seen, vec![LiveEvent::Resync]);
}

#[tokio::test]
async fn the_stream_ends_when_its_session_is_revoked_or_its_token_expires() {
    // Revoked: logout is noticed by the periodic re-check.
    let app = spawn(crate::harness::Engine::Sqlite, |c| {
        c.auth.stream_recheck_secs = 1
    })
    .await;
    let admin = app.admin().await;
    let mut s = open("admin", &admin).await;
    admin.logout().await.expect("logout");
    let end = tokio::time::timeout(PATIENCE, s.next())
        .await
        .expect("the stream ends in time")
        .expect("clean end");
    assert_eq!(end, None);

    // Expired: the stream ends with its access token, re-check or not.
    let app = spawn(crate::harness::Engine::Sqlite, |c| {
        c.auth.access_ttl_secs = 2;
        c.auth.stream_recheck_secs = 3600;
    })
    .await;
    let admin = app.admin().await;
    let mut s = open("admin", &admin).await;
    let end = tokio::time::timeout(PATIENCE, s.next())
        .await
        .expect("the stream ends in time")
        .expect("clean end");
    assert_eq!(end, None);
}
