//! The service loop (`breeze-agent run`): heartbeat every interval, inventory when a
//! section changes, the WebSocket channel, the acknowledgement and result
//! delivery tasks, and a clean shutdown that cancels running scripts.

use crate::api::{AgentApi, ApiError};
use crate::backoff::{Backoff, RetryAfter};
use crate::channel::Channel;
use crate::clock::{ServerClock, SystemClock};
use crate::collectors::metrics::MetricsSampler;
use crate::commands::{CommandHandler, Origin, ServiceRequest};
use crate::inventory::{self, InventoryTracker};
use crate::outbox::Outbox;
use crate::replay::SeenCommands;
use crate::state::{Credentials, ServiceStatus, StateDir};
use anyhow::{Context as _, Result};
use breeze_proto::agent::{
    AgentConfig, AgentHealth, CommandAck, HeartbeatRequest, InventorySection, PROTOCOL_VERSION,
    verifying_key_from_base64,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Options for [`run`].
pub struct RunOptions {
    pub state_dir: PathBuf,
    pub ca_cert: Option<PathBuf>,
    /// Remote access settings (`[remote]` in agent.toml).
    pub remote: crate::remote::RemoteConfig,
}

fn clamp_config(mut c: AgentConfig) -> AgentConfig {
    c.heartbeat_interval_secs = c.heartbeat_interval_secs.clamp(5, 3600);
    c.inventory_interval_secs = c.inventory_interval_secs.clamp(60, 7 * 24 * 3600);
    c.max_backoff_secs = c.max_backoff_secs.clamp(5, 3600);
    c.max_output_bytes = c.max_output_bytes.clamp(1024, 64 * 1024 * 1024);
    c
}

/// Runs until SIGINT/SIGTERM or until the device is decommissioned.
pub async fn run(opts: RunOptions) -> Result<()> {
    let state = StateDir::open(&opts.state_dir)?;
    let creds = Credentials::require(&state)?;
    let verifying_key = verifying_key_from_base64(&creds.signing_public_key)
        .context("the stored command-signing key is invalid; re-enroll the agent")?;
    let http = crate::tls::http_client(opts.ca_cert.as_deref())?;
    let ws_tls = crate::tls::client_config(opts.ca_cert.as_deref(), &[])?;
    let config = Arc::new(RwLock::new(clamp_config(creds.config.clone())));
    let device_id = creds.device_id;
    let api = AgentApi::new(http, creds, state.clone())?;
    let server_clock = ServerClock::new(Arc::new(SystemClock));
    let outbox = Outbox::open(state.outbox())?;
    crate::executor::clean_work_root(&state.run());

    let (channel_acks_tx, channel_acks_rx) = mpsc::unbounded_channel();
    let (http_acks_tx, mut http_acks_rx) = mpsc::unbounded_channel::<CommandAck>();
    let (service_tx, mut service_rx) = mpsc::unbounded_channel();
    let (output_tx, output_rx) = mpsc::channel(crate::live_output::QUEUE_CAPACITY);
    let mut handler = CommandHandler::new(
        device_id,
        verifying_key,
        Arc::new(server_clock.clone()),
        outbox.clone(),
        SeenCommands::load(state.seen_commands())?,
        config.clone(),
        state.run(),
        channel_acks_tx,
        http_acks_tx,
        service_tx,
    );
    let ws_enabled = config.read().map(|c| c.ws_enabled).unwrap_or(true);
    if ws_enabled {
        handler.live_output = Some(output_tx);
    }
    let metrics_dir = state.metrics_dir();
    handler.metrics_dir = Some(metrics_dir.clone());
    let handler = Arc::new(handler);
    let shutdown = CancellationToken::new();
    let connected = Arc::new(AtomicBool::new(false));
    tracing::info!(agent_id = %api.agent_id(), server = %api.base(), "breeze-agent running");

    // Results: deliver whatever is in the outbox, now and whenever a new one lands.
    let deliverer = {
        let (api, outbox, shutdown, config) = (
            api.clone(),
            outbox.clone(),
            shutdown.clone(),
            config.clone(),
        );
        tokio::spawn(async move {
            let max = Duration::from_secs(config.read().map(|c| c.max_backoff_secs).unwrap_or(300));
            let mut backoff = Backoff::new(Duration::from_secs(1), max);
            let mut busy = RetryAfter::new(Duration::from_secs(1), max);
            loop {
                // `honour`: the server asked to be left alone this long, and a new result
                // does not cut the wait short (it waits in the outbox like the others).
                let (wait, honour) = match outbox.deliver_pending(&api).await {
                    Ok(report) if report.retry_reason.is_none() => {
                        backoff.reset();
                        busy.reset();
                        (Duration::from_secs(30), false)
                    }
                    Ok(report) => {
                        let (d, honour) = match report.retry_after {
                            Some(asked) => (busy.next_delay(asked), true),
                            None => (backoff.next_delay(), false),
                        };
                        tracing::warn!(reason = report.retry_reason.as_deref().unwrap_or(""), retry_in = ?d, pending = outbox.len(), "results not delivered yet");
                        (d, honour)
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "reading the outbox failed");
                        (backoff.next_delay(), false)
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = outbox.woken(), if !honour => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    };
    // Acknowledgements of commands that came by heartbeat (best effort).
    let acker = {
        let api = api.clone();
        tokio::spawn(async move {
            while let Some(ack) = http_acks_rx.recv().await {
                if let Err(e) = api.ack(&ack).await {
                    tracing::debug!(command_id = %ack.command_id, error = %e, "acknowledgement not delivered");
                }
            }
        })
    };
    let channel = if ws_enabled {
        let max_backoff =
            Duration::from_secs(config.read().map(|c| c.max_backoff_secs).unwrap_or(300));
        Some(tokio::spawn(
            Channel {
                api: api.clone(),
                handler: handler.clone(),
                tls: ws_tls,
                acks: channel_acks_rx,
                outputs: output_rx,
                connected: connected.clone(),
                server_clock: server_clock.clone(),
                max_backoff,
                shutdown: shutdown.clone(),
                remote: Arc::new(opts.remote.clone()),
                reconnect_within: None,
            }
            .run(),
        ))
    } else {
        None
    };

    let mut lp = Loop {
        api,
        state,
        handler: handler.clone(),
        config,
        server_clock,
        sampler: Arc::new(Mutex::new(
            MetricsSampler::new()?.with_custom_dir(metrics_dir),
        )),
        tracker: InventoryTracker::load(opts.state_dir.join("inventory_hashes.json"))?,
        outbox,
        connected,
        last_user: None,
        inventory_warnings: Vec::new(),
    };
    let outcome = lp.main_loop(&mut service_rx).await;

    tracing::info!("stopping: cancelling running commands");
    shutdown.cancel();
    handler.shutdown().await;
    if let Some(c) = channel {
        let _ = c.await;
    }
    let _ = deliverer.await;
    acker.abort();
    outcome
}

struct Loop {
    api: AgentApi,
    state: StateDir,
    handler: Arc<CommandHandler>,
    config: Arc<RwLock<AgentConfig>>,
    server_clock: ServerClock,
    sampler: Arc<Mutex<MetricsSampler>>,
    tracker: InventoryTracker,
    outbox: Outbox,
    connected: Arc<AtomicBool>,
    last_user: Option<String>,
    inventory_warnings: Vec<String>,
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

impl Loop {
    fn config(&self) -> AgentConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    async fn main_loop(
        &mut self,
        requests: &mut mpsc::UnboundedReceiver<ServiceRequest>,
    ) -> Result<()> {
        let stop = stop_signal();
        tokio::pin!(stop);
        let mut next_heartbeat = tokio::time::Instant::now();
        let mut next_inventory = tokio::time::Instant::now();
        let mut forced: Vec<InventorySection> = Vec::new();
        // An overloaded server answers 503 with `Retry-After`: the heartbeat or upload is
        // sent again after that long plus jitter (not a whole interval later, so the
        // device does not look offline; not sooner, so the server gets its breather).
        let max_backoff = Duration::from_secs(self.config().max_backoff_secs);
        let mut heartbeat_busy = RetryAfter::new(Duration::from_secs(1), max_backoff);
        let mut inventory_busy = RetryAfter::new(Duration::from_secs(1), max_backoff);
        loop {
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep_until(next_heartbeat) => {
                    let interval = Duration::from_secs(self.config().heartbeat_interval_secs);
                    next_heartbeat = tokio::time::Instant::now() + interval;
                    match self.heartbeat().await {
                        Ok(requested) => {
                            heartbeat_busy.reset();
                            if !requested.is_empty() {
                                forced.extend(requested);
                                next_inventory = tokio::time::Instant::now();
                            }
                        }
                        Err(ApiError::Decommissioned) => {
                            tracing::error!("the server says this device was decommissioned; stopping");
                            return Err(ApiError::Decommissioned.into());
                        }
                        Err(e) => match e.retry_after() {
                            Some(asked) => {
                                let wait = heartbeat_busy.next_delay(asked);
                                next_heartbeat = tokio::time::Instant::now() + wait;
                                tracing::warn!(error = %e, retry_in = ?wait, "the server is busy; heartbeat postponed");
                            }
                            None => tracing::warn!(error = %e, "heartbeat failed"),
                        },
                    }
                }
                () = tokio::time::sleep_until(next_inventory) => {
                    let interval = Duration::from_secs(self.config().inventory_interval_secs);
                    next_inventory = tokio::time::Instant::now() + interval;
                    let sections = std::mem::take(&mut forced);
                    match self.inventory(&sections).await {
                        Ok(_) => inventory_busy.reset(),
                        Err(e) => {
                            forced = sections;
                            match e.downcast_ref::<ApiError>().and_then(ApiError::retry_after) {
                                Some(asked) => {
                                    let wait = inventory_busy.next_delay(asked);
                                    next_inventory = tokio::time::Instant::now() + wait;
                                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?wait, "the server is busy; inventory upload postponed");
                                }
                                None => tracing::warn!(error = %format!("{e:#}"), "inventory upload failed"),
                            }
                        }
                    }
                }
                req = requests.recv() => match req {
                    Some(ServiceRequest::CollectInventory(reply)) => {
                        let outcome = self.inventory(&InventorySection::ALL).await.map_err(|e| format!("{e:#}"));
                        let _ = reply.send(outcome);
                    }
                    Some(ServiceRequest::UpdateConfig(config)) => self.apply_config(config),
                    None => return Ok(()),
                },
            }
        }
    }

    fn apply_config(&mut self, config: AgentConfig) {
        let config = clamp_config(config);
        if let Ok(mut c) = self.config.write() {
            *c = config.clone();
        }
        if let Err(e) = self.api.update_credentials(|c| c.config = config) {
            tracing::error!(error = %e, "could not persist the new configuration");
        }
        tracing::info!("configuration updated");
    }

    /// One heartbeat; returns the inventory sections the server asked for.
    async fn heartbeat(&mut self) -> Result<Vec<InventorySection>, ApiError> {
        let sampler = self.sampler.clone();
        let metrics = tokio::task::spawn_blocking(move || {
            sampler.lock().map(|mut s| s.sample()).unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let pending = self.outbox.len();
        let mut reasons = self.inventory_warnings.clone();
        if pending > 10 {
            reasons.push(format!("{pending} command results waiting to be delivered"));
        }
        let req = HeartbeatRequest {
            protocol_version: PROTOCOL_VERSION,
            agent_version: crate::AGENT_VERSION.into(),
            sent_at: self.server_clock.local().now(),
            status: if reasons.is_empty() {
                AgentHealth::Ok
            } else {
                AgentHealth::Warning
            },
            status_reasons: reasons,
            metrics,
            pending_reboot: crate::collectors::os::pending_reboot(),
            last_user: self.last_user.clone(),
            uptime_secs: crate::collectors::os::uptime_secs(),
            inventory_hashes: self.tracker.accepted().clone(),
            confirm_token_rotation: false,
            running_commands: self.handler.running(),
            outbox_pending: u32::try_from(pending).unwrap_or(u32::MAX),
        };
        let outcome = self.api.heartbeat(req).await;
        self.save_status(&outcome);
        let resp = outcome?;
        if let Some(t) = resp.server_time {
            self.server_clock.observe(t);
        }
        if let Some(config) = resp.config_update.clone() {
            self.apply_config(config);
        }
        if let Some(v) = &resp.upgrade_to {
            tracing::warn!(version = %v, "server asks for an upgrade; self-update is not supported yet by this agent");
        }
        for cmd in resp.commands {
            if let Err(e) = self.handler.handle(cmd, Origin::Heartbeat) {
                tracing::error!(error = %format!("{e:#}"), "could not handle a command from the heartbeat");
            }
        }
        Ok(resp.inventory_requested)
    }

    fn save_status(&self, outcome: &Result<breeze_proto::agent::HeartbeatResponse, ApiError>) {
        let now = self.server_clock.local().now();
        let status = ServiceStatus {
            pid: Some(std::process::id()),
            agent_version: crate::AGENT_VERSION.into(),
            last_heartbeat_at: Some(now),
            last_heartbeat_ok: outcome.is_ok(),
            last_error: outcome.as_ref().err().map(|e| e.to_string()),
            channel_connected: self.connected.load(Ordering::SeqCst),
            outbox_pending: u32::try_from(self.outbox.len()).unwrap_or(u32::MAX),
            updated_at: Some(now),
        };
        if let Err(e) = status.save(&self.state) {
            tracing::warn!(error = %format!("{e:#}"), "could not write status.json");
        }
    }

    /// Collects every section and uploads the changed (or `forced`) ones.
    async fn inventory(&mut self, forced: &[InventorySection]) -> Result<String> {
        let config = self.config();
        let now = self.server_clock.local().now();
        let collected = tokio::task::spawn_blocking(move || inventory::collect_all(&config, now))
            .await
            .context("inventory collection panicked")?;
        self.inventory_warnings = collected
            .unavailable
            .iter()
            .map(|(s, why)| format!("inventory section {}: {why}", s.as_str()))
            .collect();
        if let Some(users) = &collected.full.users {
            self.last_user = crate::collectors::users::last_user(users);
        }
        let Some(upload) = self.tracker.upload_for(&collected.full, forced) else {
            return Ok("inventory unchanged".into());
        };
        let sections: Vec<&str> = upload.sections().iter().map(|s| s.as_str()).collect();
        let summary = format!("inventory sent: {}", sections.join(", "));
        self.api.put_inventory(&upload).await?;
        self.tracker.mark_accepted(&upload)?;
        tracing::info!(%summary);
        Ok(summary)
    }
}
