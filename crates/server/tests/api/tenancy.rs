//! Tenant isolation: two partners, each with two organizations, sites, device groups,
//! custom roles and users of every built-in role. For every endpoint that takes an id,
//! nobody reads, changes or deletes anything outside their scope (404); org users see only
//! their organization, site-limited users only their sites; lists never show foreign rows;
//! and attempts leave the objects untouched.

use crate::harness::{PASSWORD, TestApp, create_org, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::{
    ORG_ADMIN, ORG_TECHNICIAN, ORG_USER, ORG_VIEWER, PARTNER_ADMIN, PARTNER_TECHNICIAN,
    PARTNER_VIEWER,
};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct OrgWorld {
    org: Organization,
    sites: Vec<Site>,
    /// [site 0 group, site 1 group, org-wide group]
    groups: Vec<DeviceGroup>,
    role: Role,
}

struct Tenant {
    name: &'static str,
    admin: BreezeClient,
    orgs: Vec<OrgWorld>,
    partner_role: Role,
    /// (label, user id, client): PA, PT (selected: org 0), PV, OA, OT, OV, OU, OS (org 0, site 0 only), OA2 (org 1)
    users: Vec<(&'static str, UserId, BreezeClient)>,
}

impl Tenant {
    fn user(&self, label: &str) -> &BreezeClient {
        &self.users.iter().find(|u| u.0 == label).expect("user").2
    }
    fn user_id(&self, label: &str) -> UserId {
        self.users.iter().find(|u| u.0 == label).expect("user").1
    }
}

async fn invite(
    app: &TestApp,
    by: &BreezeClient,
    email: &str,
    role: uuid::Uuid,
    org: Option<OrgId>,
    org_ids: Option<Vec<OrgId>>,
    sites: Option<Vec<SiteId>>,
) -> (UserId, BreezeClient) {
    let inv = by
        .invite(&InviteUser {
            email: email.into(),
            name: email.split('@').next().unwrap_or("u").into(),
            role_id: RoleId(role),
            org_id: org,
            // Partner staff name their reach: all, or selected organizations.
            org_access: match (&org, &org_ids) {
                (_, Some(_)) => Some("selected".to_string()),
                (None, None) => Some("all".to_string()),
                (Some(_), None) => None,
            },
            org_ids,
            site_ids: sites,
            device_group_ids: None,
        })
        .await
        .unwrap_or_else(|e| panic!("invite {email}: {e}"));
    let t = app
        .client
        .accept_invite(&inv.invite_token, PASSWORD)
        .await
        .expect("accept");
    (inv.member.user.id, app.client.with_token(t.access_token))
}

async fn build_tenant(app: &TestApp, name: &'static str, admin: BreezeClient) -> Tenant {
    let mut orgs = Vec::new();
    for o in 0..2 {
        let org = create_org(&admin, &format!("{name} Org {o}")).await;
        let mut sites = Vec::new();
        for s in 0..2 {
            sites.push(
                admin
                    .create_site(
                        org.id,
                        &CreateSite {
                            name: format!("Site {s}"),
                            timezone: Some("Europe/Berlin".into()),
                            address: None,
                            contact: None,
                            settings: None,
                        },
                    )
                    .await
                    .expect("site"),
            );
        }
        let mut groups = Vec::new();
        for site in [Some(sites[0].id), Some(sites[1].id), None] {
            let g: DeviceGroup = admin
                .post(
                    "/api/v1/device-groups",
                    &CreateDeviceGroup {
                        org_id: org.id,
                        site_id: site,
                        name: format!("G {site:?}"),
                        group_type: None,
                        rules: None,
                        parent_id: None,
                    },
                )
                .await
                .expect("group");
            groups.push(g);
        }
        let role: Role = admin
            .post(
                "/api/v1/roles",
                &CreateRole {
                    name: format!("{name} O{o} custom"),
                    description: None,
                    scope: "organization".into(),
                    org_id: Some(org.id),
                    permissions: vec!["devices:read".into()],
                },
            )
            .await
            .expect("org role");
        orgs.push(OrgWorld {
            org,
            sites,
            groups,
            role,
        });
    }
    let partner_role: Role = admin
        .post(
            "/api/v1/roles",
            &CreateRole {
                name: format!("{name} helpdesk"),
                description: None,
                scope: "partner".into(),
                org_id: None,
                permissions: vec!["devices:read".into(), "orgs:read".into()],
            },
        )
        .await
        .expect("partner role");
    let me = admin.me().await.expect("me");
    let lower = name.to_lowercase();
    let o0 = orgs[0].org.id;
    let mut users = vec![("PA", me.user.id, admin.clone())];
    let specs: Vec<(
        &'static str,
        uuid::Uuid,
        Option<OrgId>,
        Option<Vec<OrgId>>,
        Option<Vec<SiteId>>,
    )> = vec![
        ("PT", PARTNER_TECHNICIAN, None, Some(vec![o0]), None),
        ("PV", PARTNER_VIEWER, None, None, None),
        ("OA", ORG_ADMIN, Some(o0), None, None),
        ("OT", ORG_TECHNICIAN, Some(o0), None, None),
        ("OV", ORG_VIEWER, Some(o0), None, None),
        ("OU", ORG_USER, Some(o0), None, None),
        (
            "OS",
            ORG_ADMIN,
            Some(o0),
            None,
            Some(vec![orgs[0].sites[0].id]),
        ),
        ("OA2", ORG_ADMIN, Some(orgs[1].org.id), None, None),
    ];
    for (label, role, org, org_ids, sites) in specs {
        let (id, c) = invite(
            app,
            &admin,
            &format!("{}@{lower}.test", label.to_lowercase()),
            role,
            org,
            org_ids,
            sites,
        )
        .await;
        users.push((label, id, c));
    }
    Tenant {
        name,
        admin,
        orgs,
        partner_role,
        users,
    }
}

/// Every id-taking endpoint, with a body for the mutating ones.
fn probes(
    t: &Tenant,
    o: usize,
    sites: &[usize],
    groups: &[usize],
) -> Vec<(Method, String, Option<Value>)> {
    let w = &t.orgs[o];
    let mut v = vec![
        (Method::GET, format!("/api/v1/orgs/{}", w.org.id), None),
        (
            Method::PATCH,
            format!("/api/v1/orgs/{}", w.org.id),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("/api/v1/orgs/{}", w.org.id), None),
        (
            Method::GET,
            format!("/api/v1/orgs/{}/sites", w.org.id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/{}/sites", w.org.id),
            Some(json!({"name": "pwned"})),
        ),
        (Method::GET, format!("/api/v1/roles/{}", w.role.id), None),
        (
            Method::PATCH,
            format!("/api/v1/roles/{}", w.role.id),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("/api/v1/roles/{}", w.role.id), None),
    ];
    for s in sites {
        let id = w.sites[*s].id;
        v.push((Method::GET, format!("/api/v1/sites/{id}"), None));
        v.push((
            Method::PATCH,
            format!("/api/v1/sites/{id}"),
            Some(json!({"name": "pwned"})),
        ));
        v.push((Method::DELETE, format!("/api/v1/sites/{id}"), None));
    }
    for g in groups {
        let id = w.groups[*g].id;
        v.push((Method::GET, format!("/api/v1/device-groups/{id}"), None));
        v.push((
            Method::PATCH,
            format!("/api/v1/device-groups/{id}"),
            Some(json!({"name": "pwned"})),
        ));
        v.push((Method::DELETE, format!("/api/v1/device-groups/{id}"), None));
        v.push((
            Method::GET,
            format!("/api/v1/device-groups/{id}/members"),
            None,
        ));
        v.push((
            Method::POST,
            format!("/api/v1/device-groups/{id}/members"),
            Some(json!({"device_ids": [DeviceId::new()]})),
        ));
        v.push((
            Method::DELETE,
            format!("/api/v1/device-groups/{id}/members"),
            Some(json!({"device_ids": [DeviceId::new()]})),
        ));
    }
    v
}

fn user_probes(ids: &[UserId]) -> Vec<(Method, String, Option<Value>)> {
    ids.iter()
        .flat_map(|id| {
            vec![
                (Method::GET, format!("/api/v1/users/{id}"), None),
                (
                    Method::PATCH,
                    format!("/api/v1/users/{id}"),
                    Some(json!({"name": "pwned"})),
                ),
                (Method::DELETE, format!("/api/v1/users/{id}"), None),
            ]
        })
        .collect()
}

async fn expect_404(
    engine: &str,
    who: &str,
    c: &BreezeClient,
    probes: &[(Method, String, Option<Value>)],
) {
    for (m, path, body) in probes {
        let (status, text) = c
            .raw(m.clone(), path, body.as_ref())
            .await
            .expect("request");
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{engine}: {who} {m} {path} must be 404, got {status}: {text}"
        );
    }
}

fn ids_of(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn nobody_reaches_outside_their_scope() {
    for engine in engines() {
        let app = spawn(engine, |c| c.auth.max_failures_per_ip = 10_000).await;
        let a_admin = app.admin().await;
        // A platform operator creates the second partner and invites its admin.
        let op_email =
            breeze_core::validate::Email::parse("e", "operator@platform.test").expect("email");
        let hash = app.state.hasher.hash(PASSWORD).expect("hash");
        let mut tx = app.state.db.begin().await.expect("tx");
        breeze_store::users::insert(
            &mut tx,
            &breeze_store::users::NewUser {
                email: &op_email,
                name: "Op",
                password_hash: Some(&hash),
                status: "active",
                is_platform_admin: true,
            },
            chrono::Utc::now(),
        )
        .await
        .expect("operator");
        tx.commit().await.expect("commit");
        let op = app
            .client
            .login_as("operator@platform.test", PASSWORD)
            .await
            .expect("operator login");
        let created: PartnerCreated = op
            .post(
                "/api/v1/partners",
                &json!({"name": "Bolt MSP", "admin_email": "pa@bolt.test", "admin_name": "B"}),
            )
            .await
            .expect("partner");
        let b_tokens = app
            .client
            .accept_invite(&created.admin_invite_token.expect("invite"), PASSWORD)
            .await
            .expect("accept");
        let b_admin = app.client.with_token(b_tokens.access_token);
        // The operator sees no tenant data.
        assert_eq!(
            op.orgs()
                .await
                .expect_err("operator has no orgs:read")
                .status(),
            Some(StatusCode::FORBIDDEN)
        );

        let a = build_tenant(&app, "Acme", a_admin).await;
        let b = build_tenant(&app, "Bolt", b_admin).await;
        let e = app.engine;

        for (me, other) in [(&a, &b), (&b, &a)] {
            // 1. Nobody in one partner reaches any object of the other.
            let mut foreign = probes(other, 0, &[0, 1], &[0, 1, 2]);
            foreign.extend(probes(other, 1, &[0, 1], &[0, 1, 2]));
            foreign.push((
                Method::GET,
                format!("/api/v1/roles/{}", other.partner_role.id),
                None,
            ));
            foreign.push((
                Method::PATCH,
                format!("/api/v1/roles/{}", other.partner_role.id),
                Some(json!({"name": "x"})),
            ));
            foreign.push((
                Method::DELETE,
                format!("/api/v1/roles/{}", other.partner_role.id),
                None,
            ));
            let other_users: Vec<UserId> = other.users.iter().map(|u| u.1).collect();
            foreign.extend(user_probes(&other_users));
            for (label, _, c) in &me.users {
                expect_404(e, &format!("{}/{label}", me.name), c, &foreign).await;
            }

            // 2. Org users of org 0, and the technician limited to org 0, don't reach org 1.
            let mut org1 = probes(me, 1, &[0, 1], &[0, 1, 2]);
            org1.extend(user_probes(&[me.user_id("OA2")]));
            for label in ["PT", "OA", "OT", "OV", "OU", "OS"] {
                expect_404(e, &format!("{}/{label}", me.name), me.user(label), &org1).await;
            }
            // ... nor the partner's own staff and roles (partner-level objects).
            let partner_level = user_probes(&[me.user_id("PA"), me.user_id("PV")]);
            for label in ["PT", "OA", "OT", "OV", "OU", "OS", "OA2"] {
                expect_404(
                    e,
                    &format!("{}/{label}", me.name),
                    me.user(label),
                    &partner_level,
                )
                .await;
            }
            // The org-1 admin doesn't reach org 0.
            let mut org0 = probes(me, 0, &[0, 1], &[0, 1, 2]);
            org0.extend(user_probes(&[
                me.user_id("OA"),
                me.user_id("OT"),
                me.user_id("OS"),
            ]));
            expect_404(e, &format!("{}/OA2", me.name), me.user("OA2"), &org0).await;

            // 3. The site-limited admin reaches site 0 only (and the org-wide group, read-only).
            let site1 = vec![
                (
                    Method::GET,
                    format!("/api/v1/sites/{}", me.orgs[0].sites[1].id),
                    None,
                ),
                (
                    Method::PATCH,
                    format!("/api/v1/sites/{}", me.orgs[0].sites[1].id),
                    Some(json!({"name": "x"})),
                ),
                (
                    Method::DELETE,
                    format!("/api/v1/sites/{}", me.orgs[0].sites[1].id),
                    None,
                ),
                (
                    Method::GET,
                    format!("/api/v1/device-groups/{}", me.orgs[0].groups[1].id),
                    None,
                ),
                (
                    Method::PATCH,
                    format!("/api/v1/device-groups/{}", me.orgs[0].groups[1].id),
                    Some(json!({"name": "x"})),
                ),
                (
                    Method::DELETE,
                    format!("/api/v1/device-groups/{}", me.orgs[0].groups[1].id),
                    None,
                ),
            ];
            expect_404(e, &format!("{}/OS", me.name), me.user("OS"), &site1).await;
            let os = me.user("OS");
            let sites: Value = os
                .get(&format!("/api/v1/orgs/{}/sites", me.orgs[0].org.id))
                .await
                .expect("sites");
            assert_eq!(
                ids_of(&sites),
                vec![me.orgs[0].sites[0].id.to_string()],
                "{e}: site-limited list"
            );
            let _: Site = os
                .get(&format!("/api/v1/sites/{}", me.orgs[0].sites[0].id))
                .await
                .expect("own site");
            let groups: Value = os.get("/api/v1/device-groups").await.expect("groups");
            let mut got = ids_of(&groups);
            got.sort();
            let mut want = vec![
                me.orgs[0].groups[0].id.to_string(),
                me.orgs[0].groups[2].id.to_string(),
            ];
            want.sort();
            assert_eq!(
                got, want,
                "{e}: site-limited admin sees its site's group and the org-wide one"
            );

            // 4. Lists show exactly what is in reach.
            let all_orgs: Vec<String> = me.orgs.iter().map(|w| w.org.id.to_string()).collect();
            for (label, want) in [
                ("PA", all_orgs.clone()),
                ("PV", all_orgs.clone()),
                ("PT", vec![all_orgs[0].clone()]),
                ("OA", vec![all_orgs[0].clone()]),
                ("OV", vec![all_orgs[0].clone()]),
                ("OA2", vec![all_orgs[1].clone()]),
            ] {
                let mut got = ids_of(
                    &me.user(label)
                        .get::<Value>("/api/v1/orgs")
                        .await
                        .expect("orgs"),
                );
                got.sort();
                let mut want = want;
                want.sort();
                assert_eq!(got, want, "{e}: {}/{label} org list", me.name);
            }
            let current: Organization = me
                .user("OU")
                .get("/api/v1/orgs/current")
                .await
                .expect("current");
            assert_eq!(current.id, me.orgs[0].org.id);
            let users: Value = me.user("OA").get("/api/v1/users").await.expect("users");
            let foreign_ids: Vec<String> = other
                .users
                .iter()
                .map(|u| u.1.to_string())
                .chain([me.user_id("PA").to_string(), me.user_id("OA2").to_string()])
                .collect();
            for id in ids_of(&users) {
                assert!(
                    !foreign_ids.contains(&id),
                    "{e}: org admin's user list shows {id}"
                );
            }
            assert_eq!(ids_of(&users).len(), 5, "{e}: org 0 has OA OT OV OU OS");
            let roles: Value = me.user("OA").get("/api/v1/roles").await.expect("roles");
            let role_ids = ids_of(&roles);
            assert!(role_ids.contains(&me.orgs[0].role.id.to_string()));
            assert!(
                !role_ids.contains(&me.orgs[1].role.id.to_string()),
                "{e}: other org's role hidden"
            );
            assert!(
                !role_ids.contains(&other.partner_role.id.to_string()),
                "{e}: other partner's role hidden"
            );
            let audit: Value = me
                .user("PA")
                .get("/api/v1/audit/logs?limit=500")
                .await
                .expect("audit");
            let my_partner = me
                .user("PA")
                .me()
                .await
                .expect("me")
                .partner_id
                .map(|p| p.to_string());
            for row in audit["data"].as_array().expect("rows") {
                assert_eq!(
                    row["partner_id"].as_str().map(str::to_string),
                    my_partner,
                    "{e}: audit row of another partner: {row}"
                );
            }
            let org_audit: Value = me
                .user("OA")
                .get("/api/v1/audit/logs?limit=500")
                .await
                .expect("audit");
            for row in org_audit["data"].as_array().expect("rows") {
                assert_eq!(
                    row["org_id"].as_str(),
                    Some(all_orgs[0].as_str()),
                    "{e}: org admin sees only its org's audit rows: {row}"
                );
            }

            // 5. Within reach, roles decide (403), and nobody grants more than they hold.
            let o0 = me.orgs[0].org.id;
            let patch = json!({"name": "renamed"});
            for label in ["PV", "OV", "OU"] {
                let err = me
                    .user(label)
                    .patch::<_, Value>(&format!("/api/v1/orgs/{o0}"), &patch)
                    .await
                    .expect_err("viewer");
                assert_eq!(
                    err.status(),
                    Some(StatusCode::FORBIDDEN),
                    "{e}: {label} may not change the org"
                );
            }
            for label in ["PT", "OA", "OT"] {
                let err = me
                    .user(label)
                    .post::<_, Value>("/api/v1/orgs", &json!({"name": "New"}))
                    .await
                    .expect_err("create org");
                assert_eq!(
                    err.status(),
                    Some(StatusCode::FORBIDDEN),
                    "{e}: {label} may not create orgs"
                );
            }
            let err = me
                .user("OT")
                .invite(&InviteUser {
                    email: "x@x.test".into(),
                    name: "X".into(),
                    role_id: RoleId(ORG_VIEWER),
                    org_id: Some(o0),
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                })
                .await
                .expect_err("technician invites");
            assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
            let err = me
                .user("OA")
                .invite(&InviteUser {
                    email: "y@x.test".into(),
                    name: "Y".into(),
                    role_id: RoleId(PARTNER_ADMIN),
                    org_id: Some(o0),
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                })
                .await
                .expect_err("org admin grants partner admin");
            assert_eq!(err.field(), Some("role_id"));
            let err = me
                .user("OA")
                .invite(&InviteUser {
                    email: "z@x.test".into(),
                    name: "Z".into(),
                    role_id: RoleId(PARTNER_VIEWER),
                    org_id: None,
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                })
                .await
                .expect_err("org admin invites partner staff");
            assert_eq!(err.field(), Some("org_id"));
            let err = me
                .user("OS")
                .invite(&InviteUser {
                    email: "w@x.test".into(),
                    name: "W".into(),
                    role_id: RoleId(ORG_VIEWER),
                    org_id: Some(o0),
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                })
                .await
                .expect_err("site-limited admin invites org-wide");
            assert_eq!(err.field(), Some("site_ids"));
            let err = me
                .user("OA")
                .patch::<_, Value>(
                    &format!("/api/v1/users/{}", me.user_id("OA")),
                    &json!({"role_id": ORG_ADMIN}),
                )
                .await
                .expect_err("self change");
            assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
            let err = me
                .user("OA")
                .patch::<_, Value>(
                    &format!("/api/v1/users/{}", me.user_id("OT")),
                    &json!({"role_id": PARTNER_ADMIN}),
                )
                .await
                .expect_err("escalate");
            assert_eq!(err.field(), Some("role_id"));
            let err = me
                .user("OA")
                .patch::<_, Value>(
                    &format!("/api/v1/roles/{}", uuid::Uuid::from(RoleId(ORG_VIEWER))),
                    &json!({"permissions": ["devices:read"]}),
                )
                .await
                .expect_err("builtin");
            assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
            let err = me.user("OA").post::<_, Value>("/api/v1/roles", &json!({"name": "god", "scope": "organization", "permissions": ["partners:write"]})).await.expect_err("role beyond own");
            assert_eq!(err.field(), Some("permissions"));
        }

        // 6. Nothing changed: every object still exists under its name.
        for t in [&a, &b] {
            for w in &t.orgs {
                let org: Organization = t
                    .admin
                    .get(&format!("/api/v1/orgs/{}", w.org.id))
                    .await
                    .expect("org still there");
                assert_eq!(org.name, w.org.name, "{e}");
                for s in &w.sites {
                    let site: Site = t
                        .admin
                        .get(&format!("/api/v1/sites/{}", s.id))
                        .await
                        .expect("site still there");
                    assert_eq!(site.name, s.name, "{e}");
                }
                for g in &w.groups {
                    let grp: DeviceGroup = t
                        .admin
                        .get(&format!("/api/v1/device-groups/{}", g.id))
                        .await
                        .expect("group still there");
                    assert_eq!(grp.name, g.name, "{e}");
                }
                let r: Role = t
                    .admin
                    .get(&format!("/api/v1/roles/{}", w.role.id))
                    .await
                    .expect("role still there");
                assert_eq!(r.name, w.role.name, "{e}");
            }
            for (label, id, _) in &t.users {
                let m: Member = t
                    .admin
                    .get(&format!("/api/v1/users/{id}"))
                    .await
                    .expect("user still there");
                assert_ne!(m.user.name, "pwned", "{e}: {label}");
                assert_ne!(m.user.status, "disabled", "{e}: {label}");
            }
        }
        // The denied attempts were audited.
        let denied: Value = a
            .admin
            .get("/api/v1/audit/logs?result=denied&limit=5")
            .await
            .expect("audit");
        assert!(
            !ids_of(&denied).is_empty(),
            "{e}: denied attempts are in the audit log"
        );
    }
}
