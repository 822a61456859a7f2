//! Outbound delivery on tenants' behalf: the address guard every connection goes through
//! (`guard`, with the resolver tests control in `resolve`), the channels (`mail` today;
//! webhooks, chat, paging and SMS later) and the durable delivery queue (`queue`).

pub mod alerts;
pub mod guard;
pub mod mail;
pub mod queue;
pub mod resolve;
