//! `breeze-agent`: the Breeze endpoint agent.
//!
//! The binary (`main.rs`) is a thin CLI over this library so the integration tests
//! (`tests/main.rs`) drive the same code the service runs. The wire protocol lives in
//! `breeze_proto::agent`; see its module docs for endpoints and JSON shapes.

pub mod api;
pub mod backoff;
pub mod channel;
pub mod clock;
pub mod collectors;
pub mod commands;
pub mod config;
pub mod durable;
pub mod enroll;
pub mod executor;
pub mod install;
pub mod inventory;
pub mod live_output;
pub mod outbox;
pub mod output;
pub mod policy;
pub mod process_tree;
pub mod remote;
pub mod replay;
pub mod service;
pub mod state;
pub mod tls;

/// This agent's version, reported at enrollment and in every heartbeat.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
