//! Alert rules and alerts (issue 11): windows, dedup, cooldown, auto-resolve, offline and
//! software conditions, the lifecycle, validation with paths, tenant isolation and live
//! events. The server's Clock is a FixedClock the tests advance.

use crate::events::{invite, store_user};
use crate::harness::{TestApp, engines, spawn_clocked};
use breeze_client::{BreezeClient, EventStream};
use breeze_core::FixedClock;
use breeze_core::roles::{ORG_ADMIN, ORG_VIEWER};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use chrono::Duration;
use serde_json::{Value, json};
use std::sync::Arc;

struct Env {
    app: TestApp,
    clock: Arc<FixedClock>,
    admin: BreezeClient,
    org: OrgId,
    site: SiteId,
    dev: DeviceId,
    agent: BreezeClient,
}

async fn env(engine: crate::harness::Engine) -> Env {
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    // Tests advance the clock by an hour or so: tokens live the longest allowed, and
    // `fresh` logs in again past that.
    let app = spawn_clocked(engine, Some(clock.clone()), |c| {
        c.auth.access_ttl_secs = 3600
    })
    .await;
    let admin = app.admin().await;
    let (org, site) = crate::device_state::org_and_site(&admin, "Alerting").await;
    let (dev, agent) = crate::device_state::enroll(&app, &admin, org, site, "web-01").await;
    Env {
        app,
        clock,
        admin,
        org,
        site,
        dev,
        agent,
    }
}

impl Env {
    /// A new login for the admin (after the clock passed the access token's life).
    async fn fresh(&mut self) {
        self.admin = self
            .app
            .client
            .login_as(crate::harness::ADMIN_EMAIL, crate::harness::PASSWORD)
            .await
            .expect("login");
    }

    fn tick(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
    }

    async fn beat(&self, metrics: Value) {
        beat_as(&self.agent, self.dev, metrics).await;
    }

    async fn cpu(&self, v: f64) {
        self.beat(json!({"cpu_percent": v, "ram_percent": 20.0}))
            .await;
    }

    async fn rule(&self, body: Value) -> AlertRule {
        let mut b = json!({"org_id": self.org, "name": "rule", "severity": "high",
            "targets": {"all": true}});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        self.admin
            .post("/api/v1/alert-rules", &b)
            .await
            .expect("rule")
    }

    async fn alerts(&self, rule: AlertRuleId) -> Vec<Alert> {
        let p: Page<Alert> = self
            .admin
            .get(&format!("/api/v1/alerts?rule_id={rule}"))
            .await
            .expect("alerts");
        p.data
    }

    async fn sweep(&self) {
        breeze_server::jobs::sweep_once(&self.app.state)
            .await
            .expect("sweep");
    }
}

async fn beat_as(agent: &BreezeClient, dev: DeviceId, metrics: Value) {
    let _: Value = agent
        .post(
            &format!("/api/v1/agents/{dev}/heartbeat"),
            &json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
                "status": "ok", "metrics": metrics}),
        )
        .await
        .expect("heartbeat");
}

/// A rule over 5 minutes: a single spike does not fire; a metric above the threshold on
/// every sample for the whole window fires exactly one alert (with the values in its
/// context); falling back resolves it as `auto`; the cooldown holds off the next one.
#[tokio::test]
async fn metric_window_dedup_auto_resolve_and_cooldown() {
    for engine in engines() {
        let mut e = env(engine).await;
        let rule = e
            .rule(
                json!({"conditions": {"metric": "cpu_percent", "operator": "gt", "value": 90,
                "duration_minutes": 5}, "cooldown_minutes": 30}),
            )
            .await;
        // A spike, then normal.
        e.cpu(99.0).await;
        e.tick(1);
        e.cpu(10.0).await;
        // Above the threshold for 4 minutes: not yet.
        for _ in 0..5 {
            e.tick(1);
            e.cpu(95.0).await;
        }
        assert!(
            e.alerts(rule.id).await.is_empty(),
            "{engine:?}: fired early"
        );
        // The fifth minute completes the window.
        e.tick(1);
        e.cpu(97.5).await;
        let a = e.alerts(rule.id).await;
        assert_eq!(a.len(), 1, "{engine:?}");
        let alert = &a[0];
        assert_eq!(alert.status, "active");
        assert_eq!(alert.severity, "high");
        assert_eq!(alert.device_id, e.dev);
        assert_eq!(alert.hostname, "web-01");
        assert_eq!(alert.context["metric"], "cpu_percent");
        assert_eq!(alert.context["operator"], "gt");
        assert_eq!(alert.context["threshold"], 90.0);
        assert_eq!(alert.context["value"], 97.5);
        assert_eq!(alert.context["window_minutes"], 5);
        assert_eq!(alert.context["samples"], 6);
        // Still high: still one alert.
        for _ in 0..3 {
            e.tick(1);
            e.cpu(96.0).await;
        }
        assert_eq!(e.alerts(rule.id).await.len(), 1);
        let r: AlertRule = e
            .admin
            .get(&format!("/api/v1/alert-rules/{}", rule.id))
            .await
            .unwrap();
        assert_eq!(r.open_alerts, 1);
        // Falls: resolved by `auto`.
        e.tick(1);
        e.cpu(20.0).await;
        let a: Alert = e
            .admin
            .get(&format!("/api/v1/alerts/{}", alert.id))
            .await
            .unwrap();
        assert_eq!(a.status, "resolved", "{engine:?}");
        assert_eq!(a.resolved_by.as_deref(), Some("auto"));
        // High again for 10 minutes, within the 30-minute cooldown: nothing new.
        for _ in 0..10 {
            e.tick(1);
            e.cpu(99.0).await;
        }
        assert_eq!(e.alerts(rule.id).await.len(), 1, "{engine:?}: cooldown");
        // After the cooldown (a gap restarts the window): a second alert.
        e.tick(30);
        e.fresh().await;
        for _ in 0..6 {
            e.cpu(99.0).await;
            e.tick(1);
        }
        let a = e.alerts(rule.id).await;
        assert_eq!(a.len(), 2, "{engine:?}");
        assert_eq!(a.iter().filter(|a| a.status == "active").count(), 1);
        // The audit log holds the engine's rows.
        let log: Value = e
            .admin
            .get("/api/v1/audit/logs?action=alert.trigger")
            .await
            .unwrap();
        assert!(
            log["data"].as_array().unwrap().len() >= 2,
            "{engine:?}: {log}"
        );
    }
}

/// Custom metrics and combinators: `all` needs every part.
#[tokio::test]
async fn custom_metrics_and_combinators() {
    for engine in engines() {
        let e = env(engine).await;
        let rule = e
            .rule(json!({"conditions": {"all": [
                {"metric": "custom.queue_depth", "operator": "gte", "value": 100},
                {"metric": "memory_percent", "operator": "gt", "value": 50}]}}))
            .await;
        e.beat(json!({"ram_percent": 80.0, "custom": {"queue_depth": 5.0}}))
            .await;
        e.beat(json!({"ram_percent": 10.0, "custom": {"queue_depth": 500.0}}))
            .await;
        assert!(e.alerts(rule.id).await.is_empty());
        e.beat(json!({"ram_percent": 80.0, "custom": {"queue_depth": 500.0}}))
            .await;
        let a = e.alerts(rule.id).await;
        assert_eq!(a.len(), 1, "{engine:?}");
        assert_eq!(a[0].context["match"], "all");
        assert_eq!(a[0].context["conditions"][0]["value"], 500.0);
    }
}

/// Targets narrow a rule: a static group's member fires and a non-member does not; a
/// dynamic group follows its rules; an OS filter leaves out other systems.
#[tokio::test]
async fn targets_pick_groups_and_operating_systems() {
    for engine in engines() {
        let e = env(engine).await;
        let (db, db_agent) =
            crate::device_state::enroll(&e.app, &e.admin, e.org, e.site, "db-01").await;
        let web_only: DeviceGroup = e
            .admin
            .post(
                "/api/v1/device-groups",
                &json!({"org_id": e.org, "name": "Web", "type": "static"}),
            )
            .await
            .expect("static group");
        let _: Value = e
            .admin
            .post(
                &format!("/api/v1/device-groups/{}/members", web_only.id),
                &json!({"device_ids": [e.dev]}),
            )
            .await
            .expect("members");
        let databases: DeviceGroup = e
            .admin
            .post(
                "/api/v1/device-groups",
                &json!({"org_id": e.org, "name": "Databases", "type": "dynamic",
                    "rules": {"all": [{"field": "hostname", "op": "contains", "value": "db-"}]}}),
            )
            .await
            .expect("dynamic group");
        let cpu = json!({"metric": "cpu_percent", "operator": "gt", "value": 90});
        let by_static = e
            .rule(json!({"targets": {"group_ids": [web_only.id]}, "conditions": cpu}))
            .await;
        let by_dynamic = e
            .rule(json!({"targets": {"group_ids": [databases.id]}, "conditions": cpu}))
            .await;
        let linux = e
            .rule(json!({"targets": {"os_types": ["linux"]}, "conditions": cpu}))
            .await;
        let windows = e
            .rule(json!({"targets": {"os_types": ["windows"]}, "conditions": cpu}))
            .await;
        e.cpu(95.0).await;
        beat_as(
            &db_agent,
            db,
            json!({"cpu_percent": 95.0, "ram_percent": 20.0}),
        )
        .await;
        let devices = |a: Vec<Alert>| a.into_iter().map(|a| a.device_id).collect::<Vec<_>>();
        assert_eq!(
            devices(e.alerts(by_static.id).await),
            vec![e.dev],
            "{engine:?}"
        );
        assert_eq!(
            devices(e.alerts(by_dynamic.id).await),
            vec![db],
            "{engine:?}"
        );
        let mut both = devices(e.alerts(linux.id).await);
        both.sort_by_key(|d| d.0);
        let mut expected = vec![e.dev, db];
        expected.sort_by_key(|d| d.0);
        assert_eq!(both, expected, "{engine:?}");
        assert!(e.alerts(windows.id).await.is_empty(), "{engine:?}");
    }
}

/// An agent that stops past the offline window fires the offline alert (by the sweep,
/// on the Clock); its return resolves it.
#[tokio::test]
async fn offline_alert_fires_after_window_and_resolves_on_return() {
    for engine in engines() {
        let e = env(engine).await;
        let rule = e
            .rule(json!({"severity": "critical",
                "conditions": {"type": "status", "status": "offline", "duration_minutes": 10}}))
            .await;
        e.cpu(5.0).await;
        e.tick(5);
        e.sweep().await;
        let d: Device = e
            .admin
            .get(&format!("/api/v1/devices/{}", e.dev))
            .await
            .unwrap();
        assert_eq!(d.status, "offline", "{engine:?}");
        assert!(e.alerts(rule.id).await.is_empty(), "{engine:?}: too early");
        e.tick(6);
        e.sweep().await;
        e.sweep().await;
        let a = e.alerts(rule.id).await;
        assert_eq!(a.len(), 1, "{engine:?}");
        assert_eq!(a[0].status, "active");
        assert_eq!(a[0].context["condition"], "offline");
        // Back: resolved at once.
        e.cpu(5.0).await;
        let a = e.alerts(rule.id).await;
        assert_eq!(a[0].status, "resolved", "{engine:?}");
        assert_eq!(a[0].resolved_by.as_deref(), Some("auto"));
    }
}

async fn upload_software(e: &Env, names: &[&str], hash: &str) {
    let software: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "version": "1.0", "source": "dpkg"}))
        .collect();
    let (status, body) = e
        .agent
        .raw(
            reqwest::Method::PUT,
            &format!("/api/v1/agents/{}/inventory", e.dev),
            Some(
                &json!({"collected_at": null, "software": software, "hashes": {"software": hash}}),
            ),
        )
        .await
        .expect("inventory");
    assert!(status.is_success(), "{status}: {body}");
}

/// Software removed whose name matches the rule's pattern raises an alert; a first
/// inventory is no change, and an unrelated removal is nothing.
#[tokio::test]
async fn software_removed_matching_pattern_raises() {
    for engine in engines() {
        let e = env(engine).await;
        let rule = e
            .rule(
                json!({"conditions": {"type": "software_change", "action": "removed",
                "name_pattern": "antivirus*"}}),
            )
            .await;
        upload_software(&e, &["Antivirus Pro", "Editor", "Tool"], "h1").await;
        upload_software(&e, &["Antivirus Pro", "Editor"], "h2").await;
        assert!(e.alerts(rule.id).await.is_empty(), "{engine:?}");
        upload_software(&e, &["Editor"], "h3").await;
        let a = e.alerts(rule.id).await;
        assert_eq!(a.len(), 1, "{engine:?}");
        assert_eq!(a[0].context["names"], json!(["Antivirus Pro"]));
        // Events do not clear by themselves.
        e.cpu(1.0).await;
        assert_eq!(e.alerts(rule.id).await[0].status, "active");
    }
}

async fn status_of(
    c: &BreezeClient,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let body = (!body.is_null()).then_some(body);
    let (s, v) = c.raw(method, path, body.as_ref()).await.expect("request");
    (s.as_u16(), serde_json::from_str(&v).unwrap_or_default())
}

/// Bad rules are 422 naming the bad part as a path.
#[tokio::test]
async fn bad_rules_are_422_with_paths() {
    for engine in engines() {
        let e = env(engine).await;
        let ok = json!({"metric": "cpu_percent", "operator": "gt", "value": 90});
        let cases = vec![
            (
                json!({"conditions": {"all": [ok, {"metric": "cpu_percent", "operator": "over", "value": 1}]},
                "targets": {"all": true}, "severity": "high"}),
                "conditions.all[1].operator",
            ),
            (
                json!({"conditions": ok, "targets": {"site_ids": ["x"]}, "severity": "high"}),
                "targets.site_ids[0]",
            ),
            (
                json!({"conditions": ok, "targets": {}, "severity": "high"}),
                "targets",
            ),
            (
                json!({"conditions": ok, "targets": {"all": true}, "severity": "urgent"}),
                "severity",
            ),
            (
                json!({"conditions": ok, "targets": {"all": true}, "severity": "low",
                "notification_channels": [NotificationChannelId::new()]}),
                "notification_channels[0]",
            ),
            (
                json!({"conditions": ok, "targets": {"all": true}, "severity": "low",
                "escalation_policy_id": EscalationPolicyId::new()}),
                "escalation_policy_id",
            ),
            (
                json!({"conditions": {"type": "status", "status": "offline"}, "targets": {"all": true},
                "severity": "low"}),
                "conditions.duration_minutes",
            ),
        ];
        for (mut body, field) in cases {
            body["org_id"] = json!(e.org);
            body["name"] = json!("bad");
            let (s, v) =
                status_of(&e.admin, reqwest::Method::POST, "/api/v1/alert-rules", body).await;
            assert_eq!(s, 422, "{engine:?} {field}: {v}");
            assert_eq!(v["error"]["field"], field, "{engine:?}: {v}");
        }
        let r = e.rule(json!({"conditions": ok})).await;
        let (s, v) = status_of(
            &e.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/alert-rules/{}", r.id),
            json!({"conditions": {"any": [{"type": "software_change", "action": "x", "name_pattern": "a"}]}}),
        )
        .await;
        assert_eq!(s, 422);
        assert_eq!(v["error"]["field"], "conditions.any[0].action");
        // Canonical JSON: the alias is stored by its name.
        let r = e
            .rule(
                json!({"conditions": {"metric": "memory_percent", "operator": "gte", "value": 1}}),
            )
            .await;
        assert_eq!(r.conditions["metric"], "ram_percent");
    }
}

/// Acknowledge, resolve (409 on a second lifecycle step that makes no sense), suppress
/// until a time (active again after it, by the sweep), bulk with scope, counts, the
/// device's alerts, and the live event.
#[tokio::test]
async fn lifecycle_bulk_counts_and_live_events() {
    for engine in engines() {
        let mut e = env(engine).await;
        let mut stream: EventStream = crate::events::open("admin", &e.admin).await;
        let rule = e
            .rule(json!({"conditions": {"metric": "disk_percent", "operator": "gte", "value": 90}}))
            .await;
        e.beat(json!({"disk_percent": 95.0})).await;
        let a = e.alerts(rule.id).await.remove(0);
        let ev = crate::events::read_until("admin", &mut stream, |ev| {
            matches!(ev, LiveEvent::AlertUpdated { .. })
        })
        .await;
        assert_eq!(
            ev.last().cloned().unwrap(),
            LiveEvent::AlertUpdated {
                alert_id: a.id,
                rule_id: Some(rule.id),
                device_id: e.dev,
                org_id: e.org,
                site_id: e.site,
                status: "active".into(),
                severity: "high".into()
            }
        );
        let c: AlertCounts = e.admin.get("/api/v1/alerts/counts").await.unwrap();
        assert_eq!((c.active, c.high), (1, 1));
        // Acknowledge, then resolve with a note; acknowledging again is 409.
        let acked: Alert = e
            .admin
            .post(&format!("/api/v1/alerts/{}/acknowledge", a.id), &json!({}))
            .await
            .unwrap();
        assert_eq!(acked.status, "acknowledged");
        assert!(acked.acknowledged_by.is_some());
        let done: Alert = e
            .admin
            .post(
                &format!("/api/v1/alerts/{}/resolve", a.id),
                &json!({"note": "disk cleaned"}),
            )
            .await
            .unwrap();
        assert_eq!(done.status, "resolved");
        assert_eq!(done.resolution_note.as_deref(), Some("disk cleaned"));
        let (s, _) = status_of(
            &e.admin,
            reqwest::Method::POST,
            &format!("/api/v1/alerts/{}/acknowledge", a.id),
            json!({}),
        )
        .await;
        assert_eq!(s, 409, "{engine:?}");
        // Next one (no cooldown by default? 15 minutes): after it, suppress until +1h.
        e.tick(16);
        e.beat(json!({"disk_percent": 96.0})).await;
        let open: Page<Alert> = e
            .admin
            .get(&format!("/api/v1/devices/{}/alerts?status=open", e.dev))
            .await
            .unwrap();
        assert_eq!(open.data.len(), 1, "{engine:?}");
        let b = &open.data[0];
        let until = e.app.state.now() + Duration::hours(1);
        let sup: Alert = e
            .admin
            .post(
                &format!("/api/v1/alerts/{}/suppress", b.id),
                &json!({"until": until}),
            )
            .await
            .unwrap();
        assert_eq!(sup.status, "suppressed");
        e.tick(61);
        e.fresh().await;
        e.sweep().await;
        let back: Alert = e
            .admin
            .get(&format!("/api/v1/alerts/{}", b.id))
            .await
            .unwrap();
        assert_eq!(back.status, "active", "{engine:?}");
        // Bulk: an unknown id makes it 404 and changes nothing.
        let (s, _) = status_of(
            &e.admin,
            reqwest::Method::POST,
            "/api/v1/alerts/acknowledge",
            json!({"ids": [b.id, AlertId::new()]}),
        )
        .await;
        assert_eq!(s, 404);
        let still: Alert = e
            .admin
            .get(&format!("/api/v1/alerts/{}", b.id))
            .await
            .unwrap();
        assert_eq!(still.status, "active");
        let ch: Changed = e
            .admin
            .post("/api/v1/alerts/resolve", &json!({"ids": [b.id, a.id]}))
            .await
            .unwrap();
        assert_eq!(
            ch.changed, 1,
            "{engine:?}: the resolved one is not changed again"
        );
        let c: AlertCounts = e.admin.get("/api/v1/alerts/counts").await.unwrap();
        assert_eq!(c.active + c.acknowledged + c.suppressed, 0);
        // Filters and paging.
        let all: Page<Alert> = e
            .admin
            .get("/api/v1/alerts?status=resolved&limit=1")
            .await
            .unwrap();
        assert_eq!(all.data.len(), 1);
        assert!(all.next_cursor.is_some());
        let (s, v) = status_of(
            &e.admin,
            reqwest::Method::GET,
            "/api/v1/alerts?status=bogus",
            json!(null),
        )
        .await;
        assert_eq!(s, 422, "{v}");
    }
}

/// A device in maintenance raises nothing.
#[tokio::test]
async fn maintenance_mode_raises_nothing() {
    for engine in engines() {
        let e = env(engine).await;
        let rule = e
            .rule(json!({"conditions": {"metric": "cpu_percent", "operator": "gt", "value": 50}}))
            .await;
        let _: Value = e
            .admin
            .post(
                &format!("/api/v1/devices/{}/maintenance", e.dev),
                &json!({}),
            )
            .await
            .expect("maintenance");
        e.cpu(99.0).await;
        assert!(e.alerts(rule.id).await.is_empty(), "{engine:?}");
    }
}

/// Templates: one step enables them all; a second call duplicates nothing. The dry run
/// reports the firing device without raising.
#[tokio::test]
async fn templates_are_idempotent_and_test_raises_nothing() {
    for engine in engines() {
        let e = env(engine).await;
        let t: Data<Vec<AlertRuleTemplate>> =
            e.admin.get("/api/v1/alert-rules/templates").await.unwrap();
        assert_eq!(t.data.len(), 5);
        let first: Data<Vec<AlertRule>> = e
            .admin
            .post(
                "/api/v1/alert-rules/from-template",
                &json!({"org_id": e.org}),
            )
            .await
            .unwrap();
        assert_eq!(first.data.len(), 5);
        let again: Data<Vec<AlertRule>> = e
            .admin
            .post(
                "/api/v1/alert-rules/from-template",
                &json!({"org_id": e.org, "templates": ["cpu_high"]}),
            )
            .await
            .unwrap();
        assert_eq!(again.data.len(), 1);
        assert_eq!(
            again.data[0].id,
            first
                .data
                .iter()
                .find(|r| r.template.as_deref() == Some("cpu_high"))
                .unwrap()
                .id
        );
        let list: Page<AlertRule> = e
            .admin
            .get(&format!("/api/v1/alert-rules?org_id={}", e.org))
            .await
            .unwrap();
        assert_eq!(list.data.len(), 5, "{engine:?}");
        let disk = first
            .data
            .iter()
            .find(|r| r.template.as_deref() == Some("disk_almost_full"))
            .unwrap();
        // Make the disk full; the heartbeat would raise, so switch the rule off first.
        let _: AlertRule = e
            .admin
            .patch(
                &format!("/api/v1/alert-rules/{}", disk.id),
                &json!({"enabled": false}),
            )
            .await
            .unwrap();
        e.beat(json!({"disk_percent": 99.0})).await;
        let r: AlertRuleTestResult = e
            .admin
            .post(&format!("/api/v1/alert-rules/{}/test", disk.id), &json!({}))
            .await
            .unwrap();
        assert_eq!(
            (r.evaluated_devices, r.firing_devices),
            (1, 1),
            "{engine:?}: {r:?}"
        );
        assert!(e.alerts(disk.id).await.is_empty());
        // Deleting a rule keeps its alerts' history.
        let _: AlertRule = e
            .admin
            .patch(
                &format!("/api/v1/alert-rules/{}", disk.id),
                &json!({"enabled": true}),
            )
            .await
            .unwrap();
        e.beat(json!({"disk_percent": 99.0})).await;
        let a = e.alerts(disk.id).await.remove(0);
        let _: OkBody = e
            .admin
            .delete(&format!("/api/v1/alert-rules/{}", disk.id))
            .await
            .unwrap();
        let a: Alert = e
            .admin
            .get(&format!("/api/v1/alerts/{}", a.id))
            .await
            .unwrap();
        assert_eq!(a.rule_id, None);
        assert_eq!(a.rule_name.as_deref(), Some("Disk almost full"));
    }
}

/// Another partner's and another organization's rules and alerts are 404 on every
/// route, nested and bulk included; a viewer reads but does not write.
#[tokio::test]
async fn other_tenants_rules_and_alerts_are_404() {
    for engine in engines() {
        let e = env(engine).await;
        let rule = e
            .rule(json!({"conditions": {"metric": "cpu_percent", "operator": "gt", "value": 50}}))
            .await;
        e.cpu(99.0).await;
        let alert = e.alerts(rule.id).await.remove(0);
        // A second organization of the same partner, with its own admin.
        let (org_b, _) = crate::device_state::org_and_site(&e.admin, "Other").await;
        let b_admin = invite(
            &e.app,
            &e.admin,
            "b-admin@other.test",
            RoleId(ORG_ADMIN),
            org_b,
            None,
        )
        .await;
        // A second partner.
        let p2 = store_user(&e.app, "boss@rival.test", Some("Rival IT")).await;
        let viewer = invite(
            &e.app,
            &e.admin,
            "viewer@alerting.test",
            RoleId(ORG_VIEWER),
            e.org,
            None,
        )
        .await;
        use reqwest::Method as M;
        let routes: Vec<(M, String, Value)> = vec![
            (
                M::GET,
                format!("/api/v1/alert-rules/{}", rule.id),
                json!(null),
            ),
            (
                M::PATCH,
                format!("/api/v1/alert-rules/{}", rule.id),
                json!({"name": "x"}),
            ),
            (
                M::DELETE,
                format!("/api/v1/alert-rules/{}", rule.id),
                json!(null),
            ),
            (
                M::POST,
                format!("/api/v1/alert-rules/{}/test", rule.id),
                json!({}),
            ),
            (M::GET, format!("/api/v1/alerts/{}", alert.id), json!(null)),
            (
                M::POST,
                format!("/api/v1/alerts/{}/acknowledge", alert.id),
                json!({}),
            ),
            (
                M::POST,
                format!("/api/v1/alerts/{}/resolve", alert.id),
                json!({}),
            ),
            (
                M::POST,
                format!("/api/v1/alerts/{}/suppress", alert.id),
                json!({"until": e.app.state.now() + Duration::hours(1)}),
            ),
            (
                M::POST,
                "/api/v1/alerts/acknowledge".into(),
                json!({"ids": [alert.id]}),
            ),
            (
                M::POST,
                "/api/v1/alerts/resolve".into(),
                json!({"ids": [alert.id]}),
            ),
            (
                M::GET,
                format!("/api/v1/devices/{}/alerts", e.dev),
                json!(null),
            ),
        ];
        for (who, c) in [("org b", &b_admin), ("partner 2", &p2)] {
            for (m, path, body) in &routes {
                let (s, _) = status_of(c, m.clone(), path, body.clone()).await;
                assert_eq!(s, 404, "{engine:?} {who}: {m} {path}");
            }
            let l: Page<Alert> = c.get("/api/v1/alerts").await.unwrap();
            assert!(l.data.is_empty(), "{who}");
            let r: Page<AlertRule> = c.get("/api/v1/alert-rules").await.unwrap();
            assert!(r.data.is_empty(), "{who}");
            let (s, v) = status_of(
                c,
                M::POST,
                "/api/v1/alert-rules",
                json!({"org_id": e.org, "name": "x", "severity": "low", "targets": {"all": true},
                    "conditions": {"metric": "cpu_percent", "operator": "gt", "value": 1}}),
            )
            .await;
            assert_eq!(s, 422, "{who}: {v}");
            assert_eq!(v["error"]["field"], "org_id");
        }
        // The viewer reads, but may not write.
        let _: Alert = viewer
            .get(&format!("/api/v1/alerts/{}", alert.id))
            .await
            .unwrap();
        let (s, _) = status_of(
            &viewer,
            M::POST,
            &format!("/api/v1/alerts/{}/acknowledge", alert.id),
            json!({}),
        )
        .await;
        assert_eq!(s, 403);
        let (s, _) = status_of(
            &viewer,
            M::PATCH,
            &format!("/api/v1/alert-rules/{}", rule.id),
            json!({"name": "x"}),
        )
        .await;
        assert_eq!(s, 403);
        // Nothing changed.
        let a: Alert = e
            .admin
            .get(&format!("/api/v1/alerts/{}", alert.id))
            .await
            .unwrap();
        assert_eq!(a.status, "active");
    }
}
