//! `/api/v1/alert-rules` (issue 11): CRUD, a dry run against current data, and the
//! built-in templates.

use crate::alerting::templates;
use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::page;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::alerts::{Condition, Severity, Targets};
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    AlertRule, AlertRuleTemplate, AlertRuleTestResult, AlertingListQuery, CreateAlertRule, Data,
    ErrorBody, OkBody, Page, RulesFromTemplate, UpdateAlertRule,
};
use breeze_proto::ids::{AlertRuleId, EscalationPolicyId, NotificationChannelId, OrgId};
use breeze_store::alert_rules::{self, NewRule};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(templates_list))
        .routes(routes!(from_template))
        .routes(routes!(get, update, delete))
        .routes(routes!(test))
}

/// Longest cooldown: a week.
const MAX_COOLDOWN_MINUTES: u32 = 7 * 24 * 60;

fn check_targets(v: &Value) -> ApiResult<Value> {
    Targets::parse("targets", v)
        .map(|t| t.to_json())
        .map_err(|e| ApiError::validation(e.path, e.message))
}

fn check_conditions(v: &Value) -> ApiResult<Value> {
    Condition::parse("conditions", v)
        .map(|c| c.to_json())
        .map_err(|e| ApiError::validation(e.path, e.message))
}

fn check_severity(s: &str) -> ApiResult<String> {
    Severity::parse("severity", s)
        .map(|s| s.as_str().to_string())
        .map_err(|e| ApiError::validation(e.path, e.message))
}

fn check_cooldown(c: u32) -> ApiResult<i64> {
    if c > MAX_COOLDOWN_MINUTES {
        return Err(ApiError::validation(
            "cooldown_minutes",
            format!("must be at most {MAX_COOLDOWN_MINUTES}"),
        ));
    }
    Ok(i64::from(c))
}

/// Channels and policy must be the rule's organization's.
async fn check_links(
    state: &AppState,
    org: OrgId,
    channels: &[NotificationChannelId],
    policy: Option<EscalationPolicyId>,
) -> ApiResult<()> {
    alert_rules::check_channels(&state.db, org, channels).await?;
    if let Some(p) = policy {
        alert_rules::check_policy(&state.db, org, p).await?;
    }
    Ok(())
}

async fn audit(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    action: &str,
    r: &AlertRule,
    details: Value,
) -> ApiResult<()> {
    state
        .record(
            AuditEvent::new(action, "alert_rule")
                .by(auth)
                .client(meta)
                .org(Some(r.org_id))
                .resource(r.id, Some(&r.name))
                .details(details),
            Some(slot),
        )
        .await
}

/// Alert rules in reach.
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alerts", security(("bearer" = [])), params(AlertingListQuery),
    responses((status = 200, body = Page<AlertRule>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AlertingListQuery>,
) -> ApiResult<axum::Json<Page<AlertRule>>> {
    auth.require(Resource::Alerts, Action::Read)?;
    let opts = super::common::unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let (rows, next) = alert_rules::list(&state.db, &auth.scope, p.org_id, &opts).await?;
    Ok(page(rows, next))
}

/// Creates a rule in an organization.
#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "alerts", security(("bearer" = [])), request_body = CreateAlertRule,
    responses((status = 201, body = AlertRule), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateAlertRule>,
) -> ApiResult<(StatusCode, axum::Json<AlertRule>)> {
    auth.require(Resource::Alerts, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let name = validate::name("name", &req.name, 200)?;
    let description = validate::optional_text("description", req.description.as_deref(), 2000)?;
    let severity = check_severity(&req.severity)?;
    let targets = check_targets(&req.targets)?;
    let conditions = check_conditions(&req.conditions)?;
    let cooldown_minutes = check_cooldown(req.cooldown_minutes.unwrap_or(15))?;
    check_links(
        &state,
        org.id,
        &req.notification_channels,
        req.escalation_policy_id,
    )
    .await?;
    let id = alert_rules::create(
        &state.db,
        &NewRule {
            org_id: org.id,
            name,
            description,
            enabled: req.enabled.unwrap_or(true),
            severity,
            targets,
            conditions,
            cooldown_minutes,
            auto_resolve: req.auto_resolve.unwrap_or(true),
            escalation_policy_id: req.escalation_policy_id,
            notification_channels: req.notification_channels,
            template: None,
            created_by: Some(auth.user_id()),
        },
        state.now(),
    )
    .await?;
    state.alerting.rule_changed(id);
    let r = alert_rules::get(&state.db, &auth.scope, id).await?;
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "alert_rule.create",
        &r,
        json!({"severity": r.severity, "conditions": r.conditions, "targets": r.targets}),
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/alert-rules/{id}", tag = "alerts", security(("bearer" = [])), params(("id" = AlertRuleId, Path)),
    responses((status = 200, body = AlertRule), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AlertRuleId>,
) -> ApiResult<axum::Json<AlertRule>> {
    let r = alert_rules::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(r))
}

/// Changes a rule; its metric windows start again.
#[utoipa::path(patch, path = "/api/v1/alert-rules/{id}", tag = "alerts", security(("bearer" = [])), params(("id" = AlertRuleId, Path)), request_body = UpdateAlertRule,
    responses((status = 200, body = AlertRule), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertRuleId>,
    ApiJson(req): ApiJson<UpdateAlertRule>,
) -> ApiResult<axum::Json<AlertRule>> {
    let mut r = alert_rules::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, r.org_id)?;
    if let Some(n) = &req.name {
        r.name = validate::name("name", n, 200)?;
    }
    if let Some(d) = &req.description {
        r.description = validate::optional_text("description", d.as_deref(), 2000)?;
    }
    if let Some(e) = req.enabled {
        r.enabled = e;
    }
    if let Some(s) = &req.severity {
        r.severity = check_severity(s)?;
    }
    if let Some(t) = &req.targets {
        r.targets = check_targets(t)?;
    }
    if let Some(c) = &req.conditions {
        r.conditions = check_conditions(c)?;
    }
    if let Some(c) = req.cooldown_minutes {
        r.cooldown_minutes = check_cooldown(c)?;
    }
    if let Some(a) = req.auto_resolve {
        r.auto_resolve = a;
    }
    if let Some(c) = &req.notification_channels {
        r.notification_channels = c.clone();
    }
    if let Some(p) = req.escalation_policy_id {
        r.escalation_policy_id = p;
    }
    check_links(
        &state,
        r.org_id,
        &r.notification_channels,
        r.escalation_policy_id,
    )
    .await?;
    alert_rules::update(&state.db, &auth.scope, &r, state.now()).await?;
    state.alerting.rule_changed(id);
    let r = alert_rules::get(&state.db, &auth.scope, id).await?;
    let changed = serde_json::to_value(&req).unwrap_or_default();
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "alert_rule.update",
        &r,
        json!({"changes": changed}),
    )
    .await?;
    Ok(axum::Json(r))
}

/// Deletes a rule; its alerts stay in the history (without the rule link).
#[utoipa::path(delete, path = "/api/v1/alert-rules/{id}", tag = "alerts", security(("bearer" = [])), params(("id" = AlertRuleId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertRuleId>,
) -> ApiResult<axum::Json<OkBody>> {
    let r = alert_rules::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, r.org_id)?;
    alert_rules::delete(&state.db, &auth.scope, id).await?;
    state.alerting.rule_changed(id);
    audit(
        &state,
        &auth,
        &meta,
        &slot,
        "alert_rule.delete",
        &r,
        json!({}),
    )
    .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Evaluates the rule now against current data (latest metrics, status, metric windows)
/// without raising or notifying anything.
#[utoipa::path(post, path = "/api/v1/alert-rules/{id}/test", tag = "alerts", security(("bearer" = [])), params(("id" = AlertRuleId, Path)),
    responses((status = 200, body = AlertRuleTestResult), (status = 404, body = ErrorBody)))]
async fn test(
    State(state): State<AppState>,
    auth: Auth,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertRuleId>,
) -> ApiResult<axum::Json<AlertRuleTestResult>> {
    let r = alert_rules::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    // A dry run changes nothing: no audit row.
    slot.skip();
    Ok(axum::Json(
        state.alerting.test(&state, &auth.scope, &r).await?,
    ))
}

/// The built-in templates.
#[utoipa::path(get, path = "/api/v1/alert-rules/templates", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = Data<Vec<AlertRuleTemplate>>)))]
async fn templates_list(auth: Auth) -> ApiResult<axum::Json<Data<Vec<AlertRuleTemplate>>>> {
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(Data {
        data: templates::all(),
    }))
}

/// Enables built-in templates in an organization (all of them without `templates`).
/// Idempotent: a template already enabled answers its existing rule.
#[utoipa::path(post, path = "/api/v1/alert-rules/from-template", tag = "alerts", security(("bearer" = [])), request_body = RulesFromTemplate,
    responses((status = 200, body = Data<Vec<AlertRule>>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn from_template(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<RulesFromTemplate>,
) -> ApiResult<axum::Json<Data<Vec<AlertRule>>>> {
    auth.require(Resource::Alerts, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let keys: Vec<String> = match &req.templates {
        Some(k) if k.is_empty() => {
            return Err(ApiError::validation(
                "templates",
                "name at least one template",
            ));
        }
        Some(k) => k.clone(),
        None => templates::KEYS.iter().map(|k| k.to_string()).collect(),
    };
    let mut chosen = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let t = templates::get(k).ok_or_else(|| {
            ApiError::validation(
                format!("templates[{i}]"),
                format!("must be one of: {}", templates::KEYS.join(", ")),
            )
        })?;
        if !chosen
            .iter()
            .any(|c: &breeze_proto::api::AlertRuleTemplate| c.key == t.key)
        {
            chosen.push(t);
        }
    }
    check_links(&state, org.id, &req.notification_channels, None).await?;
    let mut out = Vec::new();
    let mut created = Vec::new();
    for t in chosen {
        if let Some(r) = alert_rules::by_template(&state.db, &auth.scope, org.id, &t.key).await? {
            out.push(r);
            continue;
        }
        let new = NewRule {
            org_id: org.id,
            name: t.name.clone(),
            description: Some(t.description.clone()),
            enabled: true,
            severity: t.severity.clone(),
            targets: json!({"all": true}),
            conditions: t.conditions.clone(),
            cooldown_minutes: t.cooldown_minutes,
            auto_resolve: true,
            escalation_policy_id: None,
            notification_channels: req.notification_channels.clone(),
            template: Some(t.key.clone()),
            created_by: Some(auth.user_id()),
        };
        let id = match alert_rules::create(&state.db, &new, state.now()).await {
            Ok(id) => id,
            // Enabled by a concurrent request: answer that rule.
            Err(breeze_store::StoreError::Conflict(_)) => {
                match alert_rules::by_template(&state.db, &auth.scope, org.id, &t.key).await? {
                    Some(r) => {
                        out.push(r);
                        continue;
                    }
                    None => return Err(ApiError::Conflict("alert_rules.template".into())),
                }
            }
            Err(e) => return Err(e.into()),
        };
        state.alerting.rule_changed(id);
        let r = alert_rules::get(&state.db, &auth.scope, id).await?;
        created.push(r.id);
        out.push(r);
    }
    state
        .record(
            AuditEvent::new("alert_rule.from_template", "alert_rule")
                .by(&auth)
                .client(&meta)
                .org(Some(org.id))
                .details(json!({"templates": keys, "created": created})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(Data { data: out }))
}
