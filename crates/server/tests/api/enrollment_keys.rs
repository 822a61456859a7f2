//! Enrollment keys under concurrent enrollment (issue 14): the key's use is taken last in
//! the enrollment transaction (its row is locked only for the commit), and `max_uses`
//! still holds exactly: of many agents enrolling at once with a three-use key, three
//! get in, the others are refused and leave nothing behind.

use crate::device_state::org_and_site;
use crate::harness::{engines, spawn};
use breeze_proto::api::{Device, Page};
use serde_json::{Value, json};

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
        let attempts = (0..12).map(|i| {
            let client = app.client.clone();
            let body = json!({
                "protocol_version": 1, "enrollment_key": key["key"], "hostname": format!("race-{i}"),
                "os_type": "linux", "os_version": "12", "architecture": "amd64",
                "agent_version": "0.1.0", "fingerprint": format!("{i:-<64}"),
                "hardware": {"cpu_model": "Test CPU", "cpu_cores": 2, "ram_total_mb": 4096}
            });
            async move {
                client
                    .raw(reqwest::Method::POST, "/api/v1/agents/enroll", Some(&body))
                    .await
                    .expect("enroll")
                    .0
                    .as_u16()
            }
        });
        let mut codes = futures::future::join_all(attempts).await;
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
