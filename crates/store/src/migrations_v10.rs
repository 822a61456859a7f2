//! Migration 10: file transfers (issue 12, seed 004 FileTransfer).
//!
//! - `file_transfers`: one row per upload or download. An upload interrupted and resumed
//!   (`PUT …?offset=N`) keeps its row: `transferred_bytes` grows, `size_bytes` is the
//!   announced total when the client gave one. `session_id` links the transfer to the
//!   file-manager session it was made in, when there is one.
//! - `devices.file_root`: the directory the device's file manager is confined to (set by
//!   a technician; the agent enforces it, on top of its own `files_root`).

use sea_query::ForeignKeyAction::{Cascade, SetNull};

use crate::migrations::{
    Step, fk, index, int, int_null, table, text, text_null, ts, ts_null, uuid, uuid_null,
};

pub(crate) fn v10() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = table(
        "file_transfers",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            uuid_null("session_id"),
            uuid("device_id"),
            uuid("user_id"),
            // upload | download
            text("direction"),
            text("remote_path"),
            text_null("local_filename"),
            int_null("size_bytes"),
            int("transferred_bytes"),
            // pending | transferring | completed | failed
            text("status"),
            int("progress_percent"),
            text_null("error_message"),
            text_null("sha256"),
            ts("created_at"),
            ts("updated_at"),
            ts_null("completed_at"),
        ],
    );
    fk(&mut t, "file_transfers", "org_id", "organizations", Cascade);
    fk(
        &mut t,
        "file_transfers",
        "session_id",
        "remote_sessions",
        SetNull,
    );
    fk(&mut t, "file_transfers", "device_id", "devices", Cascade);
    fk(&mut t, "file_transfers", "user_id", "users", Cascade);
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "file_transfers",
        &["device_id", "remote_path", "status"],
        false,
    )));
    steps.push(Step::Index(index(
        "file_transfers",
        &["org_id", "created_at"],
        false,
    )));
    steps.push(Step::Alter(
        sea_query::Table::alter()
            .table(crate::migrations::c("devices"))
            .add_column(text_null("file_root"))
            .to_owned(),
    ));
    steps
}
