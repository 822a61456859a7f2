//! Notification channels: a channel's configuration checked into what the API shows and
//! the credentials sealed with the master key, the message each type sends (a signed
//! webhook, Slack blocks, a Teams MessageCard, a PagerDuty Events API v2 event, an SMS
//! provider request, an e-mail), and sending it through the outbound guard.

use crate::error::ApiError;
use crate::notify::guard::OutboundError;
use crate::notify::http::{self, Failure};
use crate::notify::mail::{Mailer, SmtpTarget};
use crate::state::AppState;
use breeze_core::settings::{self, SmtpTls};
use breeze_core::validate::Email;
use breeze_proto::ids::NotificationChannelId;
use breeze_store::deliveries::AlertInfo;
use breeze_store::notification_channels::ChannelRecord;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use std::collections::BTreeMap;

/// PagerDuty's Events API v2 endpoint (a channel may point elsewhere, e.g. a proxy).
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Request headers a webhook's custom headers may not set.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-breeze-signature",
    "idempotency-key",
];

/// A channel's credentials, sealed together (never returned by the API).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    /// A webhook's signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Slack/Teams incoming-webhook URLs (they embed tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    /// An SMS provider's bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    /// A webhook's custom headers (they often carry API keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn purpose(id: NotificationChannelId) -> String {
    format!("notification-channel:{}", id.0)
}

pub fn seal(state: &AppState, id: NotificationChannelId, s: &Secrets) -> anyhow::Result<String> {
    state.keys.seal(&purpose(id), &serde_json::to_vec(s)?)
}

pub fn open(state: &AppState, c: &ChannelRecord) -> anyhow::Result<Secrets> {
    match &c.sealed {
        None => Ok(Secrets::default()),
        Some(sealed) => {
            let plain = state.keys.open(&purpose(c.channel.id), sealed)?;
            Ok(serde_json::from_slice(&plain)?)
        }
    }
}

/// A new webhook signing secret.
pub fn new_signing_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("whsec_{}", hex::encode(b))
}

/// A destination the channel will connect to, for the outbound guard.
pub struct Destination {
    pub field: String,
    pub host: String,
    pub port: u16,
}

/// A checked configuration: what the API shows, the credentials, and the destinations.
pub struct Prepared {
    pub public: Value,
    pub secrets: Secrets,
    pub destinations: Vec<Destination>,
}

fn obj(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::validation("config", "must be an object"))
}

fn only(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::validation(
                format!("config.{k}"),
                format!(
                    "is not a setting of this channel type ({})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn string<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::validation(
            format!("config.{key}"),
            "must be a string",
        )),
    }
}

/// An http(s) URL's host (as the guard reads it) and port.
pub fn url_destination(field: &str, raw: &str) -> Result<(url::Url, Destination), ApiError> {
    let bad = |m: &str| ApiError::validation(field, m);
    if raw.len() > 2048 {
        return Err(bad("must be at most 2048 characters"));
    }
    let u = url::Url::parse(raw.trim()).map_err(|_| bad("must be an http or https URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("must be an http or https URL"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("must not hold a user name or password"));
    }
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad("must name a host")),
    };
    let port = u
        .port_or_known_default()
        .ok_or_else(|| bad("must be an http or https URL"))?;
    Ok((
        u,
        Destination {
            field: field.to_string(),
            host,
            port,
        },
    ))
}

fn emails(m: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let list = m
        .get("to")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("config.to", "must be a list of e-mail addresses"))?;
    if list.is_empty() || list.len() > 50 {
        return Err(ApiError::validation(
            "config.to",
            "must hold 1 to 50 e-mail addresses",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let f = format!("config.to[{i}]");
            let s = v
                .as_str()
                .ok_or_else(|| ApiError::validation(&f, "must be an e-mail address"))?;
            Ok(Email::parse(&f, s)?.to_string())
        })
        .collect()
}

fn phone_numbers(m: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let list = m.get("to").and_then(Value::as_array).ok_or_else(|| {
        ApiError::validation(
            "config.to",
            "must be a list of phone numbers like +15551234567",
        )
    })?;
    if list.is_empty() || list.len() > 20 {
        return Err(ApiError::validation(
            "config.to",
            "must hold 1 to 20 phone numbers",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let f = format!("config.to[{i}]");
            let s = v.as_str().unwrap_or_default().trim();
            let digits = s.strip_prefix('+').unwrap_or_default();
            if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                Ok(s.to_string())
            } else {
                Err(ApiError::validation(
                    f,
                    "must be a phone number in international form like +15551234567",
                ))
            }
        })
        .collect()
}

fn credential(field: &str, raw: &str) -> Result<String, ApiError> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) {
        return Err(ApiError::validation(
            field,
            "must be 1 to 1024 characters without control characters",
        ));
    }
    Ok(s.to_string())
}

/// Checks a channel's configuration (a create, or a PATCH's replacement with `old` holding
/// the stored credentials, which are kept where the new configuration leaves them out).
pub fn prepare(kind: &str, config: &Value, old: Option<&Secrets>) -> Result<Prepared, ApiError> {
    let m = obj(config)?;
    let mut secrets = old.cloned().unwrap_or_default();
    let mut destinations = Vec::new();
    let public = match kind {
        "email" => {
            only(m, &["to", "smtp"])?;
            let to = emails(m)?;
            let smtp = match m.get("smtp") {
                None | Some(Value::Null) => {
                    secrets.smtp_password = None;
                    Value::Null
                }
                Some(s) => {
                    let s = s
                        .as_object()
                        .ok_or_else(|| ApiError::validation("config.smtp", "must be an object"))?;
                    for k in s.keys() {
                        if !["host", "port", "username", "password", "from", "tls"]
                            .contains(&k.as_str())
                        {
                            return Err(ApiError::validation(
                                format!("config.smtp.{k}"),
                                "is not an SMTP setting (host, port, username, password, from, tls)",
                            ));
                        }
                    }
                    let get = |k: &str| -> Result<Option<&str>, ApiError> {
                        match s.get(k) {
                            None | Some(Value::Null) => Ok(None),
                            Some(Value::String(v)) => Ok(Some(v.as_str())),
                            Some(_) => Err(ApiError::validation(
                                format!("config.smtp.{k}"),
                                "must be a string",
                            )),
                        }
                    };
                    let host =
                        settings::smtp_host("config.smtp.host", get("host")?.unwrap_or_default())?;
                    let tls = SmtpTls::parse("config.smtp.tls", get("tls")?.unwrap_or("starttls"))?;
                    let port = match s.get("port") {
                        None | Some(Value::Null) => tls.default_port(),
                        Some(p) => {
                            settings::port("config.smtp.port", p.as_i64().unwrap_or_default())?
                        }
                    };
                    let from =
                        settings::mailbox("config.smtp.from", get("from")?.unwrap_or_default())?;
                    let username = match get("username")? {
                        Some(u) => settings::smtp_username("config.smtp.username", u)?,
                        None => None,
                    };
                    if let Some(p) = get("password")? {
                        secrets.smtp_password =
                            Some(settings::smtp_password("config.smtp.password", p)?);
                    }
                    destinations.push(Destination {
                        field: "config.smtp.host".into(),
                        host: host.trim_start_matches('[').trim_end_matches(']').into(),
                        port,
                    });
                    json!({"host": host, "port": port, "tls": tls.as_str(), "from": from,
                        "username": username, "password_set": secrets.smtp_password.is_some()})
                }
            };
            json!({"to": to, "smtp": smtp})
        }
        "webhook" => {
            only(m, &["url", "headers"])?;
            let raw = string(m, "url")?
                .ok_or_else(|| ApiError::validation("config.url", "is required"))?;
            let (u, d) = url_destination("config.url", raw)?;
            destinations.push(d);
            match m.get("headers") {
                None => {}
                Some(Value::Null) => secrets.headers.clear(),
                Some(Value::Object(h)) => {
                    if h.len() > 20 {
                        return Err(ApiError::validation(
                            "config.headers",
                            "must hold at most 20 headers",
                        ));
                    }
                    let mut out = BTreeMap::new();
                    for (k, v) in h {
                        let f = format!("config.headers.{k}");
                        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                            .map_err(|_| ApiError::validation(&f, "is not a header name"))?;
                        if RESERVED_HEADERS.contains(&name.as_str()) {
                            return Err(ApiError::validation(
                                &f,
                                "is set by the server and cannot be replaced",
                            ));
                        }
                        let v = v
                            .as_str()
                            .ok_or_else(|| ApiError::validation(&f, "must be a string"))?;
                        if v.len() > 4096 || reqwest::header::HeaderValue::from_str(v).is_err() {
                            return Err(ApiError::validation(&f, "is not a valid header value"));
                        }
                        out.insert(name.as_str().to_string(), v.to_string());
                    }
                    secrets.headers = out;
                }
                Some(_) => {
                    return Err(ApiError::validation(
                        "config.headers",
                        "must be an object of header names to values",
                    ));
                }
            }
            json!({"url": u.as_str(), "headers": secrets.headers.keys().collect::<Vec<_>>()})
        }
        "slack" | "teams" => {
            only(m, &["url"])?;
            if let Some(raw) = string(m, "url")? {
                url_destination("config.url", raw)?;
                secrets.url = Some(raw.trim().to_string());
            }
            let raw = secrets
                .url
                .clone()
                .ok_or_else(|| ApiError::validation("config.url", "is required"))?;
            let (u, d) = url_destination("config.url", &raw)?;
            destinations.push(d);
            json!({"host": u.host_str(), "url_set": true})
        }
        "pagerduty" => {
            only(m, &["routing_key", "url"])?;
            if let Some(k) = string(m, "routing_key")? {
                secrets.routing_key = Some(credential("config.routing_key", k)?);
            }
            if secrets.routing_key.is_none() {
                return Err(ApiError::validation("config.routing_key", "is required"));
            }
            let raw = string(m, "url")?.unwrap_or(PAGERDUTY_URL);
            let (u, d) = url_destination("config.url", raw)?;
            destinations.push(d);
            json!({"url": u.as_str(), "routing_key_set": true})
        }
        "sms" => {
            only(m, &["url", "to", "token"])?;
            let raw = string(m, "url")?
                .ok_or_else(|| ApiError::validation("config.url", "is required"))?;
            let (u, d) = url_destination("config.url", raw)?;
            destinations.push(d);
            let to = phone_numbers(m)?;
            match m.get("token") {
                None => {}
                Some(Value::Null) => secrets.token = None,
                Some(Value::String(t)) => secrets.token = Some(credential("config.token", t)?),
                Some(_) => return Err(ApiError::validation("config.token", "must be a string")),
            }
            json!({"url": u.as_str(), "to": to, "token_set": secrets.token.is_some()})
        }
        _ => return Err(ApiError::validation("type", "is not a channel type")),
    };
    Ok(Prepared {
        public,
        secrets,
        destinations,
    })
}

/// Refuses destinations the outbound guard refuses (422 naming the field).
pub async fn check_destinations(state: &AppState, p: &Prepared) -> Result<(), ApiError> {
    for d in &p.destinations {
        state
            .config
            .outbound
            .check_destination(&d.host, d.port)
            .await
            .map_err(|e| ApiError::validation(&d.field, e.to_string()))?;
    }
    Ok(())
}

/// What a notification is about.
pub struct Notice<'a> {
    /// `alert.triggered`, `alert.resolved`, `alert.escalated` or `test`.
    pub event: &'a str,
    pub alert: Option<&'a AlertInfo>,
    pub escalation_step: Option<i64>,
    pub delivery_id: uuid::Uuid,
    pub idempotency_key: &'a str,
    pub org_name: &'a str,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    /// The text of a notice not about an alert (`automation.notify`).
    pub message: Option<&'a str>,
}

impl Notice<'_> {
    /// One line: `[CRITICAL] CPU high: cpu_percent above 90 on web-01`.
    pub fn summary(&self) -> String {
        match self.alert {
            None if self.message.is_some() => {
                format!("Breeze automation notice for {}", self.org_name)
            }
            None => format!("Breeze test notification for {}", self.org_name),
            Some(a) => {
                let what = match self.event {
                    "alert.resolved" => "Resolved: ",
                    "alert.escalated" => "Escalated: ",
                    _ => "",
                };
                format!(
                    "{what}[{}] {}: {} on {}",
                    a.severity.to_uppercase(),
                    a.rule_name.as_deref().unwrap_or("alert"),
                    a.title,
                    a.hostname
                )
            }
        }
    }

    /// Several lines: rule, device, severity, status, time and the values that fired it.
    pub fn details(&self) -> String {
        match (self.alert, self.message) {
            (None, Some(m)) => m.to_string(),
            (None, None) => format!(
                "This is a test notification from Breeze for {}. If you can read it, the channel works.",
                self.org_name
            ),
            (Some(a), _) => {
                let mut s = format!(
                    "Rule: {}\nDevice: {}\nOrganization: {}\nSeverity: {}\nStatus: {}\nTriggered: {}\n",
                    a.rule_name.as_deref().unwrap_or("(deleted rule)"),
                    a.hostname,
                    self.org_name,
                    a.severity,
                    a.status,
                    a.triggered_at.to_rfc3339()
                );
                if let Some(step) = self.escalation_step {
                    s.push_str(&format!("Escalation step: {}\n", step + 1));
                }
                if let Some(m) = &a.message {
                    s.push_str(&format!("\n{m}\n"));
                }
                s.push_str(&format!("\nValues: {}\n", a.context.0));
                s
            }
        }
    }

    /// The generic webhook body.
    pub fn webhook_body(&self) -> Value {
        let (alert, device, rule) = match self.alert {
            None => (Value::Null, Value::Null, Value::Null),
            Some(a) => (
                json!({"id": a.id, "severity": a.severity, "title": a.title, "status": a.status,
                    "message": a.message, "triggered_at": a.triggered_at, "resolved_at": a.resolved_at,
                    "context": a.context.0, "escalation_step": a.escalation_step}),
                json!({"id": a.device_id, "hostname": a.hostname, "site_id": a.site_id}),
                json!({"id": a.rule_id, "name": a.rule_name}),
            ),
        };
        let org_id = self.alert.map(|a| a.org_id);
        json!({
            "event": self.event,
            "delivery_id": self.delivery_id,
            "idempotency_key": self.idempotency_key,
            "sent_at": self.sent_at,
            "escalation_step": self.escalation_step,
            "message": self.message,
            "alert": alert,
            "device": device,
            "rule": rule,
            "org": {"id": org_id, "name": self.org_name},
        })
    }

    /// Slack incoming webhook: `text` (the fallback) and Block Kit `blocks`.
    pub fn slack_body(&self) -> Value {
        let header: String = self.summary().chars().take(150).collect();
        json!({
            "text": self.summary(),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": header}},
                {"type": "section", "text": {"type": "mrkdwn", "text": self.details().chars().take(2900).collect::<String>()}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Breeze · {}", self.event)}]}
            ]
        })
    }

    /// Microsoft Teams incoming webhook: a legacy actionable MessageCard.
    pub fn teams_body(&self) -> Value {
        let color = match self.alert.map(|a| a.severity.as_str()) {
            _ if self.event == "alert.resolved" => "2E7D32",
            Some("critical") => "B71C1C",
            Some("high") => "E65100",
            Some("medium") => "F9A825",
            _ => "1565C0",
        };
        let facts: Vec<Value> = match self.alert {
            None => vec![json!({"name": "Organization", "value": self.org_name})],
            Some(a) => vec![
                json!({"name": "Rule", "value": a.rule_name.as_deref().unwrap_or("(deleted rule)")}),
                json!({"name": "Device", "value": a.hostname}),
                json!({"name": "Severity", "value": a.severity}),
                json!({"name": "Status", "value": a.status}),
                json!({"name": "Triggered", "value": a.triggered_at.to_rfc3339()}),
                json!({"name": "Values", "value": a.context.0.to_string()}),
            ],
        };
        json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": self.summary(),
            "themeColor": color,
            "title": self.summary(),
            "sections": [{"activityTitle": format!("Breeze · {}", self.event), "facts": facts, "text": self.details()}]
        })
    }

    /// PagerDuty Events API v2: trigger (raised, escalated, test) or resolve, deduplicated
    /// by the alert.
    pub fn pagerduty_body(&self, routing_key: &str) -> Value {
        let dedup_key = match self.alert {
            Some(a) => format!("breeze-alert-{}", a.id),
            None => format!("breeze-test-{}", self.delivery_id),
        };
        if self.event == "alert.resolved" {
            return json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key});
        }
        let severity = match self.alert.map(|a| a.severity.as_str()) {
            Some("critical") => "critical",
            Some("high") => "error",
            Some("medium") => "warning",
            _ => "info",
        };
        let (source, details) = match self.alert {
            Some(a) => (
                a.hostname.clone(),
                json!({"rule": a.rule_name, "alert_id": a.id, "device_id": a.device_id,
                    "organization": self.org_name, "context": a.context.0,
                    "escalation_step": self.escalation_step}),
            ),
            None => ("breeze".to_string(), json!({"organization": self.org_name})),
        };
        json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "client": "Breeze",
            "payload": {
                "summary": self.summary().chars().take(1024).collect::<String>(),
                "source": source,
                "severity": severity,
                "timestamp": self.alert.map(|a| a.triggered_at).unwrap_or(self.sent_at),
                "component": self.alert.and_then(|a| a.rule_name.clone()),
                "group": self.org_name,
                "class": self.event,
                "custom_details": details
            }
        })
    }

    /// An SMS provider request: `{"to": [...], "message"}`.
    pub fn sms_body(&self, to: &Value) -> Value {
        let text: String = format!("Breeze: {}", self.summary())
            .chars()
            .take(300)
            .collect();
        json!({"to": to, "message": text})
    }
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> Result<String, Failure> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| Failure::permanent("the signing secret is unusable"))?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

fn body_bytes(v: &Value) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(v).map_err(|_| Failure::permanent("the message could not be composed"))
}

fn cfg_str<'a>(c: &'a Value, k: &str) -> Result<&'a str, Failure> {
    c.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::permanent("the channel's configuration is incomplete"))
}

/// Sends `n` through channel `c`. Answers the receiver's HTTP status (SMTP: none).
pub async fn send(
    state: &AppState,
    c: &ChannelRecord,
    n: &Notice<'_>,
) -> Result<Option<i64>, Failure> {
    let secrets =
        open(state, c).map_err(|_| Failure::permanent("the channel's credentials do not open"))?;
    let cfg = &c.channel.config;
    let out = &state.config.outbound;
    let post = |url: String, body: Vec<u8>, headers: Vec<(String, String)>| async move {
        http::post_json(out, &url, &headers, body).await.map(Some)
    };
    match c.channel.channel_type.as_str() {
        "webhook" => {
            let body = body_bytes(&n.webhook_body())?;
            let secret = secrets
                .signing_secret
                .as_deref()
                .ok_or_else(|| Failure::permanent("the channel has no signing secret"))?;
            let mut headers: Vec<(String, String)> = secrets.headers.clone().into_iter().collect();
            headers.push(("x-breeze-signature".into(), signature(secret, &body)?));
            headers.push(("idempotency-key".into(), n.idempotency_key.to_string()));
            headers.push(("x-breeze-event".into(), n.event.to_string()));
            post(cfg_str(cfg, "url")?.to_string(), body, headers).await
        }
        "slack" | "teams" => {
            let url = secrets
                .url
                .clone()
                .ok_or_else(|| Failure::permanent("the channel has no URL"))?;
            let body = if c.channel.channel_type == "slack" {
                n.slack_body()
            } else {
                n.teams_body()
            };
            post(url, body_bytes(&body)?, vec![]).await
        }
        "pagerduty" => {
            let key = secrets
                .routing_key
                .as_deref()
                .ok_or_else(|| Failure::permanent("the channel has no routing key"))?;
            let body = body_bytes(&n.pagerduty_body(key))?;
            post(cfg_str(cfg, "url")?.to_string(), body, vec![]).await
        }
        "sms" => {
            let body = body_bytes(&n.sms_body(cfg.get("to").unwrap_or(&Value::Null)))?;
            let mut headers = vec![];
            if let Some(t) = &secrets.token {
                headers.push(("authorization".into(), format!("Bearer {t}")));
            }
            post(cfg_str(cfg, "url")?.to_string(), body, headers).await
        }
        "email" => send_email(state, c, &secrets, n).await.map(|()| None),
        _ => Err(Failure::permanent("unknown channel type")),
    }
}

async fn send_email(
    state: &AppState,
    c: &ChannelRecord,
    secrets: &Secrets,
    n: &Notice<'_>,
) -> Result<(), Failure> {
    let cfg = &c.channel.config;
    let mailer = match cfg.get("smtp").filter(|s| !s.is_null()) {
        Some(s) => {
            let tls = SmtpTls::parse("tls", s["tls"].as_str().unwrap_or("starttls"))
                .map_err(|_| Failure::permanent("the channel's SMTP settings are unusable"))?;
            Mailer::to(SmtpTarget {
                host: cfg_str(s, "host")?.to_string(),
                port: s["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or_else(|| tls.default_port()),
                tls,
                username: s["username"].as_str().map(str::to_string),
                password: secrets.smtp_password.clone().map(SecretString::from),
                from: cfg_str(s, "from")?
                    .parse()
                    .map_err(|_| Failure::permanent("the channel's sender address is unusable"))?,
                guarded: true,
            })
            .map_err(|_| Failure::permanent("the channel's SMTP settings are unusable"))?
        }
        None => crate::notify::mail::for_partner(state, Some(c.partner_id))
            .await
            .map_err(|_| Failure::retry("the partner's SMTP settings are unusable", None))?,
    };
    if !mailer.configured() {
        return Err(Failure::retry("no SMTP server is configured", None));
    }
    let to: Vec<&str> = cfg["to"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let subject = format!("[Breeze] {}", n.summary());
    for addr in to {
        match mailer
            .send(&state.config.outbound, addr, &subject, n.details())
            .await
        {
            Ok(_) => {}
            Err(e @ (OutboundError::BadMessage | OutboundError::NotAllowed(_))) => {
                return Err(Failure::permanent(e.to_string()));
            }
            Err(e) => return Err(Failure::retry(e.to_string(), None)),
        }
    }
    Ok(())
}
