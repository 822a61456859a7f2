//! Alerting store (issue 11): `deliveries`.
