//! Reserving a limited enrollment key's uses (issue 14): a batch gets what is left and no
//! more, concurrent reservations never exceed `max_uses` together, a revoked, expired or
//! unlimited key gives none, and a use given back can be taken again.

use crate::fixtures::world;
use crate::harness::engines;
use breeze_proto::ids::EnrollmentKeyId;
use breeze_store::enrollment_keys::{self, NewKey};
use breeze_store::{Db, Q};
use chrono::{Duration, Utc};

async fn key(
    db: &Db,
    org: breeze_proto::ids::OrgId,
    site: breeze_proto::ids::SiteId,
    name: &str,
    max: Option<i64>,
) -> EnrollmentKeyId {
    enrollment_keys::create(
        db,
        &NewKey {
            org_id: org,
            site_id: site,
            name,
            key_hash: &format!("{name:0>64}"),
            key_prefix: "bzk_test",
            max_uses: max,
            expires_at: Utc::now() + Duration::hours(1),
            created_by: None,
        },
        Utc::now(),
    )
    .await
    .expect("key")
}

#[derive(sqlx::FromRow)]
struct Uses {
    uses: i64,
}

async fn uses(db: &Db, k: EnrollmentKeyId) -> i64 {
    db.one::<Uses>(Q::new("SELECT uses FROM enrollment_keys WHERE id = ?").bind(k))
        .await
        .expect("row")
        .uses
}

#[tokio::test]
async fn reservations_take_what_is_left_and_never_more() {
    for t in engines().await {
        let w = world(&t.db, "Keys").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let now = Utc::now();
        let five = key(&t.db, org, site, "five", Some(5)).await;
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, five, 3, now)
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, five, 3, now)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, five, 1, now)
                .await
                .unwrap(),
            0
        );
        assert_eq!(uses(&t.db, five).await, 5);
        // Used up, it no longer lets anyone in; a use given back is there again.
        let hash = format!("{:0>64}", "five");
        assert!(
            enrollment_keys::usable_for_agent(&t.db, &hash, now)
                .await
                .unwrap()
                .is_none()
        );
        enrollment_keys::refund_use(&t.db, five).await.unwrap();
        assert_eq!(uses(&t.db, five).await, 4);
        let k = enrollment_keys::usable_for_agent(&t.db, &hash, now)
            .await
            .unwrap()
            .expect("usable");
        assert!(k.limited);
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, five, 2, now)
                .await
                .unwrap(),
            1
        );

        // Many reservations at once on both engines: exactly max_uses in all.
        let hundred = key(&t.db, org, site, "hundred", Some(100)).await;
        let racers = (0..16).map(|_| {
            let db = t.db.clone();
            async move {
                enrollment_keys::reserve_uses(&db, hundred, 9, now)
                    .await
                    .unwrap()
            }
        });
        let got: i64 = futures::future::join_all(racers).await.into_iter().sum();
        assert_eq!(got, 100, "{}", t.name);
        assert_eq!(uses(&t.db, hundred).await, 100);

        // Revoked, expired or unlimited: none.
        let revoked = key(&t.db, org, site, "revoked", Some(5)).await;
        t.db.exec(
            Q::new("UPDATE enrollment_keys SET revoked_at = ? WHERE id = ?")
                .bind(now)
                .bind(revoked),
        )
        .await
        .unwrap();
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, revoked, 1, now)
                .await
                .unwrap(),
            0
        );
        let expiring = key(&t.db, org, site, "expiring", Some(5)).await;
        let later = now + Duration::hours(2);
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, expiring, 1, later)
                .await
                .unwrap(),
            0
        );
        let unlimited = key(&t.db, org, site, "unlimited", None).await;
        assert_eq!(
            enrollment_keys::reserve_uses(&t.db, unlimited, 1, now)
                .await
                .unwrap(),
            0
        );
        for k in [revoked, expiring, unlimited] {
            assert_eq!(uses(&t.db, k).await, 0);
        }
        // A refund never takes a key below zero.
        enrollment_keys::refund_use(&t.db, unlimited).await.unwrap();
        assert_eq!(uses(&t.db, unlimited).await, 0);
    }
}
