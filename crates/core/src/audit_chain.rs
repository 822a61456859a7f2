//! The audit log's hash chain: each row's checksum covers its content and the previous
//! row's checksum, so an edited, inserted or deleted row breaks the chain from there on.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The checksum of the row before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The row format written today. Version 1 rows (written before the audit log was scoped
/// by site and device) are checked without `site_id`/`device_id`: those were filled in
/// later by migration 5 and are visibility tags only. Version 2 rows cover them too.
pub const CURRENT_VERSION: i64 = 2;

/// The fields of an audit row that the checksum covers (all of them but the checksum;
/// `site_id` and `device_id` from version 2 on).
#[derive(Clone, Debug)]
pub struct ChainedFields<'a> {
    /// The row format: 1 (before site/device scoping) or 2.
    pub version: i64,
    pub seq: i64,
    pub id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub partner_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub actor_type: &'a str,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<&'a str>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub resource_name: Option<&'a str>,
    pub details: &'a Value,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub result: &'a str,
    pub error_message: Option<&'a str>,
    pub site_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
}

/// JSON with object keys sorted, so the same value always hashes the same whatever order
/// an engine returns its keys in.
pub fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

fn field(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

pub fn checksum(prev: &str, f: &ChainedFields<'_>) -> String {
    let mut h = Sha256::new();
    let uuid = |u: Option<Uuid>| u.map(|u| u.to_string());
    field(&mut h, Some(prev));
    field(&mut h, Some(&f.seq.to_string()));
    field(&mut h, Some(&f.id.to_string()));
    field(
        &mut h,
        Some(&f.timestamp.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
    );
    field(&mut h, uuid(f.partner_id).as_deref());
    field(&mut h, uuid(f.org_id).as_deref());
    field(&mut h, Some(f.actor_type));
    field(&mut h, uuid(f.actor_id).as_deref());
    field(&mut h, f.actor_email);
    field(&mut h, Some(f.action));
    field(&mut h, Some(f.resource_type));
    field(&mut h, f.resource_id);
    field(&mut h, f.resource_name);
    field(&mut h, Some(&canonical_json(f.details)));
    field(&mut h, f.ip_address);
    field(&mut h, f.user_agent);
    field(&mut h, Some(f.result));
    field(&mut h, f.error_message);
    if f.version >= 2 {
        // The version itself is hashed, so turning a version 2 row into a version 1 row
        // (to drop its site/device from the checksum) breaks the chain.
        field(&mut h, Some(&f.version.to_string()));
        field(&mut h, uuid(f.site_id).as_deref());
        field(&mut h, uuid(f.device_id).as_deref());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(details: &Value) -> ChainedFields<'_> {
        ChainedFields {
            version: 1,
            seq: 1,
            id: Uuid::nil(),
            timestamp: DateTime::<Utc>::UNIX_EPOCH,
            partner_id: None,
            org_id: None,
            actor_type: "user",
            actor_id: None,
            actor_email: Some("a@b.c"),
            action: "auth.login",
            resource_type: "user",
            resource_id: None,
            resource_name: None,
            details,
            ip_address: None,
            user_agent: None,
            result: "success",
            error_message: None,
            site_id: None,
            device_id: None,
        }
    }

    #[test]
    fn version_1_rows_ignore_site_and_device_and_version_2_rows_cover_them() {
        let d = json!({});
        let v1 = sample(&d);
        let mut tagged = sample(&d);
        tagged.site_id = Some(Uuid::from_u128(7));
        // Backfilled tags on an old row do not break its checksum...
        assert_eq!(checksum(GENESIS, &v1), checksum(GENESIS, &tagged));
        // ...but on a new row they are covered, and so is the version.
        let mut v2 = sample(&d);
        v2.version = 2;
        let mut v2_tagged = v2.clone();
        v2_tagged.site_id = Some(Uuid::from_u128(7));
        assert_ne!(checksum(GENESIS, &v2), checksum(GENESIS, &v2_tagged));
        let mut v2_device = v2.clone();
        v2_device.device_id = Some(Uuid::from_u128(7));
        assert_ne!(checksum(GENESIS, &v2_tagged), checksum(GENESIS, &v2_device));
        assert_ne!(checksum(GENESIS, &v1), checksum(GENESIS, &v2));
    }

    #[test]
    fn checksum_depends_on_content_and_previous_but_not_key_order() {
        let a = json!({"x": 1, "y": [1, {"b": 2, "a": 1}]});
        let b: Value = serde_json::from_str(r#"{"y":[1,{"a":1,"b":2}],"x":1}"#).unwrap_or_default();
        assert_eq!(
            checksum(GENESIS, &sample(&a)),
            checksum(GENESIS, &sample(&b))
        );
        assert_ne!(checksum(GENESIS, &sample(&a)), checksum("1", &sample(&a)));
        let mut other = sample(&a);
        other.action = "auth.logout";
        assert_ne!(checksum(GENESIS, &sample(&a)), checksum(GENESIS, &other));
        // None and Some("") differ.
        let mut empty = sample(&a);
        empty.ip_address = Some("");
        assert_ne!(checksum(GENESIS, &sample(&a)), checksum(GENESIS, &empty));
    }
}
