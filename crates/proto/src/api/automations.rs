//! Automations (issue 13): workflows with a trigger (schedule, event, webhook, manual),
//! targets (the alert-rule shape), ordered actions, and the runs they make.
//! Wire types are filled in by the automations work.

#[allow(unused_imports)]
use super::*;
