//! Device groups: `/api/v1/device-groups` and their members.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    Changed, CreateDeviceGroup, DeviceGroup, DeviceIds, ErrorBody, GroupListQuery, GroupMembers,
    ListParams, OkBody, Page, UpdateDeviceGroup,
};
use breeze_proto::ids::DeviceGroupId;
use breeze_store::{device_groups, sites};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(members, add_members, remove_members))
}

/// Checks dynamic-group rules with the evaluator that applies them
/// (`breeze_core::group_rules`): `{"all"|"any": [{field, op, value}, ...]}`.
fn check_rules(rules: &serde_json::Value) -> ApiResult<()> {
    breeze_core::group_rules::Rules::parse(rules)
        .map(|_| ())
        .map_err(|e| ApiError::validation("rules", e.0))
}

/// Groups in reach.
#[utoipa::path(get, path = "/api/v1/device-groups", tag = "device-groups", security(("bearer" = [])), params(GroupListQuery),
    responses((status = 200, body = Page<DeviceGroup>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<GroupListQuery>,
) -> ApiResult<axum::Json<Page<DeviceGroup>>> {
    auth.require(Resource::DeviceGroups, Action::Read)?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: p.sort,
        q: p.q,
    })?;
    let t = p
        .group_type
        .as_deref()
        .map(|t| one_of("type", t, breeze_proto::api::vocab::GROUP_TYPES))
        .transpose()?;
    let (rows, next) = device_groups::list(
        &state.db,
        &auth.scope,
        p.org_id,
        p.site_id,
        t.as_deref(),
        &opts,
    )
    .await?;
    Ok(page(rows, next))
}

/// Creates a group in an organization (optionally tied to one of its sites).
#[utoipa::path(post, path = "/api/v1/device-groups", tag = "device-groups", security(("bearer" = [])), request_body = CreateDeviceGroup,
    responses((status = 201, body = DeviceGroup), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateDeviceGroup>,
) -> ApiResult<(StatusCode, axum::Json<DeviceGroup>)> {
    auth.require(Resource::DeviceGroups, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    if let Some(s) = req.site_id {
        let site = sites::get(&state.db, &auth.scope, s)
            .await
            .map_err(|_| ApiError::validation("site_id", "no such site"))?;
        if site.org_id != org.id {
            return Err(ApiError::validation(
                "site_id",
                "the site belongs to another organization",
            ));
        }
    } else if !auth.scope.all_sites() {
        return Err(ApiError::validation(
            "site_id",
            "site-limited users must put groups in one of their sites",
        ));
    }
    if let Some(p) = req.parent_id {
        let parent = device_groups::find(&state.db, &auth.scope, p)
            .await
            .map_err(|_| ApiError::validation("parent_id", "no such group"))?;
        if parent.org_id != org.id {
            return Err(ApiError::validation(
                "parent_id",
                "the parent group belongs to another organization",
            ));
        }
    }
    let gtype = one_of(
        "type",
        req.group_type.as_deref().unwrap_or("static"),
        breeze_proto::api::vocab::GROUP_TYPES,
    )?;
    match (&req.rules, gtype.as_str()) {
        (Some(r), "dynamic") => check_rules(r)?,
        (None, "dynamic") => {
            return Err(ApiError::validation("rules", "a dynamic group needs rules"));
        }
        (Some(_), _) => {
            return Err(ApiError::validation(
                "rules",
                "only dynamic groups have rules",
            ));
        }
        (None, _) => {}
    }
    let name = validate::name("name", &req.name, 200)?;
    let id = device_groups::create(
        &state.db,
        &device_groups::NewGroup {
            org_id: org.id,
            site_id: req.site_id,
            name,
            group_type: gtype,
            rules: req.rules,
            parent_id: req.parent_id,
        },
        state.now(),
    )
    .await?;
    let g = device_groups::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("device_group.create", "device_group")
                .by(&auth)
                .client(&meta)
                .org(Some(g.org_id))
                .site_of_group(g.site_id)
                .resource(id, Some(&g.name)),
            Some(&slot),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(g)))
}

/// One group.
#[utoipa::path(get, path = "/api/v1/device-groups/{id}", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)),
    responses((status = 200, body = DeviceGroup), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceGroupId>,
) -> ApiResult<axum::Json<DeviceGroup>> {
    let g = device_groups::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::DeviceGroups, Action::Read)?;
    Ok(axum::Json(g))
}

/// Changes a group's name, rules (dynamic groups) or parent.
#[utoipa::path(patch, path = "/api/v1/device-groups/{id}", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)), request_body = UpdateDeviceGroup,
    responses((status = 200, body = DeviceGroup), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceGroupId>,
    ApiJson(req): ApiJson<UpdateDeviceGroup>,
) -> ApiResult<axum::Json<DeviceGroup>> {
    let mut g = device_groups::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::DeviceGroups, Action::Write, g.org_id)?;
    if let Some(n) = &req.name {
        g.name = validate::name("name", n, 200)?;
    }
    if let Some(r) = req.rules {
        if g.group_type != "dynamic" {
            return Err(ApiError::validation(
                "rules",
                "only dynamic groups have rules",
            ));
        }
        check_rules(&r)?;
        g.rules = Some(r);
    }
    if let Some(p) = req.parent_id {
        let parent = device_groups::find(&state.db, &auth.scope, p)
            .await
            .map_err(|_| ApiError::validation("parent_id", "no such group"))?;
        if parent.org_id != g.org_id {
            return Err(ApiError::validation(
                "parent_id",
                "the parent group belongs to another organization",
            ));
        }
        if device_groups::is_ancestor_or_self(&state.db, p, id).await? {
            return Err(ApiError::validation(
                "parent_id",
                "a group cannot be nested inside itself",
            ));
        }
        g.parent_id = Some(p);
    }
    device_groups::update(&state.db, &auth.scope, &g, state.now()).await?;
    let g = device_groups::get(&state.db, &auth.scope, id).await?;
    state.alerting.targets_changed();
    state
        .record(
            AuditEvent::new("device_group.update", "device_group")
                .by(&auth)
                .client(&meta)
                .org(Some(g.org_id))
                .site_of_group(g.site_id)
                .resource(id, Some(&g.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(g))
}

/// Deletes a group (its devices stay).
#[utoipa::path(delete, path = "/api/v1/device-groups/{id}", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceGroupId>,
) -> ApiResult<axum::Json<OkBody>> {
    let g = device_groups::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::DeviceGroups, Action::Delete, g.org_id)?;
    device_groups::delete(&state.db, &auth.scope, id).await?;
    state.alerting.targets_changed();
    state
        .record(
            AuditEvent::new("device_group.delete", "device_group")
                .by(&auth)
                .client(&meta)
                .org(Some(g.org_id))
                .site_of_group(g.site_id)
                .resource(id, Some(&g.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// The group's member devices (those in reach).
#[utoipa::path(get, path = "/api/v1/device-groups/{id}/members", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)),
    responses((status = 200, body = DeviceIds), (status = 404, body = ErrorBody)))]
async fn members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceGroupId>,
) -> ApiResult<axum::Json<DeviceIds>> {
    let g = device_groups::find(&state.db, &auth.scope, id).await?;
    auth.require(Resource::DeviceGroups, Action::Read)?;
    Ok(axum::Json(DeviceIds {
        device_ids: crate::routes::devices::group_members(&state, &auth, &g).await?,
    }))
}

fn check_ids(req: &GroupMembers) -> ApiResult<()> {
    if req.device_ids.is_empty() || req.device_ids.len() > 1000 {
        return Err(ApiError::validation(
            "device_ids",
            "must hold 1 to 1000 device ids",
        ));
    }
    Ok(())
}

/// Adds devices to a static group.
#[utoipa::path(post, path = "/api/v1/device-groups/{id}/members", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)), request_body = GroupMembers,
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_members(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceGroupId>,
    ApiJson(req): ApiJson<GroupMembers>,
) -> ApiResult<axum::Json<Changed>> {
    let g = device_groups::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::DeviceGroups, Action::Write, g.org_id)?;
    check_ids(&req)?;
    if g.group_type == "dynamic" {
        return Err(ApiError::Conflict(
            "a dynamic group's members come from its rules".into(),
        ));
    }
    let n = device_groups::add_members(&state.db, &auth.scope, &g, &req.device_ids, state.now())
        .await?;
    state.alerting.targets_changed();
    state
        .record(
            AuditEvent::new("device_group.members.add", "device_group")
                .by(&auth)
                .client(&meta)
                .org(Some(g.org_id))
                .site_of_group(g.site_id)
                .resource(id, Some(&g.name))
                .details(json!({"device_ids": req.device_ids, "added": n})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(Changed { changed: n }))
}

/// Removes devices from a static group.
#[utoipa::path(delete, path = "/api/v1/device-groups/{id}/members", tag = "device-groups", security(("bearer" = [])), params(("id" = DeviceGroupId, Path)), request_body = GroupMembers,
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_members(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceGroupId>,
    ApiJson(req): ApiJson<GroupMembers>,
) -> ApiResult<axum::Json<Changed>> {
    let g = device_groups::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::DeviceGroups, Action::Write, g.org_id)?;
    check_ids(&req)?;
    if g.group_type == "dynamic" {
        return Err(ApiError::Conflict(
            "a dynamic group's members come from its rules".into(),
        ));
    }
    let visible = device_groups::members(&state.db, &auth.scope, id).await?;
    let ids: Vec<_> = req
        .device_ids
        .iter()
        .copied()
        .filter(|d| visible.contains(d))
        .collect();
    let n = if ids.is_empty() {
        0
    } else {
        device_groups::remove_members(&state.db, id, &ids).await?
    };
    state.alerting.targets_changed();
    state
        .record(
            AuditEvent::new("device_group.members.remove", "device_group")
                .by(&auth)
                .client(&meta)
                .org(Some(g.org_id))
                .site_of_group(g.site_id)
                .resource(id, Some(&g.name))
                .details(json!({"device_ids": ids, "removed": n})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(Changed { changed: n }))
}
