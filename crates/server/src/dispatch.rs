//! Getting commands to agents: signing and queueing them, and waking the WebSocket
//! task that serves a connected agent.
//!
//! The hub holds the agent channels connected to *this* replica. It carries only a
//! wake-up ("device X has pending commands"), never the command itself: the queue in the
//! database is the truth and the channel task takes from it. When the device's channel
//! is on another replica, [`AgentHub::notify`] publishes the wake-up on the cluster bus
//! ([`crate::cluster`]) and that replica's subscriber calls [`AgentHub::wake_local`].

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use breeze_proto::agent::{
    Command, CommandEnvelope, RunScriptPayload, SignedCommand, sign_command,
};
use breeze_proto::ids::{CommandId, DeviceId, ExecutionId, OrgId, UserId};
use breeze_store::command_sweeps::Settled;
use breeze_store::commands::{self, NewCommand};
use breeze_store::scripts::{self, NewExecution};
use chrono::Duration;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Registry of agent channels connected to this process.
pub struct AgentHub {
    conns: Mutex<HashMap<DeviceId, Conn>>,
    next: AtomicU64,
    cluster: std::sync::Arc<crate::cluster::Cluster>,
    /// Set when the server drains: the window (ms) agents get to reconnect elsewhere.
    drain: tokio::sync::watch::Sender<Option<u64>>,
}

struct Conn {
    id: u64,
    wake: mpsc::Sender<()>,
    /// The channel's streams (remote access, issue 12).
    mux: breeze_mux::Mux,
}

impl AgentHub {
    pub fn new(cluster: std::sync::Arc<crate::cluster::Cluster>) -> AgentHub {
        AgentHub {
            conns: Mutex::default(),
            next: AtomicU64::new(0),
            cluster,
            drain: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Tells every channel here to send its agent away (a `reconnect` frame asking it to
    /// come back within half of `budget`, through the same address) and close.
    pub fn drain(&self, budget: std::time::Duration) {
        let within = (budget.as_millis() / 2).clamp(100, 60_000) as u64;
        self.drain.send_replace(Some(within));
    }

    /// Changes to [`AgentHub::drain`], for a channel task.
    pub fn drain_signal(&self) -> tokio::sync::watch::Receiver<Option<u64>> {
        self.drain.subscribe()
    }

    /// Registers a channel for `device`, replacing (and so closing) an older one.
    /// Answers the connection id and the wake-up receiver (capacity 1: wake-ups
    /// coalesce; the task drains the whole queue on each).
    pub fn register(&self, device: DeviceId, mux: breeze_mux::Mux) -> (u64, mpsc::Receiver<()>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(1);
        self.lock().insert(device, Conn { id, wake: tx, mux });
        (id, rx)
    }

    /// The stream multiplexer of `device`'s channel, when it is connected here.
    pub fn mux(&self, device: DeviceId) -> Option<breeze_mux::Mux> {
        self.lock().get(&device).map(|c| c.mux.clone())
    }

    /// Removes the channel, if it is still the registered one.
    pub fn unregister(&self, device: DeviceId, conn: u64) {
        let mut m = self.lock();
        if m.get(&device).is_some_and(|c| c.id == conn) {
            m.remove(&device);
        }
    }

    /// Closes the device's channel (decommissioned, token suspended), on whichever
    /// replica holds it.
    pub fn disconnect(&self, device: DeviceId) {
        self.disconnect_local(device);
        self.cluster.disconnect(device);
    }

    /// Closes the device's channel if it is connected here.
    pub fn disconnect_local(&self, device: DeviceId) {
        self.lock().remove(&device);
    }

    /// "Device has new commands": wakes its channel task here, or asks the other
    /// replicas to when it is not connected here. True when it was woken here.
    pub fn notify(&self, device: DeviceId) -> bool {
        let here = self.wake_local(device);
        if !here {
            self.cluster.wake(device);
        }
        here
    }

    /// Wakes the local channel task of `device`; false when none is connected.
    pub fn wake_local(&self, device: DeviceId) -> bool {
        match self.lock().get(&device) {
            // Full means a wake-up is already waiting: nothing is lost.
            Some(c) => !matches!(
                c.wake.try_send(()),
                Err(mpsc::error::TrySendError::Closed(_))
            ),
            None => false,
        }
    }

    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Signs a command for `device` with the server's key.
pub fn sign(
    state: &AppState,
    device: DeviceId,
    id: CommandId,
    command: &Command,
    ttl: Duration,
) -> ApiResult<SignedCommand> {
    let now = state.now();
    let payload = command
        .payload_json()
        .map_err(|e| ApiError::validation("payload", e.to_string()))?;
    Ok(sign_command(
        &state.keys.signing,
        CommandEnvelope {
            id,
            device_id: device,
            command_type: command.command_type().as_str().to_string(),
            payload,
            issued_at: now,
            expires_at: now + ttl,
            nonce: None,
        },
    ))
}

/// Signs, queues and announces one command. Answers its id.
pub async fn queue(
    state: &AppState,
    device: DeviceId,
    org: OrgId,
    command: &Command,
    ttl: Duration,
    created_by: Option<UserId>,
) -> ApiResult<CommandId> {
    let id = CommandId::new();
    let signed = sign(state, device, id, command, ttl)?;
    commands::enqueue(
        &state.db,
        &NewCommand {
            device_id: device,
            org_id: org,
            signed: &signed,
            created_by,
            created_at: state.now(),
            timeout_secs: None,
        },
    )
    .await?;
    state.hub.notify(device);
    Ok(id)
}

/// What of a script a run needs (from an API `Script`, or a narrower store row).
pub struct ScriptRef<'a> {
    pub id: breeze_proto::ids::ScriptId,
    pub version: i64,
    pub content: &'a str,
    pub run_as: &'a breeze_proto::agent::RunAs,
    pub timeout_seconds: i64,
}

impl<'a> From<&'a breeze_proto::api::Script> for ScriptRef<'a> {
    fn from(s: &'a breeze_proto::api::Script) -> Self {
        Self {
            id: s.id,
            version: s.version,
            content: &s.content,
            run_as: &s.run_as,
            timeout_seconds: s.timeout_seconds,
        }
    }
}

/// One script run on one device, for [`queue_script_tx`].
pub struct ScriptRun<'a> {
    pub script: ScriptRef<'a>,
    pub language: breeze_proto::agent::ScriptLanguage,
    /// Checked against the script's schema.
    pub parameters: &'a std::collections::BTreeMap<String, String>,
    pub device: DeviceId,
    pub org: OrgId,
    pub triggered_by: Option<UserId>,
    /// `manual`, `automation`, …
    pub trigger_type: &'a str,
    /// The script's own timeout unless given.
    pub timeout_secs: Option<i64>,
}

/// Signs and queues a run_script command and inserts its execution row, inside `tx` (the
/// caller commits, then wakes the device with `state.hub.notify`). Answers the ids.
pub async fn queue_script_tx(
    state: &AppState,
    tx: &mut breeze_store::Tx,
    r: &ScriptRun<'_>,
) -> ApiResult<(CommandId, ExecutionId)> {
    let command_id = CommandId::new();
    let execution_id = ExecutionId::new();
    let timeout = r.timeout_secs.unwrap_or(r.script.timeout_seconds);
    let command = Command::RunScript(RunScriptPayload {
        execution_id: Some(execution_id),
        script_id: Some(r.script.id),
        script_version: u32::try_from(r.script.version).ok(),
        language: r.language,
        content: r.script.content.to_string(),
        parameters: r.parameters.clone(),
        timeout_secs: u64::try_from(timeout).unwrap_or(300),
        run_as: r.script.run_as.clone(),
    });
    let signed = sign(state, r.device, command_id, &command, default_ttl(state))?;
    let now = state.now();
    commands::enqueue_tx(
        tx,
        &NewCommand {
            device_id: r.device,
            org_id: r.org,
            signed: &signed,
            created_by: r.triggered_by,
            created_at: now,
            timeout_secs: Some(timeout),
        },
    )
    .await?;
    scripts::insert_execution_tx(
        tx,
        &NewExecution {
            id: execution_id,
            script_id: r.script.id,
            script_version: r.script.version,
            device_id: r.device,
            org_id: r.org,
            command_id,
            triggered_by: r.triggered_by,
            trigger_type: r.trigger_type,
            parameters: serde_json::json!(r.parameters),
        },
        now,
    )
    .await?;
    Ok((command_id, execution_id))
}

/// Tells the live streams about commands the server settled itself (cancelled by a
/// quarantine, lost): `command.updated`, or `execution.updated` for a script run.
pub fn publish_settled(state: &AppState, settled: &[Settled]) {
    for s in settled {
        crate::automations::on_command_settled(state, s.command_id);
        state.events.publish(
            s.at,
            &crate::events::command_updated(s.at.device_id, s.command_id, s.execution_id, s.status),
        );
    }
}

/// The default time a command may wait for its agent.
pub fn default_ttl(state: &AppState) -> Duration {
    Duration::seconds(state.config.agents.command_ttl_secs)
}
