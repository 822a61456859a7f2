//! Migration 2: devices and agents (enrollment, inventory, metrics, commands) and
//! scripts (issue 3). Columns added to `devices` one per statement (SQLite allows one
//! `ADD COLUMN` per `ALTER TABLE`).

use sea_query::{ColumnDef, ForeignKeyAction, Table};

use crate::migrations::{
    Step, boolean, c, fk, id, index, int, int_null, json, json_null, table, text, text_null, ts,
    ts_null, uuid, uuid_null,
};

fn real_null(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n)).double().null().to_owned()
}
fn real(n: &'static str) -> ColumnDef {
    ColumnDef::new(c(n))
        .double()
        .not_null()
        .default(0.0)
        .to_owned()
}

fn add_device_column(col: ColumnDef) -> Step {
    let mut col = col;
    Step::Alter(
        Table::alter()
            .table(c("devices"))
            .add_column(&mut col)
            .to_owned(),
    )
}

pub(crate) fn v2() -> Vec<Step> {
    use ForeignKeyAction::Cascade;
    let mut steps = Vec::new();

    for col in [
        text_null("fingerprint"),
        ColumnDef::new(c("trust_level"))
            .text()
            .not_null()
            .default("low")
            .to_owned(),
        // Two-phase token rotation: the token handed out but not yet confirmed.
        text_null("agent_token_pending_hash"),
        ts_null("agent_token_issued_at"),
        // Seed 001: single-use enrollment token of a pre-created pending device.
        text_null("enrollment_token_hash"),
        ts_null("enrollment_token_expires_at"),
        boolean("pending_reboot"),
        text_null("last_user"),
        int_null("uptime_secs"),
        text_null("os_kernel"),
        text_null("cpu_model"),
        int_null("cpu_cores"),
        int_null("ram_total_mb"),
        real_null("disk_total_gb"),
        text_null("serial_number"),
        text_null("primary_ip"),
        text_null("agent_health"),
        // Hash of the agent configuration last sent, to send `config_update` on change.
        text_null("config_hash"),
        json_null("inventory_hashes"),
        ts_null("decommissioned_at"),
    ] {
        steps.push(add_device_column(col));
    }
    steps.push(Step::Index(index("devices", &["agent_token_hash"], false)));
    steps.push(Step::Index(index(
        "devices",
        &["agent_token_pending_hash"],
        false,
    )));
    steps.push(Step::Index(index(
        "devices",
        &["enrollment_token_hash"],
        false,
    )));
    steps.push(Step::Index(index("devices", &["fingerprint"], false)));
    steps.push(Step::Index(index(
        "devices",
        &["status", "last_seen_at"],
        false,
    )));

    let mut keys = table(
        "enrollment_keys",
        vec![
            id(),
            uuid("org_id"),
            uuid("site_id"),
            text("name"),
            text("key_hash"),
            text("key_prefix"),
            int_null("max_uses"),
            int("uses"),
            ts("expires_at"),
            ts_null("revoked_at"),
            uuid_null("created_by"),
            ts("created_at"),
        ],
    );
    fk(
        &mut keys,
        "enrollment_keys",
        "org_id",
        "organizations",
        Cascade,
    );
    fk(&mut keys, "enrollment_keys", "site_id", "sites", Cascade);
    steps.push(Step::Table(keys));
    steps.push(Step::Index(index("enrollment_keys", &["key_hash"], true)));
    steps.push(Step::Index(index("enrollment_keys", &["org_id"], false)));

    let mut events = table(
        "device_events",
        vec![
            id(),
            uuid("device_id"),
            text("event_type"),
            json("details"),
            text_null("ip_address"),
            text("actor_type"),
            uuid_null("actor_id"),
            ts("created_at"),
        ],
    );
    fk(
        &mut events,
        "device_events",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(events));
    steps.push(Step::Index(index(
        "device_events",
        &["device_id", "created_at"],
        false,
    )));

    // Inventory: one JSON document per (device, section) for the sections shown whole
    // (hardware, os, processes, users), plus row tables for what is searched/filtered.
    let mut inv = table(
        "device_inventory",
        vec![
            uuid("device_id"),
            text("section"),
            json("data"),
            text("hash"),
            ts("updated_at"),
        ],
    );
    inv.primary_key(
        sea_query::Index::create()
            .col(c("device_id"))
            .col(c("section")),
    );
    fk(
        &mut inv,
        "device_inventory",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(inv));

    let mut sw = table(
        "device_software",
        vec![
            uuid("device_id"),
            text("name"),
            text("name_lower"),
            text("version"),
            text_null("publisher"),
            text("source"),
            ColumnDef::new(c("install_date")).date().null().to_owned(),
            text_null("architecture"),
        ],
    );
    fk(&mut sw, "device_software", "device_id", "devices", Cascade);
    steps.push(Step::Table(sw));
    steps.push(Step::Index(index(
        "device_software",
        &["device_id", "name_lower"],
        false,
    )));
    steps.push(Step::Index(index(
        "device_software",
        &["name_lower"],
        false,
    )));

    let mut disks = table(
        "device_disks",
        vec![
            uuid("device_id"),
            text("mount_point"),
            text("filesystem"),
            text("device"),
            int("total_bytes"),
            int("used_bytes"),
            boolean("removable"),
        ],
    );
    fk(&mut disks, "device_disks", "device_id", "devices", Cascade);
    steps.push(Step::Table(disks));
    steps.push(Step::Index(index("device_disks", &["device_id"], false)));

    let mut nics = table(
        "device_network_interfaces",
        vec![
            uuid("device_id"),
            text("name"),
            text("mac_address"),
            json("addresses"),
            boolean("is_primary"),
            text("interface_type"),
        ],
    );
    fk(
        &mut nics,
        "device_network_interfaces",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(nics));
    steps.push(Step::Index(index(
        "device_network_interfaces",
        &["device_id"],
        false,
    )));

    // Time series, written in batches. No foreign key (hot path; a retention job and
    // device deletion clean up).
    steps.push(Step::Table(table(
        "device_metrics",
        vec![
            uuid("device_id"),
            ts("ts"),
            real("cpu_percent"),
            real("ram_percent"),
            real("ram_used_mb"),
            real("disk_percent"),
            real("disk_used_gb"),
            real("network_in_bytes"),
            real("network_out_bytes"),
            real("process_count"),
            json_null("custom"),
        ],
    )));
    steps.push(Step::Index(index(
        "device_metrics",
        &["device_id", "ts"],
        false,
    )));
    steps.push(Step::Index(index("device_metrics", &["ts"], false)));

    let mut rollup = table(
        "device_metrics_rollup",
        vec![
            uuid("device_id"),
            text("resolution"),
            ts("bucket"),
            int("samples"),
            real("cpu_percent"),
            real("ram_percent"),
            real("ram_used_mb"),
            real("disk_percent"),
            real("disk_used_gb"),
            real("network_in_bytes"),
            real("network_out_bytes"),
            real("process_count"),
        ],
    );
    rollup.primary_key(
        sea_query::Index::create()
            .col(c("device_id"))
            .col(c("resolution"))
            .col(c("bucket")),
    );
    steps.push(Step::Table(rollup));
    steps.push(Step::Index(index(
        "device_metrics_rollup",
        &["resolution", "bucket"],
        false,
    )));

    let mut cmds = table(
        "device_commands",
        vec![
            id(),
            uuid("device_id"),
            uuid("org_id"),
            text("type"),
            json("payload"),
            text("status"),
            // The signed envelope exactly as sent (signed once, at queue time).
            json("envelope"),
            text("signature"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("expires_at"),
            ts_null("sent_at"),
            ts_null("started_at"),
            ts_null("completed_at"),
            int_null("exit_code"),
            text_null("stdout"),
            text_null("stderr"),
            boolean("stdout_truncated"),
            boolean("stderr_truncated"),
            int_null("duration_ms"),
            text_null("error_message"),
            text_null("rejection"),
            int_null("timeout_secs"),
        ],
    );
    fk(
        &mut cmds,
        "device_commands",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(cmds));
    steps.push(Step::Index(index(
        "device_commands",
        &["device_id", "status"],
        false,
    )));
    steps.push(Step::Index(index(
        "device_commands",
        &["device_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "device_commands",
        &["status", "expires_at"],
        false,
    )));

    let mut scripts = table(
        "scripts",
        vec![
            id(),
            uuid("partner_id"),
            uuid_null("org_id"),
            text("name"),
            text_null("description"),
            text_null("category"),
            text("language"),
            json("os_types"),
            text("content"),
            json("parameters"),
            int("timeout_seconds"),
            json("run_as"),
            int("version"),
            uuid_null("created_by"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("deleted_at"),
        ],
    );
    fk(&mut scripts, "scripts", "partner_id", "partners", Cascade);
    fk(&mut scripts, "scripts", "org_id", "organizations", Cascade);
    steps.push(Step::Table(scripts));
    steps.push(Step::Index(index(
        "scripts",
        &["partner_id", "org_id"],
        false,
    )));

    let mut versions = table(
        "script_versions",
        vec![
            uuid("script_id"),
            int("version"),
            text("language"),
            text("content"),
            json("parameters"),
            uuid_null("created_by"),
            ts("created_at"),
        ],
    );
    versions.primary_key(
        sea_query::Index::create()
            .col(c("script_id"))
            .col(c("version")),
    );
    fk(
        &mut versions,
        "script_versions",
        "script_id",
        "scripts",
        Cascade,
    );
    steps.push(Step::Table(versions));

    let mut exec = table(
        "script_executions",
        vec![
            id(),
            uuid("script_id"),
            int("script_version"),
            uuid("device_id"),
            uuid("org_id"),
            uuid_null("command_id"),
            uuid_null("triggered_by"),
            text("trigger_type"),
            json("parameters"),
            text("status"),
            int_null("exit_code"),
            text_null("stdout"),
            text_null("stderr"),
            boolean("stdout_truncated"),
            boolean("stderr_truncated"),
            int_null("duration_ms"),
            text_null("error_message"),
            ts("created_at"),
            ts_null("started_at"),
            ts_null("completed_at"),
        ],
    );
    fk(
        &mut exec,
        "script_executions",
        "script_id",
        "scripts",
        Cascade,
    );
    fk(
        &mut exec,
        "script_executions",
        "device_id",
        "devices",
        Cascade,
    );
    steps.push(Step::Table(exec));
    steps.push(Step::Index(index(
        "script_executions",
        &["script_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "script_executions",
        &["device_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "script_executions",
        &["command_id"],
        false,
    )));
    steps
}
