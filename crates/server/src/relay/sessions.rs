//! Session lifecycle on this process: the registry of live sessions (so `DELETE` reaches
//! the socket task at once), the Origin check of `/ws/remote/{id}`, and the socket task
//! itself (agent stream open, dispatch by session type, the end written to the row and
//! the audit log).

use super::{BridgeEnd, SessionCtx};
use crate::audit::AuditEvent;
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use axum::http::HeaderMap;
use breeze_proto::agent::remote::{KIND_DESKTOP, KIND_TERMINAL, TerminalParams};
use breeze_proto::api::{RemoteSessionType, TerminalServerMessage};
use breeze_proto::ids::RemoteSessionId;
use breeze_store::remote_sessions::{self as store, End, Ended, Spent};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// How long the agent has to accept a stream.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Sessions whose socket this process serves.
pub struct Live {
    /// This process, as written to `remote_sessions.server_id`.
    server_id: String,
    sessions: Mutex<HashMap<RemoteSessionId, watch::Sender<Option<String>>>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            server_id: uuid::Uuid::now_v7().to_string(),
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

/// A registered session; unregisters on drop.
pub struct Registration<'a> {
    live: &'a Live,
    id: RemoteSessionId,
    /// Changes to `Some(reason)` when the session must end.
    pub cancel: watch::Receiver<Option<String>>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.live.lock().remove(&self.id);
    }
}

impl Live {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RemoteSessionId, watch::Sender<Option<String>>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    pub fn register(&self, id: RemoteSessionId) -> Registration<'_> {
        let (tx, rx) = watch::channel(None);
        self.lock().insert(id, tx);
        Registration {
            live: self,
            id,
            cancel: rx,
        }
    }

    /// Asks the session's socket task to end with `reason`; false when it is not served here.
    pub fn cancel(&self, id: RemoteSessionId, reason: &str) -> bool {
        match self.lock().get(&id) {
            Some(tx) => tx.send(Some(reason.to_string())).is_ok(),
            None => false,
        }
    }

    pub fn is_live(&self, id: RemoteSessionId) -> bool {
        self.lock().contains_key(&id)
    }

    /// Sessions served here now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long past the idle timeout a session that is not final may go without activity
/// before the sweep decides its socket task is gone (live tasks touch every 30 s).
const STALE_MARGIN_SECS: i64 = 120;

/// The sweep's part for remote sessions: pending sessions whose ticket expired → failed,
/// sessions no socket task serves any more → ended, recordings past retention deleted.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    let cfg = &state.config.remote;
    let idle = i64::try_from(cfg.idle_timeout_secs).unwrap_or(i64::MAX / 2);
    let stale_before = now - chrono::Duration::seconds(idle.saturating_add(STALE_MARGIN_SECS));
    for e in store::sweep(&state.db, now, stale_before).await? {
        audit_end(state, &e).await;
    }
    let before = now - chrono::Duration::days(cfg.recording_retention_days);
    for (id, rel) in store::expired_recordings(&state.db, before, 500).await? {
        // Only files this server wrote (`recordings/<id>.cast`) are deleted.
        let expected = format!("{}/{id}.cast", super::recording::DIR);
        if rel == expected {
            match tokio::fs::remove_file(state.config.data_dir.join(&rel)).await {
                Ok(()) => {}
                // Written by another replica (the one that served the session): it
                // deletes its own copy (best effort, like every cluster message).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    state.cluster.delete_recording(id);
                }
                Err(e) => {
                    tracing::warn!(error = %e, session = %id, "deleting an old recording failed");
                    continue;
                }
            }
        }
        store::clear_recording(&state.db, id).await?;
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL, with the scheme's default port left out, lower-cased.
fn origin_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// Whether the request's `Origin` (when present) is this server's own: the same host and
/// port as the request's `Host` header (`http` or `https`), or the configured public URL.
/// A request without `Origin` (not a browser) passes: the ticket authenticates it.
pub fn origin_allowed(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|u| origin_of(&u))
    else {
        return false;
    };
    if let Some(public) = public_url
        .and_then(|p| url::Url::parse(p).ok())
        .and_then(|u| origin_of(&u))
        && public == origin
    {
        return true;
    }
    let Some(host) = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    ["http", "https"].iter().any(|scheme| {
        url::Url::parse(&format!("{scheme}://{host}"))
            .ok()
            .and_then(|u| origin_of(&u))
            .is_some_and(|own| own == origin)
    })
}

/// Records the end of a session on its row and audits it (once: only the caller that
/// moved the row to its final state writes the audit row).
pub async fn finish(state: &AppState, id: RemoteSessionId, end: &End) {
    match store::finish(&state.db, id, end, state.now()).await {
        Ok(Some(ended)) => audit_end(state, &ended).await,
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, session = %id, "recording a session's end failed"),
    }
}

/// The `remote.session.end` audit row.
pub async fn audit_end(state: &AppState, e: &Ended) {
    let ev = AuditEvent::new("remote.session.end", "device")
        .by_user(Some(e.user_id.0), None)
        .org(Some(e.org_id))
        .resource(e.device_id, None)
        .details(serde_json::json!({
            "session_id": e.id, "type": e.session_type.as_str(), "status": e.status.as_str(),
            "duration_seconds": e.duration_seconds, "bytes": e.bytes_transferred,
            "reason": e.end_reason,
        }));
    if let Err(e) = state.record(ev, None).await {
        tracing::error!(error = ?e, "auditing a session's end failed");
    }
}

async fn refuse(socket: &mut WebSocket, message: &str) {
    let msg = TerminalServerMessage::Error {
        message: message.to_string(),
    };
    if let Ok(text) = serde_json::to_string(&msg) {
        let _ = socket.send(Message::Text(text.into())).await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Serves the browser socket of a session whose ticket was spent: asks the agent for the
/// stream, relays until either side ends, records the end.
pub async fn serve(state: AppState, s: Spent, mut socket: WebSocket) {
    let reg = state.relay.register(s.id);
    match store::mark_connecting(&state.db, s.id, state.relay.server_id(), state.now()).await {
        Ok(true) => {}
        Ok(false) => {
            // Ended in between (DELETE, sweep): nothing to serve.
            refuse(&mut socket, "the session has ended").await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, session = %s.id, "marking a session connecting failed");
            refuse(&mut socket, "the server could not start the session").await;
            return;
        }
    }
    let ctx = SessionCtx {
        state: state.clone(),
        id: s.id,
        org_id: s.org_id,
        device_id: s.device_id,
        user_id: s.user_id,
        view_only: s.view_only,
        cols: s.cols,
        rows: s.rows,
        idle_timeout: Duration::from_secs(state.config.remote.idle_timeout_secs),
    };
    let end = run(ctx, socket, reg.cancel.clone()).await;
    finish(
        &state,
        s.id,
        &End {
            failed: end.failed,
            reason: end.reason,
            bytes: Some(end.bytes),
        },
    )
    .await;
    // Unregistered only now: a DELETE waiting for this task finds the row final.
    drop(reg);
}

fn failed(reason: impl Into<String>) -> BridgeEnd {
    BridgeEnd {
        bytes: 0,
        reason: Some(reason.into()),
        failed: true,
    }
}

async fn run(
    ctx: SessionCtx,
    mut socket: WebSocket,
    mut cancel: watch::Receiver<Option<String>>,
) -> BridgeEnd {
    let state = ctx.state.clone();
    let Some(mux) = super::route::mux(&state, ctx.device_id).await else {
        let why = "the device's agent is not connected";
        refuse(&mut socket, why).await;
        return failed(why);
    };
    let session_type = match store::get_for_system(&state.db, ctx.id).await {
        Ok(r) => r.session_type,
        Err(e) => {
            tracing::error!(error = %e, session = %ctx.id, "reading a session failed");
            refuse(&mut socket, "the server could not start the session").await;
            return failed("the server could not read the session");
        }
    };
    let opened = match session_type {
        RemoteSessionType::Terminal => {
            let params = TerminalParams {
                cols: ctx.cols,
                rows: ctx.rows,
            };
            let params = serde_json::to_value(params).unwrap_or_default();
            Some(mux.open(KIND_TERMINAL, params, OPEN_TIMEOUT).await)
        }
        RemoteSessionType::Desktop => Some(
            mux.open(
                KIND_DESKTOP,
                super::desktop::open_params(&ctx),
                OPEN_TIMEOUT,
            )
            .await,
        ),
        RemoteSessionType::FileTransfer => None,
    };
    let opened = match opened {
        None => None,
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => {
            let why = format!("the agent did not open the session: {e}");
            refuse(&mut socket, &why).await;
            return failed(why);
        }
    };
    match store::mark_active(&state.db, ctx.id, state.now()).await {
        Ok(true) => {}
        Ok(false) => {
            refuse(&mut socket, "the session has ended").await;
            return failed("the session ended before it started");
        }
        Err(e) => {
            tracing::error!(error = %e, session = %ctx.id, "marking a session active failed");
            refuse(&mut socket, "the server could not start the session").await;
            return failed("the server could not record the session start");
        }
    }
    match (session_type, opened) {
        (RemoteSessionType::Terminal, Some((stream, _info))) => {
            super::terminal::bridge(ctx, socket, stream, cancel).await
        }
        (RemoteSessionType::Desktop, Some((stream, info))) => {
            tokio::select! {
                end = super::desktop::bridge(ctx, socket, stream, info) => end,
                reason = cancelled(&mut cancel) => BridgeEnd { bytes: 0, reason: Some(reason), failed: false },
            }
        }
        _ => hold_open(ctx, socket, cancel).await,
    }
}

/// Resolves with the reason once the session is cancelled (never when the registry is gone).
pub async fn cancelled(cancel: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(r) = cancel.borrow_and_update().clone() {
            return r;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A file-manager session: the socket stays open (pings answered) until the browser
/// closes it, it idles out, or it is ended; the file operations go over HTTP.
async fn hold_open(
    ctx: SessionCtx,
    mut socket: WebSocket,
    mut cancel: watch::Receiver<Option<String>>,
) -> BridgeEnd {
    let mut bytes = 0u64;
    let mut deadline = tokio::time::Instant::now() + ctx.idle_timeout;
    let mut touched = tokio::time::Instant::now();
    let reason = loop {
        if touched.elapsed() >= Duration::from_secs(30) {
            touched = tokio::time::Instant::now();
            if let Err(e) = store::touch(&ctx.state.db, ctx.id, bytes, ctx.state.now()).await {
                tracing::warn!(error = %e, session = %ctx.id, "touching a session failed");
            }
        }
        tokio::select! {
            r = cancelled(&mut cancel) => {
                let _ = socket.send(Message::Close(None)).await;
                break r;
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = socket.send(Message::Close(None)).await;
                break "idle timeout".to_string();
            }
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break "closed by the browser".to_string(),
                Some(Ok(m)) => {
                    bytes += m.into_data().len() as u64;
                    deadline = tokio::time::Instant::now() + ctx.idle_timeout;
                }
            },
        }
    };
    BridgeEnd {
        bytes,
        reason: Some(reason),
        failed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::HOST,
            host.parse().unwrap_or_else(|_| unreachable!()),
        );
        if let Some(o) = origin {
            h.insert(
                axum::http::header::ORIGIN,
                o.parse().unwrap_or_else(|_| unreachable!()),
            );
        }
        h
    }

    #[test]
    fn origin_must_be_the_servers_own() {
        assert!(origin_allowed(&headers(None, "rmm.example:8443"), None));
        assert!(origin_allowed(
            &headers(Some("https://rmm.example:8443"), "rmm.example:8443"),
            None
        ));
        assert!(origin_allowed(
            &headers(Some("http://RMM.example"), "rmm.example:80"),
            None
        ));
        assert!(!origin_allowed(
            &headers(Some("https://evil.example"), "rmm.example"),
            None
        ));
        assert!(!origin_allowed(
            &headers(Some("https://rmm.example:9999"), "rmm.example:8443"),
            None
        ));
        assert!(!origin_allowed(&headers(Some("null"), "rmm.example"), None));
        // Behind a proxy: the public URL is the console's origin.
        assert!(origin_allowed(
            &headers(Some("https://console.example"), "10.0.0.5:3001"),
            Some("https://console.example/")
        ));
        assert!(!origin_allowed(
            &headers(Some("https://other.example"), "10.0.0.5:3001"),
            Some("https://console.example")
        ));
    }
}
