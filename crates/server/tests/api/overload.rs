//! Overload protection (`[server] max_in_flight_*`): a route class with as many requests
//! in flight as its bound answers the next ones 503 `overloaded` with `Retry-After`,
//! after at most the configured wait, while `/health` and the other classes still
//! answer; a released place is taken again; shed requests are counted in `/metrics`.
//!
//! A request is held in flight without any hook: its head is sent with a
//! `Content-Length` larger than the body sent so far, so its handler waits for the rest
//! of the body while holding its place.

use crate::events::{enroll, heartbeat, org_and_site};
use crate::harness::{ADMIN_EMAIL, PASSWORD, TestApp, engines, spawn};
use breeze_client::BreezeClient;
use breeze_proto::ids::DeviceId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// Long enough for a loaded CI machine; a passing test never waits for it.
const PATIENCE: Duration = Duration::from_secs(20);

/// Sends the head of a request and the first byte of a body announced much longer, and
/// keeps the connection: the server holds the request in flight until it is dropped.
async fn hold(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> TcpStream {
    let base = app.client.base();
    let host = format!(
        "{}:{}",
        base.host_str().expect("host"),
        base.port().expect("port")
    );
    let mut s = TcpStream::connect(&host).await.expect("connect");
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n{auth}\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("send head");
    s.flush().await.expect("flush");
    s
}

/// One request: its status, `Retry-After` and JSON body.
async fn send(
    c: &BreezeClient,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Option<u64>, Value) {
    let http = reqwest::Client::new();
    let mut req = http.request(method, c.base().join(path).expect("url"));
    if let Some(t) = c.token() {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").parse().expect("seconds"));
    let text = resp.text().await.expect("body");
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn heartbeat_path(device: DeviceId) -> String {
    format!("/api/v1/agents/{device}/heartbeat")
}

async fn send_heartbeat(
    agent: &BreezeClient,
    device: DeviceId,
) -> (StatusCode, Option<u64>, Value) {
    send(
        agent,
        reqwest::Method::POST,
        &heartbeat_path(device),
        Some(&heartbeat()),
    )
    .await
}

/// Sends heartbeats until one is shed (the held request has its place), or panics.
async fn until_shed(agent: &BreezeClient, device: DeviceId) -> (Option<u64>, Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, retry_after, body) = send_heartbeat(agent, device).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return (retry_after, body);
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(Instant::now() < deadline, "no heartbeat was shed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of `breeze_shed_requests_total{class="…"}`.
fn shed_count(app: &TestApp, class: &str) -> u64 {
    let text = app.state.metrics.render();
    let prefix = format!("breeze_shed_requests_total{{class=\"{class}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
        .trim()
        .parse()
        .expect("a count")
}

fn assert_overloaded(who: &str, retry_after: Option<u64>, body: &Value) {
    let secs = retry_after.unwrap_or_else(|| panic!("{who}: no Retry-After"));
    // `overload_retry_after_secs = 1`: drawn from [1, 2].
    assert!((1..=2).contains(&secs), "{who}: Retry-After {secs}");
    assert_eq!(body["error"]["code"], "overloaded", "{who}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{who}: {body}"
    );
}

#[tokio::test]
async fn a_full_agent_class_sheds_heartbeats_while_health_logins_and_the_api_answer() {
    for engine in engines() {
        let app = spawn(engine, |c| {
            c.server.max_in_flight_agent = Some(1);
            c.server.overload_wait_millis = 0;
            c.server.overload_retry_after_secs = 1;
        })
        .await;
        let who = app.engine;
        let admin = app.admin().await;
        let (org, site) = org_and_site(&admin, "Shed Co").await;
        let (device, agent) = enroll(&app, &admin, org, site, "shed-01").await;
        let (status, _, body) = send_heartbeat(&agent, device).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{who}: nothing in flight yet: {body}"
        );

        let held = hold(&app, "POST", &heartbeat_path(device), agent.token()).await;
        let (retry_after, body) = until_shed(&agent, device).await;
        assert_overloaded(who, retry_after, &body);
        let mut shed = shed_count(&app, "agent");
        assert!(shed >= 1, "{who}: counted");

        // Many at once: every one is refused at once (no wait is configured), none queued.
        let started = Instant::now();
        let answers =
            futures::future::join_all((0..20).map(|_| send_heartbeat(&agent, device))).await;
        for (status, retry_after, body) in &answers {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE, "{who}: {body}");
            assert_overloaded(who, *retry_after, body);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{who}: shedding took {:?}",
            started.elapsed()
        );
        shed += 20;
        assert_eq!(
            shed_count(&app, "agent"),
            shed,
            "{who}: every refusal counted"
        );

        // Meanwhile the other classes and the probes answer.
        let (status, _, _) = send(&app.client, reqwest::Method::GET, "/health", None).await;
        assert_eq!(status, StatusCode::OK, "{who}: /health");
        let (status, _, body) = send(&admin, reqwest::Method::GET, "/api/v1/auth/me", None).await;
        assert_eq!(status, StatusCode::OK, "{who}: the user API: {body}");
        let (status, _, body) = send(
            &app.client,
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(&json!({"email": ADMIN_EMAIL, "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{who}: a login: {body}");
        assert_eq!(shed_count(&app, "api"), 0, "{who}");
        assert_eq!(shed_count(&app, "login"), 0, "{who}");

        // The held request ends (its client went away): its place is free again.
        drop(held);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, _, body) = send_heartbeat(&agent, device).await;
            if status == StatusCode::OK {
                break;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{who}: {body}");
            assert!(
                Instant::now() < deadline,
                "{who}: the place was never released"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_full_login_class_sheds_logins_while_agents_and_the_api_answer() {
    for engine in engines() {
        let app = spawn(engine, |c| {
            c.server.max_in_flight_login = Some(1);
            c.server.overload_wait_millis = 0;
            c.server.overload_retry_after_secs = 1;
        })
        .await;
        let who = app.engine;
        let admin = app.admin().await;
        let (org, site) = org_and_site(&admin, "Login Co").await;
        let (device, agent) = enroll(&app, &admin, org, site, "login-01").await;

        let _held = hold(&app, "POST", "/api/v1/auth/login", None).await;
        let login = json!({"email": ADMIN_EMAIL, "password": PASSWORD});
        let deadline = Instant::now() + PATIENCE;
        let (retry_after, body) = loop {
            let (status, retry_after, body) = send(
                &app.client,
                reqwest::Method::POST,
                "/api/v1/auth/login",
                Some(&login),
            )
            .await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                break (retry_after, body);
            }
            assert_eq!(status, StatusCode::OK, "{who}: {body}");
            assert!(Instant::now() < deadline, "{who}: no login was shed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_overloaded(who, retry_after, &body);
        // Token refresh is a login-class route too.
        let (status, retry_after, body) = send(
            &app.client,
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            Some(&json!({"refresh_token": "whatever"})),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{who}: {body}");
        assert_overloaded(who, retry_after, &body);
        assert!(shed_count(&app, "login") >= 2, "{who}");

        let (status, _, body) = send_heartbeat(&agent, device).await;
        assert_eq!(status, StatusCode::OK, "{who}: heartbeats go on: {body}");
        let (status, _, body) = send(&admin, reqwest::Method::GET, "/api/v1/auth/me", None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{who}: the user API goes on: {body}"
        );
        assert_eq!(shed_count(&app, "agent"), 0, "{who}");
    }
}

#[tokio::test]
async fn a_request_over_the_bound_waits_its_turn_then_is_shed_after_the_wait() {
    for engine in engines() {
        let app = spawn(engine, |c| {
            c.server.max_in_flight_agent = Some(1);
            c.server.overload_wait_millis = 1000;
            c.server.overload_retry_after_secs = 1;
        })
        .await;
        let who = app.engine;
        let admin = app.admin().await;
        let (org, site) = org_and_site(&admin, "Wait Co").await;
        let (device, agent) = enroll(&app, &admin, org, site, "wait-01").await;

        let held = hold(&app, "POST", &heartbeat_path(device), agent.token()).await;
        // Nobody gives the place back: shed after waiting the configured second.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let started = Instant::now();
            let (status, retry_after, body) = send_heartbeat(&agent, device).await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert!(
                    started.elapsed() >= Duration::from_millis(1000),
                    "{who}: shed after {:?}, before the wait",
                    started.elapsed()
                );
                assert_overloaded(who, retry_after, &body);
                break;
            }
            assert_eq!(status, StatusCode::OK, "{who}: {body}");
            assert!(Instant::now() < deadline, "{who}: no heartbeat was shed");
        }

        // The place comes back within the wait: the waiting heartbeat gets it.
        let waiting = tokio::spawn({
            let agent = agent.clone();
            async move {
                let started = Instant::now();
                let (status, _, body) = send_heartbeat(&agent, device).await;
                (status, body, started.elapsed())
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        let (status, body, took) = waiting.await.expect("task");
        assert_eq!(
            status,
            StatusCode::OK,
            "{who}: the waiter got the place: {body}"
        );
        assert!(
            took >= Duration::from_millis(250),
            "{who}: it did wait ({took:?})"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_gives_503_overloaded_for_classed_routes_only() {
    let app = crate::harness::spawn_sqlite().await;
    let (status, _, doc) = send(&app.client, reqwest::Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/agents/{id}/heartbeat", "post"),
        ("/api/v1/agents/{id}/inventory", "put"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/agents/enroll", "post"),
        ("/api/v1/devices", "get"),
    ] {
        let answer = &doc["paths"][path][method]["responses"]["503"];
        assert!(
            answer["description"]
                .as_str()
                .is_some_and(|d| d.contains("overloaded")),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["headers"]["Retry-After"].is_object(),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["content"]["application/json"].is_object(),
            "{method} {path}"
        );
    }
    for (path, method) in [("/health", "get"), ("/api/v1/events", "get")] {
        assert!(
            doc["paths"][path][method]["responses"]["503"].is_null(),
            "{method} {path} is not bounded"
        );
    }
}
