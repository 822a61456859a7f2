//! The typed client for the agent endpoints (see `breeze_proto::agent`), with
//! bearer tokens kept in `SecretString` and the two-phase token rotation.

use crate::outbox::{Delivery, ResultSink};
use crate::state::{Credentials, StateDir};
use anyhow::Context as _;
use breeze_proto::agent::{
    CommandAck, CommandResult, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse,
    InventoryRequest, SecretToken, paths,
};
use breeze_proto::ids::DeviceId;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("server answered {status}: {body}")]
    Status {
        status: StatusCode,
        body: String,
        /// The `Retry-After` of a 503 or 429: the server is overloaded (or throttling)
        /// and says when to come back.
        retry_after: Option<Duration>,
    },
    #[error("the device was decommissioned on the server (410 Gone)")]
    Decommissioned,
    #[error("could not reach the server: {0}")]
    Network(#[source] reqwest::Error),
    #[error("could not read the server's answer: {0}")]
    Decode(#[source] reqwest::Error),
    #[error("could not save credentials: {0:#}")]
    State(anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Decommissioned => Some(StatusCode::GONE),
            _ => None,
        }
    }

    /// How long the server asked to be left alone (503 or 429 with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The `Retry-After` of a 503 (overloaded) or 429 (throttled) answer.
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    if !matches!(
        resp.status(),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    ) {
        return None;
    }
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::backoff::parse_retry_after)
}

async fn error_from(resp: reqwest::Response) -> ApiError {
    let status = resp.status();
    let retry_after = retry_after(&resp);
    let mut body = resp.text().await.unwrap_or_default();
    body.truncate(500);
    ApiError::Status {
        status,
        body,
        retry_after,
    }
}

/// Enrolls (no token yet). `server` is the base URL.
pub async fn enroll(
    http: &reqwest::Client,
    server: &url::Url,
    req: &EnrollRequest,
) -> Result<EnrollResponse, ApiError> {
    let url = join(server, paths::ENROLL);
    let resp = http
        .post(url)
        .json(req)
        .send()
        .await
        .map_err(ApiError::Network)?;
    if !resp.status().is_success() {
        return Err(error_from(resp).await);
    }
    resp.json().await.map_err(ApiError::Decode)
}

fn join(base: &url::Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}

struct Tokens {
    current: SecretString,
    pending: Option<SecretString>,
}

/// Client for one enrolled agent.
#[derive(Clone)]
pub struct AgentApi {
    http: reqwest::Client,
    base: url::Url,
    agent_id: DeviceId,
    tokens: Arc<Mutex<Tokens>>,
    state: StateDir,
    credentials: Arc<Mutex<Credentials>>,
}

impl AgentApi {
    pub fn new(
        http: reqwest::Client,
        credentials: Credentials,
        state: StateDir,
    ) -> anyhow::Result<Self> {
        let base = crate::config::normalize_server_url(&credentials.server_url)?;
        let tokens = Tokens {
            current: SecretString::from(credentials.auth_token.expose().to_string()),
            pending: credentials
                .pending_token
                .as_ref()
                .map(|t| SecretString::from(t.expose().to_string())),
        };
        Ok(Self {
            http,
            base,
            agent_id: credentials.agent_id,
            tokens: Arc::new(Mutex::new(tokens)),
            state,
            credentials: Arc::new(Mutex::new(credentials)),
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    pub fn agent_id(&self) -> DeviceId {
        self.agent_id
    }

    /// The token other requests use: the confirmed one (a pending rotated token is
    /// used only by the confirming heartbeat).
    pub fn current_token(&self) -> SecretString {
        match self.tokens.lock() {
            Ok(t) => t.current.clone(),
            Err(p) => p.into_inner().current.clone(),
        }
    }

    fn pending_token(&self) -> Option<SecretString> {
        self.tokens.lock().ok().and_then(|t| t.pending.clone())
    }

    /// Applies a change to the stored credentials and saves them (0600, fsync).
    pub fn update_credentials(
        &self,
        change: impl FnOnce(&mut Credentials),
    ) -> Result<(), ApiError> {
        let mut creds = self
            .credentials
            .lock()
            .map_err(|_| ApiError::State(anyhow::anyhow!("credentials lock poisoned")))?;
        change(&mut creds);
        creds.save(&self.state).map_err(ApiError::State)
    }

    fn set_pending(&self, pending: Option<SecretString>) -> Result<(), ApiError> {
        let stored = pending
            .as_ref()
            .map(|p| SecretToken::new(p.expose_secret()));
        self.update_credentials(|c| c.pending_token = stored)?;
        if let Ok(mut t) = self.tokens.lock() {
            t.pending = pending;
        }
        Ok(())
    }

    fn promote_pending(&self) -> Result<(), ApiError> {
        let Some(new) = self.pending_token() else {
            return Ok(());
        };
        let stored = SecretToken::new(new.expose_secret());
        self.update_credentials(|c| {
            c.auth_token = stored;
            c.pending_token = None;
        })?;
        if let Ok(mut t) = self.tokens.lock() {
            t.current = new;
            t.pending = None;
        }
        Ok(())
    }

    /// `POST …/heartbeat`, with the token rotation steps (see `breeze_proto::agent`).
    pub async fn heartbeat(
        &self,
        mut req: HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ApiError> {
        let url = join(&self.base, &paths::heartbeat(self.agent_id));
        let (token, confirming) = match self.pending_token() {
            Some(p) => (p, true),
            None => (self.current_token(), false),
        };
        req.confirm_token_rotation = confirming;
        let mut resp = self.send_heartbeat(&url, &token, &req).await?;
        if confirming && resp.status() == StatusCode::UNAUTHORIZED {
            tracing::warn!("the server refused the rotated token; keeping the previous one");
            self.set_pending(None)?;
            req.confirm_token_rotation = false;
            resp = self
                .send_heartbeat(&url, &self.current_token(), &req)
                .await?;
        } else if confirming && resp.status().is_success() {
            self.promote_pending()?;
            tracing::info!("token rotation confirmed");
        }
        if resp.status() == StatusCode::GONE {
            return Err(ApiError::Decommissioned);
        }
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let body: HeartbeatResponse = resp.json().await.map_err(ApiError::Decode)?;
        if let Some(new) = &body.rotate_token {
            self.set_pending(Some(SecretString::from(new.expose().to_string())))?;
            tracing::info!("server rotated the agent token; confirming with the next heartbeat");
        }
        Ok(body)
    }

    async fn send_heartbeat(
        &self,
        url: &str,
        token: &SecretString,
        req: &HeartbeatRequest,
    ) -> Result<reqwest::Response, ApiError> {
        self.http
            .post(url)
            .bearer_auth(token.expose_secret())
            .json(req)
            .send()
            .await
            .map_err(ApiError::Network)
    }

    /// `PUT …/inventory`.
    pub async fn put_inventory(&self, req: &InventoryRequest) -> Result<(), ApiError> {
        let url = join(&self.base, &paths::inventory(self.agent_id));
        let resp = self
            .http
            .put(url)
            .bearer_auth(self.current_token().expose_secret())
            .json(req)
            .send()
            .await
            .map_err(ApiError::Network)?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(())
    }

    /// `POST …/commands/{id}/ack` (best effort).
    pub async fn ack(&self, ack: &CommandAck) -> Result<(), ApiError> {
        let url = join(
            &self.base,
            &paths::command_ack(self.agent_id, ack.command_id),
        );
        let resp = self
            .http
            .post(url)
            .bearer_auth(self.current_token().expose_secret())
            .json(ack)
            .send()
            .await
            .map_err(ApiError::Network)?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(())
    }

    /// `POST …/commands/{id}/result`.
    pub async fn post_result(&self, result: &CommandResult) -> Delivery {
        let url = join(
            &self.base,
            &paths::command_result(self.agent_id, result.command_id),
        );
        let sent = self
            .http
            .post(url)
            .bearer_auth(self.current_token().expose_secret())
            .json(result)
            .send()
            .await;
        match sent {
            Err(e) => Delivery::Retry(format!("network: {e}")),
            Ok(resp) => match retry_after(&resp) {
                Some(after) => Delivery::Busy {
                    retry_after: after,
                    reason: format!("server answered {}", resp.status()),
                },
                None => classify_result_status(resp.status()),
            },
        }
    }

    /// The WebSocket URL of the channel (`ws`/`wss` from `http`/`https`).
    pub fn channel_url(&self) -> anyhow::Result<url::Url> {
        let mut url = url::Url::parse(&join(&self.base, &paths::channel(self.agent_id)))
            .context("building the channel URL")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| anyhow::anyhow!("cannot use scheme {scheme} for {url}"))?;
        Ok(url)
    }
}

/// How an answer to `…/result` decides the outbox entry's fate.
pub fn classify_result_status(status: StatusCode) -> Delivery {
    if status.is_success() {
        Delivery::Accepted
    } else if status == StatusCode::CONFLICT {
        Delivery::AlreadyRecorded
    } else if matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
    ) {
        Delivery::Undeliverable(format!("server answered {status}"))
    } else {
        Delivery::Retry(format!("server answered {status}"))
    }
}

impl ResultSink for AgentApi {
    fn deliver(
        &self,
        result: &CommandResult,
    ) -> impl std::future::Future<Output = Delivery> + Send {
        self.post_result(result)
    }
}
