//! Request and response bodies of the HTTP API (`/api/v1/*`). Lists answer
//! `{"data": [...], "next_cursor": ...}`; errors answer `{"error": {"code", "message", "field"}}`.

use crate::ids::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

macro_rules! api_type {
    ($($item:item)*) => {$(
        #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        $item
    )*};
}

/// Same as `api_type!` for request bodies: unknown fields are refused, so a typo such as
/// `"passwrod"` is an error instead of being ignored.
macro_rules! request_type {
    ($($item:item)*) => {$(
        #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        #[serde(deny_unknown_fields)]
        $item
    )*};
}

// ---------------------------------------------------------------- errors and lists

api_type! {
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    pub struct ErrorDetail {
        /// Stable machine-readable code: `validation`, `not_found`, `conflict`, `unauthorized`,
        /// `forbidden`, `rate_limited`, `payload_too_large`, `unsupported_media_type`, `internal`, ...
        pub code: String,
        pub message: String,
        /// The request field the error is about, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub field: Option<String>,
    }
}

/// A page of a list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A single object wrapped as `{"data": ...}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Data<T> {
    pub data: T,
}

/// Query parameters every list takes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct ListParams {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Sort field, `-field` for descending (each list names the fields it sorts by).
    pub sort: Option<String>,
    /// Case-insensitive text search over the list's name-like fields.
    pub q: Option<String>,
}

/// `GET /api/v1/users` query: users come in a fixed order (no `sort`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct UserListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Searches e-mail and name.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

/// `GET /api/v1/partners` query: partners come in a fixed order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct PartnerListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// `GET /api/v1/orgs/{id}/sites` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct SiteListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::site_sort))]
    pub sort: Option<String>,
    /// Searches the site name.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
}

// ---------------------------------------------------------------- setup and auth

api_type! {
    pub struct SetupStatus {
        /// True while no user exists and `POST /api/v1/setup` is open.
        pub needs_setup: bool,
    }

    pub struct TokenPair {
        pub access_token: String,
        pub refresh_token: String,
        pub token_type: String,
        /// Seconds until the access token expires.
        pub expires_in: i64,
    }

    /// Either tokens, or (when MFA is on) a challenge to answer at `/auth/mfa/verify`.
    pub struct LoginResponse {
        #[serde(default)]
        pub mfa_required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub mfa_token: Option<String>,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        pub tokens: Option<TokenPair>,
    }

    pub struct MfaSetupResponse {
        /// Base32 TOTP secret.
        pub secret: String,
        /// `otpauth://totp/...` URI for authenticator apps (render as a QR code).
        pub otpauth_uri: String,
        /// One-time recovery codes; shown once.
        pub recovery_codes: Vec<String>,
    }

    pub struct MfaVerifyResponse {
        /// True when this call turned MFA on (enrolment confirmed).
        pub mfa_enabled: bool,
        /// Present when this call completed a login.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        pub tokens: Option<TokenPair>,
    }

    pub struct OkBody {
        pub ok: bool,
    }

    pub struct Me {
        pub user: User,
        /// When this user signed in before the sign-in of this session; absent on their
        /// first (the console greets "Welcome" then, "Welcome back" after).
        #[serde(default)]
        pub previous_login_at: Option<DateTime<Utc>>,
        /// `system`, `partner` or `organization`.
        pub scope_level: String,
        pub partner_id: Option<PartnerId>,
        /// The organization of an org-scoped user.
        pub org_id: Option<OrgId>,
        pub role: Option<RoleSummary>,
        /// `resource:action` strings.
        pub permissions: Vec<String>,
        /// `all` or `selected` (partner users).
        pub org_access: Option<String>,
        pub org_ids: Option<Vec<OrgId>>,
        pub site_ids: Option<Vec<SiteId>>,
        /// True when the partner requires two-factor authentication and this user has not
        /// set it up: every other request answers 403 `mfa_enrollment_required` until
        /// they do (`/auth/mfa/setup`, `/auth/mfa/verify`).
        #[serde(default)]
        pub mfa_enrollment_required: bool,
        /// The partner's idle timeout: the console signs out after this long without use.
        #[serde(default)]
        pub idle_timeout_minutes: Option<i64>,
    }

    pub struct RoleSummary {
        pub id: RoleId,
        pub name: String,
    }
}

request_type! {
    pub struct SetupRequest {
        pub setup_token: String,
        pub partner_name: String,
        pub admin_name: String,
        pub admin_email: String,
        /// 12 to 512 characters.
        #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 512))]
        pub admin_password: String,
    }

    pub struct LoginRequest {
        pub email: String,
        pub password: String,
    }

    pub struct MfaVerifyRequest {
        /// The challenge from login; absent when confirming enrolment (then the access token is used).
        #[serde(default)]
        pub mfa_token: Option<String>,
        /// A 6-digit TOTP code or a recovery code.
        pub code: String,
    }

    pub struct RefreshRequest {
        pub refresh_token: String,
    }

    pub struct LogoutRequest {
        /// When given, the refresh token's whole family is revoked too.
        #[serde(default)]
        pub refresh_token: Option<String>,
    }

    pub struct ForgotPasswordRequest {
        pub email: String,
    }

    pub struct ResetPasswordRequest {
        pub token: String,
        /// 12 to 512 characters.
        #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 512))]
        pub password: String,
    }

    pub struct AcceptInviteRequest {
        pub token: String,
        /// 12 to 512 characters.
        #[cfg_attr(feature = "openapi", schema(min_length = 12, max_length = 512))]
        pub password: String,
        #[serde(default)]
        pub name: Option<String>,
    }
}

// ---------------------------------------------------------------- partners and organizations

api_type! {
    pub struct Partner {
        pub id: PartnerId,
        pub name: String,
        pub slug: String,
        #[serde(rename = "type")]
        pub partner_type: String,
        pub plan: String,
        pub max_organizations: Option<i64>,
        pub max_devices: Option<i64>,
        pub settings: Value,
        pub billing_email: Option<String>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    pub struct PartnerCreated {
        pub partner: Partner,
        /// Single-use link for the partner's first admin (also e-mailed when SMTP is set).
        pub admin_invite_token: Option<String>,
    }

    pub struct Organization {
        pub id: OrgId,
        pub partner_id: PartnerId,
        pub name: String,
        pub slug: String,
        #[serde(rename = "type")]
        pub org_type: String,
        pub status: String,
        pub max_devices: Option<i64>,
        pub settings: Value,
        pub contract_start: Option<NaiveDate>,
        pub contract_end: Option<NaiveDate>,
        pub billing_contact: Option<Value>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    pub struct Site {
        pub id: SiteId,
        pub org_id: OrgId,
        pub name: String,
        pub address: Option<Value>,
        pub timezone: String,
        pub contact: Option<Value>,
        pub settings: Value,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    pub struct DeviceGroup {
        pub id: DeviceGroupId,
        pub org_id: OrgId,
        pub site_id: Option<SiteId>,
        pub name: String,
        /// `static` or `dynamic`.
        #[serde(rename = "type")]
        pub group_type: String,
        pub rules: Option<Value>,
        pub parent_id: Option<DeviceGroupId>,
        pub member_count: i64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

request_type! {
    pub struct CreatePartner {
        pub name: String,
        #[serde(default)]
        pub slug: Option<String>,
        /// `msp` (default), `enterprise` or `internal`.
        #[serde(default, rename = "type")]
        pub partner_type: Option<String>,
        /// `free` (default), `pro`, `enterprise` or `unlimited`.
        #[serde(default)]
        pub plan: Option<String>,
        #[serde(default)]
        pub max_organizations: Option<i64>,
        #[serde(default)]
        pub max_devices: Option<i64>,
        #[serde(default)]
        pub billing_email: Option<String>,
        /// When given, the partner's first Partner Admin is invited.
        #[serde(default)]
        pub admin_email: Option<String>,
        #[serde(default)]
        pub admin_name: Option<String>,
    }

    pub struct CreateOrganization {
        pub name: String,
        #[serde(default)]
        pub slug: Option<String>,
        /// `customer` (default) or `internal`.
        #[serde(default, rename = "type")]
        pub org_type: Option<String>,
        /// `active` (default), `trial`, `suspended` or `churned`.
        #[serde(default)]
        pub status: Option<String>,
        #[serde(default)]
        pub max_devices: Option<i64>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub settings: Option<Value>,
        #[serde(default)]
        pub contract_start: Option<NaiveDate>,
        #[serde(default)]
        pub contract_end: Option<NaiveDate>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub billing_contact: Option<Value>,
    }

    /// Fields absent from the body stay as they are.
    pub struct UpdateOrganization {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub slug: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_devices: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub settings: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub contract_start: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub contract_end: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub billing_contact: Option<Value>,
    }

    pub struct CreateSite {
        pub name: String,
        /// IANA time zone (default `UTC`).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(example = "Europe/Berlin"))]
        pub timezone: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub address: Option<Value>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub contact: Option<Value>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub settings: Option<Value>,
    }

    pub struct UpdateSite {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        /// An IANA time zone name.
        #[cfg_attr(feature = "openapi", schema(example = "Europe/Berlin"))]
        pub timezone: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub address: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub contact: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub settings: Option<Value>,
    }

    pub struct CreateDeviceGroup {
        pub org_id: OrgId,
        #[serde(default)]
        pub site_id: Option<SiteId>,
        pub name: String,
        /// `static` (default) or `dynamic`.
        #[serde(default, rename = "type")]
        pub group_type: Option<String>,
        /// Dynamic groups: `{"all": [{"field": "os_type", "op": "eq", "value": "linux"}, ...]}`.
        #[serde(default)]
        pub rules: Option<Value>,
        #[serde(default)]
        pub parent_id: Option<DeviceGroupId>,
    }

    pub struct UpdateDeviceGroup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rules: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent_id: Option<DeviceGroupId>,
    }

    pub struct GroupMembers {
        pub device_ids: Vec<DeviceId>,
    }
}

// ---------------------------------------------------------------- users and roles

api_type! {
    pub struct User {
        pub id: UserId,
        pub email: String,
        pub name: String,
        /// `active`, `invited` or `disabled`.
        pub status: String,
        pub mfa_enabled: bool,
        pub last_login_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
    }

    /// A user as seen in a tenant: the account plus its membership.
    pub struct Member {
        #[serde(flatten)]
        pub user: User,
        pub role_id: RoleId,
        pub role_name: String,
        pub partner_id: Option<PartnerId>,
        pub org_id: Option<OrgId>,
        pub org_access: Option<String>,
        pub org_ids: Option<Vec<OrgId>>,
        pub site_ids: Option<Vec<SiteId>>,
        pub device_group_ids: Option<Vec<DeviceGroupId>>,
    }

    pub struct Invited {
        pub member: Member,
        /// Single-use invitation token. Accept it at `POST /api/v1/auth/accept-invite`.
        pub invite_token: String,
        /// Whether an invitation e-mail with the link was queued (an SMTP server is set up
        /// for the partner or the server). When false nothing was sent: pass the link on.
        #[serde(default)]
        pub email_queued: bool,
    }

    pub struct Role {
        pub id: RoleId,
        pub partner_id: Option<PartnerId>,
        pub org_id: Option<OrgId>,
        /// `partner` or `organization`: which kind of membership can hold it.
        pub scope: String,
        pub name: String,
        pub description: Option<String>,
        pub is_system: bool,
        pub permissions: Vec<String>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    pub struct PermissionInfo {
        pub resource: String,
        pub action: String,
    }
}

request_type! {
    pub struct InviteUser {
        pub email: String,
        pub name: String,
        pub role_id: RoleId,
        /// For a customer (organization) user; absent for partner staff.
        #[serde(default)]
        pub org_id: Option<OrgId>,
        /// Partner staff: `all`, or `selected` with `org_ids`. Required for partner staff
        /// unless `org_ids` is given (which means `selected`); never defaults to `all`.
        #[serde(default)]
        pub org_access: Option<String>,
        #[serde(default)]
        pub org_ids: Option<Vec<OrgId>>,
        /// Organization users: restrict to these sites (absent = all sites).
        #[serde(default)]
        pub site_ids: Option<Vec<SiteId>>,
        #[serde(default)]
        pub device_group_ids: Option<Vec<DeviceGroupId>>,
    }

    pub struct UpdateMember {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role_id: Option<RoleId>,
        /// `active` or `disabled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        /// Partner staff: `all` or `selected`. `org_ids` alone means `selected`; both absent
        /// leave the reach unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub org_access: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub org_ids: Option<Vec<OrgId>>,
        /// `[]` is refused; `null` means all sites.
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub site_ids: Option<Option<Vec<SiteId>>>,
        #[serde(default, with = "double_option", skip_serializing_if = "Option::is_none")]
        pub device_group_ids: Option<Option<Vec<DeviceGroupId>>>,
    }

    pub struct CreateRole {
        pub name: String,
        #[serde(default)]
        pub description: Option<String>,
        /// `partner` or `organization`.
        pub scope: String,
        /// For an organization-only role created by partner staff.
        #[serde(default)]
        pub org_id: Option<OrgId>,
        pub permissions: Vec<String>,
    }

    pub struct UpdateRole {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub permissions: Option<Vec<String>>,
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None | Some(None) => s.serialize_none(),
            Some(Some(x)) => x.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

// ---------------------------------------------------------------- audit

api_type! {
    pub struct AuditEntry {
        pub id: AuditLogId,
        pub seq: i64,
        pub timestamp: DateTime<Utc>,
        pub partner_id: Option<PartnerId>,
        pub org_id: Option<OrgId>,
        /// `user`, `api_key`, `agent` or `system`.
        pub actor_type: String,
        pub actor_id: Option<uuid::Uuid>,
        pub actor_email: Option<String>,
        pub action: String,
        pub resource_type: String,
        pub resource_id: Option<String>,
        pub resource_name: Option<String>,
        pub details: Value,
        pub ip_address: Option<String>,
        pub user_agent: Option<String>,
        /// `success`, `failure` or `denied`.
        pub result: String,
        pub error_message: Option<String>,
        pub checksum: String,
        /// The site the row concerns; absent for organization- and partner-level rows,
        /// which only users who reach every site of the organization see.
        #[serde(default)]
        pub site_id: Option<SiteId>,
        /// The device the row concerns.
        #[serde(default)]
        pub device_id: Option<DeviceId>,
    }

    pub struct AuditSummary {
        pub total: i64,
        pub by_action: Vec<CountBy>,
        pub by_result: Vec<CountBy>,
        pub by_actor: Vec<CountBy>,
    }

    pub struct CountBy {
        pub key: String,
        pub count: i64,
    }
}

/// Filters of `GET /api/v1/audit/logs` and its export.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Actor id or e-mail.
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` / `*` (e.g. `auth.`).
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub result: Option<String>,
    pub org_id: Option<OrgId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::export_format))]
    pub format: Option<String>,
}

/// `GET /api/v1/orgs` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct OrgListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::org_sort))]
    pub sort: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::org_status))]
    pub status: Option<String>,
}

/// `GET /api/v1/device-groups` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct GroupListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::group_sort))]
    pub sort: Option<String>,
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::search))]
    pub q: Option<String>,
    pub org_id: Option<OrgId>,
    pub site_id: Option<SiteId>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", param(schema_with = crate::api::vocab::schema::group_type))]
    pub group_type: Option<String>,
}

api_type! {
    pub struct DeviceIds {
        pub device_ids: Vec<DeviceId>,
    }

    pub struct Changed {
        /// How many rows the request changed.
        pub changed: u64,
    }
}

// ---------------------------------------------------------------- devices, scripts (issue 3)

mod automations;
pub use automations::*;
mod devices;
pub use devices::*;
mod policies;
pub use policies::*;
mod events;
pub mod vocab;
pub use events::*;
mod downloads;
pub use downloads::*;

// ---------------------------------------------------------------- partner settings

mod settings;
pub use settings::*;

// ---------------------------------------------------------------- alerting (issue 11)

mod alerts;
pub use alerts::*;

// ---------------------------------------------------------------- remote access (issue 12)

mod remote;
pub use remote::*;
mod remote_files;
pub use remote_files::*;
mod remote_desktop;
pub use remote_desktop::*;
