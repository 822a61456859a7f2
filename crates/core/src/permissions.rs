//! Permissions are resource × action pairs (seed 004 "Permission"). A role holds a set of
//! them; `*` stands for every resource or every action.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)*
                    other => Err(format!("unknown {} `{other}`", stringify!($name).to_lowercase())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What a permission is about.
    Resource {
        Partners = "partners",
        Orgs = "orgs",
        Sites = "sites",
        Users = "users",
        Roles = "roles",
        Devices = "devices",
        DeviceGroups = "device_groups",
        Scripts = "scripts",
        Alerts = "alerts",
        Automations = "automations",
        Audit = "audit",
        EnrollmentKeys = "enrollment_keys",
        Remote = "remote",
        RemoteDesktop = "remote_desktop",
        Settings = "settings",
        ApiKeys = "api_keys",
    }
);

string_enum!(
    /// What may be done to a resource.
    Action {
        Read = "read",
        Write = "write",
        Delete = "delete",
        Execute = "execute",
        Admin = "admin",
    }
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub resource: Resource,
    pub action: Action,
}

impl Permission {
    pub const fn new(resource: Resource, action: Action) -> Self {
        Self { resource, action }
    }

    /// Every permission that exists, in a stable order (the `permissions` table's rows).
    pub fn all() -> impl Iterator<Item = Permission> {
        Resource::ALL
            .iter()
            .flat_map(|r| Action::ALL.iter().map(|a| Permission::new(*r, *a)))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (r, a) = s
            .split_once(':')
            .ok_or_else(|| format!("permission `{s}` must look like resource:action"))?;
        Ok(Permission::new(r.parse()?, a.parse()?))
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The permissions a principal holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    pub fn new(perms: impl IntoIterator<Item = Permission>) -> Self {
        Self(perms.into_iter().collect())
    }

    /// Every permission there is.
    pub fn everything() -> Self {
        Self::new(Permission::all())
    }

    pub fn allows(&self, resource: Resource, action: Action) -> bool {
        self.0.contains(&Permission::new(resource, action))
    }

    /// True when every permission in `other` is also in `self`: a user may only grant
    /// what they hold themselves.
    pub fn covers(&self, other: &PermissionSet) -> bool {
        other.0.is_subset(&self.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self::new(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_round_trips_through_its_string_form() {
        for p in Permission::all() {
            assert_eq!(p.to_string().parse::<Permission>(), Ok(p));
        }
        assert!("devices".parse::<Permission>().is_err());
        assert!("devices:fly".parse::<Permission>().is_err());
    }

    #[test]
    fn covers_is_subset() {
        let small = PermissionSet::new([Permission::new(Resource::Devices, Action::Read)]);
        let big = PermissionSet::everything();
        assert!(big.covers(&small));
        assert!(!small.covers(&big));
    }
}
