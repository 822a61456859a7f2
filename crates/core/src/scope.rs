//! A request's reach: which partner, organizations, sites and device groups it may touch,
//! and with which permissions (DESIGN.md "Tenancy and access"). Resolved once per request;
//! every store call on tenant data takes it.

use crate::permissions::{Action, PermissionSet, Resource};
use breeze_proto::ids::{DeviceGroupId, DeviceId, OrgId, PartnerId, SiteId};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeLevel {
    /// A platform operator: manages partners, sees no tenant's data.
    System,
    /// Partner staff (MSP technicians): the partner's organizations, all or selected.
    Partner,
    /// A customer's user: one organization, optionally only some of its sites.
    Organization,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgAccess {
    /// Every organization of the scope's partner.
    All,
    /// Only these organizations (each belongs to the scope's partner).
    Only(BTreeSet<OrgId>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteAccess {
    All,
    Only(BTreeSet<SiteId>),
}

#[derive(Clone, Debug)]
pub struct Scope {
    pub level: ScopeLevel,
    /// The partner whose data is in reach; `None` only at `ScopeLevel::System`.
    pub partner_id: Option<PartnerId>,
    pub orgs: OrgAccess,
    pub sites: SiteAccess,
    /// `None`: every device group in reach of the sites above.
    pub device_groups: Option<BTreeSet<DeviceGroupId>>,
    pub permissions: PermissionSet,
}

impl Scope {
    pub fn system(permissions: PermissionSet) -> Self {
        Scope {
            level: ScopeLevel::System,
            partner_id: None,
            orgs: OrgAccess::Only(BTreeSet::new()),
            sites: SiteAccess::Only(BTreeSet::new()),
            device_groups: Some(BTreeSet::new()),
            permissions,
        }
    }

    pub fn partner(partner_id: PartnerId, orgs: OrgAccess, permissions: PermissionSet) -> Self {
        Scope {
            level: ScopeLevel::Partner,
            partner_id: Some(partner_id),
            orgs,
            sites: SiteAccess::All,
            device_groups: None,
            permissions,
        }
    }

    pub fn organization(
        partner_id: PartnerId,
        org_id: OrgId,
        sites: SiteAccess,
        device_groups: Option<BTreeSet<DeviceGroupId>>,
        permissions: PermissionSet,
    ) -> Self {
        Scope {
            level: ScopeLevel::Organization,
            partner_id: Some(partner_id),
            orgs: OrgAccess::Only(BTreeSet::from([org_id])),
            sites,
            device_groups,
            permissions,
        }
    }

    pub fn allows(&self, resource: Resource, action: Action) -> bool {
        self.permissions.allows(resource, action)
    }

    /// True for partner staff with access to every organization of their partner: only
    /// they see partner-level objects (partner users, partner roles, partner audit rows).
    pub fn is_partner_wide(&self) -> bool {
        self.level == ScopeLevel::Partner && self.orgs == OrgAccess::All
    }

    /// The single organization of an org-level scope.
    pub fn own_org(&self) -> Option<OrgId> {
        match (&self.level, &self.orgs) {
            (ScopeLevel::Organization, OrgAccess::Only(set)) => set.iter().next().copied(),
            _ => None,
        }
    }

    /// Whether an organization of `partner` is in reach.
    pub fn sees_org(&self, partner: PartnerId, org: OrgId) -> bool {
        if self.partner_id != Some(partner) {
            return false;
        }
        match &self.orgs {
            OrgAccess::All => true,
            OrgAccess::Only(set) => set.contains(&org),
        }
    }

    /// Whether a site (of an organization in reach) is in reach.
    pub fn sees_site(&self, partner: PartnerId, org: OrgId, site: SiteId) -> bool {
        self.sees_org(partner, org)
            && match &self.sites {
                SiteAccess::All => true,
                SiteAccess::Only(set) => set.contains(&site),
            }
    }

    /// True when the scope reaches every site of its organizations.
    pub fn all_sites(&self) -> bool {
        self.sites == SiteAccess::All
    }

    /// Whether a device at `at` is in reach, as far as its place in the tenancy tree tells.
    /// Device-group-limited scopes answer [`DeviceReach::IfInGroups`]: only the device's
    /// group memberships (which need the store) decide.
    pub fn reaches_device(&self, at: &DeviceCoords) -> DeviceReach {
        if !self.sees_site(at.partner_id, at.org_id, at.site_id) {
            DeviceReach::No
        } else if self.device_groups.is_some() {
            DeviceReach::IfInGroups
        } else {
            DeviceReach::Yes
        }
    }
}

/// Where a device sits in the tenancy tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCoords {
    pub partner_id: PartnerId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub device_id: DeviceId,
}

/// The answer of [`Scope::reaches_device`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceReach {
    No,
    Yes,
    /// In reach only if the device is a member of one of the scope's device groups.
    IfInGroups,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_scope_sees_only_its_org_and_sites() {
        let (p, o, s) = (PartnerId::new(), OrgId::new(), SiteId::new());
        let scope = Scope::organization(
            p,
            o,
            SiteAccess::Only(BTreeSet::from([s])),
            None,
            PermissionSet::default(),
        );
        assert!(scope.sees_org(p, o));
        assert!(!scope.sees_org(p, OrgId::new()));
        assert!(!scope.sees_org(PartnerId::new(), o));
        assert!(scope.sees_site(p, o, s));
        assert!(!scope.sees_site(p, o, SiteId::new()));
        assert!(!scope.is_partner_wide());
        assert_eq!(scope.own_org(), Some(o));
    }

    #[test]
    fn partner_scope_with_selected_orgs() {
        let (p, o1, o2) = (PartnerId::new(), OrgId::new(), OrgId::new());
        let scope = Scope::partner(
            p,
            OrgAccess::Only(BTreeSet::from([o1])),
            PermissionSet::default(),
        );
        assert!(scope.sees_org(p, o1));
        assert!(!scope.sees_org(p, o2));
        assert!(!scope.is_partner_wide());
        let all = Scope::partner(p, OrgAccess::All, PermissionSet::default());
        assert!(all.sees_org(p, o2) && all.is_partner_wide());
        assert!(!all.sees_org(PartnerId::new(), o2));
    }

    #[test]
    fn system_scope_sees_no_tenant() {
        let scope = Scope::system(PermissionSet::everything());
        assert!(!scope.sees_org(PartnerId::new(), OrgId::new()));
        let at = DeviceCoords {
            partner_id: PartnerId::new(),
            org_id: OrgId::new(),
            site_id: SiteId::new(),
            device_id: DeviceId::new(),
        };
        assert_eq!(scope.reaches_device(&at), DeviceReach::No);
    }

    #[test]
    fn device_reach_follows_partner_org_site_and_groups() {
        let (p, o, s) = (PartnerId::new(), OrgId::new(), SiteId::new());
        let at = DeviceCoords {
            partner_id: p,
            org_id: o,
            site_id: s,
            device_id: DeviceId::new(),
        };
        let perms = PermissionSet::default();
        let org = Scope::organization(p, o, SiteAccess::All, None, perms.clone());
        assert_eq!(org.reaches_device(&at), DeviceReach::Yes);
        let other_org = Scope::organization(p, OrgId::new(), SiteAccess::All, None, perms.clone());
        assert_eq!(other_org.reaches_device(&at), DeviceReach::No);
        let other_partner = Scope::partner(PartnerId::new(), OrgAccess::All, perms.clone());
        assert_eq!(other_partner.reaches_device(&at), DeviceReach::No);
        let other_site = Scope::organization(
            p,
            o,
            SiteAccess::Only(BTreeSet::from([SiteId::new()])),
            None,
            perms.clone(),
        );
        assert_eq!(other_site.reaches_device(&at), DeviceReach::No);
        let grouped = Scope::organization(
            p,
            o,
            SiteAccess::All,
            Some(BTreeSet::from([DeviceGroupId::new()])),
            perms.clone(),
        );
        assert_eq!(grouped.reaches_device(&at), DeviceReach::IfInGroups);
        let partner_wide = Scope::partner(p, OrgAccess::All, perms);
        assert_eq!(partner_wide.reaches_device(&at), DeviceReach::Yes);
    }
}
