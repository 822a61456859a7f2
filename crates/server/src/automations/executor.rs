//! Runs an automation's steps per device, durably.

use crate::state::AppState;
use breeze_proto::ids::CommandId;

pub fn on_command_settled(state: &AppState, command_id: CommandId) {
    let _ = (state, command_id);
}

/// Runs whose wait ended or whose commands settled advance; runs left mid-way by a dead
/// server resume or are marked interrupted.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let _ = state;
    Ok(())
}

/// What starts a run (placeholder in wt-sched until wt-auto's executor is merged).
pub struct StartRun {
    pub automation_id: breeze_proto::ids::AutomationId,
    pub trigger_type: String,
    pub trigger_context: serde_json::Value,
    pub scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    pub devices: Option<Vec<breeze_proto::ids::DeviceId>>,
    pub triggered_by: Option<breeze_proto::ids::UserId>,
    pub depth: u32,
}

/// Placeholder in wt-sched until wt-auto's executor is merged.
pub async fn start_run(
    state: &AppState,
    r: StartRun,
) -> anyhow::Result<Option<breeze_proto::ids::AutomationRunId>> {
    let _ = (state, r);
    Ok(None)
}
