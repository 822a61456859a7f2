//! Event triggers: which automations an event starts.

use super::AutomationEvent;
use crate::state::AppState;

pub fn on_event(state: &AppState, event: AutomationEvent) {
    let _ = (state, event);
}
