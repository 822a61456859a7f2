use crate::fixtures::world;
use crate::harness::engines;
use breeze_core::scope::{OrgAccess, SiteAccess};
use breeze_core::{PermissionSet, Scope};
use breeze_store::listing::ListOpts;
use breeze_store::{StoreError, orgs, sites};
use std::collections::BTreeSet;

fn opts() -> ListOpts {
    ListOpts::parse(Some(100), None, None, None).expect("opts")
}

#[tokio::test]
async fn scoped_reads_and_writes_stay_inside_the_scope() {
    for t in engines().await {
        let a = world(&t.db, "Acme").await;
        let b = world(&t.db, "Bolt").await;
        let all = PermissionSet::everything();
        let a_all = Scope::partner(a.partner, OrgAccess::All, all.clone());
        let a_one = Scope::partner(
            a.partner,
            OrgAccess::Only(BTreeSet::from([a.orgs[0]])),
            all.clone(),
        );
        let a_site = Scope::organization(
            a.partner,
            a.orgs[0],
            SiteAccess::Only(BTreeSet::from([a.sites[0][0]])),
            None,
            all.clone(),
        );

        let (list, _) = orgs::list(&t.db, &a_all, None, &opts())
            .await
            .expect("list");
        assert_eq!(list.len(), 2, "{}", t.name);
        assert!(list.iter().all(|o| o.partner_id == a.partner));
        let (list, _) = orgs::list(&t.db, &a_one, None, &opts())
            .await
            .expect("list");
        assert_eq!(
            list.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![a.orgs[0]]
        );

        // Another partner's organization does not exist for this scope, read or write.
        assert!(
            matches!(
                orgs::get(&t.db, &a_all, b.orgs[0]).await,
                Err(StoreError::NotFound)
            ),
            "{}",
            t.name
        );
        let mut foreign = orgs::get(
            &t.db,
            &Scope::partner(b.partner, OrgAccess::All, all.clone()),
            b.orgs[0],
        )
        .await
        .expect("b sees its own");
        foreign.name = "pwned".into();
        assert!(matches!(
            orgs::update(&t.db, &a_all, &foreign, chrono::Utc::now()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            orgs::delete(&t.db, &a_one, a.orgs[1], chrono::Utc::now()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            sites::delete(&t.db, &a_site, a.sites[0][1]).await,
            Err(StoreError::NotFound)
        ));
        let still = orgs::get(
            &t.db,
            &Scope::partner(b.partner, OrgAccess::All, all.clone()),
            b.orgs[0],
        )
        .await
        .expect("b org");
        assert_ne!(still.name, "pwned", "{}", t.name);

        let (s, _) = sites::list(&t.db, &a_site, None, &opts())
            .await
            .expect("sites");
        assert_eq!(
            s.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![a.sites[0][0]],
            "{}: site-limited",
            t.name
        );
        // A system scope reaches no tenant.
        let (none, _) = orgs::list(&t.db, &Scope::system(all.clone()), None, &opts())
            .await
            .expect("list");
        assert!(none.is_empty());
    }
}

#[tokio::test]
async fn lists_page_sort_and_search() {
    for t in engines().await {
        let a = world(&t.db, "Acme").await;
        let scope = Scope::partner(a.partner, OrgAccess::All, PermissionSet::everything());
        let first = ListOpts::parse(Some(1), None, Some("-name"), None).expect("opts");
        let (p1, next) = orgs::list(&t.db, &scope, None, &first)
            .await
            .expect("page 1");
        assert_eq!(p1.len(), 1);
        assert_eq!(p1[0].name, "Acme org 1", "{}: sorted descending", t.name);
        let second = ListOpts::parse(Some(1), next.as_deref(), Some("-name"), None).expect("opts");
        let (p2, next2) = orgs::list(&t.db, &scope, None, &second)
            .await
            .expect("page 2");
        assert_eq!(p2[0].name, "Acme org 0");
        assert!(next2.is_none(), "last page has no cursor");
        let search = ListOpts::parse(None, None, None, Some("ORG 1")).expect("opts");
        let (found, _) = orgs::list(&t.db, &scope, None, &search)
            .await
            .expect("search");
        assert_eq!(found.len(), 1, "{}: case-insensitive search", t.name);
        let wild = ListOpts::parse(None, None, None, Some("%")).expect("opts");
        assert!(
            orgs::list(&t.db, &scope, None, &wild)
                .await
                .expect("search")
                .0
                .is_empty(),
            "LIKE wildcards are literal"
        );
        assert!(ListOpts::parse(None, None, Some("password"), None).is_ok());
        assert!(matches!(
            orgs::list(&t.db, &scope, None, &ListOpts::parse(None, None, Some("password"), None).expect("o")).await,
            Err(StoreError::Invalid { field, .. }) if field == "sort"
        ));
    }
}
