//! Live script output with the real agent: a script that prints, sleeps and prints
//! again shows its first line through the API while it is still running.

use crate::agent::{
    Enrolled, execute, execution_when, run_agent, script, server_with_enrolled_agent, stop,
    wait_execution,
};
use crate::support::eventually;
use anyhow::Result;
use serde_json::json;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_scripts_output_is_visible_before_it_ends() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let Enrolled {
        bin,
        server,
        admin,
        org,
        dev,
        state,
    } = server_with_enrolled_agent(dir.path(), "Live", "agent-live").await?;
    let mut agent = run_agent(&bin, &state)?;
    // The channel is up once a command reaches the agent within a second; wait for the
    // device to be online first.
    eventually(60, "the device online", || {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
            Ok((d["status"] == "online").then_some(()))
        }
    })
    .await?;

    let sid = script(
        &admin,
        &org,
        "echo first\necho 'to stderr' >&2\nsleep 8\necho second\n",
        60,
        json!([]),
    )
    .await?;
    let t0 = Instant::now();
    let exec = execute(&admin, &sid, &dev, json!({})).await?;
    let live = execution_when(
        &admin,
        &exec,
        30,
        "the first line while the script runs",
        |v| v["stdout"].as_str().is_some_and(|s| s.contains("first")),
    )
    .await?;
    let first_after = t0.elapsed();
    assert_eq!(live["status"], "running", "{live}");
    assert_eq!(live["stdout"], "first\n", "{live}");
    assert!(
        first_after.as_secs() < 8,
        "the first line came only after {first_after:?}"
    );
    let stderr = execution_when(&admin, &exec, 10, "stderr while the script runs", |v| {
        v["stderr"] == "to stderr\n"
    })
    .await?;
    assert_eq!(stderr["status"], "running", "{stderr}");
    eprintln!(
        "live output: the first line was visible through the API {} ms after the script was queued (it sleeps 8 s before its last line)",
        first_after.as_millis()
    );

    let done = wait_execution(&admin, &exec, 60).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["stdout"], "first\nsecond\n");
    assert_eq!(done["stderr"], "to stderr\n");
    stop(&mut agent).await?;
    drop(server);
    Ok(())
}
