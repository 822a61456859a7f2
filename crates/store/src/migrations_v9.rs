//! Migration 9: remote sessions (issue 12, seed 004 RemoteSession).
//!
//! - `remote_sessions`: one row per terminal, file-manager or desktop session. The
//!   browser's ticket is kept only as its SHA-256 (`ticket_hash`), is valid until
//!   `ticket_expires_at` and is spent by setting `ticket_used_at` with a conditional
//!   UPDATE, so it opens one socket at most. `bytes_transferred` counts payload bytes
//!   both ways; `recording_path` is the asciicast file under the data directory, relative
//!   to it. `last_activity_at` feeds the idle timeout; `server_id` is the process holding
//!   the socket (scale-out: a replica that dies leaves sessions another can sweep).

use sea_query::ForeignKeyAction::Cascade;

use crate::migrations::{
    Step, boolean, fk, index, int, int_null, table, text, text_null, ts, ts_null, uuid,
};

pub(crate) fn v9() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = table(
        "remote_sessions",
        vec![
            crate::migrations::id(),
            uuid("org_id"),
            uuid("device_id"),
            uuid("user_id"),
            // terminal | file_transfer | desktop
            text("session_type"),
            // pending | connecting | active | disconnected | failed
            text("status"),
            boolean("view_only"),
            int("cols"),
            int("rows"),
            text("ticket_hash"),
            ts("ticket_expires_at"),
            ts_null("ticket_used_at"),
            ts("created_at"),
            ts_null("connected_at"),
            ts_null("started_at"),
            ts_null("ended_at"),
            int_null("duration_seconds"),
            int("bytes_transferred"),
            text_null("end_reason"),
            text_null("recording_path"),
            int("recording_bytes"),
            ts_null("last_activity_at"),
            text_null("server_id"),
        ],
    );
    fk(
        &mut t,
        "remote_sessions",
        "org_id",
        "organizations",
        Cascade,
    );
    fk(&mut t, "remote_sessions", "device_id", "devices", Cascade);
    fk(&mut t, "remote_sessions", "user_id", "users", Cascade);
    steps.push(Step::Table(t));
    steps.push(Step::Index(index(
        "remote_sessions",
        &["org_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "remote_sessions",
        &["device_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index("remote_sessions", &["status"], false)));
    steps
}
