//! Desired-state policies (issue 13): `policies`. A policy belongs to an organization; a
//! scope reaches the policies of its organizations. Each policy carries its aggregated
//! compliance counts (`policy_compliance_counts`, maintained by
//! [`crate::policy_compliance`]), read with the policy in one indexed join.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use crate::tenancy;
use breeze_core::Scope;
use breeze_proto::agent::{RunAs, ScriptLanguage};
use breeze_proto::api::{self, ComplianceCounts, Enforcement, PolicyRule};
use breeze_proto::ids::{OrgId, PolicyId, ScriptId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    description: Option<String>,
    enabled: bool,
    enforcement: String,
    targets: Json<Value>,
    check_interval_minutes: i64,
    rules: Json<Vec<PolicyRule>>,
    remediation_script_id: Option<Uuid>,
    remediation_max_attempts: i64,
    compliant: Option<i64>,
    non_compliant: Option<i64>,
    unknown: Option<i64>,
    error: Option<i64>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) fn counts(
    compliant: Option<i64>,
    non_compliant: Option<i64>,
    unknown: Option<i64>,
    error: Option<i64>,
) -> ComplianceCounts {
    let (c, n, u, e) = (
        compliant.unwrap_or(0),
        non_compliant.unwrap_or(0),
        unknown.unwrap_or(0),
        error.unwrap_or(0),
    );
    ComplianceCounts {
        total: c + n + u + e,
        compliant: c,
        non_compliant: n,
        unknown: u,
        error: e,
    }
}

impl TryFrom<PolicyRow> for api::Policy {
    type Error = StoreError;
    fn try_from(r: PolicyRow) -> Result<Self, StoreError> {
        let enforcement = Enforcement::parse(&r.enforcement).ok_or_else(|| {
            StoreError::Corrupt(format!("policy {} enforcement {}", r.id, r.enforcement))
        })?;
        Ok(api::Policy {
            id: PolicyId(r.id),
            org_id: OrgId(r.org_id),
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            enforcement,
            targets: r.targets.0,
            check_interval_minutes: r.check_interval_minutes,
            rules: r.rules.0,
            remediation_script_id: r.remediation_script_id.map(ScriptId),
            remediation_max_attempts: r.remediation_max_attempts,
            counts: counts(r.compliant, r.non_compliant, r.unknown, r.error),
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLS: &str = "SELECT p.id, p.org_id, p.name, p.description, p.enabled, p.enforcement, p.targets, \
    p.check_interval_minutes, p.rules, p.remediation_script_id, p.remediation_max_attempts, \
    k.compliant, k.non_compliant, k.unknown, k.error, p.created_by, p.created_at, p.updated_at \
    FROM policies p JOIN organizations o ON o.id = p.org_id \
    LEFT JOIN policy_compliance_counts k ON k.policy_id = p.id AND k.rule_index = -1 \
    WHERE o.deleted_at IS NULL";

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::orgs_in_scope(q, scope, "o.partner_id", "o.id");
}

fn convert(rows: Vec<PolicyRow>) -> Result<Vec<api::Policy>, StoreError> {
    rows.into_iter().map(TryInto::try_into).collect()
}

pub async fn get(db: &Db, scope: &Scope, id: PolicyId) -> Result<api::Policy, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND p.id = ").push_bind(id);
    db.one::<PolicyRow>(q).await?.try_into()
}

/// A policy by id without a tenant scope (system code paths: sweep, results).
pub async fn get_for_system(db: &Db, id: PolicyId) -> Result<api::Policy, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND p.id = ").push_bind(id);
    db.one::<PolicyRow>(q).await?.try_into()
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    opts: &ListOpts,
) -> Result<(Vec<api::Policy>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND p.org_id = ").push_bind(o);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND LOWER(p.name) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    opts.finish(&mut q, &[], "p.name, p.id")?;
    let rows: Vec<PolicyRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((convert(rows)?, next))
}

/// Enabled policies of live organizations whose agents are served (for the sweep).
pub async fn enabled_for_system(db: &Db) -> Result<Vec<api::Policy>, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND p.enabled = ")
        .push_bind(true)
        .push(" AND o.status NOT IN ('suspended', 'churned') ORDER BY p.id");
    convert(db.all(q).await?)
}

/// A policy to create; `targets` in canonical JSON, `rules` checked.
pub struct NewPolicy {
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub enforcement: Enforcement,
    pub targets: Value,
    pub check_interval_minutes: i64,
    pub rules: Vec<PolicyRule>,
    pub remediation_script_id: Option<ScriptId>,
    pub remediation_max_attempts: i64,
    pub created_by: Option<UserId>,
}

fn rules_json(rules: &[PolicyRule]) -> Result<Value, StoreError> {
    serde_json::to_value(rules).map_err(|e| StoreError::Corrupt(format!("policy rules: {e}")))
}

/// Creates a policy with zeroed counts (the caller checked the organization is in scope).
pub async fn create(db: &Db, p: &NewPolicy, now: DateTime<Utc>) -> Result<PolicyId, StoreError> {
    let id = PolicyId::new();
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new(
            "INSERT INTO policies (id, org_id, name, description, enabled, enforcement, targets, \
             check_interval_minutes, rules, rules_version, remediation_script_id, remediation_max_attempts, \
             reconciled_at, created_by, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULL, ?, ?, ?)",
        )
        .bind(id)
        .bind(p.org_id)
        .bind(p.name.as_str())
        .bind(p.description.clone())
        .bind(p.enabled)
        .bind(p.enforcement.as_str())
        .bind(p.targets.clone())
        .bind(p.check_interval_minutes)
        .bind(rules_json(&p.rules)?)
        .bind(p.remediation_script_id)
        .bind(p.remediation_max_attempts)
        .bind(p.created_by)
        .bind(now)
        .bind(now),
    )
    .await?;
    tx.exec(
        Q::new(
            "INSERT INTO policy_compliance_counts (policy_id, rule_index, compliant, non_compliant, unknown, error) \
             VALUES (?, -1, 0, 0, 0, 0)",
        )
        .bind(id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Writes back a policy the caller fetched through its scope and patched.
/// `rules_changed`: every device's results are reset (they answered other rules);
/// `targets_changed`: the next sweep matches the targets again.
pub async fn update(
    db: &Db,
    scope: &Scope,
    p: &api::Policy,
    rules_changed: bool,
    targets_changed: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, p.id).await?;
    let mut tx = db.begin().await?;
    let mut q = Q::new(
        "UPDATE policies SET name = ?, description = ?, enabled = ?, enforcement = ?, targets = ?, \
         check_interval_minutes = ?, rules = ?, remediation_script_id = ?, remediation_max_attempts = ?, \
         updated_at = ?",
    );
    q = q
        .bind(p.name.as_str())
        .bind(p.description.clone())
        .bind(p.enabled)
        .bind(p.enforcement.as_str())
        .bind(p.targets.clone())
        .bind(p.check_interval_minutes)
        .bind(rules_json(&p.rules)?)
        .bind(p.remediation_script_id)
        .bind(p.remediation_max_attempts)
        .bind(now);
    if rules_changed {
        q.push(", rules_version = rules_version + 1");
    }
    if targets_changed || rules_changed {
        q.push(", reconciled_at = NULL");
    }
    q.push(" WHERE id = ").push_bind(p.id);
    tx.exec(q).await?;
    if rules_changed {
        crate::policy_compliance::reset_results_tx(&mut tx, p.id).await?;
    }
    tx.commit().await
}

/// Deletes a policy in scope with its compliance rows (cascade).
pub async fn delete(db: &Db, scope: &Scope, id: PolicyId) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    db.exec(Q::new("DELETE FROM policies WHERE id = ?").bind(id))
        .await?;
    Ok(())
}

/// Marks the policy's targets as matched against its organization's devices now.
pub async fn mark_reconciled_for_system(
    db: &Db,
    id: PolicyId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE policies SET reconciled_at = ? WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Sched {
    rules_version: i64,
    reconciled_at: Option<DateTime<Utc>>,
}

/// The policy's rules version and when its targets were last matched (sweep bookkeeping).
pub async fn schedule_for_system(
    db: &Db,
    id: PolicyId,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let s: Sched = db
        .one(Q::new("SELECT rules_version, reconciled_at FROM policies WHERE id = ?").bind(id))
        .await?;
    Ok((s.rules_version, s.reconciled_at))
}

/// The script a policy runs (check scripts, remediation), read by system code paths.
#[derive(Clone, Debug)]
pub struct PolicyScript {
    pub id: ScriptId,
    pub name: String,
    pub language: ScriptLanguage,
    pub content: String,
    pub timeout_seconds: i64,
    pub run_as: RunAs,
    pub version: i64,
    pub os_types: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct ScriptRow {
    id: Uuid,
    name: String,
    language: String,
    content: String,
    timeout_seconds: i64,
    run_as: Json<RunAs>,
    version: i64,
    os_types: Json<Vec<String>>,
}

/// Scripts usable by policies of `org`: the organization's own or its partner's shared
/// library. Missing ids are left out.
pub async fn scripts_for_org(
    db: &Db,
    org: OrgId,
    ids: &[ScriptId],
) -> Result<Vec<PolicyScript>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new(
        "SELECT s.id, s.name, s.language, \
         s.content, s.timeout_seconds, s.run_as, s.version, s.os_types \
         FROM scripts s JOIN organizations o ON o.partner_id = s.partner_id \
         WHERE o.id = ",
    );
    q.push_bind(org)
        .push(" AND (s.org_id IS NULL OR s.org_id = o.id) AND s.id IN ")
        .push_list(ids.iter().copied());
    let rows: Vec<ScriptRow> = db.all(q).await?;
    rows.into_iter()
        .map(|r| {
            let language =
                serde_json::from_value(Value::String(r.language.clone())).map_err(|_| {
                    StoreError::Corrupt(format!("script {} language {}", r.id, r.language))
                })?;
            Ok(PolicyScript {
                id: ScriptId(r.id),
                name: r.name,
                language,
                content: r.content,
                timeout_seconds: r.timeout_seconds,
                run_as: r.run_as.0,
                version: r.version,
                os_types: r.os_types.0,
            })
        })
        .collect()
}

/// 422 naming `field` unless every id is a script the organization may use.
pub async fn check_scripts(
    db: &Db,
    org: OrgId,
    ids: &[(String, ScriptId)],
) -> Result<(), StoreError> {
    let plain: Vec<ScriptId> = ids.iter().map(|(_, id)| *id).collect();
    let found = scripts_for_org(db, org, &plain).await?;
    for (field, id) in ids {
        if !found.iter().any(|s| s.id == *id) {
            return Err(StoreError::invalid(
                field.clone(),
                "no such script in the policy's organization",
            ));
        }
    }
    Ok(())
}
