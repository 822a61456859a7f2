//! Devices (`/api/v1/devices`, seed 004 "Device Management"): list, detail, edits,
//! decommission, inventory, metrics, the command queue and lifecycle status changes.

use super::enrollment_keys::{__path_create_pending_device, check_tags, create_pending_device};
use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::dispatch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::DeviceCoords;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::agent::{
    CancelPayload, Command, LoggedInUser, ProcessInfo, RebootPayload, UpdateConfigPayload,
};
use breeze_proto::api::{
    Data, Device, DeviceCommand, DeviceDisks, DeviceEvent, DeviceHardware, DeviceListQuery,
    DeviceMetrics, DeviceNetwork, DeviceStatusChange, ErrorBody, HistoryQuery, ListParams,
    MetricsQuery, Page, ProcessListQuery, QueueCommand, SessionListQuery, SoftwarePage,
    SoftwareQuery, UpdateDevice, vocab,
};
use breeze_proto::ids::DeviceId;
use breeze_store::device_events::{self, Actor, NewEvent};
use breeze_store::devices::{self, DeviceFilter, StatusChange};
use breeze_store::listing::check_search;
use breeze_store::metrics::{self, Resolution};
use breeze_store::{command_sweeps, commands, device_groups, inventory, inventory_lists, sites};
use chrono::Duration;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create_pending_device))
        .routes(routes!(get, update, decommission))
        .routes(routes!(hardware))
        .routes(routes!(software))
        .routes(routes!(disks))
        .routes(routes!(network))
        .routes(routes!(processes))
        .routes(routes!(logged_in_users))
        .routes(routes!(get_metrics))
        .routes(routes!(command_history, queue_command))
        .routes(routes!(events))
        .routes(routes!(quarantine))
        .routes(routes!(maintenance))
        .routes(routes!(reactivate))
}

/// Devices in reach (decommissioned ones only when asked for with `status`).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), params(DeviceListQuery),
    responses((status = 200, body = Page<Device>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<DeviceListQuery>,
) -> ApiResult<axum::Json<Page<Device>>> {
    auth.require(Resource::Devices, Action::Read)?;
    if let Some(t) = &p.tag {
        check_search("tag", t)?;
    }
    let status = p
        .status
        .as_deref()
        .map(|s| one_of("status", s, vocab::DEVICE_STATUSES))
        .transpose()?;
    let os =
        p.os.as_deref()
            .map(|s| one_of("os", s, vocab::OS_TYPES))
            .transpose()?;
    let (org_id, site_id, group_id, tag) = (p.org_id, p.site_id, p.group_id, p.tag.clone());
    let opts = list_opts(&p.into())?;
    let ids = match group_id {
        None => None,
        Some(g) => {
            let group = device_groups::find(&state.db, &auth.scope, g)
                .await
                .map_err(|_| ApiError::validation("group_id", "no such group"))?;
            Some(devices::group_members(&state.db, &auth.scope, &group).await?)
        }
    };
    let (rows, next) = devices::list(
        &state.db,
        &auth.scope,
        &DeviceFilter {
            org_id,
            site_id,
            status,
            os_type: os,
            tag,
            ids,
        },
        &opts,
    )
    .await?;
    Ok(page(rows, next))
}

/// One device.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<Device>> {
    auth.require(Resource::Devices, Action::Read)?;
    Ok(axum::Json(devices::get(&state.db, &auth.scope, id).await?))
}

/// Changes display name or tags (`devices:write`), or the site within the device's
/// organization (`devices:admin` too).
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)), request_body = UpdateDevice,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<UpdateDevice>,
) -> ApiResult<axum::Json<Device>> {
    auth.require(Resource::Devices, Action::Write)?;
    let mut d = devices::get(&state.db, &auth.scope, id).await?;
    auth.writable(d.org_id)?;
    if let Some(n) = &req.display_name {
        d.display_name = if n.trim().is_empty() {
            None
        } else {
            Some(validate::name("display_name", n, 255)?)
        };
    }
    if let Some(t) = &req.tags {
        d.tags = check_tags(t)?;
    }
    if let Some(s) = req.site_id {
        // Moving a device between sites is device management, not an edit.
        auth.require(Resource::Devices, Action::Admin)?;
        let site = sites::get(&state.db, &auth.scope, s)
            .await
            .map_err(|_| ApiError::validation("site_id", "no such site"))?;
        if site.org_id != d.org_id {
            return Err(ApiError::validation(
                "site_id",
                "a device moves only between sites of its organization",
            ));
        }
        d.site_id = s;
    }
    devices::update(&state.db, &auth.scope, &d, state.now()).await?;
    // Tags and site feed alert-rule targets (dynamic groups, site lists).
    state.alerting.device_changed(id);
    let d = devices::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("device.update", "device")
                .by(&auth)
                .client(&meta)
                .org(Some(d.org_id))
                .resource(id, Some(&d.hostname))
                .details(json!({"display_name": req.display_name, "tags": req.tags, "site_id": req.site_id})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(d))
}

async fn change_status(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    id: DeviceId,
    change: StatusChange,
    reason: Option<String>,
) -> ApiResult<Device> {
    let (action, event, perm) = match change {
        StatusChange::Quarantine => ("device.quarantine", "quarantined", Action::Admin),
        StatusChange::Maintenance => ("device.maintenance", "maintenance", Action::Admin),
        StatusChange::Reactivate => ("device.reactivate", "device_reactivated", Action::Admin),
        StatusChange::Decommission => ("device.decommission", "device_revoked", Action::Delete),
    };
    auth.require(Resource::Devices, perm)?;
    let reason = reason
        .as_deref()
        .map(|r| validate::name("reason", r, 500))
        .transpose()?;
    let before = devices::get(&state.db, &auth.scope, id).await?;
    auth.writable(before.org_id)?;
    if change == StatusChange::Maintenance && before.status == "quarantined" {
        return Err(quarantined(&before));
    }
    let now = state.now();
    let online_since = state.config.agents.offline_cutoff(now);
    devices::change_status(
        &state.db,
        &auth.scope,
        id,
        change,
        reason.as_deref(),
        now,
        online_since,
    )
    .await?;
    if matches!(change, StatusChange::Decommission) {
        state.hub.disconnect(id);
    }
    if change == StatusChange::Quarantine {
        // Nothing runs on a quarantined device: what has not started yet is cancelled.
        let cancelled = command_sweeps::cancel_for_quarantine(&state.db, id, now).await?;
        dispatch::publish_settled(state, &cancelled);
    }
    device_events::insert(
        &state.db,
        &NewEvent {
            device_id: id,
            event_type: event,
            details: json!({"reason": reason, "previous_status": before.status}),
            ip_address: meta.ip.as_deref(),
            actor: Actor::User(auth.user_id().0),
        },
        now,
    )
    .await?;
    state
        .record(
            AuditEvent::new(action, "device")
                .by(auth)
                .client(meta)
                .org(Some(before.org_id))
                .resource(id, Some(&before.hostname))
                .details(json!({"reason": reason, "previous_status": before.status})),
            Some(slot),
        )
        .await?;
    let after = devices::get(&state.db, &auth.scope, id).await?;
    // The device was found through the scope, so it belongs to the scope's partner.
    if let Some(partner_id) = auth.scope.partner_id {
        let at = DeviceCoords {
            partner_id,
            org_id: after.org_id,
            site_id: after.site_id,
            device_id: id,
        };
        state
            .events
            .publish(at, &crate::events::device_status(&at, &after.status));
    }
    Ok(after)
}

/// Decommissions a device: status `decommissioned`, its agent token stops working and
/// its heartbeat answers 410 so the agent stops.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn decommission(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<Device>> {
    Ok(axum::Json(
        change_status(
            &state,
            &auth,
            &meta,
            &slot,
            id,
            StatusChange::Decommission,
            None,
        )
        .await?,
    ))
}

/// Quarantines a device: no script or command runs on it until it is reactivated. Its
/// commands that have not started are cancelled; new ones answer 409
/// `device_quarantined`.
#[utoipa::path(post, path = "/api/v1/devices/{id}/quarantine", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)), request_body = DeviceStatusChange,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn quarantine(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    body: Option<ApiJson<DeviceStatusChange>>,
) -> ApiResult<axum::Json<Device>> {
    let reason = body.and_then(|b| b.0.reason);
    Ok(axum::Json(
        change_status(
            &state,
            &auth,
            &meta,
            &slot,
            id,
            StatusChange::Quarantine,
            reason,
        )
        .await?,
    ))
}

/// Puts a device in maintenance (it stays managed; alerts will ignore it).
#[utoipa::path(post, path = "/api/v1/devices/{id}/maintenance", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)), request_body = DeviceStatusChange,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn maintenance(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    body: Option<ApiJson<DeviceStatusChange>>,
) -> ApiResult<axum::Json<Device>> {
    let reason = body.and_then(|b| b.0.reason);
    Ok(axum::Json(
        change_status(
            &state,
            &auth,
            &meta,
            &slot,
            id,
            StatusChange::Maintenance,
            reason,
        )
        .await?,
    ))
}

/// Ends quarantine or maintenance and lifts a token suspension.
#[utoipa::path(post, path = "/api/v1/devices/{id}/reactivate", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)), request_body = DeviceStatusChange,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reactivate(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    body: Option<ApiJson<DeviceStatusChange>>,
) -> ApiResult<axum::Json<Device>> {
    let reason = body.and_then(|b| b.0.reason);
    Ok(axum::Json(
        change_status(
            &state,
            &auth,
            &meta,
            &slot,
            id,
            StatusChange::Reactivate,
            reason,
        )
        .await?,
    ))
}

/// Hardware and OS inventory.
#[utoipa::path(get, path = "/api/v1/devices/{id}/hardware", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)),
    responses((status = 200, body = DeviceHardware), (status = 404, body = ErrorBody)))]
async fn hardware(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<DeviceHardware>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    Ok(axum::Json(inventory::hardware(&state.db, d.id).await?))
}

/// Installed software by name, searchable with `q` (name or publisher), paged with
/// `limit` (at most 500) and `cursor`; `total` counts every match.
#[utoipa::path(get, path = "/api/v1/devices/{id}/software", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), SoftwareQuery),
    responses((status = 200, body = SoftwarePage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn software(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<SoftwareQuery>,
) -> ApiResult<axum::Json<SoftwarePage>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: p.q,
    })?;
    let like = opts.like_pattern();
    let total = inventory::software_count(&state.db, d.id, like.as_deref()).await?;
    let rows = inventory::software(&state.db, d.id, like, opts.limit, opts.offset).await?;
    let (data, next_cursor) = opts.page(rows);
    Ok(axum::Json(SoftwarePage {
        data,
        next_cursor,
        total,
        offset: i64::try_from(opts.offset).unwrap_or(i64::MAX),
    }))
}

/// Mounted filesystems.
#[utoipa::path(get, path = "/api/v1/devices/{id}/disks", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)),
    responses((status = 200, body = DeviceDisks), (status = 404, body = ErrorBody)))]
async fn disks(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<DeviceDisks>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    Ok(axum::Json(DeviceDisks {
        data: inventory::disks(&state.db, d.id).await?,
    }))
}

/// Running processes (the agent's latest snapshot). `sort`: `cpu`, `memory`, `name`,
/// `pid`, `user` (default `-cpu`); `q` searches name and user.
#[utoipa::path(get, path = "/api/v1/devices/{id}/processes", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), ProcessListQuery),
    responses((status = 200, body = Page<ProcessInfo>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn processes(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<ProcessListQuery>,
) -> ApiResult<axum::Json<Page<ProcessInfo>>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let opts = list_opts(&p.into())?;
    let rows = inventory_lists::processes(&state.db, d.id, &opts).await?;
    let (rows, next) = opts.page(rows);
    Ok(page(rows, next))
}

/// Logged-in users (the agent's latest snapshot): user, terminal, remote host, since.
/// `sort`: `username` (default), `terminal`, `login_time`; `q` searches them.
#[utoipa::path(get, path = "/api/v1/devices/{id}/users", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), SessionListQuery),
    responses((status = 200, body = Page<LoggedInUser>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn logged_in_users(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<SessionListQuery>,
) -> ApiResult<axum::Json<Page<LoggedInUser>>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let opts = list_opts(&p.into())?;
    let rows = inventory_lists::logged_in_users(&state.db, d.id, &opts).await?;
    let (rows, next) = opts.page(rows);
    Ok(page(rows, next))
}

/// Network interfaces.
#[utoipa::path(get, path = "/api/v1/devices/{id}/network", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)),
    responses((status = 200, body = DeviceNetwork), (status = 404, body = ErrorBody)))]
async fn network(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<DeviceNetwork>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    Ok(axum::Json(DeviceNetwork {
        data: inventory::network(&state.db, d.id).await?,
    }))
}

/// Metrics over a time range at `raw`, `5m` or `1h` resolution.
#[utoipa::path(get, path = "/api/v1/devices/{id}/metrics", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), MetricsQuery),
    responses((status = 200, body = DeviceMetrics), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_metrics(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<MetricsQuery>,
) -> ApiResult<axum::Json<DeviceMetrics>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let res = Resolution::parse(p.resolution.as_deref().unwrap_or("raw"))
        .ok_or_else(|| ApiError::validation("resolution", "must be one of: raw, 5m, 1h"))?;
    let to = p.to.unwrap_or_else(|| state.now());
    let from = p.from.unwrap_or(to - Duration::hours(24));
    if from > to {
        return Err(ApiError::validation("from", "must not be after `to`"));
    }
    Ok(axum::Json(DeviceMetrics {
        resolution: res.as_str().to_string(),
        data: metrics::query(&state.db, d.id, from, to, res).await?,
    }))
}

/// Command history, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/commands", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), HistoryQuery),
    responses((status = 200, body = Page<DeviceCommand>), (status = 404, body = ErrorBody)))]
async fn command_history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<HistoryQuery>,
) -> ApiResult<axum::Json<Page<DeviceCommand>>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: None,
    })?;
    let rows = commands::history(&state.db, d.id, opts.limit, opts.offset).await?;
    let (rows, next) = opts.page(rows);
    Ok(page(rows, next))
}

/// Device lifecycle events, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/events", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path), HistoryQuery),
    responses((status = 200, body = Page<DeviceEvent>), (status = 404, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<HistoryQuery>,
) -> ApiResult<axum::Json<Page<DeviceEvent>>> {
    auth.require(Resource::Devices, Action::Read)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: None,
    })?;
    let rows = device_events::list_for_device(&state.db, d.id, opts.limit, opts.offset).await?;
    let (rows, next) = opts.page(rows);
    Ok(page(rows, next))
}

/// Queues `reboot` {delay_secs}, `collect_inventory_now`, `update_config` {config} or
/// `cancel` {command_id}. A pending command is cancelled at once; a delivered one gets
/// a `cancel` command.
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", tag = "devices", security(("bearer" = [])), params(("id" = DeviceId, Path)), request_body = QueueCommand,
    responses((status = 201, body = Data<DeviceCommand>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn queue_command(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<QueueCommand>,
) -> ApiResult<(StatusCode, axum::Json<Data<DeviceCommand>>)> {
    auth.require(Resource::Devices, Action::Execute)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    auth.writable(d.org_id)?;
    if d.status == "quarantined" {
        return Err(quarantined(&d));
    }
    if matches!(d.status.as_str(), "decommissioned" | "pending") {
        return Err(ApiError::Conflict(format!(
            "the device is {}; it takes no commands",
            d.status
        )));
    }
    let payload = req.payload.clone().unwrap_or_else(|| json!({}));
    let parse = |field: &str| ApiError::validation(field, "does not fit the command type");
    let command = match req.command_type.as_str() {
        "reboot" => Command::Reboot(
            serde_json::from_value::<RebootPayload>(payload.clone())
                .map_err(|_| parse("payload"))?,
        ),
        "collect_inventory_now" => Command::CollectInventoryNow,
        "update_config" => Command::UpdateConfig(
            serde_json::from_value::<UpdateConfigPayload>(payload.clone())
                .map_err(|_| parse("payload"))?,
        ),
        "cancel" => {
            let p: CancelPayload =
                serde_json::from_value(payload.clone()).map_err(|_| parse("payload"))?;
            let target = commands::get(&state.db, d.id, p.command_id)
                .await
                .map_err(|_| {
                    ApiError::validation("payload.command_id", "no such command on this device")
                })?;
            if commands::cancel_if_pending(&state.db, d.id, p.command_id, state.now()).await? {
                let c = commands::get(&state.db, d.id, p.command_id).await?;
                state
                    .record(
                        AuditEvent::new("device.command.cancel", "device_command")
                            .by(&auth)
                            .client(&meta)
                            .org(Some(d.org_id))
                            .resource(p.command_id, Some(&target.command_type)),
                        Some(&slot),
                    )
                    .await?;
                return Ok((StatusCode::CREATED, axum::Json(Data { data: c })));
            }
            if !matches!(target.status.as_str(), "sent" | "running") {
                return Err(ApiError::Conflict(format!(
                    "the command is already {}",
                    target.status
                )));
            }
            Command::Cancel(p)
        }
        "run_script" => {
            return Err(ApiError::validation(
                "type",
                "scripts run through POST /api/v1/scripts/{id}/execute",
            ));
        }
        _ => {
            return Err(ApiError::validation(
                "type",
                "must be one of: reboot, collect_inventory_now, update_config, cancel",
            ));
        }
    };
    if let Command::Reboot(r) = &command
        && r.delay_secs > 7 * 24 * 3600
    {
        return Err(ApiError::validation(
            "payload.delay_secs",
            "at most one week",
        ));
    }
    let ttl = match req.expires_in_secs {
        None => dispatch::default_ttl(&state),
        Some(s) if (10..=30 * 24 * 3600).contains(&s) => Duration::seconds(s),
        Some(_) => {
            return Err(ApiError::validation(
                "expires_in_secs",
                "must be between 10 and 2592000",
            ));
        }
    };
    let cid = dispatch::queue(&state, d.id, d.org_id, &command, ttl, Some(auth.user_id())).await?;
    state
        .record(
            AuditEvent::new("device.command.queue", "device_command")
                .by(&auth)
                .client(&meta)
                .org(Some(d.org_id))
                .resource(cid, Some(&req.command_type))
                .details(json!({"device_id": d.id, "type": req.command_type, "payload": payload})),
            Some(&slot),
        )
        .await?;
    let c = commands::get(&state.db, d.id, cid).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: c })))
}

/// 409 `device_quarantined`: a quarantined device takes no command and no script, and
/// no agent command releases it — only `POST /devices/{id}/reactivate` (server side) does.
pub(crate) fn quarantined(d: &Device) -> ApiError {
    ApiError::refused(
        StatusCode::CONFLICT,
        "device_quarantined",
        format!(
            "{} is quarantined: no script or command runs on it until it is released",
            label(d)
        ),
    )
}

/// How messages name a device: `device "web-01"` (display name, else hostname), not its id.
pub(crate) fn label(d: &Device) -> String {
    let name = d
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&d.hostname);
    format!("device \"{name}\"")
}

/// Used by the device-group routes: members of a group, dynamic rules evaluated.
pub async fn group_members(
    state: &AppState,
    auth: &Auth,
    group: &breeze_proto::api::DeviceGroup,
) -> ApiResult<Vec<DeviceId>> {
    Ok(devices::group_members(&state.db, &auth.scope, group).await?)
}
