//! Free-form JSON fields and inventory sections have their own size and depth limits:
//! one past a limit answers 422 naming the field; at the limit is accepted.

use crate::device_snapshots::org_with_agent;
use crate::harness::{Engine, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::json_limits::{
    CONTACT, MAX_DISK_GB, MAX_INVENTORY_TEXT, MAX_SOFTWARE, SCRIPT_PARAMETERS, SETTINGS,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `make(padding)` grown until its compact JSON is exactly `len` bytes.
fn sized(len: usize, make: impl Fn(&str) -> Value) -> Value {
    let base = serde_json::to_string(&make("")).expect("json").len();
    let v = make(&"x".repeat(len - base));
    assert_eq!(serde_json::to_string(&v).expect("json").len(), len);
    v
}

fn nested(levels: usize) -> Value {
    let mut v = json!("leaf");
    for _ in 0..levels {
        v = json!({ "a": v });
    }
    v
}

async fn call(c: &BreezeClient, m: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let (s, text) = c.raw(m, path, Some(&body)).await.expect("call");
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The start of a body, for messages (the bodies here are large on purpose).
fn head(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

#[track_caller]
fn refused(r: (StatusCode, Value), field: &str) {
    assert_eq!(
        r.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}: {}",
        head(&r.1)
    );
    assert_eq!(r.1["error"]["field"], field, "{}", head(&r.1));
}

#[track_caller]
fn accepted(r: (StatusCode, Value), what: &str) {
    assert!(r.0.is_success(), "{what}: {} {}", r.0, head(&r.1));
}

#[tokio::test]
async fn org_and_site_json_fields_are_limited_in_size_and_depth() {
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let admin = app.admin().await;
    let settings = |n| sized(n, |p| json!({"theme": p}));
    let contact = |n| sized(n, |p| json!({"name": p}));

    // A megabyte-sized settings object no longer goes through.
    refused(
        call(
            &admin,
            Method::POST,
            "/api/v1/orgs",
            json!({"name": "Big", "settings": settings(SETTINGS.max_bytes + 1)}),
        )
        .await,
        "settings",
    );
    refused(
        call(
            &admin,
            Method::POST,
            "/api/v1/orgs",
            json!({"name": "Deep", "settings": nested(SETTINGS.max_depth + 1)}),
        )
        .await,
        "settings",
    );
    refused(
        call(
            &admin,
            Method::POST,
            "/api/v1/orgs",
            json!({"name": "Bill", "billing_contact": contact(CONTACT.max_bytes + 1)}),
        )
        .await,
        "billing_contact",
    );
    let (s, org) = call(
        &admin,
        Method::POST,
        "/api/v1/orgs",
        json!({
            "name": "At the limit",
            "settings": settings(SETTINGS.max_bytes),
            "billing_contact": contact(CONTACT.max_bytes),
        }),
    )
    .await;
    accepted((s, org.clone()), "org at the limits");
    let org_path = format!("/api/v1/orgs/{}", org["id"].as_str().expect("id"));
    refused(
        call(
            &admin,
            Method::PATCH,
            &org_path,
            json!({"settings": settings(SETTINGS.max_bytes + 1)}),
        )
        .await,
        "settings",
    );
    accepted(
        call(
            &admin,
            Method::PATCH,
            &org_path,
            json!({"settings": nested(SETTINGS.max_depth)}),
        )
        .await,
        "settings at the depth limit",
    );

    let sites = format!("{org_path}/sites");
    refused(
        call(
            &admin,
            Method::POST,
            &sites,
            json!({"name": "S", "address": contact(CONTACT.max_bytes + 1)}),
        )
        .await,
        "address",
    );
    refused(
        call(
            &admin,
            Method::POST,
            &sites,
            json!({"name": "S", "contact": nested(CONTACT.max_depth + 1)}),
        )
        .await,
        "contact",
    );
    refused(
        call(
            &admin,
            Method::POST,
            &sites,
            json!({"name": "S", "settings": settings(SETTINGS.max_bytes + 1)}),
        )
        .await,
        "settings",
    );
    let (s, site) = call(
        &admin,
        Method::POST,
        &sites,
        json!({
            "name": "S",
            "address": contact(CONTACT.max_bytes),
            "contact": nested(CONTACT.max_depth),
            "settings": settings(SETTINGS.max_bytes),
        }),
    )
    .await;
    accepted((s, site.clone()), "site at the limits");
    refused(
        call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/sites/{}", site["id"].as_str().expect("id")),
            json!({"contact": contact(CONTACT.max_bytes + 1)}),
        )
        .await,
        "contact",
    );
}

#[tokio::test]
async fn script_parameter_schemas_and_device_tags_are_limited() {
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let admin = app.admin().await;
    let one = org_with_agent(&app, &admin, "One", 'a').await;
    let schema = |n| {
        sized(
            n,
            |p| json!([{"name": "p", "type": "string", "description": p}]),
        )
    };
    let script = |params: Value| {
        json!({"org_id": one.org.id, "name": "s", "language": "bash",
        "os_types": ["linux"], "content": "true", "parameters": params})
    };
    refused(
        call(
            &admin,
            Method::POST,
            "/api/v1/scripts",
            script(schema(SCRIPT_PARAMETERS.max_bytes + 1)),
        )
        .await,
        "parameters",
    );
    let deep =
        json!([{"name": "p", "type": "string", "default": nested(SCRIPT_PARAMETERS.max_depth)}]);
    refused(
        call(&admin, Method::POST, "/api/v1/scripts", script(deep)).await,
        "parameters",
    );
    let (s, created) = call(
        &admin,
        Method::POST,
        "/api/v1/scripts",
        script(schema(SCRIPT_PARAMETERS.max_bytes)),
    )
    .await;
    accepted((s, created.clone()), "schema at the limit");
    refused(
        call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/scripts/{}", created["id"].as_str().expect("id")),
            json!({"parameters": schema(SCRIPT_PARAMETERS.max_bytes + 1)}),
        )
        .await,
        "parameters",
    );

    let dev = format!("/api/v1/devices/{}", one.device);
    let tags =
        |n: usize, len: usize| -> Vec<String> { (0..n).map(|i| format!("{i:0>len$}")).collect() };
    refused(
        call(&admin, Method::PATCH, &dev, json!({"tags": tags(51, 8)})).await,
        "tags",
    );
    refused(
        call(&admin, Method::PATCH, &dev, json!({"tags": tags(1, 65)})).await,
        "tags",
    );
    accepted(
        call(&admin, Method::PATCH, &dev, json!({"tags": tags(50, 64)})).await,
        "50 tags of 64",
    );
}

fn package(name: &str) -> Value {
    json!({"name": name, "version": "1", "source": "dpkg"})
}

#[tokio::test]
async fn inventory_sections_are_limited_and_a_large_real_machine_fits() {
    // The default body limit (1 MiB) stays for everything else; inventory has its own.
    let app = spawn(Engine::Sqlite, |_| {}).await;
    let admin = app.admin().await;
    let one = org_with_agent(&app, &admin, "One", 'a').await;
    let inv = format!("/api/v1/agents/{}/inventory", one.device);

    let too_many: Vec<Value> = (0..=MAX_SOFTWARE)
        .map(|i| package(&format!("p{i}")))
        .collect();
    refused(
        call(
            &one.agent,
            Method::PUT,
            &inv,
            json!({"software": too_many, "hashes": {"software": "h"}}),
        )
        .await,
        "software",
    );
    let long_name = "n".repeat(MAX_INVENTORY_TEXT + 1);
    refused(
        call(
            &one.agent,
            Method::PUT,
            &inv,
            json!({
            "processes": [{"pid": 1, "name": long_name, "cpu_percent": 0.0, "memory_bytes": 1}],
            "hashes": {"processes": "h"}}),
        )
        .await,
        "processes",
    );
    refused(
        call(
            &one.agent,
            Method::PUT,
            &inv,
            json!({
            "users": [{"username": "u", "terminal": "t".repeat(MAX_INVENTORY_TEXT + 1)}],
            "hashes": {"users": "h"}}),
        )
        .await,
        "users",
    );
    // A big Debian box's first upload: 5,000 packages and 3,000 processes, ~1.4 MB.
    let software: Vec<Value> = (0..5_000)
        .map(|i| {
            json!({"name": format!("lib-package-{i}"), "version": "2.36-9+deb12u4",
            "publisher": "Debian Library Maintainers <debian-glibc@lists.debian.org>",
            "architecture": "amd64", "install_date": "2025-06-01", "source": "dpkg"})
        })
        .collect();
    let processes: Vec<Value> = (0..3_000)
        .map(|i| {
            json!({"pid": i, "name": format!("worker-{i}"), "user": "www-data",
            "cpu_percent": 0.5, "memory_bytes": 10_000_000})
        })
        .collect();
    accepted(
        call(
            &one.agent,
            Method::PUT,
            &inv,
            json!({
            "software": software, "processes": processes,
            "hashes": {"software": "s", "processes": "p"}}),
        )
        .await,
        "a large real machine",
    );
    let at_limit: Vec<Value> = (0..MAX_SOFTWARE)
        .map(|i| package(&format!("p{i}")))
        .collect();
    accepted(
        call(
            &one.agent,
            Method::PUT,
            &inv,
            json!({"software": at_limit, "hashes": {"software": "h"}}),
        )
        .await,
        "software at the limit",
    );
}

/// A heartbeat's metrics are bounded: out of range answers 422 naming the field, and
/// nothing of it is kept. Before the check, one agent's `disk_used_gb: 1e308` made
/// PostgreSQL's rollup of every device overflow, and a huge custom value stored in
/// `jsonb` could not be read back.
#[tokio::test]
async fn heartbeat_metrics_out_of_range_are_refused_naming_the_field() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let one = org_with_agent(&app, &admin, "One", 'a').await;
        let hb = format!("/api/v1/agents/{}/heartbeat", one.device);
        let with = |metrics: Value| {
            json!({"protocol_version": 1, "agent_version": "0.1.0",
                "sent_at": chrono::Utc::now(), "status": "ok", "metrics": metrics})
        };
        for (metrics, field) in [
            (json!({"cpu_percent": 100.5}), "metrics.cpu_percent"),
            (json!({"ram_percent": -1}), "metrics.ram_percent"),
            (json!({"disk_used_gb": 1e308}), "metrics.disk_used_gb"),
            (
                json!({"custom": {"load_1": -1.7976931348623157e308}}),
                "metrics.custom.load_1",
            ),
            (json!({"custom": {"bad name": 1}}), "metrics.custom"),
        ] {
            refused(
                call(&one.agent, Method::POST, &hb, with(metrics)).await,
                field,
            );
        }
        // Refused heartbeats leave the device as it was: still waiting for its first.
        let dev: Value = admin
            .get(&format!("/api/v1/devices/{}", one.device))
            .await
            .expect("device");
        assert_eq!(dev["status"], "awaiting_checkin", "{engine:?}");
        let at_limits = json!({"cpu_percent": 100.0, "ram_percent": 0.0, "disk_percent": 50.0,
            "disk_used_gb": MAX_DISK_GB, "custom": {"load_1": 1e300, "queue.depth-2_x": -1e300}});
        accepted(
            call(&one.agent, Method::POST, &hb, with(at_limits)).await,
            "metrics at the limits",
        );
    }
}
