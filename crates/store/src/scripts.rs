//! The script library (seed 004 Script): organization-owned or partner-wide scripts,
//! versioned (every change of content, language or parameters adds a version;
//! executions record which one ran), and their executions (seed 004 ScriptExecution).

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use crate::listing::ListOpts;
use crate::{devices, tenancy};
use breeze_core::Scope;
use breeze_proto::agent::RunAs;
use breeze_proto::api;
use breeze_proto::ids::{CommandId, DeviceId, ExecutionId, OrgId, PartnerId, ScriptId, UserId};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ScriptRow {
    id: Uuid,
    partner_id: Uuid,
    org_id: Option<Uuid>,
    name: String,
    description: Option<String>,
    category: Option<String>,
    language: String,
    os_types: Json<Vec<String>>,
    content: String,
    parameters: Json<Value>,
    timeout_seconds: i64,
    run_as: Json<RunAs>,
    version: i64,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ScriptRow> for api::Script {
    fn from(r: ScriptRow) -> Self {
        api::Script {
            id: ScriptId(r.id),
            org_id: r.org_id.map(OrgId),
            partner_id: PartnerId(r.partner_id),
            name: r.name,
            description: r.description,
            category: r.category,
            language: r.language,
            os_types: r.os_types.0,
            content: r.content,
            parameters: r.parameters.0,
            timeout_seconds: r.timeout_seconds,
            run_as: r.run_as.0,
            version: r.version,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str = "SELECT s.id, s.partner_id, s.org_id, s.name, s.description, s.category, s.language, s.os_types, \
    s.content, s.parameters, s.timeout_seconds, s.run_as, s.version, s.created_by, s.created_at, s.updated_at \
    FROM scripts s WHERE s.deleted_at IS NULL";

const SORTS: &[(&str, &str)] = &[
    ("name", "s.name"),
    ("category", "s.category"),
    ("language", "s.language"),
    ("created_at", "s.created_at"),
    ("updated_at", "s.updated_at"),
];

fn scoped(q: &mut Q, scope: &Scope) {
    tenancy::orgs_or_partner_wide_in_scope(q, scope, "s.partner_id", "s.org_id");
}

pub async fn get(db: &Db, scope: &Scope, id: ScriptId) -> Result<api::Script, StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    q.push(" AND s.id = ").push_bind(id);
    db.one::<ScriptRow>(q).await.map(Into::into)
}

pub async fn list(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    category: Option<&str>,
    language: Option<&str>,
    opts: &ListOpts,
) -> Result<(Vec<api::Script>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    scoped(&mut q, scope);
    if let Some(o) = org {
        q.push(" AND (s.org_id = ")
            .push_bind(o)
            .push(" OR s.org_id IS NULL)");
    }
    if let Some(c) = category {
        q.push(" AND s.category = ").push_bind(c);
    }
    if let Some(l) = language {
        q.push(" AND s.language = ").push_bind(l);
    }
    if let Some(p) = opts.like_pattern() {
        q.push(" AND (LOWER(s.name) LIKE ")
            .push_bind(p.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(s.description, '')) LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\')");
    }
    opts.finish(&mut q, SORTS, "s.name, s.id")?;
    let rows: Vec<ScriptRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

async fn insert_version(
    tx: &mut Tx,
    s: &api::Script,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "INSERT INTO script_versions (script_id, version, language, content, parameters, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id)
        .bind(s.version)
        .bind(s.language.as_str())
        .bind(s.content.as_str())
        .bind(s.parameters.clone())
        .bind(s.created_by)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// Creates a script (version 1). The caller checked the owner is in its scope.
pub async fn create(db: &Db, s: &api::Script, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new(
            "INSERT INTO scripts (id, partner_id, org_id, name, description, category, language, os_types, content, \
             parameters, timeout_seconds, run_as, version, created_by, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
        )
        .bind(s.id)
        .bind(s.partner_id)
        .bind(s.org_id)
        .bind(s.name.as_str())
        .bind(s.description.clone())
        .bind(s.category.clone())
        .bind(s.language.as_str())
        .bind(json!(s.os_types))
        .bind(s.content.as_str())
        .bind(s.parameters.clone())
        .bind(s.timeout_seconds)
        .bind(serde_json::to_value(&s.run_as).unwrap_or(Value::Null))
        .bind(s.created_by)
        .bind(now)
        .bind(now),
    )
    .await?;
    insert_version(
        &mut tx,
        &api::Script {
            version: 1,
            ..s.clone()
        },
        now,
    )
    .await?;
    tx.commit().await
}

/// Writes back a script the caller fetched through its scope and changed; when
/// `new_version` the version goes up by one and is recorded.
pub async fn update(
    db: &Db,
    scope: &Scope,
    s: &api::Script,
    new_version: bool,
    by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let current = get(db, scope, s.id).await?;
    let version = if new_version {
        current.version + 1
    } else {
        current.version
    };
    let mut tx = db.begin().await?;
    let n = tx
        .exec(
            Q::new(
                "UPDATE scripts SET name = ?, description = ?, category = ?, language = ?, os_types = ?, content = ?, \
                 parameters = ?, timeout_seconds = ?, run_as = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?",
            )
            .bind(s.name.as_str())
            .bind(s.description.clone())
            .bind(s.category.clone())
            .bind(s.language.as_str())
            .bind(json!(s.os_types))
            .bind(s.content.as_str())
            .bind(s.parameters.clone())
            .bind(s.timeout_seconds)
            .bind(serde_json::to_value(&s.run_as).unwrap_or(Value::Null))
            .bind(version)
            .bind(now)
            .bind(s.id)
            .bind(current.version),
        )
        .await?;
    if n != 1 {
        return Err(StoreError::Conflict(
            "the script changed meanwhile; fetch it and try again".into(),
        ));
    }
    if new_version {
        insert_version(
            &mut tx,
            &api::Script {
                version,
                created_by: by,
                ..s.clone()
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(version)
}

pub async fn delete(
    db: &Db,
    scope: &Scope,
    id: ScriptId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    get(db, scope, id).await?;
    db.exec(
        Q::new("UPDATE scripts SET deleted_at = ? WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- executions

pub struct NewExecution<'a> {
    pub id: ExecutionId,
    pub script_id: ScriptId,
    pub script_version: i64,
    pub device_id: DeviceId,
    pub org_id: OrgId,
    pub command_id: CommandId,
    pub triggered_by: Option<UserId>,
    pub trigger_type: &'a str,
    pub parameters: Value,
}

pub async fn insert_execution_tx(
    tx: &mut Tx,
    e: &NewExecution<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(
        Q::new(
            "INSERT INTO script_executions (id, script_id, script_version, device_id, org_id, command_id, triggered_by, \
             trigger_type, parameters, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        )
        .bind(e.id)
        .bind(e.script_id)
        .bind(e.script_version)
        .bind(e.device_id)
        .bind(e.org_id)
        .bind(e.command_id)
        .bind(e.triggered_by)
        .bind(e.trigger_type)
        .bind(e.parameters.clone())
        .bind(now),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ExecRow {
    id: Uuid,
    script_id: Uuid,
    script_name: String,
    script_version: i64,
    device_id: Uuid,
    device_hostname: String,
    command_id: Option<Uuid>,
    triggered_by: Option<Uuid>,
    trigger_type: String,
    parameters: Json<Value>,
    status: String,
    exit_code: Option<i64>,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_truncated: bool,
    stderr_truncated: bool,
    duration_ms: Option<i64>,
    error_message: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<ExecRow> for api::ScriptExecution {
    fn from(r: ExecRow) -> Self {
        api::ScriptExecution {
            id: ExecutionId(r.id),
            script_id: ScriptId(r.script_id),
            script_name: r.script_name,
            script_version: r.script_version,
            device_id: DeviceId(r.device_id),
            device_hostname: r.device_hostname,
            command_id: r.command_id.map(CommandId),
            triggered_by: r.triggered_by.map(UserId),
            trigger_type: r.trigger_type,
            parameters: r.parameters.0,
            status: r.status,
            exit_code: r.exit_code,
            stdout: r.stdout,
            stderr: r.stderr,
            stdout_truncated: r.stdout_truncated,
            stderr_truncated: r.stderr_truncated,
            duration_ms: r.duration_ms,
            error_message: r.error_message,
            created_at: r.created_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
        }
    }
}

const EXEC_COLS: &str = "SELECT e.id, e.script_id, s.name AS script_name, e.script_version, e.device_id, \
    COALESCE(d.display_name, d.hostname) AS device_hostname, e.command_id, e.triggered_by, \
    e.trigger_type, e.parameters, e.status, e.exit_code, e.stdout, e.stderr, e.stdout_truncated, e.stderr_truncated, \
    e.duration_ms, e.error_message, e.created_at, e.started_at, e.completed_at FROM script_executions e \
    JOIN devices d ON d.id = e.device_id JOIN organizations o ON o.id = d.org_id \
    JOIN scripts s ON s.id = e.script_id WHERE o.deleted_at IS NULL";

/// An execution on a device in scope.
pub async fn get_execution(
    db: &Db,
    scope: &Scope,
    id: ExecutionId,
) -> Result<api::ScriptExecution, StoreError> {
    let mut q = Q::new(EXEC_COLS);
    devices::scoped(&mut q, scope);
    q.push(" AND e.id = ").push_bind(id);
    db.one::<ExecRow>(q).await.map(Into::into)
}

pub async fn list_executions(
    db: &Db,
    scope: &Scope,
    script: Option<ScriptId>,
    device: Option<DeviceId>,
    status: Option<&str>,
    opts: &ListOpts,
) -> Result<(Vec<api::ScriptExecution>, Option<String>), StoreError> {
    let mut q = Q::new(EXEC_COLS);
    devices::scoped(&mut q, scope);
    if let Some(s) = script {
        q.push(" AND e.script_id = ").push_bind(s);
    }
    if let Some(d) = device {
        q.push(" AND e.device_id = ").push_bind(d);
    }
    if let Some(s) = status {
        q.push(" AND e.status = ").push_bind(s);
    }
    opts.finish(&mut q, &[], "e.created_at DESC, e.id")?;
    let rows: Vec<ExecRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}
