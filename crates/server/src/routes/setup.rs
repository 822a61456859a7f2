//! First run: while no user exists, the server writes a one-time setup token to
//! `<data-dir>/setup-token` (0600) and logs it; `POST /api/v1/setup` with that token
//! creates the first partner and its Partner Admin, once. There is no other way in.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::tokens;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::auth::issue_tokens;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use breeze_core::validate::{self, Email};
use breeze_proto::api::{ErrorBody, SetupRequest, SetupStatus, TokenPair};
use breeze_store::partners::NewPartner;
use breeze_store::users::NewUser;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(setup))
}

pub fn token_path(state: &AppState) -> std::path::PathBuf {
    state.config.data_dir.join("setup-token")
}

/// At start: when no user exists, opens setup with a fresh token.
pub async fn open_if_needed(state: &AppState) -> anyhow::Result<()> {
    if crate::has_users(&state.db).await? {
        let _ = std::fs::remove_file(token_path(state));
        return Ok(());
    }
    let token = tokens::random_token(tokens::SETUP);
    crate::keys::write_private(&token_path(state), format!("{token}\n").as_bytes())?;
    *state
        .setup_token_hash
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(tokens::hash(&token));
    // Printing it is the point: the operator starting the server needs it, once.
    tracing::warn!(
        setup_token = %token,
        file = %token_path(state).display(),
        "no users yet: finish setup in the web console or with POST /api/v1/setup using this one-time token"
    );
    Ok(())
}

/// Whether first-run setup is still open.
#[utoipa::path(get, path = "/api/v1/setup/status", tag = "setup", responses((status = 200, body = SetupStatus)))]
async fn status(State(state): State<AppState>) -> ApiResult<axum::Json<SetupStatus>> {
    Ok(axum::Json(SetupStatus {
        needs_setup: still_open(&state).await?,
    }))
}

/// Whether this server still holds a setup token and no user exists. With several
/// replicas every one starts with its own token; once setup is done through one of them,
/// the others see the user in the shared database and close theirs.
async fn still_open(state: &AppState) -> ApiResult<bool> {
    let open = state
        .setup_token_hash
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some();
    if !open {
        return Ok(false);
    }
    if !crate::has_users(&state.db)
        .await
        .map_err(ApiError::internal)?
    {
        return Ok(true);
    }
    close(state);
    Ok(false)
}

/// Forgets the setup token and removes its file.
fn close(state: &AppState) {
    *state
        .setup_token_hash
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    if let Err(e) = std::fs::remove_file(token_path(state))
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove the setup token file");
    }
}

/// Creates the first partner and its Partner Admin, with the one-time setup token. Works once.
#[utoipa::path(post, path = "/api/v1/setup", tag = "setup", request_body = SetupRequest,
    responses((status = 200, body = TokenPair), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<SetupRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    let expected = if still_open(&state).await? {
        state
            .setup_token_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    } else {
        None
    };
    let Some(expected) = expected else {
        let ev = AuditEvent::new("setup.complete", "setup")
            .client(&meta)
            .failed("denied", "setup already completed");
        state.record(ev, Some(&slot)).await?;
        return Err(ApiError::Conflict(
            "setup has already been completed".into(),
        ));
    };
    if !tokens::constant_time_eq(&tokens::hash(req.setup_token.trim()), &expected) {
        let ev = AuditEvent::new("setup.complete", "setup")
            .client(&meta)
            .failed("denied", "wrong setup token");
        state.record(ev, Some(&slot)).await?;
        return Err(ApiError::Forbidden(
            "the setup token is wrong (see <data-dir>/setup-token)".into(),
        ));
    }
    let partner_name = validate::name("partner_name", &req.partner_name, 200)?;
    let admin_name = validate::name("admin_name", &req.admin_name, 200)?;
    let email = Email::parse("admin_email", &req.admin_email)?;
    validate::password("admin_password", &req.admin_password)?;
    let hash = state
        .hasher
        .hash(&req.admin_password)
        .map_err(ApiError::internal)?;
    let slug = validate::slugify(&partner_name);
    let now = state.now();
    let (pid, uid) = breeze_store::setup::create_first_admin(
        &state.db,
        &NewPartner {
            name: &partner_name,
            slug: &slug,
            partner_type: "msp",
            plan: "unlimited",
            max_organizations: None,
            max_devices: None,
            billing_email: Some(email.as_str()),
        },
        &NewUser {
            email: &email,
            name: &admin_name,
            password_hash: Some(&hash),
            status: "active",
            is_platform_admin: false,
        },
        now,
    )
    .await?;
    close(&state);
    let ev = AuditEvent::new("setup.complete", "partner")
        .by_user(Some(uid.0), Some(email.as_str()))
        .partner(Some(pid))
        .client(&meta)
        .resource(pid, Some(&partner_name))
        .details(json!({"admin_email": email.as_str()}));
    state.record(ev, Some(&slot)).await?;
    tracing::info!(partner = %partner_name, admin = %email, "setup completed");
    Ok(axum::Json(issue_tokens(&state, uid, &meta).await?))
}
