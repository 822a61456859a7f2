//! Event triggers: which automations an event starts.

use super::AutomationEvent;
use crate::state::AppState;

pub fn on_event(state: &AppState, event: AutomationEvent) {
    let _ = (state, event);
}

/// Time-based event triggers (a device offline for N minutes).
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let _ = state;
    Ok(())
}
