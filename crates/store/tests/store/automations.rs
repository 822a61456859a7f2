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
            automations::forget_signatures(&t.db, a).await.unwrap(),
            1,
            "a new secret forgets them"
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

/// The schedule and event triggers' queries (helper "sched"): due schedules, the
/// compare-and-set that moves a schedule on, and offline spells.
mod triggers {
    use super::*;
    use breeze_store::automation_schedule as sched;
    use breeze_store::device_events::{self, NewEvent};

    async fn set_next(db: &Db, a: AutomationId, at: Option<chrono::DateTime<Utc>>) {
        sched::set_next_run_for_system(db, a, at)
            .await
            .expect("set next");
    }

    #[tokio::test]
    async fn due_schedules_and_compare_and_set() {
        for t in engines().await {
            let w = world(&t.db, "Sched").await;
            let org = w.orgs[0];
            let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let due = automation(&t.db, org).await;
            let later = automation(&t.db, org).await;
            let unset = automation(&t.db, org).await;
            let off = automation(&t.db, org).await;
            set_next(&t.db, due, Some(now - Duration::minutes(5))).await;
            set_next(&t.db, later, Some(now + Duration::minutes(5))).await;
            set_next(&t.db, off, Some(now - Duration::minutes(5))).await;
            t.db.exec(
                Q::new("UPDATE automations SET enabled = ? WHERE id = ?")
                    .bind(false)
                    .bind(off),
            )
            .await
            .unwrap();
            let _ = unset;
            let got = sched::due_for_system(&t.db, now, 100).await.unwrap();
            let ids: Vec<_> = got.iter().map(|a| a.id).collect();
            assert_eq!(ids, vec![due], "{}", t.name);
            assert_eq!(got[0].next_run_at, Some(now - Duration::minutes(5)));
            assert_eq!(got[0].trigger["cron"], "0 2 * * *");

            // Moving on from the slot read: once. A second mover with the old value loses.
            let slot = now - Duration::minutes(5);
            let next_at = now + Duration::hours(1);
            let next = Some(next_at);
            assert!(
                sched::advance_for_system(&t.db, due, slot, next, Some(slot))
                    .await
                    .unwrap()
            );
            assert!(
                !sched::advance_for_system(&t.db, due, slot, next, Some(slot))
                    .await
                    .unwrap(),
                "{}: moved twice",
                t.name
            );
            let a = automations::get_for_system(&t.db, due).await.unwrap();
            assert_eq!((a.next_run_at, a.last_slot_at), (next, Some(slot)));
            // Skipping keeps the last fired slot.
            assert!(
                sched::advance_for_system(&t.db, due, next_at, None, None)
                    .await
                    .unwrap()
            );
            let a = automations::get_for_system(&t.db, due).await.unwrap();
            assert_eq!((a.next_run_at, a.last_slot_at), (None, Some(slot)));
            let ids: Vec<_> = sched::due_for_system(&t.db, now + Duration::days(1), 100)
                .await
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect();
            assert_eq!(ids, vec![later], "{}: no slot ahead, never due", t.name);

            // A suspended organization's schedules are not due.
            set_next(&t.db, due, Some(now - Duration::minutes(1))).await;
            t.db.exec(
                Q::new("UPDATE organizations SET status = 'suspended' WHERE id = ?").bind(org),
            )
            .await
            .unwrap();
            assert!(
                sched::due_for_system(&t.db, now, 100)
                    .await
                    .unwrap()
                    .is_empty(),
                "{}",
                t.name
            );
        }
    }

    #[tokio::test]
    async fn offline_spells_fire_once_each() {
        for t in engines().await {
            let w = world(&t.db, "Spell").await;
            let (org, site) = (w.orgs[0], w.sites[0][0]);
            let dev = device(&t.db, org, site, "web-01").await;
            let online = device(&t.db, org, site, "web-02").await;
            let a = automation(&t.db, org).await;
            let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let went_offline = |at| {
                let db = t.db.clone();
                async move {
                    db.exec(Q::new("UPDATE devices SET status = 'offline' WHERE id = ?").bind(dev))
                        .await
                        .unwrap();
                    device_events::insert(
                        &db,
                        &NewEvent {
                            device_id: dev,
                            event_type: "offline",
                            details: json!({}),
                            ip_address: None,
                            actor: device_events::Actor::System,
                        },
                        at,
                    )
                    .await
                    .unwrap();
                }
            };
            went_offline(t0).await;
            let _ = online;
            // Not offline long enough yet.
            assert!(
                sched::offline_spells_for_system(&t.db, a, org, t0 - Duration::minutes(1))
                    .await
                    .unwrap()
                    .is_empty()
            );
            let spells = sched::offline_spells_for_system(&t.db, a, org, t0 + Duration::minutes(5))
                .await
                .unwrap();
            assert_eq!(spells.len(), 1, "{}", t.name);
            assert_eq!(
                (spells[0].device_id, spells[0].site_id, spells[0].since),
                (dev, site, t0)
            );

            // A run of this automation on the device during the spell: it fired.
            let mut run = new_run(a, org, None);
            run.trigger_type = "event".into();
            let devs = vec![NewRunDevice {
                device_id: dev,
                hostname: "web-01".into(),
                skipped: None,
            }];
            assert!(
                runs::create(&t.db, &run, &devs, t0 + Duration::minutes(6))
                    .await
                    .unwrap()
            );
            assert!(
                sched::offline_spells_for_system(&t.db, a, org, t0 + Duration::minutes(10))
                    .await
                    .unwrap()
                    .is_empty(),
                "{}: fired twice in one spell",
                t.name
            );
            // Another automation has not fired for it.
            let other = automation(&t.db, org).await;
            assert_eq!(
                sched::offline_spells_for_system(&t.db, other, org, t0 + Duration::minutes(10))
                    .await
                    .unwrap()
                    .len(),
                1
            );

            // Back online, then offline again: a new spell.
            t.db.exec(Q::new("UPDATE devices SET status = 'online' WHERE id = ?").bind(dev))
                .await
                .unwrap();
            assert!(
                sched::offline_spells_for_system(&t.db, other, org, t0 + Duration::minutes(20))
                    .await
                    .unwrap()
                    .is_empty()
            );
            went_offline(t0 + Duration::minutes(30)).await;
            let spells =
                sched::offline_spells_for_system(&t.db, a, org, t0 + Duration::minutes(40))
                    .await
                    .unwrap();
            assert_eq!(spells.len(), 1, "{}: a new spell", t.name);
            assert_eq!(spells[0].since, t0 + Duration::minutes(30));
        }
    }
}
