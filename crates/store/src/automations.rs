//! automations (issue 13).
