//! Enrollment keys under concurrent enrollment (issue 14): a limited key's uses are
//! reserved in batches before the enrollment transactions (which do not touch the key's
//! row), and `max_uses` still holds exactly: of many agents enrolling at once with a
//! three-use key, three get in, the others are refused and leave nothing behind. A use
//! whose enrollment is refused is given back. An unlimited key takes no lock: its uses
//! are counted in batches, and all of them arrive.

use crate::device_state::org_and_site;
use crate::harness::{TestApp, engines, spawn};
use breeze_proto::api::{Device, Page};
use breeze_proto::ids::{OrgId, SiteId};
use serde_json::{Value, json};

/// An agent's enrollment request with `key` for the machine `host` (its fingerprint too).
fn enroll_body(key: &Value, host: &str, fingerprint: &str) -> Value {
    json!({
        "protocol_version": 1, "enrollment_key": key["key"], "hostname": host,
        "os_type": "linux", "os_version": "12", "architecture": "amd64",
        "agent_version": "0.1.0", "fingerprint": format!("{fingerprint:-<64}"),
        "hardware": {"cpu_model": "Test CPU", "cpu_cores": 2, "ram_total_mb": 4096}
    })
}

/// `n` agents enrolling with `key` at once (hosts `<host>-<i>`): their answers' statuses.
async fn enroll_at_once(app: &TestApp, key: &Value, host: &str, n: usize) -> Vec<u16> {
    let attempts = (0..n).map(|i| {
        let client = app.client.clone();
        let body = enroll_body(key, &format!("{host}-{i}"), &format!("{host}{i}"));
        async move {
            client
                .raw(reqwest::Method::POST, "/api/v1/agents/enroll", Some(&body))
                .await
                .expect("enroll")
                .0
                .as_u16()
        }
    });
    futures::future::join_all(attempts).await
}

#[tokio::test]
async fn concurrent_enrollments_take_exactly_max_uses() {
    for engine in engines() {
        // Room for every attempt at once: this tests the store, not load shedding.
        let app = spawn(engine, |c| c.server.max_in_flight_login = Some(64)).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "K0").await;
        let key: Value = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "three", "max_uses": 3}),
            )
            .await
            .expect("key");
        let mut codes = enroll_at_once(&app, &key, "race", 12).await;
        codes.sort_unstable();
        assert_eq!(
            codes,
            [[201; 3].as_slice(), &[401; 9]].concat(),
            "{engine:?}"
        );
        let keys: Value = pa
            .get(&format!("/api/v1/enrollment-keys?org_id={org}"))
            .await
            .expect("keys");
        assert_eq!(keys["data"][0]["uses"], 3, "{engine:?}");
        let devices: Page<Device> = pa
            .get(&format!("/api/v1/devices?org_id={org}"))
            .await
            .expect("devices");
        assert_eq!(
            devices.data.len(),
            3,
            "{engine:?}: refused ones left no device"
        );
    }
}

#[tokio::test]
async fn an_unlimited_keys_uses_are_all_counted() {
    for engine in engines() {
        let app = spawn(engine, |c| {
            c.server.max_in_flight_login = Some(64);
            c.agents.metrics_flush_millis = 100;
        })
        .await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "K1").await;
        let key: Value = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "mass deploy"}),
            )
            .await
            .expect("key");
        assert!(key["id"].is_string(), "{key}");
        assert_eq!(key["max_uses"], Value::Null, "{key}");
        let codes = enroll_at_once(&app, &key, "mass", 12).await;
        assert_eq!(codes, vec![201; 12], "{engine:?}");
        wait_uses(&pa, org, 12).await;
        // Revoked, it lets nobody in, counted or not.
        let (status, _) = pa
            .raw(
                reqwest::Method::DELETE,
                &format!("/api/v1/enrollment-keys/{}", key["id"].as_str().unwrap()),
                None,
            )
            .await
            .unwrap();
        assert!(status.is_success(), "{status}");
        assert_eq!(
            enroll_at_once(&app, &key, "late", 1).await,
            vec![401],
            "{engine:?}"
        );
    }
}

/// The key's `uses` once it is `want` (a use given back is written just after the answer).
async fn wait_uses(pa: &breeze_client::BreezeClient, org: OrgId, want: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let keys: Value = pa
            .get(&format!("/api/v1/enrollment-keys?org_id={org}"))
            .await
            .expect("keys");
        if keys["data"][0]["uses"] == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "uses {} (want {want})",
            keys["data"][0]["uses"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_limited_keys_use_comes_back_when_its_enrollment_is_refused() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "K2").await;
        let (_, elsewhere) = org_and_site(&pa, "K2 other").await;
        let key: Value = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "two", "max_uses": 2}),
            )
            .await
            .expect("key");
        let body = |host: &str, site: Option<SiteId>| {
            let mut b = enroll_body(&key, host, host);
            if let Some(s) = site {
                b["site_id"] = json!(s);
            }
            b
        };
        let enroll = |b: Value| {
            let client = app.client.clone();
            async move {
                client
                    .raw(reqwest::Method::POST, "/api/v1/agents/enroll", Some(&b))
                    .await
                    .expect("enroll")
            }
        };
        // Asking for another organization's site is refused after the use was reserved.
        for i in 0..3 {
            let (status, err) = enroll(body(&format!("astray-{i}"), Some(elsewhere))).await;
            assert_eq!(status.as_u16(), 403, "{engine:?}: {err}");
        }
        wait_uses(&pa, org, 0).await;
        // So both uses are still there.
        for host in ["first", "second"] {
            let (status, err) = enroll(body(host, None)).await;
            assert_eq!(status.as_u16(), 201, "{engine:?}: {err}");
        }
        let (status, _) = enroll(body("third", None)).await;
        assert_eq!(status.as_u16(), 401, "{engine:?}");
        wait_uses(&pa, org, 2).await;
    }
}
