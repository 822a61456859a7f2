//! Migration 12 (issue 14, enrollment at fleet scale): a partial index on the fingerprints
//! of suspended devices. Every enrollment asks whether its fingerprint belongs to a
//! suspended device of the same partner (seed 000: "Re-enrollment is blocked until
//! cleared"). Over the whole fingerprint index PostgreSQL's planner, whose row estimates
//! lag a table growing by hundreds of devices a second, combined it with the
//! organization index and read every device of the organization: 50 ms per enrollment at
//! 70,000 devices, growing with the fleet. Suspended devices are few, so this index is
//! tiny and the question costs the same at any fleet size.

use crate::migrations::Step;

pub(crate) fn v12() -> Vec<Step> {
    vec![Step::Same(
        "CREATE INDEX ix_devices_suspended_fingerprint ON devices (fingerprint) \
         WHERE agent_token_suspended_at IS NOT NULL",
    )]
}
