//! Overload protection: a bound on the requests in flight per route class, with load
//! shedding. A request over its class's bound waits a short, configured time for a place
//! (`[server] overload_wait_millis`; at most as many wait as the bound lets in flight), and
//! is then answered 503 `overloaded` with `Retry-After`, before any handler, extractor or
//! audit row runs, so a refused request costs next to nothing and the accepted ones stay
//! fast. Nothing queues without bound.
//!
//! Route classes ([`RouteClass::of`]), so one kind of traffic cannot starve another:
//!
//! * `agent`: the telemetry an enrolled agent sends (`/api/v1/agents/{id}/…`: heartbeat,
//!   inventory, command acknowledgements and results);
//! * `login`: credential checks that cost an argon2 hash or a token exchange and need no
//!   session (login, refresh, MFA verification, agent enrollment, password reset,
//!   invitation acceptance, first-run setup);
//! * `api`: everything else under `/api`.
//!
//! Not classed: `/health`, `/ready` and `/metrics` (an operator must see an overloaded
//! server), the console's static files and the agent downloads, the live event stream
//! (SSE), and the WebSockets (the agent channel, remote sessions). A stream or socket
//! is held for hours and costs a connection, not a request's work: it is bounded by the
//! number of connections, not here. A permit is held until the handler has answered (the
//! response head), not while a streamed body (a recording download) is still being sent.

use crate::config::{Config, InFlightLimits};
use crate::error::ApiError;
use crate::metrics::ClassLabels;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rand::Rng as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The kind of work a request is, for its in-flight bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Agent,
    Login,
    Api,
}

/// Unauthenticated routes that check a credential (and mostly hash a password).
const LOGIN_ROUTES: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/mfa/verify",
    "/api/v1/auth/forgot-password",
    "/api/v1/auth/reset-password",
    "/api/v1/auth/accept-invite",
    "/api/v1/agents/enroll",
    "/api/v1/setup",
];

/// Long-lived streams under `/api`: bounded by connections, not classed.
const STREAM_ROUTES: &[&str] = &["/api/v1/events"];

impl RouteClass {
    /// The class of a request to the route template `route` (`/api/v1/devices/{id}`, as
    /// the router matched it); `None` for what is not bounded here. A WebSocket upgrade is
    /// never classed, whatever its path.
    pub fn of(method: &Method, route: &str, headers: &HeaderMap) -> Option<RouteClass> {
        let upgrade = headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if upgrade || !route.starts_with("/api/") || STREAM_ROUTES.contains(&route) {
            return None;
        }
        if *method == Method::POST && LOGIN_ROUTES.contains(&route) {
            return Some(RouteClass::Login);
        }
        if route.starts_with("/api/v1/agents/{id}/") {
            return Some(RouteClass::Agent);
        }
        Some(RouteClass::Api)
    }

    pub fn label(self) -> &'static str {
        match self {
            RouteClass::Agent => "agent",
            RouteClass::Login => "login",
            RouteClass::Api => "api",
        }
    }

    const ALL: [RouteClass; 3] = [RouteClass::Agent, RouteClass::Login, RouteClass::Api];
}

/// One class's bound: places in flight, and places to wait for one.
struct Bound {
    in_flight: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

impl Bound {
    fn new(n: u32) -> Bound {
        let n = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        Bound {
            in_flight: Arc::new(Semaphore::new(n)),
            waiting: Arc::new(Semaphore::new(n)),
        }
    }
}

/// The bounds of every class, shared by the router's middleware.
#[derive(Clone)]
pub struct Shedder(Arc<Inner>);

struct Inner {
    agent: Bound,
    login: Bound,
    api: Bound,
    wait: Duration,
    retry_after_secs: u64,
    shed: Family<ClassLabels, Counter>,
}

impl Shedder {
    /// Bounds from the configuration; shed requests are counted in `shed`.
    pub fn new(config: &Config, shed: Family<ClassLabels, Counter>) -> Shedder {
        let InFlightLimits { agent, login, api } = config.in_flight_limits();
        for class in RouteClass::ALL {
            // Present from the start, at 0, so a dashboard can tell "none shed" from "unknown".
            let _ = shed.get_or_create(&ClassLabels {
                class: class.label(),
            });
        }
        Shedder(Arc::new(Inner {
            agent: Bound::new(agent),
            login: Bound::new(login),
            api: Bound::new(api),
            wait: Duration::from_millis(config.server.overload_wait_millis),
            retry_after_secs: config.server.overload_retry_after_secs.max(1),
            shed,
        }))
    }

    fn bound(&self, class: RouteClass) -> &Bound {
        match class {
            RouteClass::Agent => &self.0.agent,
            RouteClass::Login => &self.0.login,
            RouteClass::Api => &self.0.api,
        }
    }

    /// A place in flight for a request of `class`, at once or within the wait; `None`
    /// when the request is to be shed.
    pub async fn admit(&self, class: RouteClass) -> Option<OwnedSemaphorePermit> {
        let bound = self.bound(class);
        if let Ok(p) = bound.in_flight.clone().try_acquire_owned() {
            return Some(p);
        }
        if self.0.wait.is_zero() {
            return None;
        }
        // The queue of waiters is bounded too: no more wait than may be in flight.
        let _waiting = bound.waiting.clone().try_acquire_owned().ok()?;
        tokio::time::timeout(self.0.wait, bound.in_flight.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// The answer to a shed request: 503 `overloaded`, `Retry-After` drawn from
    /// `[n, 2n]` seconds so the refused clients come back spread out.
    fn refuse(&self, class: RouteClass) -> Response {
        self.0
            .shed
            .get_or_create(&ClassLabels {
                class: class.label(),
            })
            .inc();
        let n = self.0.retry_after_secs;
        let retry_after_secs = rand::rng().random_range(n..=n.saturating_mul(2));
        ApiError::Overloaded {
            class: class.label(),
            retry_after_secs,
        }
        .into_response()
    }
}

/// The middleware: classifies the matched route, admits or sheds. It sits outside the
/// audit middleware, so a shed request writes nothing to the database.
pub async fn limit(State(shedder): State<Shedder>, req: Request, next: Next) -> Response {
    let class = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| RouteClass::of(req.method(), p.as_str(), req.headers()));
    let Some(class) = class else {
        return next.run(req).await;
    };
    match shedder.admit(class).await {
        Some(permit) => {
            let resp = next.run(req).await;
            drop(permit);
            resp
        }
        None => {
            tracing::debug!(class = class.label(), "request shed");
            shedder.refuse(class)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: Method, route: &str) -> Option<RouteClass> {
        RouteClass::of(&method, route, &HeaderMap::new())
    }

    #[test]
    fn routes_fall_into_their_class() {
        use RouteClass::*;
        for (m, route, want) in [
            (Method::POST, "/api/v1/agents/{id}/heartbeat", Some(Agent)),
            (Method::PUT, "/api/v1/agents/{id}/inventory", Some(Agent)),
            (
                Method::POST,
                "/api/v1/agents/{id}/commands/{command_id}/ack",
                Some(Agent),
            ),
            (
                Method::POST,
                "/api/v1/agents/{id}/commands/{command_id}/result",
                Some(Agent),
            ),
            (Method::POST, "/api/v1/auth/login", Some(Login)),
            (Method::POST, "/api/v1/auth/refresh", Some(Login)),
            (Method::POST, "/api/v1/auth/mfa/verify", Some(Login)),
            (Method::POST, "/api/v1/agents/enroll", Some(Login)),
            (Method::GET, "/api/v1/setup/status", Some(Api)),
            (Method::GET, "/api/v1/auth/me", Some(Api)),
            (Method::GET, "/api/v1/devices/{id}", Some(Api)),
            (Method::GET, "/api/v1/events", None),
            (Method::GET, "/health", None),
            (Method::GET, "/ready", None),
            (Method::GET, "/metrics", None),
            (Method::GET, "/ws/agents/{id}", None),
            (Method::GET, "/ws/remote/{id}", None),
            (Method::GET, "/download/agent/{platform}", None),
        ] {
            assert_eq!(class(m.clone(), route), want, "{m} {route}");
        }
    }

    #[test]
    fn a_websocket_upgrade_is_never_classed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::UPGRADE,
            axum::http::HeaderValue::from_static("websocket"),
        );
        assert_eq!(
            RouteClass::of(&Method::GET, "/api/v1/devices/{id}/x", &h),
            None
        );
    }

    fn shedder(tweak: impl FnOnce(&mut Config)) -> Shedder {
        let mut c = Config::default();
        tweak(&mut c);
        Shedder::new(&c, Family::default())
    }

    #[tokio::test]
    async fn over_the_bound_sheds_at_once_without_a_wait() {
        let s = shedder(|c| {
            c.server.max_in_flight_agent = Some(2);
            c.server.overload_wait_millis = 0;
        });
        let a = s.admit(RouteClass::Agent).await;
        let b = s.admit(RouteClass::Agent).await;
        assert!(a.is_some() && b.is_some());
        assert!(s.admit(RouteClass::Agent).await.is_none());
        // Other classes have their own bounds.
        assert!(s.admit(RouteClass::Api).await.is_some());
        assert!(s.admit(RouteClass::Login).await.is_some());
        drop(a);
        assert!(s.admit(RouteClass::Agent).await.is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_a_released_place_and_the_queue_is_bounded() {
        let s = shedder(|c| {
            c.server.max_in_flight_agent = Some(1);
            c.server.overload_wait_millis = 300;
        });
        let held = s.admit(RouteClass::Agent).await;
        assert!(held.is_some());
        // One waits (the queue holds as many as the bound)…
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.admit(RouteClass::Agent).await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // … a second finds the queue full and is shed at once.
        let started = std::time::Instant::now();
        assert!(s.admit(RouteClass::Agent).await.is_none());
        assert!(started.elapsed() < Duration::from_millis(100));
        drop(held);
        assert!(waiter.await.unwrap(), "the waiter got the place");
        // Nobody releases: a waiter gives up after the wait, not before.
        let _held = s.admit(RouteClass::Agent).await;
        let started = std::time::Instant::now();
        assert!(s.admit(RouteClass::Agent).await.is_none());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_counted_and_says_when_to_come_back() {
        let family = Family::<ClassLabels, Counter>::default();
        let mut c = Config::default();
        c.server.overload_retry_after_secs = 3;
        let s = Shedder::new(&c, family.clone());
        for _ in 0..20 {
            let resp = s.refuse(RouteClass::Login);
            assert_eq!(resp.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
            let secs: u64 = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!((3..=6).contains(&secs), "Retry-After {secs}");
        }
        assert_eq!(
            family.get_or_create(&ClassLabels { class: "login" }).get(),
            20
        );
        assert_eq!(
            family.get_or_create(&ClassLabels { class: "agent" }).get(),
            0
        );
    }
}
