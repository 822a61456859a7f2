//! API tests: a real server on port 0 with a throwaway database, driven by the typed client.
//! One test binary; modules per concept.

// Test code: a failed expectation should panic with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod access;
mod alerts;
mod api_types;
mod audit_reasons;
mod audit_writer;
mod auth;
mod automation_triggers;
mod automations;
mod channels;
mod contract;
mod device_console;
mod device_snapshots;
mod device_state;
mod enrollment_keys;
mod escalation;
mod events;
mod files;
mod groups;
mod harness;
mod heartbeat_batches;
mod http2_channels;
mod job_leases;
mod json_limits;
mod live_output;
mod mail_aiosmtpd;
mod metrics;
mod onboarding;
mod openapi;
mod outbound;
mod overload;
mod policies;
mod remote;
mod replicas;
mod settings;
mod smtp;
mod tenancy;
mod validation;
