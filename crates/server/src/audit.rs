//! Writing the audit log. Handlers record semantic events (`org.create`, `auth.login`, …)
//! with [`AuditEvent`]; the [`audit_mutations`] middleware makes sure that every mutating
//! request a handler did not record itself (refused, invalid, not found, failed) still
//! leaves a row, so no mutating request goes unaudited.

use crate::auth::principal::Auth;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use breeze_proto::api::ErrorDetail;
use breeze_proto::ids::{DeviceId, OrgId, PartnerId, SiteId};
use breeze_store::audit::{self, NewAudit};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The client's address and user agent.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn to_client_info(&self) -> breeze_store::sessions::ClientInfo {
        breeze_store::sessions::ClientInfo {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientMeta>()
            .cloned()
            .unwrap_or_default())
    }
}

#[derive(Clone, Debug, Default)]
struct SlotInner {
    actor_id: Option<Uuid>,
    actor_email: Option<String>,
    partner_id: Option<PartnerId>,
    org_id: Option<OrgId>,
    recorded: bool,
}

/// Per-request: who the actor turned out to be and whether a handler wrote its own row.
#[derive(Clone, Debug, Default)]
pub struct AuditSlot(Arc<Mutex<SlotInner>>);

impl AuditSlot {
    pub fn set_actor(&self, auth: &Auth) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.actor_id = Some(auth.user_id().0);
        s.actor_email = Some(auth.user().email.clone());
        s.partner_id = auth.scope.partner_id;
        s.org_id = auth.scope.own_org();
    }

    /// This request needs no audit row of its own (e.g. token rotation).
    pub fn skip(&self) {
        self.mark_recorded();
    }

    fn mark_recorded(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).recorded = true;
    }
}

/// An event to record.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    row: NewAudit,
}

impl AuditEvent {
    pub fn new(action: &str, resource_type: &str) -> Self {
        AuditEvent {
            row: NewAudit {
                partner_id: None,
                org_id: None,
                actor_type: "system".into(),
                actor_id: None,
                actor_email: None,
                action: action.into(),
                resource_type: resource_type.into(),
                resource_id: None,
                resource_name: None,
                details: json!({}),
                ip_address: None,
                user_agent: None,
                result: "success".into(),
                error_message: None,
                site_id: None,
                device_id: None,
            },
        }
    }

    /// The authenticated user, their partner and (for org users) organization.
    pub fn by(mut self, auth: &Auth) -> Self {
        self.row.actor_type = "user".into();
        self.row.actor_id = Some(auth.user_id().0);
        self.row.actor_email = Some(auth.user().email.clone());
        self.row.partner_id = auth.scope.partner_id;
        self.row.org_id = auth.scope.own_org().or(self.row.org_id);
        self
    }

    /// A user identified by id/e-mail only (e.g. a failed login).
    pub fn by_user(mut self, id: Option<Uuid>, email: Option<&str>) -> Self {
        self.row.actor_type = "user".into();
        self.row.actor_id = id;
        self.row.actor_email = email.map(str::to_string);
        self
    }

    /// Files the row under the tenant the user belongs to, so their partner (and
    /// organization) can read it.
    pub async fn tenant_of_user(mut self, db: &breeze_store::Db, user: Option<Uuid>) -> Self {
        if let Some(u) = user
            && let Ok(Some(m)) =
                breeze_store::users::membership(db, breeze_proto::ids::UserId(u)).await
        {
            match m {
                breeze_store::users::Membership::Partner { partner_id, .. } => {
                    self.row.partner_id = Some(partner_id)
                }
                breeze_store::users::Membership::Organization {
                    partner_id, org_id, ..
                } => {
                    self.row.partner_id = Some(partner_id);
                    self.row.org_id = Some(org_id);
                }
            }
        }
        self
    }

    /// An enrolled agent, acting for its device (its partner and organization).
    pub fn by_agent(mut self, device: &breeze_store::agents::AgentDevice) -> Self {
        self.row.actor_type = "agent".into();
        self.row.actor_id = Some(device.id);
        self.row.partner_id = Some(device.partner());
        self.row.org_id = Some(device.org());
        self.row.site_id = Some(SiteId(device.site_id));
        self.row.device_id = Some(device.device_id());
        self
    }

    /// The site the row concerns (see [`AppState::record`] for rows that do not say).
    pub fn site(mut self, s: SiteId) -> Self {
        self.row.site_id = Some(s);
        self
    }

    /// A device group's site: `None` for an organization-wide group, whose rows only
    /// users who reach every site of the organization see.
    pub fn site_of_group(mut self, s: Option<SiteId>) -> Self {
        self.row.site_id = s;
        self
    }

    /// The device (at a site) the row concerns.
    pub fn device(mut self, site: SiteId, device: DeviceId) -> Self {
        self.row.site_id = Some(site);
        self.row.device_id = Some(device);
        self
    }

    pub fn client(mut self, c: &ClientMeta) -> Self {
        self.row.ip_address = c.ip.clone();
        self.row.user_agent = c.user_agent.clone();
        self
    }

    pub fn resource(mut self, id: impl ToString, name: Option<&str>) -> Self {
        self.row.resource_id = Some(id.to_string());
        self.row.resource_name = name.map(str::to_string);
        self
    }

    pub fn partner(mut self, p: Option<PartnerId>) -> Self {
        if p.is_some() {
            self.row.partner_id = p;
        }
        self
    }

    pub fn org(mut self, o: Option<OrgId>) -> Self {
        if o.is_some() {
            self.row.org_id = o;
        }
        self
    }

    pub fn details(mut self, d: Value) -> Self {
        self.row.details = d;
        self
    }

    pub fn failed(mut self, result: &str, message: impl Into<String>) -> Self {
        self.row.result = result.into();
        self.row.error_message = Some(message.into());
        self
    }
}

impl AppState {
    /// Appends the event to the audit chain. An audit row that cannot be written fails the
    /// request: an action that cannot be audited should not look successful.
    pub async fn record(
        &self,
        event: AuditEvent,
        slot: Option<&AuditSlot>,
    ) -> Result<(), crate::error::ApiError> {
        // Rows about a user but without a tenant (logins, MFA, resets) go to the user's tenant.
        let mut event = if event.row.partner_id.is_none() && event.row.actor_type == "user" {
            let actor = event.row.actor_id;
            event.tenant_of_user(&self.db, actor).await
        } else {
            event
        };
        // Rows that did not say which site/device they concern are placed by their resource
        // (a device, a command, a site, an enrollment key, a device group), so site- and
        // group-limited readers see exactly the rows about what they reach.
        if event.row.site_id.is_none()
            && event.row.device_id.is_none()
            && let Some(rid) = event.row.resource_id.as_deref()
        {
            let place = audit::place_of(&self.db, &event.row.resource_type, rid)
                .await
                .map_err(crate::error::ApiError::internal)?;
            event.row.site_id = place.site_id;
            event.row.device_id = place.device_id;
        }
        self.audit_writer
            .append(event.row, self.now())
            .await
            .map_err(crate::error::ApiError::internal)?;
        if let Some(s) = slot {
            s.mark_recorded();
        }
        Ok(())
    }
}

/// Rows waiting for the audit writer; a request past this waits for room.
const AUDIT_QUEUE: usize = 4096;
/// Rows one transaction appends at most.
const AUDIT_BATCH: usize = 256;

type PendingRow = (
    NewAudit,
    chrono::DateTime<chrono::Utc>,
    tokio::sync::oneshot::Sender<Result<breeze_proto::ids::AuditLogId, String>>,
);

/// The audit writer (issue 14): one task per process appends the rows of concurrent
/// requests to the chain in batches, each batch one transaction that locks the chain's
/// head row once. Appending row by row, every audited write of a cluster queued on that
/// row with its lock held through each commit's flush (29–36 backends waiting during a
/// 100,000-agent enrollment over 6 replicas). A request still waits until its own row is
/// committed. Idle, a row is written at once in a batch of one.
pub struct AuditWriter {
    tx: tokio::sync::mpsc::Sender<PendingRow>,
}

impl AuditWriter {
    /// Starts the writer task on `db` (it ends when the writer is dropped).
    pub fn spawn(db: breeze_store::Db) -> AuditWriter {
        let (tx, rx) = tokio::sync::mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(write_batches(db, rx));
        AuditWriter { tx }
    }

    /// Appends `row`, answering once it is committed.
    pub async fn append(
        &self,
        row: NewAudit,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<breeze_proto::ids::AuditLogId> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send((row, now, done))
            .await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("appending to the audit log: {e}"))
    }
}

async fn write_batches(db: breeze_store::Db, mut rx: tokio::sync::mpsc::Receiver<PendingRow>) {
    let mut batch: Vec<PendingRow> = Vec::with_capacity(AUDIT_BATCH);
    while rx.recv_many(&mut batch, AUDIT_BATCH).await > 0 {
        let rows: Vec<_> = batch.iter().map(|(r, t, _)| (r, *t)).collect();
        let written = audit::append_batch(&db, &rows).await;
        drop(rows);
        match written {
            Ok(ids) => {
                for ((_, _, done), id) in batch.drain(..).zip(ids) {
                    let _ = done.send(Ok(id));
                }
            }
            Err(e) if batch.len() > 1 => {
                // One bad row must not cost the others theirs: write each alone.
                tracing::warn!(error = %e, rows = batch.len(),
                    "a batch of audit rows failed; writing them one by one");
                for (row, now, done) in batch.drain(..) {
                    let _ = done.send(
                        audit::append(&db, &row, now)
                            .await
                            .map_err(|e| e.to_string()),
                    );
                }
            }
            Err(e) => {
                for (_, _, done) in batch.drain(..) {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// The client's address: the peer's, or behind a trusted proxy the last address in
/// `X-Forwarded-For` that is not a trusted proxy itself (the ones before it are what the
/// client claimed, and a client can claim anything).
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    server: &crate::config::ServerConfig,
) -> std::net::IpAddr {
    if server.trusted_proxies.is_empty() {
        return peer;
    }
    let Ok(trusted) = server.trusted_proxy_ranges() else {
        return peer;
    };
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(v) = value.to_str() else { return peer };
        for hop in v.split(',').map(str::trim) {
            match hop.parse::<std::net::IpAddr>() {
                Ok(ip) => hops.push(ip),
                // An unreadable hop: believe nothing the proxy passed on.
                Err(_) => return peer,
            }
        }
    }
    // Walk back from the proxy: the first hop not trusted is the client; when every hop
    // is a trusted proxy, the first one is.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(**ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod client_ip_tests {
    #![allow(clippy::unwrap_used)]
    use super::client_ip;
    use crate::config::ServerConfig;
    use axum::http::HeaderMap;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let none = ServerConfig::default();
        let proxy = ServerConfig {
            trusted_proxies: vec!["10.0.0.0/8".into(), "192.0.2.7".into()],
            ..ServerConfig::default()
        };
        let h = headers(&["203.0.113.9"]);
        // No proxies configured: the peer, whatever the header says.
        assert_eq!(client_ip(ip("10.1.1.1"), &h, &none), ip("10.1.1.1"));
        // From a trusted proxy: the forwarded client.
        assert_eq!(client_ip(ip("10.1.1.1"), &h, &proxy), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("192.0.2.7"), &h, &proxy), ip("203.0.113.9"));
        // From anyone else: the peer (a client cannot pick its own address).
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &proxy),
            ip("198.51.100.1")
        );
        // A spoofed first hop is skipped: the last untrusted hop is the client.
        let chain = headers(&["1.2.3.4, 203.0.113.9", "10.2.2.2"]);
        assert_eq!(client_ip(ip("10.1.1.1"), &chain, &proxy), ip("203.0.113.9"));
        // Garbage in the header: the peer.
        assert_eq!(
            client_ip(ip("10.1.1.1"), &headers(&["nonsense"]), &proxy),
            ip("10.1.1.1")
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            client_ip(ip("10.1.1.1"), &HeaderMap::new(), &proxy),
            ip("10.1.1.1")
        );
    }
}

/// Middleware: records client metadata for handlers, and audits every mutating request
/// that its handler did not record (with the outcome as result).
pub async fn audit_mutations(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let ip = peer.map(|p| client_ip(p, req.headers(), &state.config.server).to_string());
    let ua = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect::<String>());
    let meta = ClientMeta { ip, user_agent: ua };
    let slot = AuditSlot::default();
    req.extensions_mut().insert(meta.clone());
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let mutating = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let s = slot.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if mutating && !s.recorded && path.starts_with("/api/") {
        let status = resp.status();
        let result = if status.is_success() {
            "success"
        } else if status == 401 || status == 403 || status == 404 || status == 429 {
            "denied"
        } else {
            "failure"
        };
        // The error body's code and message, when the answer is one of ours.
        let error = resp.extensions().get::<ErrorDetail>();
        let mut details =
            json!({"method": method.as_str(), "path": path, "status": status.as_u16()});
        if let Some(e) = error {
            details["error"] = json!({"code": e.code, "message": e.message, "field": e.field});
        }
        let mut ev = AuditEvent::new(
            &format!("http.{}", method.as_str().to_lowercase()),
            "http_request",
        )
        .client(&meta)
        .resource(&path, None)
        .details(details);
        ev.row.partner_id = s.partner_id;
        ev.row.org_id = s.org_id;
        if s.actor_id.is_some() {
            ev = ev.by_user(s.actor_id, s.actor_email.as_deref());
        } else {
            ev.row.actor_type = "anonymous".into();
        }
        if result != "success" {
            ev = ev.failed(result, failure_reason(status.as_u16(), error));
        }
        if let Err(e) = state.record(ev, None).await {
            tracing::error!(error = %e, "could not write the audit row of a request");
        }
    }
    resp
}

/// The reason a failed request's audit row gives: the status, the error code and message
/// of the answer's body (and the field it names), e.g.
/// `HTTP 409 device_quarantined: device "web-01" is quarantined …`.
fn failure_reason(status: u16, error: Option<&ErrorDetail>) -> String {
    match error {
        None => format!("HTTP {status}"),
        Some(e) => match &e.field {
            Some(f) => format!("HTTP {status} {} ({f}): {}", e.code, e.message),
            None => format!("HTTP {status} {}: {}", e.code, e.message),
        },
    }
}

/// Who asks, for a handler that writes its own audit rows: the caller, the client's
/// address and user agent, and the request's audit slot, extracted together.
pub struct Actor {
    pub auth: Auth,
    pub meta: ClientMeta,
    pub slot: AuditSlot,
}

impl axum::extract::FromRequestParts<AppState> for Actor {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        let meta = parts
            .extensions
            .get::<ClientMeta>()
            .cloned()
            .unwrap_or_default();
        // The audit layer puts a slot on every API request; a route outside it is a bug.
        let slot = parts
            .extensions
            .get::<AuditSlot>()
            .cloned()
            .ok_or_else(|| {
                crate::error::ApiError::Internal(anyhow::anyhow!("no audit slot on this route"))
            })?;
        Ok(Actor { auth, meta, slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_name_the_code_field_and_message() {
        assert_eq!(failure_reason(405, None), "HTTP 405");
        let e = ErrorDetail {
            code: "validation".into(),
            message: "must not be empty".into(),
            field: Some("name".into()),
        };
        assert_eq!(
            failure_reason(422, Some(&e)),
            "HTTP 422 validation (name): must not be empty"
        );
        let e = ErrorDetail {
            code: "device_quarantined".into(),
            message: "no".into(),
            field: None,
        };
        assert_eq!(
            failure_reason(409, Some(&e)),
            "HTTP 409 device_quarantined: no"
        );
    }
}
