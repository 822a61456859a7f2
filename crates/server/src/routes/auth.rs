//! Authentication endpoints (seed 004 "Authentication Endpoints"): login with optional TOTP
//! second factor, refresh with rotation and reuse detection, logout, password reset by
//! e-mail, invitation acceptance, and `me`. SSO (OIDC) will join as another way to reach
//! `issue_tokens`.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::EnrollingAuth;
use crate::auth::{mfa, policy, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::metrics::ResultLabels;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use breeze_core::scope::{OrgAccess, SiteAccess};
use breeze_core::validate::{self, Email};
use breeze_proto::api::{
    AcceptInviteRequest, ErrorBody, ForgotPasswordRequest, LoginRequest, LoginResponse,
    LogoutRequest, Me, MfaSetupResponse, MfaVerifyRequest, MfaVerifyResponse, OkBody,
    RefreshRequest, ResetPasswordRequest, RoleSummary, TokenPair,
};
use breeze_proto::ids::{OrgId, RoleId, SiteId, UserId};
use breeze_store::sessions::{self, NewTokens, Refresh, TokenKind};
use breeze_store::users::{self, Membership, UserRow};
use chrono::Duration;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const MFA_CHALLENGE_TTL_MINS: i64 = 5;
const MFA_PURPOSE: &str = "mfa-secret";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(mfa_setup))
        .routes(routes!(mfa_verify))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(accept_invite))
        .routes(routes!(me))
}

/// Mints an access + refresh token pair in a new family, with the lifetimes of the user's
/// session policy (their partner's, else the server's).
pub async fn issue_tokens(
    state: &AppState,
    user: UserId,
    meta: &ClientMeta,
) -> ApiResult<TokenPair> {
    let access = tokens::random_token(tokens::ACCESS);
    let refresh = tokens::random_token(tokens::REFRESH);
    let life = policy::lifetimes_for(state, user).await?;
    let now = state.now();
    let issued = sessions::start(
        &state.db,
        user,
        &NewTokens {
            access_hash: &tokens::hash(&access),
            refresh_hash: &tokens::hash(&refresh),
            access_ttl: life.access,
            refresh_ttl: life.refresh,
            max_session: life.max_session,
        },
        &meta.to_client_info(),
        now,
    )
    .await?;
    users::touch_login(&state.db, user, now).await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: (issued.access_expires_at - now).num_seconds(),
    })
}

fn login_failed() -> ApiError {
    ApiError::Unauthorized("invalid e-mail or password".into())
}

fn throttled(secs: u64) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: secs,
        message: format!("too many failed attempts; try again in {secs} seconds"),
    }
}

/// Logs in with e-mail and password. With MFA on, answers a challenge instead of tokens.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let now = state.now();
    let ip = meta.ip.as_deref();
    if let Some(wait) = state.throttle.check(&req.email, ip, now) {
        state
            .metrics
            .logins
            .get_or_create(&ResultLabels {
                result: "throttled".into(),
            })
            .inc();
        let ev = AuditEvent::new("auth.login", "user")
            .by_user(None, Some(&req.email.trim().to_lowercase()))
            .client(&meta)
            .failed("denied", "throttled");
        state.record(ev, Some(&slot)).await?;
        return Err(throttled(wait));
    }
    let email = Email::parse("email", &req.email)?;
    let user = users::by_email_for_auth(&state.db, &email).await?;
    let hasher = state.hasher.clone();
    let (password, hash) = (
        req.password.clone(),
        user.as_ref().and_then(|u| u.password_hash.clone()),
    );
    let ok = tokio::task::spawn_blocking(move || hasher.verify(&password, hash.as_deref()))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok && u.status == "active" => u,
        other => {
            state.throttle.record_failure(email.as_str(), ip, now);
            state
                .metrics
                .logins
                .get_or_create(&ResultLabels {
                    result: "failure".into(),
                })
                .inc();
            let reason = match &other {
                Some(u) if ok => format!("account {}", u.status),
                Some(_) => "wrong password".into(),
                None => "unknown account".into(),
            };
            let ev = AuditEvent::new("auth.login", "user")
                .by_user(other.as_ref().map(|u| u.id), Some(email.as_str()))
                .client(&meta)
                .failed("failure", reason);
            state.record(ev, Some(&slot)).await?;
            return Err(login_failed());
        }
    };
    state.throttle.record_success(email.as_str());
    if user.mfa_enabled {
        let challenge = tokens::random_token(tokens::MFA_CHALLENGE);
        sessions::create_token(
            &state.db,
            TokenKind::MfaChallenge,
            user.id(),
            &tokens::hash(&challenge),
            json!({}),
            Duration::minutes(MFA_CHALLENGE_TTL_MINS),
            now,
        )
        .await?;
        let ev = AuditEvent::new("auth.login.mfa_required", "user")
            .by_user(Some(user.id), Some(&user.email))
            .client(&meta)
            .resource(user.id, Some(&user.email));
        state.record(ev, Some(&slot)).await?;
        return Ok(axum::Json(LoginResponse {
            mfa_required: true,
            mfa_token: Some(challenge),
            tokens: None,
        }));
    }
    let pair = issue_tokens(&state, user.id(), &meta).await?;
    state
        .metrics
        .logins
        .get_or_create(&ResultLabels {
            result: "success".into(),
        })
        .inc();
    let ev = AuditEvent::new("auth.login", "user")
        .by_user(Some(user.id), Some(&user.email))
        .client(&meta)
        .resource(user.id, Some(&user.email));
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(LoginResponse {
        mfa_required: false,
        mfa_token: None,
        tokens: Some(pair),
    }))
}

/// Begins MFA enrolment: a new TOTP secret, its otpauth URI and recovery codes. MFA turns
/// on once a code from the authenticator is confirmed at `/auth/mfa/verify`.
#[utoipa::path(post, path = "/api/v1/auth/mfa/setup", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MfaSetupResponse), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn mfa_setup(
    State(state): State<AppState>,
    EnrollingAuth(auth): EnrollingAuth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
) -> ApiResult<axum::Json<MfaSetupResponse>> {
    let user = auth.user();
    if user.mfa_enabled {
        return Err(ApiError::Conflict(
            "MFA is already enabled for this account".into(),
        ));
    }
    let secret = mfa::new_secret();
    let totp = mfa::totp(secret.clone(), &user.email).map_err(ApiError::internal)?;
    let sealed = state
        .keys
        .seal(MFA_PURPOSE, &secret)
        .map_err(ApiError::internal)?;
    let codes = mfa::recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| tokens::hash(&mfa::normalize_recovery(c)))
        .collect();
    users::set_pending_mfa(&state.db, user.id(), &sealed, &hashes, state.now()).await?;
    state
        .record(
            AuditEvent::new("auth.mfa.setup", "user")
                .by(&auth)
                .client(&meta)
                .resource(user.id, Some(&user.email)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(MfaSetupResponse {
        secret: mfa::base32(&secret),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("otpauth url: {e}")))?,
        recovery_codes: codes,
    }))
}

/// Checks a TOTP or recovery code for `user`; consumes what it matched.
async fn check_code(state: &AppState, user: &UserRow, code: &str) -> ApiResult<bool> {
    let Some(sealed) = &user.mfa_secret else {
        return Ok(false);
    };
    let secret = state
        .keys
        .open(MFA_PURPOSE, sealed)
        .map_err(ApiError::internal)?;
    let totp = mfa::totp(secret, &user.email).map_err(ApiError::internal)?;
    let unix = u64::try_from(state.now().timestamp()).unwrap_or(0);
    if let Some(step) = mfa::check(&totp, code, unix) {
        return Ok(users::consume_totp_step(&state.db, user.id(), step).await?);
    }
    let h = tokens::hash(&mfa::normalize_recovery(code));
    let codes = &user.mfa_recovery_codes.0;
    if user.mfa_enabled && codes.iter().any(|c| tokens::constant_time_eq(c, &h)) {
        let rest: Vec<String> = codes.iter().filter(|c| **c != h).cloned().collect();
        users::set_recovery_codes(&state.db, user.id(), &rest).await?;
        return Ok(true);
    }
    Ok(false)
}

/// With `mfa_token`: completes a login. Without: confirms enrolment for the signed-in user.
#[utoipa::path(post, path = "/api/v1/auth/mfa/verify", tag = "auth", request_body = MfaVerifyRequest,
    responses((status = 200, body = MfaVerifyResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_verify(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    auth: Option<EnrollingAuth>,
    ApiJson(req): ApiJson<MfaVerifyRequest>,
) -> ApiResult<axum::Json<MfaVerifyResponse>> {
    let now = state.now();
    match (&req.mfa_token, auth.map(|EnrollingAuth(a)| a)) {
        (Some(challenge), _) => {
            let hash = tokens::hash(challenge);
            let (uid, _) = sessions::peek_token(&state.db, TokenKind::MfaChallenge, &hash, now)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the MFA challenge is invalid or expired; log in again".into(),
                    )
                })?;
            let user = users::by_id_for_auth(&state.db, uid).await?;
            let key = format!("mfa:{}", user.email);
            if let Some(wait) = state.throttle.check(&key, meta.ip.as_deref(), now) {
                return Err(throttled(wait));
            }
            if !check_code(&state, &user, &req.code).await? {
                state.throttle.record_failure(&key, meta.ip.as_deref(), now);
                let ev = AuditEvent::new("auth.mfa.verify", "user")
                    .by_user(Some(user.id), Some(&user.email))
                    .client(&meta)
                    .failed("failure", "wrong code");
                state.record(ev, Some(&slot)).await?;
                return Err(ApiError::Unauthorized(
                    "the code is wrong or was already used".into(),
                ));
            }
            if sessions::consume_token(&state.db, TokenKind::MfaChallenge, &hash, now)
                .await?
                .is_none()
            {
                return Err(ApiError::Unauthorized(
                    "the MFA challenge was already used; log in again".into(),
                ));
            }
            state.throttle.record_success(&key);
            let pair = issue_tokens(&state, user.id(), &meta).await?;
            let ev = AuditEvent::new("auth.login", "user")
                .by_user(Some(user.id), Some(&user.email))
                .client(&meta)
                .resource(user.id, Some(&user.email))
                .details(json!({"mfa": true}));
            state.record(ev, Some(&slot)).await?;
            Ok(axum::Json(MfaVerifyResponse {
                mfa_enabled: true,
                tokens: Some(pair),
            }))
        }
        (None, Some(auth)) => {
            let user = auth.user();
            if user.mfa_enabled {
                return Err(ApiError::Conflict("MFA is already enabled".into()));
            }
            if user.mfa_secret.is_none() {
                return Err(ApiError::Conflict(
                    "start with POST /api/v1/auth/mfa/setup".into(),
                ));
            }
            if !check_code(&state, user, &req.code).await? {
                let ev = AuditEvent::new("auth.mfa.enable", "user")
                    .by(&auth)
                    .client(&meta)
                    .failed("failure", "wrong code");
                state.record(ev, Some(&slot)).await?;
                return Err(ApiError::validation(
                    "code",
                    "the code does not match; check the authenticator's clock",
                ));
            }
            users::enable_mfa(&state.db, user.id(), now).await?;
            let ev = AuditEvent::new("auth.mfa.enable", "user")
                .by(&auth)
                .client(&meta)
                .resource(user.id, Some(&user.email));
            state.record(ev, Some(&slot)).await?;
            Ok(axum::Json(MfaVerifyResponse {
                mfa_enabled: true,
                tokens: None,
            }))
        }
        (None, None) => Err(ApiError::Unauthorized(
            "give mfa_token (login) or a bearer token (enrolment)".into(),
        )),
    }
}

/// Trades a refresh token for a new pair. Each refresh token works once; using a spent one
/// revokes its whole family (RFC 9700 §4.13.2).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    let access = tokens::random_token(tokens::ACCESS);
    let next_refresh = tokens::random_token(tokens::REFRESH);
    let hash = tokens::hash(req.refresh_token.trim());
    // The next pair follows the owner's session policy as it is now.
    let life = match sessions::refresh_owner(&state.db, &hash).await? {
        Some(owner) => policy::lifetimes_for(&state, owner).await?,
        None => return Err(refresh_invalid()),
    };
    let now = state.now();
    let outcome = sessions::refresh(
        &state.db,
        &hash,
        &NewTokens {
            access_hash: &tokens::hash(&access),
            refresh_hash: &tokens::hash(&next_refresh),
            access_ttl: life.access,
            refresh_ttl: life.refresh,
            max_session: life.max_session,
        },
        &meta.to_client_info(),
        now,
    )
    .await?;
    match outcome {
        Refresh::Rotated {
            user,
            access_expires_at,
        } => {
            let u = users::by_id_for_auth(&state.db, user).await?;
            if u.status != "active" {
                sessions::revoke_all_for_user(&state.db, user, "account disabled", state.now())
                    .await?;
                return Err(ApiError::Unauthorized("the account is disabled".into()));
            }
            slot_recorded_quietly(&slot);
            Ok(axum::Json(TokenPair {
                access_token: access,
                refresh_token: next_refresh,
                token_type: "Bearer".into(),
                expires_in: (access_expires_at - now).num_seconds(),
            }))
        }
        Refresh::Reused { user, family } => {
            let u = users::by_id_for_auth(&state.db, user).await.ok();
            let ev = AuditEvent::new("auth.refresh.reuse", "refresh_token_family")
                .by_user(Some(user.0), u.as_ref().map(|u| u.email.as_str()))
                .client(&meta)
                .resource(family, None)
                .failed(
                    "denied",
                    "a spent refresh token was used again; the family is revoked",
                );
            state.record(ev, Some(&slot)).await?;
            Err(ApiError::Unauthorized(
                "refresh token reuse detected; every session of this login was revoked".into(),
            ))
        }
        Refresh::Invalid => Err(refresh_invalid()),
    }
}

fn refresh_invalid() -> ApiError {
    ApiError::Unauthorized("the refresh token is invalid or expired".into())
}

/// Token rotation is not itself an audited action (it would double every request rate in
/// the log); the login that started the family is.
fn slot_recorded_quietly(slot: &AuditSlot) {
    slot.skip();
}

/// Logs out: this login's sessions and refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), request_body = LogoutRequest,
    responses((status = 200, body = OkBody), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    EnrollingAuth(auth): EnrollingAuth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    body: Option<ApiJson<LogoutRequest>>,
) -> ApiResult<axum::Json<OkBody>> {
    let now = state.now();
    sessions::logout(&state.db, auth.session(), now).await?;
    if let Some(ApiJson(LogoutRequest {
        refresh_token: Some(rt),
    })) = body
    {
        sessions::revoke_family_of_refresh(
            &state.db,
            auth.user_id(),
            &tokens::hash(rt.trim()),
            now,
        )
        .await?;
    }
    state
        .record(
            AuditEvent::new("auth.logout", "user")
                .by(&auth)
                .client(&meta)
                .resource(auth.user().id, Some(&auth.user().email)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Queues a password-reset link for e-mail delivery. Answers at once and the same way
/// whether or not the address exists.
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 200, body = OkBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn forgot_password(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> ApiResult<axum::Json<OkBody>> {
    let now = state.now();
    let email = Email::parse("email", &req.email)?;
    let key = format!("reset:{email}");
    if let Some(wait) = state.throttle.check(&key, meta.ip.as_deref(), now) {
        return Err(throttled(wait));
    }
    // Every request counts toward the limit: this endpoint sends mail.
    state.throttle.record_failure(&key, meta.ip.as_deref(), now);
    let user = users::by_email_for_auth(&state.db, &email).await?;
    let mut ev = AuditEvent::new("auth.password.forgot", "user")
        .by_user(user.as_ref().map(|u| u.id), Some(email.as_str()))
        .client(&meta);
    if let Some(u) = user.filter(|u| u.status == "active") {
        sessions::void_tokens(&state.db, TokenKind::PasswordReset, u.id(), now).await?;
        let token = tokens::random_token(tokens::RESET);
        let ttl = state.config.auth.reset_token_ttl_mins;
        sessions::create_token(
            &state.db,
            TokenKind::PasswordReset,
            u.id(),
            &tokens::hash(&token),
            json!({}),
            Duration::minutes(ttl),
            now,
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", state.config.public_url());
        let body = format!(
            "Hello {},\n\nSomeone (hopefully you) asked to reset your Breeze password.\nOpen this link within {ttl} minutes to choose a new one:\n\n{link}\n\nIf it wasn't you, ignore this message; your password stays as it is.\n",
            u.name
        );
        let partner = policy::partner_of(&state.db, u.id()).await?;
        // Queued, never sent here: the answer takes the same time whether or not the
        // account exists, however slow the SMTP server is.
        let job = crate::notify::queue::enqueue_mail(
            &state,
            partner,
            &u.email,
            "Reset your Breeze password",
            body,
        )
        .await
        .map_err(ApiError::internal)?;
        ev = ev.details(json!({"queued": true, "job_id": job}));
    } else {
        ev = ev.details(json!({"queued": false}));
    }
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Sets a new password with a reset token (single use). Every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 200, body = OkBody), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> ApiResult<axum::Json<OkBody>> {
    validate::password("password", &req.password)?;
    let now = state.now();
    let (uid, _) = sessions::consume_token(
        &state.db,
        TokenKind::PasswordReset,
        &tokens::hash(req.token.trim()),
        now,
    )
    .await?
    .ok_or_else(|| ApiError::BadRequest {
        code: "invalid_token",
        message: "the reset link is invalid, used or expired".into(),
        field: Some("token".into()),
    })?;
    let hash = state
        .hasher
        .hash(&req.password)
        .map_err(ApiError::internal)?;
    users::set_password(&state.db, uid, &hash, now).await?;
    sessions::revoke_all_for_user(&state.db, uid, "password reset", now).await?;
    let u = users::by_id_for_auth(&state.db, uid).await?;
    state
        .record(
            AuditEvent::new("auth.password.reset", "user")
                .by_user(Some(uid.0), Some(&u.email))
                .client(&meta)
                .resource(uid, Some(&u.email)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Accepts an invitation: sets the password (and optionally the name) and logs in.
#[utoipa::path(post, path = "/api/v1/auth/accept-invite", tag = "auth", request_body = AcceptInviteRequest,
    responses((status = 200, body = TokenPair), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<AcceptInviteRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    validate::password("password", &req.password)?;
    let name = req
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 200))
        .transpose()?;
    let now = state.now();
    let (uid, _) = sessions::consume_token(
        &state.db,
        TokenKind::Invite,
        &tokens::hash(req.token.trim()),
        now,
    )
    .await?
    .ok_or_else(|| ApiError::BadRequest {
        code: "invalid_token",
        message: "the invitation is invalid, used or expired".into(),
        field: Some("token".into()),
    })?;
    let hash = state
        .hasher
        .hash(&req.password)
        .map_err(ApiError::internal)?;
    users::set_password(&state.db, uid, &hash, now).await?;
    if let Some(n) = &name {
        users::set_name(&state.db, uid, n, now).await?;
    }
    let u = users::by_id_for_auth(&state.db, uid).await?;
    state
        .record(
            AuditEvent::new("user.invite.accept", "user")
                .by_user(Some(uid.0), Some(&u.email))
                .client(&meta)
                .resource(uid, Some(&u.email)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(issue_tokens(&state, uid, &meta).await?))
}

/// The signed-in user, their scope and permissions.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    EnrollingAuth(auth): EnrollingAuth,
) -> ApiResult<axum::Json<Me>> {
    let role = match &auth.membership {
        Some(m) => breeze_store::roles::get(&state.db, &auth.scope, m.role_id())
            .await
            .ok()
            .map(|r| RoleSummary {
                id: RoleId(r.id),
                name: r.name,
            }),
        None => None,
    };
    let (org_access, org_ids, site_ids, org_id) = match &auth.membership {
        Some(Membership::Partner { org_access, .. }) => match org_access {
            OrgAccess::All => (Some("all".to_string()), None, None, None),
            OrgAccess::Only(ids) => (
                Some("selected".to_string()),
                Some(ids.iter().copied().collect::<Vec<OrgId>>()),
                None,
                None,
            ),
        },
        Some(Membership::Organization { org_id, sites, .. }) => (
            None,
            None,
            match sites {
                SiteAccess::All => None,
                SiteAccess::Only(ids) => Some(ids.iter().copied().collect::<Vec<SiteId>>()),
            },
            Some(*org_id),
        ),
        None => (None, None, None, None),
    };
    let level = match auth.scope.level {
        breeze_core::ScopeLevel::System => "system",
        breeze_core::ScopeLevel::Partner => "partner",
        breeze_core::ScopeLevel::Organization => "organization",
    };
    let idle_timeout_minutes = match auth.scope.partner_id {
        Some(p) => {
            breeze_store::partner_settings::get_for_auth(&state.db, p)
                .await?
                .session
                .idle_timeout_minutes
        }
        None => None,
    };
    let previous_login_at = sessions::previous_sign_in(&state.db, auth.session()).await?;
    Ok(axum::Json(Me {
        previous_login_at,
        mfa_enrollment_required: auth.mfa_enrollment_required,
        idle_timeout_minutes,
        user: auth.user().to_api(),
        scope_level: level.into(),
        partner_id: auth.scope.partner_id,
        org_id,
        role,
        permissions: auth.scope.permissions.to_strings(),
        org_access,
        org_ids,
        site_ids,
    }))
}
