//! What the web console's generated types (web/src/api/schema.d.ts, from `breeze openapi`)
//! rely on: the printed document is the served one, operation ids are unique, and what the
//! document offers (query parameters, enum values) is what the server accepts.

use crate::device_snapshots::org_with_agent;
use crate::harness::{engines, spawn, spawn_sqlite};
use breeze_core::roles::PARTNER_TECHNICIAN;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;

fn query_params(doc: &Value, path: &str) -> Vec<String> {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn printed_document_is_the_served_one_with_unique_operation_ids() {
    let app = spawn_sqlite().await;
    let served: Value = app.client.get("/api/openapi.json").await.expect("doc");
    let printed = serde_json::to_value(breeze_server::openapi::document()).expect("json");
    assert_eq!(
        served, printed,
        "`breeze openapi` must print the served document"
    );
    let mut ids: HashMap<String, Vec<String>> = HashMap::new();
    for (path, item) in served["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().expect("operationId");
            ids.entry(id.to_string())
                .or_default()
                .push(format!("{method} {path}"));
        }
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, ops)| ops.len() > 1).collect();
    assert!(repeated.is_empty(), "repeated operation ids: {repeated:?}");
    assert_eq!(ids["list_users"], vec!["get /api/v1/users"]);
    assert_eq!(ids["list_orgs"], vec!["get /api/v1/orgs"]);
}

/// The console's Users page sent `sort=name` (which the server refused) with every search.
#[tokio::test]
async fn users_are_searched_without_sort_and_the_document_offers_no_sort() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let doc: Value = app.client.get("/api/openapi.json").await.expect("doc");
        assert_eq!(
            query_params(&doc, "/api/v1/users"),
            ["limit", "cursor", "q"],
            "{engine:?}"
        );
        let (status, body) = admin
            .raw(
                Method::POST,
                "/api/v1/users",
                Some(&json!({"email": "carol@acme.test", "name": "Carol Tech", "role_id": PARTNER_TECHNICIAN, "org_access": "all"})),
            )
            .await
            .expect("invite");
        assert_eq!(status, StatusCode::CREATED, "{engine:?}: {body}");
        let found: Value = admin
            .get("/api/v1/users?q=carol&limit=200")
            .await
            .expect("search");
        let names: Vec<&str> = found["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["Carol Tech"], "{engine:?}");
        let all: Value = admin.get("/api/v1/users?limit=200").await.expect("list");
        assert_eq!(all["data"].as_array().expect("data").len(), 2, "{engine:?}");
        // `sort` is not a parameter of this list: like any unknown parameter it is ignored.
        let (status, body) = admin
            .raw(Method::GET, "/api/v1/users?sort=name", None)
            .await
            .expect("sort");
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
    }
}

/// The console asked for `1m` and `6h`, which the server never knew: the document now
/// lists the resolutions, and the server answers every one of them.
#[tokio::test]
async fn metrics_answer_every_resolution_the_document_lists_and_only_those() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let doc: Value = app.client.get("/api/openapi.json").await.expect("doc");
        let listed: Vec<String> = doc["components"]["schemas"]["MetricsResolution"]["enum"]
            .as_array()
            .expect("MetricsResolution enum")
            .iter()
            .map(|v| v.as_str().expect("value").to_string())
            .collect();
        assert_eq!(listed, ["raw", "5m", "1h"], "{engine:?}");
        let param = doc["paths"]["/api/v1/devices/{id}/metrics"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "resolution")
            .expect("resolution parameter")
            .clone();
        assert_eq!(param["in"], "query", "{engine:?}");
        assert_eq!(
            param["schema"]["$ref"], "#/components/schemas/MetricsResolution",
            "{engine:?}"
        );
        let dev = org_with_agent(&app, &admin, "Metrics Co", 'm').await;
        for r in &listed {
            let m: Value = admin
                .get(&format!(
                    "/api/v1/devices/{}/metrics?resolution={r}",
                    dev.device
                ))
                .await
                .unwrap_or_else(|e| panic!("{engine:?} resolution {r}: {e}"));
            assert_eq!(m["resolution"], r.as_str(), "{engine:?}");
        }
        for r in ["1m", "6h"] {
            let (status, body) = admin
                .raw(
                    Method::GET,
                    &format!("/api/v1/devices/{}/metrics?resolution={r}", dev.device),
                    None,
                )
                .await
                .expect("metrics");
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{engine:?} {r}: {body}"
            );
            let e: Value = serde_json::from_str(&body).expect("error body");
            assert_eq!(e["error"]["field"], "resolution", "{engine:?}: {body}");
        }
    }
}
