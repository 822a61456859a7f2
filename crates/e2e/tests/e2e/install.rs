//! The console's install one-liner, run for real: `GET /install.sh` from the `breeze`
//! server binary piped into `sh` with `--no-service --prefix`, which downloads the
//! `breeze-agent` the server found next to itself, checks its SHA-256, enrolls with the
//! key and runs the agent in the foreground until the device checks in.

use crate::agent::{binaries, credentials, free_port, start_server};
use crate::support::{self, eventually};
use anyhow::{Context, Result, ensure};
use serde_json::json;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

fn sha256_of(path: &std::path::Path) -> Result<String> {
    use sha2::Digest as _;
    Ok(hex::encode(sha2::Sha256::digest(std::fs::read(path)?)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_install_script_downloads_verifies_enrolls_and_runs_the_agent() -> Result<()> {
    let bin = binaries()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let server = start_server(&bin, &data, free_port()?).await?;
    let admin = support::setup(&server.url, &server.data, "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Install").await?;
    let key = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/enrollment-keys",
            Some(json!({"org_id": org, "site_id": site, "name": "one-liner"})),
        )
        .await?;
    let secret = key["key"].as_str().context("key")?;
    let one_liner = key["install_script_command"]
        .as_str()
        .context("one-liner")?;
    ensure!(
        one_liner
            == format!(
                "curl -fsSL {}/install.sh | sudo sh -s -- --key {secret}",
                server.url
            ),
        "{one_liner}"
    );

    // What the one-liner's curl fetches, run unprivileged into a prefix.
    let script = support::http()
        .get(format!("{}/install.sh", server.url))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let prefix = dir.path().join("agent");
    let log_path = dir.path().join("install.log");
    let log = std::fs::File::create(&log_path)?;
    let t0 = Instant::now();
    let mut sh = Command::new("sh")
        .args(["-s", "--", "--key", secret, "--no-service", "--prefix"])
        .arg(&prefix)
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting sh")?;
    let mut stdin = sh.stdin.take().context("stdin")?;
    stdin.write_all(script.as_bytes()).await?;
    drop(stdin);

    let result = eventually(180, "the installed agent's device to check in", || {
        let admin = admin.clone();
        let site = site.clone();
        async move {
            let (_, v) = admin
                .get(&format!("/api/v1/devices?site_id={site}"))
                .await?;
            Ok(v["data"]
                .as_array()
                .and_then(|l| l.first())
                .filter(|d| d["status"] == "online")
                .cloned())
        }
    })
    .await;
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let device = result.with_context(|| format!("install.sh output:\n{log_text}"))?;
    println!(
        "install.sh: device online {:.1} s after the script started",
        t0.elapsed().as_secs_f64()
    );

    // The installed binary is the server's build, the state is under the prefix, and the
    // script said what it checked.
    let installed = prefix.join("bin/breeze-agent");
    ensure!(
        sha256_of(&installed)? == sha256_of(&bin.join("breeze-agent"))?,
        "installed binary differs from the build"
    );
    let creds = credentials(&prefix.join("state"))?;
    ensure!(creds["device_id"] == device["id"], "{creds} vs {device}");
    ensure!(
        log_text.contains("checksum verified"),
        "install.sh output:\n{log_text}"
    );
    // `exec` made the agent the script's process: stopping it stops the agent.
    sh.kill().await?;
    Ok(())
}
