//! Escalation policies: an organization's ladders of notification steps, climbed while an
//! alert stays unacknowledged. Steps are stored as JSON (`[{delay_minutes, channels,
//! targets: {user_ids, role_ids}}]`); the server checks them before they get here.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{EscalationPolicyId, OrgId, RoleId, UserId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: Option<String>,
    steps: Json<Vec<api::EscalationStep>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PolicyRow> for api::EscalationPolicy {
    fn from(r: PolicyRow) -> Self {
        api::EscalationPolicy {
            id: EscalationPolicyId(r.id),
            org_id: OrgId(r.org_id),
            name: r.name,
            description: r.description,
            steps: r.steps.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT p.id, p.org_id, p.name, p.description, p.steps, p.created_at, \
    p.updated_at FROM escalation_policies p JOIN organizations o ON o.id = p.org_id \
    WHERE o.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[("name", "p.name"), ("created_at", "p.created_at")];

pub async fn get(
    db: &Db,
    scope: &Scope,
    id: EscalationPolicyId,
) -> Result<api::EscalationPolicy, StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    q.push(" AND p.id = ").push_bind(id.0);
    db.one::<PolicyRow>(q).await.map(Into::into)
}

/// A policy by id alone, for the escalation sweep (which acts for no user).
pub async fn load(
    db: &Db,
    id: EscalationPolicyId,
) -> Result<Option<api::EscalationPolicy>, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND p.id = ").push_bind(id.0);
    Ok(db.optional::<PolicyRow>(q).await?.map(Into::into))
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    opts: &ListOpts,
) -> Result<(Vec<api::EscalationPolicy>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    tenancy::orgs_in_scope(&mut q, scope, "o.partner_id", "o.id");
    if let Some(o) = org {
        q.push(" AND p.org_id = ").push_bind(o);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(p.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, SORTS, "p.name, p.id")?;
    let rows: Vec<PolicyRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

fn steps_json(steps: &[api::EscalationStep]) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(steps).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Creates a policy. The caller has fetched the organization through its scope and checked
/// the steps.
pub async fn create(
    db: &Db,
    org: OrgId,
    name: &str,
    description: Option<&str>,
    steps: &[api::EscalationStep],
    created_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<EscalationPolicyId, StoreError> {
    let id = EscalationPolicyId::new();
    db.exec(
        Q::new(
            "INSERT INTO escalation_policies (id, org_id, name, description, steps, created_by, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.0)
        .bind(org)
        .bind(name)
        .bind(description)
        .bind(steps_json(steps)?)
        .bind(created_by)
        .bind(now)
        .bind(now),
    )
    .await?;
    Ok(id)
}

/// Writes back a policy the caller fetched through its scope and changed.
pub async fn update(
    db: &Db,
    scope: &Scope,
    p: &api::EscalationPolicy,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, p.id).await?;
    db.exec(
        Q::new(
            "UPDATE escalation_policies SET name = ?, description = ?, steps = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(p.name.as_str())
        .bind(p.description.clone())
        .bind(steps_json(&p.steps)?)
        .bind(now)
        .bind(p.id.0),
    )
    .await?;
    Ok(())
}

/// Deletes a policy; rules that used it keep notifying their own channels.
pub async fn delete(db: &Db, scope: &Scope, id: EscalationPolicyId) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    db.exec(Q::new("DELETE FROM escalation_policies WHERE id = ?").bind(id.0))
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    email: String,
}

/// Keeps users who can see `org`: its own members and the staff of its partner (over `u.id`).
fn members_of_org(q: &mut Q, org: OrgId) {
    q.push(
        " AND u.deleted_at IS NULL AND (EXISTS (SELECT 1 FROM organization_users ou \
         WHERE ou.user_id = u.id AND ou.org_id = ",
    )
    .push_bind(org)
    .push(
        ") OR EXISTS (SELECT 1 FROM partner_users pu JOIN organizations o ON o.partner_id = pu.partner_id \
         WHERE pu.user_id = u.id AND o.id = ",
    )
    .push_bind(org)
    .push("))");
}

/// Which of `ids` are users who can see `org`.
pub async fn users_of_org(db: &Db, org: OrgId, ids: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("SELECT u.id FROM users u WHERE 1 = 1");
    members_of_org(&mut q, org);
    q.push(" AND u.id IN ").push_list(ids.iter().copied());
    let rows: Vec<IdRow> = db.all(q).await?;
    Ok(rows.into_iter().map(|r| UserId(r.id)).collect())
}

/// The active e-mail addresses an escalation step reaches in `org`: the users named, and
/// the holders of the roles named, among those who can see the organization.
pub async fn recipients(
    db: &Db,
    org: OrgId,
    users: &[UserId],
    roles: &[RoleId],
) -> Result<Vec<String>, StoreError> {
    if users.is_empty() && roles.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new("SELECT DISTINCT u.email FROM users u WHERE u.status = 'active'");
    members_of_org(&mut q, org);
    q.push(" AND (u.id IN ")
        .push_list(users.iter().copied())
        .push(" OR EXISTS (SELECT 1 FROM organization_users ou WHERE ou.user_id = u.id AND ou.org_id = ")
        .push_bind(org)
        .push(" AND ou.role_id IN ")
        .push_list(roles.iter().copied())
        .push(") OR EXISTS (SELECT 1 FROM partner_users pu WHERE pu.user_id = u.id AND pu.role_id IN ")
        .push_list(roles.iter().copied())
        .push(")) ORDER BY u.email");
    let rows: Vec<EmailRow> = db.all(q).await?;
    Ok(rows.into_iter().map(|r| r.email).collect())
}
