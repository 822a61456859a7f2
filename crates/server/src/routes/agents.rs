//! The agent protocol's server side (`breeze_proto::agent`): enrollment, heartbeat,
//! inventory, command acknowledgements and results, and the WebSocket channel.
//!
//! Agent telemetry (heartbeat, inventory, ack) is not a user action and is not written
//! to the audit log row by row; what matters is: enrollment, source IP changes, token
//! suspension, refused commands (semantic audit rows) and every lifecycle change
//! (device_events).

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::agent::{self, AGENT, AgentAuth, Use};
use crate::auth::tokens;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use breeze_core::token_rotation;
use breeze_proto::agent::{
    ChannelFrame, CommandAck, CommandOutput, CommandRejection, CommandResult, CommandStatus,
    EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, InventoryRequest,
    InventorySection, SecretToken, canonical_json,
};
use breeze_proto::api::{ErrorBody, LiveEvent, OkBody};
use breeze_proto::ids::{CommandId, DeviceId};
use breeze_store::agents::{
    self as store, AWAITING_CHECKIN, AgentDevice, Credential, EnrollRefusal, HeartbeatUpdate,
};
use breeze_store::command_sweeps;
use breeze_store::commands::{self, ResultOutcome};
use breeze_store::device_events::{self, Actor, NewEvent};
use breeze_store::enrollment_keys;
use breeze_store::inventory;
use breeze_store::metrics::Sample;
use serde_json::json;
use sha2::Digest as _;
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    // Every agent route but enrollment needs a bearer token: refuse requests without one
    // before their body is read, so an anonymous caller learns nothing but 401.
    let authenticated = OpenApiRouter::new()
        .routes(routes!(heartbeat))
        .routes(inventory_route())
        .routes(routes!(ack))
        .routes(routes!(result))
        .routes(routes!(channel))
        // The same channel over HTTP/2 (RFC 8441: an extended CONNECT opens a WebSocket on
        // one stream), so a proxy or a load generator can carry many agents' channels on
        // one connection.
        .route(
            "/ws/agents/{id}",
            axum::routing::on(axum::routing::MethodFilter::CONNECT, channel),
        )
        .route_layer(axum::middleware::from_fn(require_bearer));
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .merge(authenticated)
}

async fn require_bearer(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let has_bearer = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        });
    if has_bearer {
        next.run(req).await
    } else {
        ApiError::Unauthorized("missing bearer token".into()).into_response()
    }
}

/// What a key or token hash given to `POST /agents/enroll` is.
enum Given {
    Key(String),
    Token(String),
}

/// The enrollment itself: a limited key's use is reserved first (in a batch with the
/// other enrollments waiting with it) and given back if the enrollment does not commit.
async fn enroll_with(
    state: &AppState,
    given: &Given,
    req: &EnrollRequest,
    token_hash: &str,
    ip: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Result<store::Enrolled, EnrollRefusal>> {
    let mut reserved = None;
    let key = match given {
        Given::Key(hash) => match enrollment_keys::usable_for_agent(&state.db, hash, now).await? {
            Some(k) if k.limited => {
                reserved = state
                    .key_reserver
                    .take(k.id, now)
                    .await
                    .map_err(ApiError::internal)?;
                reserved.is_some().then_some(k)
            }
            k => k,
        },
        Given::Token(_) => None,
    };
    let cred = match (given, &key) {
        (Given::Key(_), Some(k)) => Credential::Key(k),
        (Given::Key(_), None) => return Ok(Err(EnrollRefusal::InvalidCredential)),
        (Given::Token(hash), _) => Credential::DeviceTokenHash(hash),
    };
    let enrolled = store::enroll_for_agent(
        &state.db,
        cred,
        req,
        token_hash,
        &config_hash(state),
        ip,
        now,
    )
    .await;
    if let (Ok(Ok(_)), Some(r)) = (&enrolled, reserved) {
        r.keep();
    }
    Ok(enrolled?)
}

/// Hash of the configuration agents should run with.
fn config_hash(state: &AppState) -> String {
    let v = serde_json::to_value(state.config.agents.agent_config()).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(canonical_json(&v).as_bytes()))
}

fn check_text(field: &str, v: &str, max: usize, required: bool) -> ApiResult<()> {
    if required && v.trim().is_empty() {
        return Err(ApiError::validation(field, "is required"));
    }
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} bytes without control characters"),
        ));
    }
    Ok(())
}

/// Enrolls an agent with a site enrollment key or a pending device's single-use token.
#[utoipa::path(post, path = "/api/v1/agents/enroll", tag = "agents", request_body = EnrollRequest,
    responses((status = 201, body = EnrollResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn enroll(
    State(state): State<AppState>,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, axum::Json<EnrollResponse>)> {
    let given = match (&req.enrollment_key, &req.enrollment_token) {
        (Some(k), None) => Given::Key(tokens::hash(k.expose())),
        (None, Some(t)) => Given::Token(tokens::hash(t.expose())),
        _ => {
            return Err(ApiError::BadRequest {
                code: "bad_request",
                message: "give exactly one of enrollment_key and enrollment_token".into(),
                field: Some("enrollment_key".into()),
            });
        }
    };
    check_text("hostname", &req.hostname, 255, true)?;
    check_text("os_version", &req.os_version, 200, false)?;
    check_text("os_build", &req.os_build, 200, false)?;
    check_text("architecture", &req.architecture, 50, false)?;
    check_text("agent_version", &req.agent_version, 50, false)?;
    check_text("fingerprint", &req.fingerprint, 128, false)?;
    check_text("hardware.cpu_model", &req.hardware.cpu_model, 300, false)?;
    let now = state.now();
    let token = tokens::random_token(AGENT);
    // Run to the end in a task of its own, even if the request goes away meanwhile: a use
    // of a limited key is given back unless its enrollment committed, and a request
    // cancelled during the commit would otherwise give back a use that was spent.
    let task = {
        let state = state.clone();
        let req = req.clone();
        let token_hash = tokens::hash(&token);
        let ip = meta.ip.clone();
        tokio::spawn(async move {
            enroll_with(&state, &given, &req, &token_hash, ip.as_deref(), now).await
        })
    };
    let enrolled = task.await.map_err(ApiError::internal)??;
    let e = match enrolled {
        Ok(e) => e,
        Err(refusal) => {
            let why = refusal_reason(&refusal);
            let mut ev = AuditEvent::new("agent.enroll", "device")
                .client(&meta)
                .details(json!({"hostname": req.hostname, "fingerprint": req.fingerprint}))
                .failed("denied", why);
            if let EnrollRefusal::DeviceSuspended {
                device_id,
                org_id,
                partner_id,
            } = &refusal
            {
                ev = ev
                    .partner(Some(*partner_id))
                    .org(Some(*org_id))
                    .resource(device_id, None)
                    .details(
                        json!({"hostname": req.hostname, "fingerprint": req.fingerprint,
                        "suspended_device_id": device_id}),
                    );
            }
            state.record(ev, Some(&slot)).await?;
            return Err(refusal_error(refusal));
        }
    };
    if let Some(key) = e.uncounted_use {
        state.key_uses.add(key);
    }
    let at = e.coords();
    state.events.publish(
        at,
        &LiveEvent::DeviceEnrolled {
            device_id: e.device_id,
            org_id: e.org_id,
            site_id: e.site_id,
            hostname: req.hostname.clone(),
        },
    );
    // Enrolled, not yet online: that waits for the agent's first heartbeat (or channel).
    state
        .events
        .publish(at, &events::device_status(&at, AWAITING_CHECKIN));
    crate::automations::on_event(
        &state,
        crate::automations::AutomationEvent::DeviceEnrolled { at },
    );
    state
        .record(
            AuditEvent::new("agent.enroll", "device")
                .client(&meta)
                .partner(Some(e.partner_id))
                .org(Some(e.org_id))
                .resource(e.device_id, Some(&req.hostname))
                .details(
                    json!({"method": e.method, "trust_level": e.trust_level, "site_id": e.site_id}),
                ),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(EnrollResponse {
            agent_id: e.device_id,
            device_id: e.device_id,
            org_id: e.org_id,
            site_id: e.site_id,
            auth_token: SecretToken::new(token),
            signing_public_key: state.keys.signing_public_base64(),
            config: state.config.agents.agent_config(),
            server_time: now,
        }),
    ))
}

fn refusal_reason(r: &EnrollRefusal) -> &'static str {
    match r {
        EnrollRefusal::InvalidCredential => "invalid credential",
        EnrollRefusal::SiteNotAllowed => "site not allowed",
        EnrollRefusal::DeviceSuspended { .. } => "the fingerprint belongs to a suspended device",
        EnrollRefusal::DeviceLimitReached { .. } => "device limit reached",
        EnrollRefusal::OrgInactive { .. } => "the organization is suspended or churned",
    }
}

/// The answer to a refused enrollment (or pending-device creation).
pub(crate) fn refusal_error(r: EnrollRefusal) -> ApiError {
    match r {
        EnrollRefusal::InvalidCredential => ApiError::Unauthorized(
            "the enrollment key or token is unknown, expired, revoked or used up".into(),
        ),
        EnrollRefusal::SiteNotAllowed => {
            ApiError::Forbidden("the key does not allow enrolling into that site".into())
        }
        EnrollRefusal::DeviceSuspended { .. } => ApiError::refused(
            StatusCode::FORBIDDEN,
            "device_suspended",
            "this machine belongs to a device whose agent token is suspended; an admin must \
             reactivate or decommission that device first",
        ),
        EnrollRefusal::DeviceLimitReached { limit, of } => ApiError::refused(
            StatusCode::CONFLICT,
            "device_limit_reached",
            format!("the {of} allows at most {limit} devices"),
        ),
        EnrollRefusal::OrgInactive { status } => ApiError::org_read_only(&status),
    }
}

async fn auth(
    state: &AppState,
    headers: &HeaderMap,
    id: DeviceId,
    meta: &ClientMeta,
    slot: &AuditSlot,
    usage: Use,
) -> ApiResult<AgentAuth> {
    // Agent telemetry is not audited per request (see the module docs); refusals that
    // matter (suspension) write their own rows.
    slot.skip();
    agent::authenticate(state, headers, id, meta, usage).await
}

/// Sections whose hash the agent holds differs from the server's.
fn sections_to_request(
    req: &HeartbeatRequest,
    stored: Option<&serde_json::Value>,
) -> Vec<InventorySection> {
    InventorySection::ALL
        .into_iter()
        .filter(|s| {
            let theirs = req.inventory_hashes.get(s);
            let ours = stored
                .and_then(|v| v.get(s.as_str()))
                .and_then(|v| v.as_str());
            match (theirs, ours) {
                (None, None) => false,
                (Some(a), Some(b)) => a != b,
                _ => true,
            }
        })
        .collect()
}

/// Heartbeat: metrics and status in; queued commands, config changes and token
/// rotation out. 410 when the device was decommissioned.
#[utoipa::path(post, path = "/api/v1/agents/{id}/heartbeat", tag = "agents", security(("agent" = [])),
    params(("id" = DeviceId, Path)), request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn heartbeat(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<HeartbeatRequest>,
) -> ApiResult<axum::Json<HeartbeatResponse>> {
    let a = auth(&state, &headers, id, &meta, &slot, Use::Heartbeat).await?;
    breeze_core::json_limits::check_metrics(&req.metrics)?;
    let now = state.now();
    let d = &a.device;
    let using_pending = d.is_pending_token(&a.token_hash);
    if using_pending && !req.confirm_token_rotation {
        return Err(ApiError::Unauthorized(
            "confirm the rotated token with confirm_token_rotation".into(),
        ));
    }
    let confirm = using_pending;
    let rotation_due = !confirm
        && d.agent_token_issued_at.is_none_or(|t| {
            token_rotation::due_at(t, state.config.agents.token_rotation_secs, d.id) <= now
        });
    let new_token = rotation_due.then(|| tokens::random_token(AGENT));
    let new_hash = new_token.as_deref().map(tokens::hash);
    let want_hash = config_hash(&state);
    let config_update = (d.config_hash.as_deref() != Some(want_hash.as_str()))
        .then(|| state.config.agents.agent_config());
    if let (Some(old), Some(new)) = (&d.last_seen_ip, &meta.ip)
        && old != new
    {
        state
            .record(
                AuditEvent::new("agent.source.ip.changed", "device")
                    .by_agent(d)
                    .client(&meta)
                    .resource(d.device_id(), Some(&d.hostname))
                    .details(json!({"previous_ip": old, "ip": new})),
                None,
            )
            .await?;
        device_events::insert(
            &state.db,
            &NewEvent {
                device_id: d.device_id(),
                event_type: "ip_changed",
                details: json!({"previous_ip": old, "ip": new}),
                ip_address: Some(new),
                actor: Actor::Agent,
            },
            now,
        )
        .await?;
    }
    state.metrics_buffer.push(Sample {
        device_id: d.device_id(),
        ts: now,
        metrics: req.metrics.clone(),
    });
    // The previous heartbeat may still wait in this replica's coalescing buffer.
    let previous_heartbeat = d
        .last_seen_at
        .max(state.heartbeats.last_seen(d.device_id()));
    // What the answer, the status or another reader depends on is written now; a
    // heartbeat of a device already online from the same address (or its first address),
    // with no token to rotate, waits for the batched writer (`jobs::heartbeats`). So does
    // the configuration hash: a heartbeat before the batch is written gets the same
    // configuration again, which the agent applies as a no-op. A fleet whose
    // configuration changed otherwise wrote every device's next heartbeat alone.
    let came_back = matches!(d.status.as_str(), "offline" | "pending" | AWAITING_CHECKIN);
    let ip_changed = d.last_seen_ip.is_some() && d.last_seen_ip.as_deref() != meta.ip.as_deref();
    let immediate =
        came_back || confirm || new_hash.is_some() || ip_changed || d.last_seen_at.is_none();
    if immediate {
        state.heartbeats.forget(d.device_id());
        store::record_heartbeat_for_agent(
            &state.db,
            d,
            &HeartbeatUpdate {
                req: &req,
                ip: meta.ip.as_deref(),
                confirm_rotation: confirm,
                new_pending_hash: new_hash.as_deref(),
                config_hash: config_update.is_some().then_some(want_hash.as_str()),
            },
            now,
        )
        .await?;
    } else {
        state.heartbeats.push(store::SeenUpdate::new(
            d.device_id(),
            &req,
            meta.ip.as_deref(),
            config_update.is_some().then_some(want_hash.as_str()),
            now,
        ));
    }
    // Only a transition is news; the statement above moved an offline device online.
    if came_back {
        came_online(&state, d, meta.ip.as_deref(), now).await?;
    }
    // Alert rules on this sample (and the device's status conditions when it came back).
    // A device in maintenance raises nothing; an engine failure never fails the heartbeat.
    if d.status != "maintenance" {
        let dev = crate::alerting::DeviceRef {
            at: d.coords(),
            hostname: &d.hostname,
            status: "online",
            last_seen_at: Some(now),
        };
        if let Err(e) = state
            .alerting
            .on_heartbeat(&state, &dev, &req.metrics, d.status == "offline", now)
            .await
        {
            tracing::error!(device = %d.id, error = format!("{e:#}"), "evaluating alert rules");
        }
    }
    if confirm {
        device_events::insert(
            &state.db,
            &NewEvent {
                device_id: d.device_id(),
                event_type: "token_rotated",
                details: json!({}),
                ip_address: meta.ip.as_deref(),
                actor: Actor::Agent,
            },
            now,
        )
        .await?;
    }
    let commands = commands::take_pending_for_agent(&state.db, d.device_id(), now).await?;
    // Running commands the agent no longer reports (it restarted or died mid-run).
    let lost = command_sweeps::lose_unreported_for_agent(
        &state.db,
        d.device_id(),
        &req.running_commands,
        previous_heartbeat,
        now,
    )
    .await?;
    crate::dispatch::publish_settled(&state, &lost);
    Ok(axum::Json(HeartbeatResponse {
        commands,
        config_update,
        upgrade_to: None,
        rotate_token: new_token.map(SecretToken::new),
        inventory_requested: sections_to_request(&req, d.inventory_hashes.as_ref().map(|j| &j.0)),
        server_time: Some(now),
    }))
}

/// The inventory route, with a body limit of its own: a first upload of a machine with
/// thousands of packages passes 1 MiB; each section's own limits are checked on parsing.
fn inventory_route() -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = routes!(put_inventory);
    let limit = breeze_core::json_limits::INVENTORY_MAX_BODY_BYTES;
    (
        schemas,
        paths,
        method_router.layer(axum::extract::DefaultBodyLimit::max(limit)),
    )
}

/// Inventory sections (each present section replaces the stored one).
#[utoipa::path(put, path = "/api/v1/agents/{id}/inventory", tag = "agents", security(("agent" = [])),
    params(("id" = DeviceId, Path)), request_body = InventoryRequest,
    responses((status = 200, body = OkBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_inventory(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<InventoryRequest>,
) -> ApiResult<axum::Json<OkBody>> {
    let a = auth(&state, &headers, id, &meta, &slot, Use::Other).await?;
    breeze_core::json_limits::check_inventory(&req)?;
    // Software alert rules compare the previous list with the new one; a first upload
    // (no software section held yet) is no change.
    let had_software = a
        .device
        .inventory_hashes
        .as_ref()
        .is_some_and(|h| h.0.get(InventorySection::Software.as_str()).is_some());
    let old_software = if req.software.is_some()
        && had_software
        && a.device.status != "maintenance"
        && state
            .alerting
            .watches_software(&state, a.device.org())
            .await
    {
        Some(breeze_store::alerts::software_names_for_agent(&state.db, a.device.device_id()).await?)
    } else {
        None
    };
    let stored =
        inventory::replace_for_agent(&state.db, a.device.device_id(), &req, state.now()).await?;
    if let (Some(old), Some(new)) = (old_software, &req.software) {
        software_changed(&state, &a.device, &old, new).await;
    }
    let accepted: BTreeMap<String, String> = stored
        .iter()
        .filter_map(|s| {
            req.hashes
                .get(s)
                .map(|h| (s.as_str().to_string(), h.clone()))
        })
        .collect();
    store::set_inventory_hashes_for_agent(&state.db, &a.device, &accepted).await?;
    if !stored.is_empty() {
        let at = a.device.coords();
        state.events.publish(
            at,
            &LiveEvent::DeviceInventory {
                device_id: at.device_id,
                org_id: at.org_id,
                site_id: at.site_id,
                sections: stored.iter().map(|s| s.as_str().to_string()).collect(),
            },
        );
    }
    Ok(axum::Json(OkBody { ok: true }))
}

/// Tells the alert engine which packages appeared and disappeared (by name).
async fn software_changed(
    state: &AppState,
    d: &AgentDevice,
    old: &[String],
    new: &[breeze_proto::agent::SoftwarePackage],
) {
    use std::collections::BTreeSet;
    let old: BTreeSet<&str> = old.iter().map(String::as_str).collect();
    let new: BTreeSet<&str> = new.iter().map(|p| p.name.as_str()).collect();
    let installed: Vec<String> = new.difference(&old).map(|s| s.to_string()).collect();
    let removed: Vec<String> = old.difference(&new).map(|s| s.to_string()).collect();
    if installed.is_empty() && removed.is_empty() {
        return;
    }
    crate::automations::on_event(
        state,
        crate::automations::AutomationEvent::SoftwareChanged {
            at: d.coords(),
            installed: installed.clone(),
            removed: removed.clone(),
        },
    );
    let now = state.now();
    let dev = crate::alerting::DeviceRef {
        at: d.coords(),
        hostname: &d.hostname,
        status: &d.status,
        last_seen_at: d.last_seen_at,
    };
    if let Err(e) = state
        .alerting
        .on_software(state, &dev, &installed, &removed, now)
        .await
    {
        tracing::error!(device = %d.id, error = format!("{e:#}"), "evaluating software alert rules");
    }
}

/// The agent verified and started a command.
#[utoipa::path(post, path = "/api/v1/agents/{id}/commands/{command_id}/ack", tag = "agents", security(("agent" = [])),
    params(("id" = DeviceId, Path), ("command_id" = CommandId, Path)), request_body = CommandAck,
    responses((status = 200, body = OkBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ack(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Extension(slot): Extension<AuditSlot>,
    ApiPath((id, command_id)): ApiPath<(DeviceId, CommandId)>,
    ApiJson(req): ApiJson<CommandAck>,
) -> ApiResult<axum::Json<OkBody>> {
    let a = auth(&state, &headers, id, &meta, &slot, Use::Other).await?;
    if req.command_id != command_id {
        return Err(ApiError::validation("command_id", "must match the path"));
    }
    let acked =
        commands::ack_for_agent(&state.db, a.device.device_id(), command_id, req.started_at)
            .await?;
    if acked.is_none() {
        // Nothing changed: fine for a repeated acknowledgement of its own command, not
        // for a command that is not its device's.
        if check_own_command(&state, &a.device, &meta, command_id).await? != Owner::Own {
            return Err(ApiError::NotFound);
        }
    }
    publish_ack(&state, &a.device, command_id, acked);
    Ok(axum::Json(OkBody { ok: true }))
}

/// Whose a command an agent named is.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// The agent's own device's.
    Own,
    /// Another device's: the token is now suspended and the attempt audited.
    Foreign,
    /// No such command anywhere.
    Unknown,
}

/// Naming another device's command is misuse, treated like a token used on another
/// device's path: the token is suspended and the attempt audited (DESIGN.md "Tenancy
/// and access"). An id that exists nowhere is only a 404 for the caller.
async fn check_own_command(
    state: &AppState,
    device: &store::AgentDevice,
    meta: &ClientMeta,
    command: CommandId,
) -> ApiResult<Owner> {
    match commands::device_of_command_for_agent(&state.db, command).await? {
        Some(owner) if owner == device.device_id() => Ok(Owner::Own),
        Some(owner) => {
            agent::suspend_for_misuse(
                state,
                device,
                meta,
                "token used for another device's command",
                json!({"command_id": command, "command_device_id": owner}),
            )
            .await?;
            Ok(Owner::Foreign)
        }
        None => Ok(Owner::Unknown),
    }
}

/// Live output of a running script (a `command_output` frame): appended to its
/// execution (in order, within the output cap) and published as `execution.output` to
/// the streams that may see the device. Answers false when the channel must end (the
/// agent named another device's command: its token is now suspended).
async fn record_output(
    state: &AppState,
    device: &store::AgentDevice,
    meta: &ClientMeta,
    out: &CommandOutput,
) -> bool {
    let chunk = commands::OutputChunk {
        command: out.command_id,
        stream: out.stream,
        offset: out.offset,
        data: &out.data,
    };
    let cap = state.config.agents.max_output_bytes;
    match commands::append_output_for_agent(&state.db, device.device_id(), &chunk, cap).await {
        Ok(Some(execution_id)) => {
            state.events.publish(
                device.coords(),
                &LiveEvent::ExecutionOutput {
                    device_id: device.device_id(),
                    execution_id,
                    command_id: out.command_id,
                    stream: out.stream,
                    offset: out.offset,
                    data: out.data.clone(),
                },
            );
            true
        }
        // Not taken: a gap, a repeat, past the cap, already final, or not a script of
        // this device. Only the last is misuse.
        Ok(None) => !matches!(
            check_own_command(state, device, meta, out.command_id).await,
            Ok(Owner::Foreign)
        ),
        Err(e) => {
            tracing::warn!(error = %e, device = %device.device_id(), "recording live output");
            true
        }
    }
}

/// Tells the live streams that a command started (when the acknowledgement changed it).
fn publish_ack(
    state: &AppState,
    device: &store::AgentDevice,
    command: CommandId,
    acked: Option<commands::Acked>,
) {
    if let Some(acked) = acked {
        state.events.publish(
            device.coords(),
            &events::command_updated(device.device_id(), command, acked.execution_id, "running"),
        );
    }
}

fn rejection_name(r: Option<CommandRejection>) -> String {
    r.and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unspecified".into())
}

/// The final result of a command; 409 when one is already recorded (first wins).
#[utoipa::path(post, path = "/api/v1/agents/{id}/commands/{command_id}/result", tag = "agents", security(("agent" = [])),
    params(("id" = DeviceId, Path), ("command_id" = CommandId, Path)), request_body = CommandResult,
    responses((status = 200, body = OkBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn result(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Extension(slot): Extension<AuditSlot>,
    ApiPath((id, command_id)): ApiPath<(DeviceId, CommandId)>,
    ApiJson(req): ApiJson<CommandResult>,
) -> ApiResult<axum::Json<OkBody>> {
    let a = auth(&state, &headers, id, &meta, &slot, Use::Other).await?;
    if req.command_id != command_id {
        return Err(ApiError::validation("command_id", "must match the path"));
    }
    if req.status == CommandStatus::Lost {
        return Err(ApiError::validation(
            "status",
            "`lost` is set by the server, never reported by an agent",
        ));
    }
    let cap = usize::try_from(state.config.agents.max_output_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(2)
        .max(4096);
    if req.stdout.len() > cap || req.stderr.len() > cap {
        return Err(ApiError::validation(
            "stdout",
            "output is larger than the configured cap",
        ));
    }
    let d = &a.device;
    let now = state.now();
    let rejected = req.status == CommandStatus::Rejected;
    let reason = rejection_name(req.rejection);
    match commands::record_result_for_agent(&state.db, d.device_id(), &req).await? {
        ResultOutcome::Unknown => {
            check_own_command(&state, d, &meta, command_id).await?;
            Err(ApiError::NotFound)
        }
        ResultOutcome::Duplicate { status } => {
            if rejected {
                // A replayed command (an id the agent had already run): keep the refusal visible.
                device_events::insert(
                    &state.db,
                    &NewEvent {
                        device_id: d.device_id(),
                        event_type: "command_rejected",
                        details: json!({"command_id": command_id, "reason": reason,
                            "error": req.error_message, "recorded_status": status}),
                        ip_address: meta.ip.as_deref(),
                        actor: Actor::Agent,
                    },
                    now,
                )
                .await?;
                state
                    .record(
                        AuditEvent::new("agent.command.rejected", "device_command")
                            .by_agent(d)
                            .client(&meta)
                            .resource(command_id, None)
                            .details(
                                json!({"device_id": d.id, "reason": reason, "duplicate": true}),
                            )
                            .failed("denied", format!("agent refused the command: {reason}")),
                        None,
                    )
                    .await?;
            }
            Err(ApiError::Conflict(format!(
                "command {command_id} already has a final result ({status})"
            )))
        }
        ResultOutcome::Recorded {
            command_type,
            execution_id,
        } => {
            state.events.publish(
                d.coords(),
                &events::command_updated(
                    d.device_id(),
                    command_id,
                    execution_id,
                    req.status.as_str(),
                ),
            );
            crate::automations::on_command_settled(&state, command_id);
            if execution_id.is_some()
                && (req.status != CommandStatus::Completed || req.exit_code.is_some_and(|c| c != 0))
            {
                crate::automations::on_event(
                    &state,
                    crate::automations::AutomationEvent::ScriptFailed {
                        at: d.coords(),
                        script_id: None,
                        execution_id,
                        exit_code: req.exit_code,
                    },
                );
            }
            crate::policies::on_command_result(&state, d.device_id(), &req).await;
            let event = if rejected {
                "command_rejected"
            } else {
                "command_result"
            };
            device_events::insert(
                &state.db,
                &NewEvent {
                    device_id: d.device_id(),
                    event_type: event,
                    details: json!({"command_id": command_id, "type": command_type,
                        "status": req.status.as_str(), "exit_code": req.exit_code,
                        "reason": rejected.then_some(&reason)}),
                    ip_address: meta.ip.as_deref(),
                    actor: Actor::Agent,
                },
                now,
            )
            .await?;
            if rejected {
                state
                    .record(
                        AuditEvent::new("agent.command.rejected", "device_command")
                            .by_agent(d)
                            .client(&meta)
                            .resource(command_id, None)
                            .details(json!({"device_id": d.id, "reason": reason, "error": req.error_message}))
                            .failed("denied", format!("agent refused the command: {reason}")),
                        None,
                    )
                    .await?;
            }
            Ok(axum::Json(OkBody { ok: true }))
        }
    }
}

/// The agent channel (WebSocket upgrade, JSON text frames of `ChannelFrame`). Queued
/// commands are pushed as soon as they are queued; results still go over HTTP.
#[utoipa::path(get, path = "/ws/agents/{id}", tag = "agents", security(("agent" = [])),
    params(("id" = DeviceId, Path)),
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 400, description = "not a WebSocket upgrade request", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 426, description = "the connection cannot be upgraded", body = ErrorBody)))]
async fn channel(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let a = auth(&state, &headers, id, &meta, &slot, Use::Other).await?;
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::Unavailable(
            "this server is shutting down; connect again (to another replica)".into(),
        ));
    }
    // A plain GET (no upgrade headers) gets the JSON error every route gives.
    let ws =
        ws.map_err(|e| ApiError::refused(e.status(), "websocket_upgrade_required", e.body_text()))?;
    Ok(ws
        .max_message_size(1024 * 1024)
        // tungstenite allocates its read buffer whole for every socket (128 KiB by
        // default): with 10,000 idle channels that alone was 1.3 GiB (BENCHMARKS.md,
        // "memory per idle channel"). Larger frames still arrive whole; they take more
        // reads.
        .read_buffer_size(CHANNEL_READ_BUFFER)
        .on_upgrade(move |socket| serve_channel(state, a, meta, socket)))
}

/// Bytes the server reads from an agent's channel socket at a time.
const CHANNEL_READ_BUFFER: usize = 8 * 1024;

/// The channel's write side: a task owns the socket's sink, so reading never waits for
/// a write (two sides blocked writing to each other would deadlock the channel).
type Tx = tokio::sync::mpsc::UnboundedSender<Message>;

fn send(tx: &Tx, f: &ChannelFrame) -> bool {
    match serde_json::to_string(f) {
        Ok(s) => tx.send(Message::Text(s.into())).is_ok(),
        Err(_) => false,
    }
}

/// Sends the device's queued commands; on a channel that just opened (`fresh`) also those
/// sent before but never acknowledged (see [`commands::take_for_new_channel`]).
async fn push_pending(state: &AppState, device: DeviceId, tx: &Tx, fresh: bool) -> bool {
    let now = state.now();
    let taken = if fresh {
        commands::take_for_new_channel(&state.db, device, now).await
    } else {
        commands::take_pending_for_agent(&state.db, device, now).await
    };
    match taken {
        Ok(cmds) => {
            for c in cmds {
                if !send(tx, &ChannelFrame::Command(c)) {
                    return false;
                }
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, %device, "reading queued commands for the channel");
            true
        }
    }
}

/// Writes the loop's frames and the streams' frames (control first) until either side ends.
fn spawn_writer(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Message>,
    mut mux_out: breeze_mux::MuxOutput,
) -> tokio::task::JoinHandle<()> {
    use futures::SinkExt as _;
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => break,
                },
                o = mux_out.recv() => match o {
                    Some(breeze_mux::Outgoing::Text(f)) => match serde_json::to_string(&f) {
                        Ok(s) => Message::Text(s.into()),
                        Err(_) => continue,
                    },
                    Some(breeze_mux::Outgoing::Binary(b)) => Message::Binary(b),
                    None => break,
                },
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    })
}

/// A device went online: tell the console, and note the first check-in in its history.
async fn came_online(
    state: &AppState,
    d: &AgentDevice,
    ip: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let at = d.coords();
    state
        .events
        .publish(at, &events::device_status(&at, "online"));
    // The device's history records the first check-in, and pairs each `offline` with the
    // check-in that ended it.
    let (event_type, details) = if d.status == AWAITING_CHECKIN {
        ("first_checkin", json!({}))
    } else {
        ("online", json!({"previous_status": d.status}))
    };
    device_events::insert(
        &state.db,
        &NewEvent {
            device_id: d.device_id(),
            event_type,
            details,
            ip_address: ip,
            actor: Actor::Agent,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Every idle channel keeps this function's future: the database calls it makes are
/// boxed, so their (large) futures take memory only while they run (issue 14: the
/// future was ~19 KiB per idle channel before).
async fn serve_channel(state: AppState, a: AgentAuth, meta: ClientMeta, socket: WebSocket) {
    use futures::StreamExt as _;
    let device = a.device.device_id();
    if a.device.status == AWAITING_CHECKIN {
        let now = state.now();
        match Box::pin(store::check_in_for_agent(&state.db, &a.device, now)).await {
            Ok(true) => {
                if let Err(e) =
                    Box::pin(came_online(&state, &a.device, meta.ip.as_deref(), now)).await
                {
                    tracing::warn!(error = %e, %device, "recording a first check-in");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, %device, "recording a first check-in"),
        }
    }
    let (mux, mux_out) = breeze_mux::Mux::new(breeze_mux::Side::Server);
    let (sink, mut socket) = socket.split();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let writer = spawn_writer(sink, rx, mux_out);
    let (conn, mut wake) = state.hub.register(device, mux.clone());
    let mut drain = state.hub.drain_signal();
    tracing::debug!(%device, "agent channel open");
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    tick.tick().await;
    let mut ping_id = 0u64;
    let mut ok = Box::pin(push_pending(&state, device, &tx, true)).await;
    while ok {
        tokio::select! {
            msg = socket.next() => {
                let Some(Ok(msg)) = msg else { break };
                let text = match msg {
                    Message::Text(text) => text,
                    Message::Binary(b) => {
                        mux.on_binary(&b);
                        continue;
                    }
                    Message::Close(_) => break,
                    _ => continue,
                };
                let frame = match serde_json::from_str::<ChannelFrame>(text.as_str()) {
                    Ok(f) => f,
                    Err(e) => {
                        ok = send(&tx, &ChannelFrame::Error { message: format!("unreadable frame: {e}") });
                        continue;
                    }
                };
                let frame = match mux.on_frame(frame) {
                    breeze_mux::Dispatch::NotStream(f) => f,
                    breeze_mux::Dispatch::Handled => continue,
                    // Agents never open streams toward the server.
                    breeze_mux::Dispatch::Open(inc) => {
                        let kind = inc.kind.clone();
                        inc.refuse(format!("unsupported stream kind: {kind}"));
                        continue;
                    }
                };
                ok = match frame {
                    ChannelFrame::Hello { .. } => {
                        send(&tx, &ChannelFrame::Welcome { server_time: Some(state.now()) })
                            && Box::pin(push_pending(&state, device, &tx, false)).await
                    }
                    ChannelFrame::Ping { id } => send(&tx, &ChannelFrame::Pong { id }),
                    ChannelFrame::CommandAck(ack) => {
                        match Box::pin(commands::ack_for_agent(&state.db, device, ack.command_id, ack.started_at)).await {
                            Ok(None) => {
                                // A foreign command suspends the token and ends the channel.
                                !matches!(Box::pin(check_own_command(&state, &a.device, &meta, ack.command_id)).await,
                                    Ok(Owner::Foreign))
                            }
                            Ok(acked) => {
                                publish_ack(&state, &a.device, ack.command_id, acked);
                                true
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, %device, "recording a channel acknowledgement");
                                true
                            }
                        }
                    }
                    ChannelFrame::CommandOutput(out) => Box::pin(record_output(&state, &a.device, &meta, &out)).await,
                    _ => true,
                };
            }
            w = wake.recv() => {
                if w.is_none() { break }
                ok = Box::pin(push_pending(&state, device, &tx, false)).await;
            }
            d = async { drain.wait_for(Option::is_some).await.map(|w| (*w).unwrap_or_default()) } => {
                if let Ok(within_ms) = d {
                    send(&tx, &ChannelFrame::Reconnect { within_ms });
                    let _ = tx.send(Message::Close(None));
                    // Let the writer flush both frames before the loop below aborts it.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                break;
            }
            _ = tick.tick() => {
                ping_id += 1;
                ok = send(&tx, &ChannelFrame::Ping { id: ping_id });
            }
        }
    }
    state.hub.unregister(device, conn);
    mux.shutdown("the agent's channel closed");
    drop(tx);
    writer.abort();
    tracing::debug!(%device, "agent channel closed");
}
