//! Roles: the built-in ones and custom roles (`/api/v1/roles`), plus the permission
//! catalogue (`/api/v1/permissions`).

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::permissions::{Action, Permission, PermissionSet, Resource};
use breeze_core::roles::RoleScope;
use breeze_core::validate;
use breeze_proto::api::{CreateRole, Data, ErrorBody, OkBody, PermissionInfo, Role, UpdateRole};
use breeze_proto::ids::{OrgId, PartnerId, RoleId};
use breeze_store::orgs;
use breeze_store::roles::{self, NewRole, RoleRow};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(permissions))
}

fn parse_permissions(list: &[String]) -> ApiResult<PermissionSet> {
    if list.len() > 200 {
        return Err(ApiError::validation("permissions", "too many entries"));
    }
    list.iter()
        .map(|s| {
            s.parse::<Permission>()
                .map_err(|e| ApiError::validation("permissions", e))
        })
        .collect()
}

async fn with_perms(state: &AppState, r: RoleRow) -> ApiResult<Role> {
    let p = roles::permissions_of(&state.db, RoleId(r.id)).await?;
    Ok(r.into_api(&p))
}

/// Whether the caller owns a custom role (may change or delete it).
fn manages(auth: &Auth, r: &RoleRow) -> bool {
    if r.is_system {
        return false;
    }
    match (r.org_id, r.partner_id) {
        (Some(o), Some(p)) => auth.scope.sees_org(PartnerId(p), OrgId(o)) && auth.scope.all_sites(),
        (None, Some(p)) => {
            auth.scope.is_partner_wide() && auth.scope.partner_id == Some(PartnerId(p))
        }
        _ => false,
    }
}

/// Roles the caller can see: built-in, their partner's and their organizations'.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Data<Vec<Role>>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<axum::Json<Data<Vec<Role>>>> {
    auth.require(Resource::Roles, Action::Read)?;
    let mut out = Vec::new();
    for r in roles::list(&state.db, &auth.scope).await? {
        out.push(with_perms(&state, r).await?);
    }
    Ok(axum::Json(Data { data: out }))
}

/// One role.
#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])), params(("id" = RoleId, Path)),
    responses((status = 200, body = Role), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RoleId>,
) -> ApiResult<axum::Json<Role>> {
    let r = roles::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Roles, Action::Read)?;
    Ok(axum::Json(with_perms(&state, r).await?))
}

/// Creates a custom role, with permissions the caller holds.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = Role), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateRole>,
) -> ApiResult<(StatusCode, axum::Json<Role>)> {
    auth.require(Resource::Roles, Action::Write)?;
    let name = validate::name("name", &req.name, 100)?;
    let description = validate::optional_text("description", req.description.as_deref(), 1000)?;
    let scope = match RoleScope::parse(&req.scope) {
        Some(s @ (RoleScope::Partner | RoleScope::Organization)) => s,
        _ => {
            return Err(ApiError::validation(
                "scope",
                "must be partner or organization",
            ));
        }
    };
    let perms = parse_permissions(&req.permissions)?;
    if !auth.scope.permissions.covers(&perms) {
        return Err(ApiError::validation(
            "permissions",
            "a role cannot hold permissions you do not hold",
        ));
    }
    let partner = auth
        .scope
        .partner_id
        .ok_or_else(|| ApiError::Forbidden("platform operators do not own roles".into()))?;
    let org_id = match (scope, req.org_id, auth.scope.own_org()) {
        (RoleScope::Partner, Some(_), _) => {
            return Err(ApiError::validation(
                "org_id",
                "partner roles belong to the partner",
            ));
        }
        (RoleScope::Partner, None, _) if !auth.scope.is_partner_wide() => {
            return Err(ApiError::Forbidden(
                "only partner staff with access to every organization create partner roles".into(),
            ));
        }
        (RoleScope::Partner, None, _) => None,
        (_, Some(o), _) => {
            orgs::get(&state.db, &auth.scope, o)
                .await
                .map_err(|_| ApiError::validation("org_id", "no such organization"))?;
            Some(o)
        }
        (_, None, Some(own)) => Some(own),
        (_, None, None) if auth.scope.is_partner_wide() => None,
        (_, None, None) => return Err(ApiError::validation("org_id", "is required")),
    };
    if !auth.scope.all_sites() {
        return Err(ApiError::Forbidden(
            "site-limited users cannot create roles".into(),
        ));
    }
    let id = roles::create(
        &state.db,
        NewRole {
            partner_id: Some(partner),
            org_id,
            scope,
            name: &name,
            description: description.as_deref(),
            permissions: &perms,
        },
        state.now(),
    )
    .await?;
    let role = with_perms(&state, roles::get(&state.db, &auth.scope, id).await?).await?;
    let ev = AuditEvent::new("role.create", "role")
        .by(&auth)
        .client(&meta)
        .org(org_id)
        .resource(id, Some(&name))
        .details(json!({"scope": role.scope, "permissions": role.permissions}));
    state.record(ev, Some(&slot)).await?;
    Ok((StatusCode::CREATED, axum::Json(role)))
}

/// Changes a custom role (built-in roles are fixed).
#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])), params(("id" = RoleId, Path)), request_body = UpdateRole,
    responses((status = 200, body = Role), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<RoleId>,
    ApiJson(req): ApiJson<UpdateRole>,
) -> ApiResult<axum::Json<Role>> {
    let r = roles::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Roles, Action::Write)?;
    if r.is_system {
        return Err(ApiError::Forbidden(
            "built-in roles cannot be changed; create a custom role".into(),
        ));
    }
    if !manages(&auth, &r) {
        return Err(ApiError::Forbidden(
            "this role belongs to your partner; ask its administrators".into(),
        ));
    }
    let before = with_perms(&state, r.clone()).await?;
    let name = req
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 100))
        .transpose()?;
    let description = match &req.description {
        Some(d) => Some(validate::optional_text("description", Some(d), 1000)?),
        None => None,
    };
    let perms = req
        .permissions
        .as_deref()
        .map(parse_permissions)
        .transpose()?;
    if let Some(p) = &perms
        && !auth.scope.permissions.covers(p)
    {
        return Err(ApiError::validation(
            "permissions",
            "a role cannot hold permissions you do not hold",
        ));
    }
    roles::update(
        &state.db,
        id,
        name.as_deref(),
        description.as_ref().map(|d| d.as_deref()),
        perms.as_ref(),
        state.now(),
    )
    .await?;
    let after = with_perms(&state, roles::get(&state.db, &auth.scope, id).await?).await?;
    let ev = AuditEvent::new("role.update", "role")
        .by(&auth)
        .client(&meta)
        .org(after.org_id)
        .resource(id, Some(&after.name))
        .details(json!({"before": before, "after": after}));
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(after))
}

/// Deletes a custom role nobody holds.
#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])), params(("id" = RoleId, Path)),
    responses((status = 200, body = OkBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<RoleId>,
) -> ApiResult<axum::Json<OkBody>> {
    let r = roles::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Roles, Action::Delete)?;
    if r.is_system {
        return Err(ApiError::Forbidden(
            "built-in roles cannot be deleted".into(),
        ));
    }
    if !manages(&auth, &r) {
        return Err(ApiError::Forbidden(
            "this role belongs to your partner; ask its administrators".into(),
        ));
    }
    roles::delete(&state.db, id).await?;
    state
        .record(
            AuditEvent::new("role.delete", "role")
                .by(&auth)
                .client(&meta)
                .org(r.org_id.map(OrgId))
                .resource(id, Some(&r.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Every permission that exists (resource × action).
#[utoipa::path(get, path = "/api/v1/permissions", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Data<Vec<PermissionInfo>>)))]
async fn permissions(auth: Auth) -> ApiResult<axum::Json<Data<Vec<PermissionInfo>>>> {
    auth.require(Resource::Roles, Action::Read)?;
    Ok(axum::Json(Data {
        data: Permission::all()
            .map(|p| PermissionInfo {
                resource: p.resource.to_string(),
                action: p.action.to_string(),
            })
            .collect(),
    }))
}
