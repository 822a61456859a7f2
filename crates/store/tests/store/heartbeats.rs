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
    status: String,
}

async fn seen(db: &Db, d: DeviceId) -> Seen {
    db.one(
        Q::new(
            "SELECT last_seen_at, last_seen_ip, uptime_secs, agent_health, last_user, status \
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
