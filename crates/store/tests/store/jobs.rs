//! The durable job queue: claims are atomic and leased, failures retry at the time given
//! until the attempts run out, and a job whose worker died is claimed again.

use crate::harness::engines;
use breeze_store::jobs::{self, AfterFailure};
use chrono::{Duration, SubsecRound, Utc};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_due_job_is_claimed_once_and_removed_when_done() {
    for t in engines().await {
        let now = Utc::now().trunc_subsecs(0);
        let (a, later) = (Uuid::now_v7(), Uuid::now_v7());
        jobs::enqueue(&t.db, a, "mail", json!({"sealed": "x"}), 3, now, now)
            .await
            .expect("enqueue");
        jobs::enqueue(
            &t.db,
            later,
            "mail",
            json!({}),
            3,
            now + Duration::hours(1),
            now,
        )
        .await
        .expect("enqueue");
        let lease = now + Duration::minutes(1);
        let got = jobs::claim(&t.db, now, lease, 10).await.expect("claim");
        assert_eq!(got.len(), 1, "{}: only the due one", t.name);
        assert_eq!(got[0].id, a);
        assert_eq!(got[0].payload, json!({"sealed": "x"}));
        assert_eq!((got[0].attempts, got[0].max_attempts), (1, 3));
        let rec = jobs::get(&t.db, a).await.expect("get").expect("row");
        assert_eq!(rec.status, "running");
        assert_eq!(rec.locked_until, Some(lease));
        assert!(
            jobs::claim(&t.db, now, lease, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{}: a leased job is not handed out twice",
            t.name
        );
        jobs::complete(&t.db, a).await.expect("complete");
        assert_eq!(jobs::get(&t.db, a).await.expect("get"), None);
    }
}

#[tokio::test]
async fn a_failed_job_waits_for_its_retry_time_and_fails_for_good_after_its_last_attempt() {
    for t in engines().await {
        let now = Utc::now().trunc_subsecs(0);
        let id = Uuid::now_v7();
        jobs::enqueue(&t.db, id, "mail", json!({}), 2, now, now)
            .await
            .expect("enqueue");
        let lease = |at| at + Duration::minutes(1);
        let got = jobs::claim(&t.db, now, lease(now), 10)
            .await
            .expect("claim");
        assert_eq!(got.len(), 1);
        let retry_at = now + Duration::seconds(30);
        let after = jobs::fail(&t.db, id, "connection refused", Some(retry_at), now)
            .await
            .expect("fail");
        assert_eq!(after, AfterFailure::Retry, "{}", t.name);
        let rec = jobs::get(&t.db, id).await.expect("get").expect("row");
        assert_eq!(
            (rec.status.as_str(), rec.attempts, rec.next_run_at),
            ("queued", 1, retry_at)
        );
        assert_eq!(rec.last_error.as_deref(), Some("connection refused"));
        assert_eq!(rec.locked_until, None);
        assert!(
            jobs::claim(&t.db, now + Duration::seconds(29), lease(now), 10)
                .await
                .expect("claim")
                .is_empty(),
            "{}: not before its retry time",
            t.name
        );
        let at = now + Duration::seconds(30);
        let got = jobs::claim(&t.db, at, lease(at), 10).await.expect("claim");
        assert_eq!(got.len(), 1, "{}", t.name);
        assert_eq!(got[0].attempts, 2);
        let after = jobs::fail(&t.db, id, "timed out", Some(at + Duration::minutes(1)), at)
            .await
            .expect("fail");
        assert_eq!(after, AfterFailure::Failed, "{}: out of attempts", t.name);
        let rec = jobs::get(&t.db, id).await.expect("get").expect("row");
        assert_eq!((rec.status.as_str(), rec.attempts), ("failed", 2));
        assert!(
            jobs::claim(&t.db, at + Duration::days(1), lease(at), 10)
                .await
                .expect("claim")
                .is_empty(),
            "{}: a failed job stays failed",
            t.name
        );

        // A failure not worth retrying fails at once.
        let once = Uuid::now_v7();
        jobs::enqueue(&t.db, once, "mail", json!({}), 5, now, now)
            .await
            .expect("enqueue");
        jobs::claim(&t.db, now, lease(now), 10)
            .await
            .expect("claim");
        let after = jobs::fail(&t.db, once, "destination not allowed", None, now)
            .await
            .expect("fail");
        assert_eq!(after, AfterFailure::Failed, "{}", t.name);
    }
}

#[tokio::test]
async fn a_job_whose_lease_expired_is_claimed_again() {
    for t in engines().await {
        let now = Utc::now().trunc_subsecs(0);
        let (id, last) = (Uuid::now_v7(), Uuid::now_v7());
        jobs::enqueue(&t.db, id, "mail", json!({}), 3, now, now)
            .await
            .expect("enqueue");
        jobs::enqueue(&t.db, last, "mail", json!({}), 1, now, now)
            .await
            .expect("enqueue");
        let lease = now + Duration::minutes(1);
        assert_eq!(
            jobs::claim(&t.db, now, lease, 10)
                .await
                .expect("claim")
                .len(),
            2
        );
        // The worker died: nothing is handed out before the lease ends…
        assert!(
            jobs::claim(&t.db, lease - Duration::seconds(1), lease, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        // …and after it, the one whose only attempt that was is failed (and answered, for
        // its kind's own bookkeeping), and the other is claimed again as its next attempt.
        let abandoned = jobs::fail_abandoned(&t.db, lease).await.expect("abandoned");
        assert_eq!(
            abandoned
                .iter()
                .map(|j| (j.id, j.attempts))
                .collect::<Vec<_>>(),
            vec![(last, 1)],
            "{}",
            t.name
        );
        let again = jobs::claim(&t.db, lease, lease + Duration::minutes(1), 10)
            .await
            .expect("claim");
        assert_eq!(again.len(), 1, "{}", t.name);
        assert_eq!((again[0].id, again[0].attempts), (id, 2));
        let rec = jobs::get(&t.db, last).await.expect("get").expect("row");
        assert_eq!(rec.status, "failed", "{}", t.name);
        assert_eq!(rec.last_error.as_deref(), Some(jobs::ABANDONED));
        assert!(
            jobs::fail_abandoned(&t.db, lease + Duration::hours(1))
                .await
                .expect("abandoned")
                .is_empty(),
            "{}: failed once",
            t.name
        );
        assert_eq!(
            jobs::list(&t.db, "mail").await.expect("list").len(),
            2,
            "{}",
            t.name
        );
    }
}

/// Job leases: one holder at a time, renewable by its holder, taken over once expired, and
/// free again once released.
#[tokio::test]
async fn a_job_lease_has_one_holder_until_it_expires() {
    use breeze_store::leases;
    for t in engines().await {
        let now = Utc::now().trunc_subsecs(0);
        let ttl = Duration::seconds(30);
        let take = |who: &'static str, at| leases::try_acquire(&t.db, "sweep", who, ttl, at);
        assert!(take("a", now).await.expect("a takes"), "{}", t.name);
        assert!(
            !take("b", now).await.expect("b tries"),
            "{}: held by a",
            t.name
        );
        let renewed = now + Duration::seconds(20);
        assert!(take("a", renewed).await.expect("a renews"), "{}", t.name);
        let before_expiry = renewed + Duration::seconds(29);
        assert!(
            !take("b", before_expiry).await.expect("b"),
            "{}: renewed",
            t.name
        );
        let expired = renewed + ttl;
        assert!(
            take("b", expired).await.expect("b takes over"),
            "{}",
            t.name
        );
        assert_eq!(
            leases::holder(&t.db, "sweep").await.expect("holder"),
            Some(("b".to_string(), expired + ttl)),
            "{}",
            t.name
        );
        assert!(
            !take("a", expired).await.expect("a"),
            "{}: b holds it",
            t.name
        );
        leases::release(&t.db, "sweep", "a", expired)
            .await
            .expect("a's release is a no-op");
        assert!(!take("a", expired).await.expect("a"), "{}", t.name);
        leases::release(&t.db, "sweep", "b", expired)
            .await
            .expect("release");
        assert!(
            take("a", expired).await.expect("a after release"),
            "{}",
            t.name
        );
        // Another job's lease is independent.
        assert!(
            leases::try_acquire(&t.db, "other", "b", ttl, expired)
                .await
                .expect("other"),
            "{}",
            t.name
        );
    }
}

/// Periods of a leased job: only the lease holder claims one, each period once, and a
/// period claimed before the lease changed hands (or was released) is not claimed again.
#[tokio::test]
async fn a_job_period_is_claimed_once_across_holders() {
    use breeze_store::leases;
    for t in engines().await {
        let now = Utc::now().trunc_subsecs(0);
        let ttl = Duration::seconds(45);
        let name = "job.offline";
        assert!(
            leases::try_acquire(&t.db, name, "a", ttl, now)
                .await
                .expect("a takes")
        );
        assert!(
            !leases::claim_period(&t.db, name, "b", 100)
                .await
                .expect("b"),
            "{}: only the holder claims",
            t.name
        );
        assert!(
            leases::claim_period(&t.db, name, "a", 100)
                .await
                .expect("a"),
            "{}",
            t.name
        );
        assert!(
            !leases::claim_period(&t.db, name, "a", 100)
                .await
                .expect("a again"),
            "{}: the same period twice",
            t.name
        );
        assert_eq!(
            leases::last_period(&t.db, name).await.expect("last"),
            Some(100)
        );
        // a stops renewing; b takes over after expiry and may not claim a's period again.
        let later = now + ttl;
        assert!(
            leases::try_acquire(&t.db, name, "b", ttl, later)
                .await
                .expect("b takes")
        );
        assert!(
            !leases::claim_period(&t.db, name, "a", 101)
                .await
                .expect("a, no longer holder"),
            "{}",
            t.name
        );
        assert!(
            !leases::claim_period(&t.db, name, "b", 100)
                .await
                .expect("b"),
            "{}: a ran period 100",
            t.name
        );
        assert!(
            leases::claim_period(&t.db, name, "b", 101)
                .await
                .expect("b"),
            "{}",
            t.name
        );
        // A release keeps the claimed period: the next holder starts after it.
        leases::release(&t.db, name, "b", later)
            .await
            .expect("release");
        assert_eq!(
            leases::holder(&t.db, name)
                .await
                .expect("holder")
                .map(|h| h.0),
            Some(String::new())
        );
        assert!(
            leases::try_acquire(&t.db, name, "a", ttl, later)
                .await
                .expect("a again")
        );
        assert!(
            !leases::claim_period(&t.db, name, "a", 101)
                .await
                .expect("a"),
            "{}: released, not forgotten",
            t.name
        );
        assert!(
            leases::claim_period(&t.db, name, "a", 102)
                .await
                .expect("a"),
            "{}",
            t.name
        );
    }
}

/// A transaction the pool lost track of must not hold its row locks (a job lease's, say)
/// forever: every PostgreSQL connection asks the server to end a session idle in a
/// transaction after `IDLE_IN_TRANSACTION_TIMEOUT`.
#[tokio::test]
async fn postgres_sessions_end_a_transaction_left_idle() {
    #[derive(sqlx::FromRow)]
    struct Setting {
        idle_in_transaction_session_timeout: String,
    }
    for t in engines().await {
        if t.db.engine() != breeze_store::Engine::Postgres {
            continue;
        }
        let s: Setting =
            t.db.one(breeze_store::Q::new(
                "SHOW idle_in_transaction_session_timeout",
            ))
            .await
            .unwrap();
        assert_eq!(s.idle_in_transaction_session_timeout, "1min", "{}", t.name);
        assert_eq!(breeze_store::db::IDLE_IN_TRANSACTION_TIMEOUT, "60s");
    }
}

/// The holder renewing its lease at the same instant another replica tries to take it
/// (replicas tick at the same moments) keeps it, every time; the other is turned away.
#[tokio::test]
async fn a_holder_renewing_while_another_tries_keeps_its_lease() {
    use breeze_store::leases;
    for t in engines().await {
        let db = &t.db;
        let ttl = Duration::seconds(30);
        let now = Utc::now();
        assert!(
            leases::try_acquire(db, "job.race", "a", ttl, now)
                .await
                .unwrap()
        );
        for i in 0..100 {
            let at = now + Duration::milliseconds(i * 10);
            let (a, b) = tokio::join!(
                leases::try_acquire(db, "job.race", "a", ttl, at),
                leases::try_acquire(db, "job.race", "b", ttl, at),
            );
            assert!(
                a.unwrap(),
                "{}: the holder lost its renewal at try {i}",
                t.name
            );
            assert!(
                !b.unwrap(),
                "{}: another took a held lease at try {i}",
                t.name
            );
        }
    }
}
