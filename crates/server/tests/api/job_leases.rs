//! Periodic jobs under job leases (issue 14): with two servers on one database, each
//! period of each job runs on one of them, the holder that keeps renewing is the only
//! runner, another takes over once the holder stops renewing (its lease expired) or
//! shut down (it released), and a period run before a hand-over is not run again.

use crate::harness::{TestApp, engines, spawn_clocked};
use breeze_core::FixedClock;
use breeze_server::jobs::{self, Job};
use breeze_server::metrics::JobLabels;
use std::sync::Arc;

/// Long enough that the servers' own loops never tick during a test: the test ticks.
const INTERVAL: u64 = 3600;

fn tweak(c: &mut breeze_server::Config) {
    c.agents.sweep_interval_secs = INTERVAL;
}

/// Runs of each job on this server so far, as `/metrics` counts them.
fn runs(app: &TestApp) -> Vec<u64> {
    Job::ALL
        .iter()
        .map(|j| {
            app.state
                .metrics
                .job_runs
                .get_or_create(&JobLabels { job: j.name() })
                .get()
        })
        .collect()
}

fn each(n: u64) -> Vec<u64> {
    vec![n; Job::ALL.len()]
}

fn next_period(clock: &FixedClock) {
    clock.advance(chrono::Duration::seconds(INTERVAL as i64));
}

#[tokio::test]
async fn each_periodic_job_runs_once_per_period_across_two_servers() {
    for engine in engines() {
        // At the start of a period, as the servers' loops tick.
        let start =
            chrono::DateTime::from_timestamp(1_800_000_000 / INTERVAL as i64 * INTERVAL as i64, 0)
                .expect("time");
        let clock = Arc::new(FixedClock::new(start));
        let a = spawn_clocked(engine, Some(clock.clone()), tweak).await;
        let b = a.replica(Some(clock.clone()), tweak).await;

        // Both tick every period; a took the leases first and keeps renewing them, so it
        // alone runs, once a period, however often it ticks.
        for _ in 0..4 {
            jobs::tick(&a.state).await.expect("a ticks");
            jobs::tick(&b.state).await.expect("b ticks");
            jobs::tick(&a.state)
                .await
                .expect("a ticks again in the period");
            next_period(&clock);
        }
        assert_eq!(runs(&a), each(4), "{engine:?}: a ran every period once");
        assert_eq!(runs(&b), each(0), "{engine:?}: b never ran while a renewed");
        let rendered = a.state.metrics.render();
        assert!(
            rendered.contains("breeze_job_runs_total{job=\"offline\"} 4"),
            "{engine:?}: {rendered}"
        );
        // Each run's duration is observed once, per job.
        for job in jobs::Job::ALL {
            let count = format!(
                "breeze_job_duration_seconds_count{{job=\"{}\"}} 4",
                job.name()
            );
            assert!(
                rendered.contains(&count),
                "{engine:?}: {count} in {rendered}"
            );
        }

        // a stops renewing (it hangs or died without shutting down). Its leases last three
        // intervals from its last renewal: b runs nothing before they expire…
        for _ in 0..2 {
            jobs::tick(&b.state).await.expect("b ticks");
            next_period(&clock);
        }
        assert_eq!(runs(&b), each(0), "{engine:?}: a's leases still hold");
        // …and takes every job over once they have.
        jobs::tick(&b.state).await.expect("b ticks");
        assert_eq!(runs(&b), each(1), "{engine:?}: b took over");
        // a comes back in the same period: it holds nothing any more and runs nothing.
        jobs::tick(&a.state).await.expect("a ticks");
        assert_eq!(runs(&a), each(4), "{engine:?}: a lost its leases");

        // b shuts down at once after running the period: it gives its leases up, so a
        // takes them in the same period, but does not run that period again.
        b.stop().await;
        jobs::tick(&a.state).await.expect("a ticks");
        assert_eq!(
            runs(&a),
            each(4),
            "{engine:?}: the period b ran is not run again"
        );
        next_period(&clock);
        jobs::tick(&a.state).await.expect("a ticks");
        assert_eq!(runs(&a), each(5), "{engine:?}: a runs the next period");
    }
}

/// `sweep_once` (what tests and a single server's callers use) runs every job whose
/// lease this server holds, now; a server whose leases another holds runs none.
#[tokio::test]
async fn sweep_once_runs_only_the_jobs_whose_lease_this_server_holds() {
    for engine in engines() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let a = spawn_clocked(engine, Some(clock.clone()), tweak).await;
        let b = a.replica(Some(clock.clone()), tweak).await;
        jobs::sweep_once(&a.state).await.expect("a sweeps");
        jobs::sweep_once(&a.state).await.expect("a sweeps again");
        jobs::sweep_once(&b.state).await.expect("b sweeps");
        assert_eq!(runs(&a), each(2), "{engine:?}");
        assert_eq!(runs(&b), each(0), "{engine:?}");
    }
}
