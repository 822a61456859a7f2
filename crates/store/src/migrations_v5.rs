//! Migration 5 (issue 8, access hardening):
//! - the audit log is scoped by the site and device a row concerns: `site_id` and
//!   `device_id` (nullable: organization-level rows concern no site), and `chain_version`
//!   (NULL = 1: the row's checksum does not cover site/device; 2: it does). Existing rows
//!   are tagged where the resource tells (devices, sites, enrollment keys, device groups,
//!   device commands, rows written by an agent); they stay version 1, so the chain still
//!   verifies.
//! - the device permissions are split: `devices:write` is a device's name and tags,
//!   `devices:admin` its management (site move, quarantine, maintenance, reactivation,
//!   pending devices). Custom roles that held `devices:write` could do all of that, so
//!   they get `devices:admin` too (built-in roles are rewritten from code at every start).

use sea_query::Table;

use crate::migrations::{Step, c, index, int_null, uuid_null};

fn add_audit_column(col: sea_query::ColumnDef) -> Step {
    let mut col = col;
    Step::Alter(
        Table::alter()
            .table(c("audit_logs"))
            .add_column(&mut col)
            .to_owned(),
    )
}

/// `UPDATE audit_logs SET <col> = (SELECT <pick> FROM <from> x WHERE x.id = resource_id)`
/// for rows of `resource_type`, on each engine: uuids are 16-byte blobs on SQLite and
/// `uuid` on PostgreSQL, while `resource_id` is text.
fn backfill(col: &str, pick: &str, from: &str, resource_type: &str) -> Step {
    let sql = |matches: &str| {
        format!(
            "UPDATE audit_logs SET {col} = (SELECT {pick} FROM {from} x WHERE {matches}) \
             WHERE {col} IS NULL AND resource_type = '{resource_type}' AND resource_id IS NOT NULL"
        )
    };
    Step::PerEngine {
        sqlite: sql("lower(hex(x.id)) = lower(replace(audit_logs.resource_id, '-', ''))"),
        postgres: sql("x.id::text = lower(audit_logs.resource_id)"),
    }
}

pub(crate) fn v5() -> Vec<Step> {
    let mut steps = vec![
        add_audit_column(uuid_null("site_id")),
        add_audit_column(uuid_null("device_id")),
        add_audit_column(int_null("chain_version")),
        Step::Index(index("audit_logs", &["site_id", "seq"], false)),
        Step::Index(index("audit_logs", &["device_id", "seq"], false)),
    ];
    // Rows an agent wrote are about its own device.
    steps.push(Step::Same(
        "UPDATE audit_logs SET device_id = actor_id WHERE actor_type = 'agent' AND actor_id IS NOT NULL \
         AND actor_id IN (SELECT id FROM devices)",
    ));
    steps.push(backfill("device_id", "x.id", "devices", "device"));
    steps.push(backfill(
        "device_id",
        "x.device_id",
        "device_commands",
        "device_command",
    ));
    steps.push(Step::Same(
        "UPDATE audit_logs SET site_id = (SELECT d.site_id FROM devices d WHERE d.id = audit_logs.device_id) \
         WHERE site_id IS NULL AND device_id IS NOT NULL",
    ));
    steps.push(backfill("site_id", "x.id", "sites", "site"));
    steps.push(backfill(
        "site_id",
        "x.site_id",
        "enrollment_keys",
        "enrollment_key",
    ));
    steps.push(backfill(
        "site_id",
        "x.site_id",
        "device_groups",
        "device_group",
    ));
    steps.push(Step::Same(
        "INSERT INTO role_permissions (role_id, permission_id, constraints) \
         SELECT rp.role_id, pa.id, NULL FROM role_permissions rp \
         JOIN roles r ON r.id = rp.role_id \
         JOIN permissions pw ON pw.id = rp.permission_id \
         CROSS JOIN permissions pa \
         WHERE r.is_system = FALSE AND pw.resource = 'devices' AND pw.action = 'write' \
         AND pa.resource = 'devices' AND pa.action = 'admin' \
         AND NOT EXISTS (SELECT 1 FROM role_permissions x WHERE x.role_id = rp.role_id AND x.permission_id = pa.id)",
    ));
    steps
}
