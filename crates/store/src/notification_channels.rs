//! Alerting store (issue 11): `notification_channels`.
