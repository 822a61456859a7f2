//! Automations (issue 13): one run per schedule slot, exclusive claims of a device's
//! executor state, the step log, the webhook replay guard, and scope.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::alerts::Targets;
use breeze_core::scope::{OrgAccess, Scope};
use breeze_core::{PermissionSet, SiteAccess};
use breeze_proto::ids::{AutomationId, AutomationRunId, DeviceId, OrgId, SiteId};
use breeze_store::automation_runs::{self as runs, NewRun, NewRunDevice, StepEntry};
use breeze_store::automations::{self, NewAutomation};
use breeze_store::{Db, Q, StoreError};
use chrono::{Duration, Utc};
use serde_json::json;

async fn device(db: &Db, org: OrgId, site: SiteId, host: &str) -> DeviceId {
    let id = DeviceId::new();
    let now = Utc::now();
    db.exec(
        Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, status, tags, enrolled_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'linux', 'online', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(site)
        .bind(id.to_string())
        .bind(host)
        .bind(json!(["a"]))
        .bind(now)
        .bind(now)
        .bind(now),
    )
    .await
    .expect("device");
    id
}

async fn automation(db: &Db, org: OrgId) -> AutomationId {
    automations::create(
        db,
        &NewAutomation {
            org_id: org,
            name: "nightly".into(),
            description: None,
            enabled: true,
            trigger_type: "schedule".into(),
            trigger: json!({"type": "schedule", "cron": "0 2 * * *", "timezone": "UTC", "missed": "skip"}),
            targets: json!({"all": true}),
            conditions: None,
            actions: vec![json!({"type": "wait", "seconds": 5})],
            on_failure: "stop".into(),
            notify_channel_ids: vec![],
            webhook_secret_sealed: None,
            next_run_at: None,
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .expect("automation")
}

fn new_run(a: AutomationId, org: OrgId, slot: Option<chrono::DateTime<Utc>>) -> NewRun {
    NewRun {
        id: AutomationRunId::new(),
        automation_id: a,
        org_id: org,
        trigger_type: "schedule".into(),
        trigger_context: json!({}),
        triggered_by: None,
        scheduled_for: slot,
        depth: 0,
        chain: vec![],
        spec: json!({}),
        first_step: Some("0".into()),
    }
}

#[tokio::test]
async fn one_run_per_slot_and_exclusive_claims() {
    for t in engines().await {
        let w = world(&t.db, "Auto").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let dev = device(&t.db, org, site, "web-01").await;
        let a = automation(&t.db, org).await;
        let now = Utc::now();
        let slot = now - Duration::minutes(1);
        let devs = || {
            vec![NewRunDevice {
                device_id: dev,
                hostname: "web-01".into(),
                skipped: None,
            }]
        };
        let first = new_run(a, org, Some(slot));
        assert!(runs::create(&t.db, &first, &devs(), now).await.unwrap());
        // The same slot again (a second server, a restart): no second run.
        assert!(
            !runs::create(&t.db, &new_run(a, org, Some(slot)), &devs(), now)
                .await
                .unwrap(),
            "{}",
            t.name
        );
        // Runs without a slot never collide.
        assert!(
            runs::create(&t.db, &new_run(a, org, None), &devs(), now)
                .await
                .unwrap()
        );
        assert!(
            runs::create(&t.db, &new_run(a, org, None), &devs(), now)
                .await
                .unwrap()
        );

        let pending = runs::pending_of_run(&t.db, first.id).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert!(runs::claim_pending(&t.db, pending[0], now).await.unwrap());
        assert!(
            !runs::claim_pending(&t.db, pending[0], now).await.unwrap(),
            "claimed twice"
        );

        // A step log entry is written once per path and updated when the step ends.
        let entry = |status: &'static str, fin: bool| StepEntry {
            run_device_id: pending[0],
            seq: 0,
            path: "0",
            step_type: "wait",
            status,
            started_at: now,
            finished_at: fin.then_some(now),
            exit_code: None,
            output: None,
            message: fin.then(|| "waited".to_string()),
            execution_id: None,
        };
        runs::log_step(&t.db, &entry("waiting", false))
            .await
            .unwrap();
        runs::log_step(&t.db, &entry("completed", true))
            .await
            .unwrap();
        let mut d = runs::device_state(&t.db, pending[0]).await.unwrap();
        d.status = "completed".into();
        d.finished_at = Some(now);
        runs::save_device(&t.db, &d, now).await.unwrap();
        assert_eq!(
            runs::finish_if_done(&t.db, first.id, now)
                .await
                .unwrap()
                .as_deref(),
            Some("completed")
        );
        // Finished once.
        assert_eq!(
            runs::finish_if_done(&t.db, first.id, now).await.unwrap(),
            None
        );
        let out = runs::devices_of_run(&t.db, first.id).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].steps.len(), 1);
        assert_eq!(out[0].steps[0].status, "completed");
        assert_eq!(out[0].steps[0].message.as_deref(), Some("waited"));

        // Scope: another organization's scope does not reach the automation or its runs.
        let other = Scope::organization(
            w.partner,
            w.orgs[1],
            SiteAccess::All,
            None,
            PermissionSet::everything(),
        );
        assert!(matches!(
            automations::get(&t.db, &other, a).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            runs::get(&t.db, &other, first.id).await,
            Err(StoreError::NotFound)
        ));
        let mine = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        assert_eq!(
            runs::get(&t.db, &mine, first.id).await.unwrap().status,
            "completed"
        );
    }
}

#[tokio::test]
async fn webhook_signatures_are_remembered_until_pruned() {
    for t in engines().await {
        let w = world(&t.db, "Hook").await;
        let a = automation(&t.db, w.orgs[0]).await;
        let now = Utc::now();
        assert!(
            automations::remember_signature(&t.db, a, "abc", now)
                .await
                .unwrap()
        );
        assert!(
            !automations::remember_signature(&t.db, a, "abc", now)
                .await
                .unwrap()
        );
        assert_eq!(
            automations::prune_signatures(&t.db, now + Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        assert!(
            automations::remember_signature(&t.db, a, "abc", now)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn targets_resolve_to_live_devices_of_the_org() {
    for t in engines().await {
        let w = world(&t.db, "Targets").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let d1 = device(&t.db, org, site, "a-01").await;
        let d2 = device(&t.db, org, site, "b-02").await;
        let _elsewhere = device(&t.db, w.orgs[1], w.sites[1][0], "c-03").await;
        let all = Targets::parse("targets", &json!({"all": true})).unwrap();
        let got = runs::resolve_targets_for_system(&t.db, org, &all, None)
            .await
            .unwrap();
        assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d1, d2]);
        let one = Targets::parse("targets", &json!({"device_ids": [d2]})).unwrap();
        let got = runs::resolve_targets_for_system(&t.db, org, &one, None)
            .await
            .unwrap();
        assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d2]);
        let tags = runs::update_device_for_system(
            &t.db,
            d1,
            &["x".into()],
            &["a".into()],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(tags, vec!["x".to_string()]);
    }
}
