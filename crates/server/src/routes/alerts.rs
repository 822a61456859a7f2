//! `/api/v1/alerts` (issue 11): the inbox, counts, the lifecycle (acknowledge, resolve,
//! suppress, one or many at once) and `/api/v1/devices/{id}/alerts`.
//!
//! Lifecycle changes the alert's state refuses answer 409 (acknowledging a resolved
//! alert). The bulk routes answer 404, changing nothing, when any id is not visible to
//! the caller; of the visible ones, those whose state refuses the change are skipped and
//! `changed` counts the others.

use crate::alerting;
use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::notify::alerts::{AlertEvent, alert_event};
use crate::routes::common::{list_opts, one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::vocab::{ALERT_SEVERITIES, ALERT_STATUS_FILTERS};
use breeze_proto::api::{
    Alert, AlertCounts, AlertCountsQuery, AlertListQuery, BulkAlerts, Changed, ErrorBody,
    ListParams, Page, ResolveAlert, SuppressAlert,
};
use breeze_proto::ids::{AlertId, DeviceId};
use breeze_store::alerts::{self, AlertFilter, Resolver};
use breeze_store::{StoreError, devices};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(counts))
        .routes(routes!(get))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .routes(routes!(suppress))
        .routes(routes!(bulk_acknowledge))
        .routes(routes!(bulk_resolve))
        .routes(routes!(device_alerts))
}

fn filter(p: &AlertListQuery) -> ApiResult<AlertFilter> {
    Ok(AlertFilter {
        status: p
            .status
            .as_deref()
            .map(|s| one_of("status", s, ALERT_STATUS_FILTERS))
            .transpose()?,
        severity: p
            .severity
            .as_deref()
            .map(|s| one_of("severity", s, ALERT_SEVERITIES))
            .transpose()?,
        org_id: p.org_id,
        device_id: p.device_id,
        rule_id: p.rule_id,
        from: p.from,
        to: p.to,
    })
}

async fn listing(
    state: &AppState,
    auth: &Auth,
    p: AlertListQuery,
    device: Option<DeviceId>,
) -> ApiResult<axum::Json<Page<Alert>>> {
    auth.require(Resource::Alerts, Action::Read)?;
    let mut f = filter(&p)?;
    if device.is_some() {
        f.device_id = device;
    }
    let opts = list_opts(&ListParams {
        limit: p.limit,
        cursor: p.cursor,
        sort: None,
        q: None,
    })?;
    let (rows, next) = alerts::list(&state.db, &auth.scope, &f, &opts).await?;
    Ok(page(rows, next))
}

/// Alerts in reach, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertListQuery),
    responses((status = 200, body = Page<Alert>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AlertListQuery>,
) -> ApiResult<axum::Json<Page<Alert>>> {
    listing(&state, &auth, p, None).await
}

/// A device's alerts.
#[utoipa::path(get, path = "/api/v1/devices/{id}/alerts", tag = "alerts", security(("bearer" = [])),
    params(("id" = DeviceId, Path), AlertListQuery),
    responses((status = 200, body = Page<Alert>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn device_alerts(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(p): ApiQuery<AlertListQuery>,
) -> ApiResult<axum::Json<Page<Alert>>> {
    devices::get(&state.db, &auth.scope, id).await?;
    listing(&state, &auth, p, Some(id)).await
}

/// Open alerts in reach by status and severity.
#[utoipa::path(get, path = "/api/v1/alerts/counts", tag = "alerts", security(("bearer" = [])), params(AlertCountsQuery),
    responses((status = 200, body = AlertCounts)))]
async fn counts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AlertCountsQuery>,
) -> ApiResult<axum::Json<AlertCounts>> {
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(
        alerts::counts(&state.db, &auth.scope, p.org_id).await?,
    ))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])), params(("id" = AlertId, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AlertId>,
) -> ApiResult<axum::Json<Alert>> {
    let a = alerts::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(a))
}

/// After a person changed an alert: audit row, live event, and for a resolution the
/// engine's memory and the notifier.
async fn changed(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: Option<&AuditSlot>,
    action: &str,
    a: &Alert,
    details: Value,
) -> ApiResult<()> {
    let at = alerting::coords_of(state, a)
        .await
        .map_err(ApiError::internal)?;
    state
        .record(
            AuditEvent::new(action, "alert")
                .by(auth)
                .client(meta)
                .org(Some(a.org_id))
                .device(a.site_id, a.device_id)
                .resource(a.id, Some(&a.title))
                .details(details),
            slot,
        )
        .await?;
    alerting::publish(state, a, &at);
    if a.status == "resolved" {
        state.alerting.resolved(a);
        if let Err(e) = alert_event(state, a, AlertEvent::Resolved).await {
            tracing::error!(alert = %a.id, error = format!("{e:#}"), "queueing alert notifications");
        }
    }
    Ok(())
}

fn note(n: Option<&str>) -> ApiResult<Option<String>> {
    Ok(validate::optional_text("note", n, 2000)?)
}

/// Acknowledges an active or suppressed alert (its escalation stops).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts", security(("bearer" = [])), params(("id" = AlertId, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertId>,
) -> ApiResult<axum::Json<Alert>> {
    let a = alerts::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, a.org_id)?;
    let a = alerts::acknowledge(&state.db, id, auth.user_id(), state.now()).await?;
    changed(
        &state,
        &auth,
        &meta,
        Some(&slot),
        "alert.acknowledge",
        &a,
        json!({}),
    )
    .await?;
    Ok(axum::Json(a))
}

/// Resolves an alert, with an optional note.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", security(("bearer" = [])), params(("id" = AlertId, Path)), request_body = ResolveAlert,
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertId>,
    body: Option<ApiJson<ResolveAlert>>,
) -> ApiResult<axum::Json<Alert>> {
    let req = body.map(|b| b.0).unwrap_or_default();
    let a = alerts::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, a.org_id)?;
    let n = note(req.note.as_deref())?;
    let a = alerts::resolve(
        &state.db,
        id,
        Resolver::User(auth.user_id()),
        n.as_deref(),
        state.now(),
    )
    .await?;
    changed(
        &state,
        &auth,
        &meta,
        Some(&slot),
        "alert.resolve",
        &a,
        json!({"note": n}),
    )
    .await?;
    Ok(axum::Json(a))
}

/// Silences an open alert until a time; it turns active again then.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/suppress", tag = "alerts", security(("bearer" = [])), params(("id" = AlertId, Path)), request_body = SuppressAlert,
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn suppress(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<AlertId>,
    ApiJson(req): ApiJson<SuppressAlert>,
) -> ApiResult<axum::Json<Alert>> {
    let a = alerts::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, a.org_id)?;
    let n = note(req.note.as_deref())?;
    let a = alerts::suppress(&state.db, id, req.until, n.as_deref(), state.now()).await?;
    changed(
        &state,
        &auth,
        &meta,
        Some(&slot),
        "alert.suppress",
        &a,
        json!({"until": req.until, "note": n}),
    )
    .await?;
    Ok(axum::Json(a))
}

#[derive(Clone, Copy)]
enum Bulk {
    Acknowledge,
    Resolve,
}

async fn bulk(
    state: &AppState,
    auth: &Auth,
    meta: &ClientMeta,
    slot: &AuditSlot,
    req: BulkAlerts,
    op: Bulk,
) -> ApiResult<axum::Json<Changed>> {
    auth.require(Resource::Alerts, Action::Write)?;
    let mut ids = req.ids.clone();
    ids.sort_by_key(|i| i.0);
    ids.dedup();
    if ids.is_empty() || ids.len() > 500 {
        return Err(ApiError::validation("ids", "must hold 1 to 500 alert ids"));
    }
    let n = note(req.note.as_deref())?;
    let visible = alerts::visible(&state.db, &auth.scope, &ids).await?;
    if visible.len() != ids.len() {
        return Err(ApiError::NotFound);
    }
    for &id in &ids {
        auth.writable(alerts::get(&state.db, &auth.scope, id).await?.org_id)?;
    }
    let mut done = Vec::new();
    for id in ids {
        let now = state.now();
        let r = match op {
            Bulk::Acknowledge => alerts::acknowledge(&state.db, id, auth.user_id(), now).await,
            Bulk::Resolve => {
                alerts::resolve(
                    &state.db,
                    id,
                    Resolver::User(auth.user_id()),
                    n.as_deref(),
                    now,
                )
                .await
            }
        };
        let a = match r {
            Ok(a) => a,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let action = match op {
            Bulk::Acknowledge => "alert.acknowledge",
            Bulk::Resolve => "alert.resolve",
        };
        changed(
            state,
            auth,
            meta,
            None,
            action,
            &a,
            json!({"bulk": true, "note": n}),
        )
        .await?;
        done.push(id);
    }
    slot.skip();
    Ok(axum::Json(Changed {
        changed: done.len() as u64,
    }))
}

/// Acknowledges many alerts; 404 (nothing changed) when any is not visible.
#[utoipa::path(post, path = "/api/v1/alerts/acknowledge", tag = "alerts", security(("bearer" = [])), request_body = BulkAlerts,
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn bulk_acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<BulkAlerts>,
) -> ApiResult<axum::Json<Changed>> {
    bulk(&state, &auth, &meta, &slot, req, Bulk::Acknowledge).await
}

/// Resolves many alerts; 404 (nothing changed) when any is not visible.
#[utoipa::path(post, path = "/api/v1/alerts/resolve", tag = "alerts", security(("bearer" = [])), request_body = BulkAlerts,
    responses((status = 200, body = Changed), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn bulk_resolve(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<BulkAlerts>,
) -> ApiResult<axum::Json<Changed>> {
    bulk(&state, &auth, &meta, &slot, req, Bulk::Resolve).await
}
