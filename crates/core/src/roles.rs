//! The built-in roles (seed 004 "Built-in System Roles" and seed 000's role table).

use crate::permissions::{Action, Permission, PermissionSet, Resource};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a role can be held: by partner staff (MSP technicians) or by an organization's users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleScope {
    System,
    Partner,
    Organization,
}

impl RoleScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            RoleScope::System => "system",
            RoleScope::Partner => "partner",
            RoleScope::Organization => "organization",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(RoleScope::System),
            "partner" => Some(RoleScope::Partner),
            "organization" => Some(RoleScope::Organization),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BuiltinRole {
    /// Fixed ids so every installation (and the tests) can name them.
    pub id: Uuid,
    pub name: &'static str,
    pub description: &'static str,
    pub scope: RoleScope,
    pub permissions: PermissionSet,
}

const fn role_id(n: u8) -> Uuid {
    Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, n])
}

pub const PARTNER_ADMIN: Uuid = role_id(1);
pub const PARTNER_TECHNICIAN: Uuid = role_id(2);
pub const PARTNER_VIEWER: Uuid = role_id(3);
pub const ORG_ADMIN: Uuid = role_id(4);
pub const ORG_TECHNICIAN: Uuid = role_id(5);
pub const ORG_VIEWER: Uuid = role_id(6);
pub const ORG_USER: Uuid = role_id(7);

fn read_all() -> impl Iterator<Item = Permission> {
    Resource::ALL
        .iter()
        .filter(|r| **r != Resource::Partners)
        .map(|r| Permission::new(*r, Action::Read))
}

/// Technician work: read everything in reach, manage and run things on devices.
///
/// Device permissions: `devices:write` edits a device's display name and tags;
/// `devices:admin` manages it (moves it to another site, quarantine, maintenance,
/// reactivation, pre-registering pending devices with an enrollment token);
/// `devices:execute` queues commands; `devices:delete` decommissions.
fn technician() -> PermissionSet {
    use Action::*;
    use Resource::*;
    read_all()
        .chain([
            Permission::new(Devices, Write),
            Permission::new(Devices, Admin),
            Permission::new(Devices, Execute),
            Permission::new(DeviceGroups, Write),
            Permission::new(Scripts, Write),
            Permission::new(Scripts, Execute),
            Permission::new(Alerts, Write),
            Permission::new(Automations, Execute),
            Permission::new(EnrollmentKeys, Write),
            Permission::new(Remote, Execute),
            Permission::new(RemoteDesktop, Execute),
        ])
        .collect()
}

fn admin_within(exclude_partners: bool) -> PermissionSet {
    Permission::all()
        .filter(|p| !(exclude_partners && p.resource == Resource::Partners))
        .collect()
}

pub fn builtin_roles() -> Vec<BuiltinRole> {
    use Action::*;
    use Resource::*;
    vec![
        BuiltinRole {
            id: PARTNER_ADMIN,
            name: "Partner Admin",
            description: "Full access to the partner and all its organizations",
            scope: RoleScope::Partner,
            permissions: admin_within(false),
        },
        BuiltinRole {
            id: PARTNER_TECHNICIAN,
            name: "Partner Technician",
            description: "Access to assigned organizations; manage devices and execute scripts",
            scope: RoleScope::Partner,
            permissions: technician(),
        },
        BuiltinRole {
            id: PARTNER_VIEWER,
            name: "Partner Viewer",
            description: "Read-only access to assigned organizations",
            scope: RoleScope::Partner,
            permissions: read_all().collect(),
        },
        BuiltinRole {
            id: ORG_ADMIN,
            name: "Org Admin",
            description: "Full access within the organization",
            scope: RoleScope::Organization,
            permissions: admin_within(true),
        },
        BuiltinRole {
            id: ORG_TECHNICIAN,
            name: "Org Technician",
            description: "Execute scripts and manage devices within the organization",
            scope: RoleScope::Organization,
            permissions: technician(),
        },
        BuiltinRole {
            id: ORG_VIEWER,
            name: "Org Viewer",
            description: "Read-only access within the organization",
            scope: RoleScope::Organization,
            permissions: read_all().collect(),
        },
        BuiltinRole {
            id: ORG_USER,
            name: "Org User",
            description: "Read access plus limited writes (device names and tags, alert handling)",
            scope: RoleScope::Organization,
            permissions: [
                Permission::new(Orgs, Read),
                Permission::new(Sites, Read),
                Permission::new(Devices, Read),
                Permission::new(Devices, Write),
                Permission::new(DeviceGroups, Read),
                Permission::new(Scripts, Read),
                Permission::new(Alerts, Read),
                Permission::new(Alerts, Write),
            ]
            .into_iter()
            .collect(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_have_distinct_ids_and_sensible_power() {
        let roles = builtin_roles();
        let mut ids: Vec<_> = roles.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 7);
        let by = |id| {
            roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.permissions.clone())
        };
        let (pa, pt, pv) = (
            by(PARTNER_ADMIN),
            by(PARTNER_TECHNICIAN),
            by(PARTNER_VIEWER),
        );
        let (pa, pt, pv) = (
            pa.unwrap_or_default(),
            pt.unwrap_or_default(),
            pv.unwrap_or_default(),
        );
        assert!(pa.covers(&pt) && pt.covers(&pv));
        assert!(!pv.allows(Resource::Scripts, Action::Execute));
        assert!(pt.allows(Resource::Scripts, Action::Execute));
        assert!(!pt.allows(Resource::Users, Action::Write));
        let oa = by(ORG_ADMIN).unwrap_or_default();
        assert!(!oa.allows(Resource::Partners, Action::Write));
        assert!(oa.allows(Resource::Users, Action::Write));
    }

    #[test]
    fn org_user_edits_names_and_tags_but_does_not_manage_devices() {
        let roles = builtin_roles();
        let perms = |id| {
            roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.permissions.clone())
                .unwrap_or_default()
        };
        let ou = perms(ORG_USER);
        assert!(ou.allows(Resource::Devices, Action::Write));
        assert!(!ou.allows(Resource::Devices, Action::Admin));
        assert!(!ou.allows(Resource::Devices, Action::Execute));
        assert!(!ou.allows(Resource::Devices, Action::Delete));
        assert!(!ou.allows(Resource::EnrollmentKeys, Action::Write));
        for id in [ORG_TECHNICIAN, ORG_ADMIN, PARTNER_TECHNICIAN, PARTNER_ADMIN] {
            assert!(perms(id).allows(Resource::Devices, Action::Admin), "{id}");
        }
        for id in [ORG_VIEWER, PARTNER_VIEWER] {
            assert!(!perms(id).allows(Resource::Devices, Action::Admin), "{id}");
        }
    }
}
