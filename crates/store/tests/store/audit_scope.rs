//! The audit log is scoped like the device lists (issue 8 item 10): site-limited readers
//! see only rows about their sites, device-group-limited readers only rows about devices
//! of their groups, and organization-level rows (no site) only org-wide readers see.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::scope::{OrgAccess, SiteAccess};
use breeze_core::{PermissionSet, Scope};
use breeze_proto::api::AuditQuery;
use breeze_proto::ids::{DeviceId, OrgId, SiteId};
use breeze_store::Q;
use breeze_store::agents::{self, NewPendingDevice};
use breeze_store::audit::{self, ChainProblem, NewAudit};
use breeze_store::device_groups::{self, NewGroup};
use std::collections::BTreeSet;

fn row(
    org: OrgId,
    action: &str,
    resource_type: &str,
    id: String,
    site: Option<SiteId>,
    device: Option<DeviceId>,
    partner: breeze_proto::ids::PartnerId,
) -> NewAudit {
    NewAudit {
        partner_id: Some(partner),
        org_id: Some(org),
        actor_type: "user".into(),
        actor_id: None,
        actor_email: Some("someone@acme.test".into()),
        action: action.into(),
        resource_type: resource_type.into(),
        resource_id: Some(id),
        resource_name: None,
        details: serde_json::json!({}),
        ip_address: None,
        user_agent: None,
        result: "success".into(),
        error_message: None,
        site_id: site,
        device_id: device,
    }
}

fn ids(rows: &[audit::AuditRow]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r.resource_id.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn site_and_group_limited_readers_see_only_audit_rows_about_what_they_reach() {
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        let now = chrono::Utc::now();
        let (o0, o1) = (w.orgs[0], w.orgs[1]);
        let (s0, s1) = (w.sites[0][0], w.sites[0][1]);
        let mut devices = Vec::new();
        for (i, site) in [s0, s1, s0].into_iter().enumerate() {
            let d = agents::create_pending(
                &t.db,
                &NewPendingDevice {
                    org_id: o0,
                    site_id: site,
                    hostname: &format!("host-{i}"),
                    display_name: None,
                    os_type: "linux",
                    tags: &[],
                    token_hash: &format!("hash-{i}"),
                    token_expires_at: now,
                    created_by: w.admin,
                },
                now,
            )
            .await
            .expect("device")
            .expect("enrollment not refused");
            devices.push(d);
        }
        let everything = PermissionSet::everything();
        let partner_wide = Scope::partner(w.partner, OrgAccess::All, everything.clone());
        let gid = device_groups::create(
            &t.db,
            &NewGroup {
                org_id: o0,
                site_id: Some(s0),
                name: "g".into(),
                group_type: "static".into(),
                rules: None,
                parent_id: None,
            },
            now,
        )
        .await
        .expect("group");
        let group = device_groups::get(&t.db, &partner_wide, gid)
            .await
            .expect("group");
        device_groups::add_members(&t.db, &partner_wide, &group, &[devices[0]], now)
            .await
            .expect("members");

        let p = w.partner;
        let rows = [
            row(
                o0,
                "org.update",
                "organization",
                "org0".into(),
                None,
                None,
                p,
            ),
            row(o0, "site.create", "site", s0.to_string(), Some(s0), None, p),
            row(o0, "site.create", "site", s1.to_string(), Some(s1), None, p),
            row(
                o0,
                "device.update",
                "device",
                devices[0].to_string(),
                Some(s0),
                Some(devices[0]),
                p,
            ),
            row(
                o0,
                "device.update",
                "device",
                devices[1].to_string(),
                Some(s1),
                Some(devices[1]),
                p,
            ),
            row(
                o0,
                "device.update",
                "device",
                devices[2].to_string(),
                Some(s0),
                Some(devices[2]),
                p,
            ),
            row(
                o1,
                "site.create",
                "site",
                w.sites[1][0].to_string(),
                Some(w.sites[1][0]),
                None,
                p,
            ),
        ];
        for r in &rows {
            audit::append(&t.db, r, now).await.expect("append");
        }

        let org_wide = Scope::organization(p, o0, SiteAccess::All, None, everything.clone());
        let site_limited = Scope::organization(
            p,
            o0,
            SiteAccess::Only(BTreeSet::from([s0])),
            None,
            everything.clone(),
        );
        let group_limited = Scope::organization(
            p,
            o0,
            SiteAccess::All,
            Some(BTreeSet::from([gid])),
            everything.clone(),
        );
        let site_and_group = Scope::organization(
            p,
            o0,
            SiteAccess::Only(BTreeSet::from([s0])),
            Some(BTreeSet::from([gid])),
            everything.clone(),
        );
        let all = AuditQuery::default();
        let list = |scope: Scope, q: AuditQuery| {
            let db = t.db.clone();
            async move { audit::list(&db, &scope, &q, None, 100).await.expect("list") }
        };
        assert_eq!(
            list(partner_wide.clone(), all.clone()).await.len(),
            7,
            "{}",
            t.name
        );
        assert_eq!(
            list(org_wide.clone(), all.clone()).await.len(),
            6,
            "{}",
            t.name
        );
        let expect_site: BTreeSet<String> = [
            s0.to_string(),
            devices[0].to_string(),
            devices[2].to_string(),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            ids(&list(site_limited.clone(), all.clone()).await),
            expect_site,
            "{}",
            t.name
        );
        let expect_group: BTreeSet<String> = [devices[0].to_string()].into_iter().collect();
        assert_eq!(
            ids(&list(group_limited.clone(), all.clone()).await),
            expect_group,
            "{}",
            t.name
        );
        assert_eq!(
            ids(&list(site_and_group.clone(), all.clone()).await),
            expect_group,
            "{}",
            t.name
        );

        // Filters never reach past the scope.
        let outside = [
            AuditQuery {
                resource_id: Some(devices[1].to_string()),
                ..Default::default()
            },
            AuditQuery {
                resource_id: Some(s1.to_string()),
                ..Default::default()
            },
            AuditQuery {
                resource_id: Some("org0".into()),
                ..Default::default()
            },
            AuditQuery {
                action: Some("org.*".into()),
                ..Default::default()
            },
            AuditQuery {
                org_id: Some(o1),
                ..Default::default()
            },
        ];
        for q in outside {
            assert!(
                list(site_limited.clone(), q.clone()).await.is_empty(),
                "{}: {q:?}",
                t.name
            );
            assert!(
                list(group_limited.clone(), q.clone()).await.is_empty(),
                "{}: {q:?}",
                t.name
            );
        }
        let sites_only = AuditQuery {
            action: Some("site.create".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(&list(site_limited.clone(), sites_only.clone()).await),
            BTreeSet::from([s0.to_string()]),
            "{}",
            t.name
        );
        assert!(
            list(group_limited.clone(), sites_only).await.is_empty(),
            "{}",
            t.name
        );

        // The summary counts the same rows.
        let sum = audit::summary(&t.db, &site_limited, &all)
            .await
            .expect("summary");
        assert_eq!(sum.total, 3, "{}", t.name);
        let sum = audit::summary(&t.db, &group_limited, &all)
            .await
            .expect("summary");
        assert_eq!(sum.total, 1, "{}", t.name);
        let sum = audit::summary(&t.db, &org_wide, &all)
            .await
            .expect("summary");
        assert_eq!(sum.total, 6, "{}", t.name);
    }
}

#[tokio::test]
async fn the_chain_covers_the_site_and_device_of_new_rows() {
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        let now = chrono::Utc::now();
        let (o0, s0, s1) = (w.orgs[0], w.sites[0][0], w.sites[0][1]);
        for i in 0..3 {
            audit::append(
                &t.db,
                &row(
                    o0,
                    "site.update",
                    "site",
                    format!("{i}"),
                    Some(s0),
                    None,
                    w.partner,
                ),
                now,
            )
            .await
            .expect("append");
        }
        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!((n, problems.len()), (3, 0), "{}: {problems:?}", t.name);
        // Moving a row to another site (to show or hide it) is caught.
        t.db.exec(Q::new("UPDATE audit_logs SET site_id = ? WHERE seq = 2").bind(s1))
            .await
            .expect("tamper");
        let (_, problems) = audit::verify(&t.db).await.expect("verify");
        assert!(
            matches!(problems.as_slice(), [ChainProblem::Altered { seq: 2, .. }]),
            "{}: {problems:?}",
            t.name
        );
        // So is passing a new row off as an old one, whose checksum ignores site/device.
        t.db.exec(Q::new(
            "UPDATE audit_logs SET chain_version = NULL WHERE seq = 3",
        ))
        .await
        .expect("tamper");
        let (_, problems) = audit::verify(&t.db).await.expect("verify");
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, ChainProblem::Altered { seq: 3, .. })),
            "{}: {problems:?}",
            t.name
        );
    }
}

#[derive(sqlx::FromRow)]
struct Tagged {
    resource_type: String,
    site_id: Option<uuid::Uuid>,
    device_id: Option<uuid::Uuid>,
}

/// Takes the database back to before migration 5, writes rows as version 4 did (the
/// checksum without site/device), and migrates again: the rows are tagged by their
/// resource, the chain still verifies, and a custom role with `devices:write` keeps what it
/// could do (`devices:admin`).
#[tokio::test]
async fn migration_5_tags_old_audit_rows_and_keeps_custom_device_roles_whole() {
    use breeze_core::audit_chain::{self, ChainedFields, GENESIS};
    use breeze_core::permissions::{Action, Permission, Resource};
    use breeze_core::roles::RoleScope;
    use breeze_store::{migrations, roles};
    for t in engines().await {
        let w = world(&t.db, "Acme").await;
        let now = chrono::Utc::now();
        let (o0, s0, s1) = (w.orgs[0], w.sites[0][0], w.sites[0][1]);
        let dev = agents::create_pending(
            &t.db,
            &NewPendingDevice {
                org_id: o0,
                site_id: s1,
                hostname: "old-host",
                display_name: None,
                os_type: "linux",
                tags: &[],
                token_hash: "h",
                token_expires_at: now,
                created_by: w.admin,
            },
            now,
        )
        .await
        .expect("device")
        .expect("enrollment not refused");
        let gid = device_groups::create(
            &t.db,
            &NewGroup {
                org_id: o0,
                site_id: Some(s0),
                name: "g".into(),
                group_type: "static".into(),
                rules: None,
                parent_id: None,
            },
            now,
        )
        .await
        .expect("group");
        let write = PermissionSet::new([
            Permission::new(Resource::Devices, Action::Read),
            Permission::new(Resource::Devices, Action::Write),
        ]);
        let custom = roles::create(
            &t.db,
            roles::NewRole {
                partner_id: None,
                org_id: Some(o0),
                scope: RoleScope::Organization,
                name: "Desk",
                description: None,
                permissions: &write,
            },
            now,
        )
        .await
        .expect("role");
        let read_only = PermissionSet::new([Permission::new(Resource::Devices, Action::Read)]);
        let reader = roles::create(
            &t.db,
            roles::NewRole {
                partner_id: None,
                org_id: Some(o0),
                scope: RoleScope::Organization,
                name: "Reader",
                description: None,
                permissions: &read_only,
            },
            now,
        )
        .await
        .expect("role");

        // Back to version 4's schema.
        for sql in [
            "DROP INDEX ix_audit_logs_site_id_seq",
            "DROP INDEX ix_audit_logs_device_id_seq",
            "ALTER TABLE audit_logs DROP COLUMN site_id",
            "ALTER TABLE audit_logs DROP COLUMN device_id",
            "ALTER TABLE audit_logs DROP COLUMN chain_version",
            "DELETE FROM breeze_migrations WHERE version = 5",
        ] {
            t.db.exec(Q::new(sql))
                .await
                .unwrap_or_else(|e| panic!("{}: {sql}: {e}", t.name));
        }
        // Rows as the old code wrote them.
        let ts = chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).expect("ts");
        let old_rows: Vec<(&str, &str, String, Option<uuid::Uuid>)> = vec![
            ("user", "device", dev.to_string(), None),
            ("user", "site", s0.to_string(), None),
            ("user", "device_group", gid.to_string(), None),
            (
                "agent",
                "device_command",
                uuid::Uuid::new_v4().to_string(),
                Some(dev.0),
            ),
            ("user", "organization", o0.to_string(), None),
        ];
        let mut prev = GENESIS.to_string();
        for (i, (actor_type, rt, rid, actor)) in old_rows.iter().enumerate() {
            let seq = i as i64 + 1;
            let id = uuid::Uuid::new_v4();
            let details = serde_json::json!({});
            let sum = audit_chain::checksum(
                &prev,
                &ChainedFields {
                    version: 1,
                    seq,
                    id,
                    timestamp: ts,
                    partner_id: Some(w.partner.0),
                    org_id: Some(o0.0),
                    actor_type,
                    actor_id: *actor,
                    actor_email: None,
                    action: "old.action",
                    resource_type: rt,
                    resource_id: Some(rid),
                    resource_name: None,
                    details: &details,
                    ip_address: None,
                    user_agent: None,
                    result: "success",
                    error_message: None,
                    site_id: None,
                    device_id: None,
                },
            );
            t.db.exec(
                Q::new(
                    "INSERT INTO audit_logs (id, seq, partner_id, org_id, timestamp, actor_type, actor_id, actor_email, action, \
                     resource_type, resource_id, resource_name, details, ip_address, user_agent, result, error_message, checksum) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'old.action', ?, ?, NULL, ?, NULL, NULL, 'success', NULL, ?)",
                )
                .bind(id)
                .bind(seq)
                .bind(w.partner)
                .bind(o0)
                .bind(ts)
                .bind(*actor_type)
                .bind(*actor)
                .bind(*rt)
                .bind(rid.clone())
                .bind(details)
                .bind(sum.clone()),
            )
            .await
            .expect("old row");
            prev = sum;
        }
        t.db.exec(
            Q::new("UPDATE audit_chain SET seq = ?, checksum = ? WHERE id = 1")
                .bind(old_rows.len() as i64)
                .bind(prev),
        )
        .await
        .expect("head");

        assert_eq!(
            migrations::migrate(&t.db).await.expect("migrate"),
            vec![5],
            "{}",
            t.name
        );

        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!((n, problems.len()), (5, 0), "{}: {problems:?}", t.name);
        let tagged: Vec<Tagged> =
            t.db.all(Q::new(
                "SELECT resource_type, site_id, device_id FROM audit_logs ORDER BY seq",
            ))
            .await
            .expect("rows");
        let got: Vec<(String, Option<uuid::Uuid>, Option<uuid::Uuid>)> = tagged
            .into_iter()
            .map(|r| (r.resource_type, r.site_id, r.device_id))
            .collect();
        assert_eq!(
            got,
            vec![
                ("device".into(), Some(s1.0), Some(dev.0)),
                ("site".into(), Some(s0.0), None),
                ("device_group".into(), Some(s0.0), None),
                ("device_command".into(), Some(s1.0), Some(dev.0)),
                ("organization".into(), None, None),
            ],
            "{}",
            t.name
        );
        // A backfilled tag is outside the old rows' checksum, but new rows cover theirs.
        audit::append(
            &t.db,
            &row(
                o0,
                "site.update",
                "site",
                s0.to_string(),
                Some(s0),
                None,
                w.partner,
            ),
            now,
        )
        .await
        .expect("append");
        let (n, problems) = audit::verify(&t.db).await.expect("verify");
        assert_eq!((n, problems.len()), (6, 0), "{}: {problems:?}", t.name);

        let perms = roles::permissions_of(&t.db, custom).await.expect("perms");
        assert!(
            perms.allows(Resource::Devices, Action::Admin),
            "{}: {perms:?}",
            t.name
        );
        let perms = roles::permissions_of(&t.db, reader).await.expect("perms");
        assert!(
            !perms.allows(Resource::Devices, Action::Admin),
            "{}: {perms:?}",
            t.name
        );
    }
}
