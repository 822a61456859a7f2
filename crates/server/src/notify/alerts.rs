//! Alert notifications: the alert engine calls [`alert_event`] when an alert is raised or
//! resolved; this turns the rule's channels (and its escalation policy's first step) into
//! deliveries, each a durable job.

use crate::state::AppState;
use breeze_proto::api::Alert;

/// What happened to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEvent {
    Triggered,
    Resolved,
}

impl AlertEvent {
    /// The `event` of a webhook body.
    pub fn name(self) -> &'static str {
        match self {
            AlertEvent::Triggered => "alert.triggered",
            AlertEvent::Resolved => "alert.resolved",
        }
    }
}

/// Queues the notifications for `alert`: one delivery per channel of its rule.
pub async fn alert_event(state: &AppState, alert: &Alert, event: AlertEvent) -> anyhow::Result<()> {
    // Filled in by the delivery work (issue 11, channels); the engine calls it already.
    let _ = (state, alert, event);
    Ok(())
}
