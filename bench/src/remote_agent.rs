//! One real agent on a fresh `breeze serve`, for the benchmarks that go through the relay
//! (`breeze-bench-terminal`, `breeze-bench-desktop --server`).

use crate::first_run::{FirstRun, first_run};
use anyhow::{Context as _, Result, bail};
use breeze_client::BreezeClient;
use breeze_proto::api::RemoteSessionCreated;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A running, enrolled agent and the admin who set the server up.
pub struct RemoteAgent {
    pub server: String,
    pub admin: BreezeClient,
    pub device_id: String,
    pub agent: tokio::process::Child,
    _state: tempfile::TempDir,
}

impl RemoteAgent {
    /// Finishes first-run setup of the fresh server at `server` (its data directory
    /// holds `setup-token`), enrolls `agent_bin` and starts it with `env` added.
    pub async fn start(
        server: &str,
        setup_data_dir: &Path,
        agent_bin: &Path,
        env: &[(&str, &str)],
    ) -> Result<RemoteAgent> {
        let FirstRun {
            admin,
            org_id,
            site_id,
            ..
        } = first_run(server, setup_data_dir, "Bench").await?;
        let key: Value = admin
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org_id, "site_id": site_id, "name": "bench", "max_uses": 1}),
            )
            .await?;
        let state = tempfile::tempdir()?;
        let st = std::process::Command::new(agent_bin)
            .arg("--state-dir")
            .arg(state.path())
            .args(["enroll", "--server", server, "--key"])
            .arg(key["key"].as_str().context("key")?)
            .status()?;
        if !st.success() {
            bail!("agent enrollment failed");
        }
        let creds: Value = serde_json::from_str(&std::fs::read_to_string(
            state.path().join("credentials.json"),
        )?)?;
        let device_id = creds["device_id"]
            .as_str()
            .context("device id")?
            .to_string();
        let mut cmd = tokio::process::Command::new(agent_bin);
        cmd.arg("--state-dir")
            .arg(state.path())
            .arg("run")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let agent = cmd.spawn()?;
        Ok(RemoteAgent {
            server: server.to_string(),
            admin,
            device_id,
            agent,
            _state: state,
        })
    }

    /// Opens a session of `kind` (extra fields in `body`), retrying until the agent's
    /// channel is up (60 s), and returns it with the socket URL to dial.
    pub async fn open_session(
        &self,
        kind: &str,
        mut body: Value,
    ) -> Result<(RemoteSessionCreated, String)> {
        body["device_id"] = json!(self.device_id);
        body["type"] = json!(kind);
        let deadline = Instant::now() + Duration::from_secs(60);
        let created: RemoteSessionCreated = loop {
            match self.admin.post("/api/v1/remote/sessions", &body).await {
                Ok(c) => break c,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => bail!("opening a {kind} session: {e}"),
            }
        };
        let url = format!(
            "{}{}?ticket={}",
            self.server.replacen("http://", "ws://", 1),
            created.ws_path,
            created.ticket
        );
        Ok((created, url))
    }
}
