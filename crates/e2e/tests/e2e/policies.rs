//! Desired-state policies with the real `breeze-agent` (issue 13) against the in-process
//! server: a policy "package X installed (>= 2.0)" with X absent reports non-compliant;
//! switched to enforce mode, its remediation script runs on the agent (a real script
//! execution, trigger `policy`), the server checks again when the run's result arrives,
//! and the device reports compliant.
//!
//! "Installed" is made real without root or a network: the agent reads dpkg's package
//! database from `BREEZE_AGENT_DPKG_STATUS`, here a file of this test's, and the
//! remediation script appends a genuine `Package: / Status: install ok installed /
//! Version:` stanza to it.
//!
//! Runs on SQLite, and on PostgreSQL when `BREEZE_TEST_DATABASE_URL` is set.

use crate::agent::{agent_cmd, binaries, credentials, enroll_agent, stop};
use crate::support::{self, eventually};
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::process::Stdio;

const PKG: &str = "breeze-e2e-policy-pkg";

#[tokio::test]
async fn package_policy_remediates_to_compliant_with_a_real_agent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bin = binaries()?;
    let server = support::start(false, |c| {
        c.auth.access_ttl_secs = 3600;
    })
    .await?;
    let admin = support::setup(&server.url, server._dir.path(), "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Policy E2E").await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    // The agent's dpkg database: one unrelated package.
    let dpkg = dir.path().join("dpkg-status");
    std::fs::write(
        &dpkg,
        "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n",
    )?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.with_extension("log"))?;
    let mut agent = agent_cmd(&bin, &state)
        .arg("run")
        .env("RUST_LOG", "info")
        .env("BREEZE_AGENT_DPKG_STATUS", &dpkg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let outcome = scenario(&admin, &org, &dev, &dpkg).await;
    stop(&mut agent).await?;
    if outcome.is_err() {
        let log = std::fs::read_to_string(state.with_extension("log")).unwrap_or_default();
        eprintln!("agent log:\n{log}");
    }
    outcome
}

async fn compliance(admin: &support::Api, policy: &str) -> Result<Value> {
    let (s, v) = admin
        .get(&format!("/api/v1/policies/{policy}/compliance"))
        .await?;
    ensure!(s.is_success(), "compliance: {s} {v}");
    Ok(v)
}

/// Waits until the device's overall status is `want`; answers the compliance view.
async fn wait_status(admin: &support::Api, policy: &str, want: &str) -> Result<Value> {
    eventually(60, &format!("the device {want}"), || {
        let admin = admin.clone();
        let policy = policy.to_string();
        async move {
            let v = compliance(&admin, &policy).await?;
            Ok((v["data"][0]["status"] == want).then_some(v))
        }
    })
    .await
}

async fn scenario(
    admin: &support::Api,
    org: &str,
    dev: &str,
    dpkg: &std::path::Path,
) -> Result<()> {
    eventually(60, "the device online", || {
        let admin = admin.clone();
        let dev = dev.to_string();
        async move {
            let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
            Ok((d["status"] == "online").then_some(()))
        }
    })
    .await?;
    let policy = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/policies",
            Some(
                json!({"org_id": org, "name": "Has the package", "enforcement": "monitor",
                "targets": {"all": true}, "check_interval_minutes": 60,
                "rules": [
                    {"type": "package_installed", "name": PKG, "min_version": "2.0"},
                    {"type": "file_exists", "path": dpkg.to_string_lossy()},
                ]}),
            ),
        )
        .await?;
    let id = policy["id"].as_str().context("policy id")?.to_string();
    admin
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/policies/{id}/evaluate"),
            Some(json!({})),
        )
        .await?;
    let v = wait_status(admin, &id, "non_compliant").await?;
    let rules = &v["data"][0]["rules"];
    ensure!(rules[0]["status"] == "non_compliant", "{v}");
    ensure!(rules[0]["detail"] == "not installed", "{v}");
    ensure!(rules[1]["status"] == "compliant", "{v}");
    ensure!(
        v["counts"]
            == json!({"total": 1, "compliant": 0, "non_compliant": 1, "unknown": 0, "error": 0}),
        "{v}"
    );

    // The remediation installs it (appends a real dpkg stanza).
    let script = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/scripts",
            Some(json!({"org_id": org, "name": "install the package", "language": "sh",
                "os_types": ["linux"],
                "content": format!(
                    "printf '\\nPackage: {PKG}\\nStatus: install ok installed\\nVersion: 2.1.0-1\\n\\n' >> '{}'\necho installed\n",
                    dpkg.display()
                )})),
        )
        .await?;
    let script_id = script["id"].as_str().context("script id")?;
    admin
        .ok(
            reqwest::Method::PATCH,
            &format!("/api/v1/policies/{id}"),
            Some(json!({"enforcement": "enforce", "remediation_script_id": script_id})),
        )
        .await?;
    admin
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/policies/{id}/evaluate"),
            Some(json!({})),
        )
        .await?;
    let v = wait_status(admin, &id, "compliant").await?;
    ensure!(
        v["data"][0]["rules"][0]["detail"] == "installed 2.1.0-1 >= 2.0",
        "{v}"
    );
    ensure!(v["data"][0]["remediation_attempts"] == 0, "{v}");
    ensure!(
        v["counts"]
            == json!({"total": 1, "compliant": 1, "non_compliant": 0, "unknown": 0, "error": 0}),
        "{v}"
    );
    // The remediation was a real script execution on the agent, triggered by the policy.
    let (_, ex) = admin
        .get(&format!("/api/v1/script-executions?device_id={dev}"))
        .await?;
    let runs = ex["data"].as_array().context("executions")?;
    ensure!(runs.len() == 1, "one remediation run: {ex}");
    ensure!(runs[0]["trigger_type"] == "policy", "{ex}");
    ensure!(runs[0]["status"] == "completed", "{ex}");
    ensure!(runs[0]["exit_code"] == 0, "{ex}");
    ensure!(
        std::fs::read_to_string(dpkg)?.contains(&format!("Package: {PKG}")),
        "the stanza is in the file"
    );
    // The history holds the way there.
    let (_, h) = admin
        .get(&format!(
            "/api/v1/policies/{id}/compliance/history?device_id={dev}"
        ))
        .await?;
    let overall: Vec<(&str, &str)> = h["data"]
        .as_array()
        .context("history")?
        .iter()
        .filter(|c| c["rule_index"].is_null())
        .map(|c| {
            (
                c["previous_status"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    ensure!(
        overall == vec![("non_compliant", "compliant"), ("unknown", "non_compliant")],
        "{h}"
    );
    Ok(())
}
