//! A typed client for the Breeze HTTP API, used by the CLI, the tests and the load tools.
//! Typed helpers cover the common flows; `get`/`post`/`patch`/`delete` reach any route.

use breeze_proto::api::*;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod events;
pub use events::{EventStream, SseParser};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status and body.
    #[error("HTTP {status}: {body:?}")]
    Api {
        status: StatusCode,
        body: Option<ErrorBody>,
        raw: String,
    },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("bad url: {0}")]
    Url(#[from] url::ParseError),
    #[error("unexpected body: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `field` an API error names.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Api { body: Some(b), .. } => b.error.field.as_deref(),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body: Some(b), .. } => Some(b.error.code.as_str()),
            _ => None,
        }
    }

    /// The human-readable `message` of an API error.
    pub fn message(&self) -> Option<&str> {
        match self {
            ClientError::Api { body: Some(b), .. } => Some(b.error.message.as_str()),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

#[derive(Clone, Debug)]
pub struct BreezeClient {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl BreezeClient {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:3001`).
    pub fn new(base: &str) -> Result<Self> {
        // reqwest is built without a bundled crypto provider; the workspace uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("breeze-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(BreezeClient {
            base: url::Url::parse(base)?,
            http,
            token: None,
        })
    }

    /// The same server, authenticated with `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        BreezeClient {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// Sends a request and answers the status and raw body, whatever the status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, String)> {
        let mut req = self.http.request(method, self.base.join(path)?);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        Ok((status, resp.text().await?))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let (status, text) = self.raw(method, path, body).await?;
        if !status.is_success() {
            return Err(ClientError::Api {
                status,
                body: serde_json::from_str(&text).ok(),
                raw: text,
            });
        }
        serde_json::from_str(if text.is_empty() { "null" } else { &text })
            .map_err(|e| ClientError::Decode(format!("{e}: {text}")))
    }

    fn json<B: Serialize>(b: &B) -> Result<serde_json::Value> {
        serde_json::to_value(b).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(Method::POST, path, Some(&Self::json(body)?))
            .await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::PATCH, path, Some(&Self::json(body)?))
            .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn delete_with<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::DELETE, path, Some(&Self::json(body)?))
            .await
    }

    // ------------------------------------------------------------ typed helpers

    pub async fn setup_status(&self) -> Result<SetupStatus> {
        self.get("/api/v1/setup/status").await
    }

    pub async fn setup(&self, req: &SetupRequest) -> Result<TokenPair> {
        self.post("/api/v1/setup", req).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<LoginResponse> {
        self.post(
            "/api/v1/auth/login",
            &LoginRequest {
                email: email.into(),
                password: password.into(),
            },
        )
        .await
    }

    /// Logs in (without MFA) and answers an authenticated client.
    pub async fn login_as(&self, email: &str, password: &str) -> Result<BreezeClient> {
        let r = self.login(email, password).await?;
        let t = r
            .tokens
            .ok_or_else(|| ClientError::Decode("MFA required".into()))?;
        Ok(self.with_token(t.access_token))
    }

    pub async fn mfa_setup(&self) -> Result<MfaSetupResponse> {
        self.post("/api/v1/auth/mfa/setup", &serde_json::json!({}))
            .await
    }

    pub async fn mfa_verify(
        &self,
        mfa_token: Option<&str>,
        code: &str,
    ) -> Result<MfaVerifyResponse> {
        self.post(
            "/api/v1/auth/mfa/verify",
            &MfaVerifyRequest {
                mfa_token: mfa_token.map(str::to_string),
                code: code.into(),
            },
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        self.post(
            "/api/v1/auth/refresh",
            &RefreshRequest {
                refresh_token: refresh_token.into(),
            },
        )
        .await
    }

    pub async fn logout(&self) -> Result<OkBody> {
        self.post(
            "/api/v1/auth/logout",
            &LogoutRequest {
                refresh_token: None,
            },
        )
        .await
    }

    pub async fn me(&self) -> Result<Me> {
        self.get("/api/v1/auth/me").await
    }

    pub async fn create_org(&self, req: &CreateOrganization) -> Result<Organization> {
        self.post("/api/v1/orgs", req).await
    }

    pub async fn orgs(&self) -> Result<Page<Organization>> {
        self.get("/api/v1/orgs?limit=500").await
    }

    pub async fn create_site(
        &self,
        org: breeze_proto::ids::OrgId,
        req: &CreateSite,
    ) -> Result<Site> {
        self.post(&format!("/api/v1/orgs/{org}/sites"), req).await
    }

    pub async fn invite(&self, req: &InviteUser) -> Result<Invited> {
        self.post("/api/v1/users", req).await
    }

    /// The caller's partner's settings.
    pub async fn settings(&self) -> Result<Settings> {
        self.get("/api/v1/settings").await
    }

    pub async fn update_settings(&self, req: &UpdateSettings) -> Result<Settings> {
        self.patch("/api/v1/settings", req).await
    }

    /// Sends a test message to the caller through the partner's saved SMTP settings.
    pub async fn test_smtp(&self) -> Result<SmtpTestResult> {
        self.post("/api/v1/settings/smtp/test", &serde_json::json!({}))
            .await
    }

    /// Running processes of a device (its agent's latest snapshot), a page at a time.
    pub async fn device_processes(
        &self,
        device: breeze_proto::ids::DeviceId,
        params: &ListParams,
    ) -> Result<Page<breeze_proto::agent::ProcessInfo>> {
        self.get(&with_query(
            &format!("/api/v1/devices/{device}/processes"),
            params,
        ))
        .await
    }

    /// Users logged in on a device (its agent's latest snapshot), a page at a time.
    pub async fn device_users(
        &self,
        device: breeze_proto::ids::DeviceId,
        params: &ListParams,
    ) -> Result<Page<breeze_proto::agent::LoggedInUser>> {
        self.get(&with_query(
            &format!("/api/v1/devices/{device}/users"),
            params,
        ))
        .await
    }

    /// Installed software of a device by name, a page at a time, with the total.
    pub async fn device_software(
        &self,
        device: breeze_proto::ids::DeviceId,
        query: &SoftwareQuery,
    ) -> Result<SoftwarePage> {
        let params = ListParams {
            limit: query.limit,
            cursor: query.cursor.clone(),
            sort: None,
            q: query.q.clone(),
        };
        self.get(&with_query(
            &format!("/api/v1/devices/{device}/software"),
            &params,
        ))
        .await
    }

    /// A device's history (status changes, commands' results …), newest first.
    pub async fn device_events(
        &self,
        device: breeze_proto::ids::DeviceId,
        query: &HistoryQuery,
    ) -> Result<Page<DeviceEvent>> {
        let params = ListParams {
            limit: query.limit,
            cursor: query.cursor.clone(),
            sort: None,
            q: None,
        };
        self.get(&with_query(
            &format!("/api/v1/devices/{device}/events"),
            &params,
        ))
        .await
    }

    pub async fn accept_invite(&self, token: &str, password: &str) -> Result<TokenPair> {
        self.post(
            "/api/v1/auth/accept-invite",
            &AcceptInviteRequest {
                token: token.into(),
                password: password.into(),
                name: None,
            },
        )
        .await
    }
}

/// `path?limit=…&cursor=…&sort=…&q=…` with the parameters that are set.
fn with_query(path: &str, p: &ListParams) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(v) = p.limit {
        q.append_pair("limit", &v.to_string());
    }
    for (k, v) in [("cursor", &p.cursor), ("sort", &p.sort), ("q", &p.q)] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}
