//! Users of a tenant: `/api/v1/users` (invite with a single-use link, list, change role and
//! reach, disable, remove). Nobody grants more than they hold, reaches beyond their own
//! scope, or changes their own role.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::auth::tokens;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::permissions::{Action, PermissionSet, Resource};
use breeze_core::roles::RoleScope;
use breeze_core::scope::{OrgAccess, SiteAccess};
use breeze_core::validate::{self, Email};
use breeze_proto::api::{
    ErrorBody, InviteUser, Invited, ListParams, Member, OkBody, Page, UpdateMember, UserListQuery,
};
use breeze_proto::ids::{DeviceGroupId, OrgId, PartnerId, RoleId, SiteId, UserId};
use breeze_store::sessions::{self, TokenKind};
use breeze_store::users::{self, MembershipChange, NewUser};
use breeze_store::{device_groups, orgs, roles, sites};
use chrono::Duration;
use serde_json::json;
use std::collections::BTreeSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, invite))
        .routes(routes!(get, update, remove))
}

/// Queues an invitation e-mail to a new user of `partner`, delivered through the partner's
/// SMTP server when it has one switched on, else the server's. Answers whether a message
/// was queued: with no SMTP server to send it, none is, and the inviter passes the link on.
pub async fn send_invite(
    state: &AppState,
    partner: Option<PartnerId>,
    email: &str,
    name: &str,
    tenant: &str,
    token: &str,
) -> ApiResult<bool> {
    // Settings that are switched on but unusable still queue the message: the queue
    // retries it and audits a failure, which is how the admin learns of the problem.
    let can_send = crate::notify::mail::for_partner(state, partner)
        .await
        .map_or(true, |m| m.configured());
    if !can_send {
        return Ok(false);
    }
    let link = format!("{}/accept-invite?token={token}", state.config.public_url());
    let body = format!(
        "Hello {name},\n\nYou have been invited to {tenant} on Breeze.\nOpen this link within {} hours to choose your password:\n\n{link}\n",
        state.config.auth.invite_ttl_hours
    );
    crate::notify::queue::enqueue_mail(state, partner, email, "Your Breeze invitation", body)
        .await
        .map_err(ApiError::internal)?;
    Ok(true)
}

/// The role to grant, if the caller may grant it to this kind of membership.
async fn grantable_role(
    state: &AppState,
    auth: &Auth,
    id: RoleId,
    kind: RoleScope,
) -> ApiResult<PermissionSet> {
    let role = roles::get(&state.db, &auth.scope, id)
        .await
        .map_err(|_| ApiError::validation("role_id", "no such role"))?;
    if role.role_scope()? != kind {
        return Err(ApiError::validation(
            "role_id",
            format!("this role is for {} users", role.scope),
        ));
    }
    let perms = roles::permissions_of(&state.db, id).await?;
    if !auth.scope.permissions.covers(&perms) {
        return Err(ApiError::Forbidden(
            "you cannot grant a role with permissions you do not hold".into(),
        ));
    }
    Ok(perms)
}

async fn check_sites(
    state: &AppState,
    auth: &Auth,
    org: OrgId,
    ids: &Option<Vec<SiteId>>,
) -> ApiResult<()> {
    match (ids, &auth.scope.sites) {
        (None, SiteAccess::Only(_)) => Err(ApiError::validation(
            "site_ids",
            "site-limited users must choose sites within their own",
        )),
        (Some(v), _) if v.is_empty() => Err(ApiError::validation(
            "site_ids",
            "must not be empty (omit it for all sites)",
        )),
        (Some(v), access) => {
            let found = sites::belonging_to(&state.db, org, v).await?;
            let unique: BTreeSet<_> = v.iter().collect();
            if found.len() != unique.len() {
                return Err(ApiError::validation(
                    "site_ids",
                    "every site must belong to the organization",
                ));
            }
            if let SiteAccess::Only(mine) = access
                && !v.iter().all(|s| mine.contains(s))
            {
                return Err(ApiError::validation(
                    "site_ids",
                    "you can only grant sites you can reach",
                ));
            }
            Ok(())
        }
        (None, SiteAccess::All) => Ok(()),
    }
}

async fn check_groups(
    state: &AppState,
    auth: &Auth,
    org: OrgId,
    ids: &Option<Vec<DeviceGroupId>>,
) -> ApiResult<()> {
    if let Some(v) = ids {
        if v.is_empty() {
            return Err(ApiError::validation(
                "device_group_ids",
                "must not be empty (omit it for all groups)",
            ));
        }
        for g in v {
            let group = device_groups::find(&state.db, &auth.scope, *g)
                .await
                .map_err(|_| ApiError::validation("device_group_ids", "no such device group"))?;
            if group.org_id != org {
                return Err(ApiError::validation(
                    "device_group_ids",
                    "every group must belong to the organization",
                ));
            }
        }
    }
    Ok(())
}

/// The organizations a partner-staff member may reach. `org_ids` alone means `selected`;
/// `org_access: all` with `org_ids` is contradictory and refused. A missing `org_access`
/// never means `all`: `required` says whether the caller must name a reach (an invite) or
/// may leave it unchanged (a PATCH, where `None` answers "no change").
async fn check_org_access(
    state: &AppState,
    auth: &Auth,
    access: Option<&str>,
    ids: &Option<Vec<OrgId>>,
) -> ApiResult<Option<OrgAccess>> {
    let access = access
        .map(|a| one_of("org_access", a, &["all", "selected"]))
        .transpose()?;
    match (access.as_deref(), ids) {
        (None, None) => Ok(None),
        (Some("all"), Some(_)) => Err(ApiError::validation(
            "org_ids",
            "applies only when org_access is selected",
        )),
        (Some("all"), None) => Ok(Some(OrgAccess::All)),
        (_, None) => Err(ApiError::validation(
            "org_ids",
            "is required when org_access is selected",
        )),
        (_, Some(ids)) => {
            for o in ids {
                orgs::get(&state.db, &auth.scope, *o)
                    .await
                    .map_err(|_| ApiError::validation("org_ids", "no such organization"))?;
            }
            Ok(Some(OrgAccess::Only(ids.iter().copied().collect())))
        }
    }
}

/// Users in reach: partner staff (for partner-wide staff) and the users of organizations in reach.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = Page<Member>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<UserListQuery>,
) -> ApiResult<axum::Json<Page<Member>>> {
    auth.require(Resource::Users, Action::Read)?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: None,
        sort: None,
        q: p.q.clone(),
    })?;
    let after = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map_err(|_| ApiError::validation("cursor", "is not a cursor this server issued"))
        })
        .transpose()?;
    let mut rows = users::members(
        &state.db,
        &auth.scope,
        None,
        opts.search.as_deref(),
        after,
        opts.limit + 1,
    )
    .await?;
    let more = rows.len() > opts.limit as usize;
    rows.truncate(opts.limit as usize);
    let next = if more {
        rows.last().map(|m| m.user.id.to_string())
    } else {
        None
    };
    Ok(page(rows, next))
}

/// Invites a user: partner staff (no `org_id`) or an organization's user. Answers the
/// single-use invitation token (also e-mailed when SMTP is set).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = InviteUser,
    responses((status = 201, body = Invited), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<InviteUser>,
) -> ApiResult<(StatusCode, axum::Json<Invited>)> {
    auth.require(Resource::Users, Action::Write)?;
    let email = Email::parse("email", &req.email)?;
    let name = validate::name("name", &req.name, 200)?;
    let now = state.now();
    let mut tx;
    let uid;
    let tenant_name;
    match req.org_id {
        Some(org_id) => {
            let org = orgs::get(&state.db, &auth.scope, org_id)
                .await
                .map_err(|_| ApiError::validation("org_id", "no such organization"))?;
            // A suspended or churned organization gains no users (removing one stays
            // possible: it only narrows who reaches the organization).
            auth.writable(org_id)?;
            if req.org_access.is_some() || req.org_ids.is_some() {
                return Err(ApiError::validation(
                    "org_access",
                    "applies to partner staff only",
                ));
            }
            grantable_role(&state, &auth, req.role_id, RoleScope::Organization).await?;
            check_sites(&state, &auth, org_id, &req.site_ids).await?;
            check_groups(&state, &auth, org_id, &req.device_group_ids).await?;
            tx = state.db.begin().await?;
            uid = users::insert(
                &mut tx,
                &NewUser {
                    email: &email,
                    name: &name,
                    password_hash: None,
                    status: "invited",
                    is_platform_admin: false,
                },
                now,
            )
            .await?;
            users::add_org_member(
                &mut tx,
                org_id,
                uid,
                req.role_id,
                req.site_ids.as_deref(),
                req.device_group_ids.as_deref(),
                now,
            )
            .await?;
            tenant_name = org.name;
        }
        None => {
            let partner = match (auth.scope.is_partner_wide(), auth.scope.partner_id) {
                (true, Some(p)) => p,
                _ => {
                    return Err(ApiError::validation(
                        "org_id",
                        "is required: you can invite organization users only",
                    ));
                }
            };
            if req.site_ids.is_some() || req.device_group_ids.is_some() {
                return Err(ApiError::validation(
                    "site_ids",
                    "applies to organization users only",
                ));
            }
            grantable_role(&state, &auth, req.role_id, RoleScope::Partner).await?;
            let access = check_org_access(&state, &auth, req.org_access.as_deref(), &req.org_ids)
                .await?
                .ok_or_else(|| {
                    ApiError::validation(
                        "org_access",
                        "is required for partner staff: all, or selected with org_ids",
                    )
                })?;
            tx = state.db.begin().await?;
            uid = users::insert(
                &mut tx,
                &NewUser {
                    email: &email,
                    name: &name,
                    password_hash: None,
                    status: "invited",
                    is_platform_admin: false,
                },
                now,
            )
            .await?;
            users::add_partner_member(&mut tx, partner, uid, req.role_id, &access, now).await?;
            tenant_name = "your MSP".to_string();
        }
    }
    tx.commit().await?;
    let token = tokens::random_token(tokens::INVITE);
    sessions::create_token(
        &state.db,
        TokenKind::Invite,
        uid,
        &tokens::hash(&token),
        json!({}),
        Duration::hours(state.config.auth.invite_ttl_hours),
        now,
    )
    .await?;
    let email_queued = send_invite(
        &state,
        auth.scope.partner_id,
        email.as_str(),
        &name,
        &tenant_name,
        &token,
    )
    .await?;
    let member = member(&state, &auth, uid).await?;
    let ev = AuditEvent::new("user.invite", "user").by(&auth).client(&meta).org(member.org_id).resource(uid, Some(email.as_str()))
        .details(json!({"role_id": req.role_id, "org_id": req.org_id, "site_ids": req.site_ids, "org_access": member.org_access, "email_queued": email_queued}));
    state.record(ev, Some(&slot)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Invited {
            member,
            invite_token: token,
            email_queued,
        }),
    ))
}

async fn member(state: &AppState, auth: &Auth, id: UserId) -> ApiResult<Member> {
    users::members(&state.db, &auth.scope, Some(id), None, None, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound)
}

/// One user in reach.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = UserId, Path)),
    responses((status = 200, body = Member), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<axum::Json<Member>> {
    let m = member(&state, &auth, id).await?;
    auth.require(Resource::Users, Action::Read)?;
    Ok(axum::Json(m))
}

/// The caller may act on `target` only if they hold every permission the target holds.
async fn check_power_over(state: &AppState, auth: &Auth, target: &Member) -> ApiResult<()> {
    let theirs = roles::permissions_of(&state.db, target.role_id).await?;
    if !auth.scope.permissions.covers(&theirs) {
        return Err(ApiError::Forbidden(
            "this user holds permissions you do not".into(),
        ));
    }
    Ok(())
}

/// Changes a user's name, status, role or reach.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = UserId, Path)), request_body = UpdateMember,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(req): ApiJson<UpdateMember>,
) -> ApiResult<axum::Json<Member>> {
    let target = member(&state, &auth, id).await?;
    auth.require(Resource::Users, Action::Write)?;
    let is_self = id == auth.user_id();
    let changes_access = req.role_id.is_some()
        || req.status.is_some()
        || req.org_access.is_some()
        || req.org_ids.is_some()
        || req.site_ids.is_some()
        || req.device_group_ids.is_some();
    if is_self && changes_access {
        return Err(ApiError::Forbidden(
            "you cannot change your own role, status or reach".into(),
        ));
    }
    check_power_over(&state, &auth, &target).await?;
    let now = state.now();
    let name = req
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 200))
        .transpose()?;
    let status = req
        .status
        .as_deref()
        .map(|s| one_of("status", s, &["active", "disabled"]))
        .transpose()?;
    if status.as_deref() == Some("active") && target.user.status == "invited" {
        return Err(ApiError::validation(
            "status",
            "an invited user becomes active by accepting the invitation",
        ));
    }
    let mut change = MembershipChange::default();
    match target.org_id {
        Some(org) => {
            auth.writable(org)?;
            if req.org_access.is_some() || req.org_ids.is_some() {
                return Err(ApiError::validation(
                    "org_access",
                    "applies to partner staff only",
                ));
            }
            if let Some(r) = req.role_id {
                grantable_role(&state, &auth, r, RoleScope::Organization).await?;
                change.role_id = Some(r);
            }
            if let Some(s) = &req.site_ids {
                check_sites(&state, &auth, org, s).await?;
                change.site_ids = Some(s.clone());
            }
            if let Some(g) = &req.device_group_ids {
                check_groups(&state, &auth, org, g).await?;
                change.device_group_ids = Some(g.clone());
            }
        }
        None => {
            if req.site_ids.is_some() || req.device_group_ids.is_some() {
                return Err(ApiError::validation(
                    "site_ids",
                    "applies to organization users only",
                ));
            }
            if let Some(r) = req.role_id {
                grantable_role(&state, &auth, r, RoleScope::Partner).await?;
                change.role_id = Some(r);
            }
            change.org_access =
                check_org_access(&state, &auth, req.org_access.as_deref(), &req.org_ids).await?;
        }
    }
    if let Some(n) = &name {
        users::set_name(&state.db, id, n, now).await?;
    }
    users::update_membership(&state.db, id, &change).await?;
    if let Some(s) = &status {
        users::set_status(&state.db, id, s, now).await?;
        if s == "disabled" {
            sessions::revoke_all_for_user(&state.db, id, "user disabled", now).await?;
        }
    }
    let after = member(&state, &auth, id).await?;
    let ev = AuditEvent::new("user.update", "user")
        .by(&auth)
        .client(&meta)
        .org(after.org_id)
        .resource(id, Some(&after.user.email))
        .details(json!({"before": target, "after": after}));
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(after))
}

/// Removes a user: membership gone, account disabled, sessions ended.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = UserId, Path)),
    responses((status = 200, body = OkBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<axum::Json<OkBody>> {
    let target = member(&state, &auth, id).await?;
    auth.require(Resource::Users, Action::Delete)?;
    if id == auth.user_id() {
        return Err(ApiError::Forbidden("you cannot remove yourself".into()));
    }
    check_power_over(&state, &auth, &target).await?;
    users::remove(&state.db, id, state.now()).await?;
    let ev = AuditEvent::new("user.remove", "user")
        .by(&auth)
        .client(&meta)
        .org(target.org_id)
        .resource(id, Some(&target.user.email));
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(OkBody { ok: true }))
}
