//! Remote sessions (issue 12, seed 004 RemoteSession): `remote_sessions` (migration 9).
//!
//! A session belongs to a device; a scope reaches the sessions of the devices it reaches
//! (organizations, sites, device groups). The browser's ticket is stored only as its
//! SHA-256 and is spent with one conditional UPDATE, so it opens one socket at most even
//! when two upgrades race. Status moves `pending` → `connecting` → `active` →
//! `disconnected` | `failed`; every transition is a conditional UPDATE from the states it
//! may leave, so a final state never changes back.

use crate::StoreError;
use crate::db::{Db, Q};
use crate::listing::ListOpts;
use breeze_core::Scope;
use breeze_proto::api::{self, RemoteSessionStatus, RemoteSessionType};
use breeze_proto::ids::{DeviceId, OrgId, RemoteSessionId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    org_id: Uuid,
    device_id: Uuid,
    hostname: String,
    user_id: Uuid,
    user_email: String,
    session_type: String,
    status: String,
    view_only: bool,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    bytes_transferred: i64,
    end_reason: Option<String>,
    recording_path: Option<String>,
}

/// The relative path of a session's recording download.
pub fn recording_url(id: RemoteSessionId) -> String {
    format!("/api/v1/remote/sessions/{id}/recording")
}

fn parse_type(id: Uuid, s: &str) -> Result<RemoteSessionType, StoreError> {
    RemoteSessionType::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("remote session {id} type {s}")))
}

fn parse_status(id: Uuid, s: &str) -> Result<RemoteSessionStatus, StoreError> {
    RemoteSessionStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("remote session {id} status {s}")))
}

impl TryFrom<SessionRow> for api::RemoteSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let id = RemoteSessionId(r.id);
        Ok(api::RemoteSession {
            id,
            org_id: OrgId(r.org_id),
            device_id: DeviceId(r.device_id),
            hostname: r.hostname,
            user_id: UserId(r.user_id),
            user_email: r.user_email,
            session_type: parse_type(r.id, &r.session_type)?,
            status: parse_status(r.id, &r.status)?,
            view_only: r.view_only,
            created_at: r.created_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_seconds: r.duration_seconds,
            bytes_transferred: r.bytes_transferred,
            end_reason: r.end_reason,
            recording_url: r.recording_path.map(|_| recording_url(id)),
        })
    }
}

const COLS: &str = "SELECT r.id, r.org_id, r.device_id, d.hostname, r.user_id, u.email AS user_email, \
    r.session_type, r.status, r.view_only, r.created_at, r.started_at, r.ended_at, \
    r.duration_seconds, r.bytes_transferred, r.end_reason, r.recording_path \
    FROM remote_sessions r JOIN devices d ON d.id = r.device_id \
    JOIN organizations o ON o.id = d.org_id JOIN users u ON u.id = r.user_id \
    WHERE o.deleted_at IS NULL";

/// A session to create (the caller checked the device is in scope).
pub struct NewSession {
    pub org_id: OrgId,
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub session_type: RemoteSessionType,
    pub view_only: bool,
    pub cols: u16,
    pub rows: u16,
    /// SHA-256 (hex) of the browser's ticket.
    pub ticket_hash: String,
    pub ticket_expires_at: DateTime<Utc>,
}

pub async fn create(
    db: &Db,
    s: &NewSession,
    now: DateTime<Utc>,
) -> Result<RemoteSessionId, StoreError> {
    let id = RemoteSessionId::new();
    db.exec(
        Q::new(
            "INSERT INTO remote_sessions (id, org_id, device_id, user_id, session_type, status, \
             view_only, cols, rows, ticket_hash, ticket_expires_at, created_at, bytes_transferred, \
             recording_bytes) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, 0, 0)",
        )
        .bind(id.0)
        .bind(s.org_id)
        .bind(s.device_id)
        .bind(s.user_id)
        .bind(s.session_type.as_str())
        .bind(s.view_only)
        .bind(i64::from(s.cols))
        .bind(i64::from(s.rows))
        .bind(s.ticket_hash.as_str())
        .bind(s.ticket_expires_at)
        .bind(now),
    )
    .await?;
    Ok(id)
}

/// A session in scope (404 outside it).
pub async fn get(
    db: &Db,
    scope: &Scope,
    id: RemoteSessionId,
) -> Result<api::RemoteSession, StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    q.push(" AND r.id = ").push_bind(id.0);
    db.one::<SessionRow>(q).await?.try_into()
}

/// A session by id without a tenant scope (the socket task, which the ticket authenticated).
pub async fn get_for_system(
    db: &Db,
    id: RemoteSessionId,
) -> Result<api::RemoteSession, StoreError> {
    let mut q = Q::new(COLS);
    q.push(" AND r.id = ").push_bind(id.0);
    db.one::<SessionRow>(q).await?.try_into()
}

/// Filters of a session list.
#[derive(Clone, Debug, Default)]
pub struct SessionFilter {
    pub org_id: Option<OrgId>,
    pub device_id: Option<DeviceId>,
    pub user_id: Option<UserId>,
    pub session_type: Option<RemoteSessionType>,
    pub status: Option<RemoteSessionStatus>,
}

/// Sessions in scope, newest first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &SessionFilter,
    opts: &ListOpts,
) -> Result<(Vec<api::RemoteSession>, Option<String>), StoreError> {
    let mut q = Q::new(COLS);
    crate::devices::scoped(&mut q, scope);
    if let Some(o) = f.org_id {
        q.push(" AND r.org_id = ").push_bind(o);
    }
    if let Some(d) = f.device_id {
        q.push(" AND r.device_id = ").push_bind(d);
    }
    if let Some(u) = f.user_id {
        q.push(" AND r.user_id = ").push_bind(u);
    }
    if let Some(t) = f.session_type {
        q.push(" AND r.session_type = ").push_bind(t.as_str());
    }
    if let Some(s) = f.status {
        q.push(" AND r.status = ").push_bind(s.as_str());
    }
    opts.finish(
        &mut q,
        &[("created_at", "r.created_at")],
        "r.created_at DESC, r.id DESC",
    )?;
    let rows: Vec<SessionRow> = db.all(q).await?;
    let (rows, next) = opts.page(rows);
    Ok((
        rows.into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?,
        next,
    ))
}

/// What the socket needs to know about a session whose ticket it spent.
#[derive(Clone, Debug, sqlx::FromRow)]
struct SpentRow {
    id: Uuid,
    org_id: Uuid,
    device_id: Uuid,
    user_id: Uuid,
    session_type: String,
    view_only: bool,
    cols: i64,
    rows: i64,
}

#[derive(Clone, Debug)]
pub struct Spent {
    pub id: RemoteSessionId,
    pub org_id: OrgId,
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub session_type: RemoteSessionType,
    pub view_only: bool,
    pub cols: u16,
    pub rows: u16,
}

/// Spends the session's ticket: succeeds at most once, while it is unused, unexpired, the
/// hash matches and the session is still pending. `None`: refused (unknown session,
/// wrong, expired or used ticket).
pub async fn spend_ticket(
    db: &Db,
    id: RemoteSessionId,
    ticket_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Spent>, StoreError> {
    let rows: Vec<SpentRow> = db
        .all(
            Q::new(
                "UPDATE remote_sessions SET ticket_used_at = ? WHERE id = ? AND ticket_hash = ? \
                 AND ticket_used_at IS NULL AND ticket_expires_at > ? AND status = 'pending' \
                 RETURNING id, org_id, device_id, user_id, session_type, view_only, cols, rows",
            )
            .bind(now)
            .bind(id.0)
            .bind(ticket_hash)
            .bind(now),
        )
        .await?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(Spent {
        id: RemoteSessionId(r.id),
        org_id: OrgId(r.org_id),
        device_id: DeviceId(r.device_id),
        user_id: UserId(r.user_id),
        session_type: parse_type(r.id, &r.session_type)?,
        view_only: r.view_only,
        cols: u16::try_from(r.cols).unwrap_or(80),
        rows: u16::try_from(r.rows).unwrap_or(24),
    }))
}

/// `pending` → `connecting` (the socket is open; `server_id` names this process).
pub async fn mark_connecting(
    db: &Db,
    id: RemoteSessionId,
    server_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE remote_sessions SET status = 'connecting', connected_at = ?, \
                 last_activity_at = ?, server_id = ? WHERE id = ? AND status = 'pending'",
            )
            .bind(now)
            .bind(now)
            .bind(server_id)
            .bind(id.0),
        )
        .await?;
    Ok(n == 1)
}

/// `connecting` → `active`: the agent accepted the stream.
pub async fn mark_active(
    db: &Db,
    id: RemoteSessionId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE remote_sessions SET status = 'active', started_at = ?, last_activity_at = ? \
                 WHERE id = ? AND status = 'connecting'",
            )
            .bind(now)
            .bind(now)
            .bind(id.0),
        )
        .await?;
    Ok(n == 1)
}

/// Bytes moved and activity seen on a live session.
pub async fn touch(
    db: &Db,
    id: RemoteSessionId,
    bytes: u64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE remote_sessions SET last_activity_at = ?, bytes_transferred = ? \
             WHERE id = ? AND status IN ('connecting', 'active')",
        )
        .bind(now)
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(id.0),
    )
    .await?;
    Ok(())
}

/// Records the recording file (relative to the data directory) and its size.
pub async fn set_recording(
    db: &Db,
    id: RemoteSessionId,
    path: &str,
    bytes: u64,
) -> Result<(), StoreError> {
    db.exec(
        Q::new("UPDATE remote_sessions SET recording_path = ?, recording_bytes = ? WHERE id = ?")
            .bind(path)
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .bind(id.0),
    )
    .await?;
    Ok(())
}

/// The recording file of a session in scope (`None`: none kept).
pub async fn recording_path(
    db: &Db,
    scope: &Scope,
    id: RemoteSessionId,
) -> Result<Option<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct P {
        recording_path: Option<String>,
    }
    let mut q = Q::new(
        "SELECT r.recording_path FROM remote_sessions r JOIN devices d ON d.id = r.device_id \
         JOIN organizations o ON o.id = d.org_id WHERE o.deleted_at IS NULL",
    );
    crate::devices::scoped(&mut q, scope);
    q.push(" AND r.id = ").push_bind(id.0);
    Ok(db.one::<P>(q).await?.recording_path)
}

/// How a session ended.
#[derive(Clone, Debug)]
pub struct End {
    pub failed: bool,
    pub reason: Option<String>,
    /// Payload bytes relayed; `None` keeps the last count touched.
    pub bytes: Option<u64>,
}

/// A session that reached a final state, for the audit row.
#[derive(Clone, Debug)]
pub struct Ended {
    pub id: RemoteSessionId,
    pub org_id: OrgId,
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub session_type: RemoteSessionType,
    pub status: RemoteSessionStatus,
    pub duration_seconds: Option<i64>,
    pub bytes_transferred: i64,
    pub end_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LiveRow {
    id: Uuid,
    org_id: Uuid,
    device_id: Uuid,
    user_id: Uuid,
    session_type: String,
    status: String,
    started_at: Option<DateTime<Utc>>,
    bytes_transferred: i64,
}

const LIVE: &str = "SELECT id, org_id, device_id, user_id, session_type, status, started_at, \
    bytes_transferred FROM remote_sessions WHERE ";

/// Moves a session that is not final yet to `disconnected` (or `failed`), with
/// `ended_at`, `duration_seconds` (from `started_at`), bytes and reason. `None` when it
/// was already final (someone else ended it first).
pub async fn finish(
    db: &Db,
    id: RemoteSessionId,
    end: &End,
    now: DateTime<Utc>,
) -> Result<Option<Ended>, StoreError> {
    let mut q = Q::new(LIVE);
    q.push("id = ").push_bind(id.0);
    let Some(row) = db.optional::<LiveRow>(q).await? else {
        return Ok(None);
    };
    finish_row(db, row, end, now).await
}

async fn finish_row(
    db: &Db,
    row: LiveRow,
    end: &End,
    now: DateTime<Utc>,
) -> Result<Option<Ended>, StoreError> {
    let status = parse_status(row.id, &row.status)?;
    if status.is_final() {
        return Ok(None);
    }
    // A session that never became active failed, whatever the caller thought.
    let failed = end.failed || row.started_at.is_none();
    let new_status = if failed {
        RemoteSessionStatus::Failed
    } else {
        RemoteSessionStatus::Disconnected
    };
    let duration = row.started_at.map(|s| (now - s).num_seconds().max(0));
    let bytes = end.bytes.map_or(row.bytes_transferred, |b| {
        i64::try_from(b).unwrap_or(i64::MAX)
    });
    let n = db
        .exec(
            Q::new(
                "UPDATE remote_sessions SET status = ?, ended_at = ?, duration_seconds = ?, \
                 bytes_transferred = ?, end_reason = ? \
                 WHERE id = ? AND status IN ('pending', 'connecting', 'active')",
            )
            .bind(new_status.as_str())
            .bind(now)
            .bind(duration)
            .bind(bytes)
            .bind(end.reason.clone())
            .bind(row.id),
        )
        .await?;
    if n != 1 {
        return Ok(None);
    }
    Ok(Some(Ended {
        id: RemoteSessionId(row.id),
        org_id: OrgId(row.org_id),
        device_id: DeviceId(row.device_id),
        user_id: UserId(row.user_id),
        session_type: parse_type(row.id, &row.session_type)?,
        status: new_status,
        duration_seconds: duration,
        bytes_transferred: bytes,
        end_reason: end.reason.clone(),
    }))
}

/// Ends abandoned sessions: pending ones whose ticket expired unused → `failed` ("ticket
/// expired"); connecting or active ones with no activity since `stale_before` (their
/// socket task is gone: a server that stopped or died) → `failed` / `disconnected`
/// ("the relay stopped"). Answers the sessions it ended.
pub async fn sweep(
    db: &Db,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Ended>, StoreError> {
    let mut ended = Vec::new();
    let mut q = Q::new(LIVE);
    q.push("status = 'pending' AND ticket_expires_at <= ")
        .push_bind(now)
        .push(" ORDER BY id LIMIT 500");
    for row in db.all::<LiveRow>(q).await? {
        let end = End {
            failed: true,
            reason: Some("ticket expired".into()),
            bytes: None,
        };
        ended.extend(finish_row(db, row, &end, now).await?);
    }
    let mut q = Q::new(LIVE);
    q.push("status IN ('connecting', 'active') AND last_activity_at < ")
        .push_bind(stale_before)
        .push(" ORDER BY id LIMIT 500");
    for row in db.all::<LiveRow>(q).await? {
        let end = End {
            failed: false,
            reason: Some("the relay stopped".into()),
            bytes: None,
        };
        ended.extend(finish_row(db, row, &end, now).await?);
    }
    Ok(ended)
}

/// Sessions with recordings of sessions created before `before` (retention), oldest first.
pub async fn expired_recordings(
    db: &Db,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(RemoteSessionId, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Rec {
        id: Uuid,
        recording_path: String,
    }
    let rows: Vec<Rec> = db
        .all(
            Q::new(
                "SELECT id, recording_path FROM remote_sessions WHERE recording_path IS NOT NULL \
                 AND created_at < ? AND status IN ('disconnected', 'failed') ORDER BY created_at LIMIT ?",
            )
            .bind(before)
            .bind(limit),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (RemoteSessionId(r.id), r.recording_path))
        .collect())
}

/// Forgets a session's recording (its file was deleted).
pub async fn clear_recording(db: &Db, id: RemoteSessionId) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "UPDATE remote_sessions SET recording_path = NULL, recording_bytes = 0 WHERE id = ?",
        )
        .bind(id.0),
    )
    .await?;
    Ok(())
}
