//! Desired-state policies (issue 13): evaluation on agents at an interval, compliance
//! kept per device and rule, remediation in enforce mode.
//!
//! - The sweep matches each enabled policy's targets against its organization's devices
//!   (every [`RECONCILE_EVERY`], or at once after the targets or rules changed), then
//!   queues a signed `policy_check` to online devices whose last check is older than the
//!   policy's interval, at most [`SWEEP_BUDGET`] per sweep. A device has at most one check
//!   in flight per policy; offline, quarantined and decommissioned devices are skipped and
//!   keep their last status (or `unknown`).
//! - The agent answers in the command result (a [`PolicyCheckReport`] in `stdout`);
//!   [`on_command_result`] recognises the command by its id and records the outcomes
//!   (counts move in the same transaction).
//! - A device that turns non-compliant raises `policy.compliance` (live event) in every
//!   mode, plus a device event in warn and enforce mode; in enforce mode the remediation
//!   script runs (trigger `policy`) while the device's attempts stay under the limit, and
//!   its result queues a new check.

use crate::error::ApiResult;
use crate::state::AppState;
use anyhow::Context;
use breeze_core::Scope;
use breeze_core::alerts::{TargetFacts, Targets};
use breeze_core::policy_rules;
use breeze_proto::agent::{
    Command, CommandResult, CommandStatus, PolicyCheckPayload, PolicyCheckReport, PolicyCheckScript,
};
use breeze_proto::api::{
    ComplianceStatus, Enforcement, LiveEvent, Policy, PolicyEvaluation, PolicyRule,
};
use breeze_proto::ids::{CommandId, DeviceId, OrgId};
use breeze_store::commands::{self, NewCommand};
use breeze_store::device_events::{self, Actor, NewEvent};
use breeze_store::policy_compliance::{self as compliance, CommandKind, Outcome, TargetDevice};
use breeze_store::{alerts, policies};
use chrono::Duration;
use serde_json::json;
use std::collections::BTreeMap;

/// How often the sweep matches a policy's targets against the devices again.
pub const RECONCILE_EVERY: Duration = Duration::minutes(5);
/// Checks queued per sweep, over all policies.
pub const SWEEP_BUDGET: i64 = 1000;
/// Checks queued by one `evaluate` request.
pub const EVALUATE_LIMIT: usize = 5000;

/// The devices of the policy's organization its targets pick.
async fn targeted(state: &AppState, p: &Policy) -> anyhow::Result<Vec<TargetDevice>> {
    let targets = Targets::parse("targets", &p.targets)
        .map_err(|e| anyhow::anyhow!("policy {} targets: {e}", p.id))?;
    let devices = compliance::org_devices_for_system(&state.db, p.org_id).await?;
    Ok(devices
        .into_iter()
        .filter(|d| {
            targets.matches(&TargetFacts {
                device_id: d.id,
                site_id: d.site_id,
                os_type: &d.os_type,
                group_ids: &d.group_ids,
            })
        })
        .collect())
}

/// Matches the targets now and records the result.
async fn reconcile(state: &AppState, p: &Policy) -> anyhow::Result<Vec<TargetDevice>> {
    let devices = targeted(state, p).await?;
    let ids: Vec<(DeviceId, OrgId)> = devices.iter().map(|d| (d.id, d.org_id)).collect();
    let now = state.now();
    compliance::reconcile_for_system(&state.db, p.id, &ids, now).await?;
    policies::mark_reconciled_for_system(&state.db, p.id, now).await?;
    Ok(devices)
}

/// The check command for a policy: its rules with the check scripts inlined.
async fn check_command(state: &AppState, p: &Policy) -> anyhow::Result<Command> {
    let ids = policy_rules::script_ids(&p.rules);
    let scripts = policies::scripts_for_org(&state.db, p.org_id, &ids)
        .await?
        .into_iter()
        .map(|s| PolicyCheckScript {
            script_id: s.id,
            language: s.language,
            content: s.content,
            timeout_secs: u64::try_from(s.timeout_seconds).unwrap_or(300),
        })
        .collect();
    Ok(Command::PolicyCheck(PolicyCheckPayload {
        policy_id: p.id,
        rules: p.rules.clone(),
        scripts,
    }))
}

/// Signs and queues a check for each device (one transaction), then wakes the agents.
async fn queue_checks(
    state: &AppState,
    p: &Policy,
    rules_version: i64,
    devices: &[(DeviceId, OrgId)],
) -> anyhow::Result<usize> {
    if devices.is_empty() {
        return Ok(0);
    }
    let command = check_command(state, p).await?;
    let ttl = crate::dispatch::default_ttl(state);
    let now = state.now();
    let mut tx = state.db.begin().await?;
    for (device, org) in devices {
        let id = CommandId::new();
        let signed = crate::dispatch::sign(state, *device, id, &command, ttl)
            .map_err(|e| anyhow::anyhow!("signing a policy check: {e:?}"))?;
        commands::enqueue_tx(
            &mut tx,
            &NewCommand {
                device_id: *device,
                org_id: *org,
                signed: &signed,
                created_by: None,
                created_at: now,
                timeout_secs: None,
            },
        )
        .await?;
        compliance::note_check_tx(&mut tx, p.id, *device, id, rules_version, now).await?;
    }
    tx.commit().await?;
    for (device, _) in devices {
        state.hub.notify(*device);
    }
    Ok(devices.len())
}

/// `POST /api/v1/policies/{id}/evaluate`: match the targets, then queue a check to each
/// targeted online device in `scope` with none in flight.
pub async fn evaluate_now(
    state: &AppState,
    scope: &Scope,
    p: &Policy,
) -> ApiResult<PolicyEvaluation> {
    let devices = reconcile(state, p)
        .await
        .map_err(crate::error::ApiError::internal)?;
    let visible: Vec<&TargetDevice> = devices
        .iter()
        .filter(|d| {
            let at = breeze_core::DeviceCoords {
                partner_id: scope.partner_id.unwrap_or_default(),
                org_id: d.org_id,
                site_id: d.site_id,
                device_id: d.id,
            };
            match scope.reaches_device(&at) {
                breeze_core::DeviceReach::No => false,
                breeze_core::DeviceReach::Yes => true,
                breeze_core::DeviceReach::IfInGroups => scope
                    .device_groups
                    .as_ref()
                    .is_some_and(|s| d.group_ids.iter().any(|g| s.contains(g))),
            }
        })
        .collect();
    let ids: Vec<DeviceId> = visible.iter().map(|d| d.id).collect();
    // A check unanswered past the command lifetime is lost: evaluate replaces it.
    let since = state.now() - crate::dispatch::default_ttl(state);
    let pending = compliance::pending_among(&state.db, p.id, &ids, since).await?;
    let due: Vec<(DeviceId, OrgId)> = visible
        .iter()
        .filter(|d| d.status == "online" && !pending.contains(&d.id))
        .take(EVALUATE_LIMIT)
        .map(|d| (d.id, d.org_id))
        .collect();
    let (rules_version, _) = policies::schedule_for_system(&state.db, p.id).await?;
    let queued = queue_checks(state, p, rules_version, &due)
        .await
        .map_err(crate::error::ApiError::internal)?;
    Ok(PolicyEvaluation {
        policy_id: p.id,
        queued: queued as i64,
        skipped: (visible.len() - queued) as i64,
    })
}

/// The periodic work: policies due for evaluation. Called by the sweep.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let mut budget = SWEEP_BUDGET;
    for p in policies::enabled_for_system(&state.db).await? {
        if budget <= 0 {
            break;
        }
        let (rules_version, reconciled_at) = policies::schedule_for_system(&state.db, p.id).await?;
        if reconciled_at.is_none_or(|t| now - t >= RECONCILE_EVERY)
            && let Err(e) = reconcile(state, &p).await
        {
            tracing::error!(policy_id = %p.id, error = format!("{e:#}"), "policy targets");
            continue;
        }
        let cutoff = now - Duration::minutes(p.check_interval_minutes);
        let due = compliance::due_for_system(&state.db, p.id, cutoff, budget).await?;
        let ids: Vec<(DeviceId, OrgId)> = due
            .iter()
            .map(|d| (DeviceId(d.device_id), OrgId(d.org_id)))
            .collect();
        let n = queue_checks(state, &p, rules_version, &ids)
            .await
            .with_context(|| format!("queueing checks of policy {}", p.id))?;
        budget -= n as i64;
    }
    Ok(())
}

/// The agent sent a command result; policy checks and remediation runs take theirs.
pub async fn on_command_result(state: &AppState, device: DeviceId, result: &CommandResult) {
    if result.command_type != "policy_check" && result.command_type != "run_script" {
        return;
    }
    if let Err(e) = handle_result(state, device, result).await {
        tracing::error!(command_id = %result.command_id, error = format!("{e:#}"), "policy result");
    }
}

/// The outcomes a check result carries: the report's, or every rule `error` (`unknown`
/// when the agent refused the command type) with the reason.
pub fn outcomes(rules: &[PolicyRule], result: &CommandResult) -> Vec<Outcome> {
    let report = (result.status == CommandStatus::Completed)
        .then(|| serde_json::from_str::<PolicyCheckReport>(&result.stdout).ok())
        .flatten();
    let all = |status: ComplianceStatus, detail: String| {
        (0..rules.len())
            .map(|i| Outcome {
                rule_index: i as i64,
                status,
                detail: Some(detail.clone()),
            })
            .collect()
    };
    match report {
        Some(r) => (0..rules.len())
            .map(|i| {
                let o = r.results.iter().find(|o| o.rule_index as usize == i);
                Outcome {
                    rule_index: i as i64,
                    status: o.map_or(ComplianceStatus::Unknown, |o| o.status),
                    detail: match o {
                        Some(o) => o.detail.as_ref().map(|d| d.chars().take(500).collect()),
                        None => Some("not reported by the agent".into()),
                    },
                }
            })
            .collect(),
        None if result.status == CommandStatus::Rejected => all(
            ComplianceStatus::Unknown,
            format!(
                "the agent refused the check: {}",
                result.error_message.as_deref().unwrap_or("rejected")
            ),
        ),
        None => all(
            ComplianceStatus::Error,
            format!(
                "the check {}: {}",
                result.status.as_str(),
                result
                    .error_message
                    .as_deref()
                    .unwrap_or("no report in its output")
            ),
        ),
    }
}

async fn handle_result(
    state: &AppState,
    device: DeviceId,
    result: &CommandResult,
) -> anyhow::Result<()> {
    let Some(cmd) = compliance::command_for_system(&state.db, result.command_id).await? else {
        return Ok(());
    };
    if cmd.device_id != device {
        return Ok(());
    }
    let p = match policies::get_for_system(&state.db, cmd.policy_id).await {
        Ok(p) => p,
        Err(breeze_store::StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let (rules_version, _) = policies::schedule_for_system(&state.db, p.id).await?;
    match cmd.kind {
        CommandKind::Remediation => {
            // Check again now that the remediation ran.
            compliance::make_due_for_system(&state.db, p.id, device).await?;
            let d = alerts::device_for_system(&state.db, device).await?;
            if p.enabled && d.status == "online" {
                queue_checks(state, &p, rules_version, &[(device, OrgId(d.org_id))]).await?;
            }
            Ok(())
        }
        CommandKind::Check => {
            if cmd.rules_version != rules_version {
                // Answered rules the policy no longer has.
                compliance::clear_pending_for_system(&state.db, p.id, device, cmd.command_id)
                    .await?;
                return Ok(());
            }
            let outcomes = outcomes(&p.rules, result);
            let now = state.now();
            let Some(rec) =
                compliance::record_check(&state.db, p.id, device, cmd.command_id, &outcomes, now)
                    .await?
            else {
                return Ok(());
            };
            react(state, &p, device, rules_version, &rec).await
        }
    }
}

/// Events on a status change, and remediation in enforce mode.
async fn react(
    state: &AppState,
    p: &Policy,
    device: DeviceId,
    rules_version: i64,
    rec: &compliance::Recorded,
) -> anyhow::Result<()> {
    let remediate = p.enforcement == Enforcement::Enforce
        && rec.status == ComplianceStatus::NonCompliant
        && rec.remediation_attempts < p.remediation_max_attempts;
    if rec.status == rec.previous && !remediate {
        // The common case at scale: nothing changed, nothing to do.
        return Ok(());
    }
    let d = alerts::device_for_system(&state.db, device).await?;
    let at = d.coords();
    let now = state.now();
    if rec.status != rec.previous {
        state.events.publish(
            at,
            &LiveEvent::PolicyCompliance {
                policy_id: p.id,
                device_id: device,
                org_id: at.org_id,
                site_id: at.site_id,
                status: rec.status.as_str().into(),
                previous_status: rec.previous.as_str().into(),
            },
        );
        let noteworthy = matches!(
            rec.status,
            ComplianceStatus::NonCompliant | ComplianceStatus::Compliant
        ) && p.enforcement != Enforcement::Monitor
            && !(rec.status == ComplianceStatus::Compliant
                && rec.previous == ComplianceStatus::Unknown);
        if noteworthy {
            device_events::insert(
                &state.db,
                &NewEvent {
                    device_id: device,
                    event_type: if rec.status == ComplianceStatus::Compliant {
                        "policy.compliant"
                    } else {
                        "policy.non_compliant"
                    },
                    details: json!({"policy_id": p.id, "policy_name": p.name,
                        "enforcement": p.enforcement, "previous_status": rec.previous}),
                    ip_address: None,
                    actor: Actor::System,
                },
                now,
            )
            .await?;
        }
    }
    if !remediate || d.status != "online" {
        return Ok(());
    }
    let Some(script_id) = p.remediation_script_id else {
        return Ok(());
    };
    let Some(script) = policies::scripts_for_org(&state.db, p.org_id, &[script_id])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    if !script.os_types.contains(&d.os_type) {
        return Ok(());
    }
    let params = BTreeMap::new();
    let mut tx = state.db.begin().await?;
    let (command_id, execution_id) = crate::dispatch::queue_script_tx(
        state,
        &mut tx,
        &crate::dispatch::ScriptRun {
            script: crate::dispatch::ScriptRef {
                id: script.id,
                version: script.version,
                content: &script.content,
                run_as: &script.run_as,
                timeout_seconds: script.timeout_seconds,
            },
            language: script.language,
            parameters: &params,
            device,
            org: at.org_id,
            triggered_by: None,
            trigger_type: "policy",
            timeout_secs: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("queueing the remediation: {e:?}"))?;
    compliance::note_remediation_tx(
        &mut tx,
        p.id,
        device,
        command_id,
        execution_id,
        rules_version,
        now,
    )
    .await?;
    tx.commit().await?;
    state.hub.notify(device);
    let ev = crate::audit::AuditEvent::new("policy.remediate", "policy")
        .partner(Some(at.partner_id))
        .org(Some(at.org_id))
        .device(at.site_id, device)
        .resource(p.id, Some(&p.name))
        .details(
            serde_json::json!({"device_id": device, "script_id": script.id,
            "execution_id": execution_id, "command_id": command_id,
            "attempt": rec.remediation_attempts + 1}),
        );
    if let Err(e) = state.record(ev, None).await {
        tracing::error!(policy_id = %p.id, error = %e, "auditing a policy remediation");
    }
    tracing::info!(policy_id = %p.id, device_id = %device, %execution_id,
        attempt = rec.remediation_attempts + 1, "policy remediation queued");
    Ok(())
}
