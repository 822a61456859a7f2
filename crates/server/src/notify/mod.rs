//! Outbound delivery on tenants' behalf: the address guard every connection goes through
//! (`guard`, with the resolver tests control in `resolve`), the channels (`mail`; webhooks,
//! Slack, Teams, PagerDuty and SMS over `http`, configured and composed in `channels`),
//! alert notifications and escalation (`alerts`) and the durable delivery queue (`queue`).

pub mod alerts;
pub mod channels;
pub mod guard;
pub mod http;
pub mod mail;
pub mod queue;
pub mod resolve;
