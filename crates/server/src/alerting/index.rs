//! The rule index: enabled rules per organization, and within one organization by the
//! metric they look at, so a heartbeat touches only the rules of its device's
//! organization that concern a metric it carries (a hash lookup when there are none).

use breeze_core::alerts::{Condition, Targets};
use breeze_proto::api::AlertRule;
use breeze_proto::ids::OrgId;
use std::collections::HashMap;
use std::sync::Arc;

/// A rule with its targets and conditions parsed.
#[derive(Debug)]
pub struct LoadedRule {
    pub rule: AlertRule,
    pub targets: Targets,
    pub conditions: Condition,
    /// Software leaves are events, not states: such rules never auto-resolve.
    pub has_software: bool,
    pub has_status: bool,
    /// Whether the tree is a single condition (its context is that condition's).
    pub single: bool,
}

impl LoadedRule {
    pub fn parse(rule: AlertRule) -> Result<Self, breeze_core::alerts::AlertError> {
        let targets = Targets::parse("targets", &rule.targets)?;
        let conditions = Condition::parse("conditions", &rule.conditions)?;
        Ok(LoadedRule {
            has_software: conditions.has_software(),
            has_status: conditions.has_status(),
            single: !matches!(conditions, Condition::All(_) | Condition::Any(_)),
            rule,
            targets,
            conditions,
        })
    }
}

/// One organization's rules.
#[derive(Debug, Default)]
pub struct OrgRules {
    pub rules: Vec<Arc<LoadedRule>>,
    /// Metric name (`cpu_percent`, `custom.load_1`) -> positions in `rules`.
    pub by_metric: HashMap<String, Vec<usize>>,
    /// Rules with an offline or no-data condition.
    pub status: Vec<usize>,
    /// Rules with a software condition.
    pub software: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct Index {
    pub orgs: HashMap<OrgId, OrgRules>,
}

impl Index {
    pub fn build(rules: Vec<AlertRule>) -> Index {
        let mut idx = Index::default();
        for r in rules.into_iter().filter(|r| r.enabled) {
            let id = r.id;
            let loaded = match LoadedRule::parse(r) {
                Ok(l) => Arc::new(l),
                Err(e) => {
                    tracing::warn!(rule = %id, error = %e, "alert rule no longer parses; skipped");
                    continue;
                }
            };
            let org = idx.orgs.entry(loaded.rule.org_id).or_default();
            let pos = org.rules.len();
            for m in loaded.conditions.metrics() {
                org.by_metric.entry(m.name()).or_default().push(pos);
            }
            if loaded.has_status {
                org.status.push(pos);
            }
            if loaded.has_software {
                org.software.push(pos);
            }
            org.rules.push(loaded);
        }
        idx
    }

    pub fn rule_count(&self) -> usize {
        self.orgs.values().map(|o| o.rules.len()).sum()
    }
}
