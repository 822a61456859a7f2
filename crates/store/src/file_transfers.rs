//! File transfers (issue 12, seed 004 FileTransfer) and the device's allowed file root.
//!
//! A scope reaches the transfers of the devices it reaches. An upload keeps one row across
//! resumed chunks: the route finds the latest upload of this device, path and user that is
//! not completed ([`resumable_upload`]) and moves it forward.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use breeze_core::Scope;
use breeze_proto::api;
use breeze_proto::ids::{DeviceId, FileTransferId, OrgId, RemoteSessionId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    session_id: Option<Uuid>,
    device_id: Uuid,
    user_id: Uuid,
    direction: String,
    remote_path: String,
    local_filename: Option<String>,
    size_bytes: Option<i64>,
    transferred_bytes: i64,
    status: String,
    progress_percent: i64,
    error_message: Option<String>,
    sha256: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<Row> for api::FileTransfer {
    fn from(r: Row) -> Self {
        api::FileTransfer {
            id: FileTransferId(r.id),
            session_id: r.session_id.map(RemoteSessionId),
            device_id: DeviceId(r.device_id),
            user_id: UserId(r.user_id),
            direction: r.direction,
            remote_path: r.remote_path,
            local_filename: r.local_filename,
            size_bytes: r.size_bytes,
            transferred_bytes: r.transferred_bytes,
            status: r.status,
            progress_percent: r.progress_percent,
            error_message: r.error_message,
            sha256: r.sha256,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

const COLS: &str = "SELECT t.id, t.session_id, t.device_id, t.user_id, t.direction, t.remote_path, \
    t.local_filename, t.size_bytes, t.transferred_bytes, t.status, t.progress_percent, \
    t.error_message, t.sha256, t.created_at, t.completed_at \
    FROM file_transfers t JOIN devices d ON d.id = t.device_id \
    JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL";

/// `WHERE` tail limiting an `UPDATE file_transfers` to rows of devices in scope.
fn scoped_update(q: &mut Q, scope: &Scope) {
    q.push(
        " AND EXISTS (SELECT 1 FROM devices d JOIN organizations o ON o.id = d.org_id \
         WHERE d.id = file_transfers.device_id AND o.deleted_at IS NULL",
    );
    crate::devices::scoped(q, scope);
    q.push(")");
}

/// Whole percent of `transferred` out of `size` (0 when the size is unknown).
pub fn percent(transferred: i64, size: Option<i64>) -> i64 {
    match size {
        Some(s) if s > 0 => (transferred.saturating_mul(100) / s).clamp(0, 100),
        Some(_) => 100,
        None => 0,
    }
}

/// A transfer starting.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    pub org_id: OrgId,
    pub session_id: Option<RemoteSessionId>,
    pub device_id: DeviceId,
    pub user_id: UserId,
    /// `upload` or `download`.
    pub direction: &'static str,
    pub remote_path: String,
    pub size_bytes: Option<i64>,
    pub transferred_bytes: i64,
}

/// Creates a `transferring` row (the caller fetched the device through its scope).
pub async fn create(
    db: &Db,
    scope: &Scope,
    t: &NewTransfer,
    now: DateTime<Utc>,
) -> Result<api::FileTransfer, StoreError> {
    let id = FileTransferId::new();
    db.exec(
        Q::new(
            "INSERT INTO file_transfers (id, org_id, session_id, device_id, user_id, direction, \
             remote_path, local_filename, size_bytes, transferred_bytes, status, progress_percent, \
             error_message, sha256, created_at, updated_at, completed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 'transferring', ?, NULL, NULL, ?, ?, NULL)",
        )
        .bind(id.0)
        .bind(t.org_id)
        .bind(t.session_id.map(|s| s.0))
        .bind(t.device_id)
        .bind(t.user_id)
        .bind(t.direction)
        .bind(t.remote_path.as_str())
        .bind(t.size_bytes)
        .bind(t.transferred_bytes)
        .bind(percent(t.transferred_bytes, t.size_bytes))
        .bind(now)
        .bind(now),
    )
    .await?;
    get(db, scope, id).await
}

pub async fn get(
    db: &Db,
    scope: &Scope,
    id: FileTransferId,
) -> Result<api::FileTransfer, StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    q.push(" AND t.id = ").push_bind(id.0);
    db.one::<Row>(q).await.map(Into::into)
}

/// The latest upload of `path` to `device` by `user` that is not completed, if any.
pub async fn resumable_upload(
    db: &Db,
    scope: &Scope,
    device: DeviceId,
    path: &str,
    user: UserId,
) -> Result<Option<api::FileTransfer>, StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    q.push(" AND t.direction = 'upload' AND t.status <> 'completed' AND t.device_id = ")
        .push_bind(device)
        .push(" AND t.remote_path = ")
        .push_bind(path)
        .push(" AND t.user_id = ")
        .push_bind(user)
        .push(" ORDER BY t.created_at DESC, t.id DESC LIMIT 1");
    Ok(db.optional::<Row>(q).await?.map(Into::into))
}

/// Where a transfer stands.
#[derive(Clone, Debug)]
pub struct Progress {
    pub transferred_bytes: i64,
    /// The whole size, when now known (`None` keeps the stored one).
    pub size_bytes: Option<i64>,
    /// `transferring` or `failed`.
    pub status: &'static str,
    pub error_message: Option<String>,
}

/// Moves a transfer forward (or marks it failed).
pub async fn progress(
    db: &Db,
    scope: &Scope,
    id: FileTransferId,
    p: &Progress,
    now: DateTime<Utc>,
) -> Result<api::FileTransfer, StoreError> {
    let current = get(db, scope, id).await?;
    let size = p.size_bytes.or(current.size_bytes);
    let mut q = Q::new(
        "UPDATE file_transfers SET transferred_bytes = ?, size_bytes = ?, status = ?, \
         progress_percent = ?, error_message = ?, updated_at = ? WHERE id = ?",
    )
    .bind(p.transferred_bytes)
    .bind(size)
    .bind(p.status)
    .bind(percent(p.transferred_bytes, size))
    .bind(p.error_message.clone())
    .bind(now)
    .bind(id.0);
    scoped_update(&mut q, scope);
    db.exec(q).await?;
    get(db, scope, id).await
}

/// The transfer is whole: `size` bytes with this SHA-256 (`None` for a download, whose
/// hash nobody computed).
pub async fn complete(
    db: &Db,
    scope: &Scope,
    id: FileTransferId,
    size: i64,
    sha256: Option<&str>,
    now: DateTime<Utc>,
) -> Result<api::FileTransfer, StoreError> {
    let mut q = Q::new(
        "UPDATE file_transfers SET transferred_bytes = ?, size_bytes = ?, status = 'completed', \
         progress_percent = 100, error_message = NULL, sha256 = ?, updated_at = ?, completed_at = ? \
         WHERE id = ?",
    )
    .bind(size)
    .bind(size)
    .bind(sha256)
    .bind(now)
    .bind(now)
    .bind(id.0);
    scoped_update(&mut q, scope);
    db.exec(q).await?;
    get(db, scope, id).await
}

/// Filters of a transfer list.
#[derive(Clone, Debug, Default)]
pub struct TransferFilter {
    pub device_id: Option<DeviceId>,
    pub status: Option<String>,
    pub direction: Option<String>,
}

/// Transfers in scope, newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &TransferFilter,
    opts: &ListOpts,
) -> Result<(Vec<api::FileTransfer>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    if let Some(d) = f.device_id {
        q.push(" AND t.device_id = ").push_bind(d);
    }
    if let Some(s) = &f.status {
        q.push(" AND t.status = ").push_bind(s.as_str());
    }
    if let Some(s) = &f.direction {
        q.push(" AND t.direction = ").push_bind(s.as_str());
    }
    opts.finish(&mut q, &[], "t.created_at DESC, t.id DESC")?;
    let rows: Vec<Row> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

#[derive(sqlx::FromRow)]
struct RootRow {
    file_root: Option<String>,
}

/// The device's allowed file root (404 outside scope).
pub async fn file_root(
    db: &Db,
    scope: &Scope,
    device: DeviceId,
) -> Result<Option<String>, StoreError> {
    let mut q = Q::new(
        "SELECT d.file_root FROM devices d JOIN organizations o ON o.id = d.org_id \
         WHERE o.deleted_at IS NULL",
    );
    crate::devices::scoped(&mut q, scope);
    q.push(" AND d.id = ").push_bind(device);
    Ok(db.one::<RootRow>(q).await?.file_root)
}

/// Sets (or with `None` lifts) the device's allowed file root; the caller validated it.
pub async fn set_file_root(
    db: &Db,
    scope: &Scope,
    device: DeviceId,
    root: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    file_root(db, scope, device).await?;
    db.exec(
        Q::new("UPDATE devices SET file_root = ?, updated_at = ? WHERE id = ?")
            .bind(root)
            .bind(now)
            .bind(device),
    )
    .await?;
    Ok(())
}

/// Whether `session` is a remote session on `device` in scope (a transfer may name the
/// file-manager session it belongs to).
pub async fn session_on_device(
    db: &Db,
    scope: &Scope,
    session: RemoteSessionId,
    device: DeviceId,
) -> Result<bool, StoreError> {
    let mut q = Q::new(
        "SELECT COUNT(*) AS n FROM remote_sessions r JOIN devices d ON d.id = r.device_id \
         JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL",
    );
    crate::devices::scoped(&mut q, scope);
    q.push(" AND r.id = ")
        .push_bind(session.0)
        .push(" AND r.device_id = ")
        .push_bind(device);
    Ok(db.one::<crate::db::Count>(q).await?.n > 0)
}
