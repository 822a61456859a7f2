//! Site enrollment keys (`/api/v1/enrollment-keys`) and pre-created pending devices
//! with single-use enrollment tokens (`POST /api/v1/devices`, seed 001).

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
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    CreateEnrollmentKey, CreatePendingDevice, EnrollmentKey, EnrollmentKeyCreated,
    EnrollmentKeyListQuery, ErrorBody, ListParams, OkBody, Page, PendingDeviceCreated,
};
use breeze_proto::ids::EnrollmentKeyId;
use breeze_store::agents::{self, NewPendingDevice};
use breeze_store::{devices, enrollment_keys, sites};
use chrono::Duration;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Prefix of site enrollment keys and of device enrollment tokens.
pub const KEY: &str = "bzk";
pub const DEVICE_TOKEN: &str = "bze";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

fn install_command(state: &AppState, flag: &str, secret: &str) -> String {
    format!(
        "breeze-agent enroll --server {} --{flag} {secret}",
        state.config.public_url()
    )
}

/// The one-liner that downloads the agent from this server, enrolls and starts it.
fn install_script_command(state: &AppState, flag: &str, secret: &str) -> String {
    format!(
        "curl -fsSL {}/install.sh | sudo sh -s -- --{flag} {secret}",
        state.config.public_url()
    )
}

/// Enrollment keys in reach (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/enrollment-keys", tag = "enrollment", security(("bearer" = [])), params(EnrollmentKeyListQuery),
    responses((status = 200, body = Page<EnrollmentKey>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<EnrollmentKeyListQuery>,
) -> ApiResult<axum::Json<Page<EnrollmentKey>>> {
    auth.require(Resource::EnrollmentKeys, Action::Read)?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: None,
    })?;
    let (rows, next) =
        enrollment_keys::list(&state.db, &auth.scope, p.org_id, p.site_id, &opts).await?;
    Ok(page(rows, next))
}

/// Creates a site enrollment key; the secret `key` and the install command are shown once.
#[utoipa::path(post, path = "/api/v1/enrollment-keys", tag = "enrollment", security(("bearer" = [])), request_body = CreateEnrollmentKey,
    responses((status = 201, body = EnrollmentKeyCreated), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateEnrollmentKey>,
) -> ApiResult<(StatusCode, axum::Json<EnrollmentKeyCreated>)> {
    auth.require(Resource::EnrollmentKeys, Action::Write)?;
    let site = sites::get(&state.db, &auth.scope, req.site_id)
        .await
        .map_err(|_| ApiError::validation("site_id", "no such site"))?;
    auth.writable(site.org_id)?;
    if site.org_id != req.org_id {
        return Err(ApiError::validation(
            "site_id",
            "the site belongs to another organization",
        ));
    }
    let name = validate::name("name", &req.name, 200)?;
    if let Some(m) = req.max_uses
        && !(1..=1_000_000).contains(&m)
    {
        return Err(ApiError::validation(
            "max_uses",
            "must be between 1 and 1000000",
        ));
    }
    let hours = req.expires_in_hours.unwrap_or(24);
    if !(1..=8760).contains(&hours) {
        return Err(ApiError::validation(
            "expires_in_hours",
            "must be between 1 and 8760",
        ));
    }
    let now = state.now();
    let secret = tokens::random_token(KEY);
    let prefix: String = secret.chars().take(10).collect();
    let id = enrollment_keys::create(
        &state.db,
        &enrollment_keys::NewKey {
            org_id: req.org_id,
            site_id: req.site_id,
            name: &name,
            key_hash: &tokens::hash(&secret),
            key_prefix: &prefix,
            max_uses: req.max_uses,
            expires_at: now + Duration::hours(hours),
            created_by: Some(auth.user_id()),
        },
        now,
    )
    .await?;
    let key = enrollment_keys::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("enrollment_key.create", "enrollment_key")
                .by(&auth)
                .client(&meta)
                .org(Some(key.org_id))
                .resource(id, Some(&key.name))
                .details(json!({"site_id": key.site_id, "max_uses": key.max_uses, "expires_at": key.expires_at})),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EnrollmentKeyCreated {
            enrollment_key: key,
            install_command: install_command(&state, "key", &secret),
            install_script_command: install_script_command(&state, "key", &secret),
            key: secret,
        }),
    ))
}

/// Revokes a key: it enrolls nothing more (enrolled devices stay).
#[utoipa::path(delete, path = "/api/v1/enrollment-keys/{id}", tag = "enrollment", security(("bearer" = [])), params(("id" = EnrollmentKeyId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<EnrollmentKeyId>,
) -> ApiResult<axum::Json<OkBody>> {
    auth.require(Resource::EnrollmentKeys, Action::Write)?;
    let key = enrollment_keys::get(&state.db, &auth.scope, id).await?;
    auth.writable(key.org_id)?;
    enrollment_keys::revoke(&state.db, &auth.scope, id, state.now()).await?;
    state
        .record(
            AuditEvent::new("enrollment_key.revoke", "enrollment_key")
                .by(&auth)
                .client(&meta)
                .org(Some(key.org_id))
                .resource(id, Some(&key.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

pub(crate) fn check_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > 50 {
        return Err(ApiError::validation("tags", "at most 50 tags"));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if t.is_empty() || t.len() > 64 || t.chars().any(|c| c.is_control() || c == '"') {
            return Err(ApiError::validation(
                "tags",
                "each tag is 1-64 characters without quotes or control characters",
            ));
        }
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Pre-creates a pending device with a single-use enrollment token (seed 001: valid
/// 24 h, cleared when used). The token is shown once.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), request_body = CreatePendingDevice,
    responses((status = 201, body = PendingDeviceCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_pending_device(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreatePendingDevice>,
) -> ApiResult<(StatusCode, axum::Json<PendingDeviceCreated>)> {
    auth.require(Resource::Devices, Action::Admin)?;
    let site = sites::get(&state.db, &auth.scope, req.site_id)
        .await
        .map_err(|_| ApiError::validation("site_id", "no such site"))?;
    auth.writable(site.org_id)?;
    let hostname = validate::name("hostname", &req.hostname, 255)?;
    let display = req
        .display_name
        .as_deref()
        .map(|d| validate::name("display_name", d, 255))
        .transpose()?;
    let os = one_of("os_type", &req.os_type, &["linux", "macos", "windows"])?;
    let tags = check_tags(req.tags.as_deref().unwrap_or_default())?;
    let now = state.now();
    let token = tokens::random_token(DEVICE_TOKEN);
    let expires = now + Duration::hours(state.config.agents.device_token_ttl_hours);
    let id = agents::create_pending(
        &state.db,
        &NewPendingDevice {
            org_id: site.org_id,
            site_id: site.id,
            hostname: &hostname,
            display_name: display.as_deref(),
            os_type: &os,
            tags: &tags,
            token_hash: &tokens::hash(&token),
            token_expires_at: expires,
            created_by: auth.user_id(),
        },
        now,
    )
    .await?
    .map_err(super::agents::refusal_error)?;
    let device = devices::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("device.create_pending", "device")
                .by(&auth)
                .client(&meta)
                .org(Some(device.org_id))
                .resource(id, Some(&device.hostname)),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(PendingDeviceCreated {
            device,
            install_command: install_command(&state, "token", &token),
            install_script_command: install_script_command(&state, "token", &token),
            enrollment_token: token,
            expires_at: expires,
        }),
    ))
}
