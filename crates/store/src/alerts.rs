//! Alerting store (issue 11): `alerts`.
