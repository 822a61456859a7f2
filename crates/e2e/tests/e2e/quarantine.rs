//! Quarantine with the real agent: a quarantined device receives no command, including
//! ones queued before the quarantine while its agent was offline.

use crate::agent::{
    Enrolled, execute, run_agent, script, server_with_enrolled_agent, stop, wait_execution,
};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_device_runs_nothing_even_what_was_queued_before() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let Enrolled {
        bin,
        server: _server,
        admin,
        org,
        dev,
        state,
    } = server_with_enrolled_agent(dir.path(), "Q", "agent-q").await?;

    // Queued while the agent is not running: a script that leaves a marker, and a
    // device command.
    let marker = dir.path().join("ran");
    let sid = script(
        &admin,
        &org,
        &format!("touch '{}'", marker.display()),
        60,
        json!([]),
    )
    .await?;
    let exec = execute(&admin, &sid, &dev, json!({})).await?;
    let (s, cmd) = admin
        .post(
            &format!("/api/v1/devices/{dev}/commands"),
            json!({"type": "collect_inventory_now"}),
        )
        .await?;
    assert!(s.is_success(), "{cmd}");
    let cmd_id = cmd["data"]["id"]
        .as_str()
        .context("command id")?
        .to_string();

    // Quarantined, then the agent starts: heartbeats and the channel hand it nothing.
    let (s, _) = admin
        .post(
            &format!("/api/v1/devices/{dev}/quarantine"),
            json!({"reason": "e2e"}),
        )
        .await?;
    assert!(s.is_success());
    let (_, before) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
    let mut agent = run_agent(&bin, &state)?;
    // Three heartbeats after the start (5 s apart): the agent has asked, by heartbeat
    // and over its channel, more than once.
    let mut seen: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 4 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "three heartbeats did not arrive in 60 s"
        );
        let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
        if seen.last().map(|x| &x["last_seen_at"]) != Some(&d["last_seen_at"]) {
            seen.push(d);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(seen[3]["last_seen_at"], before["last_seen_at"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!marker.exists(), "the script ran on a quarantined device");
    let (_, e) = admin
        .get(&format!("/api/v1/script-executions/{exec}"))
        .await?;
    assert_eq!(e["status"], "cancelled", "{e}");
    assert!(
        e["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("quarantine")),
        "{e}"
    );
    let (_, h) = admin
        .get(&format!("/api/v1/devices/{dev}/commands"))
        .await?;
    let c = h["data"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["id"] == cmd_id.as_str()))
        .context("command in history")?;
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(c["sent_at"].is_null(), "never delivered: {c}");

    // New work is refused while quarantined.
    let (s, v) = admin
        .post(
            &format!("/api/v1/scripts/{sid}/execute"),
            json!({"device_ids": [dev]}),
        )
        .await?;
    assert_eq!(s.as_u16(), 409, "{v}");
    assert_eq!(v["error"]["code"], "device_quarantined");

    // Released: the same script runs, so the marker would have shown a leak above.
    let (s, _) = admin
        .post(&format!("/api/v1/devices/{dev}/reactivate"), json!({}))
        .await?;
    assert!(s.is_success());
    let exec = execute(&admin, &sid, &dev, json!({})).await?;
    let e = wait_execution(&admin, &exec, 60).await?;
    assert_eq!(e["status"], "completed", "{e}");
    assert!(marker.exists());
    stop(&mut agent).await?;
    Ok(())
}
