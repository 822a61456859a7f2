//! Remote sessions (issue 12): `/api/v1/remote/sessions…` and the `/ws/remote/{id}` socket.
//!
//! Permissions: `remote:execute` opens, ends and downloads the recording of terminal and
//! file-manager sessions (`remote_desktop:execute` for desktops), `remote:read` reads them.
//! A session is reached through its device: outside the caller's scope it is 404.
//!
//! Opening a session on a device whose agent is connected to no replica answers 409
//! `device_offline` (at once on a single server, after the cluster's locate timeout when
//! there are replicas), rather than creating a session that can only fail. A channel on
//! another replica is reached through it (`crate::relay::route`).

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::auth::tokens;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{page, unsorted_list_opts};
use crate::state::AppState;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_core::permissions::{Action, Resource};
use breeze_proto::api::{
    CreateRemoteSession, ErrorBody, Page, RemoteSession, RemoteSessionCreated,
    RemoteSessionListQuery, RemoteSessionStatus, RemoteSessionType,
};
use breeze_proto::ids::RemoteSessionId;
use breeze_store::remote_sessions::{self as store, End, NewSession, SessionFilter};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncReadExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, end))
        .routes(routes!(recording))
        .routes(routes!(socket))
}

/// Seconds a ticket stays valid.
pub const TICKET_TTL_SECS: i64 = 60;
/// Prefix of session tickets.
const TICKET: &str = "bzt";
/// Largest terminal dimension.
const MAX_DIM: u16 = 1000;

fn permission(t: RemoteSessionType) -> Resource {
    match t {
        RemoteSessionType::Desktop => Resource::RemoteDesktop,
        _ => Resource::Remote,
    }
}

fn check_dim(field: &str, v: Option<u16>, default: u16) -> ApiResult<u16> {
    let v = v.unwrap_or(default);
    if !(1..=MAX_DIM).contains(&v) {
        return Err(ApiError::validation(
            field,
            format!("must be between 1 and {MAX_DIM}"),
        ));
    }
    Ok(v)
}

/// Opens a session on a device: answers the socket path and a single-use ticket (60 s).
#[utoipa::path(post, path = "/api/v1/remote/sessions", tag = "remote", security(("bearer" = [])), request_body = CreateRemoteSession,
    responses((status = 201, body = RemoteSessionCreated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "the device's agent is not connected (`device_offline`) or the device takes no sessions", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateRemoteSession>,
) -> ApiResult<(StatusCode, axum::Json<RemoteSessionCreated>)> {
    let t = req.session_type;
    auth.require(permission(t), Action::Execute)?;
    let cols = check_dim("cols", req.cols, 80)?;
    let rows = check_dim("rows", req.rows, 24)?;
    if req.view_only.is_some() && t != RemoteSessionType::Desktop {
        return Err(ApiError::validation(
            "view_only",
            "applies to desktop sessions only",
        ));
    }
    let d = breeze_store::devices::get(&state.db, &auth.scope, req.device_id).await?;
    auth.writable(d.org_id)?;
    takes_remote_access(&d)?;
    if !crate::relay::route::reachable(&state, d.id).await {
        return Err(ApiError::refused(
            StatusCode::CONFLICT,
            "device_offline",
            "the device's agent is not connected to the server; remote sessions need its live channel",
        ));
    }
    let now = state.now();
    let ticket = tokens::random_token(TICKET);
    let expires_at = now + chrono::Duration::seconds(TICKET_TTL_SECS);
    let id = store::create(
        &state.db,
        &NewSession {
            org_id: d.org_id,
            device_id: d.id,
            user_id: auth.user_id(),
            session_type: t,
            view_only: req.view_only.unwrap_or(false),
            cols,
            rows,
            ticket_hash: tokens::hash(&ticket),
            ticket_expires_at: expires_at,
        },
        now,
    )
    .await?;
    state
        .record(
            AuditEvent::new("remote.session.start", "device")
                .by(&auth)
                .client(&meta)
                .org(Some(d.org_id))
                .device(d.site_id, d.id)
                .resource(d.id, Some(&d.hostname))
                .details(json!({"session_id": id, "type": t.as_str(), "view_only": req.view_only.unwrap_or(false)})),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RemoteSessionCreated {
            id,
            status: RemoteSessionStatus::Pending,
            ws_path: format!("/ws/remote/{id}"),
            ticket,
            expires_at,
        }),
    ))
}

/// Sessions in reach, newest first.
#[utoipa::path(get, path = "/api/v1/remote/sessions", tag = "remote", security(("bearer" = [])), params(RemoteSessionListQuery),
    responses((status = 200, body = Page<RemoteSession>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<RemoteSessionListQuery>,
) -> ApiResult<axum::Json<Page<RemoteSession>>> {
    auth.require(Resource::Remote, Action::Read)?;
    let session_type = match p.session_type.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RemoteSessionType::parse(s).ok_or_else(|| {
            ApiError::validation("type", "must be terminal, file_transfer or desktop")
        })?),
    };
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(RemoteSessionStatus::parse(s).ok_or_else(|| {
            ApiError::validation(
                "status",
                "must be pending, connecting, active, disconnected or failed",
            )
        })?),
    };
    let opts = unsorted_list_opts(p.limit, p.cursor, None)?;
    let filter = SessionFilter {
        org_id: p.org_id,
        device_id: p.device_id,
        user_id: p.user_id,
        session_type,
        status,
    };
    let (rows, next) = store::list(&state.db, &auth.scope, &filter, &opts).await?;
    Ok(page(rows, next))
}

/// One session.
#[utoipa::path(get, path = "/api/v1/remote/sessions/{id}", tag = "remote", security(("bearer" = [])), params(("id" = RemoteSessionId, Path)),
    responses((status = 200, body = RemoteSession), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RemoteSessionId>,
) -> ApiResult<axum::Json<RemoteSession>> {
    let s = store::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Remote, Action::Read)?;
    Ok(axum::Json(s))
}

/// Ends a session: a live socket closes at once and the session is `disconnected`
/// ("closed by <user>"); an ended session is answered as it is.
#[utoipa::path(delete, path = "/api/v1/remote/sessions/{id}", tag = "remote", security(("bearer" = [])), params(("id" = RemoteSessionId, Path)),
    responses((status = 200, body = RemoteSession), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn end(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<RemoteSessionId>,
) -> ApiResult<axum::Json<RemoteSession>> {
    let s = store::get(&state.db, &auth.scope, id).await?;
    auth.require(permission(s.session_type), Action::Execute)?;
    let reason = format!("closed by {}", auth.user().email);
    let was_final = s.status.is_final();
    if !was_final {
        // The socket task (when this process serves it) ends the session with its byte
        // count; wait briefly for it, then end the row here for sessions it does not serve.
        if state.relay.cancel(id, &reason) {
            for _ in 0..50 {
                if !state.relay.is_live(id) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        } else if state.cluster.has_peers() {
            // Served by another replica, perhaps: ask it, and give it as long to record
            // the end with its byte count.
            state.cluster.end_session(id, &reason);
            for _ in 0..50 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if store::get(&state.db, &auth.scope, id)
                    .await
                    .is_ok_and(|s| s.status.is_final())
                {
                    break;
                }
            }
        }
        crate::relay::sessions::finish(
            &state,
            id,
            &End {
                failed: false,
                reason: Some(reason.clone()),
                bytes: None,
            },
        )
        .await;
    }
    state
        .record(
            AuditEvent::new("remote.session.close", "device")
                .by(&auth)
                .client(&meta)
                .org(Some(s.org_id))
                .resource(s.device_id, Some(&s.hostname))
                .details(json!({"session_id": id, "type": s.session_type.as_str(), "was_final": was_final})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(store::get(&state.db, &auth.scope, id).await?))
}

/// The session's terminal recording (asciicast v2), streamed from disk.
#[utoipa::path(get, path = "/api/v1/remote/sessions/{id}/recording", tag = "remote", security(("bearer" = [])), params(("id" = RemoteSessionId, Path)),
    responses((status = 200, description = "asciicast v2", content_type = "application/x-asciicast", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn recording(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<RemoteSessionId>,
) -> ApiResult<Response> {
    let s = store::get(&state.db, &auth.scope, id).await?;
    auth.require(permission(s.session_type), Action::Execute)?;
    let none = || {
        ApiError::refused(
            StatusCode::NOT_FOUND,
            "no_recording",
            "this session has no recording",
        )
    };
    let Some(rel) = store::recording_path(&state.db, &auth.scope, id).await? else {
        return Err(none());
    };
    // The row holds `recordings/<id>.cast`; refuse anything else rather than follow it.
    let expected = format!("{}/{id}.cast", crate::relay::recording::DIR);
    if rel != expected {
        return Err(ApiError::internal(anyhow::anyhow!(
            "session {id} has an unexpected recording path"
        )));
    }
    let file = match tokio::fs::File::open(state.config.data_dir.join(&rel)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Another replica served the session and keeps the file.
            let Some((size, body)) =
                crate::relay::route::fetch_recording(&state, id, s.device_id).await
            else {
                return Err(none());
            };
            return Ok(asciicast(Body::from_stream(body.fuse()), size));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let size = file.metadata().await.map_err(ApiError::internal)?.len();
    let stream = futures::stream::unfold(file.take(size), |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
    // The compression layer (a browser sends `Accept-Encoding: gzip`) polls the body again
    // after its end; a bare `unfold` panics then and the answer is cut to nothing.
    .fuse()
    .boxed();
    Ok(asciicast(Body::from_stream(stream), size))
}

fn asciicast(body: Body, size: u64) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-asciicast"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    resp
}

/// `?ticket=` of the session socket.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// The single-use ticket from `POST /api/v1/remote/sessions`.
    ticket: Option<String>,
}

/// The session socket. Refused before the upgrade (a JSON error, never 101) when the
/// `Origin` header is present and not this server's, when the request is not an upgrade,
/// or when the ticket is missing, wrong, expired or already used. Terminal frames: binary
/// = terminal bytes both ways; text = `{"type":"resize",…}` from the browser and
/// `{"type":"exit",…}` / `{"type":"error",…}` from the server.
#[utoipa::path(get, path = "/ws/remote/{id}", tag = "remote", params(("id" = RemoteSessionId, Path), TicketQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 400, description = "not a WebSocket upgrade request", body = ErrorBody), (status = 401, description = "missing, wrong, expired or used ticket", body = ErrorBody), (status = 403, description = "foreign Origin", body = ErrorBody), (status = 426, description = "the connection cannot be upgraded", body = ErrorBody)))]
async fn socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RemoteSessionId>,
    ApiQuery(q): ApiQuery<TicketQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    if !crate::relay::sessions::origin_allowed(&headers, state.config.public_url.as_deref()) {
        return Err(ApiError::refused(
            StatusCode::FORBIDDEN,
            "foreign_origin",
            "the socket may only be opened from this server's own pages",
        ));
    }
    let ws =
        ws.map_err(|e| ApiError::refused(e.status(), "websocket_upgrade_required", e.body_text()))?;
    let Some(ticket) = q.ticket.filter(|t| !t.is_empty()) else {
        return Err(ApiError::Unauthorized("the ticket is missing".into()));
    };
    let spent = store::spend_ticket(&state.db, id, &tokens::hash(&ticket), state.now())
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the ticket is unknown, expired or already used".into())
        })?;
    Ok(ws
        .max_message_size(1024 * 1024)
        .on_upgrade(move |socket| crate::relay::sessions::serve(state, spent, socket)))
}

/// Refuses remote access (sessions and file operations) to a device that is
/// decommissioned, not enrolled yet, or quarantined: 409 naming its status.
pub(crate) fn takes_remote_access(d: &breeze_proto::api::Device) -> Result<(), ApiError> {
    if d.status == "quarantined" {
        return Err(super::devices::quarantined(d));
    }
    if matches!(d.status.as_str(), "decommissioned" | "pending") {
        return Err(ApiError::Conflict(format!(
            "the device is {}; it takes no remote access",
            d.status
        )));
    }
    Ok(())
}
