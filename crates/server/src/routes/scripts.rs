//! The script library (`/api/v1/scripts`) and executions (`/api/v1/script-executions`),
//! seed 004 "Scripts & Automation".

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::dispatch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::json_limits;
use breeze_core::permissions::{Action, Resource};
use breeze_core::script_params;
use breeze_core::validate;
use breeze_proto::agent::{RunAs, ScriptLanguage};
use breeze_proto::api::vocab;
use breeze_proto::api::{
    CreateScript, Data, ErrorBody, ExecuteScript, ExecutionListQuery, ExecutionRef, ListParams,
    OkBody, Page, Script, ScriptExecution, ScriptListQuery, UpdateScript,
};
use breeze_proto::ids::{DeviceId, ExecutionId, ScriptId};
use breeze_store::listing::check_search;
use breeze_store::scripts;
use breeze_store::{device_groups, devices, orgs, sites};
use serde_json::json;
use std::collections::BTreeSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(execute))
        .routes(routes!(list_executions))
        .routes(routes!(get_execution))
}

const MAX_CONTENT: usize = 256 * 1024;

pub(crate) fn language(field: &str, l: &str) -> ApiResult<ScriptLanguage> {
    let l = one_of(field, l, vocab::SCRIPT_LANGUAGES)?;
    serde_json::from_value(json!(l)).map_err(|_| ApiError::validation(field, "unknown language"))
}

fn check_os_types(v: &[String]) -> ApiResult<Vec<String>> {
    if v.is_empty() {
        return Err(ApiError::validation("os_types", "name at least one OS"));
    }
    let mut out = Vec::new();
    for o in v {
        let o = one_of("os_types", o, vocab::OS_TYPES)?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

fn check_content(c: &str) -> ApiResult<()> {
    if c.trim().is_empty() {
        return Err(ApiError::validation("content", "is required"));
    }
    if c.len() > MAX_CONTENT || c.contains('\0') {
        return Err(ApiError::validation(
            "content",
            "must be at most 256 KiB of text without NUL",
        ));
    }
    Ok(())
}

fn check_timeout(t: i64) -> ApiResult<i64> {
    if (1..=86_400).contains(&t) {
        Ok(t)
    } else {
        Err(ApiError::validation(
            "timeout_seconds",
            "must be between 1 and 86400",
        ))
    }
}

fn check_run_as(r: &RunAs) -> ApiResult<()> {
    if let RunAs::User(u) = r {
        let ok = !u.is_empty()
            && u.len() <= 64
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '\\' | '@'));
        if !ok {
            return Err(ApiError::validation("run_as", "not a valid account name"));
        }
    }
    Ok(())
}

fn optional_text(field: &str, v: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Ok(Some(validate::name(field, s, max)?)),
    }
}

/// Scripts in reach: the organizations' own and the partner's shared library.
#[utoipa::path(get, path = "/api/v1/scripts", tag = "scripts", security(("bearer" = [])), params(ScriptListQuery),
    responses((status = 200, body = Page<Script>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ScriptListQuery>,
) -> ApiResult<axum::Json<Page<Script>>> {
    auth.require(Resource::Scripts, Action::Read)?;
    if let Some(c) = &p.category {
        check_search("category", c)?;
    }
    if let Some(l) = &p.language {
        one_of("language", l, vocab::SCRIPT_LANGUAGES)?;
    }
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: p.sort,
        q: p.q,
    })?;
    let (rows, next) = scripts::list(
        &state.db,
        &auth.scope,
        p.org_id,
        p.category.as_deref(),
        p.language.as_deref(),
        &opts,
    )
    .await?;
    Ok(page(rows, next))
}

/// Creates a script (version 1) in an organization, or partner-wide without `org_id`.
#[utoipa::path(post, path = "/api/v1/scripts", tag = "scripts", security(("bearer" = [])), request_body = CreateScript,
    responses((status = 201, body = Script), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateScript>,
) -> ApiResult<(StatusCode, axum::Json<Script>)> {
    auth.require(Resource::Scripts, Action::Write)?;
    let partner = auth
        .scope
        .partner_id
        .ok_or_else(|| ApiError::Forbidden("scripts belong to a partner".into()))?;
    let org_id = match req.org_id {
        Some(o) => Some(
            orgs::get(&state.db, &auth.scope, o)
                .await
                .map_err(|_| ApiError::validation("org_id", "no such organization"))?
                .id,
        ),
        None if auth.scope.is_partner_wide() => None,
        None => {
            return Err(ApiError::validation(
                "org_id",
                "only partner staff with every organization may create partner-wide scripts",
            ));
        }
    };
    if let Some(org) = org_id {
        auth.writable(org)?;
    }
    let name = validate::name("name", &req.name, 200)?;
    language("language", &req.language)?;
    let os_types = check_os_types(&req.os_types)?;
    check_content(&req.content)?;
    let parameters = req.parameters.clone().unwrap_or_else(|| json!([]));
    json_limits::check("parameters", &parameters, json_limits::SCRIPT_PARAMETERS)?;
    script_params::parse_schema(&parameters)?;
    let run_as = req.run_as.clone().unwrap_or_default();
    check_run_as(&run_as)?;
    let now = state.now();
    let s = Script {
        id: ScriptId::new(),
        org_id,
        partner_id: partner,
        name,
        description: optional_text("description", req.description.as_deref(), 2000)?,
        category: optional_text("category", req.category.as_deref(), 100)?,
        language: req.language.clone(),
        os_types,
        content: req.content.clone(),
        parameters,
        timeout_seconds: check_timeout(req.timeout_seconds.unwrap_or(300))?,
        run_as,
        version: 1,
        created_by: Some(auth.user_id()),
        created_at: now,
        updated_at: now,
    };
    scripts::create(&state.db, &s, now).await?;
    let s = scripts::get(&state.db, &auth.scope, s.id).await?;
    state
        .record(
            AuditEvent::new("script.create", "script")
                .by(&auth)
                .client(&meta)
                .org(s.org_id)
                .resource(s.id, Some(&s.name)),
            Some(&slot),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(s)))
}

/// One script with its current version.
#[utoipa::path(get, path = "/api/v1/scripts/{id}", tag = "scripts", security(("bearer" = [])), params(("id" = ScriptId, Path)),
    responses((status = 200, body = Script), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<ScriptId>,
) -> ApiResult<axum::Json<Script>> {
    auth.require(Resource::Scripts, Action::Read)?;
    Ok(axum::Json(scripts::get(&state.db, &auth.scope, id).await?))
}

/// Only partner-wide staff change partner-wide scripts.
fn may_change(auth: &Auth, s: &Script) -> ApiResult<()> {
    if s.org_id.is_none() && !auth.scope.is_partner_wide() {
        return Err(ApiError::Forbidden(
            "partner-wide scripts are changed by partner staff".into(),
        ));
    }
    match s.org_id {
        Some(org) => auth.writable(org),
        None => Ok(()),
    }
}

/// Changes a script; a change of content, language or parameters makes a new version.
#[utoipa::path(patch, path = "/api/v1/scripts/{id}", tag = "scripts", security(("bearer" = [])), params(("id" = ScriptId, Path)), request_body = UpdateScript,
    responses((status = 200, body = Script), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<ScriptId>,
    ApiJson(req): ApiJson<UpdateScript>,
) -> ApiResult<axum::Json<Script>> {
    auth.require(Resource::Scripts, Action::Write)?;
    let mut s = scripts::get(&state.db, &auth.scope, id).await?;
    may_change(&auth, &s)?;
    let mut new_version = false;
    if let Some(n) = &req.name {
        s.name = validate::name("name", n, 200)?;
    }
    if let Some(d) = &req.description {
        s.description = optional_text("description", Some(d), 2000)?;
    }
    if let Some(c) = &req.category {
        s.category = optional_text("category", Some(c), 100)?;
    }
    if let Some(l) = &req.language {
        language("language", l)?;
        new_version |= *l != s.language;
        s.language = l.clone();
    }
    if let Some(o) = &req.os_types {
        s.os_types = check_os_types(o)?;
    }
    if let Some(c) = &req.content {
        check_content(c)?;
        new_version |= *c != s.content;
        s.content = c.clone();
    }
    if let Some(p) = &req.parameters {
        json_limits::check("parameters", p, json_limits::SCRIPT_PARAMETERS)?;
        script_params::parse_schema(p)?;
        new_version |= *p != s.parameters;
        s.parameters = p.clone();
    }
    if let Some(t) = req.timeout_seconds {
        s.timeout_seconds = check_timeout(t)?;
    }
    if let Some(r) = &req.run_as {
        check_run_as(r)?;
        s.run_as = r.clone();
    }
    let version = scripts::update(
        &state.db,
        &auth.scope,
        &s,
        new_version,
        Some(auth.user_id()),
        state.now(),
    )
    .await?;
    let s = scripts::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("script.update", "script")
                .by(&auth)
                .client(&meta)
                .org(s.org_id)
                .resource(id, Some(&s.name))
                .details(json!({"version": version, "new_version": new_version})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(s))
}

/// Deletes a script (its executions stay readable).
#[utoipa::path(delete, path = "/api/v1/scripts/{id}", tag = "scripts", security(("bearer" = [])), params(("id" = ScriptId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<ScriptId>,
) -> ApiResult<axum::Json<OkBody>> {
    auth.require(Resource::Scripts, Action::Delete)?;
    let s = scripts::get(&state.db, &auth.scope, id).await?;
    may_change(&auth, &s)?;
    scripts::delete(&state.db, &auth.scope, id, state.now()).await?;
    state
        .record(
            AuditEvent::new("script.delete", "script")
                .by(&auth)
                .client(&meta)
                .org(s.org_id)
                .resource(id, Some(&s.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Runs the script on devices (listed, or every device of groups or sites): one
/// execution per device. Parameters are checked against the script's schema and reach
/// the script as environment variables.
#[utoipa::path(post, path = "/api/v1/scripts/{id}/execute", tag = "scripts", security(("bearer" = [])), params(("id" = ScriptId, Path)), request_body = ExecuteScript,
    responses((status = 201, body = Data<Vec<ExecutionRef>>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn execute(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<ScriptId>,
    ApiJson(req): ApiJson<ExecuteScript>,
) -> ApiResult<(StatusCode, axum::Json<Data<Vec<ExecutionRef>>>)> {
    auth.require(Resource::Scripts, Action::Execute)?;
    let script = scripts::get(&state.db, &auth.scope, id).await?;
    if req.device_ids.is_empty() && req.group_ids.is_empty() && req.site_ids.is_empty() {
        return Err(ApiError::validation(
            "device_ids",
            "name devices, groups or sites to run on",
        ));
    }
    if req.device_ids.len() + req.group_ids.len() + req.site_ids.len() > 1000 {
        return Err(ApiError::validation("device_ids", "at most 1000 targets"));
    }
    let schema = script_params::parse_schema(&script.parameters)?;
    let params = script_params::check_values(&schema, &req.parameters)?;
    let lang = language("language", &script.language)?;

    // Explicit devices must all be in reach and able to run it; devices of groups and
    // sites that cannot (wrong OS, not enrolled, quarantined) are skipped.
    let listed: BTreeSet<DeviceId> = req.device_ids.iter().copied().collect();
    let mut targets = devices::in_scope(&state.db, &auth.scope, &req.device_ids).await?;
    if targets.len() != listed.len() {
        return Err(ApiError::validation(
            "device_ids",
            "every device must exist and be visible to you",
        ));
    }
    for d in &targets {
        auth.writable(d.org_id)?;
        if !script.os_types.contains(&d.os_type) {
            return Err(ApiError::validation(
                "device_ids",
                format!(
                    "{} runs {}, the script is for {}",
                    crate::routes::devices::label(d),
                    d.os_type,
                    script.os_types.join(", ")
                ),
            ));
        }
        if d.status == "quarantined" {
            return Err(crate::routes::devices::quarantined(d));
        }
        if !matches!(
            d.status.as_str(),
            "online" | "offline" | "maintenance" | "awaiting_checkin"
        ) {
            return Err(ApiError::validation(
                "device_ids",
                format!(
                    "{} is {} and runs no scripts",
                    crate::routes::devices::label(d),
                    d.status
                ),
            ));
        }
    }
    let mut more: Vec<DeviceId> = Vec::new();
    for g in &req.group_ids {
        let group = device_groups::find(&state.db, &auth.scope, *g)
            .await
            .map_err(|_| ApiError::validation("group_ids", "no such group"))?;
        more.extend(devices::group_members(&state.db, &auth.scope, &group).await?);
    }
    for s in &req.site_ids {
        sites::get(&state.db, &auth.scope, *s)
            .await
            .map_err(|_| ApiError::validation("site_ids", "no such site"))?;
    }
    if !req.site_ids.is_empty() {
        more.extend(devices::in_sites(&state.db, &auth.scope, &req.site_ids).await?);
    }
    more.retain(|d| !listed.contains(d));
    more.sort();
    more.dedup();
    if !more.is_empty() {
        let extra = devices::in_scope(&state.db, &auth.scope, &more).await?;
        targets.extend(extra.into_iter().filter(|d| {
            script.os_types.contains(&d.os_type)
                && auth.writable(d.org_id).is_ok()
                && matches!(
                    d.status.as_str(),
                    "online" | "offline" | "maintenance" | "awaiting_checkin"
                )
        }));
    }
    if targets.is_empty() {
        return Err(ApiError::validation(
            "group_ids",
            "none of the devices can run this script",
        ));
    }
    if targets.len() > 5000 {
        return Err(ApiError::validation(
            "group_ids",
            "at most 5000 devices at once",
        ));
    }

    let mut out = Vec::with_capacity(targets.len());
    let mut tx = state.db.begin().await?;
    for d in &targets {
        let (_, execution_id) = dispatch::queue_script_tx(
            &state,
            &mut tx,
            &dispatch::ScriptRun {
                script: (&script).into(),
                language: lang,
                parameters: &params,
                device: d.id,
                org: d.org_id,
                triggered_by: Some(auth.user_id()),
                trigger_type: "manual",
                timeout_secs: None,
            },
        )
        .await?;
        out.push(ExecutionRef {
            id: execution_id,
            device_id: d.id,
            status: "pending".into(),
        });
    }
    tx.commit().await?;
    for d in &targets {
        state.hub.notify(d.id);
    }
    // One row per device, placed at its site, so site- and group-limited readers of the
    // audit log see the runs on the devices they reach and no others.
    for (d, e) in targets.iter().zip(&out) {
        state
            .record(
                AuditEvent::new("script.execute", "script")
                    .by(&auth)
                    .client(&meta)
                    .org(Some(d.org_id))
                    .device(d.site_id, d.id)
                    .resource(script.id, Some(&script.name))
                    .details(
                        json!({"version": script.version, "device_id": d.id, "execution_id": e.id,
                        "parameters": params.keys().collect::<Vec<_>>()}),
                    ),
                Some(&slot),
            )
            .await?;
    }
    Ok((StatusCode::CREATED, axum::Json(Data { data: out })))
}

/// Executions on devices in reach, newest first.
#[utoipa::path(get, path = "/api/v1/script-executions", tag = "scripts", security(("bearer" = [])), params(ExecutionListQuery),
    responses((status = 200, body = Page<ScriptExecution>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_executions(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<ExecutionListQuery>,
) -> ApiResult<axum::Json<Page<ScriptExecution>>> {
    auth.require(Resource::Scripts, Action::Read)?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: None,
    })?;
    let status = p
        .status
        .as_deref()
        .map(|s| one_of("status", s, vocab::EXECUTION_STATUSES))
        .transpose()?;
    let (rows, next) = scripts::list_executions(
        &state.db,
        &auth.scope,
        p.script_id,
        p.device_id,
        status.as_deref(),
        &opts,
    )
    .await?;
    Ok(page(rows, next))
}

/// One execution: status, exit code, output, times and the script version that ran.
#[utoipa::path(get, path = "/api/v1/script-executions/{id}", tag = "scripts", security(("bearer" = [])), params(("id" = ExecutionId, Path)),
    responses((status = 200, body = ScriptExecution), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<ExecutionId>,
) -> ApiResult<axum::Json<ScriptExecution>> {
    auth.require(Resource::Scripts, Action::Read)?;
    Ok(axum::Json(
        scripts::get_execution(&state.db, &auth.scope, id).await?,
    ))
}
