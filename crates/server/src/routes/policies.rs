//! `/api/v1/policies` (issue 13): desired-state policies (CRUD), their compliance (counts,
//! per device and rule, history), a fleet summary, and evaluation on demand. Permissions
//! are `automations:*`.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{page, unsorted_list_opts};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::alerts::Targets;
use breeze_core::permissions::{Action, Resource};
use breeze_core::policy_rules;
use breeze_core::validate;
use breeze_proto::api::{
    ComplianceChange, ComplianceHistoryQuery, ComplianceQuery, CreatePolicy, Enforcement,
    ErrorBody, OkBody, Page, Policy, PolicyCompliance, PolicyComplianceSummary, PolicyEvaluation,
    PolicyListQuery, PolicyRule, UpdatePolicy,
};
use breeze_proto::ids::{OrgId, PolicyId, ScriptId};
use breeze_store::{policies, policy_compliance};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(summary))
        .routes(routes!(get, update, delete))
        .routes(routes!(compliance))
        .routes(routes!(history))
        .routes(routes!(evaluate))
}

/// Check interval bounds, in minutes (five minutes to a week).
const MIN_INTERVAL: u32 = 5;
const MAX_INTERVAL: u32 = 7 * 24 * 60;
const MAX_ATTEMPTS: u32 = 20;

fn check_targets(v: &Value) -> ApiResult<Value> {
    Targets::parse("targets", v)
        .map(|t| t.to_json())
        .map_err(|e| ApiError::validation(e.path, e.message))
}

fn check_rules(v: &[Value]) -> ApiResult<Vec<PolicyRule>> {
    policy_rules::parse_rules("rules", v).map_err(|e| ApiError::validation(e.path, e.message))
}

fn check_interval(m: u32) -> ApiResult<i64> {
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&m) {
        return Err(ApiError::validation(
            "check_interval_minutes",
            format!("must be between {MIN_INTERVAL} and {MAX_INTERVAL}"),
        ));
    }
    Ok(i64::from(m))
}

fn check_attempts(a: u32) -> ApiResult<i64> {
    if !(1..=MAX_ATTEMPTS).contains(&a) {
        return Err(ApiError::validation(
            "remediation_max_attempts",
            format!("must be between 1 and {MAX_ATTEMPTS}"),
        ));
    }
    Ok(i64::from(a))
}

/// The scripts a policy names (check scripts in rules, the remediation script) must be
/// the organization's; enforce mode needs a remediation script.
async fn check_links(
    state: &AppState,
    org: OrgId,
    enforcement: Enforcement,
    rules: &[PolicyRule],
    remediation: Option<ScriptId>,
) -> ApiResult<()> {
    if enforcement == Enforcement::Enforce && remediation.is_none() {
        return Err(ApiError::validation(
            "remediation_script_id",
            "enforce mode needs a remediation script",
        ));
    }
    let mut ids: Vec<(String, ScriptId)> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            PolicyRule::Script { script_id } => Some((format!("rules[{i}].script_id"), *script_id)),
            _ => None,
        })
        .collect();
    if let Some(r) = remediation {
        ids.push(("remediation_script_id".into(), r));
    }
    policies::check_scripts(&state.db, org, &ids).await?;
    Ok(())
}

async fn audit(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    action: &str,
    p: &Policy,
    details: Value,
) -> ApiResult<()> {
    state
        .record(
            AuditEvent::new(action, "policy")
                .by(auth)
                .client(meta)
                .org(Some(p.org_id))
                .resource(p.id, Some(&p.name))
                .details(details),
            Some(slot),
        )
        .await
}

/// Policies in reach, with their compliance counts.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", security(("bearer" = [])), params(PolicyListQuery),
    responses((status = 200, body = Page<Policy>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<PolicyListQuery>,
) -> ApiResult<axum::Json<Page<Policy>>> {
    auth.require(Resource::Automations, Action::Read)?;
    let opts = unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let (rows, next) = policies::list(&state.db, &auth.scope, p.org_id, &opts).await?;
    Ok(page(rows, next))
}

/// Compliance counts of every policy in reach (the dashboard's fleet view). Counts are
/// maintained as results arrive; this never counts devices.
#[utoipa::path(get, path = "/api/v1/policies/compliance-summary", tag = "policies", security(("bearer" = [])), params(PolicyListQuery),
    responses((status = 200, body = Page<PolicyComplianceSummary>), (status = 422, body = ErrorBody)))]
async fn summary(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<PolicyListQuery>,
) -> ApiResult<axum::Json<Page<PolicyComplianceSummary>>> {
    auth.require(Resource::Automations, Action::Read)?;
    let opts = unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let (rows, next) = policies::list(&state.db, &auth.scope, p.org_id, &opts).await?;
    let data = rows
        .into_iter()
        .map(|p| PolicyComplianceSummary {
            policy_id: p.id,
            org_id: p.org_id,
            name: p.name,
            enabled: p.enabled,
            enforcement: p.enforcement,
            counts: p.counts,
        })
        .collect();
    Ok(page(data, next))
}

/// Creates a policy in an organization. Its devices are matched and checked by the next
/// sweep (or at once with `POST …/evaluate`).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", security(("bearer" = [])), request_body = CreatePolicy,
    responses((status = 201, body = Policy), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreatePolicy>,
) -> ApiResult<(StatusCode, axum::Json<Policy>)> {
    auth.require(Resource::Automations, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let name = validate::name("name", &req.name, 200)?;
    let description = validate::optional_text("description", req.description.as_deref(), 2000)?;
    let targets = check_targets(&req.targets)?;
    let check_interval_minutes = check_interval(req.check_interval_minutes.unwrap_or(60))?;
    let rules = check_rules(&req.rules)?;
    let remediation_max_attempts = check_attempts(req.remediation_max_attempts.unwrap_or(3))?;
    check_links(
        &state,
        org.id,
        req.enforcement,
        &rules,
        req.remediation_script_id,
    )
    .await?;
    let id = policies::create(
        &state.db,
        &policies::NewPolicy {
            org_id: org.id,
            name,
            description,
            enabled: req.enabled.unwrap_or(true),
            enforcement: req.enforcement,
            targets,
            check_interval_minutes,
            rules,
            remediation_script_id: req.remediation_script_id,
            remediation_max_attempts,
            created_by: Some(auth.user_id()),
        },
        state.now(),
    )
    .await?;
    let p = policies::get(&state.db, &auth.scope, id).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "policy.create",
        &p,
        json!({"enforcement": p.enforcement, "targets": p.targets, "rules": p.rules,
            "remediation_script_id": p.remediation_script_id}),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// One policy with its counts.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path)),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PolicyId>,
) -> ApiResult<axum::Json<Policy>> {
    let p = policies::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Action::Read)?;
    Ok(axum::Json(p))
}

/// Changes a policy. New rules reset every device to `unknown` until its next check;
/// devices that leave the targets lose their compliance rows at the next sweep.
#[utoipa::path(patch, path = "/api/v1/policies/{id}", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path)), request_body = UpdatePolicy,
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<PolicyId>,
    ApiJson(req): ApiJson<UpdatePolicy>,
) -> ApiResult<axum::Json<Policy>> {
    let mut p = policies::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Action::Write, p.org_id)?;
    auth.writable(p.org_id)?;
    if let Some(n) = &req.name {
        p.name = validate::name("name", n, 200)?;
    }
    if let Some(d) = &req.description {
        p.description = validate::optional_text("description", d.as_deref(), 2000)?;
    }
    if let Some(e) = req.enabled {
        p.enabled = e;
    }
    if let Some(e) = req.enforcement {
        p.enforcement = e;
    }
    let mut targets_changed = false;
    if let Some(t) = &req.targets {
        let t = check_targets(t)?;
        targets_changed = t != p.targets;
        p.targets = t;
    }
    if let Some(m) = req.check_interval_minutes {
        p.check_interval_minutes = check_interval(m)?;
    }
    let mut rules_changed = false;
    if let Some(r) = &req.rules {
        let r = check_rules(r)?;
        rules_changed = r != p.rules;
        p.rules = r;
    }
    if let Some(s) = req.remediation_script_id {
        p.remediation_script_id = s;
    }
    if let Some(a) = req.remediation_max_attempts {
        p.remediation_max_attempts = check_attempts(a)?;
    }
    check_links(
        &state,
        p.org_id,
        p.enforcement,
        &p.rules,
        p.remediation_script_id,
    )
    .await?;
    policies::update(
        &state.db,
        &auth.scope,
        &p,
        rules_changed,
        targets_changed,
        state.now(),
    )
    .await?;
    let p = policies::get(&state.db, &auth.scope, id).await?;
    let changed = serde_json::to_value(&req).unwrap_or_default();
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "policy.update",
        &p,
        json!({"changes": changed}),
    )
    .await?;
    Ok(axum::Json(p))
}

/// Deletes a policy with its compliance rows and history.
#[utoipa::path(delete, path = "/api/v1/policies/{id}", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<PolicyId>,
) -> ApiResult<axum::Json<OkBody>> {
    let p = policies::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Action::Delete, p.org_id)?;
    auth.writable(p.org_id)?;
    policies::delete(&state.db, &auth.scope, id).await?;
    audit(&state, &auth, &meta, &slot, "policy.delete", &p, json!({})).await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Compliance: the aggregated counts (devices by overall status, results per rule) and a
/// page of the targeted devices in reach with their per-rule results.
#[utoipa::path(get, path = "/api/v1/policies/{id}/compliance", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path), ComplianceQuery),
    responses((status = 200, body = PolicyCompliance), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn compliance(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PolicyId>,
    ApiQuery(q): ApiQuery<ComplianceQuery>,
) -> ApiResult<axum::Json<PolicyCompliance>> {
    let p = policies::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Action::Read)?;
    let opts = unsorted_list_opts(q.limit, q.cursor, None)?;
    let types: Vec<&str> = p.rules.iter().map(PolicyRule::kind).collect();
    // The counts and the device page are separate reads: a result committed between them
    // would show a device's new status next to counts from before it (every status change
    // moves the counts in the same transaction). So read the counts again after the page
    // and retry when they moved; after a few tries, answer the last reading.
    let mut tries = 0;
    let (counts, rule_counts, data, next_cursor) = loop {
        let before = policy_compliance::counts(&state.db, id).await?;
        let (data, next_cursor) = policy_compliance::list_devices(
            &state.db,
            &auth.scope,
            id,
            &types,
            q.status,
            q.device_id,
            &opts,
        )
        .await?;
        let after = policy_compliance::counts(&state.db, id).await?;
        tries += 1;
        if before == after || tries == 3 {
            break (after.0, after.1, data, next_cursor);
        }
    };
    Ok(axum::Json(PolicyCompliance {
        policy_id: id,
        counts,
        rule_counts,
        data,
        next_cursor,
    }))
}

/// Status changes of the policy's devices (overall, `rule_index` null, and per rule),
/// newest first.
#[utoipa::path(get, path = "/api/v1/policies/{id}/compliance/history", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path), ComplianceHistoryQuery),
    responses((status = 200, body = Page<ComplianceChange>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<PolicyId>,
    ApiQuery(q): ApiQuery<ComplianceHistoryQuery>,
) -> ApiResult<axum::Json<Page<ComplianceChange>>> {
    policies::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Automations, Action::Read)?;
    let opts = unsorted_list_opts(q.limit, q.cursor, None)?;
    let (rows, next) =
        policy_compliance::history(&state.db, &auth.scope, id, q.device_id, &opts).await?;
    Ok(page(rows, next))
}

/// Evaluates now: matches the targets and queues a check to every targeted online device
/// in reach that has none in flight. Results arrive as the agents answer.
#[utoipa::path(post, path = "/api/v1/policies/{id}/evaluate", tag = "policies", security(("bearer" = [])), params(("id" = PolicyId, Path)),
    responses((status = 202, body = PolicyEvaluation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn evaluate(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<PolicyId>,
) -> ApiResult<(StatusCode, axum::Json<PolicyEvaluation>)> {
    let p = policies::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Automations, Action::Execute, p.org_id)?;
    auth.writable(p.org_id)?;
    if !p.enabled {
        return Err(ApiError::Conflict("the policy is disabled".into()));
    }
    let result = crate::policies::evaluate_now(&state, &auth.scope, &p).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "policy.evaluate",
        &p,
        json!({"queued": result.queued, "skipped": result.skipped}),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(result)))
}
