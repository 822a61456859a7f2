//! Newtype identifiers. Each wraps a UUID (v7, time-ordered, for new rows) so that a
//! `SiteId` can't be passed where a `DeviceId` goes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! define_id {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

define_id!(
    PartnerId,
    OrgId,
    SiteId,
    DeviceGroupId,
    DeviceId,
    UserId,
    RoleId,
    PermissionId,
    SessionId,
    ApiKeyId,
    AuditLogId,
    EnrollmentKeyId,
    CommandId,
    ScriptId,
    ExecutionId,
    AlertRuleId,
    AlertId,
    NotificationChannelId,
    EscalationPolicyId,
    DeliveryId,
    AutomationId,
    AutomationRunId,
    PolicyId,
    RemoteSessionId,
    FileTransferId,
);
