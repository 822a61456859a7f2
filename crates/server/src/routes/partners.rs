//! Partners: platform operators (created with `breeze admin create --system`) create them.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::auth::tokens;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use breeze_core::permissions::{Action, Resource};
use breeze_core::roles::PARTNER_ADMIN;
use breeze_core::scope::OrgAccess;
use breeze_core::validate::{self, Email};
use breeze_proto::api::{
    CreatePartner, ErrorBody, ListParams, Page, Partner, PartnerCreated, PartnerListQuery,
};
use breeze_proto::ids::RoleId;
use breeze_store::partners::{self, NewPartner};
use breeze_store::sessions::{self, TokenKind};
use breeze_store::users::{self, NewUser};
use chrono::Duration;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// Every partner (platform operators).
#[utoipa::path(get, path = "/api/v1/partners", tag = "partners", security(("bearer" = [])), params(PartnerListQuery),
    responses((status = 200, body = Page<Partner>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<PartnerListQuery>,
) -> ApiResult<axum::Json<Page<Partner>>> {
    auth.require(Resource::Partners, Action::Read)?;
    if auth.scope.level != breeze_core::ScopeLevel::System {
        return Err(ApiError::Forbidden(
            "only platform operators list partners".into(),
        ));
    }
    let opts = list_opts(&ListParams {
        limit: p.limit,
        ..ListParams::default()
    })?;
    let after = p
        .cursor
        .as_deref()
        .and_then(|c| uuid::Uuid::parse_str(c).ok());
    let rows = partners::list_for_platform(&state.db, after, opts.limit + 1).await?;
    let more = rows.len() > opts.limit as usize;
    let mut rows = rows;
    rows.truncate(opts.limit as usize);
    let next = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(page(rows, next))
}

/// Creates a partner and, when `admin_email` is given, invites its first Partner Admin.
#[utoipa::path(post, path = "/api/v1/partners", tag = "partners", security(("bearer" = [])), request_body = CreatePartner,
    responses((status = 201, body = PartnerCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreatePartner>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<PartnerCreated>)> {
    auth.require(Resource::Partners, Action::Write)?;
    if auth.scope.level != breeze_core::ScopeLevel::System {
        return Err(ApiError::Forbidden(
            "only platform operators create partners".into(),
        ));
    }
    let name = validate::name("name", &req.name, 200)?;
    let slug = match &req.slug {
        Some(s) => validate::slug("slug", s)?,
        None => validate::slugify(&name),
    };
    let ptype = one_of(
        "type",
        req.partner_type.as_deref().unwrap_or("msp"),
        &["msp", "enterprise", "internal"],
    )?;
    let plan = one_of(
        "plan",
        req.plan.as_deref().unwrap_or("free"),
        &["free", "pro", "enterprise", "unlimited"],
    )?;
    for (f, v) in [
        ("max_organizations", req.max_organizations),
        ("max_devices", req.max_devices),
    ] {
        if v.is_some_and(|n| n < 0) {
            return Err(ApiError::validation(f, "must be zero or more"));
        }
    }
    let billing = req
        .billing_email
        .as_deref()
        .map(|e| Email::parse("billing_email", e))
        .transpose()?;
    let admin = match (&req.admin_email, &req.admin_name) {
        (Some(e), n) => Some((
            Email::parse("admin_email", e)?,
            validate::name("admin_name", n.as_deref().unwrap_or(e), 200)?,
        )),
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "admin_email",
                "is required with admin_name",
            ));
        }
        (None, None) => None,
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let pid = partners::insert(
        &mut tx,
        &NewPartner {
            name: &name,
            slug: &slug,
            partner_type: &ptype,
            plan: &plan,
            max_organizations: req.max_organizations,
            max_devices: req.max_devices,
            billing_email: billing.as_ref().map(Email::as_str),
        },
        now,
    )
    .await?;
    let mut admin_uid = None;
    if let Some((email, aname)) = &admin {
        let uid = users::insert(
            &mut tx,
            &NewUser {
                email,
                name: aname,
                password_hash: None,
                status: "invited",
                is_platform_admin: false,
            },
            now,
        )
        .await?;
        users::add_partner_member(
            &mut tx,
            pid,
            uid,
            RoleId(PARTNER_ADMIN),
            &OrgAccess::All,
            now,
        )
        .await?;
        admin_uid = Some(uid);
    }
    tx.commit().await?;
    let mut invite = None;
    if let (Some(uid), Some((email, aname))) = (admin_uid, &admin) {
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
        crate::routes::users::send_invite(&state, Some(pid), email.as_str(), aname, &name, &token)
            .await?;
        invite = Some(token);
    }
    let ev = AuditEvent::new("partner.create", "partner").by(&auth).client(&meta).resource(pid, Some(&name)).partner(Some(pid))
        .details(json!({"slug": slug, "plan": plan, "admin_email": admin.as_ref().map(|(e, _)| e.to_string())}));
    state.record(ev, Some(&slot)).await?;
    let partner = partners::get_for_platform(&state.db, pid).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(PartnerCreated {
            partner,
            admin_invite_token: invite,
        }),
    ))
}
