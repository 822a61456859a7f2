//! Desired-state policies (issue 13): evaluation on agents at an interval, compliance
//! kept per device and rule, remediation in enforce mode.

use crate::state::AppState;
use breeze_proto::agent::CommandResult;
use breeze_proto::ids::DeviceId;

/// The agent sent a command result; policy checks take theirs.
pub async fn on_command_result(state: &AppState, device: DeviceId, result: &CommandResult) {
    let _ = (state, device, result);
}

/// The periodic work: policies due for evaluation. Called by the sweep.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let _ = state;
    Ok(())
}
