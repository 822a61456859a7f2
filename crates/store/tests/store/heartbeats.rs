//! Coalesced heartbeats (issue 14): one statement writes many devices' last-seen rows,
//! a row already newer than the batch's entry keeps its values, and status is left alone.

use crate::alerts::device;
use crate::fixtures::world;
use crate::harness::engines;
use breeze_proto::ids::DeviceId;
use breeze_store::agents::{SeenUpdate, record_seen_batch};
use breeze_store::{Db, Q};
use chrono::{DateTime, Duration, SubsecRound, Utc};

#[derive(sqlx::FromRow, Debug, PartialEq)]
struct Seen {
    last_seen_at: Option<DateTime<Utc>>,
    last_seen_ip: Option<String>,
    uptime_secs: Option<i64>,
    agent_health: Option<String>,
    last_user: Option<String>,
    config_hash: Option<String>,
    status: String,
}

async fn seen(db: &Db, d: DeviceId) -> Seen {
    db.one(
        Q::new(
            "SELECT last_seen_at, last_seen_ip, uptime_secs, agent_health, last_user, config_hash, status \
             FROM devices WHERE id = ?",
        )
        .bind(d),
    )
    .await
    .expect("row")
}

fn update(d: DeviceId, at: DateTime<Utc>, uptime: i64) -> SeenUpdate {
    SeenUpdate {
        device_id: d,
        last_seen_at: at,
        last_seen_ip: (uptime % 2 == 0).then(|| "192.0.2.7".to_string()),
        agent_version: "0.2.0".into(),
        pending_reboot: uptime % 3 == 0,
        last_user: Some(format!("user{uptime}")),
        uptime_secs: uptime,
        agent_health: "warning",
        config_hash: (uptime % 2 == 1).then(|| format!("cfg-{uptime}")),
    }
}

#[tokio::test]
async fn a_batch_writes_every_device_and_never_goes_back_in_time() {
    for t in engines().await {
        let w = world(&t.db, "Seen").await;
        let now = Utc::now().trunc_subsecs(3);
        let mut devices = Vec::new();
        for _ in 0..5 {
            devices.push(device(&t.db, w.orgs[0], w.sites[0][0], "online").await);
        }
        let offline = device(&t.db, w.orgs[0], w.sites[0][0], "offline").await;
        // The first device was seen later than its batch entry (an immediate write came
        // after it was queued): it keeps what it has.
        t.db.exec(
            Q::new("UPDATE devices SET config_hash = 'old' WHERE org_id = ?").bind(w.orgs[0]),
        )
        .await
        .expect("configured");
        t.db.exec(
            Q::new("UPDATE devices SET last_seen_at = ?, uptime_secs = 99 WHERE id = ?")
                .bind(now + Duration::seconds(5))
                .bind(devices[0]),
        )
        .await
        .expect("newer");
        let mut batch: Vec<SeenUpdate> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| update(*d, now, i as i64 + 10))
            .collect();
        batch.push(update(offline, now, 20));
        let written = record_seen_batch(&t.db, &batch).await.expect("batch");
        assert_eq!(written, 5, "{}: all but the newer row", t.name);
        let first = seen(&t.db, devices[0]).await;
        assert_eq!(first.uptime_secs, Some(99), "{}", t.name);
        assert_eq!(first.config_hash.as_deref(), Some("old"), "{}", t.name);
        assert_eq!(
            first.last_seen_at,
            Some(now + Duration::seconds(5)),
            "{}",
            t.name
        );
        for (i, d) in devices.iter().enumerate().skip(1) {
            let u = update(*d, now, i as i64 + 10);
            assert_eq!(
                seen(&t.db, *d).await,
                Seen {
                    last_seen_at: Some(now),
                    last_seen_ip: u.last_seen_ip,
                    uptime_secs: Some(u.uptime_secs),
                    agent_health: Some("warning".into()),
                    last_user: u.last_user,
                    // The configuration the answer carried, else the one held.
                    config_hash: u.config_hash.or(Some("old".into())),
                    status: "online".into(),
                },
                "{}",
                t.name
            );
        }
        // Status is not the batch's to change.
        assert_eq!(seen(&t.db, offline).await.status, "offline", "{}", t.name);
        assert_eq!(record_seen_batch(&t.db, &[]).await.expect("empty"), 0);
    }
}

#[derive(sqlx::FromRow)]
struct Written {
    n: i64,
}

/// `count` devices, online and last seen an hour before `now`.
async fn stale_devices(
    db: &Db,
    w: &crate::fixtures::World,
    now: DateTime<Utc>,
    count: usize,
) -> Vec<DeviceId> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(device(db, w.orgs[0], w.sites[0][0], "online").await);
    }
    db.exec(
        Q::new("UPDATE devices SET status = 'online', last_seen_at = ?")
            .bind(now - Duration::hours(1)),
    )
    .await
    .expect("stale");
    out
}

/// The deadlock two replicas hit at 100,000 agents: a heartbeat flush holds some
/// device rows and wants more, while the offline sweep holds those and waits for the
/// flush's. The sweep must not wait on a row a flush holds (that device was just heard
/// from): it skips it and finishes while the flush is still open.
#[tokio::test]
async fn the_offline_sweep_skips_rows_a_heartbeat_flush_holds_instead_of_waiting() {
    for t in engines().await {
        if t.name == "sqlite" {
            // One writer at a time: the sweep would wait for the open write
            // transaction, and there are no row locks to deadlock on.
            continue;
        }
        let w = world(&t.db, "Sweep").await;
        let now = Utc::now().trunc_subsecs(3);
        let devices = stale_devices(&t.db, &w, now, 20).await;
        let held = *devices.iter().max_by_key(|d| d.0).expect("devices");
        let later = *devices.iter().min_by_key(|d| d.0).expect("devices");

        // A flush is under way: it has written (and so locked) one row.
        let mut flush = t.db.begin().await.expect("begin");
        flush
            .exec(
                Q::new("UPDATE devices SET last_seen_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(held),
            )
            .await
            .expect("flush holds a row");

        let swept = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            breeze_store::agents::sweep_offline(&t.db, now - Duration::minutes(5), now),
        )
        .await
        .expect("the sweep waited on the flush's row lock")
        .expect("sweep");
        let swept: std::collections::HashSet<DeviceId> =
            swept.into_iter().map(|c| c.device_id).collect();
        assert_eq!(swept.len(), devices.len() - 1, "{}", t.name);
        assert!(
            !swept.contains(&held),
            "{}: the held row is skipped",
            t.name
        );

        // The flush goes on to a row the sweep took: the sweep has committed, so this
        // does not wait either.
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            flush.exec(
                Q::new("UPDATE devices SET last_seen_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(later),
            ),
        )
        .await
        .expect("the flush waited")
        .expect("flush");
        flush.commit().await.expect("commit");
        assert_eq!(seen(&t.db, held).await.status, "online", "{}", t.name);
        assert_eq!(seen(&t.db, later).await.status, "offline", "{}", t.name);
    }
}

/// Heartbeat flushes (two, as from two replicas, over the same devices in opposite
/// orders) and the offline sweep, run against each other: none fails. A flush of more
/// than 1,000 devices takes its rows statement by statement in one transaction, in the
/// order heartbeats arrived (here: not id order, not table order), which is what let a
/// sweep lock rows a later statement of the flush wanted.
#[tokio::test]
async fn heartbeat_flushes_and_the_offline_sweep_run_concurrently_without_failing() {
    for t in engines().await {
        let w = world(&t.db, "Race").await;
        let now = Utc::now().trunc_subsecs(3);
        let mut devices = stale_devices(&t.db, &w, now, 2500).await;
        // Arrival order: by the id's last bytes.
        devices.sort_by_key(|d| d.0.as_bytes()[15..].to_vec());
        for round in 0..5 {
            t.db.exec(
                Q::new("UPDATE devices SET status = 'online', last_seen_at = ?")
                    .bind(now - Duration::hours(1)),
            )
            .await
            .expect("reset");
            let seen_at = now + Duration::seconds(round);
            let forward: Vec<SeenUpdate> = devices
                .iter()
                .enumerate()
                .map(|(i, d)| update(*d, seen_at, i as i64))
                .collect();
            let backward: Vec<SeenUpdate> = forward.iter().rev().cloned().collect();
            let (a, b, s) = tokio::join!(
                record_seen_batch(&t.db, &forward),
                record_seen_batch(&t.db, &backward),
                breeze_store::agents::sweep_offline(&t.db, now - Duration::minutes(5), now),
            );
            a.unwrap_or_else(|e| panic!("{}: round {round}: flush: {e}", t.name));
            b.unwrap_or_else(|e| panic!("{}: round {round}: second flush: {e}", t.name));
            s.unwrap_or_else(|e| panic!("{}: round {round}: sweep: {e}", t.name));
            let written: Written =
                t.db.one(
                    Q::new("SELECT COUNT(*) AS n FROM devices WHERE last_seen_at = ?")
                        .bind(seen_at),
                )
                .await
                .expect("count");
            assert_eq!(written.n, devices.len() as i64, "{}: round {round}", t.name);
        }
    }
}

/// After an outage every device goes offline in one sweep, each with its `offline`
/// event (written in batches of 500: more than one batch here).
#[tokio::test]
async fn an_outage_sweeps_every_device_offline_with_one_event_each() {
    for t in engines().await {
        let w = world(&t.db, "Outage").await;
        let now = Utc::now().trunc_subsecs(3);
        let devices = stale_devices(&t.db, &w, now, 1200).await;
        let swept = breeze_store::agents::sweep_offline(&t.db, now - Duration::minutes(5), now)
            .await
            .expect("sweep");
        assert_eq!(swept.len(), devices.len(), "{}", t.name);
        let events: Written = t
            .db
            .one(Q::new(
                "SELECT COUNT(DISTINCT device_id) AS n FROM device_events WHERE event_type = 'offline'",
            ))
            .await
            .expect("count");
        assert_eq!(events.n, devices.len() as i64, "{}", t.name);
        let online: Written =
            t.db.one(Q::new(
                "SELECT COUNT(*) AS n FROM devices WHERE status = 'online'",
            ))
            .await
            .expect("count");
        assert_eq!(online.n, 0, "{}", t.name);
    }
}
