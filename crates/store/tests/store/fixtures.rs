//! Rows the store tests build on.

use breeze_core::roles::PARTNER_ADMIN;
use breeze_core::scope::OrgAccess;
use breeze_core::validate::Email;
use breeze_proto::ids::{OrgId, PartnerId, RoleId, SiteId, UserId};
use breeze_store::orgs::NewOrg;
use breeze_store::partners::NewPartner;
use breeze_store::sites::NewSite;
use breeze_store::users::NewUser;
use breeze_store::{Db, orgs, partners, roles, sites, users};
use chrono::Utc;

pub struct World {
    pub partner: PartnerId,
    pub admin: UserId,
    pub orgs: Vec<OrgId>,
    pub sites: Vec<Vec<SiteId>>,
}

pub async fn world(db: &Db, name: &str) -> World {
    let now = Utc::now();
    roles::seed_builtins(db, now).await.expect("roles");
    let mut tx = db.begin().await.expect("tx");
    let slug = name.to_lowercase();
    let partner = partners::insert(
        &mut tx,
        &NewPartner {
            name,
            slug: &slug,
            partner_type: "msp",
            plan: "pro",
            max_organizations: None,
            max_devices: None,
            billing_email: None,
        },
        now,
    )
    .await
    .expect("partner");
    let email = Email::parse("email", &format!("admin@{slug}.test")).expect("email");
    let admin = users::insert(
        &mut tx,
        &NewUser {
            email: &email,
            name: "Admin",
            password_hash: None,
            status: "active",
            is_platform_admin: false,
        },
        now,
    )
    .await
    .expect("user");
    users::add_partner_member(
        &mut tx,
        partner,
        admin,
        RoleId(PARTNER_ADMIN),
        &OrgAccess::All,
        now,
    )
    .await
    .expect("member");
    tx.commit().await.expect("commit");
    let mut org_ids = Vec::new();
    let mut site_ids = Vec::new();
    for i in 0..2 {
        let o = orgs::create(
            db,
            partner,
            &NewOrg {
                name: format!("{name} org {i}"),
                slug: format!("o{i}"),
                org_type: "customer".into(),
                status: "active".into(),
                max_devices: None,
                settings: serde_json::json!({}),
                contract_start: None,
                contract_end: None,
                billing_contact: None,
            },
            now,
        )
        .await
        .expect("org");
        let mut s = Vec::new();
        for j in 0..2 {
            s.push(
                sites::create(
                    db,
                    o,
                    &NewSite {
                        name: format!("s{j}"),
                        timezone: "UTC".into(),
                        address: None,
                        contact: None,
                        settings: serde_json::json!({}),
                    },
                    now,
                )
                .await
                .expect("site"),
            );
        }
        org_ids.push(o);
        site_ids.push(s);
    }
    World {
        partner,
        admin,
        orgs: org_ids,
        sites: site_ids,
    }
}
