//! Dynamic device-group rules (seed 004 `DeviceGroup.rules`):
//! `{"all" | "any": [{"field": F, "op": OP, "value": V}, ...]}`.
//!
//! Fields: `os_type`, `os_version`, `hostname`, `ram_total_mb`, `cpu_cores`,
//! `disk_total_gb`, `tags`, `site_id`, `status`, `agent_version`. Operators: `eq`, `ne`,
//! `gt`, `gte`, `lt`, `lte`, `contains`, `in`, `starts_with`. Text compares ignore case;
//! versions (`os_version`, `agent_version`) compare part by part numerically
//! (`10.2` < `10.10`); `tags` matches when any tag satisfies the condition. A fact
//! that is unknown (no inventory yet) never matches, whatever the operator.

use serde_json::Value;
use std::cmp::Ordering;

/// The facts about one device that rules look at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceFacts {
    pub os_type: String,
    pub os_version: Option<String>,
    pub hostname: String,
    pub ram_total_mb: Option<f64>,
    pub cpu_cores: Option<f64>,
    pub disk_total_gb: Option<f64>,
    pub tags: Vec<String>,
    pub site_id: String,
    pub status: String,
    pub agent_version: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    OsType,
    OsVersion,
    Hostname,
    RamTotalMb,
    CpuCores,
    DiskTotalGb,
    Tags,
    SiteId,
    Status,
    AgentVersion,
}

impl Field {
    pub const NAMES: [&'static str; 10] = [
        "os_type",
        "os_version",
        "hostname",
        "ram_total_mb",
        "cpu_cores",
        "disk_total_gb",
        "tags",
        "site_id",
        "status",
        "agent_version",
    ];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "os_type" => Self::OsType,
            "os_version" => Self::OsVersion,
            "hostname" => Self::Hostname,
            "ram_total_mb" => Self::RamTotalMb,
            "cpu_cores" => Self::CpuCores,
            "disk_total_gb" => Self::DiskTotalGb,
            "tags" => Self::Tags,
            "site_id" => Self::SiteId,
            "status" => Self::Status,
            "agent_version" => Self::AgentVersion,
            _ => return None,
        })
    }

    fn numeric(self) -> bool {
        matches!(self, Self::RamTotalMb | Self::CpuCores | Self::DiskTotalGb)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    In,
    StartsWith,
}

impl Op {
    pub const NAMES: [&'static str; 9] = [
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "contains",
        "in",
        "starts_with",
    ];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "contains" => Self::Contains,
            "in" => Self::In,
            "starts_with" => Self::StartsWith,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub value: Value,
}

/// A parsed rule set.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// `true` for `all` (every condition), `false` for `any`.
    pub all: bool,
    pub conditions: Vec<Condition>,
}

/// Why a rule set was refused (for a 422 naming `rules`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl Rules {
    pub fn parse(v: &Value) -> Result<Rules, RuleError> {
        let err = |m: String| RuleError(m);
        let obj = v
            .as_object()
            .ok_or_else(|| err("must be an object like {\"all\": [...]}".into()))?;
        if obj.len() != 1 {
            return Err(err("needs exactly one key, `all` or `any`".into()));
        }
        let (all, list) = match (obj.get("all"), obj.get("any")) {
            (Some(l), None) => (true, l),
            (None, Some(l)) => (false, l),
            _ => return Err(err("needs an `all` or `any` list of conditions".into())),
        };
        let list = list
            .as_array()
            .ok_or_else(|| err("`all`/`any` must be a list".into()))?;
        if list.is_empty() || list.len() > 50 {
            return Err(err("must hold 1 to 50 conditions".into()));
        }
        let mut conditions = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let field = c
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("condition {i} needs a `field`")))?;
            let field = Field::parse(field).ok_or_else(|| {
                err(format!(
                    "condition {i}: unknown field `{field}` (one of {})",
                    Field::NAMES.join(", ")
                ))
            })?;
            let op = c
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("condition {i} needs an `op`")))?;
            let op = Op::parse(op).ok_or_else(|| {
                err(format!(
                    "condition {i}: unknown op `{op}` (one of {})",
                    Op::NAMES.join(", ")
                ))
            })?;
            let value = c
                .get("value")
                .cloned()
                .ok_or_else(|| err(format!("condition {i} needs a `value`")))?;
            match (op, &value) {
                (Op::In, Value::Array(items)) if !items.is_empty() => {}
                (Op::In, _) => {
                    return Err(err(format!(
                        "condition {i}: `in` needs a non-empty list value"
                    )));
                }
                (_, Value::Array(_) | Value::Object(_) | Value::Null) => {
                    return Err(err(format!(
                        "condition {i}: value must be a string, number or boolean"
                    )));
                }
                _ => {}
            }
            if field.numeric()
                && matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte)
                && as_f64(&value).is_none()
            {
                return Err(err(format!("condition {i}: value must be a number")));
            }
            conditions.push(Condition { field, op, value });
        }
        Ok(Rules { all, conditions })
    }

    pub fn matches(&self, d: &DeviceFacts) -> bool {
        let mut it = self.conditions.iter().map(|c| c.matches(d));
        if self.all {
            it.all(|b| b)
        } else {
            it.any(|b| b)
        }
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    }
}

/// Compares dotted versions part by part (numeric parts as numbers).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut pa = a.split(['.', '-', '_', ' ']);
    let mut pb = b.split(['.', '-', '_', ' ']);
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(n), Ok(m)) => n.cmp(&m),
                    _ => x.to_lowercase().cmp(&y.to_lowercase()),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

enum Fact<'a> {
    Text(String),
    Version(&'a str),
    Number(f64),
    List(&'a [String]),
}

impl Condition {
    fn fact<'a>(&self, d: &'a DeviceFacts) -> Option<Fact<'a>> {
        Some(match self.field {
            Field::OsType => Fact::Text(d.os_type.to_lowercase()),
            Field::OsVersion => Fact::Version(d.os_version.as_deref()?),
            Field::Hostname => Fact::Text(d.hostname.to_lowercase()),
            Field::RamTotalMb => Fact::Number(d.ram_total_mb?),
            Field::CpuCores => Fact::Number(d.cpu_cores?),
            Field::DiskTotalGb => Fact::Number(d.disk_total_gb?),
            Field::Tags => Fact::List(&d.tags),
            Field::SiteId => Fact::Text(d.site_id.to_lowercase()),
            Field::Status => Fact::Text(d.status.to_lowercase()),
            Field::AgentVersion => Fact::Version(d.agent_version.as_deref()?),
        })
    }

    pub fn matches(&self, d: &DeviceFacts) -> bool {
        let Some(fact) = self.fact(d) else {
            return false;
        };
        match fact {
            Fact::List(tags) => match self.op {
                // A device without a tag equal to V: `ne` means "none of the tags is V".
                Op::Ne => !tags
                    .iter()
                    .any(|t| text_matches(&t.to_lowercase(), Op::Eq, &self.value)),
                op => tags
                    .iter()
                    .any(|t| text_matches(&t.to_lowercase(), op, &self.value)),
            },
            Fact::Text(s) => text_matches(&s, self.op, &self.value),
            Fact::Version(v) => match self.op {
                Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Eq | Op::Ne => {
                    let o = compare_versions(v, &as_text(&self.value));
                    ordering_matches(o, self.op)
                }
                op => text_matches(&v.to_lowercase(), op, &self.value),
            },
            Fact::Number(n) => match self.op {
                Op::In => self
                    .value
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| as_f64(x) == Some(n))),
                Op::Contains | Op::StartsWith => text_matches(&n.to_string(), self.op, &self.value),
                op => as_f64(&self.value)
                    .and_then(|v| n.partial_cmp(&v))
                    .is_some_and(|o| ordering_matches(o, op)),
            },
        }
    }
}

fn ordering_matches(o: Ordering, op: Op) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Gt => o == Ordering::Greater,
        Op::Gte => o != Ordering::Less,
        Op::Lt => o == Ordering::Less,
        Op::Lte => o != Ordering::Greater,
        Op::Contains | Op::In | Op::StartsWith => false,
    }
}

fn text_matches(s: &str, op: Op, value: &Value) -> bool {
    match op {
        Op::In => value
            .as_array()
            .is_some_and(|l| l.iter().any(|x| as_text(x) == s)),
        Op::Contains => s.contains(&as_text(value)),
        Op::StartsWith => s.starts_with(&as_text(value)),
        op => ordering_matches(s.cmp(&as_text(value)), op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn linux_box() -> DeviceFacts {
        DeviceFacts {
            os_type: "linux".into(),
            os_version: Some("12.4".into()),
            hostname: "web-01.example".into(),
            ram_total_mb: Some(16000.0),
            cpu_cores: Some(8.0),
            disk_total_gb: Some(512.0),
            tags: vec!["prod".into(), "web".into()],
            site_id: "s1".into(),
            status: "online".into(),
            agent_version: Some("0.1.0".into()),
        }
    }

    fn rules(v: Value) -> Rules {
        match Rules::parse(&v) {
            Ok(r) => r,
            Err(e) => panic!("rules should parse: {e}"),
        }
    }

    #[test]
    fn os_and_ram_rule_selects_big_linux_machines() {
        let r = rules(json!({"all": [
            {"field": "os_type", "op": "eq", "value": "linux"},
            {"field": "ram_total_mb", "op": "gt", "value": 8000}
        ]}));
        assert!(r.matches(&linux_box()));
        let small = DeviceFacts {
            ram_total_mb: Some(4096.0),
            ..linux_box()
        };
        assert!(!r.matches(&small));
        let win = DeviceFacts {
            os_type: "windows".into(),
            ..linux_box()
        };
        assert!(!r.matches(&win));
    }

    #[test]
    fn any_needs_one_condition() {
        let r = rules(json!({"any": [
            {"field": "os_type", "op": "eq", "value": "windows"},
            {"field": "hostname", "op": "starts_with", "value": "WEB-"}
        ]}));
        assert!(r.matches(&linux_box()));
    }

    #[test]
    fn tags_match_any_tag_and_ne_means_none() {
        let d = linux_box();
        assert!(rules(json!({"all": [{"field": "tags", "op": "eq", "value": "web"}]})).matches(&d));
        assert!(
            !rules(json!({"all": [{"field": "tags", "op": "ne", "value": "web"}]})).matches(&d)
        );
        assert!(
            rules(json!({"all": [{"field": "tags", "op": "in", "value": ["x", "prod"]}]}))
                .matches(&d)
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("10.2", "10.10"), Ordering::Less);
        assert_eq!(compare_versions("22.04", "22.04"), Ordering::Equal);
        let d = DeviceFacts {
            os_version: Some("10.10".into()),
            ..linux_box()
        };
        assert!(
            rules(json!({"all": [{"field": "os_version", "op": "gte", "value": "10.2"}]}))
                .matches(&d)
        );
    }

    #[test]
    fn unknown_facts_never_match() {
        let d = DeviceFacts {
            ram_total_mb: None,
            ..linux_box()
        };
        for op in ["eq", "ne", "gt", "lt"] {
            let r = rules(json!({"all": [{"field": "ram_total_mb", "op": op, "value": 1}]}));
            assert!(!r.matches(&d), "{op}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for bad in [
            json!([]),
            json!({"all": []}),
            json!({"all": [{"field": "colour", "op": "eq", "value": 1}]}),
            json!({"all": [{"field": "hostname", "op": "like", "value": "a"}]}),
            json!({"all": [{"field": "hostname", "op": "in", "value": "a"}]}),
            json!({"all": [{"field": "ram_total_mb", "op": "gt", "value": "lots"}]}),
            json!({"all": [{"field": "hostname", "op": "eq"}]}),
            json!({"all": [], "any": []}),
        ] {
            assert!(Rules::parse(&bad).is_err(), "{bad}");
        }
    }

    /// Property: for every numeric threshold, `gt` and `lte` split devices exactly
    /// (one of them holds, never both), and `eq` xor `ne`.
    #[test]
    fn complementary_operators_partition_devices() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let ram = (next() % 70_000) as f64;
            let threshold = (next() % 70_000) as f64;
            let d = DeviceFacts {
                ram_total_mb: Some(ram),
                ..linux_box()
            };
            let m = |op: &str| {
                rules(json!({"all": [{"field": "ram_total_mb", "op": op, "value": threshold}]}))
                    .matches(&d)
            };
            assert_ne!(m("gt"), m("lte"), "ram {ram} threshold {threshold}");
            assert_ne!(m("lt"), m("gte"), "ram {ram} threshold {threshold}");
            assert_ne!(m("eq"), m("ne"), "ram {ram} threshold {threshold}");
            let v1 = format!("{}.{}", next() % 20, next() % 20);
            let v2 = format!("{}.{}", next() % 20, next() % 20);
            let o = compare_versions(&v1, &v2);
            assert_eq!(o.reverse(), compare_versions(&v2, &v1));
        }
    }
}
