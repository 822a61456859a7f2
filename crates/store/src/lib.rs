//! Breeze's storage: every SQL statement, migrations for SQLite and PostgreSQL, and
//! repositories that take the caller's tenancy [`Scope`](breeze_core::Scope).

pub mod db;
mod error;
pub mod migrations;
mod migrations_v10;
mod migrations_v11;
mod migrations_v12;
mod migrations_v2;
mod migrations_v3;
mod migrations_v4;
mod migrations_v5;
mod migrations_v6;
mod migrations_v7;
mod migrations_v8;
mod migrations_v9;

pub use db::{Arg, Db, DbOptions, Engine, Q, Tx};
pub use error::StoreError;

pub mod agents;
pub mod alert_rules;
pub mod alerts;
pub mod audit;
pub mod automation_runs;
pub mod automation_schedule;
pub mod automations;
pub mod command_sweeps;
pub mod commands;
pub mod deliveries;
pub mod device_events;
pub mod device_groups;
pub mod devices;
pub mod enrollment_keys;
pub mod escalation_policies;
pub mod file_transfers;
pub mod inventory;
pub mod inventory_lists;
pub mod jobs;
pub mod leases;
pub mod listing;
pub mod metrics;
pub mod notification_channels;
pub mod orgs;
pub mod partner_settings;
pub mod partners;
pub mod policies;
pub mod policy_compliance;
pub mod remote_sessions;
pub mod roles;
pub mod scripts;
pub mod sessions;
pub mod setup;
pub mod sites;
mod tenancy;
pub mod users;
