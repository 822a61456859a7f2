//! Breeze's storage: every SQL statement, migrations for SQLite and PostgreSQL, and
//! repositories that take the caller's tenancy [`Scope`](breeze_core::Scope).

pub mod db;
mod error;
pub mod migrations;

pub use db::{Arg, Db, DbOptions, Engine, Q, Tx};
pub use error::StoreError;
