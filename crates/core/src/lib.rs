//! Breeze domain rules with no IO: who may do what (permissions, roles, scopes), how input is
//! parsed into checked types, how the audit chain is computed, and the clock everything reads.

pub mod alerts;
pub mod audit_chain;
pub mod clock;
pub mod cron;
pub mod group_rules;
pub mod json_limits;
pub mod org_status;
pub mod outbound;
pub mod permissions;
pub mod policy_rules;
pub mod roles;
pub mod scope;
pub mod script_params;
pub mod settings;
pub mod token_rotation;
pub mod trust;
pub mod validate;

pub use clock::{Clock, FixedClock, SystemClock};
pub use permissions::{Action, Permission, PermissionSet, Resource};
pub use scope::{DeviceCoords, DeviceReach, OrgAccess, Scope, ScopeLevel, SiteAccess};
