//! Runs an automation's steps per device, durably.
//!
//! **State.** A run is a row in `automation_runs` (with a snapshot of the actions, so an
//! edit never changes a run under way) and one row per device in `automation_run_devices`
//! holding the executor state: the path of the current step (`cursor`), the status
//! (`pending` → `running` → `waiting` ↔ `running` → `completed` / `failed` / `skipped` /
//! `interrupted` / `cancelled`), a wait step's end (`wait_until`), the command a run_script
//! step waits on (`command_id`), the last exit code and output (for conditions), and a step
//! log row per step. Nothing lives only in memory.
//!
//! **Engine.** No job queue: a device row is advanced by whoever claims it with a
//! conditional UPDATE (`pending`/`waiting` → `running`): the task spawned by
//! [`start_run`], the task [`on_command_settled`] spawns when the command settles, or
//! [`sweep`] (due waits, commands that settled while nobody listened, rows left behind).
//! The claim makes it exclusive across tasks and server processes. Synchronous steps
//! (condition, update_device, notify, run_automation) run back to back, each saved before
//! the next; a run_script step queues its command and the row's `waiting` state in one
//! transaction, then the task ends; a wait step stores its due time (from `state.now()`,
//! so a FixedClock drives it) and ends.
//!
//! **Restarts.** A row left `running` by a dead server (claimed more than
//! [`STALE_SECS`] ago and not held by this process) is recovered by the sweep: a step that
//! never logged a start, or one safe to repeat (condition, wait, update_device, notify:
//! deliveries are idempotent per device row, step and channel), resumes; a run_script
//! step with no command recorded, or a run_automation step, is marked `interrupted` with
//! "server restarted during step" (repeating them could run a script or a nested run
//! twice). A run_script step whose command was recorded resumes waiting on it; one whose
//! command settled while the server was down is picked up by the sweep.

use super::model::{self, Action};
use crate::state::AppState;
use anyhow::Context;
use breeze_core::alerts::Targets;
use breeze_proto::ids::{
    AutomationId, AutomationRunId, CommandId, DeviceId, NotificationChannelId, OrgId, UserId,
};
use breeze_store::automation_runs::{self as runs, NewRun, NewRunDevice, RunDevice, StepEntry};
use breeze_store::automations;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Mutex;
use uuid::Uuid;

/// A `running` device row claimed longer ago than this by no task of this process is
/// taken to be left by a dead server.
pub const STALE_SECS: i64 = 60;
/// Step output kept in the log and for conditions.
pub const MAX_OUTPUT: usize = 4096;
/// Rows the sweep handles per kind and pass.
const SWEEP_BATCH: i64 = 200;

/// Device rows this process is advancing right now (never taken as stale).
static IN_FLIGHT: Mutex<Option<HashSet<Uuid>>> = Mutex::new(None);

fn in_flight() -> std::sync::MutexGuard<'static, Option<HashSet<Uuid>>> {
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

struct Held(Uuid);

impl Held {
    fn take(id: Uuid) -> Self {
        in_flight().get_or_insert_with(HashSet::new).insert(id);
        Held(id)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(s) = in_flight().as_mut() {
            s.remove(&self.0);
        }
    }
}

fn held_here(id: Uuid) -> bool {
    in_flight().as_ref().is_some_and(|s| s.contains(&id))
}

/// A run to start.
#[derive(Clone, Debug)]
pub struct StartRun {
    pub automation_id: AutomationId,
    /// `schedule`, `event`, `webhook`, `manual` or `automation`.
    pub trigger_type: String,
    /// What started it (event fields, webhook body, slot). A nested run carries
    /// `parent_run_id`.
    pub trigger_context: Value,
    /// The schedule slot: at most one run per automation and slot.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Only these of the automation's targets.
    pub devices: Option<Vec<DeviceId>>,
    pub triggered_by: Option<UserId>,
    /// 0, or the nesting depth of a run started by a run_automation step.
    pub depth: u32,
}

/// Starts a run: resolves the targets (dynamic groups now), checks the conditions per
/// device (non-matching devices are recorded `skipped`), writes the run and its device
/// rows, and starts each device in a task. `None` when the automation is disabled or
/// gone, or the schedule slot already has a run.
pub async fn start_run(state: &AppState, s: StartRun) -> anyhow::Result<Option<AutomationRunId>> {
    let a = match automations::get_for_system(&state.db, s.automation_id).await {
        Ok(a) => a,
        Err(breeze_store::StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !a.enabled {
        return Ok(None);
    }
    let targets = Targets::parse("targets", &a.targets)
        .map_err(|e| anyhow::anyhow!("automation {} targets: {e}", a.id))?;
    let conditions = match &a.conditions {
        Some(c) => model::Conditions::parse(c)
            .map_err(|e| anyhow::anyhow!("automation {} conditions: {e}", a.id))?
            .map(|(c, _)| c),
        None => None,
    };
    let actions = model::stored_actions(&a.actions)?;
    let chain: Vec<AutomationId> = match s
        .trigger_context
        .get("parent_run_id")
        .and_then(Value::as_str)
        .and_then(|p| p.parse().ok())
    {
        Some(parent) => runs::chain_for_system(&state.db, AutomationRunId(parent))
            .await?
            .into_iter()
            .map(AutomationId)
            .collect(),
        None => Vec::new(),
    };
    let now = state.now();
    let found =
        runs::resolve_targets_for_system(&state.db, a.org_id, &targets, s.devices.as_deref())
            .await?;
    let devices: Vec<NewRunDevice> = found
        .iter()
        .map(|d| NewRunDevice {
            device_id: d.id,
            hostname: d.hostname.clone(),
            skipped: conditions.as_ref().and_then(|c| {
                c.skip_reason(
                    &model::DeviceView {
                        os_type: &d.os_type,
                        status: &d.status,
                        site_id: d.site_id,
                        tags: &d.tags,
                    },
                    now,
                )
            }),
        })
        .collect();
    let id = AutomationRunId::new();
    let run = NewRun {
        id,
        automation_id: a.id,
        org_id: a.org_id,
        trigger_type: s.trigger_type.clone(),
        trigger_context: s.trigger_context.clone(),
        triggered_by: s.triggered_by,
        scheduled_for: s.scheduled_for,
        depth: i64::from(s.depth),
        chain,
        spec: json!({"actions": a.actions, "on_failure": a.on_failure,
            "notify_channel_ids": a.notify_channel_ids}),
        first_step: model::first(&actions),
    };
    if !runs::create(&state.db, &run, &devices, now).await? {
        return Ok(None);
    }
    runs::finish_if_done(&state.db, id, now).await?;
    let pending = runs::pending_of_run(&state.db, id).await?;
    if !pending.is_empty() {
        let state = state.clone();
        tokio::spawn(async move {
            for rd in pending {
                if let Err(e) = start_device(&state, rd).await {
                    tracing::error!(error = format!("{e:#}"), run_device = %rd, "automation step failed");
                }
            }
        });
    }
    Ok(Some(id))
}

async fn start_device(state: &AppState, rd: Uuid) -> anyhow::Result<()> {
    if runs::claim_pending(&state.db, rd, state.now()).await? {
        advance(state, rd).await?;
    }
    Ok(())
}

/// A command reached a final state: the device row waiting on it advances (in a task;
/// the result handler never waits for it).
pub fn on_command_settled(state: &AppState, command_id: CommandId) {
    let state = state.clone();
    tokio::spawn(async move {
        let claimed = runs::claim_by_command(&state.db, command_id, state.now()).await;
        match claimed {
            Ok(Some(rd)) => {
                if let Err(e) = advance(&state, rd).await {
                    tracing::error!(error = format!("{e:#}"), run_device = %rd, "automation step failed");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "automation: claiming a settled command's run"),
        }
    });
}

/// Runs whose wait ended or whose commands settled advance; runs left mid-way by a dead
/// server resume or are marked interrupted.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let mut due = runs::due_waits(&state.db, now, SWEEP_BATCH).await?;
    due.extend(runs::settled_waits(&state.db, SWEEP_BATCH).await?);
    due.extend(runs::orphaned_waits(&state.db, SWEEP_BATCH).await?);
    for rd in due {
        if runs::claim_waiting(&state.db, rd, state.now()).await? {
            log_err(advance(state, rd).await, rd);
        }
    }
    let stale = now - Duration::seconds(STALE_SECS);
    for rd in runs::stale_pending(&state.db, stale, SWEEP_BATCH).await? {
        log_err(start_device(state, rd).await, rd);
    }
    for d in runs::stale_running(&state.db, stale, SWEEP_BATCH).await? {
        if held_here(d.id) || !runs::claim_stale(&state.db, d.id, d.claimed_at, now).await? {
            continue;
        }
        let id = d.id;
        log_err(recover(state, d).await, id);
    }
    Ok(())
}

fn log_err(r: anyhow::Result<()>, rd: Uuid) {
    if let Err(e) = r {
        tracing::error!(error = format!("{e:#}"), run_device = %rd, "automation step failed");
    }
}

/// A row a dead server left `running`: resume it, or mark its step interrupted.
async fn recover(state: &AppState, d: RunDevice) -> anyhow::Result<()> {
    let _held = Held::take(d.id);
    let run = AutomationRunId(d.run_id);
    let (spec, _) = runs::spec_for_system(&state.db, run).await?;
    let actions = spec_actions(&spec)?;
    let Some(path) = d.cursor.clone() else {
        drop(_held);
        return advance(state, d.id).await;
    };
    let started = runs::step_started(&state.db, d.id, &path).await?;
    let action = model::at(&actions, &path);
    let (
        Some((seq, started_at)),
        Some(action @ (Action::RunScript { .. } | Action::RunAutomation { .. })),
        None,
    ) = (started, action, d.command_id)
    else {
        drop(_held);
        return advance(state, d.id).await;
    };
    // Started, and repeating it could run a script or a nested run twice.
    let now = state.now();
    let step_type = action.type_name();
    let reason = "server restarted during step";
    At {
        state,
        rd: d.id,
        seq,
        path: &path,
        action,
        started_at,
    }
    .log("interrupted", true, said(reason.into()))
    .await?;
    let mut d = d;
    d.status = "interrupted".into();
    d.error = Some(format!("step {path} ({step_type}): {reason}"));
    d.cursor = None;
    d.finished_at = Some(now);
    runs::save_device(&state.db, &d, now).await?;
    runs::finish_if_done(&state.db, run, now).await?;
    Ok(())
}

fn spec_actions(spec: &Value) -> anyhow::Result<Vec<Action>> {
    let list = spec
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    model::stored_actions(&list)
}

/// What a step did.
enum Outcome {
    /// Done; go to this step next (`None`: the end).
    Next(Option<String>),
    /// Failed with this message.
    Failed(String),
    /// Parked (waiting on a command or a time); the task ends here.
    Parked,
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_OUTPUT {
        return s.to_string();
    }
    let mut end = MAX_OUTPUT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Advances a device row this task holds (status `running`) until it parks or ends.
/// (Boxed: a run_automation step starts runs whose tasks advance again.)
fn advance(
    state: &AppState,
    rd: Uuid,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>> {
    let state = state.clone();
    Box::pin(async move { advance_held(&state, rd).await })
}

async fn advance_held(state: &AppState, rd: Uuid) -> anyhow::Result<()> {
    let _held = Held::take(rd);
    let mut d = runs::device_state(&state.db, rd).await?;
    let run_id = AutomationRunId(d.run_id);
    runs::mark_running(&state.db, run_id).await?;
    let (spec, depth) = runs::spec_for_system(&state.db, run_id).await?;
    let actions = spec_actions(&spec)?;
    let on_failure = spec
        .get("on_failure")
        .and_then(Value::as_str)
        .unwrap_or("stop")
        .to_string();
    loop {
        let Some(path) = d.cursor.clone() else {
            let now = state.now();
            d.status = if d.had_failure { "failed" } else { "completed" }.into();
            d.finished_at = Some(now);
            runs::save_device(&state.db, &d, now).await?;
            runs::refresh_counts(&state.db, run_id).await?;
            runs::finish_if_done(&state.db, run_id, now).await?;
            return Ok(());
        };
        let Some(action) = model::at(&actions, &path) else {
            anyhow::bail!("run {} has no step {path}", run_id.0);
        };
        let outcome = step(state, &mut d, &actions, &path, action, depth).await?;
        match outcome {
            Outcome::Parked => return Ok(()),
            Outcome::Next(next) => {
                d.cursor = next;
                runs::save_device(&state.db, &d, state.now()).await?;
            }
            Outcome::Failed(msg) => {
                d.had_failure = true;
                let err = format!("step {path} ({}): {msg}", action.type_name());
                if d.error.is_none() {
                    d.error = Some(err.clone());
                }
                if on_failure == "continue" {
                    d.cursor = model::next_after(&actions, &path);
                    runs::save_device(&state.db, &d, state.now()).await?;
                } else {
                    d.cursor = None;
                    if on_failure == "notify" {
                        let channels: Vec<NotificationChannelId> = spec
                            .get("notify_channel_ids")
                            .and_then(|v| serde_json::from_value(v.clone()).ok())
                            .unwrap_or_default();
                        let text = format!("Automation step failed on {}: {err}", d.hostname);
                        if let Err(e) =
                            notify(state, &d, &format!("{path}.on_failure"), &channels, &text).await
                        {
                            tracing::error!(error = format!("{e:#}"), "automation failure notice");
                        }
                    }
                }
            }
        }
    }
}

/// One step's place in the log: the entries it writes share its row, number, path,
/// type and start.
struct At<'a> {
    state: &'a AppState,
    rd: Uuid,
    seq: i64,
    path: &'a str,
    action: &'a Action,
    started_at: DateTime<Utc>,
}

/// What a log entry carries besides its status.
#[derive(Default)]
struct Detail {
    exit_code: Option<i64>,
    output: Option<String>,
    message: Option<String>,
    execution_id: Option<breeze_proto::ids::ExecutionId>,
}

fn said(message: String) -> Detail {
    Detail {
        message: Some(message),
        ..Detail::default()
    }
}

impl At<'_> {
    /// Writes the step's log entry (`finished`: with the end time).
    async fn log(&self, status: &str, finished: bool, x: Detail) -> anyhow::Result<()> {
        runs::log_step(
            &self.state.db,
            &StepEntry {
                run_device_id: self.rd,
                seq: self.seq,
                path: self.path,
                step_type: self.action.type_name(),
                status,
                started_at: self.started_at,
                finished_at: finished.then(|| self.state.now()),
                exit_code: x.exit_code,
                output: x.output,
                message: x.message,
                execution_id: x.execution_id,
            },
        )
        .await?;
        Ok(())
    }

    /// Logged as started, not finished (a restart from here is reported, not repeated).
    async fn started(&self) -> anyhow::Result<()> {
        self.log("running", false, Detail::default()).await
    }

    /// Logged completed with `message`; the run goes on at `next`.
    async fn completed(&self, message: String, next: Option<String>) -> anyhow::Result<Outcome> {
        self.log("completed", true, said(message)).await?;
        Ok(Outcome::Next(next))
    }

    /// Logged failed with `message`.
    async fn failed(&self, message: String) -> anyhow::Result<Outcome> {
        self.log("failed", true, said(message.clone())).await?;
        Ok(Outcome::Failed(message))
    }
}

/// Runs one step of a held device row.
async fn step(
    state: &AppState,
    d: &mut RunDevice,
    actions: &[Action],
    path: &str,
    action: &Action,
    depth: i64,
) -> anyhow::Result<Outcome> {
    let now = state.now();
    // A step resumed (after a wait, a command, a restart) keeps its place and start.
    let (seq, started_at) = match runs::step_started(&state.db, d.id, path).await? {
        Some(s) => s,
        None => {
            let seq = d.steps_run;
            d.steps_run += 1;
            (seq, now)
        }
    };
    let at = At {
        state,
        rd: d.id,
        seq,
        path,
        action,
        started_at,
    };
    let next = || model::next_after(actions, path);
    match action {
        Action::Wait { seconds } => match d.wait_until {
            Some(until) if until <= now => {
                d.wait_until = None;
                at.completed(format!("waited until {}", until.to_rfc3339()), next())
                    .await
            }
            Some(_) => {
                // Not yet due (claimed early): park again.
                d.status = "waiting".into();
                runs::save_device(&state.db, d, now).await?;
                Ok(Outcome::Parked)
            }
            None => {
                let until =
                    now + Duration::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX / 2));
                d.wait_until = Some(until);
                d.status = "waiting".into();
                at.log(
                    "waiting",
                    false,
                    said(format!("waiting until {}", until.to_rfc3339())),
                )
                .await?;
                runs::save_device(&state.db, d, now).await?;
                Ok(Outcome::Parked)
            }
        },
        Action::Condition { test, .. } => {
            let holds = test.holds(d.last_exit_code, d.last_output.as_deref());
            let branch = if holds { "then" } else { "else" };
            at.completed(
                format!("took the {branch} branch"),
                model::enter_branch(actions, path, holds),
            )
            .await
        }
        Action::UpdateDevice {
            tags_add,
            tags_remove,
            display_name,
        } => {
            let r = runs::update_device_for_system(
                &state.db,
                DeviceId(d.device_id),
                tags_add,
                tags_remove,
                display_name.as_deref(),
                now,
            )
            .await;
            match r {
                Ok(tags) => {
                    audit_device_change(
                        state,
                        d,
                        "automation.update_device",
                        json!({"run_id": d.run_id, "step": path, "tags": tags,
                            "display_name": display_name}),
                    )
                    .await;
                    at.completed(format!("tags now: {}", tags.join(", ")), next())
                        .await
                }
                Err(e) => at.failed(format!("updating the device failed: {e}")).await,
            }
        }
        Action::Notify {
            channel_ids,
            message,
        } => match notify(state, d, path, channel_ids, message).await {
            Ok(n) => {
                at.completed(format!("queued {n} notification(s)"), next())
                    .await
            }
            Err(e) => {
                at.failed(format!("queueing the notification failed: {e:#}"))
                    .await
            }
        },
        Action::RunAutomation { automation_id } => {
            let run_id = AutomationRunId(d.run_id);
            let chain = runs::chain_for_system(&state.db, run_id).await?;
            at.started().await?;
            if depth + 1 > i64::from(model::MAX_RUN_DEPTH) {
                return at
                    .failed(format!(
                        "nested runs go at most {} deep",
                        model::MAX_RUN_DEPTH
                    ))
                    .await;
            }
            if chain.contains(&automation_id.0) {
                return at
                    .failed("the automation is already running above this step (a cycle)".into())
                    .await;
            }
            let child = start_run(
                state,
                StartRun {
                    automation_id: *automation_id,
                    trigger_type: "automation".into(),
                    trigger_context: json!({"parent_run_id": run_id, "parent_step": path}),
                    scheduled_for: None,
                    devices: Some(vec![DeviceId(d.device_id)]),
                    triggered_by: None,
                    depth: u32::try_from(depth + 1).unwrap_or(u32::MAX),
                },
            )
            .await;
            match child {
                Ok(Some(c)) => at.completed(format!("started run {}", c.0), next()).await,
                Ok(None) => at.failed("the automation is disabled or gone".into()).await,
                Err(e) => {
                    at.failed(format!("starting the automation failed: {e:#}"))
                        .await
                }
            }
        }
        Action::RunScript {
            script_id,
            parameters,
            timeout_seconds,
        } => match d.command_id {
            None => {
                at.started().await?;
                runs::save_device(&state.db, d, now).await?;
                match queue_script(state, d, path, *script_id, parameters, *timeout_seconds).await {
                    Ok(()) => Ok(Outcome::Parked),
                    Err(m) => at.failed(m).await,
                }
            }
            Some(cmd) => {
                let execution = d.execution_id.map(breeze_proto::ids::ExecutionId);
                let Some(o) = runs::command_outcome(&state.db, CommandId(cmd)).await? else {
                    d.command_id = None;
                    d.execution_id = None;
                    let m = "the script's command is gone".to_string();
                    at.log(
                        "failed",
                        true,
                        Detail {
                            execution_id: execution,
                            ..said(m.clone())
                        },
                    )
                    .await?;
                    return Ok(Outcome::Failed(m));
                };
                if !o.is_final() {
                    // Woken early (or resumed after a restart): wait on.
                    d.status = "waiting".into();
                    runs::save_device(&state.db, d, now).await?;
                    return Ok(Outcome::Parked);
                }
                let mut out = o.stdout.clone().unwrap_or_default();
                if let Some(e) = o.stderr.as_deref().filter(|e| !e.is_empty()) {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(e);
                }
                let output = truncate(&out);
                d.command_id = None;
                d.execution_id = None;
                d.last_exit_code = o.exit_code;
                d.last_output = Some(output.clone());
                let judged_by_condition = matches!(
                    next().as_deref().and_then(|n| model::at(actions, n)),
                    Some(Action::Condition { .. })
                );
                let ran = o.status == "completed";
                let ok = ran && (o.exit_code == Some(0) || judged_by_condition);
                let message = if ok {
                    None
                } else if ran {
                    Some(format!(
                        "the script exited with {}",
                        o.exit_code.map_or("no code".into(), |c| c.to_string())
                    ))
                } else {
                    Some(format!(
                        "the command ended {}{}",
                        o.status,
                        o.error_message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ))
                };
                at.log(
                    if ok { "completed" } else { "failed" },
                    true,
                    Detail {
                        exit_code: o.exit_code,
                        output: Some(output),
                        message: message.clone(),
                        execution_id: execution,
                    },
                )
                .await?;
                match message {
                    None => Ok(Outcome::Next(next())),
                    Some(m) => Ok(Outcome::Failed(m)),
                }
            }
        },
    }
}

/// An audit row for a change a run made on a device (actor: the system; the run and step
/// are in the details).
async fn audit_device_change(state: &AppState, d: &RunDevice, action: &str, details: Value) {
    let dev = match breeze_store::alerts::device_for_system(&state.db, DeviceId(d.device_id)).await
    {
        Ok(dev) => dev,
        Err(e) => {
            tracing::error!(device = %d.device_id, error = %e, "auditing an automation step");
            return;
        }
    };
    let ev = crate::audit::AuditEvent::new(action, "device")
        .partner(Some(breeze_proto::ids::PartnerId(dev.partner_id)))
        .org(Some(OrgId(dev.org_id)))
        .device(
            breeze_proto::ids::SiteId(dev.site_id),
            DeviceId(d.device_id),
        )
        .resource(d.device_id, Some(&d.hostname))
        .details(details);
    if let Err(e) = state.record(ev, None).await {
        tracing::error!(device = %d.device_id, error = %e, "auditing an automation step");
    }
}

/// Queues a run_script step's command, with the row's `waiting` state and the execution
/// on the step's log entry in the same transaction. Errors are the step's failure message.
async fn queue_script(
    state: &AppState,
    d: &RunDevice,
    path: &str,
    script_id: breeze_proto::ids::ScriptId,
    parameters: &serde_json::Map<String, Value>,
    timeout: Option<u64>,
) -> Result<(), String> {
    let inner = async {
        let dev = breeze_store::alerts::device_for_system(&state.db, DeviceId(d.device_id))
            .await
            .context("reading the device")?;
        let scope = breeze_core::Scope::partner(
            breeze_proto::ids::PartnerId(dev.partner_id),
            breeze_core::scope::OrgAccess::All,
            breeze_core::PermissionSet::everything(),
        );
        let script = breeze_store::scripts::get(&state.db, &scope, script_id)
            .await
            .map_err(|_| anyhow::anyhow!("the script is gone"))?;
        if script.org_id.is_some_and(|o| o.0 != dev.org_id) {
            anyhow::bail!("the script belongs to another organization");
        }
        if !script.os_types.contains(&dev.os_type) {
            anyhow::bail!(
                "the device runs {}, the script is for {}",
                dev.os_type,
                script.os_types.join(", ")
            );
        }
        if !matches!(
            dev.status.as_str(),
            "online" | "offline" | "maintenance" | "awaiting_checkin"
        ) {
            anyhow::bail!("the device is {} and runs no scripts", dev.status);
        }
        let schema = breeze_core::script_params::parse_schema(&script.parameters)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        let values: std::collections::BTreeMap<String, Value> =
            parameters.clone().into_iter().collect();
        let params = breeze_core::script_params::check_values(&schema, &values)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        let lang = crate::routes::scripts::language("language", &script.language)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut tx = state.db.begin().await?;
        let (command, execution) = crate::dispatch::queue_script_tx(
            state,
            &mut tx,
            &crate::dispatch::ScriptRun {
                script: (&script).into(),
                language: lang,
                parameters: &params,
                device: DeviceId(d.device_id),
                org: OrgId(dev.org_id),
                triggered_by: None,
                trigger_type: "automation",
                timeout_secs: timeout.and_then(|t| i64::try_from(t).ok()),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        runs::wait_on_command_tx(&mut tx, d.id, path, command, execution, state.now()).await?;
        tx.commit().await?;
        state.hub.notify(DeviceId(d.device_id));
        audit_device_change(
            state,
            d,
            "automation.run_script",
            json!({"run_id": d.run_id, "step": path, "script_id": script_id,
                "script_version": script.version, "execution_id": execution,
                "command_id": command, "parameters": params.keys().collect::<Vec<_>>()}),
        )
        .await;
        anyhow::Ok(())
    };
    inner.await.map_err(|e| format!("{e:#}"))
}

/// Queues one delivery per channel (of the run's organization, enabled) with `message`;
/// idempotent per device row, step and channel. Answers how many were queued.
async fn notify(
    state: &AppState,
    d: &RunDevice,
    path: &str,
    channels: &[NotificationChannelId],
    message: &str,
) -> anyhow::Result<usize> {
    let run = runs::get_for_system(&state.db, AutomationRunId(d.run_id)).await?;
    let mut n = 0;
    for ch in channels {
        let c = match breeze_store::notification_channels::load(&state.db, *ch).await {
            Ok(c) => c,
            Err(breeze_store::StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        if c.channel.org_id != run.org_id || !c.channel.enabled {
            continue;
        }
        breeze_store::deliveries::queue(
            &state.db,
            &breeze_store::deliveries::NewDelivery {
                org_id: run.org_id,
                alert_id: None,
                channel_id: *ch,
                event: "automation.notify".into(),
                escalation_step: None,
                idempotency_key: format!("automation:{}:{path}:{}", d.id, ch.0),
                message: Some(format!(
                    "{} ({}): {message}",
                    run.automation_name, d.hostname
                )),
            },
            i64::from(state.config.outbound.max_attempts),
            state.now(),
        )
        .await?;
        n += 1;
    }
    if n > 0 {
        state.delivery.wake();
    }
    Ok(n)
}
