//! Script parameter schemas (seed 004 `Script.parameters`) and checking the values an
//! execution passes against them.
//!
//! A schema is a JSON list of `{"name", "type": "string"|"number"|"boolean"|"select",
//! "required", "default", "options"}`. Values become strings (they reach the script as
//! environment variables, never as script text).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::validate::ValidationError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Number,
    Boolean,
    Select,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub options: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Parses and checks a schema; errors name `parameters`.
pub fn parse_schema(v: &Value) -> Result<Vec<ParamSpec>, ValidationError> {
    let bad = |m: String| ValidationError::new("parameters", m);
    let specs: Vec<ParamSpec> = serde_json::from_value(v.clone()).map_err(|e| {
        bad(format!(
            "must be a list of {{name, type, required, default, options}}: {e}"
        ))
    })?;
    if specs.len() > 50 {
        return Err(bad("at most 50 parameters".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &specs {
        let ok_name = !s.name.is_empty()
            && s.name.len() <= 64
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_name {
            return Err(bad(format!(
                "parameter name `{}` must be 1-64 letters, digits, `_` or `-`",
                s.name
            )));
        }
        if !seen.insert(s.name.to_lowercase()) {
            return Err(bad(format!("parameter `{}` is defined twice", s.name)));
        }
        match (s.param_type, &s.options) {
            (ParamType::Select, Some(o)) if !o.is_empty() => {}
            (ParamType::Select, _) => {
                return Err(bad(format!(
                    "select parameter `{}` needs a non-empty `options` list",
                    s.name
                )));
            }
            (_, Some(_)) => {
                return Err(bad(format!(
                    "only select parameters have options (`{}`)",
                    s.name
                )));
            }
            _ => {}
        }
        if let Some(d) = &s.default {
            coerce(s, d).map_err(|m| bad(format!("default of `{}`: {m}", s.name)))?;
        }
    }
    Ok(specs)
}

fn coerce(spec: &ParamSpec, v: &Value) -> Result<String, String> {
    match (spec.param_type, v) {
        (ParamType::String, Value::String(s)) => Ok(s.clone()),
        (ParamType::String, Value::Number(n)) => Ok(n.to_string()),
        (ParamType::String, Value::Bool(b)) => Ok(b.to_string()),
        (ParamType::Number, Value::Number(n)) => Ok(n.to_string()),
        (ParamType::Number, Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
            Ok(s.trim().to_string())
        }
        (ParamType::Boolean, Value::Bool(b)) => Ok(b.to_string()),
        (ParamType::Boolean, Value::String(s)) if s == "true" || s == "false" => Ok(s.clone()),
        (ParamType::Select, Value::String(s)) => {
            if spec.options.as_ref().is_some_and(|o| o.contains(s)) {
                Ok(s.clone())
            } else {
                Err(format!(
                    "must be one of: {}",
                    spec.options.clone().unwrap_or_default().join(", ")
                ))
            }
        }
        (t, _) => Err(format!("must be a {}", type_name(t))),
    }
}

fn type_name(t: ParamType) -> &'static str {
    match t {
        ParamType::String => "string",
        ParamType::Number => "number",
        ParamType::Boolean => "boolean",
        ParamType::Select => "string from the options",
    }
}

/// Checks `values` against `schema` and answers each parameter as a string (defaults
/// filled in). Unknown names, missing required ones and wrong types are errors naming
/// `parameters.<name>`. A value containing NUL is refused (it could not be passed in an
/// environment variable).
pub fn check_values(
    schema: &[ParamSpec],
    values: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, ValidationError> {
    let mut out = BTreeMap::new();
    for name in values.keys() {
        if !schema.iter().any(|s| &s.name == name) {
            return Err(ValidationError::new(
                format!("parameters.{name}"),
                "is not a parameter of this script",
            ));
        }
    }
    for spec in schema {
        let field = format!("parameters.{}", spec.name);
        let value = match values.get(&spec.name).filter(|v| !v.is_null()) {
            Some(v) => Some(v),
            None => spec.default.as_ref(),
        };
        match value {
            None if spec.required => {
                return Err(ValidationError::new(field, "is required"));
            }
            None => {}
            Some(v) => {
                let s = coerce(spec, v).map_err(|m| ValidationError::new(field.clone(), m))?;
                if s.contains('\0') {
                    return Err(ValidationError::new(field, "must not contain NUL"));
                }
                if s.len() > 32 * 1024 {
                    return Err(ValidationError::new(field, "must be at most 32 KiB"));
                }
                out.insert(spec.name.clone(), s);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Vec<ParamSpec> {
        match parse_schema(&json!([
            {"name": "path", "type": "string", "required": true},
            {"name": "count", "type": "number", "default": 3},
            {"name": "force", "type": "boolean"},
            {"name": "mode", "type": "select", "options": ["fast", "safe"], "default": "safe"}
        ])) {
            Ok(s) => s,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn values_are_checked_and_defaults_filled() -> Result<(), ValidationError> {
        let v = BTreeMap::from([("path".to_string(), json!("$(rm -rf /)"))]);
        let out = check_values(&schema(), &v)?;
        assert_eq!(out["path"], "$(rm -rf /)");
        assert_eq!(out["count"], "3");
        assert_eq!(out["mode"], "safe");
        assert!(!out.contains_key("force"));
        Ok(())
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let cases = [
            (json!({}), "parameters.path"),
            (json!({"path": "x", "count": "many"}), "parameters.count"),
            (json!({"path": "x", "mode": "turbo"}), "parameters.mode"),
            (json!({"path": "x", "force": 1}), "parameters.force"),
            (json!({"path": "x", "nope": 1}), "parameters.nope"),
            (json!({"path": "a\u{0}b"}), "parameters.path"),
        ];
        for (v, field) in cases {
            let map: BTreeMap<String, Value> = serde_json::from_value(v).unwrap_or_default();
            match check_values(&schema(), &map) {
                Err(e) => assert_eq!(e.field, field),
                Ok(o) => panic!("accepted {o:?}"),
            }
        }
    }

    #[test]
    fn bad_schemas_are_refused() {
        for bad in [
            json!({"name": "x"}),
            json!([{"name": "x", "type": "date"}]),
            json!([{"name": "x", "type": "select"}]),
            json!([{"name": "x", "type": "string", "options": ["a"]}]),
            json!([{"name": "a b", "type": "string"}]),
            json!([{"name": "x", "type": "string"}, {"name": "X", "type": "number"}]),
            json!([{"name": "x", "type": "number", "default": "ten"}]),
        ] {
            assert!(parse_schema(&bad).is_err(), "{bad}");
        }
    }
}
