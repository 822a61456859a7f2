//! The OpenAPI document lists every route, and every documented route answers.

use crate::harness::spawn_sqlite;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn every_documented_route_exists_and_the_issue_routes_are_documented() {
    let app = spawn_sqlite().await;
    let doc: serde_json::Value = app.client.get("/api/openapi.json").await.expect("openapi");
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let paths = doc["paths"].as_object().expect("paths");
    for required in [
        "/api/v1/setup",
        "/api/v1/auth/login",
        "/api/v1/auth/mfa/setup",
        "/api/v1/auth/mfa/verify",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/reset-password",
        "/api/v1/auth/me",
        "/api/v1/partners",
        "/api/v1/orgs",
        "/api/v1/orgs/{id}",
        "/api/v1/orgs/current",
        "/api/v1/orgs/{id}/sites",
        "/api/v1/sites/{id}",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/roles",
        "/api/v1/roles/{id}",
        "/api/v1/device-groups",
        "/api/v1/device-groups/{id}",
        "/api/v1/device-groups/{id}/members",
        "/api/v1/audit/logs",
        "/api/v1/audit/logs/export",
        "/api/v1/audit/summary",
        "/api/v1/events",
        "/api/v1/settings",
        "/api/v1/settings/smtp/test",
        "/health",
        "/ready",
        "/metrics",
        "/download/agent",
        "/download/agent/{platform}",
        "/install.sh",
        // Issue 13's contract.
        "/api/v1/automations",
        "/api/v1/automations/{id}",
        "/api/v1/automations/{id}/run",
        "/api/v1/automations/{id}/runs",
        "/api/v1/automation-runs/{id}",
        "/api/v1/automations/{id}/webhook",
        "/api/v1/policies",
        "/api/v1/policies/{id}",
        "/api/v1/policies/{id}/compliance",
        "/api/v1/policies/{id}/evaluate",
    ] {
        assert!(
            paths.contains_key(required),
            "{required} is missing from the OpenAPI document"
        );
    }
    // Answer 404 by design for the filler path (no such agent platform, or metrics off, or
    // no automation with that id: the webhook is signed, not logged in).
    let public = [
        "/api/v1/automations/{id}/webhook",
        "/health",
        "/ready",
        "/metrics",
        "/api/v1/setup/status",
        "/download/agent/{platform}",
    ];
    for (path, item) in paths {
        for method in item.as_object().expect("item").keys() {
            let m: Method = method.to_uppercase().parse().expect("method");
            // Every path parameter is an id: fill each `{name}` with a UUID.
            let mut concrete = String::new();
            let mut in_param = false;
            for ch in path.chars() {
                match ch {
                    '{' => in_param = true,
                    '}' => {
                        in_param = false;
                        concrete.push_str("00000000-0000-0000-0000-000000000000");
                    }
                    _ if !in_param => concrete.push(ch),
                    _ => {}
                }
            }
            let (status, body) = app
                .client
                .raw(m.clone(), &concrete, None)
                .await
                .expect("call");
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            assert!(
                status.as_u16() < 500,
                "{method} {path} answered {status}: {body}"
            );
            let secured = item[method].get("security").is_some();
            if secured {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} is documented as secured"
                );
            } else if !public.contains(&path.as_str()) {
                assert_ne!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{method} {path} is documented but not routed"
                );
            }
        }
    }
    let (status, _) = app
        .client
        .raw(Method::GET, "/api/docs/", None)
        .await
        .expect("docs");
    assert_eq!(status, StatusCode::OK, "interactive viewer at /api/docs");
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let app = crate::harness::spawn(crate::harness::Engine::Sqlite, |c| {
        c.metrics.public = true;
    })
    .await;
    let h: serde_json::Value = app.client.get("/health").await.expect("health");
    assert_eq!(h["status"], "ok");
    let r: serde_json::Value = app.client.get("/ready").await.expect("ready");
    assert_eq!(r["status"], "ready");
    let _ = app
        .client
        .get::<serde_json::Value>("/api/v1/setup/status")
        .await;
    let (status, text) = app
        .client
        .raw(Method::GET, "/metrics", None)
        .await
        .expect("metrics");
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("breeze_http_requests_total"), "{text}");
}

/// Browsers get gzip for JSON; the live event stream is never compressed (gzip would
/// hold events back until a block fills).
#[tokio::test]
async fn json_is_gzipped_for_browsers_and_the_event_stream_is_not() {
    let app = spawn_sqlite().await;
    let admin = app.setup_admin().await;
    let http = reqwest::Client::new();
    let base = app.client.base().clone();
    let doc = http
        .get(base.join("/api/openapi.json").expect("url"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("openapi");
    assert_eq!(doc.status(), StatusCode::OK);
    assert_eq!(
        doc.headers().get("content-encoding").map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let plain = http
        .get(base.join("/api/openapi.json").expect("url"))
        .send()
        .await
        .expect("openapi");
    assert!(plain.headers().get("content-encoding").is_none());
    let events = http
        .get(base.join("/api/v1/events").expect("url"))
        .header("accept-encoding", "gzip")
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), StatusCode::OK);
    assert!(
        events
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    );
    assert!(events.headers().get("content-encoding").is_none());
}
