//! Routes. Each module contributes an `OpenApiRouter`, so every route is in the OpenAPI
//! document by construction (and a test checks it).

use crate::state::AppState;
use axum::Router;
use axum::middleware::from_fn_with_state;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::router::OpenApiRouter;

pub mod agents;
pub mod alert_rules;
pub mod alerts;
pub mod audit_logs;
pub mod auth;
pub mod automations;
pub mod common;
pub mod device_groups;
pub mod devices;
pub mod downloads;
pub mod enrollment_keys;
pub mod escalation_policies;
pub mod events;
pub mod files;
pub mod notification_channels;
pub mod ops;
pub mod orgs;
pub mod partners;
pub mod policies;
pub mod remote;
pub mod roles;
pub mod scripts;
pub mod settings;
pub mod setup;
pub mod sites;
pub mod users;

/// The API routes and their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(setup::router())
        .merge(auth::router())
        .merge(partners::router())
        .merge(orgs::router())
        .merge(sites::router())
        .merge(device_groups::router())
        .merge(users::router())
        .merge(roles::router())
        .merge(audit_logs::router())
        .merge(ops::router())
        .merge(agents::router())
        .merge(enrollment_keys::router())
        .merge(devices::router())
        .merge(scripts::router())
        .merge(events::router())
        .merge(settings::router())
        .merge(downloads::router())
        .merge(alert_rules::router())
        .merge(alerts::router())
        .merge(notification_channels::router())
        .merge(escalation_policies::router())
        .merge(automations::router())
        .merge(policies::router())
        .merge(remote::router())
        .merge(files::router())
        .split_for_parts();
    utoipa::Modify::modify(&crate::openapi::ErrorResponses, &mut doc);
    crate::openapi::unique_operation_ids(&mut doc);
    (router, doc)
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = std::sync::Arc::new(doc);
    api.merge(crate::openapi::docs_router(doc))
        .merge(crate::relay::route::router())
        .fallback_service(breeze_web::router())
        .layer(from_fn_with_state(
            state.clone(),
            crate::audit::audit_mutations,
        ))
        // Outside the audit middleware (a shed request writes no audit row) and inside
        // the request metrics (a shed request is counted with its 503).
        .route_layer(from_fn_with_state(
            crate::overload::Shedder::new(&state.config, state.metrics.shed_requests.clone()),
            crate::overload::limit,
        ))
        .route_layer(from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        // gzip for clients that ask (browsers): a page of 200 devices is ~180 KB of JSON.
        // The default predicate leaves the event stream (text/event-stream), images and
        // tiny bodies alone; agents do not ask, so heartbeats are not compressed.
        .layer(CompressionLayer::new().gzip(true))
        .layer(CatchPanicLayer::custom(common::panic_response))
        .with_state(state)
}
