//! Built-in rule templates (issue 11 item 6): what a new organization enables in one step.

use breeze_proto::api::AlertRuleTemplate;
use serde_json::json;

pub const KEYS: &[&str] = &[
    "cpu_high",
    "memory_high",
    "disk_almost_full",
    "device_offline",
    "antivirus_removed",
];

pub fn all() -> Vec<AlertRuleTemplate> {
    let t = |key: &str, name: &str, description: &str, severity: &str, conditions, cooldown| {
        AlertRuleTemplate {
            key: key.into(),
            name: name.into(),
            description: description.into(),
            severity: severity.into(),
            conditions,
            cooldown_minutes: cooldown,
        }
    };
    vec![
        t(
            "cpu_high",
            "CPU high",
            "CPU above 90% for 5 minutes",
            "high",
            json!({"metric": "cpu_percent", "operator": "gt", "value": 90.0, "duration_minutes": 5}),
            15,
        ),
        t(
            "memory_high",
            "Memory high",
            "Memory above 90% for 10 minutes",
            "medium",
            json!({"metric": "ram_percent", "operator": "gt", "value": 90.0, "duration_minutes": 10}),
            15,
        ),
        t(
            "disk_almost_full",
            "Disk almost full",
            "Disk use at or above 90%",
            "high",
            json!({"metric": "disk_percent", "operator": "gte", "value": 90.0}),
            60,
        ),
        t(
            "device_offline",
            "Device offline",
            "The device has been offline for 10 minutes",
            "critical",
            json!({"type": "status", "status": "offline", "duration_minutes": 10}),
            5,
        ),
        t(
            "antivirus_removed",
            "Antivirus removed",
            "Software whose name contains \"antivirus\" was removed",
            "high",
            json!({"type": "software_change", "action": "removed", "name_pattern": "*antivirus*"}),
            60,
        ),
    ]
}

pub fn get(key: &str) -> Option<AlertRuleTemplate> {
    all().into_iter().find(|t| t.key == key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_template_parses() {
        assert_eq!(all().len(), KEYS.len());
        for t in all() {
            assert!(KEYS.contains(&t.key.as_str()));
            breeze_core::alerts::Condition::parse("conditions", &t.conditions).unwrap();
            breeze_core::alerts::Severity::parse("severity", &t.severity).unwrap();
        }
    }
}
