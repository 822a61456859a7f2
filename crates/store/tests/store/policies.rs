//! Policy compliance (issue 13): the aggregated counts stay equal to a recount of the rows
//! whatever order and concurrency results arrive in, devices that leave the targets take
//! their counts with them, history is appended on changes only, and scope holds.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::scope::{OrgAccess, Scope};
use breeze_core::{PermissionSet, SiteAccess};
use breeze_proto::api::{ComplianceCounts, ComplianceStatus, Enforcement, PolicyRule};
use breeze_proto::ids::{CommandId, DeviceId, OrgId, PolicyId, SiteId};
use breeze_store::listing::ListOpts;
use breeze_store::policy_compliance::{self as compliance, Outcome};
use breeze_store::{Db, Q, policies};
use chrono::{Duration, Utc};
use serde_json::json;

async fn device(db: &Db, org: OrgId, site: SiteId, n: usize) -> DeviceId {
    let id = DeviceId::new();
    let now = Utc::now();
    db.exec(
        Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, status, tags, created_at, updated_at, enrolled_at) \
             VALUES (?, ?, ?, ?, ?, 'linux', 'online', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(site)
        .bind(id.to_string())
        .bind(format!("host-{n:04}"))
        .bind(json!([]))
        .bind(now)
        .bind(now)
        .bind(now),
    )
    .await
    .expect("device");
    id
}

async fn policy(db: &Db, org: OrgId, rules: usize) -> PolicyId {
    policies::create(
        db,
        &policies::NewPolicy {
            org_id: org,
            name: "baseline".into(),
            description: None,
            enabled: true,
            enforcement: Enforcement::Monitor,
            targets: json!({"all": true}),
            check_interval_minutes: 60,
            rules: (0..rules)
                .map(|i| PolicyRule::FileAbsent {
                    path: format!("/tmp/{i}"),
                })
                .collect(),
            remediation_script_id: None,
            remediation_max_attempts: 3,
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .expect("policy")
}

#[derive(sqlx::FromRow)]
struct Tally {
    status: String,
    n: i64,
}

/// The device counts and rule counts as a recount of the rows would give them.
async fn recount(db: &Db, p: PolicyId, rules: usize) -> (ComplianceCounts, Vec<ComplianceCounts>) {
    fn fill(rows: Vec<Tally>) -> ComplianceCounts {
        let mut c = ComplianceCounts::default();
        for r in rows {
            match r.status.as_str() {
                "compliant" => c.compliant = r.n,
                "non_compliant" => c.non_compliant = r.n,
                "unknown" => c.unknown = r.n,
                "error" => c.error = r.n,
                s => panic!("{s}"),
            }
            c.total += r.n;
        }
        c
    }
    let devices: Vec<Tally> = db
        .all(
            Q::new("SELECT status, COUNT(*) AS n FROM policy_device_status WHERE policy_id = ? GROUP BY status")
                .bind(p),
        )
        .await
        .unwrap();
    let mut per_rule = Vec::new();
    for i in 0..rules {
        let rows: Vec<Tally> = db
            .all(
                Q::new(
                    "SELECT status, COUNT(*) AS n FROM policy_rule_results WHERE policy_id = ? AND rule_index = ? GROUP BY status",
                )
                .bind(p)
                .bind(i as i64),
            )
            .await
            .unwrap();
        per_rule.push(fill(rows));
    }
    (fill(devices), per_rule)
}

async fn assert_counts_match(db: &Db, p: PolicyId, rules: usize, engine: &str) {
    let (stored, stored_rules) = compliance::counts(db, p).await.unwrap();
    let (want, want_rules) = recount(db, p, rules).await;
    assert_eq!(stored, want, "{engine}: device counts");
    for (i, w) in want_rules.iter().enumerate() {
        let got = stored_rules
            .iter()
            .find(|r| r.rule_index == i as i64)
            .map(|r| r.counts)
            .unwrap_or_default();
        assert_eq!(got, *w, "{engine}: rule {i}");
    }
}

fn status(n: usize) -> ComplianceStatus {
    ComplianceStatus::ALL[n % 4]
}

/// Forty devices answer two rounds concurrently (each answer a different mix); the stored
/// counts equal a recount after each round, and after half the devices leave.
#[tokio::test]
async fn concurrent_results_keep_counts_equal_to_a_recount() {
    for t in engines().await {
        let w = world(&t.db, "Policies").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let p = policy(&t.db, org, 3).await;
        let mut devs = Vec::new();
        for i in 0..40 {
            devs.push((device(&t.db, org, site, i).await, org));
        }
        let now = Utc::now();
        let r = compliance::reconcile_for_system(&t.db, p, &devs, now)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (40, 0));
        assert_counts_match(&t.db, p, 3, t.name).await;
        for round in 0..2usize {
            let mut tasks = Vec::new();
            for (i, (d, _)) in devs.iter().enumerate() {
                let db = t.db.clone();
                let d = *d;
                tasks.push(tokio::spawn(async move {
                    let outcomes: Vec<Outcome> = (0..3)
                        .map(|rule| Outcome {
                            rule_index: rule,
                            status: status(i * (round + 1) + rule as usize),
                            detail: Some(format!("round {round}")),
                        })
                        .collect();
                    compliance::record_check(&db, p, d, CommandId::new(), &outcomes, now)
                        .await
                        .expect("record")
                }));
            }
            for task in tasks {
                assert!(task.await.unwrap().is_some());
            }
            assert_counts_match(&t.db, p, 3, t.name).await;
        }
        // Half leave the targets (one deleted outright).
        t.db.exec(Q::new("DELETE FROM devices WHERE id = ?").bind(devs[39].0))
            .await
            .unwrap();
        let keep: Vec<(DeviceId, OrgId)> = devs[..20].to_vec();
        let r = compliance::reconcile_for_system(&t.db, p, &keep, now)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (0, 20));
        assert_counts_match(&t.db, p, 3, t.name).await;
        let (c, _) = compliance::counts(&t.db, p).await.unwrap();
        assert_eq!(c.total, 20);
        // A device no longer targeted: its late result is not recorded.
        let late = compliance::record_check(
            &t.db,
            p,
            devs[30].0,
            CommandId::new(),
            &[Outcome {
                rule_index: 0,
                status: ComplianceStatus::Compliant,
                detail: None,
            }],
            now,
        )
        .await
        .unwrap();
        assert_eq!(late, None);
    }
}

/// History grows only when a status changes; the device list pages by id and scope
/// hides another organization's view.
#[tokio::test]
async fn history_on_change_only_and_scope() {
    for t in engines().await {
        let w = world(&t.db, "Policies").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let p = policy(&t.db, org, 1).await;
        let d = device(&t.db, org, site, 0).await;
        let d2 = device(&t.db, org, site, 1).await;
        let now = Utc::now();
        compliance::reconcile_for_system(&t.db, p, &[(d, org), (d2, org)], now)
            .await
            .unwrap();
        let out = |s: ComplianceStatus, detail: &str| {
            vec![Outcome {
                rule_index: 0,
                status: s,
                detail: Some(detail.into()),
            }]
        };
        use ComplianceStatus::*;
        let steps = [
            (NonCompliant, "a"),
            (NonCompliant, "b"),
            (Compliant, "c"),
            (Compliant, "c"),
        ];
        for (i, (s, detail)) in steps.iter().enumerate() {
            let rec = compliance::record_check(
                &t.db,
                p,
                d,
                CommandId::new(),
                &out(*s, detail),
                now + Duration::minutes(i as i64),
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(rec.status, *s);
        }
        let mine = Scope::partner(w.partner, OrgAccess::All, PermissionSet::everything());
        let opts = ListOpts::parse(None, None, None, None).unwrap();
        let (h, _) = compliance::history(&t.db, &mine, p, Some(d), &opts)
            .await
            .unwrap();
        // Overall and rule: unknown→non_compliant, then non_compliant→compliant.
        assert_eq!(h.len(), 4, "{}: {h:?}", t.name);
        assert_eq!(h[0].status, Compliant);
        // The detail changed without a status change: kept current, no history row.
        let (list, next) =
            compliance::list_devices(&t.db, &mine, p, &["file_absent"], None, None, &opts)
                .await
                .unwrap();
        assert_eq!(list.len(), 2);
        assert!(next.is_none());
        let row = list.iter().find(|r| r.device_id == d).unwrap();
        assert_eq!(row.rules[0].detail.as_deref(), Some("c"));
        assert_eq!(row.rules[0].rule_type, "file_absent");
        let small = ListOpts::parse(Some(1), None, None, None).unwrap();
        let (page, next) = compliance::list_devices(&t.db, &mine, p, &[], None, None, &small)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert!(next.is_some());
        let other = Scope::organization(
            w.partner,
            w.orgs[1],
            SiteAccess::All,
            None,
            PermissionSet::everything(),
        );
        assert!(policies::get(&t.db, &other, p).await.is_err());
        let (list, _) = compliance::list_devices(&t.db, &other, p, &[], None, None, &opts)
            .await
            .unwrap();
        assert!(list.is_empty());
        let (h, _) = compliance::history(&t.db, &other, p, None, &opts)
            .await
            .unwrap();
        assert!(h.is_empty());
        // Deleting the policy takes its compliance rows with it.
        policies::delete(&t.db, &mine, p).await.unwrap();
        #[derive(sqlx::FromRow)]
        struct N {
            n: i64,
        }
        for table in [
            "SELECT COUNT(*) AS n FROM policy_device_status WHERE policy_id = ?",
            "SELECT COUNT(*) AS n FROM policy_rule_results WHERE policy_id = ?",
            "SELECT COUNT(*) AS n FROM policy_compliance_counts WHERE policy_id = ?",
            "SELECT COUNT(*) AS n FROM policy_compliance_history WHERE policy_id = ?",
        ] {
            let n: N = t.db.one(Q::new(table).bind(p)).await.unwrap();
            assert_eq!(n.n, 0, "{table}");
        }
    }
}
