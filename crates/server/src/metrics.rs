//! Prometheus metrics at `/metrics`, with a registry per app (no global recorder, so test
//! servers side by side don't share counters). Every label takes its value from a fixed
//! set (known methods or `other`, the matched route template or `unmatched`, the status
//! code), so no request can add series of its own making. Who may read `/metrics` is
//! `[metrics]` in the configuration (see [`authorize`]).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::MetricsConfig;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

/// The route class of a shed request: `agent`, `login` or `api` (`crate::overload`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    pub class: &'static str,
}

/// A periodic job's name (`crate::jobs::Job`), a fixed set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
    pub logins: Family<ResultLabels, Counter>,
    /// Requests answered 503 `overloaded`, by route class.
    pub shed_requests: Family<ClassLabels, Counter>,
    /// Periodic job runs on this replica (`breeze_job_runs_total{job}`): summed over the
    /// replicas, one per period, since each period of a job is claimed once.
    pub job_runs: Family<JobLabels, Counter>,
    /// How long each periodic job's run took (`breeze_job_duration_seconds{job}`).
    pub job_duration: Family<JobLabels, Histogram>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("breeze");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let logins = Family::<ResultLabels, Counter>::default();
        r.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        r.register("logins", "Login attempts by result", logins.clone());
        let shed_requests = Family::<ClassLabels, Counter>::default();
        r.register(
            "shed_requests",
            "Requests refused with 503 because their route class had too many in flight",
            shed_requests.clone(),
        );
        let job_runs = Family::<JobLabels, Counter>::default();
        r.register(
            "job_runs",
            "Periodic job runs on this replica, by job",
            job_runs.clone(),
        );
        let job_duration = Family::<JobLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        r.register(
            "job_duration_seconds",
            "How long periodic job runs took on this replica, by job",
            job_duration.clone(),
        );
        Metrics {
            registry: Mutex::new(r),
            http_requests,
            http_duration,
            logins,
            shed_requests,
            job_runs,
            job_duration,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `method` label: a standard method, or `other` for anything a client made up.
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `route` label: the template the router matched (`/api/v1/devices/{id}`), never the
/// raw path; `unmatched` when no route matched.
pub fn route_label(matched: Option<&MatchedPath>) -> String {
    matched.map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string())
}

/// Whether this request may read `/metrics`. `dedicated` is true on the separate
/// `[metrics] listen` address. The main listener answers 404 when a separate address is
/// set, or when neither a token nor `public = true` is; with a token, a missing or wrong
/// `Authorization: Bearer` answers 401 (compared in constant time).
pub fn authorize(
    cfg: &MetricsConfig,
    headers: &HeaderMap,
    dedicated: bool,
) -> Result<(), ApiError> {
    if !dedicated && cfg.listen.is_some() {
        return Err(ApiError::NotFound);
    }
    if let Some(token) = &cfg.token {
        use secrecy::ExposeSecret as _;
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compare digests: equal lengths, so the comparison time says nothing either.
        let want = crate::auth::tokens::hash(token.expose_secret());
        if !crate::auth::tokens::constant_time_eq(&crate::auth::tokens::hash(given), &want) {
            return Err(ApiError::Unauthorized(
                "/metrics needs `Authorization: Bearer <[metrics] token>`".into(),
            ));
        }
        return Ok(());
    }
    if !dedicated && !cfg.public {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method()).to_string();
    let route = route_label(req.extensions().get::<MatchedPath>());
    let resp = next.run(req).await;
    let labels = HttpLabels {
        method,
        route,
        status: resp.status().as_u16(),
    };
    state.metrics.http_requests.get_or_create(&labels).inc();
    state
        .metrics
        .http_duration
        .get_or_create(&labels)
        .observe(start.elapsed().as_secs_f64());
    resp
}
