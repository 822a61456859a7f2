//! Breeze's storage: every SQL statement, migrations for SQLite and PostgreSQL, and
//! repositories that take the caller's tenancy [`Scope`](breeze_core::Scope).

pub mod db;
mod error;
pub mod migrations;

pub use db::{Arg, Db, DbOptions, Engine, Q, Tx};
pub use error::StoreError;

pub mod audit;
pub mod device_groups;
pub mod listing;
pub mod orgs;
pub mod partners;
pub mod roles;
pub mod sessions;
pub mod setup;
pub mod sites;
mod tenancy;
pub mod users;
