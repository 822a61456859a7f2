//! Configuration: a value built once (file, then `BREEZE_*` environment / command-line
//! overrides, then validation that explains what is wrong) and passed to `App::build`.

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, keys and the setup token live.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/breeze.db`.
    pub database_url: Option<String>,
    /// The address users reach the console at, for links in e-mails (default `http://<listen>`).
    pub public_url: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// Base64 of 32 bytes; when absent, `<data_dir>/master.key` (created on first start).
    pub master_key: Option<SecretString>,
    /// Base64 of an ed25519 32-byte seed; when absent, `<data_dir>/signing.key`.
    pub signing_key: Option<SecretString>,
    pub max_body_bytes: usize,
    pub db_max_connections: u32,
    pub auth: AuthConfig,
    pub smtp: Option<SmtpConfig>,
    pub agents: AgentsConfig,
    pub metrics: MetricsConfig,
    /// `[outbound]`: the outbound-address guard, deadlines and the delivery queue.
    pub outbound: crate::notify::guard::OutboundConfig,
    /// `[remote]`: remote sessions (idle timeout, terminal recordings).
    pub remote: RemoteConfig,
    /// `[server]`: how much work the server takes at once (overload protection).
    pub server: ServerConfig,
    /// NATS server URL (`nats://host:4222`): set it to run several replicas on one
    /// PostgreSQL database; they tell each other of wake-ups, live events and cache
    /// changes over it. Unset: one process (`--nats-url` / `BREEZE_NATS_URL`).
    pub nats_url: Option<String>,
    /// Subject prefix on NATS: replicas with the same prefix form one cluster
    /// (`BREEZE_NATS_PREFIX`).
    pub nats_prefix: String,
    /// `http://HOST:PORT` at which the other replicas reach this one, to carry a remote
    /// session's streams to the agent channel held here (`--advertise-url` /
    /// `BREEZE_ADVERTISE_URL`). Default: `http://<listen>`, or `http://<host name>:<port>`
    /// when listening on every address. Only other replicas use it; the proxy in front
    /// need not route to it.
    pub advertise_url: Option<String>,
}

/// `[server]`: the bound on requests in flight per route class (see `crate::overload`).
/// A request over its class's bound waits at most `overload_wait_millis` for a place
/// (at most as many wait as the bound allows in flight), then is answered 503
/// `overloaded` with `Retry-After`. An unset bound is derived from the machine (see
/// [`Config::in_flight_limits`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Agent telemetry: heartbeats, inventory, command acknowledgements and results
    /// (`BREEZE_MAX_IN_FLIGHT_AGENT`).
    pub max_in_flight_agent: Option<u32>,
    /// Sign-in and credential routes: login, refresh, MFA verification, agent enrollment,
    /// password reset, invitation acceptance, first-run setup (`BREEZE_MAX_IN_FLIGHT_LOGIN`).
    pub max_in_flight_login: Option<u32>,
    /// Every other route under `/api` (`BREEZE_MAX_IN_FLIGHT_API`).
    pub max_in_flight_api: Option<u32>,
    /// How long a request over the bound may wait for a place; 0 sheds at once
    /// (`BREEZE_OVERLOAD_WAIT_MILLIS`).
    pub overload_wait_millis: u64,
    /// A shed request's `Retry-After` is drawn from `[n, 2n]` seconds, so the clients
    /// told to come back do not all come back in the same second
    /// (`BREEZE_OVERLOAD_RETRY_AFTER_SECS`).
    pub overload_retry_after_secs: u64,
    /// On SIGTERM, how long connected agents get to move to another replica (they are
    /// told to reconnect within a random part of it) before the listener closes
    /// (`BREEZE_DRAIN_SECS`).
    pub drain_secs: u64,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed: behind
    /// one, the client's address (audit rows, sign-in throttling, agent addresses) is the
    /// last address in that header not itself a trusted proxy. Empty: the peer address
    /// (`BREEZE_TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_in_flight_agent: None,
            max_in_flight_login: None,
            max_in_flight_api: None,
            overload_wait_millis: 100,
            overload_retry_after_secs: 5,
            drain_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// `trusted_proxies` parsed (a bare address is a range of one).
    pub fn trusted_proxy_ranges(&self) -> anyhow::Result<Vec<breeze_core::outbound::Cidr>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                let cidr = if p.contains('/') {
                    p.to_string()
                } else if p.contains(':') {
                    format!("{p}/128")
                } else {
                    format!("{p}/32")
                };
                breeze_core::outbound::Cidr::parse(&cidr)
                    .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))
            })
            .collect()
    }
}

/// The resolved bounds of [`ServerConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlightLimits {
    pub agent: u32,
    pub login: u32,
    pub api: u32,
}

/// The largest bound a class may be given.
const MAX_IN_FLIGHT: u32 = 100_000;

impl ServerConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("max_in_flight_agent", self.max_in_flight_agent),
            ("max_in_flight_login", self.max_in_flight_login),
            ("max_in_flight_api", self.max_in_flight_api),
        ] {
            if let Some(v) = v
                && !(1..=MAX_IN_FLIGHT).contains(&v)
            {
                bail!("server.{name} must be between 1 and {MAX_IN_FLIGHT}, got {v}");
            }
        }
        if self.overload_wait_millis > 10_000 {
            bail!(
                "server.overload_wait_millis must be at most 10000 (a request over the bound should be answered soon), got {}",
                self.overload_wait_millis
            );
        }
        self.trusted_proxy_ranges()?;
        if self.drain_secs > 600 {
            bail!(
                "server.drain_secs must be at most 600, got {}",
                self.drain_secs
            );
        }
        if !(1..=3600).contains(&self.overload_retry_after_secs) {
            bail!(
                "server.overload_retry_after_secs must be between 1 and 3600, got {}",
                self.overload_retry_after_secs
            );
        }
        Ok(())
    }
}

/// `[remote]`: remote sessions (issue 12).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// Terminal sessions are recorded as asciicast v2 under `<data_dir>/recordings/`.
    pub record_sessions: bool,
    /// Recordings older than this are deleted by the sweep.
    pub recording_retention_days: i64,
    /// A recording stops growing past this many bytes (the session goes on; the file
    /// ends with a note).
    pub recording_max_bytes: u64,
    /// A session with no byte either way for this long is closed.
    pub idle_timeout_secs: u64,
    /// Desktop frames may go device → browser over WebRTC (the relay stays the fallback).
    /// Env: `BREEZE_REMOTE_WEBRTC=true|false`.
    pub webrtc: bool,
    /// STUN/TURN servers the browser and the agent use for WebRTC. Env:
    /// `BREEZE_REMOTE_ICE_SERVERS` as a JSON list of `{urls, username?, credential?}`.
    pub ice_servers: Vec<IceServerConfig>,
}

/// One `[[remote.ice_servers]]` entry: `stun:`/`stuns:` URLs, or `turn:`/`turns:` URLs with
/// the TURN account.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServerConfig {
    pub urls: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub credential: Option<SecretString>,
}

impl IceServerConfig {
    fn validate(&self, i: usize) -> anyhow::Result<()> {
        if self.urls.is_empty() {
            bail!("remote.ice_servers[{i}].urls must name at least one stun:/turn: URL");
        }
        for u in &self.urls {
            let scheme = u.split_once(':').map(|(s, _)| s).unwrap_or_default();
            let rest = u.split_once(':').map(|(_, r)| r).unwrap_or_default();
            match scheme {
                "stun" | "stuns" | "turn" | "turns" if !rest.trim().is_empty() => {}
                _ => bail!(
                    "remote.ice_servers[{i}]: `{u}` is not a stun:, stuns:, turn: or turns: URL"
                ),
            }
            if scheme.starts_with("turn") {
                use secrecy::ExposeSecret as _;
                let user = self.username.as_deref().unwrap_or_default();
                let pass = self
                    .credential
                    .as_ref()
                    .map(|c| c.expose_secret().to_string())
                    .unwrap_or_default();
                if user.is_empty() || pass.is_empty() {
                    bail!(
                        "remote.ice_servers[{i}]: TURN server `{u}` needs username and credential"
                    );
                }
            }
        }
        Ok(())
    }
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            record_sessions: true,
            recording_retention_days: 30,
            recording_max_bytes: 64 * 1024 * 1024,
            idle_timeout_secs: 900,
            webrtc: true,
            ice_servers: Vec::new(),
        }
    }
}

impl RemoteConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=3650).contains(&self.recording_retention_days) {
            bail!("remote.recording_retention_days must be between 1 and 3650");
        }
        if !(1..=7 * 24 * 3600).contains(&self.idle_timeout_secs) {
            bail!("remote.idle_timeout_secs must be between 1 and 604800");
        }
        if self.recording_max_bytes < 4096 {
            bail!("remote.recording_max_bytes must be at least 4096");
        }
        for (i, s) in self.ice_servers.iter().enumerate() {
            s.validate(i)?;
        }
        Ok(())
    }

    /// The ICE servers browsers and agents get, or `None` when WebRTC is off.
    pub fn rtc_ice_servers(&self) -> Option<Vec<breeze_proto::agent::remote_desktop::IceServer>> {
        use secrecy::ExposeSecret as _;
        self.webrtc.then(|| {
            self.ice_servers
                .iter()
                .map(|s| breeze_proto::agent::remote_desktop::IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.as_ref().map(|c| c.expose_secret().to_string()),
                })
                .collect()
        })
    }
}

/// `[metrics]`: who may read `/metrics`. By default nobody on the main listener (it
/// answers 404): the counters tell anyone how many agents report and how logins fare.
/// `token` asks scrapers for `Authorization: Bearer <token>` (also `BREEZE_METRICS_TOKEN`);
/// `listen` serves `/metrics` alone on a separate address (the main listener then answers
/// 404 for it); `public = true` serves it to anyone on the main listener.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub token: Option<SecretString>,
    pub listen: Option<SocketAddr>,
    pub public: bool,
}

/// `[agents]`: what the server tells agents and how it judges them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    pub heartbeat_interval_secs: u64,
    pub inventory_interval_secs: u64,
    pub ws_enabled: bool,
    pub max_output_bytes: u64,
    pub default_script_timeout_secs: u64,
    pub max_backoff_secs: u64,
    pub collect_processes: bool,
    pub collect_software: bool,
    /// A device is marked offline after this many missed heartbeats.
    pub offline_after_missed: u32,
    /// How long a queued command may wait for its agent (default expiry).
    pub command_ttl_secs: i64,
    /// Age after which an agent token is rotated (two-phase, on heartbeat).
    pub token_rotation_secs: i64,
    /// How long a device enrollment token of a pre-created device stays valid (seed 001: 24 h).
    pub device_token_ttl_hours: i64,
    /// How often the offline, expiry and metrics jobs run.
    pub sweep_interval_secs: u64,
    /// Metrics samples and steady-state heartbeats (last seen time and address, agent
    /// fields) are buffered and written together at least this often. At most a
    /// quarter of the offline window, so the offline sweep on another replica never
    /// sees a heartbeat that still waits here as missing.
    pub metrics_flush_millis: u64,
    pub metrics_raw_retention_hours: i64,
    pub metrics_5m_retention_days: i64,
    pub metrics_1h_retention_days: i64,
    /// Where the agent binaries served at `/download/agent/{os}-{arch}` are
    /// (`breeze-agent-<os>-<arch>[.exe]`; the server's own platform may also be plain
    /// `breeze-agent`). Unset: next to the server executable, and in a cargo target
    /// directory also `target/<triple>/<profile>/breeze-agent` (see `agent_dist`).
    pub dist_dir: Option<PathBuf>,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            heartbeat_interval_secs: 60,
            inventory_interval_secs: 900,
            ws_enabled: true,
            max_output_bytes: 1024 * 1024,
            default_script_timeout_secs: 3600,
            max_backoff_secs: 300,
            collect_processes: true,
            collect_software: true,
            offline_after_missed: 3,
            command_ttl_secs: 3600,
            token_rotation_secs: 30 * 24 * 3600,
            device_token_ttl_hours: 24,
            sweep_interval_secs: 15,
            metrics_flush_millis: 1000,
            metrics_raw_retention_hours: 48,
            metrics_5m_retention_days: 30,
            metrics_1h_retention_days: 365,
            dist_dir: None,
        }
    }
}

impl AgentsConfig {
    /// Devices last seen before this are offline: `offline_after_missed` heartbeats
    /// missed, plus one interval of grace for network and scheduling delays.
    pub fn offline_cutoff(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        let missed = i64::from(self.offline_after_missed);
        let interval = i64::try_from(self.heartbeat_interval_secs).unwrap_or(60);
        now - chrono::Duration::seconds(interval * missed + interval)
    }

    /// The configuration agents receive.
    pub fn agent_config(&self) -> breeze_proto::agent::AgentConfig {
        breeze_proto::agent::AgentConfig {
            heartbeat_interval_secs: self.heartbeat_interval_secs,
            inventory_interval_secs: self.inventory_interval_secs,
            ws_enabled: self.ws_enabled,
            max_output_bytes: self.max_output_bytes,
            default_script_timeout_secs: self.default_script_timeout_secs,
            max_backoff_secs: self.max_backoff_secs,
            collect_processes: self.collect_processes,
            collect_software: self.collect_software,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(5..=3600).contains(&self.heartbeat_interval_secs) {
            bail!("agents.heartbeat_interval_secs must be between 5 and 3600");
        }
        if self.offline_after_missed == 0 {
            bail!("agents.offline_after_missed must be at least 1");
        }
        if !(10..=30 * 24 * 3600).contains(&self.command_ttl_secs) {
            bail!("agents.command_ttl_secs must be between 10 and 2592000");
        }
        if self.token_rotation_secs < 60 {
            bail!("agents.token_rotation_secs must be at least 60");
        }
        if !(1..=24 * 30).contains(&self.device_token_ttl_hours) {
            bail!("agents.device_token_ttl_hours must be between 1 and 720");
        }
        if self.sweep_interval_secs == 0 || self.metrics_flush_millis == 0 {
            bail!("agents.sweep_interval_secs and agents.metrics_flush_millis must be positive");
        }
        let offline_window_millis = self
            .heartbeat_interval_secs
            .saturating_mul(u64::from(self.offline_after_missed) + 1)
            .saturating_mul(1000);
        if self.metrics_flush_millis.saturating_mul(4) > offline_window_millis {
            bail!(
                "agents.metrics_flush_millis must be at most {} (a quarter of the offline window, \
                 heartbeat_interval_secs × (offline_after_missed + 1)): heartbeats wait that long \
                 before they are written",
                offline_window_millis / 4
            );
        }
        if self.metrics_raw_retention_hours < 1
            || self.metrics_5m_retention_days < 1
            || self.metrics_1h_retention_days < 1
        {
            bail!("agents.metrics_*_retention_* must be positive");
        }
        if let Some(d) = &self.dist_dir
            && !d.is_dir()
        {
            bail!(
                "agents.dist_dir `{}` is not a directory (it holds the agent binaries to serve)",
                d.display()
            );
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    /// Failed logins per account within `throttle_window_secs` before 429.
    pub max_failures_per_account: u32,
    /// Failed logins per client IP within the window before 429.
    pub max_failures_per_ip: u32,
    pub throttle_window_secs: i64,
    /// argon2id memory in KiB, iterations and lanes (OWASP: 19456 KiB, 2, 1).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub reset_token_ttl_mins: i64,
    pub invite_ttl_hours: i64,
    /// How often an open event stream re-checks its access token (logout, disabled
    /// account, changed roles); it also ends when the token expires.
    pub stream_recheck_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            max_failures_per_account: 5,
            max_failures_per_ip: 30,
            throttle_window_secs: 15 * 60,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            reset_token_ttl_mins: 30,
            invite_ttl_hours: 72,
            stream_recheck_secs: 60,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    /// `none`, `starttls` (default) or `tls`.
    #[serde(default = "default_smtp_tls")]
    pub tls: String,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_tls() -> String {
    "starttls".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./breeze-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            database_url: None,
            public_url: None,
            log_format: "text".into(),
            master_key: None,
            signing_key: None,
            max_body_bytes: 1024 * 1024,
            db_max_connections: 16,
            auth: AuthConfig::default(),
            smtp: None,
            agents: AgentsConfig::default(),
            metrics: MetricsConfig::default(),
            outbound: Default::default(),
            remote: RemoteConfig::default(),
            server: ServerConfig::default(),
            nats_url: None,
            nats_prefix: "breeze".into(),
            advertise_url: None,
        }
    }
}

/// Values given on the command line or in `BREEZE_*` variables; they win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    /// `--agent-dir` / `BREEZE_AGENT_DIR`: `[agents] dist_dir`.
    pub agent_dir: Option<PathBuf>,
    /// `--nats-url` / `BREEZE_NATS_URL`.
    pub nats_url: Option<String>,
    /// `--advertise-url` / `BREEZE_ADVERTISE_URL`.
    pub advertise_url: Option<String>,
}

/// A number from the environment variable `var`, when it is set; an unparsable value is
/// an error naming the variable.
fn env_number<T: std::str::FromStr>(var: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{var} must be a number, got `{v}`: {e}")),
        Err(_) => Ok(None),
    }
}

impl Config {
    /// Reads the optional file, applies overrides and validates.
    pub fn load(file: Option<&Path>, o: Overrides) -> anyhow::Result<Config> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => Config::default(),
        };
        if let Some(v) = o.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = o.listen {
            c.listen = v;
        }
        if let Some(v) = o.database_url {
            c.database_url = Some(v);
        }
        if let Some(v) = o.public_url {
            c.public_url = Some(v);
        }
        if let Some(v) = o.log_format {
            c.log_format = v;
        }
        if let Some(v) = o.agent_dir {
            c.agents.dist_dir = Some(v);
        }
        if let Some(v) = o.nats_url.filter(|v| !v.trim().is_empty()) {
            c.nats_url = Some(v);
        }
        if let Some(v) = o.advertise_url.filter(|v| !v.trim().is_empty()) {
            c.advertise_url = Some(v);
        }
        if let Ok(v) = std::env::var("BREEZE_NATS_PREFIX") {
            c.nats_prefix = v;
        }
        if let Ok(v) = std::env::var("BREEZE_SMTP_HOST") {
            let smtp = c.smtp.get_or_insert(SmtpConfig {
                host: v.clone(),
                port: default_smtp_port(),
                username: None,
                password: None,
                from: "breeze@localhost".into(),
                tls: default_smtp_tls(),
            });
            smtp.host = v;
            if let Some(p) = std::env::var("BREEZE_SMTP_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
            {
                smtp.port = p;
            }
            if let Ok(f) = std::env::var("BREEZE_SMTP_FROM") {
                smtp.from = f;
            }
            if let Ok(t) = std::env::var("BREEZE_SMTP_TLS") {
                smtp.tls = t;
            }
            if let Ok(u) = std::env::var("BREEZE_SMTP_USERNAME") {
                smtp.username = Some(u);
            }
            if let Ok(p) = std::env::var("BREEZE_SMTP_PASSWORD") {
                smtp.password = Some(p.into());
            }
        }
        if let Ok(t) = std::env::var("BREEZE_METRICS_TOKEN") {
            c.metrics.token = Some(t.into());
        }
        for (var, slot) in [
            (
                "BREEZE_MAX_IN_FLIGHT_AGENT",
                &mut c.server.max_in_flight_agent,
            ),
            (
                "BREEZE_MAX_IN_FLIGHT_LOGIN",
                &mut c.server.max_in_flight_login,
            ),
            ("BREEZE_MAX_IN_FLIGHT_API", &mut c.server.max_in_flight_api),
        ] {
            if let Some(v) = env_number(var)? {
                *slot = Some(v);
            }
        }
        if let Some(v) = env_number("BREEZE_OVERLOAD_WAIT_MILLIS")? {
            c.server.overload_wait_millis = v;
        }
        if let Some(v) = env_number("BREEZE_OVERLOAD_RETRY_AFTER_SECS")? {
            c.server.overload_retry_after_secs = v;
        }
        if let Some(v) = env_number("BREEZE_DRAIN_SECS")? {
            c.server.drain_secs = v;
        }
        if let Ok(v) = std::env::var("BREEZE_TRUSTED_PROXIES") {
            c.server.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect();
        }
        if let Ok(v) = std::env::var("BREEZE_OUTBOUND_ALLOW") {
            let entries: Vec<&str> = v.split(',').filter(|e| !e.trim().is_empty()).collect();
            c.outbound.allow = breeze_core::outbound::AllowList::parse(&entries)
                .map_err(|e| anyhow::anyhow!("BREEZE_OUTBOUND_ALLOW: {e}"))?;
        }
        if let Ok(v) = std::env::var("BREEZE_REMOTE_WEBRTC") {
            c.remote.webrtc = match v.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => bail!("BREEZE_REMOTE_WEBRTC must be true or false, got `{other}`"),
            };
        }
        if let Ok(v) = std::env::var("BREEZE_REMOTE_ICE_SERVERS") {
            c.remote.ice_servers = serde_json::from_str(&v).context(
                "BREEZE_REMOTE_ICE_SERVERS must be a JSON list of {urls, username?, credential?}",
            )?;
        }
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format must be `text` or `json`, got `{}`",
                self.log_format
            );
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres:")
                || url.starts_with("postgresql:"))
        {
            bail!("database_url must start with sqlite:, postgres: or postgresql:");
        }
        if let Some(u) = &self.nats_url {
            let parsed =
                url::Url::parse(u).with_context(|| format!("nats_url `{u}` is not a URL"))?;
            if !matches!(parsed.scheme(), "nats" | "tls") || parsed.host_str().is_none() {
                bail!("nats_url must look like nats://HOST:PORT (or tls://HOST:PORT), got `{u}`");
            }
        }
        if self.nats_prefix.is_empty()
            || self.nats_prefix.len() > 64
            || !self
                .nats_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!(
                "nats_prefix must be 1 to 64 letters, digits, `_` or `-`, got `{}`",
                self.nats_prefix
            );
        }
        if let Some(u) = &self.public_url {
            url::Url::parse(u).with_context(|| format!("public_url `{u}` is not a URL"))?;
        }
        if let Some(u) = &self.advertise_url {
            let parsed =
                url::Url::parse(u).with_context(|| format!("advertise_url `{u}` is not a URL"))?;
            if parsed.scheme() != "http"
                || parsed.host_str().is_none()
                || !parsed.path().trim_end_matches('/').is_empty()
            {
                bail!(
                    "advertise_url must look like http://HOST:PORT (the replicas' own network; \
                     TLS belongs on the proxy), got `{u}`"
                );
            }
        }
        let a = &self.auth;
        if !(60..=3600).contains(&a.access_ttl_secs) {
            bail!("auth.access_ttl_secs must be between 60 and 3600");
        }
        if !(1..=3600).contains(&a.stream_recheck_secs) {
            bail!("auth.stream_recheck_secs must be between 1 and 3600");
        }
        if !(1..=365).contains(&a.refresh_ttl_days) {
            bail!("auth.refresh_ttl_days must be between 1 and 365");
        }
        if a.argon2_memory_kib < 8 * 1024 || a.argon2_iterations < 1 || a.argon2_parallelism < 1 {
            bail!(
                "auth.argon2_* are below safe minimums (memory ≥ 8192 KiB, iterations ≥ 1, parallelism ≥ 1)"
            );
        }
        if a.max_failures_per_account == 0 || a.max_failures_per_ip == 0 {
            bail!("auth.max_failures_* must be at least 1");
        }
        self.agents.validate()?;
        if let Some(t) = &self.metrics.token {
            use secrecy::ExposeSecret as _;
            if t.expose_secret().trim().len() < 16 {
                bail!("metrics.token must be at least 16 characters");
            }
        }
        self.outbound.validate()?;
        self.remote.validate()?;
        self.server.validate()?;
        if self.db_max_connections == 0 {
            bail!("db_max_connections must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if let Some(s) = &self.smtp {
            if !matches!(s.tls.as_str(), "none" | "starttls" | "tls") {
                bail!("smtp.tls must be none, starttls or tls");
            }
            if s.host.is_empty() || !s.from.contains('@') {
                bail!("smtp.host must be set and smtp.from must be an e-mail address");
            }
        }
        Ok(())
    }

    /// The in-flight bounds, each the configured one or, when unset, derived:
    ///
    /// * agent telemetry: `db_max_connections` (16 with the default pool). A heartbeat
    ///   let in beyond the pool would only wait for a connection inside its handler, in a
    ///   queue that is neither bounded nor shed; waiting here instead, it is shed after
    ///   `overload_wait_millis` and the accepted ones stay fast. Measured at twice the
    ///   load a 2-core machine takes (BENCHMARKS.md, "Overload"): 16 in flight against
    ///   the former 64, accepted p99 101 against 158 ms on SQLite and 57 against 141 ms
    ///   on PostgreSQL, at about the same throughput (+3 % and −8 %);
    /// * user API: 2 × `db_max_connections` (32): pages do several queries each;
    /// * logins: 4 × the CPU cores (8 on 2 cores): their cost is the argon2 hash (~50 ms
    ///   of one core with the default parameters in a release build), not the database, so
    ///   more in flight than a few per core only makes every login slower.
    pub fn in_flight_limits(&self) -> InFlightLimits {
        let pool = self.db_max_connections.max(1);
        let cores = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(2);
        let s = &self.server;
        InFlightLimits {
            agent: s
                .max_in_flight_agent
                .unwrap_or_else(|| pool.min(MAX_IN_FLIGHT)),
            login: s
                .max_in_flight_login
                .unwrap_or_else(|| cores.saturating_mul(4).clamp(4, MAX_IN_FLIGHT)),
            api: s
                .max_in_flight_api
                .unwrap_or_else(|| pool.saturating_mul(2).min(MAX_IN_FLIGHT)),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("breeze.db").display()))
    }

    /// Where the other replicas reach this one (see [`Config::advertise_url`]), without a
    /// trailing `/`.
    pub fn advertise_url(&self) -> String {
        self.advertise_url_at(self.listen)
    }

    /// [`Config::advertise_url`] for a server listening on `listen`.
    pub fn advertise_url_at(&self, listen: SocketAddr) -> String {
        if let Some(u) = &self.advertise_url {
            return u.trim_end_matches('/').to_string();
        }
        if listen.ip().is_unspecified() {
            let host = host_name().unwrap_or_else(|| "localhost".into());
            format!("http://{host}:{}", listen.port())
        } else {
            format!("http://{listen}")
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }
}

/// This machine's host name, when the kernel tells it.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn remote(toml_text: &str) -> anyhow::Result<RemoteConfig> {
        let c: Config = toml::from_str(toml_text)?;
        c.remote.validate()?;
        Ok(c.remote)
    }

    #[test]
    fn ice_servers_are_validated_at_load() {
        let ok = remote(
            r#"
            [remote]
            [[remote.ice_servers]]
            urls = ["stun:stun.example.net:3478", "stuns:stun.example.net"]
            [[remote.ice_servers]]
            urls = ["turn:turn.example.net:3478?transport=udp", "turns:turn.example.net:5349"]
            username = "breeze"
            credential = "s3cret"
            "#,
        )
        .unwrap();
        assert!(ok.webrtc, "WebRTC is on by default");
        let given = ok.rtc_ice_servers().unwrap();
        assert_eq!(given.len(), 2);
        assert_eq!(given[1].username.as_deref(), Some("breeze"));
        assert_eq!(given[1].credential.as_deref(), Some("s3cret"));
        assert!(given[0].credential.is_none());
        // The TURN password stays out of Debug output.
        assert!(!format!("{ok:?}").contains("s3cret"));

        for (bad, says) in [
            (r#"urls = ["http://stun.example.net"]"#, "not a stun:"),
            (r#"urls = ["stun:"]"#, "not a stun:"),
            (r#"urls = []"#, "at least one"),
            (
                r#"urls = ["turn:turn.example.net"]"#,
                "needs username and credential",
            ),
            (
                r#"urls = ["turns:turn.example.net"]
                   username = "u""#,
                "needs username and credential",
            ),
        ] {
            let e = remote(&format!("[remote]\n[[remote.ice_servers]]\n{bad}\n"))
                .expect_err(bad)
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_advertised_url_defaults_to_the_listener_and_must_be_plain_http() {
        let mut c = Config {
            listen: "10.0.0.5:3001".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(c.advertise_url(), "http://10.0.0.5:3001");
        assert_eq!(
            c.advertise_url_at("127.0.0.1:40123".parse().unwrap()),
            "http://127.0.0.1:40123"
        );
        let any = c.advertise_url_at("0.0.0.0:3001".parse().unwrap());
        assert!(
            any.starts_with("http://") && any.ends_with(":3001") && !any.contains("0.0.0.0"),
            "{any}"
        );
        for bad in ["https://b:3001", "http://b:3001/x", "b:3001", "not a url"] {
            c.advertise_url = Some(bad.into());
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("advertise_url"), "{bad}: {e}");
        }
        c.advertise_url = Some("http://breeze-b:3001/".into());
        c.validate().unwrap();
        assert_eq!(c.advertise_url(), "http://breeze-b:3001");
    }

    #[test]
    fn webrtc_off_gives_no_ice_servers() {
        let off = remote("[remote]\nwebrtc = false\n").unwrap();
        assert!(off.rtc_ice_servers().is_none());
        let on = remote("[remote]\n").unwrap();
        assert_eq!(on.rtc_ice_servers(), Some(Vec::new()));
    }

    #[test]
    fn in_flight_bounds_follow_the_pool_unless_set() {
        let mut c = Config {
            db_max_connections: 10,
            ..Config::default()
        };
        let l = c.in_flight_limits();
        assert_eq!((l.agent, l.api), (10, 20));
        assert!(l.login >= 4);
        c.server.max_in_flight_agent = Some(3);
        c.server.max_in_flight_login = Some(1);
        c.server.max_in_flight_api = Some(7);
        assert_eq!(
            c.in_flight_limits(),
            InFlightLimits {
                agent: 3,
                login: 1,
                api: 7
            }
        );
    }

    #[test]
    fn overload_settings_are_validated() {
        let ok = Config::default();
        assert!(ok.validate().is_ok());
        let bad = [
            |c: &mut Config| c.server.max_in_flight_agent = Some(0),
            |c: &mut Config| c.server.max_in_flight_api = Some(MAX_IN_FLIGHT + 1),
            |c: &mut Config| c.server.overload_wait_millis = 60_000,
            |c: &mut Config| c.server.overload_retry_after_secs = 0,
            |c: &mut Config| c.db_max_connections = 0,
        ];
        for (i, f) in bad.into_iter().enumerate() {
            let mut c = Config::default();
            f(&mut c);
            assert!(c.validate().is_err(), "case {i} passed validation");
        }
        let c: Config =
            toml::from_str("[server]\nmax_in_flight_agent = 5\noverload_wait_millis = 0\n")
                .unwrap();
        assert_eq!(c.server.max_in_flight_agent, Some(5));
        assert_eq!(c.server.overload_wait_millis, 0);
        assert!(toml::from_str::<Config>("[server]\nmax_in_flight = 5\n").is_err());
    }
}
