//! A partner's settings, `/api/v1/settings`: outgoing e-mail through the partner's own SMTP
//! server and the session policy of its users. A partner-level object: partner staff with
//! every organization in reach see it (`settings:read`) and change it (`settings:write`);
//! anyone else gets 404. The SMTP password is sealed with the master key and never
//! returned, logged or audited.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::policy;
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::notify::guard::OutboundError;
use crate::notify::mail;
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use breeze_core::permissions::{Action, Resource};
use breeze_core::settings::{self as rules, SmtpTls};
use breeze_proto::api::{
    self, ErrorBody, ServerDefaults, Settings, SmtpSettings, SmtpTestResult, UpdateSessionPolicy,
    UpdateSettings, UpdateSmtp,
};
use breeze_proto::ids::PartnerId;
use breeze_store::partner_settings::{self, PartnerSettings, Smtp};
use lettre::message::Mailbox;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get, update))
        .routes(routes!(test_smtp))
}

fn view(state: &AppState, partner: PartnerId, s: &PartnerSettings) -> Settings {
    Settings {
        partner_id: partner,
        smtp: SmtpSettings {
            enabled: s.smtp.enabled,
            host: s.smtp.host.clone(),
            port: s.smtp.port,
            tls: s.smtp.tls.unwrap_or(SmtpTls::StartTls).to_string(),
            username: s.smtp.username.clone(),
            password_set: s.smtp.password_sealed.is_some(),
            from: s.smtp.from.clone(),
        },
        session_policy: api::SessionPolicy {
            access_token_minutes: s.session.access_token_minutes,
            session_lifetime_hours: s.session.session_lifetime_hours,
            idle_timeout_minutes: s.session.idle_timeout_minutes,
            require_mfa: s.session.require_mfa,
        },
        server_defaults: ServerDefaults {
            access_token_secs: state.config.auth.access_ttl_secs,
            refresh_token_days: state.config.auth.refresh_ttl_days,
            smtp_configured: state.mailer.configured(),
        },
        updated_at: s.updated_at,
        updated_by: s.updated_by,
    }
}

fn partner_of(auth: &Auth) -> ApiResult<PartnerId> {
    auth.scope.partner_id.ok_or(ApiError::NotFound)
}

/// The settings of the caller's partner.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(State(state): State<AppState>, auth: Auth) -> ApiResult<axum::Json<Settings>> {
    let s = partner_settings::get(&state.db, &auth.scope).await?;
    auth.require(Resource::Settings, Action::Read)?;
    Ok(axum::Json(view(&state, partner_of(&auth)?, &s)))
}

/// Optional text: `null`, or empty after trimming, clears it.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn apply_smtp(state: &AppState, partner: PartnerId, s: &mut Smtp, u: &UpdateSmtp) -> ApiResult<()> {
    if let Some(e) = u.enabled {
        s.enabled = e;
    }
    if let Some(h) = &u.host {
        s.host = text(h)
            .map(|h| rules::smtp_host("smtp.host", h))
            .transpose()?;
    }
    if let Some(p) = u.port {
        s.port = p.map(|p| rules::port("smtp.port", p)).transpose()?;
    }
    if let Some(t) = &u.tls {
        s.tls = Some(SmtpTls::parse("smtp.tls", t)?);
    }
    if let Some(n) = &u.username {
        s.username = match n {
            Some(n) => rules::smtp_username("smtp.username", n)?,
            None => None,
        };
    }
    if let Some(p) = &u.password {
        s.password_sealed = match p {
            Some(p) => {
                let p = rules::smtp_password("smtp.password", p)?;
                Some(
                    state
                        .keys
                        .seal(&mail::smtp_password_purpose(partner), p.as_bytes())
                        .map_err(ApiError::internal)?,
                )
            }
            None => None,
        };
    }
    if let Some(f) = &u.from {
        s.from = match text(f) {
            Some(f) => {
                let f = rules::mailbox("smtp.from", f)?;
                f.parse::<Mailbox>()
                    .map_err(|e| ApiError::validation("smtp.from", format!("{e}")))?;
                Some(f)
            }
            None => None,
        };
    }
    if s.host.is_some() && s.tls.is_none() {
        s.tls = Some(SmtpTls::StartTls);
    }
    if s.enabled {
        if s.host.is_none() {
            return Err(ApiError::validation(
                "smtp.host",
                "is required to send mail through your SMTP server",
            ));
        }
        if s.from.is_none() {
            return Err(ApiError::validation(
                "smtp.from",
                "is required to send mail through your SMTP server",
            ));
        }
    }
    if s.password_sealed.is_some() && s.username.is_none() {
        return Err(ApiError::validation(
            "smtp.username",
            "is required with a password",
        ));
    }
    Ok(())
}

/// The outbound guard's check of the SMTP server being saved: an internal address (or a
/// name resolving to one) is refused unless the operator allow-listed it. A name that does
/// not resolve yet is accepted; every connection checks again after resolving.
async fn check_destination(state: &AppState, s: &Smtp) -> ApiResult<()> {
    let Some(host) = s.host.as_deref() else {
        return Ok(());
    };
    let port = s
        .port
        .unwrap_or_else(|| s.tls.unwrap_or(SmtpTls::StartTls).default_port());
    state
        .config
        .outbound
        .check_destination(host, port)
        .await
        .map_err(|e| ApiError::validation("smtp.host", e.to_string()))
}

fn apply_session(p: &mut breeze_core::settings::SessionPolicy, u: &UpdateSessionPolicy) {
    if let Some(v) = u.access_token_minutes {
        p.access_token_minutes = v;
    }
    if let Some(v) = u.session_lifetime_hours {
        p.session_lifetime_hours = v;
    }
    if let Some(v) = u.idle_timeout_minutes {
        p.idle_timeout_minutes = v;
    }
    if let Some(v) = u.require_mfa {
        p.require_mfa = v;
    }
}

/// What changed, field by field, for the audit log. The password appears only as
/// `set`, `replaced` or `removed`.
fn changes(before: &Settings, after: &Settings, password_given: bool) -> Value {
    let mut out = serde_json::Map::new();
    for (section, b, a) in [
        ("smtp", json!(before.smtp), json!(after.smtp)),
        (
            "session_policy",
            json!(before.session_policy),
            json!(after.session_policy),
        ),
    ] {
        if let (Value::Object(b), Value::Object(a)) = (b, a) {
            for (k, new) in a {
                let old = b.get(&k).cloned().unwrap_or(Value::Null);
                if k != "password_set" && old != new {
                    out.insert(format!("{section}.{k}"), json!({"from": old, "to": new}));
                }
            }
        }
    }
    let (had, has) = (before.smtp.password_set, after.smtp.password_set);
    let pw = match (had, has) {
        (false, true) => Some("set"),
        (true, true) if password_given => Some("replaced"),
        (true, false) => Some("removed"),
        _ => None,
    };
    if let Some(pw) = pw {
        out.insert("smtp.password".into(), json!(pw));
    }
    Value::Object(out)
}

/// Changes the settings of the caller's partner. Absent fields stay; `null` clears.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])), request_body = UpdateSettings,
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<UpdateSettings>,
) -> ApiResult<axum::Json<Settings>> {
    let now = state.now();
    // Through the scope first (404 outside it), then the permission (403).
    let edit = partner_settings::edit(&state.db, &auth.scope, now).await?;
    auth.require(Resource::Settings, Action::Write)?;
    let partner = edit.partner();
    let before = edit.current.clone();
    let mut next = before.clone();
    if let Some(u) = &req.smtp {
        apply_smtp(&state, partner, &mut next.smtp, u)?;
    }
    if req.smtp.is_some() {
        check_destination(&state, &next.smtp).await?;
    }
    if let Some(u) = &req.session_policy {
        apply_session(&mut next.session, u);
    }
    next.session
        .validate("session_policy.", policy::defaults(&state.config.auth))?;
    if next.session.require_mfa && !before.session.require_mfa && !auth.user().mfa_enabled {
        return Err(ApiError::validation(
            "session_policy.require_mfa",
            "set up two-factor authentication for your own account first",
        ));
    }
    let saved = edit.save(&next, auth.user_id(), now).await?;
    let (before, after) = (
        view(&state, partner, &before),
        view(&state, partner, &saved),
    );
    let password_given = matches!(req.smtp.as_ref().map(|s| &s.password), Some(Some(Some(_))));
    let ev = AuditEvent::new("settings.update", "partner_settings")
        .by(&auth)
        .client(&meta)
        .resource(partner, None)
        .details(json!({"changes": changes(&before, &after, password_given)}));
    state.record(ev, Some(&slot)).await?;
    Ok(axum::Json(after))
}

/// Sends a test message to the caller's own address through the partner's saved SMTP
/// settings (switched on or not, so they can be tried before mail is moved to them).
/// A destination the outbound guard refuses once resolved answers 422 (`smtp.host`); the
/// SMTP server's refusal or unreachability answers 502 naming what failed (never with the
/// server's own reply). The conversation is bounded by `[outbound] timeout_secs`.
#[utoipa::path(post, path = "/api/v1/settings/smtp/test", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = SmtpTestResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn test_smtp(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
) -> ApiResult<axum::Json<SmtpTestResult>> {
    let s = partner_settings::get(&state.db, &auth.scope).await?;
    auth.require(Resource::Settings, Action::Write)?;
    let partner = partner_of(&auth)?;
    if s.smtp.host.is_none() || s.smtp.from.is_none() {
        return Err(ApiError::BadRequest {
            code: "smtp_not_configured",
            message: "save an SMTP host and sender address first".into(),
            field: Some(
                if s.smtp.host.is_none() {
                    "smtp.host"
                } else {
                    "smtp.from"
                }
                .into(),
            ),
        });
    }
    let mailer =
        mail::partner_mailer(&state, partner, &s.smtp).map_err(|e| ApiError::BadRequest {
            code: "smtp_settings_unusable",
            message: format!("{e:#}; enter the SMTP settings again"),
            field: None,
        })?;
    let (host, port) = mailer
        .endpoint()
        .map(|(h, p)| (h.to_string(), p))
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("partner mailer without endpoint")))?;
    let to = auth.user().email.clone();
    let body = format!(
        "Hello {},\n\nThis is a test message from Breeze, sent through {host}:{port}.\nPassword resets and invitations for your users will arrive the same way once your SMTP settings are switched on.\n",
        auth.user().name
    );
    let ev = AuditEvent::new("settings.smtp.test", "partner_settings")
        .by(&auth)
        .client(&meta)
        .resource(partner, None)
        .details(json!({"to": to, "host": host, "port": port}));
    match mailer
        .send(&state.config.outbound, &to, "Breeze SMTP test", body)
        .await
    {
        Ok(_) => {
            state.record(ev, Some(&slot)).await?;
            Ok(axum::Json(SmtpTestResult {
                sent_to: to,
                host,
                port,
            }))
        }
        Err(e @ OutboundError::NotAllowed(_)) => {
            state
                .record(ev.failed("denied", e.to_string()), Some(&slot))
                .await?;
            Err(ApiError::validation("smtp.host", e.to_string()))
        }
        Err(e) => {
            let message = format!("the SMTP server at {host}:{port} did not take the message: {e}");
            state
                .record(ev.failed("failure", message.clone()), Some(&slot))
                .await?;
            Err(ApiError::BadGateway {
                code: "smtp_failed",
                message,
            })
        }
    }
}
