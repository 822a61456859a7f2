//! `/api/v1/escalation-policies` (issue 11): ladders of notification steps an alert climbs
//! while nobody acknowledges it.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::page;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    AlertingListQuery, CreateEscalationPolicy, ErrorBody, EscalationPolicy, EscalationStep, OkBody,
    Page, UpdateEscalationPolicy,
};
use breeze_proto::ids::{EscalationPolicyId, OrgId};
use breeze_store::{escalation_policies, notification_channels, roles};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

/// The longest delay a step may have: 30 days.
const MAX_DELAY_MINUTES: u32 = 30 * 24 * 60;

/// Checks a ladder: 1..=20 steps with ascending delays, each notifying someone, its
/// channels in the policy's organization, its users and roles visible to the caller.
async fn check_steps(
    state: &AppState,
    auth: &Auth,
    org: OrgId,
    steps: &[EscalationStep],
) -> ApiResult<()> {
    if steps.is_empty() || steps.len() > 20 {
        return Err(ApiError::validation("steps", "must hold 1 to 20 steps"));
    }
    let mut prev: Option<u32> = None;
    for (i, s) in steps.iter().enumerate() {
        if s.delay_minutes > MAX_DELAY_MINUTES {
            return Err(ApiError::validation(
                format!("steps[{i}].delay_minutes"),
                format!("must be at most {MAX_DELAY_MINUTES} (30 days)"),
            ));
        }
        if let Some(p) = prev
            && s.delay_minutes <= p
        {
            return Err(ApiError::validation(
                format!("steps[{i}].delay_minutes"),
                "must be greater than the previous step's",
            ));
        }
        prev = Some(s.delay_minutes);
        if s.channels.is_empty() && s.targets.user_ids.is_empty() && s.targets.role_ids.is_empty() {
            return Err(ApiError::validation(
                format!("steps[{i}]"),
                "must notify at least one channel, user or role",
            ));
        }
        if s.channels.len() > 20 || s.targets.user_ids.len() > 100 || s.targets.role_ids.len() > 20
        {
            return Err(ApiError::validation(
                format!("steps[{i}]"),
                "at most 20 channels, 100 users and 20 roles per step",
            ));
        }
        let found = notification_channels::existing_in_org(&state.db, org, &s.channels).await?;
        if let Some(bad) = s.channels.iter().find(|c| !found.contains(c)) {
            return Err(ApiError::validation(
                format!("steps[{i}].channels"),
                format!("no channel {} in this organization", bad.0),
            ));
        }
        let users = escalation_policies::users_of_org(&state.db, org, &s.targets.user_ids).await?;
        if let Some(bad) = s.targets.user_ids.iter().find(|u| !users.contains(u)) {
            return Err(ApiError::validation(
                format!("steps[{i}].targets.user_ids"),
                format!("no user {} with access to this organization", bad.0),
            ));
        }
        for r in &s.targets.role_ids {
            roles::get(&state.db, &auth.scope, *r).await.map_err(|_| {
                ApiError::validation(
                    format!("steps[{i}].targets.role_ids"),
                    format!("no role {}", r.0),
                )
            })?;
        }
    }
    Ok(())
}

/// Policies in reach.
#[utoipa::path(get, path = "/api/v1/escalation-policies", tag = "escalation-policies", security(("bearer" = [])), params(AlertingListQuery),
    responses((status = 200, body = Page<EscalationPolicy>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AlertingListQuery>,
) -> ApiResult<axum::Json<Page<EscalationPolicy>>> {
    auth.require(Resource::Alerts, Action::Read)?;
    let opts = super::common::unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let (rows, next) = escalation_policies::list(&state.db, &auth.scope, p.org_id, &opts).await?;
    Ok(page(rows, next))
}

/// Creates a policy in an organization.
#[utoipa::path(post, path = "/api/v1/escalation-policies", tag = "escalation-policies", security(("bearer" = [])), request_body = CreateEscalationPolicy,
    responses((status = 201, body = EscalationPolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateEscalationPolicy>,
) -> ApiResult<(StatusCode, axum::Json<EscalationPolicy>)> {
    auth.require(Resource::Alerts, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let name = validate::name("name", &req.name, 200)?;
    let description = validate::optional_text("description", req.description.as_deref(), 2000)?;
    check_steps(&state, &auth, org.id, &req.steps).await?;
    let id = escalation_policies::create(
        &state.db,
        org.id,
        &name,
        description.as_deref(),
        &req.steps,
        Some(auth.user_id()),
        state.now(),
    )
    .await?;
    let p = escalation_policies::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("escalation_policy.create", "escalation_policy")
                .by(&auth)
                .client(&meta)
                .org(Some(p.org_id))
                .resource(id.0, Some(&p.name))
                .details(json!({"steps": p.steps.len()})),
            Some(&slot),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(p)))
}

/// One policy.
#[utoipa::path(get, path = "/api/v1/escalation-policies/{id}", tag = "escalation-policies", security(("bearer" = [])), params(("id" = EscalationPolicyId, Path)),
    responses((status = 200, body = EscalationPolicy), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<EscalationPolicyId>,
) -> ApiResult<axum::Json<EscalationPolicy>> {
    let p = escalation_policies::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(p))
}

/// Renames a policy or replaces its steps (alerts already climbing keep their step number).
#[utoipa::path(patch, path = "/api/v1/escalation-policies/{id}", tag = "escalation-policies", security(("bearer" = [])), params(("id" = EscalationPolicyId, Path)), request_body = UpdateEscalationPolicy,
    responses((status = 200, body = EscalationPolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<EscalationPolicyId>,
    ApiJson(req): ApiJson<UpdateEscalationPolicy>,
) -> ApiResult<axum::Json<EscalationPolicy>> {
    let mut p = escalation_policies::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, p.org_id)?;
    if let Some(n) = &req.name {
        p.name = validate::name("name", n, 200)?;
    }
    if let Some(d) = &req.description {
        p.description = validate::optional_text("description", d.as_deref(), 2000)?;
    }
    if let Some(steps) = req.steps {
        check_steps(&state, &auth, p.org_id, &steps).await?;
        p.steps = steps;
    }
    escalation_policies::update(&state.db, &auth.scope, &p, state.now()).await?;
    let p = escalation_policies::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("escalation_policy.update", "escalation_policy")
                .by(&auth)
                .client(&meta)
                .org(Some(p.org_id))
                .resource(id.0, Some(&p.name))
                .details(json!({"steps": p.steps.len()})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(p))
}

/// Deletes a policy; its rules keep notifying their own channels.
#[utoipa::path(delete, path = "/api/v1/escalation-policies/{id}", tag = "escalation-policies", security(("bearer" = [])), params(("id" = EscalationPolicyId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<EscalationPolicyId>,
) -> ApiResult<axum::Json<OkBody>> {
    let p = escalation_policies::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, p.org_id)?;
    escalation_policies::delete(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("escalation_policy.delete", "escalation_policy")
                .by(&auth)
                .client(&meta)
                .org(Some(p.org_id))
                .resource(id.0, Some(&p.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}
