//! Access hardening (issue 8 items 10, 11, 13, 14): the audit log respects site and
//! device-group limits; `org_ids` without `org_access` never widens a member's reach; the
//! Org User role edits names and tags but does not manage devices; PATCH bodies sent by the
//! typed client change only the fields they set.

use crate::harness::{PASSWORD, TestApp, create_org, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::{ORG_ADMIN, ORG_TECHNICIAN, ORG_USER, PARTNER_TECHNICIAN};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    c: &BreezeClient,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (s, text) = c.raw(method, path, body.as_ref()).await.expect("request");
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn ok(c: &BreezeClient, method: Method, path: &str, body: Option<Value>) -> Value {
    let (s, v) = call(c, method.clone(), path, body).await;
    assert!(s.is_success(), "{method} {path}: {s} {v}");
    v
}

async fn accept(app: &TestApp, inv: &Value) -> BreezeClient {
    let t = app
        .client
        .accept_invite(inv["invite_token"].as_str().expect("token"), PASSWORD)
        .await
        .expect("accept");
    app.client.with_token(t.access_token)
}

async fn site(admin: &BreezeClient, org: OrgId, name: &str) -> Site {
    admin
        .create_site(
            org,
            &CreateSite {
                name: name.into(),
                timezone: None,
                address: None,
                contact: None,
                settings: None,
            },
        )
        .await
        .expect("site")
}

async fn pending_device(c: &BreezeClient, site: SiteId, host: &str) -> Device {
    let v = ok(
        c,
        Method::POST,
        "/api/v1/devices",
        Some(json!({"site_id": site, "hostname": host, "os_type": "linux"})),
    )
    .await;
    serde_json::from_value(v["device"].clone()).expect("device")
}

async fn invite_org_user(
    app: &TestApp,
    admin: &BreezeClient,
    email: &str,
    role: uuid::Uuid,
    org: OrgId,
    sites: Option<Vec<SiteId>>,
    groups: Option<Vec<DeviceGroupId>>,
) -> (UserId, BreezeClient) {
    let inv = ok(
        admin,
        Method::POST,
        "/api/v1/users",
        Some(
            json!({"email": email, "name": "Someone", "role_id": role, "org_id": org,
            "site_ids": sites, "device_group_ids": groups}),
        ),
    )
    .await;
    let id: UserId = serde_json::from_value(inv["member"]["id"].clone()).expect("id");
    (id, accept(app, &inv).await)
}

// ------------------------------------------------------------------ item 11

#[tokio::test]
async fn org_ids_without_org_access_never_widens_reach() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let (o1, o2) = (
            create_org(&admin, "One").await,
            create_org(&admin, "Two").await,
        );
        let e = app.engine;

        // An invite with org_ids only: selected, those organizations.
        let inv = ok(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "pt@acme.test", "name": "PT", "role_id": PARTNER_TECHNICIAN, "org_ids": [o1.id]})),
        )
        .await;
        assert_eq!(inv["member"]["org_access"], "selected", "{e}: {inv}");
        assert_eq!(inv["member"]["org_ids"], json!([o1.id]), "{e}");
        let pt_id: UserId = serde_json::from_value(inv["member"]["id"].clone()).expect("id");
        let pt = accept(&app, &inv).await;
        let seen: Vec<OrgId> = pt
            .orgs()
            .await
            .expect("orgs")
            .data
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(seen, vec![o1.id], "{e}: the technician sees only O1");

        // An invite of partner staff naming no reach at all is refused, naming org_access.
        let (s, v) = call(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "nobody@acme.test", "name": "N", "role_id": PARTNER_TECHNICIAN})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}: {v}");
        assert_eq!(v["error"]["field"], "org_access", "{e}: {v}");
        // all + org_ids contradict each other.
        let (s, v) = call(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"email": "both@acme.test", "name": "B", "role_id": PARTNER_TECHNICIAN,
                "org_access": "all", "org_ids": [o1.id]}),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}: {v}");
        assert_eq!(v["error"]["field"], "org_ids", "{e}: {v}");

        // PATCH with org_ids only: still selected, now those organizations.
        let path = format!("/api/v1/users/{pt_id}");
        let m = ok(
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"org_ids": [o1.id]})),
        )
        .await;
        assert_eq!(
            (m["org_access"].clone(), m["org_ids"].clone()),
            (json!("selected"), json!([o1.id])),
            "{e}: {m}"
        );
        let m = ok(
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"org_ids": [o2.id]})),
        )
        .await;
        assert_eq!(
            (m["org_access"].clone(), m["org_ids"].clone()),
            (json!("selected"), json!([o2.id])),
            "{e}: {m}"
        );
        // PATCH of another field leaves the reach alone.
        let m = ok(
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"name": "Renamed"})),
        )
        .await;
        assert_eq!(
            (m["org_access"].clone(), m["org_ids"].clone()),
            (json!("selected"), json!([o2.id])),
            "{e}: {m}"
        );
        let m: Member = admin
            .patch(
                &path,
                &UpdateMember {
                    name: Some("Typed".into()),
                    role_id: None,
                    status: None,
                    org_access: None,
                    org_ids: None,
                    site_ids: None,
                    device_group_ids: None,
                },
            )
            .await
            .expect("typed patch");
        assert_eq!(
            (m.org_access.as_deref(), m.org_ids.clone()),
            (Some("selected"), Some(vec![o2.id])),
            "{e}"
        );
        let seen: Vec<OrgId> = pt
            .orgs()
            .await
            .expect("orgs")
            .data
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(seen, vec![o2.id], "{e}");
        // Widening takes an explicit org_access: all.
        let m = ok(
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"org_access": "all"})),
        )
        .await;
        assert_eq!(m["org_access"], "all", "{e}: {m}");
    }
}

// ------------------------------------------------------------------ item 13

#[tokio::test]
async fn org_user_renames_and_tags_devices_but_does_not_manage_them() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let o = create_org(&admin, "One").await;
        let (s0, s1) = (site(&admin, o.id, "A").await, site(&admin, o.id, "B").await);
        let (_, ou) =
            invite_org_user(&app, &admin, "ou@one.test", ORG_USER, o.id, None, None).await;
        let (_, ot) = invite_org_user(
            &app,
            &admin,
            "ot@one.test",
            ORG_TECHNICIAN,
            o.id,
            None,
            None,
        )
        .await;
        let (_, oa) =
            invite_org_user(&app, &admin, "oa@one.test", ORG_ADMIN, o.id, None, None).await;
        let d = pending_device(&admin, s0.id, "box-1").await;
        let dp = format!("/api/v1/devices/{}", d.id);

        // Names and tags: allowed.
        let v = ok(
            &ou,
            Method::PATCH,
            &dp,
            Some(json!({"display_name": "Front desk", "tags": ["lobby"]})),
        )
        .await;
        assert_eq!(
            (v["display_name"].clone(), v["tags"].clone()),
            (json!("Front desk"), json!(["lobby"])),
            "{e}"
        );

        // Management: refused (403, the convention for a missing permission), nothing changes.
        let refused: Vec<(Method, String, Option<Value>)> = vec![
            (Method::PATCH, dp.clone(), Some(json!({"site_id": s1.id}))),
            // Maintenance before quarantine: a quarantined device refuses maintenance (409).
            (Method::POST, format!("{dp}/maintenance"), Some(json!({}))),
            (
                Method::POST,
                format!("{dp}/quarantine"),
                Some(json!({"reason": "x"})),
            ),
            (Method::POST, format!("{dp}/reactivate"), Some(json!({}))),
            (
                Method::POST,
                "/api/v1/devices".into(),
                Some(json!({"site_id": s0.id, "hostname": "sneaky", "os_type": "linux"})),
            ),
        ];
        for (m, p, b) in &refused {
            let (s, v) = call(&ou, m.clone(), p, b.clone()).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{e}: Org User {m} {p}: {v}");
            assert!(!v.to_string().contains("enrollment_token"), "{e}: {v}");
        }
        let after = ok(&admin, Method::GET, &dp, None).await;
        assert_eq!(
            (after["site_id"].clone(), after["status"].clone()),
            (json!(s0.id), json!("pending")),
            "{e}"
        );

        // Technician and Admin still manage devices.
        for (who, c) in [("Org Technician", &ot), ("Org Admin", &oa)] {
            for (m, p, b) in &refused {
                let b = b.clone().map(|mut b| {
                    if b.get("hostname").is_some() {
                        b["hostname"] = json!(format!("made-by-{}", who.replace(' ', "-")));
                    }
                    b
                });
                let (s, v) = call(c, m.clone(), p, b).await;
                assert!(s.is_success(), "{e}: {who} {m} {p}: {s} {v}");
            }
            ok(c, Method::PATCH, &dp, Some(json!({"site_id": s0.id}))).await;
        }
    }
}

// ------------------------------------------------------------------ item 14

/// The object as the server shows it, without the fields a write always touches.
fn stable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("updated_at");
        o.remove("updated_by");
    }
    v
}

#[tokio::test]
async fn every_patch_body_with_unset_fields_changes_nothing() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let o = create_org(&admin, "One").await;
        let (s0, _s1) = (site(&admin, o.id, "A").await, site(&admin, o.id, "B").await);
        let d = pending_device(&admin, s0.id, "box-1").await;
        ok(
            &admin,
            Method::PATCH,
            &format!("/api/v1/devices/{}", d.id),
            Some(json!({"tags": ["t"], "display_name": "D"})),
        )
        .await;
        let g: DeviceGroup = admin
            .post(
                "/api/v1/device-groups",
                &CreateDeviceGroup {
                    org_id: o.id,
                    site_id: Some(s0.id),
                    name: "G".into(),
                    group_type: None,
                    rules: None,
                    parent_id: None,
                },
            )
            .await
            .expect("group");
        let role: Role = admin
            .post(
                "/api/v1/roles",
                &CreateRole {
                    name: "Custom".into(),
                    description: Some("keep me".into()),
                    scope: "organization".into(),
                    org_id: Some(o.id),
                    permissions: vec!["devices:read".into()],
                },
            )
            .await
            .expect("role");
        let script = ok(
            &admin,
            Method::POST,
            "/api/v1/scripts",
            Some(
                json!({"org_id": o.id, "name": "S", "description": "d", "language": "bash",
                "os_types": ["linux"], "content": "echo hi", "timeout_seconds": 60}),
            ),
        )
        .await;
        let (member, _) = invite_org_user(
            &app,
            &admin,
            "limited@one.test",
            ORG_TECHNICIAN,
            o.id,
            Some(vec![s0.id]),
            Some(vec![g.id]),
        )
        .await;

        async fn same_after(admin: &BreezeClient, e: &str, path: &str, body: Value) {
            let before = stable(admin.get::<Value>(path).await.expect("before"));
            let _: Value = admin
                .patch(path, &body)
                .await
                .unwrap_or_else(|err| panic!("{e}: PATCH {path}: {err}"));
            let after = stable(admin.get::<Value>(path).await.expect("after"));
            assert_eq!(before, after, "{e}: an empty PATCH of {path} changed it");
        }
        fn body<T: serde::Serialize>(t: &T) -> Value {
            let v = serde_json::to_value(t).expect("serialize");
            assert_eq!(v, json!({}), "an unset field must not be sent: {v}");
            v
        }
        same_after(
            &admin,
            e,
            &format!("/api/v1/orgs/{}", o.id),
            body(&UpdateOrganization {
                name: None,
                slug: None,
                status: None,
                max_devices: None,
                settings: None,
                contract_start: None,
                contract_end: None,
                billing_contact: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            &format!("/api/v1/sites/{}", s0.id),
            body(&UpdateSite {
                name: None,
                timezone: None,
                address: None,
                contact: None,
                settings: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            &format!("/api/v1/device-groups/{}", g.id),
            body(&UpdateDeviceGroup {
                name: None,
                rules: None,
                parent_id: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            &format!("/api/v1/roles/{}", role.id),
            body(&UpdateRole {
                name: None,
                description: None,
                permissions: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            &format!("/api/v1/devices/{}", d.id),
            body(&UpdateDevice {
                display_name: None,
                tags: None,
                site_id: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            &format!("/api/v1/scripts/{}", script["id"].as_str().expect("id")),
            body(&UpdateScript {
                name: None,
                description: None,
                category: None,
                language: None,
                os_types: None,
                content: None,
                parameters: None,
                timeout_seconds: None,
                run_as: None,
            }),
        )
        .await;
        same_after(
            &admin,
            e,
            "/api/v1/settings",
            body(&UpdateSettings {
                smtp: None,
                session_policy: None,
            }),
        )
        .await;
        let unset = UpdateMember {
            name: None,
            role_id: None,
            status: None,
            org_access: None,
            org_ids: None,
            site_ids: None,
            device_group_ids: None,
        };
        same_after(&admin, e, &format!("/api/v1/users/{member}"), body(&unset)).await;

        // The reported case: changing only the name keeps the sites and groups.
        let m: Member = admin
            .patch(
                &format!("/api/v1/users/{member}"),
                &UpdateMember {
                    name: Some("New name".into()),
                    ..unset.clone()
                },
            )
            .await
            .expect("rename");
        assert_eq!(m.user.name, "New name", "{e}");
        assert_eq!(m.site_ids, Some(vec![s0.id]), "{e}: site limit kept");
        assert_eq!(
            m.device_group_ids,
            Some(vec![g.id]),
            "{e}: group limit kept"
        );
        // An explicit null still means "all sites".
        let v = serde_json::to_value(UpdateMember {
            site_ids: Some(None),
            ..unset.clone()
        })
        .expect("serialize");
        assert_eq!(v, json!({"site_ids": null}), "{e}");
        let m: Member = admin
            .patch(&format!("/api/v1/users/{member}"), &v)
            .await
            .expect("all sites");
        assert_eq!(
            m.site_ids, None,
            "{e}: null widens to all sites, explicitly"
        );
        assert_eq!(m.device_group_ids, Some(vec![g.id]), "{e}");
    }
}

// ------------------------------------------------------------------ item 10

/// Everything a reader fetches from the audit API with these filters.
async fn audit_text(c: &BreezeClient, filters: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        format!("/api/v1/audit/logs?limit=500{filters}"),
        format!("/api/v1/audit/logs/export?format=csv{filters}"),
        format!("/api/v1/audit/logs/export?format=json{filters}"),
        format!("/api/v1/audit/summary?limit=500{filters}"),
    ] {
        let (s, text) = c.raw(Method::GET, &path, None).await.expect("audit");
        assert_eq!(s, StatusCode::OK, "{path}: {text}");
        out.push((path, text));
    }
    out
}

#[tokio::test]
async fn site_and_group_limited_users_read_no_audit_row_outside_their_reach() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let admin = app.admin().await;
        let e = app.engine;
        let o = create_org(&admin, "One").await;
        let (s0, s1) = (
            site(&admin, o.id, "Inside").await,
            site(&admin, o.id, "Outside").await,
        );
        let d_in = pending_device(&admin, s0.id, "host-in-group").await;
        let d_site = pending_device(&admin, s0.id, "host-same-site").await;
        let d_out = pending_device(&admin, s1.id, "host-other-site").await;
        let key = |s: SiteId, n: &str| json!({"org_id": o.id, "site_id": s, "name": n});
        let k0 = ok(
            &admin,
            Method::POST,
            "/api/v1/enrollment-keys",
            Some(key(s0.id, "key-inside")),
        )
        .await;
        let k1 = ok(
            &admin,
            Method::POST,
            "/api/v1/enrollment-keys",
            Some(key(s1.id, "key-outside")),
        )
        .await;
        let group = |s: Option<SiteId>, n: &str| json!({"org_id": o.id, "site_id": s, "name": n});
        let g0: DeviceGroup = serde_json::from_value(
            ok(
                &admin,
                Method::POST,
                "/api/v1/device-groups",
                Some(group(Some(s0.id), "group-inside")),
            )
            .await,
        )
        .expect("group");
        let g1: DeviceGroup = serde_json::from_value(
            ok(
                &admin,
                Method::POST,
                "/api/v1/device-groups",
                Some(group(Some(s1.id), "group-outside")),
            )
            .await,
        )
        .expect("group");
        let gw: DeviceGroup = serde_json::from_value(
            ok(
                &admin,
                Method::POST,
                "/api/v1/device-groups",
                Some(group(None, "group-org-wide")),
            )
            .await,
        )
        .expect("group");
        ok(
            &admin,
            Method::POST,
            &format!("/api/v1/device-groups/{}/members", g0.id),
            Some(json!({"device_ids": [d_in.id]})),
        )
        .await;
        ok(
            &admin,
            Method::POST,
            &format!("/api/v1/device-groups/{}/members", g1.id),
            Some(json!({"device_ids": [d_out.id]})),
        )
        .await;
        for d in [&d_in, &d_site, &d_out] {
            ok(
                &admin,
                Method::PATCH,
                &format!("/api/v1/devices/{}", d.id),
                Some(json!({"tags": ["audited"]})),
            )
            .await;
            ok(
                &admin,
                Method::POST,
                &format!("/api/v1/devices/{}/maintenance", d.id),
                Some(json!({"reason": "r"})),
            )
            .await;
        }
        let script = ok(
            &admin,
            Method::POST,
            "/api/v1/scripts",
            Some(json!({"org_id": o.id, "name": "S", "language": "bash", "os_types": ["linux"], "content": "echo hi"})),
        )
        .await;
        let sid = script["id"].as_str().expect("id").to_string();
        let (s, v) = call(
            &admin,
            Method::POST,
            &format!("/api/v1/scripts/{sid}/execute"),
            Some(json!({"device_ids": [d_in.id, d_site.id, d_out.id]})),
        )
        .await;
        let ran = s.is_success();
        assert!(
            ran || s == StatusCode::CONFLICT || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{e}: {s} {v}"
        );
        ok(
            &admin,
            Method::PATCH,
            &format!("/api/v1/sites/{}", s1.id),
            Some(json!({"name": "Outside renamed"})),
        )
        .await;

        let (_, site_limited) = invite_org_user(
            &app,
            &admin,
            "os@one.test",
            ORG_ADMIN,
            o.id,
            Some(vec![s0.id]),
            None,
        )
        .await;
        let (_, group_limited) = invite_org_user(
            &app,
            &admin,
            "og@one.test",
            ORG_TECHNICIAN,
            o.id,
            None,
            Some(vec![g0.id]),
        )
        .await;

        let k0_id = k0["id"].as_str().expect("key id").to_string();
        let k1_id = k1["id"].as_str().expect("key id").to_string();
        let outside_site = [
            s1.id.to_string(),
            d_out.id.to_string(),
            "host-other-site".into(),
            k1_id.clone(),
            g1.id.to_string(),
            gw.id.to_string(),
            "Outside renamed".into(),
            "org.create".into(), // no organization-level row either
        ];
        let filters = [
            String::new(),
            format!("&resource_id={}", d_out.id),
            format!("&resource_id={}", s1.id),
            format!("&resource_id={k1_id}"),
            format!("&resource_id={}", g1.id),
            "&resource_type=device".into(),
            "&resource_type=site".into(),
            "&action=site.*".into(),
            "&action=device.".into(),
            "&action=org.create".into(),
            format!("&org_id={}", o.id),
        ];
        for f in &filters {
            for (path, text) in audit_text(&site_limited, f).await {
                for needle in &outside_site {
                    assert!(
                        !text.contains(needle.as_str()),
                        "{e}: site-limited {path} shows {needle}: {text}"
                    );
                }
            }
        }
        // The site-limited admin does see the rows about its site.
        let mine = audit_text(&site_limited, "").await.remove(0).1;
        for needle in [
            s0.id.to_string(),
            d_in.id.to_string(),
            d_site.id.to_string(),
            k0_id.clone(),
            g0.id.to_string(),
        ] {
            assert!(
                mine.contains(&needle),
                "{e}: site-limited reader misses {needle}: {mine}"
            );
        }

        let outside_group: Vec<String> = outside_site
            .iter()
            .cloned()
            .chain([
                d_site.id.to_string(),
                "host-same-site".into(),
                k0_id.clone(),
                g0.id.to_string(),
            ])
            .collect();
        for f in filters
            .iter()
            .chain([format!("&resource_id={}", d_site.id)].iter())
        {
            for (path, text) in audit_text(&group_limited, f).await {
                for needle in &outside_group {
                    assert!(
                        !text.contains(needle.as_str()),
                        "{e}: group-limited {path} shows {needle}: {text}"
                    );
                }
            }
        }
        let mine = audit_text(&group_limited, "").await.remove(0).1;
        assert!(
            mine.contains(&d_in.id.to_string()),
            "{e}: group-limited reader misses its device: {mine}"
        );
        if ran {
            assert!(mine.contains("script.execute"), "{e}: {mine}");
        }

        // The org-wide admin sees it all, and the chain still verifies.
        let all = audit_text(&admin, "").await.remove(0).1;
        for needle in &outside_site[..7] {
            assert!(
                all.contains(needle.as_str()),
                "{e}: org-wide reader misses {needle}"
            );
        }
        let (n, problems) = breeze_store::audit::verify(&app.state.db)
            .await
            .expect("verify");
        assert!(n > 10 && problems.is_empty(), "{e}: {n} {problems:?}");
    }
}
