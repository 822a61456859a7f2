//! API bodies of a partner's settings (`/api/v1/settings`): outgoing e-mail and the
//! session policy of the partner's users.

use super::*;

api_type! {
    /// The caller's partner's settings.
    pub struct Settings {
        pub partner_id: PartnerId,
        pub smtp: SmtpSettings,
        pub session_policy: SessionPolicy,
        /// What applies where the partner sets nothing: the server's configuration.
        pub server_defaults: ServerDefaults,
        /// When the settings were last saved (`null`: never).
        pub updated_at: Option<DateTime<Utc>>,
        pub updated_by: Option<UserId>,
    }

    /// The partner's own SMTP server.
    pub struct SmtpSettings {
        /// When on, password resets and invitations for the partner's users are sent
        /// through this server instead of the server's configured one.
        pub enabled: bool,
        pub host: Option<String>,
        /// `null`: the usual port of the TLS mode (25, 587 or 465).
        pub port: Option<u16>,
        /// `none`, `starttls` or `tls`.
        pub tls: String,
        pub username: Option<String>,
        /// Whether a password is stored. The password itself is never returned.
        pub password_set: bool,
        /// `addr@example.com` or `Name <addr@example.com>`.
        pub from: Option<String>,
    }

    /// How long the partner's users stay signed in, and whether they must use MFA.
    /// `null` lifetimes are the server's defaults.
    pub struct SessionPolicy {
        /// Access token lifetime, 5..=60 minutes.
        pub access_token_minutes: Option<i64>,
        /// The longest a sign-in lasts however active, 1..=8760 hours.
        pub session_lifetime_hours: Option<i64>,
        /// A sign-in ends after this long without activity, 5..=43200 minutes; at least
        /// the access token lifetime and at most the session lifetime.
        pub idle_timeout_minutes: Option<i64>,
        /// Users without two-factor authentication must set it up before anything else.
        pub require_mfa: bool,
    }

    /// The server's configured defaults (`[auth]` and `[smtp]` of its configuration).
    pub struct ServerDefaults {
        pub access_token_secs: i64,
        /// Refresh tokens live this long unused; a sign-in has no other time limit.
        pub refresh_token_days: i64,
        /// Whether the server itself can send e-mail.
        pub smtp_configured: bool,
    }

    pub struct SmtpTestResult {
        /// The address the test message was sent to: the caller's.
        pub sent_to: String,
        pub host: String,
        pub port: u16,
    }
}

request_type! {
    /// Absent fields stay as they are; `null` clears an optional one. (`None` is left out
    /// when serialized, so a typed client sends only what it sets.)
    pub struct UpdateSettings {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub smtp: Option<UpdateSmtp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub session_policy: Option<UpdateSessionPolicy>,
    }

    pub struct UpdateSmtp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub host: Option<Option<String>>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub port: Option<Option<i64>>,
        /// `none`, `starttls` or `tls`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tls: Option<String>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub username: Option<Option<String>>,
        /// A new password; `null` removes the stored one; absent keeps it.
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub password: Option<Option<String>>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub from: Option<Option<String>>,
    }

    pub struct UpdateSessionPolicy {
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub access_token_minutes: Option<Option<i64>>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub session_lifetime_hours: Option<Option<i64>>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub idle_timeout_minutes: Option<Option<i64>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub require_mfa: Option<bool>,
    }
}
