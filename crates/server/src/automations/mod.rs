//! Automations (issue 13): triggers start runs; the executor walks each run's steps
//! durably (state in the store, so a restart resumes or marks it interrupted).

use crate::state::AppState;
use breeze_core::scope::DeviceCoords;
use breeze_proto::ids::{
    AlertId, AlertRuleId, CommandId, DeviceId, ExecutionId, OrgId, ScriptId, SiteId,
};

pub mod executor;
pub mod model;
pub mod schedule;
pub mod triggers;
pub mod webhook;

/// Something happened that event-triggered automations may react to. Raised from hot
/// paths (heartbeats, results, sweeps), so [`on_event`] never blocks on the store.
#[derive(Clone, Debug)]
pub enum AutomationEvent {
    DeviceEnrolled {
        at: DeviceCoords,
    },
    /// The sweep marked the device offline (an automation may ask for "offline for N
    /// minutes"; the trigger code handles the wait).
    DeviceOffline {
        at: DeviceCoords,
    },
    AlertTriggered {
        org_id: OrgId,
        site_id: SiteId,
        device_id: DeviceId,
        rule_id: AlertRuleId,
        alert_id: AlertId,
    },
    ScriptFailed {
        at: DeviceCoords,
        script_id: Option<ScriptId>,
        execution_id: Option<ExecutionId>,
        exit_code: Option<i32>,
    },
    SoftwareChanged {
        at: DeviceCoords,
        installed: Vec<String>,
        removed: Vec<String>,
    },
}

/// Hands an event to the automation triggers (non-blocking).
pub fn on_event(state: &AppState, event: AutomationEvent) {
    triggers::on_event(state, event);
}

/// A command reached a final state (result recorded, lost, expired, cancelled): runs
/// waiting on it may advance.
pub fn on_command_settled(state: &AppState, command_id: CommandId) {
    executor::on_command_settled(state, command_id);
}

/// The periodic work: due schedules, waits that ended, runs to resume. Called by the sweep.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    schedule::sweep(state).await?;
    triggers::sweep(state).await?;
    executor::sweep(state).await
}
