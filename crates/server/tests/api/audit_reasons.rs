//! A failed mutating request's audit row says why it failed: the error code, the field
//! and the message of the answer, not only `http.post` and a status.

use crate::device_snapshots::org_with_agent;
use crate::harness::{engines, spawn};
use breeze_client::BreezeClient;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn failed_rows(admin: &BreezeClient, action: &str) -> Vec<Value> {
    let page: Value = admin
        .get(&format!(
            "/api/v1/audit/logs?action={action}&result=failure&limit=100"
        ))
        .await
        .expect("audit");
    page["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn failed_requests_are_audited_with_the_error_code_and_message() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;

        // A validation failure names the field.
        let (s, _) = admin
            .raw(Method::POST, "/api/v1/orgs", Some(&json!({"name": "  "})))
            .await
            .expect("post");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // A refusal by the device's state gives its own code.
        let one = org_with_agent(&app, &admin, "One", 'a').await;
        let dev = one.device;
        let _: Value = admin
            .post(&format!("/api/v1/devices/{dev}/quarantine"), &json!({}))
            .await
            .expect("quarantine");
        let (s, _) = admin
            .raw(
                Method::POST,
                &format!("/api/v1/devices/{dev}/commands"),
                Some(&json!({"type": "reboot", "payload": {}})),
            )
            .await
            .expect("post");
        assert_eq!(s, StatusCode::CONFLICT, "{e}");

        let rows = failed_rows(&admin, "http.post").await;
        let org = rows
            .iter()
            .find(|r| r["resource_id"] == "/api/v1/orgs")
            .unwrap_or_else(|| panic!("{e}: no row for the org: {rows:?}"));
        let msg = org["error_message"].as_str().expect("message");
        assert!(
            msg.starts_with("HTTP 422 validation (name): "),
            "{e}: {msg}"
        );
        assert_eq!(org["details"]["error"]["field"], "name", "{e}");

        let cmd = rows
            .iter()
            .find(|r| r["resource_id"] == format!("/api/v1/devices/{dev}/commands"))
            .unwrap_or_else(|| panic!("{e}: no row for the command: {rows:?}"));
        let msg = cmd["error_message"].as_str().expect("message");
        assert!(
            msg.starts_with("HTTP 409 device_quarantined: device \"One-host\" is quarantined"),
            "{e}: {msg}"
        );
        assert_eq!(cmd["details"]["error"]["code"], "device_quarantined");
        assert_eq!(cmd["details"]["status"], 409);
    }
}
