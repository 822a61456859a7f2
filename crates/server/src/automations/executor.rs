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
