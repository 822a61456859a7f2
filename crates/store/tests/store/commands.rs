//! Commands a heartbeat no longer reports: lost when delivered before the previous
//! heartbeat, and, when there are none (nearly every heartbeat), found so without
//! waiting for SQLite's one writer.

use crate::alerts::device;
use crate::fixtures::world;
use crate::harness::engines;
use breeze_proto::ids::{CommandId, DeviceId, OrgId};
use breeze_store::command_sweeps::lose_unreported_for_agent;
use breeze_store::{Db, Q};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::time::Duration as Wait;

async fn running(db: &Db, d: DeviceId, org: OrgId, sent_at: DateTime<Utc>) -> CommandId {
    let id = CommandId::new();
    db.exec(
        Q::new(
            "INSERT INTO device_commands (id, device_id, org_id, type, payload, status, envelope, signature, \
             created_at, expires_at, sent_at) VALUES (?, ?, ?, 'script', ?, 'running', ?, 'sig', ?, ?, ?)",
        )
        .bind(id)
        .bind(d)
        .bind(org)
        .bind(json!({}))
        .bind(json!({}))
        .bind(sent_at)
        .bind(sent_at + Duration::hours(1))
        .bind(sent_at),
    )
    .await
    .expect("command");
    id
}

#[derive(sqlx::FromRow)]
struct Status {
    status: String,
}

async fn status(db: &Db, id: CommandId) -> String {
    db.one::<Status>(Q::new("SELECT status FROM device_commands WHERE id = ?").bind(id))
        .await
        .expect("row")
        .status
}

/// The heartbeat's check is answered while another transaction holds the writer, when
/// nothing is to be lost; a command left out is lost; one reported, or delivered after
/// the previous heartbeat, is not.
#[tokio::test]
async fn unreported_commands_are_lost_and_a_heartbeat_with_none_does_not_wait_for_the_writer() {
    for t in engines().await {
        let w = world(&t.db, "Lost").await;
        let (org, site) = (w.orgs[0], w.sites[0][0]);
        let d = device(&t.db, org, site, "online").await;
        let now = Utc::now();
        let previous = now - Duration::seconds(60);
        let reported = running(&t.db, d, org, now - Duration::seconds(120)).await;
        let fresh = running(&t.db, d, org, now - Duration::seconds(30)).await;

        // A long write (a flush, a rollup chunk) holds the writer meanwhile.
        let mut long = t.db.begin().await.expect("begin");
        long.exec(
            Q::new("UPDATE devices SET last_seen_at = ? WHERE id = ?")
                .bind(now)
                .bind(d),
        )
        .await
        .expect("write in the long transaction");
        let lost = tokio::time::timeout(
            Wait::from_secs(3),
            lose_unreported_for_agent(&t.db, d, &[reported], Some(previous), now),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{}: a heartbeat with nothing to lose waited for the writer",
                t.name
            )
        })
        .expect("lose");
        assert!(lost.is_empty(), "{}: nothing to lose", t.name);
        long.commit().await.expect("commit");

        // No previous heartbeat: nothing is judged.
        let none = lose_unreported_for_agent(&t.db, d, &[], None, now)
            .await
            .expect("lose");
        assert!(none.is_empty(), "{}", t.name);

        // Left out of the list: the one delivered before the previous heartbeat is lost,
        // the one delivered since is not (the agent may not have listed it yet).
        let lost = lose_unreported_for_agent(&t.db, d, &[], Some(previous), now)
            .await
            .expect("lose");
        assert_eq!(
            lost.iter().map(|s| s.command_id).collect::<Vec<_>>(),
            vec![reported],
            "{}",
            t.name
        );
        assert_eq!(lost[0].status, "lost", "{}", t.name);
        assert_eq!(status(&t.db, reported).await, "lost", "{}", t.name);
        assert_eq!(status(&t.db, fresh).await, "running", "{}", t.name);

        // Once lost, a second heartbeat finds nothing.
        let again = lose_unreported_for_agent(&t.db, d, &[], Some(previous), now)
            .await
            .expect("lose");
        assert!(again.is_empty(), "{}", t.name);
    }
}
