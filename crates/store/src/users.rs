//! User accounts and their memberships (partner staff or organization users), and the
//! resolution of a user into the [`Scope`] their requests carry.

use crate::StoreError;
use crate::db::{Count, Db, Q, Tx};
use crate::roles;
use crate::tenancy;
use breeze_core::permissions::{Action, Permission, PermissionSet, Resource};
use breeze_core::scope::{OrgAccess, Scope, SiteAccess};
use breeze_core::validate::Email;
use breeze_proto::api;
use breeze_proto::ids::{DeviceGroupId, OrgId, PartnerId, RoleId, SiteId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use std::collections::BTreeSet;
use uuid::Uuid;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub mfa_secret: Option<String>,
    pub mfa_enabled: bool,
    pub mfa_recovery_codes: Json<Vec<String>>,
    pub mfa_last_step: Option<i64>,
    pub status: String,
    pub is_platform_admin: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn id(&self) -> UserId {
        UserId(self.id)
    }

    pub fn to_api(&self) -> api::User {
        api::User {
            id: UserId(self.id),
            email: self.email.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            mfa_enabled: self.mfa_enabled,
            last_login_at: self.last_login_at,
            created_at: self.created_at,
        }
    }
}

const USER_COLS: &str = "SELECT u.id, u.email, u.name, u.password_hash, u.mfa_secret, u.mfa_enabled, \
    u.mfa_recovery_codes, u.mfa_last_step, u.status, u.is_platform_admin, u.last_login_at, u.created_at FROM users u";

pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let c: Count = db.one(Q::new("SELECT COUNT(*) AS n FROM users")).await?;
    Ok(c.n)
}

/// Looks up an account by e-mail. Not scoped: used by login and password reset, which
/// answer the same whether or not the account exists.
pub async fn by_email_for_auth(db: &Db, email: &Email) -> Result<Option<UserRow>, StoreError> {
    let mut q = Q::new(USER_COLS);
    q.push(" WHERE u.email = ")
        .push_bind(email.as_str())
        .push(" AND u.deleted_at IS NULL");
    db.optional(q).await
}

/// Looks up an account by id for the authentication layer (the session already proved who
/// it is). Not scoped.
pub async fn by_id_for_auth(db: &Db, id: UserId) -> Result<UserRow, StoreError> {
    let mut q = Q::new(USER_COLS);
    q.push(" WHERE u.id = ")
        .push_bind(id)
        .push(" AND u.deleted_at IS NULL");
    db.one(q).await
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    /// `active` or `invited`.
    pub status: &'a str,
    pub is_platform_admin: bool,
}

pub async fn insert(
    tx: &mut Tx,
    new: &NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<UserId, StoreError> {
    let id = UserId::new();
    tx.exec(
        Q::new(
            "INSERT INTO users (id, email, name, password_hash, mfa_secret, mfa_enabled, mfa_recovery_codes, \
             status, is_platform_admin, password_changed_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(new.email.as_str())
        .bind(new.name)
        .bind(new.password_hash)
        .bind(false)
        .bind(Value::Array(vec![]))
        .bind(new.status)
        .bind(new.is_platform_admin)
        .bind(new.password_hash.map(|_| now))
        .bind(now)
        .bind(now),
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict("a user with this e-mail already exists".into()),
        e => e,
    })?;
    Ok(id)
}

pub async fn set_password(
    db: &Db,
    id: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?, \
             status = CASE WHEN status = 'invited' THEN 'active' ELSE status END WHERE id = ?",
        )
        .bind(hash)
        .bind(now)
        .bind(now)
        .bind(id),
    )
    .await
    .map(|_| ())
}

pub async fn set_name(
    db: &Db,
    id: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE users SET name = ?, updated_at = ? WHERE id = ?")
            .bind(name)
            .bind(now)
            .bind(id),
    )
    .await
    .map(|_| ())
}

pub async fn set_status(
    db: &Db,
    id: UserId,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE users SET status = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(now)
            .bind(id),
    )
    .await
    .map(|_| ())
}

pub async fn touch_login(db: &Db, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE users SET last_login_at = ? WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await
    .map(|_| ())
}

/// Stores a pending (not yet enabled) MFA secret, already encrypted, and hashed recovery codes.
pub async fn set_pending_mfa(
    db: &Db,
    id: UserId,
    encrypted_secret: &str,
    recovery_hashes: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE users SET mfa_secret = ?, mfa_recovery_codes = ?, mfa_enabled = ?, mfa_last_step = NULL, \
             updated_at = ? WHERE id = ?",
        )
        .bind(encrypted_secret)
        .bind(serde_json::json!(recovery_hashes))
        .bind(false)
        .bind(now)
        .bind(id),
    )
    .await
    .map(|_| ())
}

pub async fn enable_mfa(db: &Db, id: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE users SET mfa_enabled = ?, updated_at = ? WHERE id = ?")
            .bind(true)
            .bind(now)
            .bind(id),
    )
    .await
    .map(|_| ())
}

/// Records the TOTP time step just used, only if it is newer than the last one: answers
/// false for a replayed code.
pub async fn consume_totp_step(db: &Db, id: UserId, step: i64) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new("UPDATE users SET mfa_last_step = ? WHERE id = ? AND (mfa_last_step IS NULL OR mfa_last_step < ?)")
                .bind(step)
                .bind(id)
                .bind(step),
        )
        .await?;
    Ok(n == 1)
}

/// Replaces the recovery code list (after one was used).
pub async fn set_recovery_codes(db: &Db, id: UserId, hashes: &[String]) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE users SET mfa_recovery_codes = ? WHERE id = ?")
            .bind(serde_json::json!(hashes))
            .bind(id),
    )
    .await
    .map(|_| ())
}

// ------------------------------------------------------------------ memberships

/// A user's membership: partner staff or an organization's user.
#[derive(Clone, Debug)]
pub enum Membership {
    Partner {
        partner_id: PartnerId,
        role_id: RoleId,
        org_access: OrgAccess,
    },
    Organization {
        partner_id: PartnerId,
        org_id: OrgId,
        role_id: RoleId,
        sites: SiteAccess,
        device_groups: Option<BTreeSet<DeviceGroupId>>,
    },
}

impl Membership {
    pub fn role_id(&self) -> RoleId {
        match self {
            Membership::Partner { role_id, .. } | Membership::Organization { role_id, .. } => {
                *role_id
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    kind: String,
    partner_id: Uuid,
    org_id: Option<Uuid>,
    role_id: Uuid,
    org_access: Option<String>,
    org_ids: Option<Json<Vec<Uuid>>>,
    site_ids: Option<Json<Vec<Uuid>>>,
    device_group_ids: Option<Json<Vec<Uuid>>>,
}

impl MembershipRow {
    fn into_membership(self) -> Result<Membership, StoreError> {
        Ok(match self.kind.as_str() {
            "partner" => Membership::Partner {
                partner_id: PartnerId(self.partner_id),
                role_id: RoleId(self.role_id),
                org_access: match self.org_access.as_deref() {
                    Some("all") => OrgAccess::All,
                    Some("selected") => OrgAccess::Only(
                        self.org_ids
                            .map(|j| j.0)
                            .unwrap_or_default()
                            .into_iter()
                            .map(OrgId)
                            .collect(),
                    ),
                    _ => OrgAccess::Only(BTreeSet::new()),
                },
            },
            _ => Membership::Organization {
                partner_id: PartnerId(self.partner_id),
                org_id: OrgId(
                    self.org_id
                        .ok_or_else(|| StoreError::Corrupt("membership without org".into()))?,
                ),
                role_id: RoleId(self.role_id),
                sites: match self.site_ids {
                    None => SiteAccess::All,
                    Some(Json(ids)) => SiteAccess::Only(ids.into_iter().map(SiteId).collect()),
                },
                device_groups: self
                    .device_group_ids
                    .map(|Json(ids)| ids.into_iter().map(DeviceGroupId).collect()),
            },
        })
    }
}

/// The user's membership, if any (a user belongs to one partner or one organization).
/// Memberships in deleted partners or organizations don't count.
pub async fn membership(db: &Db, user: UserId) -> Result<Option<Membership>, StoreError> {
    let row: Option<MembershipRow> = db
        .optional(
            Q::new(
                "SELECT 'partner' AS kind, pu.partner_id, NULL AS org_id, pu.role_id, pu.org_access, pu.org_ids, \
                   NULL AS site_ids, NULL AS device_group_ids \
                 FROM partner_users pu JOIN partners p ON p.id = pu.partner_id \
                 WHERE pu.user_id = ? AND p.deleted_at IS NULL \
                 UNION ALL \
                 SELECT 'organization' AS kind, o.partner_id, ou.org_id, ou.role_id, NULL, NULL, ou.site_ids, \
                   ou.device_group_ids \
                 FROM organization_users ou JOIN organizations o ON o.id = ou.org_id \
                 JOIN partners p ON p.id = o.partner_id \
                 WHERE ou.user_id = ? AND o.deleted_at IS NULL AND p.deleted_at IS NULL",
            )
            .bind(user)
            .bind(user),
        )
        .await?;
    row.map(MembershipRow::into_membership).transpose()
}

/// Resolves what a user may reach. A platform operator holds `partners:*` at system level;
/// a user without membership reaches nothing.
pub async fn resolve_scope(
    db: &Db,
    user: &UserRow,
) -> Result<(Scope, Option<Membership>), StoreError> {
    let m = membership(db, user.id()).await?;
    let scope = match &m {
        Some(Membership::Partner {
            partner_id,
            role_id,
            org_access,
        }) => Scope::partner(
            *partner_id,
            org_access.clone(),
            roles::permissions_of(db, *role_id).await?,
        ),
        Some(Membership::Organization {
            partner_id,
            org_id,
            role_id,
            sites,
            device_groups,
        }) => Scope::organization(
            *partner_id,
            *org_id,
            sites.clone(),
            device_groups.clone(),
            roles::permissions_of(db, *role_id).await?,
        ),
        None if user.is_platform_admin => Scope::system(
            [Action::Read, Action::Write, Action::Delete, Action::Admin]
                .into_iter()
                .map(|a| Permission::new(Resource::Partners, a))
                .collect::<PermissionSet>(),
        ),
        None => Scope::system(PermissionSet::default()),
    };
    Ok((scope, m))
}

pub async fn add_partner_member(
    tx: &mut Tx,
    partner: PartnerId,
    user: UserId,
    role: RoleId,
    org_access: &OrgAccess,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (access, ids): (&str, Vec<Uuid>) = match org_access {
        OrgAccess::All => ("all", vec![]),
        OrgAccess::Only(ids) => ("selected", ids.iter().map(|i| i.0).collect()),
    };
    tx.exec(
        Q::new(
            "INSERT INTO partner_users (id, partner_id, user_id, role_id, org_access, org_ids, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(Uuid::now_v7())
        .bind(partner)
        .bind(user)
        .bind(role)
        .bind(access)
        .bind(serde_json::json!(ids))
        .bind(now),
    )
    .await
    .map(|_| ())
    .map_err(already_member)
}

pub async fn add_org_member(
    tx: &mut Tx,
    org: OrgId,
    user: UserId,
    role: RoleId,
    sites: Option<&[SiteId]>,
    groups: Option<&[DeviceGroupId]>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "INSERT INTO organization_users (id, org_id, user_id, role_id, site_ids, device_group_ids, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(Uuid::now_v7())
        .bind(org)
        .bind(user)
        .bind(role)
        .bind(sites.map(|s| serde_json::json!(s)))
        .bind(groups.map(|g| serde_json::json!(g)))
        .bind(now),
    )
    .await
    .map(|_| ())
    .map_err(already_member)
}

fn already_member(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict("this user already belongs to a partner or organization".into())
        }
        e => e,
    }
}

// ------------------------------------------------------------------ members as seen by a tenant

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Uuid,
    email: String,
    name: String,
    status: String,
    mfa_enabled: bool,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    role_id: Uuid,
    role_name: String,
    partner_id: Option<Uuid>,
    org_id: Option<Uuid>,
    org_access: Option<String>,
    org_ids: Option<Json<Vec<Uuid>>>,
    site_ids: Option<Json<Vec<Uuid>>>,
    device_group_ids: Option<Json<Vec<Uuid>>>,
}

impl From<MemberRow> for api::Member {
    fn from(r: MemberRow) -> Self {
        api::Member {
            user: api::User {
                id: UserId(r.id),
                email: r.email,
                name: r.name,
                status: r.status,
                mfa_enabled: r.mfa_enabled,
                last_login_at: r.last_login_at,
                created_at: r.created_at,
            },
            role_id: RoleId(r.role_id),
            role_name: r.role_name,
            partner_id: r.partner_id.map(PartnerId),
            org_id: r.org_id.map(OrgId),
            org_access: r.org_access,
            org_ids: r.org_ids.map(|Json(v)| v.into_iter().map(OrgId).collect()),
            site_ids: r
                .site_ids
                .map(|Json(v)| v.into_iter().map(SiteId).collect()),
            device_group_ids: r
                .device_group_ids
                .map(|Json(v)| v.into_iter().map(DeviceGroupId).collect()),
        }
    }
}

/// Members visible to a scope: partner staff (to partner-wide staff only) and the users of
/// organizations in reach. `user` narrows to one account; `q` searches e-mail and name.
pub async fn members(
    db: &Db,
    scope: &Scope,
    user: Option<UserId>,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<api::Member>, StoreError> {
    let mut q = Q::new("SELECT * FROM (");
    q.push(
        "SELECT u.id, u.email, u.name, u.status, u.mfa_enabled, u.last_login_at, u.created_at, pu.role_id, \
         r.name AS role_name, pu.partner_id, NULL AS org_id, pu.org_access, pu.org_ids, NULL AS site_ids, \
         NULL AS device_group_ids FROM partner_users pu JOIN users u ON u.id = pu.user_id \
         JOIN roles r ON r.id = pu.role_id WHERE u.deleted_at IS NULL",
    );
    if tenancy::partner_wide(scope) {
        q.push(" AND pu.partner_id = ").push_bind(scope.partner_id);
    } else {
        q.push(" AND 1 = 0");
    }
    q.push(
        " UNION ALL SELECT u.id, u.email, u.name, u.status, u.mfa_enabled, u.last_login_at, u.created_at, \
         ou.role_id, r.name, o.partner_id, ou.org_id, NULL, NULL, ou.site_ids, ou.device_group_ids \
         FROM organization_users ou JOIN users u ON u.id = ou.user_id JOIN roles r ON r.id = ou.role_id \
         JOIN organizations o ON o.id = ou.org_id WHERE u.deleted_at IS NULL AND o.deleted_at IS NULL",
    );
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(") m WHERE 1 = 1");
    if let Some(u) = user {
        q.push(" AND m.id = ").push_bind(u);
    }
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        let pat = format!("%{}%", crate::listing::like_escape(&s.to_lowercase()));
        q.push(" AND (LOWER(m.email) LIKE ")
            .push_bind(pat.clone())
            .push(" ESCAPE '\\' OR LOWER(m.name) LIKE ")
            .push_bind(pat)
            .push(" ESCAPE '\\')");
    }
    if let Some(a) = after {
        q.push(" AND m.id > ").push_bind(a);
    }
    q.push(" ORDER BY m.id LIMIT ").push_bind(i64::from(limit));
    let rows: Vec<MemberRow> = db.all(q).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Changes a member's role and reach. Only the fields given change.
pub async fn update_membership(
    db: &Db,
    user: UserId,
    change: &MembershipChange,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    if let Some(role) = change.role_id {
        tx.exec(
            Q::new("UPDATE partner_users SET role_id = ? WHERE user_id = ?")
                .bind(role)
                .bind(user),
        )
        .await?;
        tx.exec(
            Q::new("UPDATE organization_users SET role_id = ? WHERE user_id = ?")
                .bind(role)
                .bind(user),
        )
        .await?;
    }
    if let Some(access) = &change.org_access {
        let (a, ids): (&str, Vec<Uuid>) = match access {
            OrgAccess::All => ("all", vec![]),
            OrgAccess::Only(ids) => ("selected", ids.iter().map(|i| i.0).collect()),
        };
        tx.exec(
            Q::new("UPDATE partner_users SET org_access = ?, org_ids = ? WHERE user_id = ?")
                .bind(a)
                .bind(serde_json::json!(ids))
                .bind(user),
        )
        .await?;
    }
    if let Some(sites) = &change.site_ids {
        tx.exec(
            Q::new("UPDATE organization_users SET site_ids = ? WHERE user_id = ?")
                .bind(sites.as_ref().map(|s| serde_json::json!(s)))
                .bind(user),
        )
        .await?;
    }
    if let Some(groups) = &change.device_group_ids {
        tx.exec(
            Q::new("UPDATE organization_users SET device_group_ids = ? WHERE user_id = ?")
                .bind(groups.as_ref().map(|g| serde_json::json!(g)))
                .bind(user),
        )
        .await?;
    }
    tx.commit().await
}

#[derive(Clone, Debug, Default)]
pub struct MembershipChange {
    pub role_id: Option<RoleId>,
    pub org_access: Option<OrgAccess>,
    pub site_ids: Option<Option<Vec<SiteId>>>,
    pub device_group_ids: Option<Option<Vec<DeviceGroupId>>>,
}

/// Removes a member: the membership goes, the account is soft-deleted, its sessions die.
pub async fn remove(db: &Db, user: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.exec(Q::new("DELETE FROM partner_users WHERE user_id = ?").bind(user))
        .await?;
    tx.exec(Q::new("DELETE FROM organization_users WHERE user_id = ?").bind(user))
        .await?;
    // Free the address for a later invitation while keeping the row for the audit trail.
    tx.exec(
        Q::new("UPDATE users SET deleted_at = ?, status = 'disabled', email = email || '#deleted#' || ? WHERE id = ?")
            .bind(now)
            .bind(user.to_string())
            .bind(user),
    )
    .await?;
    tx.exec(
        Q::new("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(user),
    )
    .await?;
    tx.exec(
        Q::new("UPDATE refresh_token_families SET revoked_at = ?, revoked_reason = 'user removed' WHERE user_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(user),
    )
    .await?;
    tx.commit().await
}
