//! Alert rule conditions and targets, parsed into checked types (issue 11).
//!
//! Conditions (seed 004 `AlertCondition` examples):
//! - metric threshold `{"metric": "cpu_percent", "operator": "gt", "value": 90, "duration_minutes": 5}`
//!   (metrics `cpu_percent`, `ram_percent` (alias `memory_percent`), `disk_percent`,
//!   `process_count`, `network_in_bytes`, `network_out_bytes`, `custom.<name>`; operators
//!   `gt`, `gte`, `lt`, `lte`, `eq`, `neq`);
//! - device status `{"type": "status", "status": "offline", "duration_minutes": 10}`;
//! - no data `{"type": "no_data", "duration_minutes": 30}`;
//! - software `{"type": "software_change", "action": "installed" | "removed", "name_pattern": "Antivirus*"}`
//!   (glob with `*` and `?`, case-insensitive);
//! - combinators `{"all": [...]}` / `{"any": [...]}`, nested at most [`MAX_DEPTH`] deep with
//!   at most [`MAX_CONDITIONS`] leaves.
//!
//! Errors name the bad part as a path (`conditions.all[1].operator`), for a 422.

use breeze_proto::agent::Metrics;
use breeze_proto::api::vocab::{ALERT_SEVERITIES, OS_TYPES};
use breeze_proto::ids::{DeviceGroupId, DeviceId, SiteId};
use serde_json::{Map, Value, json};

/// Combinators nest at most this deep.
pub const MAX_DEPTH: usize = 4;
/// A rule holds at most this many conditions (leaves).
pub const MAX_CONDITIONS: usize = 20;
/// Longest window, in minutes (one week).
pub const MAX_DURATION_MINUTES: u64 = 7 * 24 * 60;
/// Most ids per target list.
pub const MAX_TARGET_IDS: usize = 1000;

/// Why a rule part was refused: the path of the bad part and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct AlertError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> AlertError {
    AlertError {
        path: path.into(),
        message: message.into(),
    }
}

/// An alert's severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn parse(field: &str, s: &str) -> Result<Self, AlertError> {
        Ok(match s {
            "critical" => Self::Critical,
            "high" => Self::High,
            "medium" => Self::Medium,
            "low" => Self::Low,
            "info" => Self::Info,
            _ => {
                return Err(err(
                    field,
                    format!("must be one of: {}", ALERT_SEVERITIES.join(", ")),
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }
}

/// Which devices a rule watches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Every device of the organization (the lists below are then empty).
    pub all: bool,
    pub site_ids: Vec<SiteId>,
    pub group_ids: Vec<DeviceGroupId>,
    pub device_ids: Vec<DeviceId>,
    /// Only devices of these operating systems; alone: every device of them.
    pub os_types: Vec<String>,
}

/// What target matching needs to know about a device.
#[derive(Clone, Debug, Default)]
pub struct TargetFacts<'a> {
    pub device_id: DeviceId,
    pub site_id: SiteId,
    pub os_type: &'a str,
    /// The groups (static and dynamic) the device is a member of.
    pub group_ids: &'a [DeviceGroupId],
}

fn id_list<T: std::str::FromStr>(path: &str, v: &Value) -> Result<Vec<T>, AlertError> {
    let arr = v
        .as_array()
        .ok_or_else(|| err(path, "must be an array of ids"))?;
    if arr.len() > MAX_TARGET_IDS {
        return Err(err(path, format!("at most {MAX_TARGET_IDS} ids")));
    }
    let mut out = Vec::with_capacity(arr.len());
    for (i, x) in arr.iter().enumerate() {
        let parsed = x.as_str().and_then(|s| s.parse::<T>().ok());
        match parsed {
            Some(id) => out.push(id),
            None => return Err(err(format!("{path}[{i}]"), "must be an id (UUID)")),
        }
    }
    Ok(out)
}

impl Targets {
    /// Parses `{"all": true}` or `{"site_ids", "group_ids", "device_ids", "os_types"}`
    /// (at least one list non-empty). `field` is the path prefix (`targets`).
    pub fn parse(field: &str, v: &Value) -> Result<Self, AlertError> {
        let obj = v
            .as_object()
            .ok_or_else(|| err(field, "must be an object"))?;
        let mut t = Targets::default();
        for (k, x) in obj {
            let path = format!("{field}.{k}");
            match k.as_str() {
                "all" => {
                    t.all = x
                        .as_bool()
                        .ok_or_else(|| err(&path, "must be true or false"))?;
                }
                "site_ids" => t.site_ids = id_list(&path, x)?,
                "group_ids" => t.group_ids = id_list(&path, x)?,
                "device_ids" => t.device_ids = id_list(&path, x)?,
                "os_types" => {
                    let arr = x.as_array().ok_or_else(|| err(&path, "must be an array"))?;
                    for (i, o) in arr.iter().enumerate() {
                        match o.as_str().filter(|s| OS_TYPES.contains(s)) {
                            Some(s) => {
                                if !t.os_types.iter().any(|e| e == s) {
                                    t.os_types.push(s.to_string());
                                }
                            }
                            None => {
                                return Err(err(
                                    format!("{path}[{i}]"),
                                    format!("must be one of: {}", OS_TYPES.join(", ")),
                                ));
                            }
                        }
                    }
                }
                _ => {
                    return Err(err(
                        &path,
                        "unknown key (use all, site_ids, group_ids, device_ids, os_types)",
                    ));
                }
            }
        }
        let lists =
            t.site_ids.len() + t.group_ids.len() + t.device_ids.len() + t.os_types.len() > 0;
        if t.all && lists {
            return Err(err(
                format!("{field}.all"),
                "`all` cannot be combined with lists",
            ));
        }
        if !t.all && !lists {
            return Err(err(
                field,
                "must be {\"all\": true} or hold at least one non-empty list of site_ids, group_ids, device_ids or os_types",
            ));
        }
        Ok(t)
    }

    /// The canonical JSON stored and answered.
    pub fn to_json(&self) -> Value {
        if self.all {
            return json!({"all": true});
        }
        let mut m = Map::new();
        if !self.site_ids.is_empty() {
            m.insert("site_ids".into(), json!(self.site_ids));
        }
        if !self.group_ids.is_empty() {
            m.insert("group_ids".into(), json!(self.group_ids));
        }
        if !self.device_ids.is_empty() {
            m.insert("device_ids".into(), json!(self.device_ids));
        }
        if !self.os_types.is_empty() {
            m.insert("os_types".into(), json!(self.os_types));
        }
        Value::Object(m)
    }

    /// Whether matching needs the device's group memberships.
    pub fn needs_groups(&self) -> bool {
        !self.group_ids.is_empty()
    }

    /// A device matches when it is in any listed site, group or device (or no such list
    /// is given), and its OS is among `os_types` when that is given.
    pub fn matches(&self, f: &TargetFacts<'_>) -> bool {
        if self.all {
            return true;
        }
        let placed =
            self.site_ids.is_empty() && self.group_ids.is_empty() && self.device_ids.is_empty()
                || self.site_ids.contains(&f.site_id)
                || self.device_ids.contains(&f.device_id)
                || self.group_ids.iter().any(|g| f.group_ids.contains(g));
        placed && (self.os_types.is_empty() || self.os_types.iter().any(|o| o == f.os_type))
    }
}

/// A metric a threshold looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    CpuPercent,
    RamPercent,
    DiskPercent,
    ProcessCount,
    NetworkInBytes,
    NetworkOutBytes,
    /// `custom.<name>`: the heartbeat's `metrics.custom[name]`.
    Custom(String),
}

impl Metric {
    pub const BUILTIN: [Metric; 6] = [
        Metric::CpuPercent,
        Metric::RamPercent,
        Metric::DiskPercent,
        Metric::ProcessCount,
        Metric::NetworkInBytes,
        Metric::NetworkOutBytes,
    ];

    fn parse(path: &str, s: &str) -> Result<Self, AlertError> {
        Ok(match s {
            "cpu_percent" => Self::CpuPercent,
            "ram_percent" | "memory_percent" => Self::RamPercent,
            "disk_percent" => Self::DiskPercent,
            "process_count" => Self::ProcessCount,
            "network_in_bytes" => Self::NetworkInBytes,
            "network_out_bytes" => Self::NetworkOutBytes,
            _ => match s.strip_prefix("custom.") {
                Some(n) if crate::json_limits::metric_name_ok(n) => Self::Custom(n.to_string()),
                _ => {
                    return Err(err(
                        path,
                        "must be cpu_percent, ram_percent (memory_percent), disk_percent, process_count, \
                         network_in_bytes, network_out_bytes or custom.<name> (letters, digits, _ - .)",
                    ));
                }
            },
        })
    }

    pub fn name(&self) -> String {
        match self {
            Self::CpuPercent => "cpu_percent".into(),
            Self::RamPercent => "ram_percent".into(),
            Self::DiskPercent => "disk_percent".into(),
            Self::ProcessCount => "process_count".into(),
            Self::NetworkInBytes => "network_in_bytes".into(),
            Self::NetworkOutBytes => "network_out_bytes".into(),
            Self::Custom(n) => format!("custom.{n}"),
        }
    }

    /// The metric's value in a sample (`None`: a custom metric the sample lacks).
    pub fn value(&self, m: &Metrics) -> Option<f64> {
        Some(match self {
            Self::CpuPercent => m.cpu_percent,
            Self::RamPercent => m.ram_percent,
            Self::DiskPercent => m.disk_percent,
            Self::ProcessCount => m.process_count as f64,
            Self::NetworkInBytes => m.network_in_bytes as f64,
            Self::NetworkOutBytes => m.network_out_bytes as f64,
            Self::Custom(n) => return m.custom.get(n).copied().filter(|v| v.is_finite()),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Operator {
    fn parse(path: &str, s: &str) -> Result<Self, AlertError> {
        Ok(match s {
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            _ => return Err(err(path, "must be one of: gt, gte, lt, lte, eq, neq")),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Eq => "eq",
            Self::Neq => "neq",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Eq => "=",
            Self::Neq => "!=",
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        const EPS: f64 = 1e-9;
        match self {
            Self::Gt => value > threshold,
            Self::Gte => value >= threshold,
            Self::Lt => value < threshold,
            Self::Lte => value <= threshold,
            Self::Eq => (value - threshold).abs() < EPS,
            Self::Neq => (value - threshold).abs() >= EPS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftwareAction {
    Installed,
    Removed,
}

impl SoftwareAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Removed => "removed",
        }
    }
}

/// A threshold on one metric, held for a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub operator: Operator,
    pub value: f64,
    /// 0: the first breaching sample fires.
    pub duration_minutes: u64,
}

/// A parsed condition tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Metric(Threshold),
    /// The device has been offline for this long.
    Offline {
        duration_minutes: u64,
    },
    /// No heartbeat for this long (whatever the status).
    NoData {
        duration_minutes: u64,
    },
    Software {
        action: SoftwareAction,
        /// As given (the glob).
        pattern: String,
    },
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

fn take_duration(path: &str, obj: &Map<String, Value>, required: bool) -> Result<u64, AlertError> {
    let p = format!("{path}.duration_minutes");
    match obj.get("duration_minutes") {
        None | Some(Value::Null) if !required => Ok(0),
        None | Some(Value::Null) => Err(err(p, "is required")),
        Some(v) => match v.as_u64() {
            Some(n) if n <= MAX_DURATION_MINUTES && (n > 0 || !required) => Ok(n),
            _ => Err(err(
                p,
                format!(
                    "must be a whole number of minutes, {} to {MAX_DURATION_MINUTES}",
                    u8::from(required)
                ),
            )),
        },
    }
}

fn str_field<'a>(
    path: &str,
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a str, AlertError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(err(format!("{path}.{key}"), "is required")),
        Some(v) => v
            .as_str()
            .ok_or_else(|| err(format!("{path}.{key}"), "must be a string")),
    }
}

fn only_keys(path: &str, obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), AlertError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            format!("{path}.{k}"),
            format!("unknown key here (allowed: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

impl Condition {
    /// Parses a condition tree. `field` is the path prefix (`conditions`).
    pub fn parse(field: &str, v: &Value) -> Result<Self, AlertError> {
        let mut leaves = 0;
        let c = Self::parse_at(field, v, 1, &mut leaves)?;
        Ok(c)
    }

    fn parse_at(
        path: &str,
        v: &Value,
        depth: usize,
        leaves: &mut usize,
    ) -> Result<Self, AlertError> {
        let obj = v.as_object().ok_or_else(|| {
            err(
                path,
                "must be an object (a condition, or {\"all\"|\"any\": [...]})",
            )
        })?;
        for comb in ["all", "any"] {
            if let Some(list) = obj.get(comb) {
                only_keys(path, obj, &[comb])?;
                let p = format!("{path}.{comb}");
                if depth > MAX_DEPTH {
                    return Err(err(p, format!("combinators nest at most {MAX_DEPTH} deep")));
                }
                let arr = list
                    .as_array()
                    .ok_or_else(|| err(&p, "must be an array of conditions"))?;
                if arr.is_empty() {
                    return Err(err(&p, "must hold at least one condition"));
                }
                let mut out = Vec::with_capacity(arr.len());
                for (i, c) in arr.iter().enumerate() {
                    out.push(Self::parse_at(&format!("{p}[{i}]"), c, depth + 1, leaves)?);
                }
                return Ok(if comb == "all" {
                    Self::All(out)
                } else {
                    Self::Any(out)
                });
            }
        }
        *leaves += 1;
        if *leaves > MAX_CONDITIONS {
            return Err(err(
                path,
                format!("a rule holds at most {MAX_CONDITIONS} conditions"),
            ));
        }
        let kind = match obj.get("type") {
            None | Some(Value::Null) => "metric",
            Some(t) => t
                .as_str()
                .ok_or_else(|| err(format!("{path}.type"), "must be a string"))?,
        };
        match kind {
            "metric" => {
                only_keys(
                    path,
                    obj,
                    &["type", "metric", "operator", "value", "duration_minutes"],
                )?;
                let metric =
                    Metric::parse(&format!("{path}.metric"), str_field(path, obj, "metric")?)?;
                let operator = Operator::parse(
                    &format!("{path}.operator"),
                    str_field(path, obj, "operator")?,
                )?;
                let value = match obj.get("value") {
                    None | Some(Value::Null) => {
                        return Err(err(format!("{path}.value"), "is required"));
                    }
                    Some(v) => v
                        .as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| err(format!("{path}.value"), "must be a number"))?,
                };
                let duration_minutes = take_duration(path, obj, false)?;
                Ok(Self::Metric(Threshold {
                    metric,
                    operator,
                    value,
                    duration_minutes,
                }))
            }
            "status" => {
                only_keys(path, obj, &["type", "status", "duration_minutes"])?;
                let s = str_field(path, obj, "status")?;
                if s != "offline" {
                    return Err(err(format!("{path}.status"), "must be offline"));
                }
                Ok(Self::Offline {
                    duration_minutes: take_duration(path, obj, true)?,
                })
            }
            "no_data" => {
                only_keys(path, obj, &["type", "duration_minutes"])?;
                Ok(Self::NoData {
                    duration_minutes: take_duration(path, obj, true)?,
                })
            }
            "software_change" => {
                only_keys(path, obj, &["type", "action", "name_pattern"])?;
                let action = match str_field(path, obj, "action")? {
                    "installed" => SoftwareAction::Installed,
                    "removed" => SoftwareAction::Removed,
                    _ => {
                        return Err(err(
                            format!("{path}.action"),
                            "must be installed or removed",
                        ));
                    }
                };
                let pattern = str_field(path, obj, "name_pattern")?.trim();
                if pattern.is_empty()
                    || pattern.len() > 200
                    || pattern.chars().any(char::is_control)
                {
                    return Err(err(
                        format!("{path}.name_pattern"),
                        "must be 1 to 200 characters without control characters (* and ? are wildcards)",
                    ));
                }
                Ok(Self::Software {
                    action,
                    pattern: pattern.to_string(),
                })
            }
            _ => Err(err(
                format!("{path}.type"),
                "must be metric, status, no_data or software_change",
            )),
        }
    }

    /// The canonical JSON stored and answered.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Metric(t) => {
                let mut v = json!({"metric": t.metric.name(), "operator": t.operator.as_str(),
                    "value": t.value});
                if t.duration_minutes > 0 {
                    v["duration_minutes"] = json!(t.duration_minutes);
                }
                v
            }
            Self::Offline { duration_minutes } => {
                json!({"type": "status", "status": "offline", "duration_minutes": duration_minutes})
            }
            Self::NoData { duration_minutes } => {
                json!({"type": "no_data", "duration_minutes": duration_minutes})
            }
            Self::Software { action, pattern } => {
                json!({"type": "software_change", "action": action.as_str(), "name_pattern": pattern})
            }
            Self::All(c) => json!({"all": c.iter().map(Self::to_json).collect::<Vec<_>>()}),
            Self::Any(c) => json!({"any": c.iter().map(Self::to_json).collect::<Vec<_>>()}),
        }
    }

    /// Every leaf, depth first (leaf indexes are stable for a given tree).
    pub fn leaves(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Condition>) {
        match self {
            Self::All(c) | Self::Any(c) => c.iter().for_each(|x| x.collect(out)),
            leaf => out.push(leaf),
        }
    }

    /// Metrics the tree looks at.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut m: Vec<Metric> = self
            .leaves()
            .into_iter()
            .filter_map(|l| match l {
                Self::Metric(t) => Some(t.metric.clone()),
                _ => None,
            })
            .collect();
        m.sort();
        m.dedup();
        m
    }

    pub fn has_status(&self) -> bool {
        self.leaves()
            .iter()
            .any(|l| matches!(l, Self::Offline { .. } | Self::NoData { .. }))
    }

    pub fn has_software(&self) -> bool {
        self.leaves()
            .iter()
            .any(|l| matches!(l, Self::Software { .. }))
    }

    /// Evaluates the tree: `leaf(i, leaf)` answers whether leaf `i` (depth-first index)
    /// holds now.
    pub fn eval(&self, leaf: &mut impl FnMut(usize, &Condition) -> bool) -> bool {
        let mut i = 0;
        self.eval_at(&mut i, leaf)
    }

    fn eval_at(&self, i: &mut usize, leaf: &mut impl FnMut(usize, &Condition) -> bool) -> bool {
        match self {
            // Every child is visited (no short cut) so the leaf indexes stay in step.
            Self::All(c) => {
                let held: Vec<bool> = c.iter().map(|x| x.eval_at(i, leaf)).collect();
                held.iter().all(|h| *h)
            }
            Self::Any(c) => {
                let held: Vec<bool> = c.iter().map(|x| x.eval_at(i, leaf)).collect();
                held.iter().any(|h| *h)
            }
            l => {
                let idx = *i;
                *i += 1;
                leaf(idx, l)
            }
        }
    }
}

/// Case-insensitive glob: `*` any run of characters, `?` exactly one.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn path_of(v: Value) -> String {
        Condition::parse("conditions", &v).unwrap_err().path
    }

    #[test]
    fn seed_examples_parse_and_serialize_canonically() {
        let c = Condition::parse(
            "conditions",
            &json!({"metric": "memory_percent", "operator": "gt", "value": 90, "duration_minutes": 5}),
        )
        .unwrap();
        assert_eq!(
            c.to_json(),
            json!({"metric": "ram_percent", "operator": "gt", "value": 90.0, "duration_minutes": 5})
        );
        let tree = json!({"any": [
            {"type": "status", "status": "offline", "duration_minutes": 10},
            {"all": [{"metric": "custom.load_1", "operator": "gte", "value": 4},
                     {"type": "software_change", "action": "removed", "name_pattern": "Antivirus*"}]},
            {"type": "no_data", "duration_minutes": 30}
        ]});
        let c = Condition::parse("conditions", &tree).unwrap();
        assert_eq!(Condition::parse("conditions", &c.to_json()).unwrap(), c);
        assert_eq!(c.leaves().len(), 4);
        assert_eq!(c.metrics(), vec![Metric::Custom("load_1".into())]);
        assert!(c.has_status() && c.has_software());
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            path_of(
                json!({"all": [{"metric": "cpu_percent", "operator": "gt", "value": 1},
                {"metric": "cpu_percent", "operator": "above", "value": 1}]})
            ),
            "conditions.all[1].operator"
        );
        assert_eq!(
            path_of(json!({"metric": "fan_speed", "operator": "gt", "value": 1})),
            "conditions.metric"
        );
        assert_eq!(
            path_of(json!({"metric": "cpu_percent", "operator": "gt"})),
            "conditions.value"
        );
        assert_eq!(
            path_of(json!({"metric": "cpu_percent", "operator": "gt", "value": "x"})),
            "conditions.value"
        );
        assert_eq!(
            path_of(json!({"type": "status", "status": "offline"})),
            "conditions.duration_minutes"
        );
        assert_eq!(
            path_of(json!({"type": "status", "status": "online", "duration_minutes": 1})),
            "conditions.status"
        );
        assert_eq!(path_of(json!({"type": "reboot"})), "conditions.type");
        assert_eq!(path_of(json!({"any": []})), "conditions.any");
        assert_eq!(path_of(json!([1])), "conditions");
        assert_eq!(
            path_of(json!({"metric": "cpu_percent", "operator": "gt", "value": 1, "extra": 1})),
            "conditions.extra"
        );
        assert_eq!(
            path_of(json!({"type": "software_change", "action": "updated", "name_pattern": "x"})),
            "conditions.action"
        );
    }

    #[test]
    fn depth_and_count_are_limited() {
        let leaf = json!({"metric": "cpu_percent", "operator": "gt", "value": 1});
        let mut deep = leaf.clone();
        for _ in 0..MAX_DEPTH {
            deep = json!({"all": [deep]});
        }
        assert!(Condition::parse("conditions", &deep).is_ok());
        let too_deep = json!({"any": [deep]});
        assert!(Condition::parse("conditions", &too_deep).is_err());
        let many = json!({"any": vec![leaf; MAX_CONDITIONS + 1]});
        assert_eq!(path_of(many), format!("conditions.any[{MAX_CONDITIONS}]"));
    }

    #[test]
    fn targets_parse_and_match() {
        let (s1, s2) = (SiteId::new(), SiteId::new());
        let (d1, g1) = (DeviceId::new(), DeviceGroupId::new());
        assert!(
            Targets::parse("targets", &json!({"all": true}))
                .unwrap()
                .all
        );
        for (bad, path) in [
            (json!({}), "targets"),
            (json!({"all": false}), "targets"),
            (json!({"site_ids": ["nope"]}), "targets.site_ids[0]"),
            (json!({"os_types": ["beos"]}), "targets.os_types[0]"),
            (json!({"all": true, "os_types": ["linux"]}), "targets.all"),
            (json!({"hosts": []}), "targets.hosts"),
        ] {
            assert_eq!(
                Targets::parse("targets", &bad).unwrap_err().path,
                path,
                "{bad}"
            );
        }
        let t = Targets::parse(
            "targets",
            &json!({"site_ids": [s1], "os_types": ["windows"]}),
        )
        .unwrap();
        let f = |site, os| TargetFacts {
            device_id: d1,
            site_id: site,
            os_type: os,
            group_ids: &[],
        };
        assert!(t.matches(&f(s1, "windows")));
        assert!(!t.matches(&f(s1, "linux")));
        assert!(!t.matches(&f(s2, "windows")));
        let os_only = Targets::parse("targets", &json!({"os_types": ["linux"]})).unwrap();
        assert!(os_only.matches(&f(s2, "linux")) && !os_only.matches(&f(s2, "macos")));
        let g = Targets::parse(
            "targets",
            &json!({"group_ids": [g1], "device_ids": [DeviceId::new()]}),
        )
        .unwrap();
        assert!(g.needs_groups());
        assert!(!g.matches(&f(s1, "linux")));
        let groups = [g1];
        assert!(g.matches(&TargetFacts {
            group_ids: &groups,
            ..f(s1, "linux")
        }));
        assert_eq!(Targets::parse("targets", &t.to_json()).unwrap(), t);
    }

    #[test]
    fn operators_and_globs() {
        assert!(Operator::Gt.holds(91.0, 90.0) && !Operator::Gt.holds(90.0, 90.0));
        assert!(Operator::Gte.holds(90.0, 90.0) && Operator::Lte.holds(90.0, 90.0));
        assert!(Operator::Eq.holds(3.0, 3.0) && Operator::Neq.holds(3.0, 4.0));
        assert!(glob_matches("Antivirus*", "antivirus pro 2024"));
        assert!(glob_matches("*virus?", "AntiVirusX"));
        assert!(!glob_matches("Antivirus*", "My Antivirus"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a?c", "ac"));
    }

    #[test]
    fn eval_visits_leaves_in_order() {
        let c = Condition::parse(
            "c",
            &json!({"all": [{"metric": "cpu_percent", "operator": "gt", "value": 1},
                {"any": [{"type": "no_data", "duration_minutes": 5},
                         {"metric": "disk_percent", "operator": "gt", "value": 1}]}]}),
        )
        .unwrap();
        let mut seen = Vec::new();
        let r = c.eval(&mut |i, _| {
            seen.push(i);
            i != 1
        });
        assert!(r);
        assert_eq!(seen, vec![0, 1, 2]);
        assert!(!c.eval(&mut |i, _| i == 1));
        assert_eq!(
            Severity::parse("severity", "high").unwrap().as_str(),
            "high"
        );
        assert_eq!(
            Severity::parse("severity", "urgent").unwrap_err().path,
            "severity"
        );
    }
}
