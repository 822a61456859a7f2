//! Alerting store (issue 11): `alert_rules`.
