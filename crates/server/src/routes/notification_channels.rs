//! `/api/v1/notification-channels` (issue 11): channels, their test message and delivery
//! log; and `/api/v1/alerts/{id}/deliveries`, an alert's delivery log. Credentials are
//! sealed at rest and never answered; a webhook's signing secret is shown once, at create.

use crate::audit::{AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::notify::channels::{self, Notice};
use crate::routes::common::{one_of, page};
use crate::state::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use breeze_core::permissions::{Action, Resource};
use breeze_core::validate;
use breeze_proto::api::{
    AlertingListQuery, CreateNotificationChannel, Delivery, ErrorBody, NotificationChannel,
    NotificationChannelCreated, OkBody, Page, UpdateNotificationChannel,
};
use breeze_proto::ids::{AlertId, DeliveryId, NotificationChannelId};
use breeze_store::deliveries::{self, NewDelivery};
use breeze_store::notification_channels::{self, ChannelRecord, NewChannel};
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(send_test))
        .routes(routes!(channel_deliveries))
        .routes(routes!(alert_deliveries))
}

/// Paging of a delivery log.
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Page size, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn delivery_opts(p: DeliveryListQuery) -> ApiResult<breeze_store::listing::ListOpts> {
    super::common::unsorted_list_opts(p.limit, p.cursor, None)
}

/// Channels in reach.
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "notification-channels", security(("bearer" = [])), params(AlertingListQuery),
    responses((status = 200, body = Page<NotificationChannel>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(p): ApiQuery<AlertingListQuery>,
) -> ApiResult<axum::Json<Page<NotificationChannel>>> {
    auth.require(Resource::Alerts, Action::Read)?;
    let opts = super::common::unsorted_list_opts(p.limit, p.cursor, p.q)?;
    let (rows, next) = notification_channels::list(&state.db, &auth.scope, p.org_id, &opts).await?;
    Ok(page(rows, next))
}

/// Creates a channel. A webhook's answer holds its signing secret, shown this once.
/// Destinations the outbound guard refuses (internal addresses, non-HTTP schemes) are a
/// 422 naming the field.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notification-channels", security(("bearer" = [])), request_body = CreateNotificationChannel,
    responses((status = 201, body = NotificationChannelCreated), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiJson(req): ApiJson<CreateNotificationChannel>,
) -> ApiResult<(StatusCode, axum::Json<NotificationChannelCreated>)> {
    auth.require(Resource::Alerts, Action::Write)?;
    let org = super::common::writable_org(&state, &auth, req.org_id).await?;
    let name = validate::name("name", &req.name, 200)?;
    let kind = one_of(
        "type",
        &req.channel_type,
        breeze_proto::api::vocab::CHANNEL_TYPES,
    )?;
    let mut prepared = channels::prepare(&kind, &req.config, None)?;
    channels::check_destinations(&state, &prepared).await?;
    let secret = (kind == "webhook").then(channels::new_signing_secret);
    prepared.secrets.signing_secret = secret.clone();
    let id = NotificationChannelId::new();
    let sealed = channels::seal(&state, id, &prepared.secrets).map_err(ApiError::internal)?;
    notification_channels::create(
        &state.db,
        &NewChannel {
            id,
            org_id: org.id,
            name,
            channel_type: kind.clone(),
            config: prepared.public,
            sealed: Some(sealed),
            enabled: req.enabled.unwrap_or(true),
            created_by: Some(auth.user_id()),
        },
        state.now(),
    )
    .await?;
    let channel = notification_channels::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("notification_channel.create", "notification_channel")
                .by(&auth)
                .client(&meta)
                .org(Some(channel.org_id))
                .resource(id.0, Some(&channel.name))
                .details(json!({"type": kind, "config": channel.config})),
            Some(&slot),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(NotificationChannelCreated { channel, secret }),
    ))
}

/// One channel (without its credentials).
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "notification-channels", security(("bearer" = [])), params(("id" = NotificationChannelId, Path)),
    responses((status = 200, body = NotificationChannel), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<NotificationChannelId>,
) -> ApiResult<axum::Json<NotificationChannel>> {
    let c = notification_channels::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    Ok(axum::Json(c))
}

/// Renames, reconfigures or switches a channel. A new configuration replaces the old;
/// credentials it leaves out are kept.
#[utoipa::path(patch, path = "/api/v1/notification-channels/{id}", tag = "notification-channels", security(("bearer" = [])), params(("id" = NotificationChannelId, Path)), request_body = UpdateNotificationChannel,
    responses((status = 200, body = NotificationChannel), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<NotificationChannelId>,
    ApiJson(req): ApiJson<UpdateNotificationChannel>,
) -> ApiResult<axum::Json<NotificationChannel>> {
    let mut c: ChannelRecord = notification_channels::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, c.channel.org_id)?;
    if let Some(n) = &req.name {
        c.channel.name = validate::name("name", n, 200)?;
    }
    if let Some(e) = req.enabled {
        c.channel.enabled = e;
    }
    if let Some(config) = &req.config {
        let old = channels::open(&state, &c).map_err(ApiError::internal)?;
        let prepared = channels::prepare(&c.channel.channel_type, config, Some(&old))?;
        channels::check_destinations(&state, &prepared).await?;
        c.sealed = Some(channels::seal(&state, id, &prepared.secrets).map_err(ApiError::internal)?);
        c.channel.config = prepared.public;
    }
    notification_channels::update(&state.db, &auth.scope, &c, state.now()).await?;
    let channel = notification_channels::get(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("notification_channel.update", "notification_channel")
                .by(&auth)
                .client(&meta)
                .org(Some(channel.org_id))
                .resource(id.0, Some(&channel.name))
                .details(json!({"config": channel.config, "enabled": channel.enabled})),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(channel))
}

/// Deletes a channel and its delivery log.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notification-channels", security(("bearer" = [])), params(("id" = NotificationChannelId, Path)),
    responses((status = 200, body = OkBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<NotificationChannelId>,
) -> ApiResult<axum::Json<OkBody>> {
    let c = notification_channels::get(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, c.org_id)?;
    notification_channels::delete(&state.db, &auth.scope, id).await?;
    state
        .record(
            AuditEvent::new("notification_channel.delete", "notification_channel")
                .by(&auth)
                .client(&meta)
                .org(Some(c.org_id))
                .resource(id.0, Some(&c.name)),
            Some(&slot),
        )
        .await?;
    Ok(axum::Json(OkBody { ok: true }))
}

/// Sends a test notification through the channel now and answers its delivery (logged
/// with event `test`): `sent` with the receiver's status, or `failed` with the server's
/// reason. The receiver's body is never shown.
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "notification-channels", security(("bearer" = [])), params(("id" = NotificationChannelId, Path)),
    responses((status = 200, body = Delivery), (status = 404, body = ErrorBody)))]
async fn send_test(
    State(state): State<AppState>,
    auth: Auth,
    meta: ClientMeta,
    Extension(slot): Extension<AuditSlot>,
    ApiPath(id): ApiPath<NotificationChannelId>,
) -> ApiResult<axum::Json<Delivery>> {
    let c = notification_channels::find(&state.db, &auth.scope, id).await?;
    auth.require_in(Resource::Alerts, Action::Write, c.channel.org_id)?;
    let delivery = DeliveryId::new();
    let key = format!("test:{}", delivery.0);
    deliveries::insert_unqueued(
        &state.db,
        delivery,
        &NewDelivery {
            org_id: c.channel.org_id,
            alert_id: None,
            channel_id: id,
            event: "test".into(),
            escalation_step: None,
            message: None,
            idempotency_key: key.clone(),
        },
        state.now(),
    )
    .await?;
    let org_name = deliveries::org_name(&state.db, c.channel.org_id)
        .await?
        .unwrap_or_default();
    let notice = Notice {
        event: "test",
        alert: None,
        escalation_step: None,
        delivery_id: delivery.0,
        idempotency_key: &key,
        org_name: &org_name,
        sent_at: state.now(),
        message: None,
    };
    let result = channels::send(&state, &c, &notice).await;
    let now = state.now();
    let ev = AuditEvent::new("notification_channel.test", "notification_channel")
        .by(&auth)
        .client(&meta)
        .org(Some(c.channel.org_id))
        .resource(id.0, Some(&c.channel.name));
    match result {
        Ok(status) => {
            deliveries::mark_sent(&state.db, delivery, 1, status, now).await?;
            state
                .record(
                    ev.details(json!({"delivery_id": delivery.0, "response_status": status})),
                    Some(&slot),
                )
                .await?;
        }
        Err(f) => {
            deliveries::mark_failed(&state.db, delivery, 1, &f.reason, f.status, true, now).await?;
            state
                .record(
                    ev.details(json!({"delivery_id": delivery.0, "response_status": f.status}))
                        .failed("failure", f.reason),
                    Some(&slot),
                )
                .await?;
        }
    }
    Ok(axum::Json(
        deliveries::get(&state.db, &auth.scope, delivery).await?,
    ))
}

/// A channel's delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}/deliveries", tag = "notification-channels", security(("bearer" = [])), params(("id" = NotificationChannelId, Path), DeliveryListQuery),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = ErrorBody)))]
async fn channel_deliveries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<NotificationChannelId>,
    ApiQuery(p): ApiQuery<DeliveryListQuery>,
) -> ApiResult<axum::Json<Page<Delivery>>> {
    notification_channels::get(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    let opts = delivery_opts(p)?;
    let (rows, next) = deliveries::list_for_channel(&state.db, &auth.scope, id, &opts).await?;
    Ok(page(rows, next))
}

/// An alert's delivery log (channel, event, attempts, sent or failed with the reason),
/// newest first.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/deliveries", tag = "alerts", security(("bearer" = [])), params(("id" = AlertId, Path), DeliveryListQuery),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = ErrorBody)))]
async fn alert_deliveries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<AlertId>,
    ApiQuery(p): ApiQuery<DeliveryListQuery>,
) -> ApiResult<axum::Json<Page<Delivery>>> {
    deliveries::alert_in_scope(&state.db, &auth.scope, id).await?;
    auth.require(Resource::Alerts, Action::Read)?;
    let opts = delivery_opts(p)?;
    let (rows, next) = deliveries::list_for_alert(&state.db, &auth.scope, id, &opts).await?;
    Ok(page(rows, next))
}
