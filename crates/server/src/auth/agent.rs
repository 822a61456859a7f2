//! Agent authentication: `Authorization: Bearer <token>` on every agent request but
//! enrollment. Tokens are stored only as SHA-256. A token presented for another
//! device's path suspends that token (seed 000 `agentTokenSuspendedAt`), is audited,
//! and answers 404 like any object out of reach; a suspended token answers 401.

use crate::audit::{AuditEvent, ClientMeta};
use crate::auth::tokens;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use breeze_proto::ids::DeviceId;
use breeze_store::agents::{self, AgentDevice};
use serde_json::json;

/// Prefix of agent bearer tokens.
pub const AGENT: &str = "bzt";

/// What an agent request may use its token for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// A heartbeat: the pending token of a rotation is accepted (to confirm it), and a
    /// decommissioned device answers 410.
    Heartbeat,
    Other,
}

pub struct AgentAuth {
    pub device: AgentDevice,
    pub token_hash: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Authenticates an agent request for the device in the path.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    path_device: DeviceId,
    meta: &ClientMeta,
    usage: Use,
) -> Result<AgentAuth, ApiError> {
    let token =
        bearer(headers).ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
    let hash = tokens::hash(token);
    let device = agents::device_by_token_hash_for_agent(&state.db, &hash)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the agent token is invalid".into()))?;
    if device.agent_token_suspended_at.is_some() {
        return Err(ApiError::Unauthorized(
            "the agent token is suspended".into(),
        ));
    }
    if device.device_id() != path_device {
        suspend_for_misuse(
            state,
            &device,
            meta,
            "token used for another device's resources",
            json!({"requested_device_id": path_device}),
        )
        .await?;
        return Err(ApiError::NotFound);
    }
    if device.is_pending_token(&hash) && usage != Use::Heartbeat {
        return Err(ApiError::Unauthorized(
            "this token is not confirmed yet".into(),
        ));
    }
    if device.status == "decommissioned" {
        return Err(ApiError::Gone("the device was decommissioned".into()));
    }
    // A suspended or churned organization's agents are refused and keep their state:
    // nothing about the device changes until the organization is active again.
    if breeze_core::org_status::is_read_only(&device.org_status) {
        return Err(ApiError::org_read_only(&device.org_status));
    }
    Ok(AgentAuth {
        device,
        token_hash: hash,
    })
}

/// An agent token touched another device's data (its path, or a command of another
/// device on its own path): the token is suspended (seed 000 `agentTokenSuspendedAt`),
/// the agent's channel is closed, and the attempt is audited. The caller answers 404,
/// like any object out of reach.
pub async fn suspend_for_misuse(
    state: &AppState,
    device: &AgentDevice,
    meta: &ClientMeta,
    reason: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    agents::suspend_token_for_agent(
        &state.db,
        device.device_id(),
        reason,
        meta.ip.as_deref(),
        state.now(),
    )
    .await?;
    state.hub.disconnect(device.device_id());
    state
        .record(
            AuditEvent::new("agent.token.suspended", "device")
                .by_agent(device)
                .client(meta)
                .resource(device.device_id(), Some(&device.hostname))
                .details(details)
                .failed("denied", reason.to_string()),
            None,
        )
        .await?;
    Ok(())
}
