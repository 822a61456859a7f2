//! Command handling: verify (signature, device, expiry, replay), acknowledge, run,
//! and put exactly one result per command id in the outbox.

use crate::clock::Clock;
use crate::executor::{self, ScriptJob};
use crate::outbox::Outbox;
use crate::replay::SeenCommands;
use anyhow::Result;
use breeze_proto::agent::{
    AckStatus, AgentConfig, Command, CommandAck, CommandParseError, CommandRejection,
    CommandResult, CommandStatus, RebootPayload, SignedCommand, VerifyingKey, verify_command,
};
use breeze_proto::ids::{CommandId, DeviceId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How a command reached the agent (decides where its acknowledgement goes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Channel,
    Heartbeat,
}

/// Requests from command handlers to the service loop.
#[derive(Debug)]
pub enum ServiceRequest {
    /// Collect and upload every inventory section now; answers a summary or an error.
    CollectInventory(oneshot::Sender<Result<String, String>>),
    /// Apply and persist a new configuration.
    UpdateConfig(AgentConfig),
}

/// What happened to a command handed to [`CommandHandler::handle`].
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Started(CommandId),
    Rejected(CommandId, CommandRejection),
    /// Delivered again while it runs or its result waits to be sent (a server replica
    /// died before it recorded the acknowledgement, and another one sent the command
    /// again): acknowledged again, not run again and not refused.
    Duplicate(CommandId),
}

/// Everything needed to handle commands; shared by the heartbeat and the channel.
pub struct CommandHandler {
    pub device_id: DeviceId,
    pub verifying_key: VerifyingKey,
    pub clock: Arc<dyn Clock>,
    pub outbox: Outbox,
    pub seen: Mutex<SeenCommands>,
    pub config: Arc<RwLock<AgentConfig>>,
    pub work_root: PathBuf,
    pub channel_acks: mpsc::UnboundedSender<CommandAck>,
    pub http_acks: mpsc::UnboundedSender<CommandAck>,
    pub service: mpsc::UnboundedSender<ServiceRequest>,
    /// Set to false in tests to log reboots instead of running `shutdown`.
    pub allow_reboot: bool,
    /// Where scripts send their live output (the channel task); `None`: not streamed.
    pub live_output: Option<mpsc::Sender<breeze_proto::agent::CommandOutput>>,
    /// Where scripts leave custom metrics (`BREEZE_METRICS_DIR`); `None`: not offered.
    pub metrics_dir: Option<PathBuf>,
    running: Mutex<HashMap<CommandId, CancellationToken>>,
    tasks: tokio_util::task::TaskTracker,
}

impl CommandHandler {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        device_id: DeviceId,
        verifying_key: VerifyingKey,
        clock: Arc<dyn Clock>,
        outbox: Outbox,
        seen: SeenCommands,
        config: Arc<RwLock<AgentConfig>>,
        work_root: PathBuf,
        channel_acks: mpsc::UnboundedSender<CommandAck>,
        http_acks: mpsc::UnboundedSender<CommandAck>,
        service: mpsc::UnboundedSender<ServiceRequest>,
    ) -> Self {
        Self {
            device_id,
            verifying_key,
            clock,
            outbox,
            seen: Mutex::new(seen),
            config,
            work_root,
            channel_acks,
            http_acks,
            service,
            allow_reboot: true,
            live_output: None,
            metrics_dir: None,
            running: Mutex::new(HashMap::new()),
            tasks: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Ids of commands running now.
    pub fn running(&self) -> Vec<CommandId> {
        self.running
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default()
    }

    fn config(&self) -> AgentConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Verifies `cmd` and starts it in the background, or records its rejection.
    pub fn handle(self: &Arc<Self>, cmd: SignedCommand, origin: Origin) -> Result<Handled> {
        let id = cmd.envelope.id;
        let ty = cmd.envelope.command_type.clone();
        let envelope =
            match verify_command(&self.verifying_key, &cmd, self.device_id, self.clock.now()) {
                Ok(e) => e,
                Err(reason) => return self.reject(id, &ty, reason, None),
            };
        let fresh = self
            .seen
            .lock()
            .map_err(|_| anyhow::anyhow!("replay guard lock poisoned"))?
            .insert(id, envelope.expires_at, self.clock.now())?;
        if !fresh {
            let running = self.running.lock().is_ok_and(|r| r.contains_key(&id));
            if running {
                tracing::info!(command_id = %id, "command delivered again while it runs; acknowledged again");
                self.acknowledge(id, origin);
                return Ok(Handled::Duplicate(id));
            }
            if self.outbox.contains(id) {
                tracing::info!(command_id = %id, "command delivered again after it ran; its result is on its way");
                return Ok(Handled::Duplicate(id));
            }
            return self.reject(id, &ty, CommandRejection::Replayed, None);
        }
        let command = match Command::parse(&envelope) {
            Ok(c) => c,
            Err(e) => {
                let reason = match e {
                    CommandParseError::Unsupported(_) => CommandRejection::Unsupported,
                    CommandParseError::InvalidPayload { .. } => CommandRejection::InvalidPayload,
                };
                return self.reject(id, &ty, reason, Some(e.to_string()));
            }
        };
        self.acknowledge(id, origin);
        let cancel = CancellationToken::new();
        if let Ok(mut r) = self.running.lock() {
            r.insert(id, cancel.clone());
        }
        tracing::info!(command_id = %id, command_type = %ty, ?origin, "command accepted");
        let me = self.clone();
        self.tasks.spawn(async move {
            let result = me.execute(id, &ty, command, cancel).await;
            if let Ok(mut r) = me.running.lock() {
                r.remove(&id);
            }
            me.store(&result);
        });
        Ok(Handled::Started(id))
    }

    /// Tells the server the command runs: over the channel when it came that way, else
    /// by HTTP.
    fn acknowledge(&self, id: CommandId, origin: Origin) {
        let ack = CommandAck {
            command_id: id,
            status: AckStatus::Running,
            started_at: self.clock.now(),
        };
        let sent = match origin {
            Origin::Channel => self.channel_acks.send(ack.clone()).is_ok(),
            Origin::Heartbeat => false,
        };
        if !sent {
            let _ = self.http_acks.send(ack);
        }
    }

    fn store(&self, result: &CommandResult) {
        match self.outbox.put(result) {
            Ok(true) => {
                tracing::info!(command_id = %result.command_id, status = result.status.as_str(), "result stored")
            }
            Ok(false) => {
                tracing::warn!(command_id = %result.command_id, "a result for this command is already waiting; kept the first")
            }
            Err(e) => {
                tracing::error!(command_id = %result.command_id, error = %format!("{e:#}"), "could not store result")
            }
        }
    }

    fn reject(
        &self,
        id: CommandId,
        ty: &str,
        reason: CommandRejection,
        detail: Option<String>,
    ) -> Result<Handled> {
        tracing::warn!(command_id = %id, command_type = %ty, reason = %reason, "command refused");
        let now = self.clock.now();
        let message = match detail {
            Some(d) => format!("{reason}: {d}"),
            None => reason.to_string(),
        };
        let mut result = blank_result(id, ty, now);
        result.status = CommandStatus::Rejected;
        result.rejection = Some(reason);
        result.error_message = Some(message);
        self.outbox.put(&result)?;
        Ok(Handled::Rejected(id, reason))
    }

    async fn execute(
        &self,
        id: CommandId,
        ty: &str,
        command: Command,
        cancel: CancellationToken,
    ) -> CommandResult {
        let started = self.clock.now();
        let finish = |status: CommandStatus,
                      exit_code: Option<i32>,
                      stdout: String,
                      error: Option<String>| {
            let mut r = blank_result(id, ty, self.clock.now());
            r.status = status;
            r.exit_code = exit_code;
            r.stdout = stdout;
            r.error_message = error;
            r.started_at = Some(started);
            r.duration_ms =
                u64::try_from((r.completed_at - started).num_milliseconds()).unwrap_or(0);
            r
        };
        match command {
            Command::RunScript(payload) => {
                let config = self.config();
                let secs = if payload.timeout_secs == 0 {
                    config.default_script_timeout_secs
                } else {
                    payload.timeout_secs
                };
                let job = ScriptJob {
                    command_id: id,
                    payload,
                    timeout: Duration::from_secs(secs.max(1)),
                    max_output_bytes: usize::try_from(config.max_output_bytes)
                        .unwrap_or(usize::MAX),
                    work_root: self.work_root.clone(),
                    live: self.live_output.clone(),
                    metrics_dir: self.metrics_dir.clone(),
                };
                executor::run_script(job, cancel, self.clock.as_ref()).await
            }
            Command::PolicyCheck(p) => {
                let config = self.config();
                let run = |s: breeze_proto::agent::PolicyCheckScript| {
                    let secs = if s.timeout_secs == 0 {
                        config.default_script_timeout_secs
                    } else {
                        s.timeout_secs
                    };
                    let job = ScriptJob {
                        command_id: CommandId::new(),
                        payload: breeze_proto::agent::RunScriptPayload {
                            execution_id: None,
                            script_id: Some(s.script_id),
                            script_version: None,
                            language: s.language,
                            content: s.content,
                            parameters: Default::default(),
                            timeout_secs: secs,
                            run_as: Default::default(),
                        },
                        timeout: Duration::from_secs(secs.max(1)),
                        max_output_bytes: 64 * 1024,
                        work_root: self.work_root.clone(),
                        live: None,
                        metrics_dir: None,
                    };
                    let cancel = cancel.child_token();
                    async move { executor::run_script(job, cancel, self.clock.as_ref()).await }
                };
                let report = crate::policy::evaluate(
                    &p,
                    &crate::policy::Sources::default(),
                    || crate::collectors::software::collect().map_err(|e| e.to_string()),
                    run,
                )
                .await;
                match serde_json::to_string(&report) {
                    Ok(json) => finish(CommandStatus::Completed, Some(0), json, None),
                    Err(e) => finish(
                        CommandStatus::Failed,
                        None,
                        String::new(),
                        Some(format!("encoding the report: {e}")),
                    ),
                }
            }
            Command::Reboot(p) => match self.reboot(&p).await {
                Ok(out) => finish(CommandStatus::Completed, Some(0), out, None),
                Err(e) => finish(
                    CommandStatus::Failed,
                    None,
                    String::new(),
                    Some(format!("{e:#}")),
                ),
            },
            Command::CollectInventoryNow => {
                let (tx, rx) = oneshot::channel();
                if self
                    .service
                    .send(ServiceRequest::CollectInventory(tx))
                    .is_err()
                {
                    return finish(
                        CommandStatus::Failed,
                        None,
                        String::new(),
                        Some("the service loop is not running".into()),
                    );
                }
                match tokio::time::timeout(Duration::from_secs(300), rx).await {
                    Ok(Ok(Ok(summary))) => finish(CommandStatus::Completed, Some(0), summary, None),
                    Ok(Ok(Err(e))) => finish(CommandStatus::Failed, None, String::new(), Some(e)),
                    _ => finish(
                        CommandStatus::Failed,
                        None,
                        String::new(),
                        Some("inventory collection did not finish".into()),
                    ),
                }
            }
            Command::UpdateConfig(p) => {
                if self
                    .service
                    .send(ServiceRequest::UpdateConfig(p.config))
                    .is_err()
                {
                    return finish(
                        CommandStatus::Failed,
                        None,
                        String::new(),
                        Some("the service loop is not running".into()),
                    );
                }
                finish(
                    CommandStatus::Completed,
                    Some(0),
                    "configuration updated".into(),
                    None,
                )
            }
            Command::Cancel(p) => {
                let token = self
                    .running
                    .lock()
                    .ok()
                    .and_then(|r| r.get(&p.command_id).cloned());
                match token {
                    Some(t) => {
                        t.cancel();
                        finish(
                            CommandStatus::Completed,
                            Some(0),
                            format!("cancelled command {}", p.command_id),
                            None,
                        )
                    }
                    None => finish(
                        CommandStatus::Failed,
                        None,
                        String::new(),
                        Some(format!(
                            "command {} is not running on this agent",
                            p.command_id
                        )),
                    ),
                }
            }
        }
    }

    async fn reboot(&self, p: &RebootPayload) -> Result<String> {
        let argv = reboot_command(p)?;
        if !self.allow_reboot {
            return Ok(format!(
                "reboot disabled in this agent; would run: {}",
                argv.join(" ")
            ));
        }
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| anyhow::anyhow!("running {}: {e}", argv[0]))?;
        if !out.status.success() {
            anyhow::bail!(
                "{} failed ({}): {}",
                argv.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(format!("reboot scheduled: {}", argv.join(" ")))
    }

    /// Cancels every running command (agent shutdown) and waits for their results
    /// to be stored.
    pub async fn shutdown(&self) {
        if let Ok(r) = self.running.lock() {
            for t in r.values() {
                t.cancel();
            }
        }
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Waits until every started command has stored its result (tests).
    pub async fn idle(&self) {
        loop {
            if self.running().is_empty() && self.tasks.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn blank_result(id: CommandId, ty: &str, now: chrono::DateTime<chrono::Utc>) -> CommandResult {
    CommandResult {
        command_id: id,
        command_type: ty.to_string(),
        status: CommandStatus::Failed,
        rejection: None,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 0,
        error_message: None,
        started_at: None,
        completed_at: now,
    }
}

/// The command line that schedules a reboot. Linux/macOS: `shutdown -r +MINUTES`
/// (at least one minute, so the result reaches the server first); Windows:
/// `shutdown /r /t SECONDS`.
pub fn reboot_command(p: &RebootPayload) -> Result<Vec<String>> {
    let message = p
        .message
        .clone()
        .unwrap_or_else(|| "Reboot requested by Breeze".into());
    if cfg!(windows) {
        return Ok(vec![
            "shutdown".into(),
            "/r".into(),
            "/t".into(),
            p.delay_secs.max(60).to_string(),
            "/c".into(),
            message,
        ]);
    }
    let program = if executor::find_program("shutdown").is_some() {
        "shutdown"
    } else {
        anyhow::bail!("`shutdown` was not found on PATH; cannot schedule a reboot")
    };
    let minutes = p.delay_secs.div_ceil(60).max(1);
    Ok(vec![
        program.into(),
        "-r".into(),
        format!("+{minutes}"),
        message,
    ])
}
