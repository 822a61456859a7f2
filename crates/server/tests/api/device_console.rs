//! What the console shows of a device (issue 9): whose it is (organization and site
//! names), the OS by its real name, installed software with a total and pages, its
//! history, and quarantine reachable from maintenance. Each within the caller's scope.

use crate::device_snapshots::{Enrolled, org_with_agent};
use crate::events::invite;
use crate::harness::{Engine, TestApp, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::ORG_ADMIN;
use breeze_proto::api::*;
use breeze_proto::ids::{DeviceId, RoleId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Uploads inventory sections as the device's agent.
async fn upload(e: &Enrolled, body: Value) {
    let (s, b) = e
        .agent
        .raw(
            Method::PUT,
            &format!("/api/v1/agents/{}/inventory", e.device),
            Some(&body),
        )
        .await
        .expect("inventory");
    assert_eq!(s, StatusCode::OK, "{b}");
}

fn debian() -> Value {
    json!({
        "os": {"os_type": "linux", "name": "Debian GNU/Linux", "version": "12",
            "build": "12 (bookworm)", "architecture": "amd64", "kernel_version": "6.1.0",
            "hostname": "One-host", "boot_time": null},
        "hashes": {"os": "o1"}
    })
}

/// A server with organizations "One" and "Two", each with a site "HQ" and an agent.
async fn two_orgs(engine: Engine) -> (TestApp, BreezeClient, Enrolled, Enrolled) {
    let app = spawn(engine, |_| {}).await;
    let admin = app.admin().await;
    let one = org_with_agent(&app, &admin, "One", 'a').await;
    let two = org_with_agent(&app, &admin, "Two", 'b').await;
    (app, admin, one, two)
}

async fn devices(c: &BreezeClient, query: &str) -> Vec<Device> {
    let p: Page<Device> = c
        .get(&format!("/api/v1/devices{query}"))
        .await
        .expect("devices");
    p.data
}

#[tokio::test]
async fn devices_carry_their_organization_site_and_os_names_within_scope() {
    for engine in engines() {
        let (app, admin, one, two) = two_orgs(engine).await;
        let e = app.engine;
        upload(&one, debian()).await;

        let all = devices(&admin, "?sort=-org_name").await;
        let names: Vec<(&str, &str)> = all
            .iter()
            .map(|d| (d.org_name.as_str(), d.site_name.as_str()))
            .collect();
        assert_eq!(names, [("Two", "HQ"), ("One", "HQ")], "{e}");
        let d1 = all.iter().find(|d| d.id == one.device).expect("one");
        assert_eq!(d1.os_name.as_deref(), Some("Debian GNU/Linux"), "{e}");
        assert_eq!(d1.os_build.as_deref(), Some("12 (bookworm)"), "{e}");
        // No OS inventory yet: no name, rather than a made-up one.
        let d2 = all.iter().find(|d| d.id == two.device).expect("two");
        assert_eq!(d2.os_name, None, "{e}");
        let got: Device = admin
            .get(&format!("/api/v1/devices/{}", one.device))
            .await
            .expect("device");
        assert_eq!(
            (got.org_name.as_str(), got.os_name.as_deref()),
            ("One", Some("Debian GNU/Linux"))
        );

        // A user of organization One sees only its device, names included; Two's is 404.
        let user = invite(
            &app,
            &admin,
            "oa@one.test",
            RoleId(ORG_ADMIN),
            one.org.id,
            None,
        )
        .await;
        let mine = devices(&user, "").await;
        assert_eq!(mine.len(), 1, "{e}");
        assert_eq!((mine[0].id, mine[0].org_name.as_str()), (one.device, "One"));
        let err = user
            .get::<Device>(&format!("/api/v1/devices/{}", two.device))
            .await
            .expect_err("outside scope");
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{e}");
    }
}

fn package(name: &str) -> Value {
    json!({"name": name, "version": "1.0", "publisher": "Acme", "source": "dpkg"})
}

#[tokio::test]
async fn software_is_paged_with_a_total_and_404_outside_scope() {
    for engine in engines() {
        let (app, admin, one, two) = two_orgs(engine).await;
        let e = app.engine;
        let names = ["bash", "curl", "git", "gzip", "less", "vim", "zsh"];
        upload(
            &one,
            json!({"software": names.iter().map(|n| package(n)).collect::<Vec<_>>(),
                "hashes": {"software": "s1"}}),
        )
        .await;

        let mut seen = Vec::new();
        let mut offsets = Vec::new();
        let mut cursor = None;
        loop {
            let p = admin
                .device_software(
                    one.device,
                    &SoftwareQuery {
                        limit: Some(3),
                        cursor: cursor.take(),
                        q: None,
                    },
                )
                .await
                .expect("software");
            assert_eq!(p.total, 7, "{e}");
            offsets.push(p.offset);
            seen.extend(p.data.into_iter().map(|s| s.name));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(offsets, [0, 3, 6], "{e}");
        assert_eq!(seen, names, "{e}");

        // The total counts what the search matches.
        let found = admin
            .device_software(
                one.device,
                &SoftwareQuery {
                    limit: Some(1),
                    cursor: None,
                    q: Some("Z".into()),
                },
            )
            .await
            .expect("search");
        assert_eq!(
            (found.total, found.data.len(), found.next_cursor.is_some()),
            (2, 1, true),
            "gzip and zsh: {e}"
        );
        let bad = admin
            .device_software(
                one.device,
                &SoftwareQuery {
                    limit: Some(501),
                    cursor: None,
                    q: None,
                },
            )
            .await
            .expect_err("limit");
        assert_eq!(bad.field(), Some("limit"), "{e}");

        let user = invite(
            &app,
            &admin,
            "ob@two.test",
            RoleId(ORG_ADMIN),
            two.org.id,
            None,
        )
        .await;
        let err = user
            .device_software(one.device, &SoftwareQuery::default())
            .await
            .expect_err("outside scope");
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{e}");
    }
}

async fn status_change(c: &BreezeClient, dev: DeviceId, action: &str, reason: &str) -> Device {
    c.post(
        &format!("/api/v1/devices/{dev}/{action}"),
        &json!({"reason": reason}),
    )
    .await
    .unwrap_or_else(|err| panic!("{action}: {err}"))
}

#[tokio::test]
async fn a_device_in_maintenance_can_be_quarantined_and_its_history_keeps_the_reasons() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let one = org_with_agent(&app, &admin, "One", 'a').await;
        let dev = one.device;

        let d = status_change(&admin, dev, "maintenance", "disk swap").await;
        assert_eq!(d.status, "maintenance", "{e}");
        // A security problem found during maintenance must not wait for its end.
        let d = status_change(&admin, dev, "quarantine", "malware found").await;
        assert_eq!(d.status, "quarantined", "{e}");
        assert_eq!(d.quarantined_reason.as_deref(), Some("malware found"));

        // While quarantined: commands and maintenance are refused, naming the device.
        let err = admin
            .post::<_, Device>(&format!("/api/v1/devices/{dev}/maintenance"), &json!({}))
            .await
            .expect_err("maintenance refused");
        assert_eq!(err.code(), Some("device_quarantined"), "{e}");
        let text = err.message().unwrap_or_default();
        assert!(text.contains("\"One-host\""), "{text}");
        assert!(!text.contains(&dev.to_string()), "no raw id: {text}");

        let d = status_change(&admin, dev, "reactivate", "cleaned").await;
        assert_ne!(d.status, "quarantined", "{e}");

        // The history, newest first, a page at a time.
        let first = admin
            .device_events(
                dev,
                &HistoryQuery {
                    limit: Some(2),
                    cursor: None,
                },
            )
            .await
            .expect("events");
        let kinds: Vec<&str> = first.data.iter().map(|v| v.event_type.as_str()).collect();
        assert_eq!(kinds, ["device_reactivated", "quarantined"], "{e}");
        assert_eq!(first.data[1].details["reason"], "malware found");
        assert_eq!(first.data[1].details["previous_status"], "maintenance");
        let next = admin
            .device_events(
                dev,
                &HistoryQuery {
                    limit: Some(2),
                    cursor: first.next_cursor.clone(),
                },
            )
            .await
            .expect("events page 2");
        let kinds: Vec<&str> = next.data.iter().map(|v| v.event_type.as_str()).collect();
        assert_eq!(kinds, ["maintenance", "enrolled"], "{e}");
        assert_eq!(next.data[0].details["reason"], "disk swap");
    }
}
