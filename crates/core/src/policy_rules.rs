//! Policy rules (issue 13): the checked shape of `rules` in a policy, shared by the server
//! (validation) and the agent (evaluation: version comparison, the worst status).
//!
//! [`parse_rules`] turns the request's JSON into [`PolicyRule`]s, refusing bad input with
//! the path of the bad part (`rules[2].path`) for a 422.

use breeze_proto::api::{ComplianceStatus, PolicyRule};
use breeze_proto::ids::ScriptId;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// A policy holds at most this many rules.
pub const MAX_RULES: usize = 50;
/// Longest name, key, value or path.
pub const MAX_TEXT: usize = 1024;
/// Longest expected file content.
pub const MAX_CONTENT: usize = 64 * 1024;

/// The rule types, in the order the docs list them.
pub const RULE_TYPES: &[&str] = &[
    "service_running",
    "service_stopped",
    "package_installed",
    "package_absent",
    "file_exists",
    "file_absent",
    "config_value",
    "sysctl",
    "user_present",
    "user_absent",
    "firewall_enabled",
    "disk_encryption",
    "script",
];

/// Why a rule was refused: the path of the bad part and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        path: path.into(),
        message: message.into(),
    }
}

/// Parses a policy's `rules` (at least one, at most [`MAX_RULES`]). `field` is the path
/// prefix (`rules`).
pub fn parse_rules(field: &str, rules: &[Value]) -> Result<Vec<PolicyRule>, RuleError> {
    if rules.is_empty() {
        return Err(err(field, "give at least one rule"));
    }
    if rules.len() > MAX_RULES {
        return Err(err(field, format!("at most {MAX_RULES} rules")));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| parse_rule(&format!("{field}[{i}]"), r))
        .collect()
}

/// Reads the fields of one rule object, refusing unknown keys.
struct Fields<'a> {
    path: &'a str,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn only(&self, allowed: &[&str]) -> Result<(), RuleError> {
        for k in self.obj.keys() {
            if k != "type" && !allowed.contains(&k.as_str()) {
                let hint = if allowed.is_empty() {
                    "this rule type takes no fields".to_string()
                } else {
                    format!("unknown key (this rule type takes {})", allowed.join(", "))
                };
                return Err(err(format!("{}.{k}", self.path), hint));
            }
        }
        Ok(())
    }

    fn opt(&self, key: &str, max: usize) -> Result<Option<String>, RuleError> {
        let path = format!("{}.{key}", self.path);
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if s.chars().count() > max {
                    return Err(err(path, format!("at most {max} characters")));
                }
                if s.contains('\0') {
                    return Err(err(path, "must not contain NUL"));
                }
                Ok(Some(s.clone()))
            }
            Some(_) => Err(err(path, "must be a string")),
        }
    }

    fn req(&self, key: &str, max: usize) -> Result<String, RuleError> {
        match self.opt(key, max)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(err(format!("{}.{key}", self.path), "must not be empty")),
            None => Err(err(format!("{}.{key}", self.path), "is required")),
        }
    }

    /// A name without whitespace or path separators (service, package, user).
    fn name(&self, key: &str) -> Result<String, RuleError> {
        let s = self.req(key, 256)?;
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\')
            || s.starts_with('-')
        {
            return Err(err(
                format!("{}.{key}", self.path),
                "must be a plain name (no spaces, slashes or leading '-')",
            ));
        }
        Ok(s)
    }

    /// An absolute path (Unix `/…` or Windows `C:\…`).
    fn abs_path(&self, key: &str) -> Result<String, RuleError> {
        let s = self.req(key, MAX_TEXT)?;
        let b = s.as_bytes();
        let windows = b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && (b[2] == b'\\' || b[2] == b'/');
        if !s.starts_with('/') && !windows {
            return Err(err(
                format!("{}.{key}", self.path),
                "must be an absolute path",
            ));
        }
        Ok(s)
    }
}

fn parse_rule(path: &str, v: &Value) -> Result<PolicyRule, RuleError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, "must be an object with a `type`"))?;
    let ty = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(err(format!("{path}.type"), "must be a string")),
        None => return Err(err(format!("{path}.type"), "is required")),
    };
    let f = Fields { path, obj };
    let rule = match ty {
        "service_running" | "service_stopped" => {
            f.only(&["name"])?;
            let name = f.name("name")?;
            if ty == "service_running" {
                PolicyRule::ServiceRunning { name }
            } else {
                PolicyRule::ServiceStopped { name }
            }
        }
        "package_installed" => {
            f.only(&["name", "min_version"])?;
            let name = f.name("name")?;
            let min_version = f.opt("min_version", 128)?;
            if min_version.as_deref().is_some_and(|v| {
                v.trim().is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control())
            }) {
                return Err(err(
                    format!("{path}.min_version"),
                    "must be a version without spaces",
                ));
            }
            PolicyRule::PackageInstalled { name, min_version }
        }
        "package_absent" => {
            f.only(&["name"])?;
            PolicyRule::PackageAbsent {
                name: f.name("name")?,
            }
        }
        "file_exists" => {
            f.only(&["path", "content", "sha256", "mode"])?;
            let file = f.abs_path("path")?;
            let content = f.opt("content", MAX_CONTENT)?;
            let sha256 = f.opt("sha256", 64)?.map(|s| s.to_ascii_lowercase());
            if let Some(h) = &sha256
                && (h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()))
            {
                return Err(err(
                    format!("{path}.sha256"),
                    "must be 64 hexadecimal characters",
                ));
            }
            let mode = f.opt("mode", 8)?;
            if let Some(m) = &mode {
                parse_mode(m).ok_or_else(|| {
                    err(
                        format!("{path}.mode"),
                        "must be octal permission bits such as \"0644\"",
                    )
                })?;
            }
            PolicyRule::FileExists {
                path: file,
                content,
                sha256,
                mode,
            }
        }
        "file_absent" => {
            f.only(&["path"])?;
            PolicyRule::FileAbsent {
                path: f.abs_path("path")?,
            }
        }
        "config_value" => {
            f.only(&["path", "key", "value", "separator"])?;
            let file = f.abs_path("path")?;
            let key = f.req("key", 256)?;
            if key.contains('\n') {
                return Err(err(format!("{path}.key"), "must be one line"));
            }
            let value = f
                .opt("value", MAX_TEXT)?
                .ok_or_else(|| err(format!("{path}.value"), "is required (may be empty)"))?;
            let separator = f.opt("separator", 8)?;
            if separator
                .as_deref()
                .is_some_and(|s| s.is_empty() || s.contains('\n'))
            {
                return Err(err(
                    format!("{path}.separator"),
                    "must be a non-empty string on one line",
                ));
            }
            PolicyRule::ConfigValue {
                path: file,
                key: key.trim().to_string(),
                value,
                separator,
            }
        }
        "sysctl" => {
            f.only(&["key", "value"])?;
            let key = f.req("key", 256)?;
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
                || key.contains("..")
                || key.starts_with(['.', '/'])
            {
                return Err(err(
                    format!("{path}.key"),
                    "must be a kernel parameter name such as net.ipv4.ip_forward",
                ));
            }
            let value = f
                .opt("value", MAX_TEXT)?
                .ok_or_else(|| err(format!("{path}.value"), "is required (may be empty)"))?;
            PolicyRule::Sysctl { key, value }
        }
        "user_present" | "user_absent" => {
            f.only(&["name"])?;
            let name = f.name("name")?;
            if name.contains(':') {
                return Err(err(format!("{path}.name"), "must not contain ':'"));
            }
            if ty == "user_present" {
                PolicyRule::UserPresent { name }
            } else {
                PolicyRule::UserAbsent { name }
            }
        }
        "firewall_enabled" => {
            f.only(&[])?;
            PolicyRule::FirewallEnabled
        }
        "disk_encryption" => {
            f.only(&[])?;
            PolicyRule::DiskEncryption
        }
        "script" => {
            f.only(&["script_id"])?;
            let id = f.req("script_id", 64)?;
            let script_id = id
                .parse::<ScriptId>()
                .map_err(|_| err(format!("{path}.script_id"), "must be a script id (UUID)"))?;
            PolicyRule::Script { script_id }
        }
        _ => {
            return Err(err(
                format!("{path}.type"),
                format!("must be one of: {}", RULE_TYPES.join(", ")),
            ));
        }
    };
    Ok(rule)
}

/// Octal permission bits (`"644"`, `"0644"`, `"0o644"`, up to `07777`).
pub fn parse_mode(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

/// The script ids `script` rules name (for the server to check and inline).
pub fn script_ids(rules: &[PolicyRule]) -> Vec<ScriptId> {
    let mut out: Vec<ScriptId> = Vec::new();
    for r in rules {
        if let PolicyRule::Script { script_id } = r
            && !out.contains(script_id)
        {
            out.push(*script_id);
        }
    }
    out
}

/// A device's overall status: the worst of its rules' (`error` > `non_compliant` >
/// `unknown` > `compliant`); `unknown` for no rules.
pub fn worst(statuses: impl IntoIterator<Item = ComplianceStatus>) -> ComplianceStatus {
    statuses
        .into_iter()
        .max_by_key(|s| s.severity())
        .unwrap_or(ComplianceStatus::Unknown)
}

/// Compares package versions the way dpkg does (and close to rpm): an optional
/// `epoch:`, then the upstream version and an optional `-revision`; each part is compared
/// as alternating runs of non-digits (letters sort before non-letters, `~` before
/// everything, even the end) and numbers (numerically).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ra) = split_epoch(a.trim());
    let (eb, rb) = split_epoch(b.trim());
    if ea != eb {
        return ea.cmp(&eb);
    }
    let (ua, va) = split_revision(ra);
    let (ub, vb) = split_revision(rb);
    match verrevcmp(ua, ub) {
        Ordering::Equal => verrevcmp(va, vb),
        o => o,
    }
}

fn split_epoch(v: &str) -> (u64, &str) {
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    }
}

fn split_revision(v: &str) -> (&str, &str) {
    match v.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (v, ""),
    }
}

/// dpkg's order of a non-digit character (`~` lowest, then the end, letters, the rest).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit run: skip leading zeros, then longer wins, then lexical.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (na, nb) = (&a[si..i], &b[sj..j]);
        match na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(rules: Value) -> String {
        let arr = rules.as_array().cloned().unwrap_or_default();
        match parse_rules("rules", &arr) {
            Err(e) => e.path,
            Ok(r) => format!("ok: {r:?}"),
        }
    }

    #[test]
    fn every_type_parses_and_round_trips() {
        let rules = json!([
            {"type": "service_running", "name": "sshd"},
            {"type": "service_stopped", "name": "telnet"},
            {"type": "package_installed", "name": "curl", "min_version": "7.0"},
            {"type": "package_absent", "name": "nmap"},
            {"type": "file_exists", "path": "/etc/motd", "content": "hi\n",
             "sha256": "AB".repeat(32), "mode": "0644"},
            {"type": "file_absent", "path": "/tmp/x"},
            {"type": "config_value", "path": "/etc/ssh/sshd_config", "key": "PermitRootLogin",
             "value": "no", "separator": " "},
            {"type": "sysctl", "key": "net.ipv4.ip_forward", "value": "0"},
            {"type": "user_present", "name": "ops"},
            {"type": "user_absent", "name": "guest"},
            {"type": "firewall_enabled"},
            {"type": "disk_encryption"},
            {"type": "script", "script_id": "0190b5f1-8f4e-7c3a-9d2b-1a2b3c4d5e6f"},
        ]);
        let arr = rules.as_array().cloned().unwrap_or_default();
        let parsed = parse_rules("rules", &arr).expect("valid rules");
        assert_eq!(parsed.len(), 13);
        for (r, raw) in parsed.iter().zip(&arr) {
            assert_eq!(r.kind(), raw["type"].as_str().unwrap_or_default());
            // What the server stores reads back to the same rule.
            let back: PolicyRule =
                serde_json::from_value(serde_json::to_value(r).expect("json")).expect("back");
            assert_eq!(&back, r);
        }
        // sha256 is kept in lower case.
        match &parsed[4] {
            PolicyRule::FileExists { sha256, .. } => {
                assert_eq!(sha256.as_deref(), Some("ab".repeat(32).as_str()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_bad_part() {
        let ok = json!({"type": "file_absent", "path": "/x"});
        assert_eq!(
            path_of(json!([ok, ok, {"type": "file_exists", "path": "relative"}])),
            "rules[2].path"
        );
        assert_eq!(path_of(json!([{"type": "nope"}])), "rules[0].type");
        assert_eq!(path_of(json!([{"name": "x"}])), "rules[0].type");
        assert_eq!(path_of(json!(["x"])), "rules[0]");
        assert_eq!(path_of(json!([])), "rules");
        assert_eq!(
            path_of(json!([{"type": "service_running", "name": "a", "extra": 1}])),
            "rules[0].extra"
        );
        assert_eq!(
            path_of(json!([{"type": "service_running", "name": "two words"}])),
            "rules[0].name"
        );
        assert_eq!(
            path_of(json!([{"type": "package_installed"}])),
            "rules[0].name"
        );
        assert_eq!(
            path_of(json!([{"type": "file_exists", "path": "/a", "mode": "999"}])),
            "rules[0].mode"
        );
        assert_eq!(
            path_of(json!([{"type": "file_exists", "path": "/a", "sha256": "xyz"}])),
            "rules[0].sha256"
        );
        assert_eq!(
            path_of(json!([{"type": "config_value", "path": "/a", "key": "k"}])),
            "rules[0].value"
        );
        assert_eq!(
            path_of(json!([{"type": "sysctl", "key": "../../etc/passwd", "value": "1"}])),
            "rules[0].key"
        );
        assert_eq!(
            path_of(json!([{"type": "script", "script_id": "nope"}])),
            "rules[0].script_id"
        );
        assert_eq!(
            path_of(json!([{"type": "firewall_enabled", "zone": "x"}])),
            "rules[0].zone"
        );
        assert_eq!(
            path_of(json!([{"type": "user_absent", "name": "a:b"}])),
            "rules[0].name"
        );
        let many: Vec<Value> = (0..=MAX_RULES).map(|_| ok.clone()).collect();
        assert_eq!(path_of(Value::Array(many)), "rules");
        // Windows paths are absolute too.
        assert!(path_of(json!([{"type": "file_absent", "path": "C:\\x"}])).starts_with("ok"));
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("644"), Some(0o644));
        assert_eq!(parse_mode("0o755"), Some(0o755));
        assert_eq!(parse_mode("4755"), Some(0o4755));
        assert_eq!(parse_mode("8"), None);
        assert_eq!(parse_mode(""), None);
        assert_eq!(parse_mode("17777"), None);
    }

    #[test]
    fn versions_compare_like_dpkg() {
        use Ordering::*;
        let cases = [
            ("1.2.0", "2.0", Less),
            ("2.0", "2.0", Equal),
            ("2.0", "2.0.0", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0a", "1.0", Greater),
            ("1:0.9", "2.0", Greater),
            ("0:2.0", "2.0", Equal),
            ("2.0-1", "2.0-2", Less),
            ("2.0-10", "2.0-9", Greater),
            ("7.81.0-1ubuntu1.15", "7.81.0", Greater),
            ("1.01", "1.1", Equal),
            ("1.0~~", "1.0~", Less),
            ("3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.9", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn worst_status_wins() {
        use ComplianceStatus::*;
        assert_eq!(worst([Compliant, Unknown]), Unknown);
        assert_eq!(worst([Compliant, NonCompliant, Unknown]), NonCompliant);
        assert_eq!(worst([NonCompliant, Error]), Error);
        assert_eq!(worst([Compliant, Compliant]), Compliant);
        assert_eq!(worst([]), Unknown);
    }
}
