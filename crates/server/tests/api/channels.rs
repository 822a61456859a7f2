//! Notification channels and alert deliveries (issue 11): signed webhooks and the Slack,
//! Teams, PagerDuty and SMS bodies received by a real HTTP receiver, e-mail received by a
//! real SMTP server, credentials that never come back, the SSRF guard at save and send
//! time, delivery jobs that survive a restart without sending twice, and tenant isolation.
//! Alerts are written with SQL here (the engine raises them in production) and handed to
//! the engine's hook, `notify::alerts::alert_event`.

use crate::harness::{Engine, PASSWORD, TestApp, engines, local_names, spawn, spawn_clocked};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use breeze_client::BreezeClient;
use breeze_proto::api::*;
use breeze_proto::ids::*;
use breeze_server::notify::alerts::{AlertEvent, alert_event};
use breeze_server::notify::resolve::Resolver;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// An HTTP receiver on loopback: keeps every request, answers `status` (and a `Location`
/// when `redirect` is set), with a body the server must never show.
#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub status: Arc<AtomicU16>,
    pub redirect: Arc<Mutex<Option<String>>>,
}

pub const RECEIVER_BODY: &str = "RECEIVER-SECRET-BODY-91c2";

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_at(0).await
    }

    pub async fn start_at(port: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let r = Receiver {
            port,
            hits: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            redirect: Arc::default(),
        };
        let keep = r.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let keep = keep.clone();
                async move {
                    keep.hits.lock().expect("hits").push(Hit {
                        path: uri.path().to_string(),
                        headers,
                        body,
                    });
                    let status =
                        AxStatus::from_u16(keep.status.load(Ordering::SeqCst)).expect("status");
                    let mut resp =
                        axum::response::Response::new(axum::body::Body::from(RECEIVER_BODY));
                    *resp.status_mut() = status;
                    if let Some(loc) = keep.redirect.lock().expect("redirect").clone() {
                        resp.headers_mut()
                            .insert("location", loc.parse().expect("location"));
                    }
                    resp
                }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// The requests once there are at least `n`; panics after ten seconds.
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let h = self.hits();
            if h.len() >= n {
                return h;
            }
            assert!(
                std::time::Instant::now() < until,
                "expected {n} requests, got {}",
                h.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn on(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }
}

pub fn allow_loopback() -> breeze_core::outbound::AllowList {
    breeze_core::outbound::AllowList::parse(&["127.0.0.1"]).expect("allow-list")
}

/// An organization, a site and one enrolled device.
pub async fn org_with_device(
    app: &TestApp,
    admin: &BreezeClient,
    name: &str,
    host: &str,
) -> (OrgId, SiteId, DeviceId) {
    let (org, site) = crate::device_state::org_and_site(admin, name).await;
    let (dev, _) = crate::device_state::enroll(app, admin, org, site, host).await;
    (org, site, dev)
}

pub async fn create_channel(
    admin: &BreezeClient,
    org: OrgId,
    name: &str,
    kind: &str,
    config: Value,
) -> NotificationChannelCreated {
    admin
        .post(
            "/api/v1/notification-channels",
            &json!({"org_id": org, "name": name, "type": kind, "config": config}),
        )
        .await
        .unwrap_or_else(|e| panic!("create {kind} channel: {e:?}"))
}

/// A rule (written directly: the rules API is the engine's) notifying `channels`, with an
/// optional escalation policy.
pub async fn insert_rule(
    app: &TestApp,
    org: OrgId,
    name: &str,
    channels: &[NotificationChannelId],
    policy: Option<EscalationPolicyId>,
) -> AlertRuleId {
    let id = AlertRuleId::new();
    let now = app.state.now();
    app.state
        .db
        .exec(
            breeze_store::Q::new(
                "INSERT INTO alert_rules (id, org_id, name, enabled, severity, targets, conditions, \
                 cooldown_minutes, auto_resolve, escalation_policy_id, notification_channels, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, 'critical', ?, ?, 15, ?, ?, ?, ?, ?)",
            )
            .bind(id.0)
            .bind(org)
            .bind(name)
            .bind(true)
            .bind(json!({"all": true}))
            .bind(json!({"metric": "cpu_percent", "operator": "gt", "value": 90, "duration_minutes": 5}))
            .bind(true)
            .bind(policy.map(|p| p.0))
            .bind(json!(channels))
            .bind(now)
            .bind(now),
        )
        .await
        .expect("insert rule");
    id
}

/// An active alert of `rule` on `device` (written directly, as the engine would).
pub async fn insert_alert(
    app: &TestApp,
    org: OrgId,
    site: SiteId,
    device: DeviceId,
    hostname: &str,
    rule: AlertRuleId,
    rule_name: &str,
) -> Alert {
    let id = AlertId::new();
    let now = app.state.now();
    let context = json!({"metric": "cpu_percent", "operator": "gt", "threshold": 90,
        "value": 97.5, "window_minutes": 5});
    let title = "CPU above 90% for 5 minutes".to_string();
    app.state
        .db
        .exec(
            breeze_store::Q::new(
                "INSERT INTO alerts (id, org_id, rule_id, rule_name, device_id, status, severity, \
                 title, context, triggered_at, escalation_step, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, 'active', 'critical', ?, ?, ?, 0, ?, ?)",
            )
            .bind(id.0)
            .bind(org)
            .bind(rule.0)
            .bind(rule_name)
            .bind(device)
            .bind(title.as_str())
            .bind(context.clone())
            .bind(now)
            .bind(now)
            .bind(now),
        )
        .await
        .expect("insert alert");
    Alert {
        id,
        org_id: org,
        rule_id: Some(rule),
        rule_name: Some(rule_name.into()),
        device_id: device,
        hostname: hostname.into(),
        site_id: site,
        status: "active".into(),
        severity: "critical".into(),
        title,
        message: None,
        context,
        triggered_at: now,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        resolution_note: None,
        suppressed_until: None,
        escalation_step: 0,
        created_at: now,
        updated_at: now,
    }
}

async fn alert_log(admin: &BreezeClient, alert: AlertId) -> Vec<Delivery> {
    let p: Page<Delivery> = admin
        .get(&format!("/api/v1/alerts/{}/deliveries?limit=100", alert))
        .await
        .expect("alert deliveries");
    p.data
}

/// The alert's deliveries once each is settled (sent or failed); panics after ten seconds.
async fn settled(admin: &BreezeClient, alert: AlertId, n: usize) -> Vec<Delivery> {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = alert_log(admin, alert).await;
        if d.len() >= n && d.iter().all(|d| d.status != "pending") {
            return d;
        }
        assert!(
            std::time::Instant::now() < until,
            "deliveries not settled: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn verify_hmac(secret: &str, body: &[u8], header: &str) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("mac");
    mac.update(body);
    let hex = header.strip_prefix("sha256=").expect("sha256= prefix");
    mac.verify_slice(&hex::decode(hex).expect("hex"))
        .expect("the signature matches the body and the secret");
}

#[tokio::test]
async fn signed_webhooks_and_chat_paging_and_sms_bodies_reach_their_receivers() {
    for engine in engines() {
        let rx = Receiver::start().await;
        let app = spawn(engine, |c| c.outbound.allow = allow_loopback()).await;
        let admin = app.admin().await;
        let (org, site, dev) = org_with_device(&app, &admin, "Acme Dental", "web-01").await;
        let hook = create_channel(
            &admin,
            org,
            "Ops webhook",
            "webhook",
            json!({"url": rx.url("/hook"), "headers": {"X-Api-Key": "hdr-secret-1"}}),
        )
        .await;
        let secret = hook
            .secret
            .clone()
            .expect("a webhook's secret is shown at create");
        assert!(secret.len() >= 32);
        let slack = create_channel(
            &admin,
            org,
            "Slack",
            "slack",
            json!({"url": rx.url("/slack/T0/B0/tok-slack")}),
        )
        .await;
        let teams = create_channel(
            &admin,
            org,
            "Teams",
            "teams",
            json!({"url": rx.url("/teams/tok-teams")}),
        )
        .await;
        let pd = create_channel(
            &admin,
            org,
            "PagerDuty",
            "pagerduty",
            json!({"routing_key": "pd-routing-key-123", "url": rx.url("/v2/enqueue")}),
        )
        .await;
        let sms = create_channel(
            &admin,
            org,
            "SMS",
            "sms",
            json!({"url": rx.url("/sms"), "to": ["+15551234567"], "token": "sms-token-xyz"}),
        )
        .await;
        for c in [&slack, &teams, &pd, &sms] {
            assert!(c.secret.is_none());
        }

        // Credentials never come back.
        let secrets = [
            secret.as_str(),
            "hdr-secret-1",
            "tok-slack",
            "tok-teams",
            "pd-routing-key-123",
            "sms-token-xyz",
        ];
        for c in [&hook, &slack, &teams, &pd, &sms] {
            let (s, body) = admin
                .raw(
                    Method::GET,
                    &format!("/api/v1/notification-channels/{}", c.channel.id),
                    None,
                )
                .await
                .expect("get");
            assert_eq!(s, StatusCode::OK);
            for x in secrets {
                assert!(!body.contains(x), "{engine:?}: {x} in {body}");
            }
        }
        let (_, listed) = admin
            .raw(
                Method::GET,
                &format!("/api/v1/notification-channels?org_id={org}"),
                None,
            )
            .await
            .expect("list");
        for x in secrets {
            assert!(!listed.contains(x), "{x} in the list");
        }
        let got: NotificationChannel = admin
            .get(&format!(
                "/api/v1/notification-channels/{}",
                slack.channel.id
            ))
            .await
            .expect("slack");
        assert_eq!(got.config["url_set"], json!(true));
        assert_eq!(got.config["host"], json!("127.0.0.1"));

        // PATCH keeps credentials left out.
        let _: NotificationChannel = admin
            .patch(
                &format!("/api/v1/notification-channels/{}", sms.channel.id),
                &json!({"name": "SMS on call", "config": {"url": rx.url("/sms"), "to": ["+15557654321"]}}),
            )
            .await
            .expect("patch sms");

        let ids = [
            hook.channel.id,
            slack.channel.id,
            teams.channel.id,
            pd.channel.id,
            sms.channel.id,
        ];
        let rule = insert_rule(&app, org, "CPU high", &ids, None).await;
        let alert = insert_alert(&app, org, site, dev, "web-01", rule, "CPU high").await;
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("event");
        // The engine repeating itself queues nothing twice.
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("event again");

        let log = settled(&admin, alert.id, 5).await;
        assert_eq!(log.len(), 5, "{log:?}");
        for d in &log {
            assert_eq!(d.status, "sent", "{d:?}");
            assert_eq!(d.event, "alert.triggered");
            assert_eq!(d.response_status, Some(200));
            assert_eq!(d.attempts, 1);
        }
        let hits = rx.wait_for(5).await;
        assert_eq!(hits.len(), 5, "one request per channel");

        let h = &rx.on("/hook")[0];
        verify_hmac(
            &secret,
            &h.body,
            &h.header("x-breeze-signature").expect("signature"),
        );
        assert_eq!(h.header("x-api-key").as_deref(), Some("hdr-secret-1"));
        let key = h.header("idempotency-key").expect("idempotency key");
        assert!(key.contains(&alert.id.to_string()), "{key}");
        let b = h.json();
        assert_eq!(b["event"], "alert.triggered");
        assert_eq!(b["alert"]["id"], json!(alert.id));
        assert_eq!(b["alert"]["severity"], "critical");
        assert_eq!(b["alert"]["title"], json!(alert.title));
        assert_eq!(b["alert"]["context"]["value"], json!(97.5));
        assert_eq!(b["device"]["hostname"], "web-01");
        assert_eq!(b["device"]["id"], json!(dev));
        assert_eq!(b["rule"]["name"], "CPU high");
        assert_eq!(b["org"]["name"], "Acme Dental");

        let s = rx.on("/slack/T0/B0/tok-slack")[0].json();
        assert!(s["text"].as_str().expect("text").contains("web-01"));
        let blocks = s["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[1]["type"], "section");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert!(
            blocks[1]["text"]["text"]
                .as_str()
                .expect("text")
                .contains("CPU high")
        );

        let t = rx.on("/teams/tok-teams")[0].json();
        assert_eq!(t["@type"], "MessageCard");
        assert_eq!(t["@context"], "https://schema.org/extensions");
        assert!(t["summary"].as_str().expect("summary").contains("web-01"));
        assert!(
            t["sections"][0]["facts"]
                .as_array()
                .expect("facts")
                .iter()
                .any(|f| f["name"] == "Device" && f["value"] == "web-01")
        );

        let p = rx.on("/v2/enqueue")[0].json();
        assert_eq!(p["routing_key"], "pd-routing-key-123");
        assert_eq!(p["event_action"], "trigger");
        let dedup = p["dedup_key"].as_str().expect("dedup").to_string();
        assert!(dedup.contains(&alert.id.to_string()));
        assert_eq!(p["payload"]["severity"], "critical");
        assert_eq!(p["payload"]["source"], "web-01");
        assert!(
            p["payload"]["summary"]
                .as_str()
                .expect("summary")
                .contains("CPU high")
        );

        let m = &rx.on("/sms")[0];
        assert_eq!(
            m.header("authorization").as_deref(),
            Some("Bearer sms-token-xyz")
        );
        let mb = m.json();
        assert_eq!(mb["to"], json!(["+15557654321"]));
        assert!(mb["message"].as_str().expect("message").contains("web-01"));

        // Resolution: PagerDuty resolves the same incident.
        alert_event(&app.state, &alert, AlertEvent::Resolved)
            .await
            .expect("resolved");
        rx.wait_for(10).await;
        let resolves = rx.on("/v2/enqueue");
        let r = resolves
            .iter()
            .map(Hit::json)
            .find(|b| b["event_action"] == "resolve")
            .expect("resolve");
        assert_eq!(r["dedup_key"], json!(dedup));
        let h2 = rx.on("/hook");
        assert_eq!(h2[1].json()["event"], "alert.resolved");
        verify_hmac(
            &secret,
            &h2[1].body,
            &h2[1].header("x-breeze-signature").expect("signature"),
        );

        // The channel's own log, newest first.
        let p: Page<Delivery> = admin
            .get(&format!(
                "/api/v1/notification-channels/{}/deliveries",
                hook.channel.id
            ))
            .await
            .expect("channel log");
        assert_eq!(p.data.len(), 2);
        assert_eq!(p.data[0].event, "alert.resolved");

        // Secrets are not in the audit log either.
        let rows: Vec<AuditText> = app
            .state
            .db
            .all(breeze_store::Q::new(
                "SELECT CAST(details AS TEXT) AS t FROM audit_logs",
            ))
            .await
            .expect("audit");
        assert!(
            rows.iter().any(|r| r.t.contains("url_set")),
            "channel rows are audited"
        );
        for r in &rows {
            for x in secrets {
                assert!(!r.t.contains(x), "{x} in an audit row: {}", r.t);
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditText {
    t: String,
}

#[tokio::test]
async fn an_email_channel_mails_the_rule_device_and_values() {
    for engine in engines() {
        let (port, inbox) = crate::smtp::start().await;
        let app = spawn(engine, |c| c.outbound.allow = allow_loopback()).await;
        let admin = app.admin().await;
        let (org, site, dev) = org_with_device(&app, &admin, "Acme Dental", "db-02").await;
        let mail = create_channel(&admin, org, "On-call mail", "email", json!({
            "to": ["oncall@acme.test", "boss@acme.test"],
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none", "from": "Alerts <alerts@acme.test>",
                "username": "alerts", "password": "smtp-pass-77"}
        })).await;
        assert_eq!(mail.channel.config["smtp"]["password_set"], json!(true));
        assert!(
            !serde_json::to_string(&mail)
                .expect("json")
                .contains("smtp-pass-77")
        );
        // Bad addresses are named.
        let (s, body) = admin
            .raw(Method::POST, "/api/v1/notification-channels", Some(&json!({
                "org_id": org, "name": "x", "type": "email", "config": {"to": ["ok@acme.test", "not an address"]}})))
            .await
            .expect("post");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("config.to[1]"), "{body}");

        let rule = insert_rule(&app, org, "CPU high", &[mail.channel.id], None).await;
        let alert = insert_alert(&app, org, site, dev, "db-02", rule, "CPU high").await;
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("event");
        let msgs = inbox.wait_for(2).await;
        for m in &msgs {
            let flat = m.replace("=\n", "");
            let subject = flat
                .lines()
                .find(|l| l.starts_with("Subject:"))
                .expect("subject");
            assert!(
                subject.contains("CPU high") && subject.contains("db-02"),
                "{subject}"
            );
            assert!(flat.contains("Rule: CPU high"), "{flat}");
            assert!(flat.contains("Device: db-02"), "{flat}");
            assert!(
                flat.contains("97.5") && flat.contains("\"threshold\":90"),
                "{flat}"
            );
        }
        assert!(inbox.logins().contains(&"alerts:smtp-pass-77".to_string()));
        let log = settled(&admin, alert.id, 1).await;
        assert_eq!(log[0].status, "sent", "{engine:?}");
    }
}

async fn refused(admin: &BreezeClient, org: OrgId, kind: &str, config: Value, field: &str) {
    let (s, body) = admin
        .raw(
            Method::POST,
            "/api/v1/notification-channels",
            Some(&json!({"org_id": org, "name": "x", "type": kind, "config": config})),
        )
        .await
        .expect("post");
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{config}: {body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["field"], json!(field), "{config}: {body}");
}

#[tokio::test]
async fn internal_and_non_http_destinations_are_refused_when_saved() {
    let app = spawn(Engine::Sqlite, |c| {
        c.outbound.resolver = Resolver::from_fn(|host| {
            if host == "hooks.sneaky.test" {
                return Ok(vec!["127.0.0.1".parse().expect("ip")]);
            }
            local_names(host)
        });
    })
    .await;
    let admin = app.admin().await;
    let (org, _) = crate::device_state::org_and_site(&admin, "Acme").await;
    for url in [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://localhost:8080/hook",
        "http://hooks.sneaky.test/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://192.168.1.10/hook",
        "file:///etc/passwd",
        "gopher://example.com/1",
        "ftp://example.com/x",
    ] {
        refused(&admin, org, "webhook", json!({"url": url}), "config.url").await;
        refused(&admin, org, "slack", json!({"url": url}), "config.url").await;
    }
    refused(
        &admin,
        org,
        "pagerduty",
        json!({"routing_key": "k", "url": "http://10.0.0.1/x"}),
        "config.url",
    )
    .await;
    refused(
        &admin,
        org,
        "sms",
        json!({"url": "http://169.254.169.254/", "to": ["+15551234567"]}),
        "config.url",
    )
    .await;
    refused(
        &admin,
        org,
        "email",
        json!({"to": ["a@b.test"], "smtp": {"host": "10.0.0.1", "from": "a@b.test"}}),
        "config.smtp.host",
    )
    .await;
    refused(
        &admin,
        org,
        "webhook",
        json!({"url": "https://hooks.example.test/x", "headers": {"Host": "evil"}}),
        "config.headers.Host",
    )
    .await;
    refused(
        &admin,
        org,
        "webhook",
        json!({"url": "https://hooks.example.test/x", "headers": {"X-Breeze-Signature": "x"}}),
        "config.headers.X-Breeze-Signature",
    )
    .await;
    // A public name (or one that does not resolve yet) is saved: checked again at send time.
    let c = create_channel(
        &admin,
        org,
        "ok",
        "webhook",
        json!({"url": "https://hooks.example.test/x"}),
    )
    .await;
    assert_eq!(c.channel.config["url"], "https://hooks.example.test/x");
    let list: Page<NotificationChannel> = admin
        .get("/api/v1/notification-channels")
        .await
        .expect("list");
    assert_eq!(list.data.len(), 1, "nothing refused was saved");
}

#[tokio::test]
async fn a_receiver_redirecting_to_loopback_is_not_followed() {
    for engine in engines() {
        let target = Receiver::start().await;
        let bouncer = Receiver::start().await;
        bouncer.status.store(307, Ordering::SeqCst);
        *bouncer.redirect.lock().expect("r") = Some(target.url("/internal"));
        let app = spawn(engine, |c| c.outbound.allow = allow_loopback()).await;
        let admin = app.admin().await;
        let (org, _) = crate::device_state::org_and_site(&admin, "Acme").await;
        let c = create_channel(
            &admin,
            org,
            "hook",
            "webhook",
            json!({"url": bouncer.url("/hook")}),
        )
        .await;
        let (s, body) = admin
            .raw(
                Method::POST,
                &format!("/api/v1/notification-channels/{}/test", c.channel.id),
                Some(&json!({})),
            )
            .await
            .expect("test");
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(!body.contains(RECEIVER_BODY), "{body}");
        let d: Delivery = serde_json::from_str(&body).expect("delivery");
        assert_eq!(d.event, "test");
        assert_eq!(d.status, "failed");
        assert_eq!(d.response_status, Some(307));
        assert_eq!(d.last_error.as_deref(), Some("redirect not followed"));
        assert_eq!(bouncer.hits().len(), 1);
        assert!(target.hits().is_empty(), "the redirect was not followed");

        // A receiver that answers 200: the test is logged as sent, its body never shown.
        bouncer.status.store(200, Ordering::SeqCst);
        *bouncer.redirect.lock().expect("r") = None;
        let d: Delivery = admin
            .post(
                &format!("/api/v1/notification-channels/{}/test", c.channel.id),
                &json!({}),
            )
            .await
            .expect("test");
        assert_eq!((d.status.as_str(), d.response_status), ("sent", Some(200)));
        assert_eq!(bouncer.hits()[1].json()["event"], "test");
        let p: Page<Delivery> = admin
            .get(&format!(
                "/api/v1/notification-channels/{}/deliveries?limit=1",
                c.channel.id
            ))
            .await
            .expect("log");
        assert_eq!(p.data[0].id, d.id, "newest first");
        assert!(p.next_cursor.is_some());
    }
}

#[tokio::test]
async fn a_name_rebound_to_loopback_after_saving_is_refused_when_sending() {
    let rx = Receiver::start().await;
    let flip = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = flip.clone();
    let app = spawn(Engine::Sqlite, move |c| {
        c.outbound.resolver = Resolver::from_fn(move |host| {
            if host == "hooks.rebind.test" {
                let ip = if f.load(Ordering::SeqCst) {
                    "127.0.0.1"
                } else {
                    "192.0.2.10"
                };
                return Ok(vec![ip.parse().expect("ip")]);
            }
            local_names(host)
        });
    })
    .await;
    let admin = app.admin().await;
    let (org, _) = crate::device_state::org_and_site(&admin, "Acme").await;
    let c = create_channel(
        &admin,
        org,
        "hook",
        "webhook",
        json!({"url": format!("http://hooks.rebind.test:{}/hook", rx.port)}),
    )
    .await;
    flip.store(true, Ordering::SeqCst);
    let d: Delivery = admin
        .post(
            &format!("/api/v1/notification-channels/{}/test", c.channel.id),
            &json!({}),
        )
        .await
        .expect("test");
    assert_eq!(d.status, "failed");
    assert!(
        d.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("destination not allowed"),
        "{d:?}"
    );
    assert!(rx.hits().is_empty());
}

#[tokio::test]
async fn pending_deliveries_are_sent_once_after_a_restart() {
    for engine in engines() {
        // The receiver's port, reserved and closed: the receiver is down at first.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let clock = breeze_core::FixedClock::new(chrono::Utc::now());
        let app = spawn_clocked(engine, Some(Arc::new(clock.clone())), |c| {
            c.outbound.allow = allow_loopback();
        })
        .await;
        let admin = app.admin().await;
        let (org, site, dev) = org_with_device(&app, &admin, "Acme", "web-01").await;
        let hook = create_channel(
            &admin,
            org,
            "hook",
            "webhook",
            json!({"url": format!("http://127.0.0.1:{port}/hook")}),
        )
        .await;
        let pd = create_channel(
            &admin,
            org,
            "pd",
            "pagerduty",
            json!({"routing_key": "rk", "url": format!("http://127.0.0.1:{port}/pd")}),
        )
        .await;
        let rule = insert_rule(
            &app,
            org,
            "CPU high",
            &[hook.channel.id, pd.channel.id],
            None,
        )
        .await;
        let alert = insert_alert(&app, org, site, dev, "web-01", rule, "CPU high").await;
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("event");
        // Both attempts fail (connection refused) and wait for their retry.
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = alert_log(&admin, alert.id).await;
            if log.len() == 2 && log.iter().all(|d| d.attempts == 1) {
                assert!(log.iter().all(|d| d.status == "pending"), "{log:?}");
                assert!(
                    log.iter()
                        .all(|d| d.last_error.as_deref() == Some("connection refused")),
                    "{log:?}"
                );
                break;
            }
            assert!(std::time::Instant::now() < until, "{log:?}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }

        let app = app
            .restart(Some(Arc::new(clock.clone())), |c| {
                c.outbound.allow = allow_loopback()
            })
            .await;
        let rx = Receiver::start_at(port).await;
        // The engine raising the same event again after the restart adds nothing.
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("again");
        clock.advance(chrono::Duration::hours(1));
        app.state.delivery.wake();
        // (Signed in again: an hour later the old access token has expired.)
        let admin = app
            .client
            .clone()
            .login_as(crate::harness::ADMIN_EMAIL, PASSWORD)
            .await
            .expect("login");
        let log = settled(&admin, alert.id, 2).await;
        assert_eq!(log.len(), 2, "{log:?}");
        for d in &log {
            assert_eq!(
                (d.status.as_str(), d.attempts),
                ("sent", 2),
                "{engine:?} {d:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let hits = rx.hits();
        assert_eq!(hits.len(), 2, "each sent once: {hits:?}");
        assert_eq!(rx.on("/hook").len(), 1);
        assert_eq!(rx.on("/pd").len(), 1);
        let jobs = breeze_store::jobs::list(&app.state.db, breeze_store::deliveries::JOB_KIND)
            .await
            .expect("jobs");
        assert!(jobs.is_empty(), "{jobs:?}");
    }
}

/// A worker that dies during a delivery's last attempt (the server killed with the request
/// in flight, `max_attempts` spent): once its lease is over the delivery ends `failed`
/// with a reason and is audited, instead of staying `pending` for ever.
#[tokio::test]
async fn a_delivery_whose_last_attempt_died_with_its_worker_ends_failed() {
    for engine in engines() {
        let rx = Receiver::start().await;
        let clock = breeze_core::FixedClock::new(chrono::Utc::now());
        let app = spawn_clocked(engine, Some(Arc::new(clock.clone())), |c| {
            c.outbound.allow = allow_loopback();
            c.outbound.max_attempts = 1;
            // The worker runs only when woken: the test claims the job first.
            c.outbound.queue_poll_millis = 3_600_000;
            c.auth.access_ttl_secs = 3600;
        })
        .await;
        let admin = app.admin().await;
        let (org, site, dev) = org_with_device(&app, &admin, "Acme", "web-01").await;
        let hook = create_channel(
            &admin,
            org,
            "hook",
            "webhook",
            json!({"url": format!("http://127.0.0.1:{}/hook", rx.port)}),
        )
        .await;
        let rule = insert_rule(&app, org, "CPU high", &[hook.channel.id], None).await;
        let alert = insert_alert(&app, org, site, dev, "web-01", rule, "CPU high").await;
        let now = app.state.now();
        let event = AlertEvent::Triggered.name();
        let (id, _) = breeze_store::deliveries::queue(
            &app.state.db,
            &breeze_store::deliveries::NewDelivery {
                org_id: org,
                alert_id: Some(alert.id),
                channel_id: hook.channel.id,
                event: event.into(),
                escalation_step: None,
                message: None,
                idempotency_key: breeze_store::deliveries::idempotency_key(
                    alert.id,
                    hook.channel.id,
                    event,
                    None,
                ),
            },
            1,
            now,
        )
        .await
        .expect("queue");
        // Claimed for its only attempt by a worker that then dies.
        let claimed =
            breeze_store::jobs::claim(&app.state.db, now, now + chrono::Duration::minutes(1), 10)
                .await
                .expect("claim");
        assert_eq!(claimed.len(), 1, "{engine:?}");

        clock.advance(chrono::Duration::minutes(5));
        app.state.delivery.wake();
        let log = settled(&admin, alert.id, 1).await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].id, id);
        assert_eq!(
            (log[0].status.as_str(), log[0].attempts),
            ("failed", 1),
            "{engine:?} {log:?}"
        );
        assert_eq!(
            log[0].last_error.as_deref(),
            Some("the worker stopped during the last attempt")
        );
        assert!(rx.hits().is_empty(), "nothing was sent");
        let job = breeze_store::jobs::get(&app.state.db, id.0)
            .await
            .expect("job")
            .expect("the failed job is kept");
        assert_eq!(job.status, "failed");
        #[derive(sqlx::FromRow)]
        struct Row {
            actor_type: String,
            result: String,
            partner_id: Option<uuid::Uuid>,
        }
        // The audit row is written just after the delivery row is marked failed.
        let mut rows: Vec<Row> = Vec::new();
        for _ in 0..100 {
            rows = app
                .state
                .db
                .all(breeze_store::Q::new(
                    "SELECT actor_type, result, partner_id FROM audit_logs WHERE action = 'job.failed'",
                ))
                .await
                .expect("audit");
            if !rows.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            rows.len(),
            1,
            "{engine:?}: one audit row for the failed job"
        );
        assert_eq!(
            (rows[0].actor_type.as_str(), rows[0].result.as_str()),
            ("system", "failure")
        );
        assert!(
            rows[0].partner_id.is_some(),
            "filed under the channel's partner"
        );
    }
}

#[tokio::test]
async fn channels_policies_and_deliveries_of_another_partner_are_404() {
    for engine in engines() {
        let rx = Receiver::start().await;
        let app = spawn(engine, |c| {
            c.outbound.allow = allow_loopback();
            c.auth.max_failures_per_ip = 10_000;
        })
        .await;
        let a = app.admin().await;
        let b = crate::harness::second_partner(&app).await;
        let (org, site, dev) = org_with_device(&app, &a, "Acme", "web-01").await;
        let (b_org, _) = crate::device_state::org_and_site(&b, "Bolt").await;
        let c = create_channel(&a, org, "hook", "webhook", json!({"url": rx.url("/hook")})).await;
        let p: EscalationPolicy = a
            .post(
                "/api/v1/escalation-policies",
                &json!({"org_id": org, "name": "Night",
                "steps": [{"delay_minutes": 0, "channels": [c.channel.id]}]}),
            )
            .await
            .expect("policy");
        let rule = insert_rule(&app, org, "CPU high", &[c.channel.id], None).await;
        let alert = insert_alert(&app, org, site, dev, "web-01", rule, "CPU high").await;
        alert_event(&app.state, &alert, AlertEvent::Triggered)
            .await
            .expect("event");
        settled(&a, alert.id, 1).await;

        let cid = c.channel.id;
        for (m, path, body) in [
            (
                Method::GET,
                format!("/api/v1/notification-channels/{cid}"),
                None,
            ),
            (
                Method::PATCH,
                format!("/api/v1/notification-channels/{cid}"),
                Some(json!({"name": "x"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/notification-channels/{cid}"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/notification-channels/{cid}/test"),
                Some(json!({})),
            ),
            (
                Method::GET,
                format!("/api/v1/notification-channels/{cid}/deliveries"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/alerts/{}/deliveries", alert.id),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/escalation-policies/{}", p.id),
                None,
            ),
            (
                Method::PATCH,
                format!("/api/v1/escalation-policies/{}", p.id),
                Some(json!({"name": "x"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/escalation-policies/{}", p.id),
                None,
            ),
        ] {
            let (s, text) = b.raw(m.clone(), &path, body.as_ref()).await.expect("raw");
            assert_eq!(s, StatusCode::NOT_FOUND, "{engine:?} {m} {path}: {text}");
        }
        // Lists show nothing of the other partner; references across are refused.
        let l: Page<NotificationChannel> =
            b.get("/api/v1/notification-channels").await.expect("list");
        assert!(l.data.is_empty());
        let l: Page<EscalationPolicy> = b.get("/api/v1/escalation-policies").await.expect("list");
        assert!(l.data.is_empty());
        let (s, text) = b
            .raw(
                Method::POST,
                "/api/v1/escalation-policies",
                Some(&json!({"org_id": b_org, "name": "x",
                "steps": [{"delay_minutes": 0, "channels": [cid]}]})),
            )
            .await
            .expect("raw");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert!(text.contains("steps[0].channels"), "{text}");
        let (s, _) = b
            .raw(
                Method::POST,
                "/api/v1/notification-channels",
                Some(&json!({"org_id": org, "name": "x",
                "type": "webhook", "config": {"url": rx.url("/x")}})),
            )
            .await
            .expect("raw");
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Still there for its owner.
        let _: NotificationChannel = a
            .get(&format!("/api/v1/notification-channels/{cid}"))
            .await
            .expect("mine");
        assert_eq!(rx.hits().len(), 1, "the other partner's test sent nothing");
    }
}
