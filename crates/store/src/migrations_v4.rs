//! Migration 4: the durable job queue (`jobs`). Outbound mail now, alert notifications
//! later: a job is a kind and a JSON payload (secrets in it sealed by the server), claimed
//! with a lease so a crashed worker's job is taken again, retried with backoff until
//! `max_attempts`, then left `failed`.

use sea_query::ColumnDef;

use crate::migrations::{Step, c, index, int, json, text, text_null, ts, ts_null};

pub(crate) fn v4() -> Vec<Step> {
    vec![
        Step::Table(crate::migrations::table(
            "jobs",
            vec![
                ColumnDef::new(c("id"))
                    .uuid()
                    .not_null()
                    .primary_key()
                    .to_owned(),
                text("kind"),
                json("payload"),
                // queued | running | failed
                text("status"),
                int("attempts"),
                int("max_attempts"),
                ts("next_run_at"),
                ts_null("locked_until"),
                // The server's own category of the last failure, never remote bytes.
                text_null("last_error"),
                ts("created_at"),
                ts("updated_at"),
            ],
        )),
        Step::Index(index("jobs", &["status", "next_run_at"], false)),
    ]
}
