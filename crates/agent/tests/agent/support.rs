//! Shared helpers.

use breeze_agent::clock::SystemClock;
use breeze_agent::executor::{ScriptJob, run_script};
use breeze_proto::agent::{CommandResult, RunAs, RunScriptPayload, ScriptLanguage};
use breeze_proto::ids::CommandId;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub fn bash(content: &str) -> RunScriptPayload {
    RunScriptPayload {
        execution_id: None,
        script_id: None,
        script_version: None,
        language: ScriptLanguage::Bash,
        content: content.into(),
        parameters: BTreeMap::new(),
        timeout_secs: 0,
        run_as: RunAs::System,
    }
}

pub fn job(dir: &Path, payload: RunScriptPayload, timeout: Duration, cap: usize) -> ScriptJob {
    ScriptJob {
        command_id: CommandId::new(),
        payload,
        timeout,
        max_output_bytes: cap,
        work_root: dir.join("run"),
        live: None,
        metrics_dir: Some(dir.join("metrics.d")),
    }
}

pub async fn run(dir: &Path, payload: RunScriptPayload, timeout: Duration) -> CommandResult {
    run_script(
        job(dir, payload, timeout, 1 << 20),
        CancellationToken::new(),
        &SystemClock,
    )
    .await
}
