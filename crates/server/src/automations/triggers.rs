//! Event triggers: which automations an event starts.
//!
//! [`on_event`] is called from hot paths (enrollment, the offline sweep, alert triggering,
//! script results, inventory uploads), so it only spawns a task. The task reads the
//! enabled event automations of the device's organization (one indexed query; no cache to
//! keep in step with edits), keeps those whose `event` matches — and whose `rule_id`
//! (alert.triggered) or `script_id` (script.failed) filter, if any, matches — and whose
//! targets include the device, and starts a run of each for that one device, with the
//! event's details as the trigger context.
//!
//! `device.offline` with `"minutes": N` (N > 0) does not start on the event: [`sweep`]
//! starts it once the device has stayed offline N minutes (since its latest `offline`
//! event), once per offline spell: a run of the automation that includes the device and
//! started after the spell began means it already fired; the device must come back online
//! and go offline again to start a new spell. The sweep runs under the job lease
//! `automation.triggers`, so two servers do not both start it.

use super::AutomationEvent;
use super::executor::{self, StartRun};
use crate::state::AppState;
use breeze_core::alerts::Targets;
use breeze_proto::ids::{DeviceId, OrgId};
use breeze_store::automation_runs::resolve_targets_for_system;
use breeze_store::{automation_schedule as store, leases};
use chrono::Duration;
use serde_json::{Value, json};

/// The job lease the time-based trigger sweep runs under.
pub const LEASE: &str = "automation.triggers";

/// An event as the triggers match it.
struct Fired {
    org_id: OrgId,
    device_id: DeviceId,
    /// `device.enrolled`, `device.offline`, …
    event: &'static str,
    /// The id an automation's filter compares (`rule_id` / `script_id`), if the event has one.
    filter: Option<(&'static str, String)>,
    context: Value,
}

fn describe(event: AutomationEvent) -> Fired {
    match event {
        AutomationEvent::DeviceEnrolled { at } => Fired {
            org_id: at.org_id,
            device_id: at.device_id,
            event: "device.enrolled",
            filter: None,
            context: json!({"event": "device.enrolled", "device_id": at.device_id, "site_id": at.site_id}),
        },
        AutomationEvent::DeviceOffline { at } => Fired {
            org_id: at.org_id,
            device_id: at.device_id,
            event: "device.offline",
            filter: None,
            context: json!({"event": "device.offline", "device_id": at.device_id, "site_id": at.site_id}),
        },
        AutomationEvent::AlertTriggered {
            org_id,
            site_id,
            device_id,
            rule_id,
            alert_id,
        } => Fired {
            org_id,
            device_id,
            event: "alert.triggered",
            filter: Some(("rule_id", rule_id.to_string())),
            context: json!({"event": "alert.triggered", "device_id": device_id, "site_id": site_id,
                "rule_id": rule_id, "alert_id": alert_id}),
        },
        AutomationEvent::ScriptFailed {
            at,
            script_id,
            execution_id,
            exit_code,
        } => Fired {
            org_id: at.org_id,
            device_id: at.device_id,
            event: "script.failed",
            filter: script_id.map(|s| ("script_id", s.to_string())),
            context: json!({"event": "script.failed", "device_id": at.device_id, "site_id": at.site_id,
                "script_id": script_id, "execution_id": execution_id, "exit_code": exit_code}),
        },
        AutomationEvent::SoftwareChanged {
            at,
            installed,
            removed,
        } => Fired {
            org_id: at.org_id,
            device_id: at.device_id,
            event: "software.changed",
            filter: None,
            context: json!({"event": "software.changed", "device_id": at.device_id, "site_id": at.site_id,
                "installed": installed, "removed": removed}),
        },
    }
}

/// `device.offline`'s `minutes` (0 when absent).
fn offline_minutes(trigger: &Value) -> i64 {
    trigger.get("minutes").and_then(Value::as_i64).unwrap_or(0)
}

/// Whether an event automation's trigger asks for this event now.
fn wants(trigger: &Value, f: &Fired) -> bool {
    if trigger.get("event").and_then(Value::as_str) != Some(f.event) {
        return false;
    }
    if f.event == "device.offline" && offline_minutes(trigger) > 0 {
        // Started by the sweep once the device stayed offline that long.
        return false;
    }
    for key in ["rule_id", "script_id"] {
        if let Some(want) = trigger.get(key).and_then(Value::as_str) {
            // A filter on an id the event lacks (a script.failed of an ad-hoc script)
            // does not match.
            match &f.filter {
                Some((k, id)) if *k == key && id == want => {}
                _ => return false,
            }
        }
    }
    true
}

/// Hands an event to the triggers without waiting (spawns a task; outside a runtime,
/// which only happens in unit code, the event is dropped with a log line).
pub fn on_event(state: &AppState, event: AutomationEvent) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(?event, "automation event outside a runtime; dropped");
        return;
    };
    let state = state.clone();
    rt.spawn(async move {
        if let Err(e) = handle(&state, describe(event)).await {
            tracing::error!(error = format!("{e:#}"), "automation event trigger failed");
        }
    });
}

async fn handle(state: &AppState, f: Fired) -> anyhow::Result<()> {
    let autos = store::event_automations_for_system(&state.db, Some(f.org_id)).await?;
    for a in autos.iter().filter(|a| wants(&a.trigger, &f)) {
        if let Err(e) = start_for_device(state, a, f.device_id, f.context.clone()).await {
            tracing::error!(automation = %a.id, device = %f.device_id, error = format!("{e:#}"),
                "starting an event automation failed");
        }
    }
    Ok(())
}

/// Starts `a` on `device` when its targets include the device.
async fn start_for_device(
    state: &AppState,
    a: &store::TriggerAutomation,
    device: DeviceId,
    context: Value,
) -> anyhow::Result<()> {
    let targets = Targets::parse("targets", &a.targets)
        .map_err(|e| anyhow::anyhow!("targets: {}", e.message))?;
    let hit = resolve_targets_for_system(&state.db, a.org_id, &targets, Some(&[device])).await?;
    if hit.is_empty() {
        return Ok(());
    }
    let run = executor::start_run(
        state,
        StartRun {
            automation_id: a.id,
            trigger_type: "event".into(),
            trigger_context: context,
            scheduled_for: None,
            devices: Some(vec![device]),
            triggered_by: None,
            depth: 0,
        },
    )
    .await?;
    if let Some(run) = run {
        tracing::info!(automation = %a.id, %device, %run, "event automation started");
    }
    Ok(())
}

/// Time-based event triggers: devices offline for N minutes.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let autos: Vec<_> = store::event_automations_for_system(&state.db, None)
        .await?
        .into_iter()
        .filter(|a| {
            a.trigger.get("event").and_then(Value::as_str) == Some("device.offline")
                && offline_minutes(&a.trigger) > 0
        })
        .collect();
    if autos.is_empty() {
        return Ok(());
    }
    let ttl = super::schedule::lease_ttl(state);
    if !leases::try_acquire(&state.db, LEASE, super::schedule::holder(state), ttl, now).await? {
        return Ok(());
    }
    for a in autos {
        let minutes = offline_minutes(&a.trigger);
        let spells = store::offline_spells_for_system(
            &state.db,
            a.id,
            a.org_id,
            now - Duration::minutes(minutes),
        )
        .await?;
        for s in spells {
            let context = json!({"event": "device.offline", "device_id": s.device_id,
                "site_id": s.site_id, "offline_since": s.since, "minutes": minutes});
            if let Err(e) = start_for_device(state, &a, s.device_id, context).await {
                tracing::error!(automation = %a.id, device = %s.device_id, error = format!("{e:#}"),
                    "starting an offline automation failed");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(event: &'static str, filter: Option<(&'static str, &str)>) -> Fired {
        Fired {
            org_id: OrgId(uuid::Uuid::nil()),
            device_id: DeviceId(uuid::Uuid::nil()),
            event,
            filter: filter.map(|(k, v)| (k, v.to_string())),
            context: Value::Null,
        }
    }

    #[test]
    fn events_match_name_and_filters() {
        let enrolled = fired("device.enrolled", None);
        assert!(wants(&json!({"event": "device.enrolled"}), &enrolled));
        assert!(!wants(&json!({"event": "device.offline"}), &enrolled));
        let offline = fired("device.offline", None);
        assert!(wants(&json!({"event": "device.offline"}), &offline));
        assert!(wants(
            &json!({"event": "device.offline", "minutes": 0}),
            &offline
        ));
        assert!(!wants(
            &json!({"event": "device.offline", "minutes": 5}),
            &offline
        ));
        let alert = fired("alert.triggered", Some(("rule_id", "r1")));
        assert!(wants(&json!({"event": "alert.triggered"}), &alert));
        assert!(wants(
            &json!({"event": "alert.triggered", "rule_id": "r1"}),
            &alert
        ));
        assert!(!wants(
            &json!({"event": "alert.triggered", "rule_id": "r2"}),
            &alert
        ));
        let adhoc = fired("script.failed", None);
        assert!(wants(&json!({"event": "script.failed"}), &adhoc));
        assert!(!wants(
            &json!({"event": "script.failed", "script_id": "s1"}),
            &adhoc
        ));
        let script = fired("script.failed", Some(("script_id", "s1")));
        assert!(wants(
            &json!({"event": "script.failed", "script_id": "s1"}),
            &script
        ));
    }
}
