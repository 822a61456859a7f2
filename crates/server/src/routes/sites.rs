//! Sites: `/api/v1/sites/{id}` (creation lives under the organization).

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::json_limits;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{CreateSite, ErrorBody, OkBody, Site, UpdateSite};
use breeze_proto::ids::{OrgId, SiteId};
use breeze_store::{orgs, sites};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, update, delete))
}

fn check_object(field: &str, v: &Option<serde_json::Value>) -> ApiResult<()> {
    match v {
        Some(x) if !x.is_object() => Err(ApiError::validation(field, "must be a JSON object")),
        _ => {
            let limit = if field == "settings" {
                json_limits::SETTINGS
            } else {
                json_limits::CONTACT
            };
            Ok(json_limits::check_opt(field, v.as_ref(), limit)?)
        }
    }
}

pub async fn create_site(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    org: OrgId,
    req: CreateSite,
) -> ApiResult<(StatusCode, axum::Json<Site>)> {
    orgs::get(&state.db, &auth.scope, org).await?;
    auth.require_in(Resource::Sites, Action::Write, org)?;
    if !auth.scope.all_sites() {
        return Err(ApiError::Forbidden(
            "site-limited users cannot create sites".into(),
        ));
    }
    let name = validate::name("name", &req.name, 200)?;
    let tz = validate::timezone("timezone", req.timezone.as_deref().unwrap_or("UTC"))?;
    for (f, v) in [
        ("address", &req.address),
        ("contact", &req.contact),
        ("settings", &req.settings),
    ] {
        check_object(f, v)?;
    }
    let id = sites::create(
        &state.db,
        org,
        &sites::NewSite {
            name,
            timezone: tz,
            address: req.address,
            contact: req.contact,
            settings: req.settings.unwrap_or_else(|| json!({})),
        },
        state.now(),
    )
    .await?;
    let site = sites::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("site.create", "site")
                .by(auth)
                .client(meta)
                .org(Some(org))
                .site(id)
                .resource(id, Some(&site.name)),
            Some(slot),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(site)))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = SiteId, Path)),
    responses((status = 200, body = Site), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<SiteId>,
) -> ApiResult<axum::Json<Site>> {
    let site = sites::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Sites, Action::Read)?;
    Ok(axum::Json(site))
}

/// Changes a site; absent fields stay.
#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = SiteId, Path)), request_body = UpdateSite,
    responses((status = 200, body = Site), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<SiteId>,
    ApiJson(req): ApiJson<UpdateSite>,
) -> ApiResult<axum::Json<Site>> {
    let mut site = sites::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Sites, Action::Write, site.org_id)?;
    if let Some(n) = &req.name {
        site.name = validate::name("name", n, 200)?;
    }
    if let Some(tz) = &req.timezone {
        site.timezone = validate::timezone("timezone", tz)?;
    }
    for (f, v) in [
        ("address", &req.address),
        ("contact", &req.contact),
        ("settings", &req.settings),
    ] {
        check_object(f, v)?;
    }
    if req.address.is_some() {
        site.address = req.address;
    }
    if req.contact.is_some() {
        site.contact = req.contact;
    }
    if let Some(s) = req.settings {
        site.settings = s;
    }
    sites::update(&state.db, &auth.scope, &site, state.now()).await?;
    let site = sites::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("site.update", "site")
                .by(&auth)
                .client(&meta)
                .org(Some(site.org_id))
                .site(id)
                .resource(id, Some(&site.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(site))
}

/// Deletes a site (refused while devices are assigned to it).
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = SiteId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<SiteId>,
) -> ApiResult<axum::Json<OkBody>> {
    let site = sites::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Sites, Action::Delete, site.org_id)?;
    sites::delete(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("site.delete", "site")
                .by(&auth)
                .client(&meta)
                .org(Some(site.org_id))
                .site(id)
                .resource(id, Some(&site.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}
