//! A device's running processes and logged-in users (`/devices/{id}/processes`, `/users`):
//! served from the agent's latest snapshot, sorted, searched and paged like other lists,
//! and 404 outside the caller's scope.

use crate::harness::{PASSWORD, TestApp, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::ORG_ADMIN;
use breeze_proto::api::{Invited, ListParams, Organization, Site};
use breeze_proto::ids::DeviceId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Enrolled {
    pub org: Organization,
    pub device: DeviceId,
    pub agent: BreezeClient,
}

/// An organization with a site and one enrolled (scripted) agent.
pub async fn org_with_agent(app: &TestApp, admin: &BreezeClient, name: &str, fp: char) -> Enrolled {
    let org: Organization = admin
        .post("/api/v1/orgs", &json!({"name": name}))
        .await
        .expect("org");
    let site: Site = admin
        .post(
            &format!("/api/v1/orgs/{}/sites", org.id),
            &json!({"name": "HQ"}),
        )
        .await
        .expect("site");
    let key: Value = admin
        .post(
            "/api/v1/enrollment-keys",
            &json!({"org_id": org.id, "site_id": site.id, "name": "k", "max_uses": 5}),
        )
        .await
        .expect("key");
    let enrolled: Value = app
        .client
        .post(
            "/api/v1/agents/enroll",
            &json!({
                "protocol_version": 1, "enrollment_key": key["key"], "hostname": format!("{name}-host"),
                "os_type": "linux", "os_version": "12", "architecture": "amd64",
                "agent_version": "0.1.0", "fingerprint": fp.to_string().repeat(64),
                "hardware": {"cpu_model": "CPU", "cpu_cores": 2, "ram_total_mb": 2048}
            }),
        )
        .await
        .expect("enroll");
    let device: DeviceId = serde_json::from_value(enrolled["agent_id"].clone()).expect("id");
    let agent = app
        .client
        .with_token(enrolled["auth_token"].as_str().expect("token"));
    Enrolled { org, device, agent }
}

fn process(pid: u32, name: &str, user: Option<&str>, cpu: f32, mem: u64) -> Value {
    json!({"pid": pid, "name": name, "user": user, "cpu_percent": cpu, "memory_bytes": mem})
}

fn params(
    sort: Option<&str>,
    q: Option<&str>,
    limit: Option<u32>,
    cursor: Option<String>,
) -> ListParams {
    ListParams {
        limit,
        cursor,
        sort: sort.map(str::to_string),
        q: q.map(str::to_string),
    }
}

#[tokio::test]
async fn processes_and_logged_in_users_are_listed_sorted_and_paged_within_scope() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let one = org_with_agent(&app, &admin, "One", 'a').await;
        let two = org_with_agent(&app, &admin, "Two", 'b').await;
        let e = app.engine;

        // Before the agent sends a snapshot, the lists are empty.
        let empty = admin
            .device_processes(one.device, &ListParams::default())
            .await
            .expect("processes");
        assert!(empty.data.is_empty(), "{e}");

        let (s, body) = one
            .agent
            .raw(
                Method::PUT,
                &format!("/api/v1/agents/{}/inventory", one.device),
                Some(&json!({
                    "processes": [
                        process(1, "systemd", Some("root"), 0.1, 12_000_000),
                        process(812, "postgres", Some("postgres"), 35.5, 400_000_000),
                        process(900, "nginx", Some("www-data"), 2.0, 30_000_000),
                        process(950, "Backup-Agent", None, 80.0, 5_000_000),
                    ],
                    "users": [
                        {"username": "carol", "terminal": "pts/1", "host": "10.0.0.9",
                         "login_time": "2026-01-02T09:00:00Z"},
                        {"username": "alice", "terminal": "tty1", "login_time": "2026-01-01T08:00:00Z"},
                    ],
                    "hashes": {"processes": "p1", "users": "u1"}
                })),
            )
            .await
            .expect("inventory");
        assert_eq!(s, StatusCode::OK, "{e}: {body}");

        // Default: busiest first.
        let all = admin
            .device_processes(one.device, &ListParams::default())
            .await
            .expect("processes");
        let pids: Vec<u32> = all.data.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [950, 812, 900, 1], "{e}");
        assert_eq!(all.data[1].user.as_deref(), Some("postgres"));
        assert_eq!(all.data[1].memory_bytes, 400_000_000);

        let by_mem = admin
            .device_processes(one.device, &params(Some("-memory"), None, None, None))
            .await
            .expect("by memory");
        let pids: Vec<u32> = by_mem.data.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [812, 900, 1, 950], "{e}");

        // Paged: two at a time, then the rest.
        let first = admin
            .device_processes(one.device, &params(Some("pid"), None, Some(2), None))
            .await
            .expect("page 1");
        assert_eq!(
            first.data.iter().map(|p| p.pid).collect::<Vec<_>>(),
            [1, 812]
        );
        let second = admin
            .device_processes(
                one.device,
                &params(Some("pid"), None, Some(2), first.next_cursor.clone()),
            )
            .await
            .expect("page 2");
        assert_eq!(
            second.data.iter().map(|p| p.pid).collect::<Vec<_>>(),
            [900, 950]
        );
        assert!(second.next_cursor.is_none(), "{e}");

        // Search over name and user, case-insensitive.
        let found = admin
            .device_processes(one.device, &params(None, Some("BACKUP"), None, None))
            .await
            .expect("search");
        assert_eq!(found.data.len(), 1, "{e}");
        let found = admin
            .device_processes(one.device, &params(None, Some("www"), None, None))
            .await
            .expect("search by user");
        assert_eq!(found.data.first().map(|p| p.pid), Some(900), "{e}");

        let bad = admin
            .device_processes(one.device, &params(Some("colour"), None, None, None))
            .await
            .expect_err("unknown sort");
        assert_eq!(bad.status(), Some(StatusCode::UNPROCESSABLE_ENTITY), "{e}");
        assert_eq!(bad.field(), Some("sort"), "{e}");

        let users = admin
            .device_users(one.device, &ListParams::default())
            .await
            .expect("users");
        let names: Vec<&str> = users.data.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["alice", "carol"], "{e}");
        assert_eq!(users.data[1].terminal, "pts/1");
        assert_eq!(users.data[1].host.as_deref(), Some("10.0.0.9"));
        let recent = admin
            .device_users(one.device, &params(Some("-login_time"), None, None, None))
            .await
            .expect("users by login");
        assert_eq!(recent.data[0].username, "carol", "{e}");

        // An Org Admin of the other organization: 404 for this device, its own is fine.
        let invited: Invited = admin
            .post(
                "/api/v1/users",
                &json!({"email": "oa2@two.test", "name": "OA2", "role_id": ORG_ADMIN,
                        "org_id": two.org.id}),
            )
            .await
            .expect("invite");
        let t = app
            .client
            .accept_invite(&invited.invite_token, PASSWORD)
            .await
            .expect("accept");
        let other = app.client.with_token(t.access_token);
        for err in [
            other
                .device_processes(one.device, &ListParams::default())
                .await
                .expect_err("foreign processes"),
            other
                .device_users(one.device, &ListParams::default())
                .await
                .expect_err("foreign users"),
            admin
                .device_users(DeviceId::new(), &ListParams::default())
                .await
                .expect_err("unknown device"),
        ] {
            assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{e}: {err}");
        }
        other
            .device_processes(two.device, &ListParams::default())
            .await
            .expect("own org's device");
    }
}
