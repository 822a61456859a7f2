//! Heartbeat write coalescing (issue 14): a steady-state heartbeat waits in the server's
//! buffer and many are written in one batch; what must be immediate (the first check-in,
//! a device coming back online) still is; the offline sweep sees a heartbeat that still
//! waits; shutdown writes what waits.

use crate::device_state::{enroll, org_and_site};
use crate::harness::{Engine, TestApp, engines, spawn_clocked};
use breeze_client::BreezeClient;
use breeze_core::{Clock, FixedClock};
use breeze_proto::api::Device;
use breeze_proto::ids::DeviceId;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// Heartbeats every 60 s, offline after 3 missed (a 240 s window), and the batched
/// writer's own timer at its longest allowed (60 s), so only the test flushes.
fn tweak(c: &mut breeze_server::Config) {
    c.agents.heartbeat_interval_secs = 60;
    c.agents.offline_after_missed = 3;
    c.agents.metrics_flush_millis = 60_000;
    c.agents.sweep_interval_secs = 3600;
}

async fn beat(agent: &BreezeClient, dev: DeviceId, uptime: u64) {
    let _: Value = agent
        .post(
            &format!("/api/v1/agents/{dev}/heartbeat"),
            &json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": Utc::now(),
                "status": "ok", "uptime_secs": uptime, "metrics": {"cpu_percent": 1.0},
                "running_commands": []}),
        )
        .await
        .expect("heartbeat");
}

#[derive(sqlx::FromRow)]
struct Row {
    last_seen_at: Option<DateTime<Utc>>,
    uptime_secs: Option<i64>,
    status: String,
}

async fn row(db: &breeze_store::Db, dev: DeviceId) -> Row {
    db.one(
        breeze_store::Q::new("SELECT last_seen_at, uptime_secs, status FROM devices WHERE id = ?")
            .bind(dev),
    )
    .await
    .expect("device row")
}

/// A server on a fixed clock with one enrolled device that checked in once (at `t0`).
async fn online_device(
    engine: Engine,
) -> (
    DateTime<Utc>,
    Arc<FixedClock>,
    TestApp,
    BreezeClient,
    DeviceId,
    BreezeClient,
) {
    let t0 = Utc::now().trunc_subsecs_to_micros();
    let clock = Arc::new(FixedClock::new(t0));
    let app = spawn_clocked(engine, Some(clock.clone()), tweak).await;
    let pa = app.admin().await;
    let (org, site) = org_and_site(&pa, "B0").await;
    let (dev, agent) = enroll(&app, &pa, org, site, "batch-01").await;
    beat(&agent, dev, 1).await;
    (t0, clock, app, pa, dev, agent)
}

#[tokio::test]
async fn steady_heartbeats_are_written_in_one_batch() {
    for engine in engines() {
        let (t0, clock, app, _, dev, agent) = online_device(engine).await;
        // The first check-in was written at once (it changed the status).
        let first = row(&app.state.db, dev).await;
        assert_eq!(first.status, "online", "{engine:?}");
        assert_eq!(first.uptime_secs, Some(1), "{engine:?}");
        assert!(app.state.heartbeats.is_empty(), "{engine:?}");

        // Ten steady heartbeats: none written yet, one entry waits.
        let batches = app.state.heartbeats.batches_written();
        for i in 2..12 {
            clock.advance(Duration::seconds(60));
            beat(&agent, dev, i).await;
        }
        assert_eq!(app.state.heartbeats.len(), 1, "{engine:?}");
        let before = row(&app.state.db, dev).await;
        assert_eq!(
            before.uptime_secs,
            Some(1),
            "{engine:?}: not written per heartbeat"
        );
        assert_eq!(before.last_seen_at, Some(t0), "{engine:?}");

        // One flush writes the latest of them, in one batch.
        app.state.heartbeats.flush(&app.state).await;
        assert_eq!(
            app.state.heartbeats.batches_written(),
            batches + 1,
            "{engine:?}"
        );
        assert_eq!(app.state.heartbeats.rows_written(), 1, "{engine:?}");
        let after = row(&app.state.db, dev).await;
        assert_eq!(after.uptime_secs, Some(11), "{engine:?}");
        assert_eq!(after.last_seen_at, Some(clock.now()), "{engine:?}");
        assert!(app.state.heartbeats.is_empty(), "{engine:?}");
    }
}

#[tokio::test]
async fn the_offline_sweep_sees_a_heartbeat_that_waits_and_shutdown_writes_it() {
    for engine in engines() {
        let (t0, clock, app, pa, dev, agent) = online_device(engine).await;

        // A steady heartbeat 200 s later waits; the row still says t0.
        clock.advance(Duration::seconds(200));
        beat(&agent, dev, 2).await;
        assert_eq!(
            row(&app.state.db, dev).await.last_seen_at,
            Some(t0),
            "{engine:?}"
        );
        // 250 s after t0 the row alone looks offline (window 240 s); the heartbeat 50 s
        // ago does not: the sweep writes it first.
        clock.advance(Duration::seconds(50));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        let d: Device = pa
            .get(&format!("/api/v1/devices/{dev}"))
            .await
            .expect("device");
        assert_eq!(d.status, "online", "{engine:?}");

        // Silent past the window: offline; the next heartbeat is written at once (the
        // device comes back), not batched.
        clock.advance(Duration::seconds(300));
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(
            row(&app.state.db, dev).await.status,
            "offline",
            "{engine:?}"
        );
        beat(&agent, dev, 3).await;
        let back = row(&app.state.db, dev).await;
        assert_eq!(
            (back.status.as_str(), back.uptime_secs),
            ("online", Some(3)),
            "{engine:?}"
        );
        assert!(app.state.heartbeats.is_empty(), "{engine:?}");

        // A steady heartbeat waits; shutdown writes it.
        clock.advance(Duration::seconds(60));
        beat(&agent, dev, 4).await;
        assert_eq!(app.state.heartbeats.len(), 1, "{engine:?}");
        let restarted = app.restart(Some(clock.clone()), tweak).await;
        let r = row(&restarted.state.db, dev).await;
        assert_eq!(r.uptime_secs, Some(4), "{engine:?}: flushed at shutdown");
        assert_eq!(r.last_seen_at, Some(clock.now()), "{engine:?}");
    }
}

trait Micros {
    fn trunc_subsecs_to_micros(self) -> Self;
}

impl Micros for DateTime<Utc> {
    /// Both engines keep microseconds.
    fn trunc_subsecs_to_micros(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 6)
    }
}

#[derive(sqlx::FromRow)]
struct Configured {
    config_hash: Option<String>,
    last_seen_ip: Option<String>,
}

async fn configured(db: &breeze_store::Db, dev: DeviceId) -> Configured {
    db.one(
        breeze_store::Q::new("SELECT config_hash, last_seen_ip FROM devices WHERE id = ?")
            .bind(dev),
    )
    .await
    .expect("device row")
}

/// A device already online whose agent configuration changed (the server restarted with
/// new `[agents]` settings) and whose address was never recorded: its next heartbeat gets
/// the configuration and waits for the batch like any steady one, and the batch writes
/// the configuration's hash, so the heartbeat after gets none. Before, every device of a
/// fleet wrote that heartbeat alone, all within one heartbeat interval.
#[tokio::test]
async fn a_heartbeat_carrying_a_changed_configuration_is_batched_with_its_hash() {
    for engine in engines() {
        let (_, clock, app, _, dev, agent) = online_device(engine).await;
        app.state
            .db
            .exec(
                breeze_store::Q::new(
                    "UPDATE devices SET config_hash = 'stale', last_seen_ip = NULL WHERE id = ?",
                )
                .bind(dev),
            )
            .await
            .expect("configuration changed");
        let hb = |uptime: u64| {
            json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": Utc::now(),
                "status": "ok", "uptime_secs": uptime, "metrics": {"cpu_percent": 1.0},
                "running_commands": []})
        };
        let path = format!("/api/v1/agents/{dev}/heartbeat");

        clock.advance(Duration::seconds(60));
        let first: Value = agent.post(&path, &hb(1)).await.expect("heartbeat");
        assert!(first["config_update"].is_object(), "{engine:?}: {first}");
        assert_eq!(app.state.heartbeats.len(), 1, "{engine:?}: waits");
        let held = configured(&app.state.db, dev).await;
        assert_eq!(
            held.config_hash.as_deref(),
            Some("stale"),
            "{engine:?}: not written alone"
        );

        app.state.heartbeats.flush(&app.state).await;
        let held = configured(&app.state.db, dev).await;
        assert!(
            held.config_hash.as_deref().is_some_and(|h| h != "stale"),
            "{engine:?}"
        );
        assert!(held.last_seen_ip.is_some(), "{engine:?}");

        clock.advance(Duration::seconds(60));
        let second: Value = agent.post(&path, &hb(2)).await.expect("heartbeat");
        assert!(second["config_update"].is_null(), "{engine:?}: {second}");
        assert_eq!(app.state.heartbeats.len(), 1, "{engine:?}");
        assert_eq!(row(&app.state.db, dev).await.status, "online", "{engine:?}");
    }
}
