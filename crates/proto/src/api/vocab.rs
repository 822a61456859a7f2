//! The closed sets of words the API accepts in query strings and bodies (statuses, OS types,
//! languages, sort fields, export formats). Each set is one list here: the server checks
//! input against it and the OpenAPI document states it as an `enum`, so the two cannot
//! drift apart.

/// Device statuses (`GET /api/v1/devices?status=`).
pub const DEVICE_STATUSES: &[&str] = &[
    "pending",
    "awaiting_checkin",
    "online",
    "offline",
    "maintenance",
    "quarantined",
    "decommissioned",
];
/// Operating systems a device or script targets.
pub const OS_TYPES: &[&str] = &["linux", "macos", "windows"];
/// Script languages.
pub const SCRIPT_LANGUAGES: &[&str] = &["bash", "sh", "python", "powershell", "cmd"];
/// Organization statuses.
pub const ORG_STATUSES: &[&str] = &["active", "suspended", "trial", "churned"];
/// Device group types.
pub const GROUP_TYPES: &[&str] = &["static", "dynamic"];
/// Script execution statuses (`GET /api/v1/script-executions?status=`).
pub const EXECUTION_STATUSES: &[&str] = &[
    "pending",
    "sent",
    "running",
    "completed",
    "failed",
    "timeout",
    "cancelled",
    "expired",
    "rejected",
    "lost",
];
/// Alert severities, most urgent first.
pub const ALERT_SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info"];
/// Alert statuses: `active` → `acknowledged` → `resolved`, or `suppressed` until a time.
pub const ALERT_STATUSES: &[&str] = &["active", "acknowledged", "resolved", "suppressed"];
/// The `status` filter of the alert list: a status, or `open` (not resolved).
pub const ALERT_STATUS_FILTERS: &[&str] =
    &["active", "acknowledged", "resolved", "suppressed", "open"];
/// Notification channel types.
pub const CHANNEL_TYPES: &[&str] = &["email", "webhook", "slack", "teams", "pagerduty", "sms"];
/// Delivery statuses of a notification.
pub const DELIVERY_STATUSES: &[&str] = &["pending", "sent", "failed"];
/// Formats of the audit export.
pub const EXPORT_FORMATS: &[&str] = &["csv", "json"];

/// Sort fields of each list (`sort=field`, or `sort=-field` for descending).
pub const DEVICE_SORTS: &[&str] = &[
    "hostname",
    "status",
    "os_type",
    "last_seen_at",
    "created_at",
    "org_name",
    "site_name",
];
pub const ORG_SORTS: &[&str] = &["name", "slug", "status", "created_at"];
pub const GROUP_SORTS: &[&str] = &["name", "type", "created_at"];
pub const SCRIPT_SORTS: &[&str] = &["name", "category", "language", "created_at", "updated_at"];
pub const SITE_SORTS: &[&str] = &["name", "timezone", "created_at"];
pub const PROCESS_SORTS: &[&str] = &["cpu", "memory", "name", "pid", "user"];
pub const SESSION_SORTS: &[&str] = &["username", "terminal", "login_time"];

/// The longest free-text search (`q`, `tag`, `actor` …) a list accepts, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The OpenAPI schemas of the sets above (`#[param(schema_with = …)]`).
#[cfg(feature = "openapi")]
pub mod schema {
    use super::*;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Schema};

    fn words(description: &str, values: impl IntoIterator<Item = String>) -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .enum_values(Some(values))
                .build(),
        ))
    }

    fn one_of(description: &str, values: &[&str]) -> RefOr<Schema> {
        words(description, values.iter().map(|v| v.to_string()))
    }

    fn sort(values: &[&str]) -> RefOr<Schema> {
        words(
            "Sort field; prefix `-` for descending.",
            values.iter().flat_map(|v| [v.to_string(), format!("-{v}")]),
        )
    }

    /// A free-text search of at most [`MAX_SEARCH_CHARS`] characters.
    pub fn search() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "Case-insensitive text search (at most 200 characters); `%` and `_` match themselves.",
                ))
                .max_length(Some(MAX_SEARCH_CHARS))
                .build(),
        ))
    }

    pub fn device_status() -> RefOr<Schema> {
        one_of("Device status.", DEVICE_STATUSES)
    }
    pub fn os_type() -> RefOr<Schema> {
        one_of("Operating system.", OS_TYPES)
    }
    pub fn script_language() -> RefOr<Schema> {
        one_of("Script language.", SCRIPT_LANGUAGES)
    }
    pub fn org_status() -> RefOr<Schema> {
        one_of("Organization status.", ORG_STATUSES)
    }
    pub fn group_type() -> RefOr<Schema> {
        one_of("Group type.", GROUP_TYPES)
    }
    pub fn execution_status() -> RefOr<Schema> {
        one_of("Execution status.", EXECUTION_STATUSES)
    }
    pub fn export_format() -> RefOr<Schema> {
        one_of(
            "Export only: `csv` (default) or `json` (JSON lines).",
            EXPORT_FORMATS,
        )
    }
    pub fn alert_severity() -> RefOr<Schema> {
        one_of("Alert severity.", ALERT_SEVERITIES)
    }
    pub fn alert_status() -> RefOr<Schema> {
        one_of("Alert status.", ALERT_STATUSES)
    }
    pub fn alert_status_filter() -> RefOr<Schema> {
        one_of(
            "Alert status, or `open` (not resolved).",
            ALERT_STATUS_FILTERS,
        )
    }
    pub fn channel_type() -> RefOr<Schema> {
        one_of("Notification channel type.", CHANNEL_TYPES)
    }
    pub fn device_sort() -> RefOr<Schema> {
        sort(DEVICE_SORTS)
    }
    pub fn org_sort() -> RefOr<Schema> {
        sort(ORG_SORTS)
    }
    pub fn group_sort() -> RefOr<Schema> {
        sort(GROUP_SORTS)
    }
    pub fn script_sort() -> RefOr<Schema> {
        sort(SCRIPT_SORTS)
    }
    pub fn site_sort() -> RefOr<Schema> {
        sort(SITE_SORTS)
    }
    pub fn process_sort() -> RefOr<Schema> {
        sort(PROCESS_SORTS)
    }
    pub fn session_sort() -> RefOr<Schema> {
        sort(SESSION_SORTS)
    }
}
