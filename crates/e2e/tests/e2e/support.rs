//! Shared helpers: an in-process server on port 0, a small JSON client, first-run setup.

use anyhow::{Context, Result, bail};
use breeze_core::FixedClock;
use breeze_server::config::{AgentsConfig, AuthConfig};
use breeze_server::{App, AppState, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const PASSWORD: &str = "Correct-Horse-Battery-42!";

/// Fast test settings: weakest allowed argon2, short agent intervals.
pub fn test_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        auth: AuthConfig {
            argon2_memory_kib: 8 * 1024,
            argon2_iterations: 1,
            ..AuthConfig::default()
        },
        agents: AgentsConfig {
            heartbeat_interval_secs: 5,
            sweep_interval_secs: 1,
            metrics_flush_millis: 100,
            ..AgentsConfig::default()
        },
        ..Config::default()
    }
}

/// A running in-process server.
pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pub clock: Option<Arc<FixedClock>>,
    pub _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// With `BREEZE_TEST_DATABASE_URL` set: a fresh PostgreSQL schema (so tests run side by
/// side on one database) and the URL pointing at it; else None (SQLite in the data dir).
pub async fn test_database_url() -> Result<Option<String>> {
    let Ok(url) = std::env::var("BREEZE_TEST_DATABASE_URL") else {
        return Ok(None);
    };
    let schema = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    let db = breeze_store::Db::connect_pg_schema(&url, &schema, &Default::default()).await?;
    db.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(Some(format!(
        "{url}{sep}options=-c%20search_path%3D{schema}"
    )))
}

pub async fn start(fixed_clock: bool, tweak: impl FnOnce(&mut Config)) -> Result<TestServer> {
    let dir = tempfile::tempdir()?;
    let mut config = test_config(dir.path());
    config.database_url = test_database_url().await?;
    tweak(&mut config);
    let (app, clock) = if fixed_clock {
        let c = Arc::new(FixedClock::new(chrono::Utc::now()));
        (App::build_with_clock(config, c.clone()).await?, Some(c))
    } else {
        (App::build(config).await?, None)
    };
    let url = format!("http://{}", app.local_addr()?);
    let state = app.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = app
            .run_until(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(TestServer {
        url,
        state,
        clock,
        _dir: dir,
        stop: Some(tx),
    })
}

/// A JSON client for the API, optionally with a bearer token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            http: http(),
        }
    }

    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.with_context(|| format!("calling {path}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v))
    }

    pub async fn get(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Expects a 2xx answer and returns its body.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let (s, v) = self.call(method, path, body).await?;
        if !s.is_success() {
            bail!("{path}: expected success, got {s}: {v}");
        }
        Ok(v)
    }
}

/// Runs first-run setup with the token in `data_dir`; answers the admin's client.
pub async fn setup(base: &str, data_dir: &Path, email: &str) -> Result<Api> {
    let token =
        std::fs::read_to_string(data_dir.join("setup-token")).context("reading the setup token")?;
    let api = Api::new(base);
    let v = api
        .ok(
            reqwest::Method::POST,
            "/api/v1/setup",
            Some(
                json!({"setup_token": token.trim(), "partner_name": "Partner A",
                "admin_name": "Admin A", "admin_email": email, "admin_password": PASSWORD}),
            ),
        )
        .await?;
    let access = v["access_token"]
        .as_str()
        .context("setup answered no access token")?;
    Ok(api.with_token(access))
}

pub async fn login(base: &str, email: &str, password: &str) -> Result<Api> {
    let api = Api::new(base);
    let v = api
        .ok(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await?;
    let access = v["access_token"].as_str().context("no access token")?;
    Ok(api.with_token(access))
}

/// Creates an organization and a site; answers their ids.
pub async fn org_and_site(admin: &Api, name: &str) -> Result<(String, String)> {
    let org = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/orgs",
            Some(json!({"name": name})),
        )
        .await?;
    let org_id = org["id"].as_str().context("org id")?.to_string();
    let site = admin
        .ok(
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{org_id}/sites"),
            Some(json!({"name": format!("{name} HQ")})),
        )
        .await?;
    Ok((org_id, site["id"].as_str().context("site id")?.to_string()))
}

/// Creates a site enrollment key; answers (key id, secret).
pub async fn enrollment_key(admin: &Api, org: &str, site: &str) -> Result<(String, String)> {
    let k = admin
        .ok(
            reqwest::Method::POST,
            "/api/v1/enrollment-keys",
            Some(json!({"org_id": org, "site_id": site, "name": "test key", "max_uses": 50})),
        )
        .await?;
    Ok((
        k["id"].as_str().context("key id")?.to_string(),
        k["key"].as_str().context("key secret")?.to_string(),
    ))
}

/// Polls `f` every 50 ms until it answers `Some`, or fails after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
