//! Desired-state policies (issue 13): rules evaluated on the agent, enforcement with
//! remediation, compliance per device and rule with aggregated counts.
//!
//! Request bodies carry `rules` and `targets` as JSON; the server parses them into checked
//! types (`breeze_core::policy_rules`, `breeze_core::alerts::Targets`) and answers 422
//! naming the bad part (`rules[2].path`). Answers carry the typed [`PolicyRule`].

use super::*;

/// What a policy does about a non-compliant device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Record compliance only.
    Monitor,
    /// Record, and raise an event (live event + device event) when a device turns
    /// non-compliant.
    Warn,
    /// Record, and run the remediation script on a non-compliant device (up to
    /// `remediation_max_attempts` times until it is compliant again), then check again.
    Enforce,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monitor => "monitor",
            Self::Warn => "warn",
            Self::Enforce => "enforce",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Monitor, Self::Warn, Self::Enforce]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// The compliance of one rule on one device, or of a device as a whole (the worst of its
/// rules: `error` > `non_compliant` > `unknown` > `compliant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    Compliant,
    NonCompliant,
    /// Not checked yet, or the agent could not tell (e.g. no firewall tool it knows).
    Unknown,
    /// The check itself failed (unreadable file, command failed, check script timed out).
    Error,
}

impl ComplianceStatus {
    pub const ALL: [ComplianceStatus; 4] = [
        Self::Compliant,
        Self::NonCompliant,
        Self::Unknown,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::NonCompliant => "non_compliant",
            Self::Unknown => "unknown",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// How bad it is: a device is as bad as its worst rule.
    pub fn severity(self) -> u8 {
        match self {
            Self::Compliant => 0,
            Self::Unknown => 1,
            Self::NonCompliant => 2,
            Self::Error => 3,
        }
    }
}

/// One desired-state rule. Wire form: `{"type": "file_exists", "path": "/etc/motd"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PolicyRule {
    /// The service is running (systemd `systemctl is-active`).
    ServiceRunning {
        name: String,
    },
    /// The service is not running.
    ServiceStopped {
        name: String,
    },
    /// The package is installed (dpkg, rpm, apk, pacman …), at `min_version` or newer
    /// when given (dpkg/rpm-style version comparison).
    PackageInstalled {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_version: Option<String>,
    },
    PackageAbsent {
        name: String,
    },
    /// The file exists; when given, its whole content equals `content`, its SHA-256 is
    /// `sha256` (hex) and its permission bits are `mode` (octal, e.g. `"0644"`).
    FileExists {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
    },
    FileAbsent {
        path: String,
    },
    /// The config file at `path` has a line `key<separator>value` (separator default
    /// `=`; spaces around key and value are ignored; `#` and `;` lines are comments).
    ConfigValue {
        path: String,
        key: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        separator: Option<String>,
    },
    /// The kernel parameter (`net.ipv4.ip_forward`) has this value (read from /proc/sys).
    Sysctl {
        key: String,
        value: String,
    },
    /// A local account exists (/etc/passwd).
    UserPresent {
        name: String,
    },
    UserAbsent {
        name: String,
    },
    /// A host firewall is on (ufw, firewalld or an nftables ruleset); `unknown` when the
    /// agent cannot tell.
    FirewallEnabled,
    /// The root filesystem sits on an encrypted (LUKS) device; `unknown` when the agent
    /// cannot tell.
    DiskEncryption,
    /// A check script of the organization's library that exits 0 when compliant.
    Script {
        script_id: ScriptId,
    },
}

impl PolicyRule {
    /// The rule's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ServiceRunning { .. } => "service_running",
            Self::ServiceStopped { .. } => "service_stopped",
            Self::PackageInstalled { .. } => "package_installed",
            Self::PackageAbsent { .. } => "package_absent",
            Self::FileExists { .. } => "file_exists",
            Self::FileAbsent { .. } => "file_absent",
            Self::ConfigValue { .. } => "config_value",
            Self::Sysctl { .. } => "sysctl",
            Self::UserPresent { .. } => "user_present",
            Self::UserAbsent { .. } => "user_absent",
            Self::FirewallEnabled => "firewall_enabled",
            Self::DiskEncryption => "disk_encryption",
            Self::Script { .. } => "script",
        }
    }
}

api_type! {
    /// A desired-state policy.
    pub struct Policy {
        pub id: PolicyId,
        pub org_id: OrgId,
        pub name: String,
        pub description: Option<String>,
        pub enabled: bool,
        pub enforcement: Enforcement,
        /// `{"all": true}` or `{"site_ids": [...], "group_ids": [...], "device_ids": [...], "os_types": [...]}`
        /// (the alert-rule shape; groups may be dynamic).
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        pub check_interval_minutes: i64,
        pub rules: Vec<PolicyRule>,
        pub remediation_script_id: Option<ScriptId>,
        /// Remediation runs per device until it is compliant again (enforce mode).
        pub remediation_max_attempts: i64,
        /// Devices by overall status (maintained as results arrive, never counted live).
        pub counts: ComplianceCounts,
        pub created_by: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    /// Devices (or, per rule, device results) by compliance status.
    #[derive(Default, Copy)]
    pub struct ComplianceCounts {
        pub total: i64,
        pub compliant: i64,
        pub non_compliant: i64,
        pub unknown: i64,
        pub error: i64,
    }

    /// Results of one rule across the devices that reported it.
    pub struct RuleComplianceCounts {
        /// Position of the rule in `rules` (0-based).
        pub rule_index: i64,
        #[serde(flatten)]
        pub counts: ComplianceCounts,
    }

    /// `GET /api/v1/policies/{id}/compliance`: the aggregated counts and a page of devices
    /// with their per-rule results.
    pub struct PolicyCompliance {
        pub policy_id: PolicyId,
        pub counts: ComplianceCounts,
        pub rule_counts: Vec<RuleComplianceCounts>,
        pub data: Vec<DeviceCompliance>,
        /// Pass as `cursor` to get the next page; absent on the last page.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub next_cursor: Option<String>,
    }

    /// One targeted device's compliance with a policy.
    pub struct DeviceCompliance {
        pub device_id: DeviceId,
        pub hostname: String,
        pub site_id: SiteId,
        pub os_type: String,
        /// The worst of its rules; `unknown` until the first check result.
        pub status: ComplianceStatus,
        /// When the last check result arrived.
        pub checked_at: Option<DateTime<Utc>>,
        /// A check queued and not answered yet.
        pub check_pending: bool,
        /// Remediation runs since the device was last compliant.
        pub remediation_attempts: i64,
        pub rules: Vec<RuleResult>,
    }

    /// One rule's result on one device.
    pub struct RuleResult {
        pub rule_index: i64,
        /// The rule's `type`.
        pub rule_type: String,
        pub status: ComplianceStatus,
        /// What the agent saw at the last check, e.g. `installed 1.2.0 < 2.0`.
        pub detail: Option<String>,
        /// When the rule took this status (the device's `checked_at` is the last check).
        pub since: DateTime<Utc>,
    }

    /// A status change of a device (`rule_index` null) or of one of its rules.
    pub struct ComplianceChange {
        pub device_id: DeviceId,
        pub hostname: String,
        pub rule_index: Option<i64>,
        pub status: ComplianceStatus,
        pub previous_status: Option<ComplianceStatus>,
        pub detail: Option<String>,
        pub changed_at: DateTime<Utc>,
    }

    /// One policy's counts (`GET /api/v1/policies/compliance-summary`).
    pub struct PolicyComplianceSummary {
        pub policy_id: PolicyId,
        pub org_id: OrgId,
        pub name: String,
        pub enabled: bool,
        pub enforcement: Enforcement,
        pub counts: ComplianceCounts,
    }

    /// `POST /api/v1/policies/{id}/evaluate`: checks queued now.
    pub struct PolicyEvaluation {
        pub policy_id: PolicyId,
        /// Targeted devices a check was queued for.
        pub queued: i64,
        /// Targeted devices skipped: offline, quarantined, or a check already pending.
        pub skipped: i64,
    }
}

request_type! {
    pub struct CreatePolicy {
        pub org_id: OrgId,
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        /// Default `true`.
        #[serde(default)]
        pub enabled: Option<bool>,
        pub enforcement: Enforcement,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub targets: Value,
        /// 5..=10080 (default 60).
        #[serde(default)]
        pub check_interval_minutes: Option<u32>,
        /// 1..=50 rules.
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<PolicyRule>))]
        pub rules: Vec<Value>,
        /// Required when `enforcement` is `enforce`: a script of the policy's organization
        /// (or a partner-wide one).
        #[serde(default)]
        pub remediation_script_id: Option<ScriptId>,
        /// 1..=20 (default 3).
        #[serde(default)]
        pub remediation_max_attempts: Option<u32>,
    }

    pub struct UpdatePolicy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub description: Option<Option<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub enforcement: Option<Enforcement>,
        /// Devices that leave the targets lose their compliance rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub targets: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub check_interval_minutes: Option<u32>,
        /// New rules reset every device's results to `unknown` until its next check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<PolicyRule>>))]
        pub rules: Option<Vec<Value>>,
        /// `null` removes it.
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub remediation_script_id: Option<Option<ScriptId>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub remediation_max_attempts: Option<u32>,
    }
}

/// `GET /api/v1/policies` and `/api/v1/policies/compliance-summary` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct PolicyListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub org_id: Option<OrgId>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// `GET /api/v1/policies/{id}/compliance` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ComplianceQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only devices with this overall status.
    pub status: Option<ComplianceStatus>,
    pub device_id: Option<DeviceId>,
}

/// `GET /api/v1/policies/{id}/compliance/history` filters (newest first).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ComplianceHistoryQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub device_id: Option<DeviceId>,
}
