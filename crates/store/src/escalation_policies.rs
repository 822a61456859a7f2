//! Alerting store (issue 11): `escalation_policies`.
