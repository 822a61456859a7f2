//! Every type that crosses a Breeze process boundary.
//!
//! * [`api`]: request and response bodies of the HTTP API (`/api/v1/*`).
//! * [`agent`]: the agent protocol (enrollment, heartbeat, commands) and command signatures.
//! * [`cluster`]: between replicas (streams tunnelled to the replica holding a channel).
//! * [`ids`]: newtype identifiers so one kind of id can't be passed where another goes.

pub mod agent;
pub mod api;
pub mod cluster;
pub mod ids;
