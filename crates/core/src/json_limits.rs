//! Limits on free-form JSON fields and agent inventory sections, checked where a request
//! is parsed. The body limit (`max_body_bytes`, 1 MiB) bounds a request as a whole; these
//! bound each field to what it is for, so one organization's `settings` cannot be a
//! megabyte of nested objects that every later read drags along. Errors name the field.

use breeze_proto::agent::{InventoryRequest, Metrics};
use serde::Serialize;
use serde_json::Value;

use crate::validate::ValidationError;

/// The size (compact JSON bytes) and nesting depth a free-form field may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimit {
    pub max_bytes: usize,
    /// `{}` and `[]` count one level; scalars none.
    pub max_depth: usize,
}

/// Organization, site and partner `settings`.
pub const SETTINGS: JsonLimit = JsonLimit {
    max_bytes: 64 * 1024,
    max_depth: 8,
};

/// Site `address` and `contact`, organization `billing_contact`.
pub const CONTACT: JsonLimit = JsonLimit {
    max_bytes: 4 * 1024,
    max_depth: 4,
};

/// A script's `parameters` schema (a list of `{name, type, default, options, …}`).
pub const SCRIPT_PARAMETERS: JsonLimit = JsonLimit {
    max_bytes: 64 * 1024,
    max_depth: 4,
};

/// Checks one field against its limit.
pub fn check(field: &str, v: &Value, limit: JsonLimit) -> Result<(), ValidationError> {
    let depth = depth(v);
    if depth > limit.max_depth {
        return Err(ValidationError::new(
            field,
            format!(
                "is nested {depth} levels deep; at most {} allowed",
                limit.max_depth
            ),
        ));
    }
    let bytes = encoded_len(v);
    if bytes > limit.max_bytes {
        return Err(ValidationError::new(
            field,
            format!(
                "is {bytes} bytes of JSON; at most {} allowed",
                limit.max_bytes
            ),
        ));
    }
    Ok(())
}

/// [`check`] for a field that may be absent.
pub fn check_opt(field: &str, v: Option<&Value>, limit: JsonLimit) -> Result<(), ValidationError> {
    v.map_or(Ok(()), |v| check(field, v, limit))
}

/// Nesting depth, without recursion.
fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|x| (x, d + 1)));
            }
            Value::Object(o) => {
                max = max.max(d + 1);
                stack.extend(o.values().map(|x| (x, d + 1)));
            }
            _ => {}
        }
    }
    max
}

/// Bytes of the compact JSON encoding, counted without building it.
fn encoded_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// The request body of an inventory upload, which may carry every section at once (the
/// general `max_body_bytes` is lower). 20,000 packages of ~200 bytes are about 4 MB.
pub const INVENTORY_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Entries per inventory section. A Debian desktop lists ~2,000 packages and a busy
/// server a few thousand processes; these leave ample room and stop a runaway agent.
pub const MAX_SOFTWARE: usize = 20_000;
pub const MAX_PROCESSES: usize = 20_000;
pub const MAX_USERS: usize = 1_000;
pub const MAX_INTERFACES: usize = 1_000;
pub const MAX_DISKS: usize = 1_000;
/// Entries of a list inside one entry (an interface's addresses).
pub const MAX_NESTED_ENTRIES: usize = 1_000;
/// Characters of any text in an inventory section (names, versions, paths).
pub const MAX_INVENTORY_TEXT: usize = 2_048;

/// Checks an inventory upload: entries per section and the length of every text in it.
/// Errors name the section (`software`, `processes`, …) and say which entry is at fault.
pub fn check_inventory(req: &InventoryRequest) -> Result<(), ValidationError> {
    list("software", req.software.as_deref(), MAX_SOFTWARE)?;
    list("processes", req.processes.as_deref(), MAX_PROCESSES)?;
    list("users", req.users.as_deref(), MAX_USERS)?;
    list("network", req.network.as_deref(), MAX_INTERFACES)?;
    list("disks", req.disks.as_deref(), MAX_DISKS)?;
    if let Some(h) = &req.hardware {
        entry("hardware", None, h)?;
    }
    if let Some(o) = &req.os {
        entry("os", None, o)?;
    }
    if req.hashes.values().any(|h| h.chars().count() > 128) {
        return Err(ValidationError::new(
            "hashes",
            "each hash is at most 128 characters",
        ));
    }
    Ok(())
}

fn list<T: Serialize>(field: &str, items: Option<&[T]>, max: usize) -> Result<(), ValidationError> {
    let Some(items) = items else {
        return Ok(());
    };
    if items.len() > max {
        return Err(ValidationError::new(
            field,
            format!("has {} entries; at most {max} allowed", items.len()),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        entry(field, Some(i), item)?;
    }
    Ok(())
}

fn entry<T: Serialize>(field: &str, index: Option<usize>, item: &T) -> Result<(), ValidationError> {
    let at = || index.map_or(String::new(), |i| format!("entry {i}: "));
    let v = serde_json::to_value(item)
        .map_err(|e| ValidationError::new(field, format!("{}{e}", at())))?;
    let mut stack = vec![&v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.chars().count() > MAX_INVENTORY_TEXT => {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "{}a text is longer than {MAX_INVENTORY_TEXT} characters",
                        at()
                    ),
                ));
            }
            Value::Array(a) => {
                if a.len() > MAX_NESTED_ENTRIES {
                    return Err(ValidationError::new(
                        field,
                        format!("{}a list has more than {MAX_NESTED_ENTRIES} entries", at()),
                    ));
                }
                stack.extend(a);
            }
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    Ok(())
}

/// The largest magnitude a number in a request body may have. PostgreSQL's `jsonb` keeps
/// a number exactly and prints it in full: `-1.7976931348623157e+308` comes back as a
/// 309-digit integer, which serde_json reads as infinity and refuses ("number out of
/// range"), so every later read of the row failed with a 500 (the API fuzz found it in
/// an organization's `billing_contact`). The server's JSON extractor refuses larger
/// numbers in every body, naming where they are; the agent drops custom metrics beyond
/// it. Far below `f64::MAX`, so no rounding reaches it.
pub const MAX_NUMBER: f64 = 1e300;

/// Custom metrics one heartbeat may carry. The agent sends its own few (load averages,
/// swap) and at most 100 from scripts (`collectors::metrics::MAX_SCRIPT_METRICS`).
pub const MAX_CUSTOM_METRICS: usize = 128;
/// Characters of a custom metric's name (letters, digits, `_`, `-`, `.`).
pub const MAX_METRIC_NAME: usize = 100;
/// The largest disk a heartbeat may report, in GB (an exabyte).
pub const MAX_DISK_GB: f64 = 1e9;

/// Whether `name` may name a custom metric: what an alert rule's `custom.<name>` accepts.
pub fn metric_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_METRIC_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Checks a heartbeat's metrics sample: percentages within 0..=100, disk sizes within
/// [`MAX_DISK_GB`], custom metrics bounded in count and name. Unchecked, one
/// agent's `disk_used_gb: 1e308` overflowed PostgreSQL's `SUM` in the metrics rollup
/// ("value out of range: overflow"), which rolls up every device's bucket in one
/// statement, so every tenant's rollups stopped. (A custom value too large to read back
/// from `jsonb` is refused with every body, see [`MAX_NUMBER`].) Errors name the field
/// (`metrics.cpu_percent`, `metrics.custom`).
pub fn check_metrics(m: &Metrics) -> Result<(), ValidationError> {
    for (field, v) in [
        ("metrics.cpu_percent", m.cpu_percent),
        ("metrics.ram_percent", m.ram_percent),
        ("metrics.disk_percent", m.disk_percent),
    ] {
        if !(0.0..=100.0).contains(&v) {
            return Err(ValidationError::new(
                field,
                format!("is {v}; a percentage is within 0..=100"),
            ));
        }
    }
    for (field, v) in [
        ("metrics.disk_used_gb", m.disk_used_gb),
        ("metrics.disk_total_gb", m.disk_total_gb),
    ] {
        if !(0.0..=MAX_DISK_GB).contains(&v) {
            return Err(ValidationError::new(
                field,
                format!("is {v:e}; disk sizes are within 0..={MAX_DISK_GB:e} GB"),
            ));
        }
    }
    if m.custom.len() > MAX_CUSTOM_METRICS {
        return Err(ValidationError::new(
            "metrics.custom",
            format!(
                "has {} metrics; at most {MAX_CUSTOM_METRICS} allowed",
                m.custom.len()
            ),
        ));
    }
    if m.custom.keys().any(|name| !metric_name_ok(name)) {
        return Err(ValidationError::new(
            "metrics.custom",
            format!(
                "a name is empty, longer than {MAX_METRIC_NAME} characters or holds \
                 characters other than letters, digits, _ - ."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use breeze_proto::agent::{ProcessInfo, SoftwarePackage, SoftwareSource};
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    /// An object whose compact encoding is exactly `n` bytes (`{"k":"…"}`).
    fn sized(n: usize) -> Value {
        json!({ "k": "x".repeat(n - 8) })
    }

    #[test]
    fn a_field_at_its_limits_passes_and_one_past_them_names_the_field() {
        assert_eq!(encoded_len(&sized(100)), 100);
        assert!(check("settings", &sized(SETTINGS.max_bytes), SETTINGS).is_ok());
        assert!(check("settings", &nested(SETTINGS.max_depth), SETTINGS).is_ok());
        let too_big = check("settings", &sized(SETTINGS.max_bytes + 1), SETTINGS);
        assert_eq!(too_big.map_err(|e| e.field), Err("settings".to_string()));
        let too_deep = check("address", &nested(CONTACT.max_depth + 1), CONTACT);
        assert_eq!(too_deep.map_err(|e| e.field), Err("address".to_string()));
        assert!(check_opt("contact", None, CONTACT).is_ok());
    }

    #[test]
    fn a_heartbeat_sample_is_bounded_field_by_field() {
        let ok = Metrics {
            cpu_percent: 100.0,
            ram_percent: 0.0,
            disk_percent: 55.5,
            disk_used_gb: MAX_DISK_GB,
            disk_total_gb: MAX_DISK_GB,
            custom: [
                ("load_1".to_string(), -MAX_NUMBER),
                ("a.b-c_9".into(), 1e-300),
            ]
            .into_iter()
            .collect(),
            ..Metrics::default()
        };
        assert!(check_metrics(&ok).is_ok());
        let field = |m: Metrics| check_metrics(&m).map_err(|e| e.field);
        let bad = |f: fn(&mut Metrics)| {
            let mut m = ok.clone();
            f(&mut m);
            field(m)
        };
        assert_eq!(
            bad(|m| m.cpu_percent = 100.1),
            Err("metrics.cpu_percent".into())
        );
        assert_eq!(
            bad(|m| m.ram_percent = -0.1),
            Err("metrics.ram_percent".into())
        );
        assert_eq!(
            bad(|m| m.disk_percent = f64::NAN),
            Err("metrics.disk_percent".into())
        );
        assert_eq!(
            bad(|m| m.disk_used_gb = 1e308),
            Err("metrics.disk_used_gb".into())
        );
        assert_eq!(
            bad(|m| m.disk_total_gb = -1.0),
            Err("metrics.disk_total_gb".into())
        );
        assert_eq!(
            bad(|m| {
                m.custom.insert("evil$name".into(), 1.0);
            }),
            Err("metrics.custom".into())
        );
        assert_eq!(
            bad(|m| {
                m.custom.insert("x".repeat(MAX_METRIC_NAME + 1), 1.0);
            }),
            Err("metrics.custom".into())
        );
        assert_eq!(
            bad(|m| m.custom = (0..=MAX_CUSTOM_METRICS)
                .map(|i| (format!("m{i}"), 1.0))
                .collect()),
            Err("metrics.custom".into())
        );
    }

    #[test]
    fn depth_counts_containers_only() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!([[], {"a": [1]}])), 3);
    }

    fn package(name: String) -> SoftwarePackage {
        SoftwarePackage {
            name,
            version: "1.0".into(),
            publisher: None,
            install_date: None,
            install_location: None,
            architecture: None,
            source: SoftwareSource::Dpkg,
        }
    }

    #[test]
    fn inventory_sections_are_bounded_in_entries_and_text() {
        let mut req = InventoryRequest {
            software: Some(vec![package("a".repeat(MAX_INVENTORY_TEXT)); MAX_SOFTWARE]),
            ..InventoryRequest::default()
        };
        assert!(check_inventory(&req).is_ok(), "at the limits");
        req.software = Some(vec![package("a".into()); MAX_SOFTWARE + 1]);
        assert_eq!(
            check_inventory(&req).map_err(|e| e.field),
            Err("software".to_string())
        );
        req.software = None;
        req.processes = Some(vec![ProcessInfo {
            pid: 1,
            name: "p".repeat(MAX_INVENTORY_TEXT + 1),
            user: None,
            cpu_percent: 0.0,
            memory_bytes: 0,
        }]);
        let err = check_inventory(&req).err();
        assert_eq!(err.as_ref().map(|e| e.field.as_str()), Some("processes"));
        assert!(err.is_some_and(|e| e.message.starts_with("entry 0:")));
    }
}
