//! Migration 3: a partner's own settings (outgoing e-mail and session policy), one row per
//! partner. A table of its own rather than the `partners.settings` JSON, which the partners
//! API returns as it is: the SMTP password (sealed with the master key) must never leave.

use sea_query::{ColumnDef, ForeignKeyAction};

use crate::migrations::{Step, boolean, c, fk, int_null, table, text_null, ts, uuid_null};

pub(crate) fn v3() -> Vec<Step> {
    let mut t = table(
        "partner_settings",
        vec![
            ColumnDef::new(c("partner_id"))
                .uuid()
                .not_null()
                .primary_key()
                .to_owned(),
            boolean("smtp_enabled"),
            text_null("smtp_host"),
            int_null("smtp_port"),
            text_null("smtp_tls"),
            text_null("smtp_username"),
            // base64(nonce || XChaCha20-Poly1305 ciphertext), bound to the partner.
            text_null("smtp_password_sealed"),
            text_null("smtp_from"),
            int_null("access_token_minutes"),
            int_null("session_lifetime_hours"),
            int_null("idle_timeout_minutes"),
            boolean("require_mfa"),
            ts("updated_at"),
            uuid_null("updated_by"),
        ],
    );
    fk(
        &mut t,
        "partner_settings",
        "partner_id",
        "partners",
        ForeignKeyAction::Cascade,
    );
    vec![Step::Table(t)]
}
