//! Organizations and their sites: `/api/v1/orgs`, `/orgs/{id}`, `/orgs/current`,
//! `/orgs/{id}/sites`, `/orgs/current/sites`.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::routes::sites::create_site;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::json_limits::{self, JsonLimit};
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::vocab::ORG_STATUSES;
use breeze_proto::api::{
    CreateOrganization, CreateSite, ErrorBody, OkBody, OrgListQuery, Organization, Page, Site,
    SiteListQuery, UpdateOrganization,
};
use breeze_proto::ids::OrgId;
use breeze_store::orgs::{self, NewOrg};
use breeze_store::sites;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const ORG_TYPES: &[&str] = &["customer", "internal"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(current, update_current))
        .routes(routes!(current_sites, create_current_site))
        .routes(routes!(get, update, delete))
        .routes(routes!(list_sites, create_org_site))
}

fn check_settings(field: &str, v: &Option<serde_json::Value>, limit: JsonLimit) -> ApiResult<()> {
    match v {
        Some(x) if !x.is_object() => Err(ApiError::validation(field, "must be a JSON object")),
        _ => Ok(json_limits::check_opt(field, v.as_ref(), limit)?),
    }
}

/// Organizations in reach.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", security(("bearer" = [])), params(OrgListQuery),
    responses((status = 200, body = Page<Organization>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<OrgListQuery>,
) -> ApiResult<axum::Json<Page<Organization>>> {
    auth.require(Resource::Orgs, Action::Read)?;
    let status = p
        .status
        .as_deref()
        .map(|s| one_of("status", s, ORG_STATUSES))
        .transpose()?;
    let opts = list_opts(&p.into())?;
    let (rows, next) = orgs::list(&state.db, &auth.scope, status.as_deref(), &opts).await?;
    Ok(page(rows, next))
}

/// Creates an organization (partner staff with access to every organization).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", security(("bearer" = [])), request_body = CreateOrganization,
    responses((status = 201, body = Organization), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateOrganization>,
) -> ApiResult<(StatusCode, axum::Json<Organization>)> {
    auth.require(Resource::Orgs, Action::Write)?;
    let partner = match (auth.scope.is_partner_wide(), auth.scope.partner_id) {
        (true, Some(p)) => p,
        _ => {
            return Err(ApiError::Forbidden(
                "only partner staff with access to every organization create organizations".into(),
            ));
        }
    };
    let name = validate::name("name", &req.name, 200)?;
    let slug = match &req.slug {
        Some(s) => validate::slug("slug", s)?,
        None => validate::slugify(&name),
    };
    check_settings("settings", &req.settings, json_limits::SETTINGS)?;
    check_settings(
        "billing_contact",
        &req.billing_contact,
        json_limits::CONTACT,
    )?;
    if let (Some(a), Some(b)) = (req.contract_start, req.contract_end)
        && b < a
    {
        return Err(ApiError::validation(
            "contract_end",
            "must not be before contract_start",
        ));
    }
    if req.max_devices.is_some_and(|n| n < 0) {
        return Err(ApiError::validation("max_devices", "must be zero or more"));
    }
    let new = NewOrg {
        name,
        slug,
        org_type: one_of(
            "type",
            req.org_type.as_deref().unwrap_or("customer"),
            ORG_TYPES,
        )?,
        status: one_of(
            "status",
            req.status.as_deref().unwrap_or("active"),
            ORG_STATUSES,
        )?,
        max_devices: req.max_devices,
        settings: req.settings.unwrap_or_else(|| json!({})),
        contract_start: req.contract_start,
        contract_end: req.contract_end,
        billing_contact: req.billing_contact,
    };
    let id = orgs::create(&state.db, partner, &new, state.now()).await?;
    let org = orgs::get(&state.db, &auth.scope, id).await?;
    let ev = AuditEvent::new("org.create", "organization")
        .by(&auth)
        .client(&meta)
        .org(Some(id))
        .resource(id, Some(&org.name))
        .details(json!({"slug": org.slug, "status": org.status}));
    state.record(ev, Some(&slot)).await?;
    Ok((StatusCode::CREATED, axum::Json(org)))
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = OrgId, Path)),
    responses((status = 200, body = Organization), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<axum::Json<Organization>> {
    let org = orgs::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Orgs, Action::Read)?;
    Ok(axum::Json(org))
}

async fn apply_update(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    id: OrgId,
    req: UpdateOrganization,
) -> ApiResult<axum::Json<Organization>> {
    let mut org = orgs::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Orgs, Action::Write)?;
    let before = serde_json::to_value(&org).map_err(ApiError::internal)?;
    if let Some(n) = &req.name {
        org.name = validate::name("name", n, 200)?;
    }
    if let Some(s) = &req.slug {
        org.slug = validate::slug("slug", s)?;
    }
    if let Some(s) = &req.status {
        // An organization's own users cannot suspend or churn it; that is the partner's call.
        if auth.scope.own_org().is_some() && *s != org.status {
            return Err(ApiError::Forbidden(
                "the organization's status is managed by its partner".into(),
            ));
        }
        org.status = one_of("status", s, ORG_STATUSES)?;
    }
    if let Some(m) = req.max_devices {
        if auth.scope.own_org().is_some() {
            return Err(ApiError::Forbidden(
                "device limits are managed by the partner".into(),
            ));
        }
        if m < 0 {
            return Err(ApiError::validation("max_devices", "must be zero or more"));
        }
        org.max_devices = Some(m);
    }
    check_settings("settings", &req.settings, json_limits::SETTINGS)?;
    check_settings(
        "billing_contact",
        &req.billing_contact,
        json_limits::CONTACT,
    )?;
    if let Some(s) = req.settings {
        org.settings = s;
    }
    if req.contract_start.is_some() {
        org.contract_start = req.contract_start;
    }
    if req.contract_end.is_some() {
        org.contract_end = req.contract_end;
    }
    if let (Some(a), Some(b)) = (org.contract_start, org.contract_end)
        && b < a
    {
        return Err(ApiError::validation(
            "contract_end",
            "must not be before contract_start",
        ));
    }
    if req.billing_contact.is_some() {
        org.billing_contact = req.billing_contact;
    }
    orgs::update(&state.db, &auth.scope, &org, state.now()).await?;
    let org = orgs::get(&state.db, &auth.scope, id).await?;
    let ev = AuditEvent::new("org.update", "organization")
        .by(auth)
        .client(meta)
        .org(Some(id))
        .resource(id, Some(&org.name))
        .details(json!({"before": before, "after": org}));
    state.record(ev, Some(slot)).await?;
    Ok(axum::Json(org))
}

/// Changes an organization; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = OrgId, Path)), request_body = UpdateOrganization,
    responses((status = 200, body = Organization), (status = 404, body = ErrorBody), (status = 409, description = "the slug is taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(req): ApiJson<UpdateOrganization>,
) -> ApiResult<axum::Json<Organization>> {
    apply_update(&state, &auth, &meta, &slot, id, req).await
}

/// Deletes (soft) an organization. Partner staff only.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = OrgId, Path)),
    responses((status = 200, body = OkBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<axum::Json<OkBody>> {
    let org = orgs::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Orgs, Action::Delete)?;
    if auth.scope.own_org().is_some() {
        return Err(ApiError::Forbidden(
            "an organization cannot delete itself; ask its partner".into(),
        ));
    }
    orgs::delete(&state.db, &auth.scope, id, state.now()).await?;
    state
        .record(
            AuditEvent::new("org.delete", "organization")
                .by(&auth)
                .client(&meta)
                .org(Some(id))
                .resource(id, Some(&org.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

fn own_org(auth: &Auth) -> ApiResult<OrgId> {
    auth.scope.own_org().ok_or(ApiError::NotFound)
}

/// The signed-in organization user's organization (404 for partner staff).
#[utoipa::path(get, path = "/api/v1/orgs/current", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = Organization), (status = 404, body = ErrorBody)))]
async fn current(State(state): State<AppState>, auth: Auth) -> ApiResult<axum::Json<Organization>> {
    auth.require(Resource::Orgs, Action::Read)?;
    Ok(axum::Json(
        orgs::get(&state.db, &auth.scope, own_org(&auth)?).await?,
    ))
}

/// Changes the signed-in organization user's organization.
#[utoipa::path(patch, path = "/api/v1/orgs/current", tag = "orgs", security(("bearer" = [])), request_body = UpdateOrganization,
    responses((status = 200, body = Organization), (status = 404, body = ErrorBody), (status = 409, description = "the slug is taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_current(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<UpdateOrganization>,
) -> ApiResult<axum::Json<Organization>> {
    let id = own_org(&auth)?;
    apply_update(&state, &auth, &meta, &slot, id, req).await
}

async fn sites_of(
    state: &AppState,
    auth: &Auth,
    org: OrgId,
    p: SiteListQuery,
) -> ApiResult<axum::Json<Page<Site>>> {
    orgs::get(&state.db, &auth.scope, org).await?;
    auth.require(Resource::Sites, Action::Read)?;
    let opts = list_opts(&p.into())?;
    let (rows, next) = sites::list(&state.db, &auth.scope, Some(org), &opts).await?;
    Ok(page(rows, next))
}

/// An organization's sites (only the caller's sites when they are site-limited).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/sites", tag = "orgs", security(("bearer" = [])), params(("id" = OrgId, Path), SiteListQuery),
    responses((status = 200, body = Page<Site>), (status = 404, body = ErrorBody)))]
async fn list_sites(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiQuery(p): ApiQuery<SiteListQuery>,
) -> ApiResult<axum::Json<Page<Site>>> {
    sites_of(&state, &auth, id, p).await
}

/// Creates a site in an organization.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/sites", tag = "orgs", security(("bearer" = [])), params(("id" = OrgId, Path)), request_body = CreateSite,
    responses((status = 201, body = Site), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_org_site(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(req): ApiJson<CreateSite>,
) -> ApiResult<(StatusCode, axum::Json<Site>)> {
    create_site(&state, &auth, &meta, &slot, id, req).await
}

/// The signed-in organization user's sites.
#[utoipa::path(get, path = "/api/v1/orgs/current/sites", tag = "orgs", security(("bearer" = [])), params(SiteListQuery),
    responses((status = 200, body = Page<Site>), (status = 404, body = ErrorBody)))]
async fn current_sites(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<SiteListQuery>,
) -> ApiResult<axum::Json<Page<Site>>> {
    let id = own_org(&auth)?;
    sites_of(&state, &auth, id, p).await
}

/// Creates a site in the signed-in organization user's organization.
#[utoipa::path(post, path = "/api/v1/orgs/current/sites", tag = "orgs", security(("bearer" = [])), request_body = CreateSite,
    responses((status = 201, body = Site), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_current_site(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateSite>,
) -> ApiResult<(StatusCode, axum::Json<Site>)> {
    let id = own_org(&auth)?;
    create_site(&state, &auth, &meta, &slot, id, req).await
}
