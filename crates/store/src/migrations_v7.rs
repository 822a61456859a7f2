//! Migration 7 (issue 13, automations): job leases first (one row per periodic job, so one
//! replica at a time runs it), then automations, their runs, per-device results and step
//! logs, and the webhook replay guard.

use crate::migrations::{Step, c, table, text, ts};

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

    steps
}
