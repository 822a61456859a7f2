//! Schedule triggers: cron slots with a timezone, fired once each under a job lease.
//!
//! Each schedule automation keeps `next_run_at`, its next slot (set on create and update
//! by [`next_run_at`], then moved on by the sweep). Every sweep interval, [`sweep`] takes
//! the job lease `automation.schedule` (one server at a time; another takes over once the
//! holder stops renewing it), and for each enabled schedule whose `next_run_at` has come:
//!
//! 1. finds the latest slot in `next_run_at..=now`;
//! 2. starts a run for it with `scheduled_for = slot` — unless the slot is *missed* (older
//!    than [`grace`]: no server ran when it came) and the automation's `missed` policy is
//!    `skip`; with `run_once` the latest missed slot runs once. Earlier slots of a longer
//!    outage never run;
//! 3. moves `next_run_at` to the first slot after now (a compare-and-set on the old value).
//!
//! A slot runs at most once even if two servers both think they hold the lease, or a
//! server dies between 2 and 3: `automation_runs` has a UNIQUE index on
//! `(automation_id, scheduled_for)`, so the second start of a slot makes no run. Starting
//! before moving on means a crash can delay a slot, never lose it.

use super::executor::{self, StartRun};
use crate::state::AppState;
use breeze_core::cron::{Missed, ScheduleTrigger};
use breeze_store::{automation_schedule as store, leases};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// The job lease the schedule sweep runs under.
pub const LEASE: &str = "automation.schedule";

/// Due schedules handled per sweep (the rest wait for the next one).
const BATCH: i64 = 500;

/// This server's name as a lease holder: its replica id (host, pid and a random part, as
/// pids repeat across machines, restarts and apps built side by side in one test process).
pub fn holder(state: &AppState) -> &str {
    state.cluster.replica()
}

fn sweep_interval(state: &AppState) -> Duration {
    Duration::seconds(i64::try_from(state.config.agents.sweep_interval_secs).unwrap_or(15))
}

/// How long a lease lasts without renewal (`crate::jobs::lease_ttl`).
pub fn lease_ttl(state: &AppState) -> Duration {
    crate::jobs::lease_ttl(state)
}

/// How late a slot may fire and still count as on time rather than missed: a lease's
/// life plus two sweep intervals (another server taking over a dead holder's lease is
/// on time), and at least a minute.
pub fn grace(state: &AppState) -> Duration {
    (lease_ttl(state) + sweep_interval(state) * 2).max(Duration::minutes(1))
}

/// The first slot of a schedule trigger after `now` (None: not a schedule trigger, or
/// one that never fires again). Routes set it on create and update.
pub fn next_run_at(trigger: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if trigger.get("type").and_then(Value::as_str) != Some("schedule") {
        return None;
    }
    ScheduleTrigger::parse("trigger", trigger)
        .ok()?
        .cron
        .next_after(now)
}

/// Fires due schedule slots, once each.
pub async fn sweep(state: &AppState) -> anyhow::Result<()> {
    let now = state.now();
    if !leases::try_acquire(&state.db, LEASE, holder(state), lease_ttl(state), now).await? {
        return Ok(());
    }
    for a in store::due_for_system(&state.db, now, BATCH).await? {
        // One schedule failing (a store error) leaves the others firing; it is tried again
        // next sweep since its next_run_at did not move.
        if let Err(e) = fire(state, &a, now).await {
            tracing::error!(automation = %a.id, error = format!("{e:#}"), "schedule slot failed");
        }
    }
    Ok(())
}

/// What the sweep does with one due schedule.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Start a run for this slot.
    Fire(DateTime<Utc>),
    /// Slots passed, all missed, and the policy is to skip them.
    SkipMissed(DateTime<Utc>),
    /// No slot in the range (the schedule changed since `next_run_at` was set).
    Nothing,
}

fn decide(
    t: &ScheduleTrigger,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Decision {
    match t.cron.latest_in(due, now) {
        Some(slot) if now - slot <= grace || t.missed == Missed::RunOnce => Decision::Fire(slot),
        Some(slot) => Decision::SkipMissed(slot),
        None => Decision::Nothing,
    }
}

async fn fire(
    state: &AppState,
    a: &store::TriggerAutomation,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(due) = a.next_run_at else {
        return Ok(());
    };
    let trigger = match ScheduleTrigger::parse("trigger", &a.trigger) {
        Ok(t) => t,
        Err(e) => {
            // Saved before validation, or by hand: stop trying until it is edited.
            tracing::warn!(automation = %a.id, field = e.field, error = e.message, "schedule trigger does not parse; not scheduled");
            store::advance_for_system(&state.db, a.id, due, None, None).await?;
            return Ok(());
        }
    };
    let fired = match decide(&trigger, due, now, grace(state)) {
        Decision::Fire(slot) => {
            let run = executor::start_run(
                state,
                StartRun {
                    automation_id: a.id,
                    trigger_type: "schedule".into(),
                    trigger_context: json!({
                        "slot": slot,
                        "cron": trigger.cron.source(),
                        "timezone": trigger.cron.timezone().name(),
                        "late_seconds": (now - slot).num_seconds(),
                        "missed": trigger.missed.as_str(),
                    }),
                    scheduled_for: Some(slot),
                    devices: None,
                    triggered_by: None,
                    depth: 0,
                },
            )
            .await?;
            match run {
                Some(run) => tracing::info!(automation = %a.id, %run, %slot, "schedule slot fired"),
                None => tracing::info!(automation = %a.id, %slot, "schedule slot already ran"),
            }
            Some(slot)
        }
        Decision::SkipMissed(slot) => {
            tracing::info!(automation = %a.id, latest_missed = %slot, "missed schedule slots skipped");
            None
        }
        Decision::Nothing => None,
    };
    let next = trigger.cron.next_after(now);
    store::advance_for_system(&state.db, a.id, due, next, fired).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn trigger(missed: &str) -> ScheduleTrigger {
        ScheduleTrigger::parse(
            "trigger",
            &json!({"cron": "*/5 * * * *", "timezone": "UTC", "missed": missed}),
        )
        .expect("trigger")
    }

    #[test]
    fn on_time_fires_missed_follows_the_policy() {
        let g = Duration::minutes(1);
        let due = at("2026-01-01T10:05:00Z");
        for missed in ["skip", "run_once"] {
            let t = trigger(missed);
            // On time (a sweep interval late).
            assert_eq!(
                decide(&t, due, at("2026-01-01T10:05:15Z"), g),
                Decision::Fire(due)
            );
            // Several slots passed, the latest on time: it fires (earlier ones never).
            assert_eq!(
                decide(&t, due, at("2026-01-01T11:00:30Z"), g),
                Decision::Fire(at("2026-01-01T11:00:00Z"))
            );
            // Not due yet within the range.
            assert_eq!(
                decide(
                    &t,
                    at("2026-01-01T10:06:00Z"),
                    at("2026-01-01T10:09:00Z"),
                    g
                ),
                Decision::Nothing
            );
        }
        let late = at("2026-01-01T11:03:00Z");
        assert_eq!(
            decide(&trigger("skip"), due, late, g),
            Decision::SkipMissed(at("2026-01-01T11:00:00Z"))
        );
        assert_eq!(
            decide(&trigger("run_once"), due, late, g),
            Decision::Fire(at("2026-01-01T11:00:00Z"))
        );
    }

    #[test]
    fn next_run_at_only_for_valid_schedules() {
        let now = at("2026-01-01T10:02:00Z");
        assert_eq!(
            next_run_at(&json!({"type": "schedule", "cron": "*/5 * * * *"}), now),
            Some(at("2026-01-01T10:05:00Z"))
        );
        assert_eq!(
            next_run_at(&json!({"type": "schedule", "cron": "bad"}), now),
            None
        );
        assert_eq!(next_run_at(&json!({"type": "manual"}), now), None);
    }
}
