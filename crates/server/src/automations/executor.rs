//! Runs an automation's steps per device, durably.

use crate::state::AppState;
use breeze_proto::ids::CommandId;

pub fn on_command_settled(state: &AppState, command_id: CommandId) {
    let _ = (state, command_id);
}
