//! Migration 7 (issue 13, automations): job leases first (one row per periodic job, so one
//! replica at a time runs it), then automations, their runs, per-device results and step
//! logs, and the webhook replay guard.

use sea_query::ForeignKeyAction::{Cascade, SetNull};

use crate::migrations::{
    Step, boolean, c, fk, index, int, int_null, json, json_null, table, text, text_null, ts,
    ts_null, uuid, uuid_null,
};

pub(crate) fn v7() -> Vec<Step> {
    let mut steps = Vec::new();

    // Job leases: `name` is the job ("sweep", "automation.schedule", …); `holder` the
    // replica holding it until `expires_at`.
    let mut t = table(
        "job_leases",
        vec![text("holder"), ts("expires_at"), ts("acquired_at")],
    );
    t.col(
        sea_query::ColumnDef::new(c("name"))
            .text()
            .not_null()
            .primary_key(),
    );
    steps.push(Step::Table(t));

    // Automations. `trigger`, `targets`, `conditions` and `actions` hold the checked JSON;
    // `trigger_type` is copied out of `trigger` for the event/schedule lookups.
    // `next_run_at` / `last_slot_at` belong to the schedule trigger (written by it).
    let mut t = table(
        "automations",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            text("name"),
            text_null("description"),
            boolean("enabled"),
            text("trigger_type"),
            json("trigger"),
            json("targets"),
            json_null("conditions"),
            json("actions"),
            // stop | continue | notify
            text("on_failure"),
            // [channel ids] told when a step fails and on_failure is notify
            json("notify_channel_ids"),
            // The webhook signing secret, sealed with the master key.
            text_null("webhook_secret_sealed"),
            ts_null("next_run_at"),
            ts_null("last_slot_at"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut t, "automations", "org_id", "organizations", Cascade);
    steps.push(Step::Table(t));
    steps.push(Step::Index(index("automations", &["org_id"], false)));
    steps.push(Step::Index(index(
        "automations",
        &["trigger_type", "enabled"],
        false,
    )));

    // Runs. `scheduled_for` is the schedule slot; unique per automation so one slot makes
    // one run even with two servers (NULLs, the other triggers, never collide).
    let mut t = table(
        "automation_runs",
        vec![
            crate::migrations::id(),
            uuid("automation_id"),
            uuid("org_id"),
            // pending | running | completed | failed | partial | interrupted | cancelled
            text("status"),
            // schedule | event | webhook | manual | automation
            text("trigger_type"),
            json("trigger_context"),
            uuid_null("triggered_by"),
            ts_null("scheduled_for"),
            int("depth"),
            // The automations above this run (run_automation chain), for cycle checks.
            json("chain"),
            // The automation's actions, on_failure and notify channels when the run started:
            // an edit never changes the steps of a run under way.
            json("spec"),
            int("devices_targeted"),
            int("devices_succeeded"),
            int("devices_failed"),
            int("devices_skipped"),
            text_null("error"),
            ts("started_at"),
            ts_null("finished_at"),
        ],
    );
    fk(
        &mut t,
        "automation_runs",
        "automation_id",
        "automations",
        Cascade,
    );
    fk(
        &mut t,
        "automation_runs",
        "org_id",
        "organizations",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "automation_runs",
        &["automation_id", "scheduled_for"],
        true,
    )));
    steps.push(Step::Index(index(
        "automation_runs",
        &["automation_id", "started_at"],
        false,
    )));
    steps.push(Step::Index(index("automation_runs", &["status"], false)));

    // One device's part of a run: the durable executor state. `cursor` is the path of the
    // step to run (or being run); `wait_until` a wait step's end; `command_id` the script
    // command a run_script step waits on; `claimed_at` when an executor took it.
    let mut t = table(
        "automation_run_devices",
        vec![
            crate::migrations::id(),
            uuid("run_id"),
            uuid("device_id"),
            text("hostname"),
            // pending | running | waiting | completed | failed | skipped | interrupted | cancelled
            text("status"),
            text_null("cursor"),
            ts_null("wait_until"),
            uuid_null("command_id"),
            uuid_null("execution_id"),
            int_null("last_exit_code"),
            text_null("last_output"),
            boolean("had_failure"),
            int("steps_run"),
            ts_null("claimed_at"),
            text_null("error"),
            ts_null("started_at"),
            ts_null("finished_at"),
            ts("updated_at"),
        ],
    );
    fk(
        &mut t,
        "automation_run_devices",
        "run_id",
        "automation_runs",
        Cascade,
    );
    fk(
        &mut t,
        "automation_run_devices",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "automation_run_devices",
        &["run_id", "device_id"],
        true,
    )));
    steps.push(Step::Index(index(
        "automation_run_devices",
        &["command_id"],
        false,
    )));
    steps.push(Step::Index(index(
        "automation_run_devices",
        &["status", "wait_until"],
        false,
    )));

    // The step log: one row per step a device ran (a path runs at most once per device).
    let mut t = table(
        "automation_step_logs",
        vec![
            crate::migrations::id(),
            uuid("run_device_id"),
            int("seq"),
            text("path"),
            text("type"),
            // running | waiting | completed | failed | skipped | interrupted
            text("status"),
            ts("started_at"),
            ts_null("finished_at"),
            int_null("exit_code"),
            text_null("output"),
            text_null("message"),
            uuid_null("execution_id"),
        ],
    );
    fk(
        &mut t,
        "automation_step_logs",
        "run_device_id",
        "automation_run_devices",
        Cascade,
    );
    fk(
        &mut t,
        "automation_step_logs",
        "execution_id",
        "script_executions",
        SetNull,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "automation_step_logs",
        &["run_device_id", "path"],
        true,
    )));

    // Webhook replay guard: signatures seen, kept past the timestamp window, then pruned.
    let mut t = table(
        "automation_webhook_signatures",
        vec![uuid("automation_id"), text("signature"), ts("seen_at")],
    );
    t.primary_key(
        sea_query::Index::create()
            .col(c("automation_id"))
            .col(c("signature")),
    );
    fk(
        &mut t,
        "automation_webhook_signatures",
        "automation_id",
        "automations",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "automation_webhook_signatures",
        &["seen_at"],
        false,
    )));

    // Deliveries of notify steps carry their own text (no alert).
    steps.push(Step::Alter(
        sea_query::Table::alter()
            .table(c("alert_deliveries"))
            .add_column(crate::migrations::text_null("message"))
            .to_owned(),
    ));

    steps
}
