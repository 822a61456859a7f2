//! The real `breeze-agent` against a real server whose agent class is full
//! (`[server] max_in_flight_agent = 1`, one heartbeat held in flight): the agent is
//! answered 503 `overloaded` with `Retry-After`, says it is postponing, keeps trying,
//! and reports as soon as the server has room again.

use crate::agent::{binaries, credentials, enroll_agent, run_agent, stop};
use crate::support::{self, eventually};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

fn shed_count(server: &support::TestServer) -> u64 {
    let text = server.state.metrics.render();
    text.lines()
        .find_map(|l| l.strip_prefix("breeze_shed_requests_total{class=\"agent\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_agent_backs_off_from_an_overloaded_server_and_gets_through() -> Result<()> {
    let bin = binaries()?;
    let server = support::start(false, |c| {
        c.server.max_in_flight_agent = Some(1);
        c.server.overload_wait_millis = 0;
        c.server.overload_retry_after_secs = 1;
    })
    .await?;
    let admin = support::setup(&server.url, server._dir.path(), "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Overload Co").await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let creds = credentials(&state)?;
    let dev = creds["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let token = creds["auth_token"].as_str().context("token")?.to_string();

    // Fill the agent class: a heartbeat whose body never finishes arriving.
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut held = TcpStream::connect(&addr).await?;
    held.write_all(
        format!(
            "POST /api/v1/agents/{dev}/heartbeat HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await?;
    let probe = support::Api::new(&server.url).with_token(&token);
    eventually(20, "the agent class to be full", || {
        let probe = probe.clone();
        let dev = dev.clone();
        async move {
            let (status, _) = probe
                .post(
                    &format!("/api/v1/agents/{dev}/heartbeat"),
                    json!({"protocol_version": 1, "agent_version": "0.1.0",
                        "sent_at": chrono::Utc::now(), "status": "ok"}),
                )
                .await?;
            Ok((status == reqwest::StatusCode::SERVICE_UNAVAILABLE).then_some(()))
        }
    })
    .await?;

    let before = shed_count(&server);
    let mut agent = run_agent(&bin, &state)?;
    let log_path = state.with_extension("log");
    // The agent is refused and says it is waiting as the server asked.
    eventually(30, "the agent to postpone its heartbeat", || {
        let log_path = log_path.clone();
        async move {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            Ok(log
                .contains("the server is busy; heartbeat postponed")
                .then_some(()))
        }
    })
    .await?;
    // A few seconds of refusals: it keeps trying, about once per Retry-After (1–2 s)
    // plus jitter per kind of request, not in a tight loop.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let refused = shed_count(&server) - before;
    if !(1..=20).contains(&refused) {
        bail!("the agent was refused {refused} times in ~4 s");
    }
    if agent.try_wait()?.is_some() {
        bail!("the agent gave up");
    }

    // Room again: the agent's next try gets through.
    drop(held);
    eventually(30, "the agent to report again", || {
        let state = state.clone();
        async move {
            let status: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(state.join("status.json")).unwrap_or_default(),
            )
            .unwrap_or_default();
            Ok((status["last_heartbeat_ok"] == true).then_some(()))
        }
    })
    .await?;
    let device = admin
        .ok(
            reqwest::Method::GET,
            &format!("/api/v1/devices/{dev}"),
            None,
        )
        .await?;
    if device["status"] != "online" {
        bail!("the device is {}, not online", device["status"]);
    }
    stop(&mut agent).await?;
    Ok(())
}
