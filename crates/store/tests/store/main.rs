//! The store suite: every test runs on SQLite, and on PostgreSQL when
//! `BREEZE_TEST_DATABASE_URL` is set (CI sets it, so PostgreSQL is never silently skipped
//! there). One test binary, modules per concept.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod audit;
mod audit_scope;
mod automations;
mod commands;
mod enrollment_keys;
mod fixtures;
mod harness;
mod heartbeats;
mod jobs;
mod metrics;
mod partner_settings;
mod policies;
mod pools;
mod remote;
mod schema;
mod sessions;
mod tenancy;
