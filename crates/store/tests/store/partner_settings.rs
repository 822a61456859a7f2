use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::scope::{OrgAccess, SiteAccess};
use breeze_core::settings::SmtpTls;
use breeze_core::{PermissionSet, Scope};
use breeze_store::StoreError;
use breeze_store::partner_settings::{self, PartnerSettings};
use chrono::{SubsecRound, Utc};
use std::collections::BTreeSet;

#[tokio::test]
async fn settings_round_trip_and_stay_with_their_partner() {
    for t in engines().await {
        let a = world(&t.db, "Acme").await;
        let b = world(&t.db, "Bolt").await;
        let all = PermissionSet::everything();
        let a_all = Scope::partner(a.partner, OrgAccess::All, all.clone());
        let b_all = Scope::partner(b.partner, OrgAccess::All, all.clone());
        let now = Utc::now().trunc_subsecs(0);

        assert_eq!(
            partner_settings::get(&t.db, &a_all).await.expect("get"),
            PartnerSettings::default(),
            "{}: nothing saved yet",
            t.name
        );

        let edit = partner_settings::edit(&t.db, &a_all, now)
            .await
            .expect("edit");
        let mut new = edit.current.clone();
        new.smtp.enabled = true;
        new.smtp.host = Some("smtp.acme.test".into());
        new.smtp.port = Some(465);
        new.smtp.tls = Some(SmtpTls::Tls);
        new.smtp.username = Some("mailer".into());
        new.smtp.password_sealed = Some("c2VhbGVk".into());
        new.smtp.from = Some("Acme IT <it@acme.test>".into());
        new.session.access_token_minutes = Some(10);
        new.session.session_lifetime_hours = Some(12);
        new.session.idle_timeout_minutes = Some(30);
        new.session.require_mfa = true;
        let saved = edit.save(&new, a.admin, now).await.expect("save");
        assert_eq!(saved.smtp, new.smtp, "{}", t.name);
        assert_eq!(saved.session, new.session);
        assert_eq!(saved.updated_at, Some(now));
        assert_eq!(saved.updated_by, Some(a.admin));
        assert_eq!(
            partner_settings::get(&t.db, &a_all).await.expect("get"),
            saved
        );
        assert_eq!(
            partner_settings::get_for_auth(&t.db, a.partner)
                .await
                .expect("get"),
            saved
        );
        assert!(
            partner_settings::require_mfa_for_auth(&t.db, a.partner)
                .await
                .expect("mfa")
        );

        // The other partner still has nothing.
        assert_eq!(
            partner_settings::get(&t.db, &b_all).await.expect("get"),
            PartnerSettings::default(),
            "{}",
            t.name
        );
        assert!(
            !partner_settings::require_mfa_for_auth(&t.db, b.partner)
                .await
                .expect("mfa")
        );
    }
}

#[tokio::test]
async fn an_abandoned_edit_changes_nothing() {
    for t in engines().await {
        let a = world(&t.db, "Acme").await;
        let scope = Scope::partner(a.partner, OrgAccess::All, PermissionSet::everything());
        let edit = partner_settings::edit(&t.db, &scope, Utc::now())
            .await
            .expect("edit");
        drop(edit);
        assert_eq!(
            partner_settings::get(&t.db, &scope).await.expect("get"),
            PartnerSettings::default(),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn only_partner_wide_staff_reach_the_settings() {
    for t in engines().await {
        let a = world(&t.db, "Acme").await;
        let all = PermissionSet::everything();
        let selected = Scope::partner(
            a.partner,
            OrgAccess::Only(BTreeSet::from([a.orgs[0]])),
            all.clone(),
        );
        let org = Scope::organization(a.partner, a.orgs[0], SiteAccess::All, None, all.clone());
        let system = Scope::system(all.clone());
        for scope in [&selected, &org, &system] {
            assert!(
                matches!(
                    partner_settings::get(&t.db, scope).await,
                    Err(StoreError::NotFound)
                ),
                "{}: {:?}",
                t.name,
                scope.level
            );
            assert!(matches!(
                partner_settings::edit(&t.db, scope, Utc::now()).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}
