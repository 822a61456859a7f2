//! Desired-state policies (issue 13): rules evaluated on the agent, enforcement with
//! remediation, compliance per device and rule with aggregated counts.
//! Wire types are filled in by the policies work.

#[allow(unused_imports)]
use super::*;
