//! Liveness, readiness and metrics.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// What `/ready` checked.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: String,
    pub version: String,
    /// This process's id in the cluster (distinct per replica and per start).
    pub replica: String,
    /// `local` (one process) or `nats`.
    pub bus: String,
    /// Agent channels connected to this replica.
    pub agent_channels: usize,
}

/// Readiness: the database answers, the cluster bus (NATS, when configured) is connected,
/// and the server is not shutting down. A proxy sends traffic only to ready replicas.
#[utoipa::path(get, path = "/ready", tag = "ops", responses((status = 200, body = Ready), (status = 503, body = breeze_proto::api::ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<Ready>> {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(ApiError::Unavailable("shutting down".into()));
    }
    state
        .db
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database unreachable: {e}")))?;
    let bus = state.cluster.status();
    if !bus.ok {
        return Err(ApiError::Unavailable(format!(
            "the cluster bus is unavailable: {}",
            bus.detail
        )));
    }
    Ok(axum::Json(Ready {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        replica: state.cluster.replica().to_string(),
        bus: state.cluster.kind().to_string(),
        agent_channels: state.hub.connected(),
    }))
}

/// Prometheus metrics (OpenMetrics text format). Served as `[metrics]` says: 404 unless
/// a token (then `Authorization: Bearer <token>`, else 401) or `public = true` is set, and
/// 404 here when a separate `[metrics] listen` address serves it.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String), (status = 401, body = breeze_proto::api::ErrorBody), (status = 404, body = breeze_proto::api::ErrorBody)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    crate::metrics::authorize(&state.config.metrics, &headers, false)?;
    Ok(exposition(&state))
}

/// The router of the separate `[metrics] listen` address: `/metrics` and nothing else.
pub fn metrics_only(state: AppState) -> axum::Router {
    async fn dedicated(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
        crate::metrics::authorize(&state.config.metrics, &headers, true)?;
        Ok(exposition(&state))
    }
    axum::Router::new()
        .route("/metrics", axum::routing::get(dedicated))
        .with_state(state)
}

fn exposition(state: &AppState) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
