//! `/api/v1/automations` (issue 13): CRUD, manual runs, run history, and the signed
//! webhook that starts a webhook automation (no user: the signature is the credential).

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::automations::executor::{self, StartRun};
use crate::automations::model::{self, Action, Conditions, Trigger};
use crate::automations::webhook::{self, Refusal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::common::{one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use breeze_core::alerts::Targets;
use breeze_core::permissions::{Action as Perm, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    Automation, AutomationCreated, AutomationListQuery, AutomationRun, AutomationRunDetail,
    AutomationRunListQuery, AutomationRunStarted, CreateAutomation, ErrorBody, OkBody, Page,
    RunAutomation, UpdateAutomation,
};
use breeze_proto::ids::{AutomationId, AutomationRunId, OrgId, PartnerId};
use breeze_store::automation_runs;
use breeze_store::automations::{self, Filter, NewAutomation};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(run))
        .routes(routes!(runs))
        .routes(routes!(get_run))
        .routes(routes!(rotate_secret))
        .routes(routes!(webhook_call))
}

/// The checked parts of a body.
struct Checked {
    trigger: Trigger,
    trigger_json: Value,
    targets: Value,
    conditions: Option<Value>,
    actions: Vec<Value>,
    on_failure: String,
}

fn check_targets(v: &Value) -> ApiResult<Value> {
    Targets::parse("targets", v)
        .map(|t| t.to_json())
        .map_err(|e| ApiError::validation(e.path, e.message))
}

/// Checks what refers to other objects: scripts and their parameters, channels and
/// nested automations must be the organization's.
async fn check_links(
    state: &AppState,
    org: OrgId,
    partner: PartnerId,
    actions: &[Action],
    on_failure: &str,
    notify_channels: &[breeze_proto::ids::NotificationChannelId],
    own_id: Option<AutomationId>,
) -> ApiResult<()> {
    for (path, a) in model::walk(actions) {
        match a {
            Action::RunScript {
                script_id,
                parameters,
                ..
            } => {
                let field = format!("{path}.script_id");
                automations::check_script(&state.db, org, partner, *script_id, &field).await?;
                let scope = breeze_core::Scope::partner(
                    partner,
                    breeze_core::scope::OrgAccess::All,
                    breeze_core::PermissionSet::everything(),
                );
                let script = breeze_store::scripts::get(&state.db, &scope, *script_id).await?;
                let schema = breeze_core::script_params::parse_schema(&script.parameters)?;
                let values = parameters.clone().into_iter().collect();
                breeze_core::script_params::check_values(&schema, &values)
                    .map_err(|e| ApiError::validation(format!("{path}.{}", e.field), e.message))?;
            }
            Action::Notify { channel_ids, .. } => {
                breeze_store::alert_rules::check_channels(&state.db, org, channel_ids)
                    .await
                    .map_err(|e| match e {
                        breeze_store::StoreError::Invalid { field, message } => {
                            ApiError::validation(
                                format!(
                                    "{path}.{}",
                                    field.replace("notification_channels", "channel_ids")
                                ),
                                message,
                            )
                        }
                        e => e.into(),
                    })?;
            }
            Action::RunAutomation { automation_id } => {
                let field = format!("{path}.automation_id");
                if Some(*automation_id) == own_id {
                    return Err(ApiError::validation(
                        field,
                        "an automation cannot run itself",
                    ));
                }
                automations::check_same_org(&state.db, org, *automation_id, &field).await?;
            }
            _ => {}
        }
    }
    if on_failure == "notify" && notify_channels.is_empty() {
        return Err(ApiError::validation(
            "notify_channel_ids",
            "name at least one channel when on_failure is notify",
        ));
    }
    breeze_store::alert_rules::check_channels(&state.db, org, notify_channels)
        .await
        .map_err(|e| match e {
            breeze_store::StoreError::Invalid { field, message } => ApiError::validation(
                field.replace("notification_channels", "notify_channel_ids"),
                message,
            ),
            e => e.into(),
        })?;
    Ok(())
}

fn check_body(
    trigger: &Value,
    targets: &Value,
    conditions: Option<&Value>,
    actions: &[Value],
    on_failure: &str,
) -> ApiResult<(Checked, Vec<Action>)> {
    let trigger = Trigger::parse(trigger)?;
    let targets = check_targets(targets)?;
    let conditions = match conditions {
        Some(c) => Conditions::parse(c)?.map(|(_, v)| v),
        None => None,
    };
    let (parsed, actions) = model::parse_actions(actions)?;
    let on_failure = one_of("on_failure", on_failure, model::ON_FAILURE)?;
    Ok((
        Checked {
            trigger_json: trigger.to_json(),
            trigger,
            targets,
            conditions,
            actions,
            on_failure,
        },
        parsed,
    ))
}

async fn audit(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    action: &str,
    a: &Automation,
    details: Value,
) -> ApiResult<()> {
    state
        .record(
            AuditEvent::new(action, "automation")
                .by(auth)
                .client(meta)
                .org(Some(a.org_id))
                .resource(a.id, Some(&a.name))
                .details(details),
            Some(slot),
        )
        .await
}

/// Automations in reach.
#[utoipa::path(get, path = "/api/v1/automations", tag = "automations", security(("bearer" = [])), params(AutomationListQuery),
    responses((status = 200, body = Page<Automation>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AutomationListQuery>,
) -> ApiResult<axum::Json<Page<Automation>>> {
    auth.require(Resource::Automations, Perm::Read)?;
    let opts = super::common::unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let trigger_type = p
        .trigger_type
        .as_deref()
        .map(|t| one_of("trigger_type", t, model::TRIGGER_TYPES))
        .transpose()?;
    let (rows, next) = automations::list(
        &state.db,
        &auth.scope,
        &Filter {
            org_id: p.org_id,
            trigger_type,
            enabled: p.enabled,
        },
        &opts,
    )
    .await?;
    Ok(page(rows, next))
}

/// Creates an automation. A webhook automation's signing secret is answered this once.
#[utoipa::path(post, path = "/api/v1/automations", tag = "automations", security(("bearer" = [])), request_body = CreateAutomation,
    responses((status = 201, body = AutomationCreated), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    crate::extract::ApiJson(req): crate::extract::ApiJson<CreateAutomation>,
) -> ApiResult<(StatusCode, axum::Json<AutomationCreated>)> {
    auth.require(Resource::Automations, Perm::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let name = validate::name("name", &req.name, 200)?;
    let description = validate::optional_text("description", req.description.as_deref(), 2000)?;
    let (c, parsed) = check_body(
        &req.trigger,
        &req.targets,
        req.conditions.as_ref(),
        &req.actions,
        req.on_failure.as_deref().unwrap_or("stop"),
    )?;
    check_links(
        &state,
        org.id,
        org.partner_id,
        &parsed,
        &c.on_failure,
        &req.notify_channel_ids,
        None,
    )
    .await?;
    // A schedule's first slot (None for other triggers).
    let next_run_at = crate::automations::schedule::next_run_at(&c.trigger_json, state.now());
    let id = automations::create(
        &state.db,
        &NewAutomation {
            org_id: org.id,
            name,
            description,
            enabled: req.enabled.unwrap_or(true),
            trigger_type: c.trigger.type_name().into(),
            trigger: c.trigger_json,
            targets: c.targets,
            conditions: c.conditions,
            actions: c.actions,
            on_failure: c.on_failure,
            notify_channel_ids: req.notify_channel_ids.clone(),
            webhook_secret_sealed: None,
            next_run_at,
            created_by: Some(auth.user_id()),
        },
        state.now(),
    )
    .await?;
    let secret = if c.trigger == Trigger::Webhook {
        let (secret, sealed) = webhook::new_secret(&state, id).map_err(ApiError::internal)?;
        automations::set_webhook_secret(&state.db, id, Some(sealed), state.now()).await?;
        Some(secret)
    } else {
        None
    };
    let a = automations::get(&state.db, &auth.scope, id).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "automation.create",
        &a,
        json!({"trigger": a.trigger, "targets": a.targets, "actions": a.actions.len()}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AutomationCreated {
            automation: a,
            secret,
        }),
    ))
}

/// One automation (never its webhook secret).
#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path)),
    responses((status = 200, body = Automation), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AutomationId>,
) -> ApiResult<axum::Json<Automation>> {
    let a = automations::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Perm::Read)?;
    Ok(axum::Json(a))
}

/// Changes an automation; runs under way keep the steps they started with. Switching the
/// trigger to `webhook` answers a new secret; switching away from it removes the secret.
#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path)), request_body = UpdateAutomation,
    responses((status = 200, body = AutomationCreated), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AutomationId>,
    crate::extract::ApiJson(req): crate::extract::ApiJson<UpdateAutomation>,
) -> ApiResult<axum::Json<AutomationCreated>> {
    let mut a = automations::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Perm::Write, a.org_id)?;
    auth.writable(a.org_id)?;
    let was_webhook = a.trigger.get("type").and_then(Value::as_str) == Some("webhook");
    if let Some(n) = &req.name {
        a.name = validate::name("name", n, 200)?;
    }
    if let Some(d) = &req.description {
        a.description = validate::optional_text("description", d.as_deref(), 2000)?;
    }
    // Switched on: the schedule starts from now (slots passed while off are not missed).
    let enabled_now = req.enabled == Some(true) && !a.enabled;
    if let Some(e) = req.enabled {
        a.enabled = e;
    }
    let trigger_changed = req.trigger.as_ref().is_some_and(|t| *t != a.trigger);
    let (c, parsed) = check_body(
        req.trigger.as_ref().unwrap_or(&a.trigger),
        req.targets.as_ref().unwrap_or(&a.targets),
        match &req.conditions {
            Some(c) => c.as_ref(),
            None => a.conditions.as_ref(),
        },
        req.actions.as_deref().unwrap_or(&a.actions),
        req.on_failure.as_deref().unwrap_or(&a.on_failure),
    )?;
    if let Some(n) = &req.notify_channel_ids {
        a.notify_channel_ids = n.clone();
    }
    let partner = breeze_store::orgs::get(&state.db, &auth.scope, a.org_id)
        .await?
        .partner_id;
    check_links(
        &state,
        a.org_id,
        partner,
        &parsed,
        &c.on_failure,
        &a.notify_channel_ids,
        Some(a.id),
    )
    .await?;
    a.trigger = c.trigger_json;
    a.targets = c.targets;
    a.conditions = c.conditions;
    a.actions = c.actions;
    a.on_failure = c.on_failure;
    if trigger_changed || enabled_now {
        // The next slot of the (new) schedule from now; None for other triggers.
        a.next_run_at = crate::automations::schedule::next_run_at(&a.trigger, state.now());
    }
    automations::update(
        &state.db,
        &auth.scope,
        &a,
        c.trigger.type_name(),
        state.now(),
    )
    .await?;
    let is_webhook = c.trigger == Trigger::Webhook;
    let secret = match (was_webhook, is_webhook) {
        (false, true) => {
            let (secret, sealed) = webhook::new_secret(&state, id).map_err(ApiError::internal)?;
            automations::set_webhook_secret(&state.db, id, Some(sealed), state.now()).await?;
            Some(secret)
        }
        (true, false) => {
            automations::set_webhook_secret(&state.db, id, None, state.now()).await?;
            None
        }
        _ => None,
    };
    let a = automations::get(&state.db, &auth.scope, id).await?;
    let changed = serde_json::to_value(&req).unwrap_or_default();
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "automation.update",
        &a,
        json!({"changes": changed}),
    )
    .await?;
    Ok(axum::Json(AutomationCreated {
        automation: a,
        secret,
    }))
}

/// Deletes an automation and its run history.
#[utoipa::path(delete, path = "/api/v1/automations/{id}", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AutomationId>,
) -> ApiResult<axum::Json<OkBody>> {
    let a = automations::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Perm::Delete, a.org_id)?;
    automations::delete(&state.db, &auth.scope, id).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "automation.delete",
        &a,
        json!({}),
    )
    .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Runs an automation now (any trigger type), on all its targets or the listed ones.
#[utoipa::path(post, path = "/api/v1/automations/{id}/run", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path)), request_body = Option<RunAutomation>,
    responses((status = 202, body = AutomationRunStarted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn run(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AutomationId>,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<AutomationRunStarted>)> {
    let a = automations::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Perm::Execute, a.org_id)?;
    auth.writable(a.org_id)?;
    let req: RunAutomation = if body.iter().all(u8::is_ascii_whitespace) {
        RunAutomation::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::validation("body", e.to_string()))?
    };
    if let Some(ids) = &req.device_ids {
        if ids.is_empty() || ids.len() > 1000 {
            return Err(ApiError::validation("device_ids", "name 1 to 1000 devices"));
        }
        let seen = breeze_store::devices::in_scope(&state.db, &auth.scope, ids).await?;
        if seen.len() != ids.len() {
            return Err(ApiError::validation(
                "device_ids",
                "every device must exist and be visible to you",
            ));
        }
    }
    if !a.enabled {
        return Err(ApiError::Conflict("the automation is disabled".into()));
    }
    let run = executor::start_run(
        &state,
        StartRun {
            automation_id: id,
            trigger_type: "manual".into(),
            trigger_context: json!({"device_ids": req.device_ids}),
            scheduled_for: None,
            devices: req.device_ids.clone(),
            triggered_by: Some(auth.user_id()),
            depth: 0,
        },
    )
    .await
    .map_err(ApiError::internal)?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "automation.run",
        &a,
        json!({"run_id": run, "device_ids": req.device_ids}),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(AutomationRunStarted { run_id: run }),
    ))
}

/// Runs of an automation, newest first.
#[utoipa::path(get, path = "/api/v1/automations/{id}/runs", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path), AutomationRunListQuery),
    responses((status = 200, body = Page<AutomationRun>), (status = 404, body = ErrorBody)))]
async fn runs(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AutomationId>,
    ApiQuery(p): ApiQuery<AutomationRunListQuery>,
) -> ApiResult<axum::Json<Page<AutomationRun>>> {
    automations::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Perm::Read)?;
    let opts = super::common::unsorted_list_opts(p.limit, p.cursor, None)?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            one_of(
                "status",
                s,
                &[
                    "pending",
                    "running",
                    "completed",
                    "failed",
                    "partial",
                    "interrupted",
                    "cancelled",
                ],
            )
        })
        .transpose()?;
    let (rows, next) =
        automation_runs::list(&state.db, &auth.scope, id, status.as_deref(), &opts).await?;
    Ok(page(rows, next))
}

/// One run with its per-device results and step logs.
#[utoipa::path(get, path = "/api/v1/automation-runs/{id}", tag = "automations", security(("bearer" = [])), params(("id" = AutomationRunId, Path)),
    responses((status = 200, body = AutomationRunDetail), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AutomationRunId>,
) -> ApiResult<axum::Json<AutomationRunDetail>> {
    let run = automation_runs::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Perm::Read)?;
    let devices = automation_runs::devices_of_run(&state.db, id).await?;
    Ok(axum::Json(AutomationRunDetail { run, devices }))
}

/// Replaces a webhook automation's signing secret; the new one is answered this once.
#[utoipa::path(post, path = "/api/v1/automations/{id}/webhook/rotate", tag = "automations", security(("bearer" = [])), params(("id" = AutomationId, Path)),
    responses((status = 200, body = AutomationCreated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AutomationId>,
) -> ApiResult<axum::Json<AutomationCreated>> {
    let a = automations::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Perm::Write, a.org_id)?;
    auth.writable(a.org_id)?;
    if a.trigger.get("type").and_then(Value::as_str) != Some("webhook") {
        return Err(ApiError::Conflict(
            "only a webhook automation has a secret".into(),
        ));
    }
    let (secret, sealed) = webhook::new_secret(&state, id).map_err(ApiError::internal)?;
    automations::set_webhook_secret(&state.db, id, Some(sealed), state.now()).await?;
    automations::forget_signatures(&state.db, id).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "automation.rotate_secret",
        &a,
        json!({}),
    )
    .await?;
    let a = automations::get(&state.db, &auth.scope, id).await?;
    Ok(axum::Json(AutomationCreated {
        automation: a,
        secret: Some(secret),
    }))
}

/// Starts a webhook automation. No user: the body must be signed with the automation's
/// secret (`X-Breeze-Signature: sha256=<hex HMAC-SHA256 of the raw body>`) and carry
/// `X-Breeze-Timestamp` (unix seconds) within 5 minutes of the server clock; a signature
/// seen before (while this secret lives) is refused, so a sender makes each body unique
/// (an event id or the time in the body). The JSON body (if any) becomes the run's trigger context.
#[utoipa::path(post, path = "/api/v1/automations/{id}/webhook", tag = "automations", params(("id" = AutomationId, Path)),
    request_body(content = String, content_type = "application/json", description = "Any JSON body, signed as sent"),
    responses((status = 202, body = AutomationRunStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn webhook_call(
    State(state): State<AppState>,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AutomationId>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<AutomationRunStarted>)> {
    let refused = || ApiError::Unauthorized("the webhook signature is not valid".into());
    let target = automations::webhook_target_for_system(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let sealed = match (&target.sealed, target.trigger_type.as_str()) {
        (Some(s), "webhook") => s.clone(),
        _ => return Err(ApiError::NotFound),
    };
    let secret = webhook::open_secret(&state, id, &sealed).map_err(ApiError::internal)?;
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let signature = header("x-breeze-signature");
    let now = state.now();
    match webhook::verify(&secret, &body, signature, header("x-breeze-timestamp"), now) {
        Ok(()) => {}
        Err(Refusal::BadSignature(m)) => {
            return Err(ApiError::Unauthorized(m.into()));
        }
        Err(Refusal::Stale) => {
            return Err(ApiError::Unauthorized(
                "X-Breeze-Timestamp is outside the 5-minute window".into(),
            ));
        }
    }
    let sig = signature.ok_or_else(refused)?.trim().to_ascii_lowercase();
    if !automations::remember_signature(&state.db, id, &sig, now).await? {
        return Err(ApiError::Conflict(
            "this signature was already used (a replay)".into(),
        ));
    }
    if !target.enabled {
        return Err(ApiError::Conflict("the automation is disabled".into()));
    }
    // Kept as the run's trigger context (`jsonb` on PostgreSQL): a number it could not
    // give back would fail every read of the run.
    crate::extract::check_numbers(&body, Some("body"))?;
    let payload: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| json!({"raw_bytes": body.len()}))
    };
    let run = executor::start_run(
        &state,
        StartRun {
            automation_id: id,
            trigger_type: "webhook".into(),
            trigger_context: json!({"body": payload}),
            scheduled_for: None,
            devices: None,
            triggered_by: None,
            depth: 0,
        },
    )
    .await
    .map_err(ApiError::internal)?;
    state
        .record(
            AuditEvent::new("automation.webhook", "automation")
                .org(Some(target.org_id))
                .resource(id, None)
                .details(json!({"run_id": run})),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(AutomationRunStarted { run_id: run }),
    ))
}
