//! Migration 8: policies (issue 13): policies, compliance per device and rule with history,
//! aggregated counts.
//!
//! - `policies`: the definition; `rules_version` grows when the rules change (results of
//!   older checks are dropped), `reconciled_at` is when the sweep last matched the targets
//!   against the organization's devices.
//! - `policy_device_status`: one row per targeted device (its overall status, its last
//!   check, the check in flight, remediation attempts). No foreign key to `devices`: the
//!   sweep removes rows of devices that left (or were deleted) and adjusts the counts, which
//!   a cascade would not.
//! - `policy_rule_results`: the current result per device × rule.
//! - `policy_compliance_history`: appended when a device's or a rule's status changes.
//! - `policy_compliance_counts`: devices per overall status (`rule_index` -1) and results
//!   per rule status (`rule_index` ≥ 0), maintained in the transaction that changes a
//!   status, so reading them never counts rows.
//! - `policy_commands`: the checks and remediation runs this feature queued, by command id.

use sea_query::ForeignKeyAction::{Cascade, SetNull};
use sea_query::Index;

use crate::migrations::{
    Step, boolean, c, fk, index, int, int_null, json, table, text, text_null, ts, ts_null, uuid,
    uuid_null,
};

pub(crate) fn v8() -> Vec<Step> {
    let mut steps = Vec::new();

    let mut t = table(
        "policies",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            text("name"),
            text_null("description"),
            boolean("enabled"),
            // monitor | warn | enforce
            text("enforcement"),
            json("targets"),
            int("check_interval_minutes"),
            json("rules"),
            int("rules_version"),
            uuid_null("remediation_script_id"),
            int("remediation_max_attempts"),
            ts_null("reconciled_at"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
        ],
    );
    fk(&mut t, "policies", "org_id", "organizations", Cascade);
    fk(
        &mut t,
        "policies",
        "remediation_script_id",
        "scripts",
        SetNull,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index("policies", &["org_id"], false)));

    let mut t = table(
        "policy_compliance_counts",
        vec![
            uuid("policy_id"),
            // -1: devices by overall status; n: results of rule n.
            int("rule_index"),
            int("compliant"),
            int("non_compliant"),
            int("unknown"),
            int("error"),
        ],
    );
    t.primary_key(Index::create().col(c("policy_id")).col(c("rule_index")));
    fk(
        &mut t,
        "policy_compliance_counts",
        "policy_id",
        "policies",
        Cascade,
    );
    steps.push(Step::Table(t));

    let mut t = table(
        "policy_device_status",
        vec![
            uuid("policy_id"),
            uuid("device_id"),
            uuid("org_id"),
            // compliant | non_compliant | unknown | error
            text("status"),
            ts_null("checked_at"),
            // The check in flight (one per policy × device) and when it was queued.
            uuid_null("pending_command_id"),
            ts_null("queued_at"),
            int("remediation_attempts"),
            ts("updated_at"),
        ],
    );
    t.primary_key(Index::create().col(c("policy_id")).col(c("device_id")));
    fk(
        &mut t,
        "policy_device_status",
        "policy_id",
        "policies",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "policy_device_status",
        &["policy_id", "queued_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "policy_device_status",
        &["policy_id", "status", "device_id"],
        false,
    )));
    steps.push(Step::Index(index(
        "policy_device_status",
        &["device_id"],
        false,
    )));

    let mut t = table(
        "policy_rule_results",
        vec![
            uuid("policy_id"),
            uuid("device_id"),
            int("rule_index"),
            text("status"),
            text_null("detail"),
            // When the rule took this status.
            ts("since"),
        ],
    );
    t.primary_key(
        Index::create()
            .col(c("policy_id"))
            .col(c("device_id"))
            .col(c("rule_index")),
    );
    fk(
        &mut t,
        "policy_rule_results",
        "policy_id",
        "policies",
        Cascade,
    );
    steps.push(Step::Table(t));

    let mut t = table(
        "policy_compliance_history",
        vec![
            crate::migrations::id(),
            uuid("policy_id"),
            uuid("device_id"),
            uuid("org_id"),
            // NULL: the device's overall status.
            int_null("rule_index"),
            text("status"),
            text_null("previous_status"),
            text_null("detail"),
            ts("changed_at"),
        ],
    );
    fk(
        &mut t,
        "policy_compliance_history",
        "policy_id",
        "policies",
        Cascade,
    );
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "policy_compliance_history",
        &["policy_id", "device_id", "changed_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "policy_compliance_history",
        &["policy_id", "changed_at"],
        false,
    )));

    let mut t = table(
        "policy_commands",
        vec![
            uuid("policy_id"),
            uuid("device_id"),
            // check | remediation
            text("kind"),
            int("rules_version"),
            uuid_null("execution_id"),
            ts("created_at"),
        ],
    );
    t.col(
        sea_query::ColumnDef::new(c("command_id"))
            .uuid()
            .not_null()
            .primary_key(),
    );
    fk(&mut t, "policy_commands", "policy_id", "policies", Cascade);
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "policy_commands",
        &["policy_id", "device_id"],
        false,
    )));
    steps
}
