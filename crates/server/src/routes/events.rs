//! `GET /api/v1/events`: the console's live updates as Server-Sent Events
//! (`breeze_proto::api::LiveEvent`, one JSON object per message).
//!
//! A stream carries only what its subscriber may read: the event's partner must be the
//! scope's, its organization and site in reach, device-group-limited scopes see only
//! devices the scoped device lookup finds, and without `devices:read` no device event
//! at all. Platform operators see no tenant events.
//!
//! The stream authenticates like every request (`Authorization: Bearer`; never a token
//! in the URL, where it would reach logs). It ends when the access token expires, and
//! when a periodic re-check finds the session revoked or the account disabled; the
//! console reconnects with a fresh token. The same re-check picks up role changes.

use crate::auth::principal::{Auth, bearer};
use crate::auth::tokens;
use crate::error::ApiError;
use crate::events::{Received, Subscriber};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use breeze_core::permissions::{Action, Resource};
use breeze_core::{DeviceCoords, DeviceReach};
use breeze_proto::api::{ErrorBody, LiveEvent};
use breeze_store::{StoreError, devices};
use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Comment lines at least this often keep proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The live event stream: `text/event-stream`, first `{"type":"hello"}`, then the
/// events in reach of the caller (`device.status`, `device.enrolled`,
/// `device.inventory`, `command.updated`, `execution.updated`, `execution.output`) and
/// `resync` when events were dropped. Ends when the access token expires or is
/// revoked: reconnect with a fresh one.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events; each message's data is one LiveEvent", content_type = "text/event-stream", body = LiveEvent),
        (status = 401, body = ErrorBody)))]
async fn events(State(state): State<AppState>, auth: Auth, headers: HeaderMap) -> Response {
    // The extractor accepted this header; keep its hash to re-check the session.
    let Some(token_hash) = bearer(&headers).map(tokens::hash) else {
        return ApiError::Unauthorized("missing bearer token".into()).into_response();
    };
    let recheck_every = Duration::from_secs(state.config.auth.stream_recheck_secs.max(1));
    let mut recheck = tokio::time::interval_at(Instant::now() + recheck_every, recheck_every);
    recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Subscribe before answering, so nothing published after `hello` is missed.
    let stream = Stream {
        sub: state.events.subscribe(),
        expiry: Box::pin(tokio::time::sleep_until(deadline(&state, &auth))),
        state,
        auth,
        token_hash,
        recheck,
        said_hello: false,
    };
    let body = futures::stream::unfold(stream, |mut s| async move {
        s.next().await.map(|e| (Ok::<_, Infallible>(e), s))
    });
    (
        // Tell buffering reverse proxies (nginx) to pass events through at once.
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        Sse::new(body).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
        .into_response()
}

/// When the stream must end: the access token's expiry.
fn deadline(state: &AppState, auth: &Auth) -> Instant {
    let left = (auth.expires_at - state.now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

fn message(e: &LiveEvent) -> Event {
    Event::default().data(serde_json::to_string(e).unwrap_or_default())
}

/// One subscriber's stream.
struct Stream {
    state: AppState,
    auth: Auth,
    token_hash: String,
    sub: Subscriber,
    recheck: Interval,
    expiry: Pin<Box<Sleep>>,
    said_hello: bool,
}

impl Stream {
    /// The next message, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        if !self.said_hello {
            self.said_hello = true;
            return Some(message(&LiveEvent::Hello));
        }
        loop {
            tokio::select! {
                () = &mut self.expiry => return None,
                _ = self.recheck.tick() => {
                    match Auth::resolve(&self.state, &self.token_hash).await {
                        Ok(auth) => {
                            self.expiry.as_mut().reset(deadline(&self.state, &auth));
                            self.auth = auth;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "closing an event stream: its token no longer works");
                            return None;
                        }
                    }
                }
                r = self.sub.recv() => match r {
                    Received::Event(e) => {
                        if self.may_see(&e.at).await {
                            return Some(Event::default().data(e.json.as_str()));
                        }
                    }
                    Received::Lagged => return Some(message(&LiveEvent::Resync)),
                    Received::Closed => return None,
                },
            }
        }
    }

    /// Whether the subscriber may read about the device at `at`.
    async fn may_see(&self, at: &DeviceCoords) -> bool {
        let scope = &self.auth.scope;
        if !scope.allows(Resource::Devices, Action::Read) {
            return false;
        }
        match scope.reaches_device(at) {
            DeviceReach::No => false,
            DeviceReach::Yes => true,
            // Asked each time (one indexed lookup, only for these scopes), so a
            // membership change shows at once. It is the lookup GET /devices/{id} uses:
            // the stream shows no device that route would not.
            DeviceReach::IfInGroups => {
                match devices::get(&self.state.db, scope, at.device_id).await {
                    Ok(_) => true,
                    Err(StoreError::NotFound) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, device = %at.device_id, "checking an event's device for a stream");
                        false
                    }
                }
            }
        }
    }
}
