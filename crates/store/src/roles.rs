//! Roles and permissions: the built-in roles are written at start; custom roles belong to a
//! partner or an organization.

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use crate::tenancy;
use breeze_core::Scope;
use breeze_core::permissions::{Permission, PermissionSet};
use breeze_core::roles::{RoleScope, builtin_roles};
use breeze_proto::api;
use breeze_proto::ids::{OrgId, PartnerId, RoleId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A permission's row id: the same on every installation.
pub fn permission_id(p: &Permission) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("breeze.permission.{p}").as_bytes(),
    )
}

/// Writes the permission catalogue and the built-in roles (idempotent; run at every start).
pub async fn seed_builtins(db: &Db, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for p in Permission::all() {
        tx.exec(
            Q::new(
                "INSERT INTO permissions (id, resource, action, description) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (resource, action) DO NOTHING",
            )
            .bind(permission_id(&p))
            .bind(p.resource.as_str())
            .bind(p.action.as_str())
            .bind(format!(
                "{} {}",
                p.action,
                p.resource.as_str().replace('_', " ")
            )),
        )
        .await?;
    }
    for r in builtin_roles() {
        tx.exec(
            Q::new(
                "INSERT INTO roles (id, partner_id, org_id, scope, name, description, is_system, created_at, updated_at) \
                 VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 description = excluded.description, scope = excluded.scope",
            )
            .bind(r.id)
            .bind(r.scope.as_str())
            .bind(r.name)
            .bind(r.description)
            .bind(true)
            .bind(now)
            .bind(now),
        )
        .await?;
        set_permissions(&mut tx, RoleId(r.id), &r.permissions).await?;
    }
    tx.commit().await
}

pub(crate) async fn set_permissions(
    tx: &mut Tx,
    role: RoleId,
    perms: &PermissionSet,
) -> Result<(), StoreError> {
    tx.exec(Q::new("DELETE FROM role_permissions WHERE role_id = ?").bind(role))
        .await?;
    for p in perms.iter() {
        tx.exec(
            Q::new("INSERT INTO role_permissions (role_id, permission_id, constraints) VALUES (?, ?, NULL)")
                .bind(role)
                .bind(permission_id(p)),
        )
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PermRow {
    resource: String,
    action: String,
}

/// The permissions a role grants.
pub async fn permissions_of(db: &Db, role: RoleId) -> Result<PermissionSet, StoreError> {
    let rows: Vec<PermRow> = db
        .all(
            Q::new(
                "SELECT p.resource, p.action FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
                 WHERE rp.role_id = ?",
            )
            .bind(role),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            format!("{}:{}", r.resource, r.action)
                .parse::<Permission>()
                .map_err(StoreError::Corrupt)
        })
        .collect()
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RoleRow {
    pub id: Uuid,
    pub partner_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub scope: String,
    pub name: String,
    pub description: Option<String>,
    pub is_system: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RoleRow {
    pub fn role_scope(&self) -> Result<RoleScope, StoreError> {
        RoleScope::parse(&self.scope)
            .ok_or_else(|| StoreError::Corrupt(format!("role scope {}", self.scope)))
    }

    pub fn into_api(self, permissions: &PermissionSet) -> api::Role {
        api::Role {
            id: RoleId(self.id),
            partner_id: self.partner_id.map(PartnerId),
            org_id: self.org_id.map(OrgId),
            scope: self.scope,
            name: self.name,
            description: self.description,
            is_system: self.is_system,
            permissions: permissions.to_strings(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const ROLE_COLS: &str = "SELECT r.id, r.partner_id, r.org_id, r.scope, r.name, r.description, r.is_system, \
    r.created_at, r.updated_at FROM roles r";

/// Appends the condition for roles a scope can see: built-in roles, its partner's roles,
/// and roles of organizations in reach.
fn visible(q: &mut Q, scope: &Scope) {
    q.push(" WHERE (r.is_system = ");
    q.push_bind(true);
    if let Some(p) = scope.partner_id {
        q.push(" OR (r.partner_id = ")
            .push_bind(p)
            .push(" AND r.org_id IS NULL)");
        q.push(" OR (r.org_id IS NOT NULL AND r.org_id IN (SELECT o.id FROM organizations o WHERE o.deleted_at IS NULL");
        tenancy::orgs_in_scope(q, scope, "o.partner_id", "o.id");
        q.push("))");
    }
    q.push(")");
}

/// A role the scope can see (built-in, its partner's, or an organization's in reach).
pub async fn get(db: &Db, scope: &Scope, id: RoleId) -> Result<RoleRow, StoreError> {
    let mut q = Q::new(ROLE_COLS);
    visible(&mut q, scope);
    q.push(" AND r.id = ").push_bind(id);
    db.one(q).await
}

pub async fn list(db: &Db, scope: &Scope) -> Result<Vec<RoleRow>, StoreError> {
    let mut q = Q::new(ROLE_COLS);
    visible(&mut q, scope);
    q.push(" ORDER BY r.is_system DESC, r.name");
    db.all(q).await
}

pub struct NewRole<'a> {
    pub partner_id: Option<PartnerId>,
    pub org_id: Option<OrgId>,
    pub scope: RoleScope,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub permissions: &'a PermissionSet,
}

/// Creates a custom role. The caller has checked that the owner (partner or organization)
/// is in the scope of whoever asked.
pub async fn create(db: &Db, new: NewRole<'_>, now: DateTime<Utc>) -> Result<RoleId, StoreError> {
    let id = RoleId::new();
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new(
            "INSERT INTO roles (id, partner_id, org_id, scope, name, description, is_system, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(new.partner_id)
        .bind(new.org_id)
        .bind(new.scope.as_str())
        .bind(new.name)
        .bind(new.description)
        .bind(false)
        .bind(now)
        .bind(now),
    )
    .await?;
    set_permissions(&mut tx, id, new.permissions).await?;
    tx.commit().await?;
    Ok(id)
}

/// Updates a custom role's fields and, when given, its permissions.
pub async fn update(
    db: &Db,
    id: RoleId,
    name: Option<&str>,
    description: Option<Option<&str>>,
    permissions: Option<&PermissionSet>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    if let Some(n) = name {
        tx.exec(
            Q::new("UPDATE roles SET name = ? WHERE id = ? AND is_system = ?")
                .bind(n)
                .bind(id)
                .bind(false),
        )
        .await?;
    }
    if let Some(d) = description {
        tx.exec(
            Q::new("UPDATE roles SET description = ? WHERE id = ? AND is_system = ?")
                .bind(d)
                .bind(id)
                .bind(false),
        )
        .await?;
    }
    if let Some(p) = permissions {
        set_permissions(&mut tx, id, p).await?;
    }
    tx.exec(
        Q::new("UPDATE roles SET updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await?;
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// Deletes a custom role; refused (conflict) while anyone holds it.
pub async fn delete(db: &Db, id: RoleId) -> Result<(), StoreError> {
    let used: Count = db
        .one(
            Q::new(
                "SELECT (SELECT COUNT(*) FROM partner_users WHERE role_id = ?) + \
                 (SELECT COUNT(*) FROM organization_users WHERE role_id = ?) AS n",
            )
            .bind(id)
            .bind(id),
        )
        .await?;
    if used.n > 0 {
        return Err(StoreError::Conflict(format!(
            "role is held by {} user(s); reassign them first",
            used.n
        )));
    }
    let n = db
        .exec(
            Q::new("DELETE FROM roles WHERE id = ? AND is_system = ?")
                .bind(id)
                .bind(false),
        )
        .await?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
