//! Alerts (issue 11): one open alert per rule × device whatever the order of attempts,
//! the cooldown after a resolution, silence in maintenance, and scope.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::scope::{OrgAccess, Scope};
use breeze_core::{PermissionSet, SiteAccess};
use breeze_proto::ids::{AlertRuleId, DeviceId, OrgId, SiteId};
use breeze_store::alert_rules::{self, NewRule};
use breeze_store::alerts::{self, NewAlert, Raised, Resolver};
use breeze_store::{Db, Q};
use chrono::{Duration, Utc};
use serde_json::json;

pub(crate) async fn device(db: &Db, org: OrgId, site: SiteId, status: &str) -> DeviceId {
    let id = DeviceId::new();
    let now = Utc::now();
    db.exec(
        Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, status, tags, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'h', 'linux', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(site)
        .bind(id.to_string())
        .bind(status)
        .bind(json!([]))
        .bind(now)
        .bind(now),
    )
    .await
    .expect("device");
    id
}

async fn rule(db: &Db, org: OrgId) -> AlertRuleId {
    alert_rules::create(
        db,
        &NewRule {
            org_id: org,
            name: "cpu".into(),
            description: None,
            enabled: true,
            severity: "high".into(),
            targets: json!({"all": true}),
            conditions: json!({"metric": "cpu_percent", "operator": "gt", "value": 90.0}),
            cooldown_minutes: 10,
            auto_resolve: true,
            escalation_policy_id: None,
            notification_channels: vec![],
            template: None,
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .expect("rule")
}

fn new_alert(org: OrgId, rule: AlertRuleId, device: DeviceId) -> NewAlert {
    NewAlert {
        org_id: org,
        rule_id: rule,
        rule_name: "cpu".into(),
        device_id: device,
        severity: "high".into(),
        title: "cpu: h".into(),
        message: None,
        context: json!({"value": 95.0}),
        cooldown_minutes: 10,
    }
}

#[tokio::test]
async fn one_open_alert_per_rule_and_device_and_cooldown_holds() {
    for t in engines().await {
        let w = world(&t.db, "Alerts").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let dev = device(&t.db, org, site, "online").await;
        let quiet = device(&t.db, org, site, "maintenance").await;
        let r = rule(&t.db, org).await;
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        // Concurrent attempts: exactly one alert.
        let attempts = futures_like(&t.db, org, r, dev, now).await;
        assert_eq!(attempts, 1, "{}", t.name);
        assert!(matches!(
            alerts::raise_for_system(&t.db, &new_alert(org, r, dev), now)
                .await
                .unwrap(),
            Raised::AlreadyOpen
        ));
        assert!(matches!(
            alerts::raise_for_system(&t.db, &new_alert(org, r, quiet), now)
                .await
                .unwrap(),
            Raised::DeviceSilenced
        ));
        let open = alerts::open_for_system(&t.db, r, dev)
            .await
            .unwrap()
            .unwrap();
        alerts::resolve(&t.db, open.id, Resolver::Auto, None, now)
            .await
            .unwrap();
        assert!(
            alerts::resolve(&t.db, open.id, Resolver::Auto, None, now)
                .await
                .is_err()
        );
        // Within the cooldown: nothing; after it: a new one.
        match alerts::raise_for_system(&t.db, &new_alert(org, r, dev), now + Duration::minutes(5))
            .await
            .unwrap()
        {
            Raised::CoolingDown { until } => assert_eq!(until, now + Duration::minutes(10)),
            other => panic!("{}: {other:?}", t.name),
        }
        assert!(matches!(
            alerts::raise_for_system(&t.db, &new_alert(org, r, dev), now + Duration::minutes(11))
                .await
                .unwrap(),
            Raised::New(_)
        ));
        // Scope: the other organization's users see none of it.
        let other = Scope::organization(
            w.partner,
            w.orgs[1],
            SiteAccess::All,
            None,
            PermissionSet::everything(),
        );
        assert!(alerts::get(&t.db, &other, open.id).await.is_err());
        assert!(alert_rules::get(&t.db, &other, r).await.is_err());
        let mine = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        assert_eq!(
            alerts::get(&t.db, &mine, open.id).await.unwrap().status,
            "resolved"
        );
        // Deleting the rule keeps the history.
        alert_rules::delete(&t.db, &mine, r).await.unwrap();
        let kept = alerts::get(&t.db, &mine, open.id).await.unwrap();
        assert_eq!(
            (kept.rule_id, kept.rule_name.as_deref()),
            (None, Some("cpu"))
        );
    }
}

/// Eight raises at once on one pool: the unique index lets one through.
async fn futures_like(
    db: &Db,
    org: OrgId,
    r: AlertRuleId,
    dev: DeviceId,
    now: chrono::DateTime<Utc>,
) -> usize {
    let mut handles = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            alerts::raise_for_system(&db, &new_alert(org, r, dev), now).await
        }));
    }
    let mut new = 0;
    for h in handles {
        if let Raised::New(_) = h.await.unwrap().unwrap() {
            new += 1;
        }
    }
    new
}
