//! The device command queue (seed 000 `deviceCommands`): pending → sent → running →
//! completed | failed | timeout | cancelled | rejected, or expired when nobody took it
//! in time, or lost when the agent stopped reporting it (see [`crate::command_sweeps`];
//! a late agent result still replaces `lost`). A quarantined device is handed nothing. Each row keeps the signed envelope exactly as it is sent. A script
//! execution follows its command's status.

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use breeze_proto::agent::{CommandEnvelope, CommandResult, OutputStream, SignedCommand};
use breeze_proto::api;
use breeze_proto::ids::{CommandId, DeviceId, ExecutionId, OrgId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Statuses after which nothing changes (an agent result arrived, or a user cancelled
/// before delivery). `lost` is final too, except that the agent's own result, arriving
/// late, replaces it.
pub const FINAL: &[&str] = &["completed", "failed", "timeout", "cancelled", "rejected"];

pub struct NewCommand<'a> {
    pub device_id: DeviceId,
    pub org_id: OrgId,
    pub signed: &'a SignedCommand,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub timeout_secs: Option<i64>,
}

fn insert_q(c: &NewCommand<'_>) -> Result<Q, StoreError> {
    let e = &c.signed.envelope;
    let envelope =
        serde_json::to_value(e).map_err(|err| StoreError::invalid("payload", err.to_string()))?;
    Ok(Q::new(
        "INSERT INTO device_commands (id, device_id, org_id, type, payload, status, envelope, signature, created_by, \
         created_at, expires_at, timeout_secs) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id)
    .bind(c.device_id)
    .bind(c.org_id)
    .bind(e.command_type.as_str())
    .bind(e.payload.clone())
    .bind(envelope)
    .bind(c.signed.signature.as_str())
    .bind(c.created_by)
    .bind(c.created_at)
    .bind(e.expires_at)
    .bind(c.timeout_secs))
}

/// Queues a signed command.
pub async fn enqueue(db: &Db, c: &NewCommand<'_>) -> Result<(), StoreError> {
    db.exec(insert_q(c)?).await.map(|_| ())
}

pub async fn enqueue_tx(tx: &mut Tx, c: &NewCommand<'_>) -> Result<(), StoreError> {
    tx.exec(insert_q(c)?).await.map(|_| ())
}

#[derive(sqlx::FromRow)]
struct Taken {
    id: Uuid,
    envelope: Json<CommandEnvelope>,
    signature: String,
}

/// Marks the device's pending, unexpired commands `sent` and answers them oldest first.
/// Atomic per command: a command is handed out once even when the heartbeat and the
/// channel ask at the same moment. A quarantined device gets nothing, whenever the
/// command was queued (the same statement checks it, so no quarantine slips between).
pub async fn take_pending_for_agent(
    db: &Db,
    device: DeviceId,
    now: DateTime<Utc>,
) -> Result<Vec<SignedCommand>, StoreError> {
    take(db, device, now, "status = 'pending'").await
}

/// For a channel that just opened: the pending commands as [`take_pending_for_agent`],
/// and again those already `sent` but never acknowledged. The channel they went out on
/// may have died with its server replica before the agent got them, or before the
/// acknowledgement was recorded; the agent runs a command once whatever it is sent
/// (it answers a duplicate with a new acknowledgement).
pub async fn take_for_new_channel(
    db: &Db,
    device: DeviceId,
    now: DateTime<Utc>,
) -> Result<Vec<SignedCommand>, StoreError> {
    take(db, device, now, "status IN ('pending', 'sent')").await
}

async fn take(
    db: &Db,
    device: DeviceId,
    now: DateTime<Utc>,
    which: &'static str,
) -> Result<Vec<SignedCommand>, StoreError> {
    // A read first: most channels open, and most heartbeats come, with nothing to take,
    // and on SQLite the read does not queue for the one writer behind other writes.
    let mut any =
        Q::new("SELECT CAST(1 AS BIGINT) AS one FROM device_commands WHERE device_id = ? AND ")
            .bind(device);
    any.push(which)
        .push(" AND expires_at > ")
        .push_bind(now)
        .push(" LIMIT 1");
    if db.optional::<One>(any).await?.is_none() {
        return Ok(Vec::new());
    }
    let mut q =
        Q::new("UPDATE device_commands SET status = 'sent', sent_at = ? WHERE device_id = ? AND ")
            .bind(now)
            .bind(device);
    q.push(which)
        .push(" AND expires_at > ")
        .push_bind(now)
        .push(
            " AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = device_commands.device_id \
             AND (d.status = 'quarantined' OR d.quarantined_at IS NOT NULL)) RETURNING id, envelope, signature",
        );
    let mut rows: Vec<Taken> = db.all(q).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new(
        "UPDATE script_executions SET status = 'sent' WHERE status = 'pending' AND command_id IN ",
    );
    q.push_list(rows.iter().map(|r| r.id));
    db.exec(q).await?;
    rows.sort_by_key(|r| (r.envelope.0.issued_at, r.id));
    Ok(rows
        .into_iter()
        .map(|r| SignedCommand {
            envelope: r.envelope.0,
            signature: r.signature,
        })
        .collect())
}

/// A row of `SELECT CAST(1 AS BIGINT) AS one … LIMIT 1`: whether anything matches.
#[derive(sqlx::FromRow)]
pub(crate) struct One {
    #[allow(dead_code)]
    one: i64,
}

/// What an acknowledgement changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Acked {
    /// The script execution that follows the command, when it moved to `running` too.
    pub execution_id: Option<ExecutionId>,
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

/// The agent started a command. `None` when nothing changed (unknown command, or it
/// was already running or final).
pub async fn ack_for_agent(
    db: &Db,
    device: DeviceId,
    command: CommandId,
    started_at: DateTime<Utc>,
) -> Result<Option<Acked>, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE device_commands SET status = 'running', started_at = ? WHERE id = ? AND device_id = ? \
                 AND status IN ('pending', 'sent', 'expired')",
            )
            .bind(started_at)
            .bind(command)
            .bind(device),
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    let exec: Option<IdRow> = db
        .optional(
            Q::new(
                "UPDATE script_executions SET status = 'running', started_at = ? WHERE command_id = ? \
                 AND status IN ('pending', 'sent', 'expired') RETURNING id",
            )
            .bind(started_at)
            .bind(command),
        )
        .await?;
    Ok(Some(Acked {
        execution_id: exec.map(|r| ExecutionId(r.id)),
    }))
}

/// The device a command was queued for, whichever it is (agent misuse checks: an
/// agent naming another device's command).
pub async fn device_of_command_for_agent(
    db: &Db,
    command: CommandId,
) -> Result<Option<DeviceId>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Owner {
        device_id: Uuid,
    }
    Ok(db
        .optional::<Owner>(
            Q::new("SELECT device_id FROM device_commands WHERE id = ?").bind(command),
        )
        .await?
        .map(|r| DeviceId(r.device_id)))
}

/// What happened to a result.
#[derive(Debug, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Recorded as the command's final result (and on the script execution that
    /// follows the command, if there is one).
    Recorded {
        command_type: String,
        execution_id: Option<ExecutionId>,
    },
    /// The command already had a final result (first one wins).
    Duplicate { status: String },
    /// No such command for this device.
    Unknown,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    status: String,
    #[sqlx(rename = "type")]
    command_type: String,
}

fn opt_text(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Records an agent's final result, deduplicated on the command id.
pub async fn record_result_for_agent(
    db: &Db,
    device: DeviceId,
    r: &CommandResult,
) -> Result<ResultOutcome, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<StatusRow> = tx
        .optional(
            Q::new("SELECT status, type FROM device_commands WHERE id = ? AND device_id = ?")
                .bind(r.command_id)
                .bind(device),
        )
        .await?;
    let Some(row) = row else {
        return Ok(ResultOutcome::Unknown);
    };
    if FINAL.contains(&row.status.as_str()) {
        return Ok(ResultOutcome::Duplicate { status: row.status });
    }
    let rejection = r
        .rejection
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    let duration = i64::try_from(r.duration_ms).unwrap_or(i64::MAX);
    let mut q = Q::new(
        "UPDATE device_commands SET status = ?, completed_at = ?, started_at = COALESCE(started_at, ?), \
         exit_code = ?, stdout = ?, stderr = ?, stdout_truncated = ?, stderr_truncated = ?, duration_ms = ?, \
         error_message = ?, rejection = ? WHERE id = ? AND status NOT IN ",
    );
    q = q
        .bind(r.status.as_str())
        .bind(r.completed_at)
        .bind(r.started_at)
        .bind(r.exit_code)
        .bind(opt_text(&r.stdout))
        .bind(opt_text(&r.stderr))
        .bind(r.stdout_truncated)
        .bind(r.stderr_truncated)
        .bind(duration)
        .bind(r.error_message.clone())
        .bind(rejection)
        .bind(r.command_id);
    q.push_list(FINAL.iter().copied());
    if tx.exec(q).await? != 1 {
        return Ok(ResultOutcome::Duplicate {
            status: "completed".into(),
        });
    }
    let exec: Option<IdRow> = tx
        .optional(
            Q::new(
                "UPDATE script_executions SET status = ?, completed_at = ?, started_at = COALESCE(started_at, ?), \
                 exit_code = ?, stdout = ?, stderr = ?, stdout_truncated = ?, stderr_truncated = ?, duration_ms = ?, \
                 error_message = ? WHERE command_id = ? RETURNING id",
            )
            .bind(r.status.as_str())
            .bind(r.completed_at)
            .bind(r.started_at)
            .bind(r.exit_code)
            .bind(r.stdout.as_str())
            .bind(r.stderr.as_str())
            .bind(r.stdout_truncated)
            .bind(r.stderr_truncated)
            .bind(duration)
            .bind(r.error_message.clone())
            .bind(r.command_id),
        )
        .await?;
    tx.commit().await?;
    Ok(ResultOutcome::Recorded {
        command_type: row.command_type,
        execution_id: exec.map(|r| ExecutionId(r.id)),
    })
}

/// Live output of a running script, from its agent (`command_output` channel frames).
#[derive(Debug)]
pub struct OutputChunk<'a> {
    pub command: CommandId,
    pub stream: OutputStream,
    /// UTF-8 bytes of the stream the agent sent before this chunk.
    pub offset: u64,
    pub data: &'a str,
}

/// Appends a chunk of live output to the script execution that follows `command` on
/// `device`, in order and bounded: only when the execution is not final, `offset` is
/// exactly the length of what it holds, and the text stays within `cap` bytes. The
/// final result replaces it all. Answers the execution when the chunk was appended.
pub async fn append_output_for_agent(
    db: &Db,
    device: DeviceId,
    chunk: &OutputChunk<'_>,
    cap: u64,
) -> Result<Option<ExecutionId>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Held {
        id: Uuid,
        text: Option<String>,
    }
    // Literal SQL per stream: the column never comes from the agent's text.
    let (select, update) = match chunk.stream {
        OutputStream::Stdout => (
            "SELECT id, stdout AS text FROM script_executions WHERE command_id = ? AND device_id = ? AND status NOT IN ",
            "UPDATE script_executions SET stdout = COALESCE(stdout, '') || ? \
             WHERE id = ? AND LENGTH(COALESCE(stdout, '')) = ? AND status NOT IN ",
        ),
        OutputStream::Stderr => (
            "SELECT id, stderr AS text FROM script_executions WHERE command_id = ? AND device_id = ? AND status NOT IN ",
            "UPDATE script_executions SET stderr = COALESCE(stderr, '') || ? \
             WHERE id = ? AND LENGTH(COALESCE(stderr, '')) = ? AND status NOT IN ",
        ),
    };
    let mut q = Q::new(select).bind(chunk.command).bind(device);
    q.push_list(FINAL.iter().copied());
    let Some(held) = db.optional::<Held>(q).await? else {
        return Ok(None);
    };
    let held_text = held.text.unwrap_or_default();
    let held_len = held_text.len() as u64;
    if chunk.data.is_empty()
        || held_len != chunk.offset
        || held_len.saturating_add(chunk.data.len() as u64) > cap
    {
        return Ok(None);
    }
    // The length guard (in characters, as LENGTH counts on both engines) keeps two
    // writers from appending at the same offset.
    let chars = i64::try_from(held_text.chars().count()).unwrap_or(i64::MAX);
    let mut q = Q::new(update);
    q = q
        .bind(chunk.data.to_string())
        .bind(ExecutionId(held.id))
        .bind(chars);
    q.push_list(FINAL.iter().copied());
    Ok((db.exec(q).await? == 1).then_some(ExecutionId(held.id)))
}

#[derive(sqlx::FromRow)]
struct CmdRow {
    id: Uuid,
    device_id: Uuid,
    #[sqlx(rename = "type")]
    command_type: String,
    payload: Json<Value>,
    status: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    exit_code: Option<i64>,
    stdout: Option<String>,
    stderr: Option<String>,
    error_message: Option<String>,
    rejection: Option<String>,
}

impl From<CmdRow> for api::DeviceCommand {
    fn from(r: CmdRow) -> Self {
        let mut payload = r.payload.0;
        // Script text can be long; the execution holds it. Keep the history light.
        if let Some(obj) = payload.as_object_mut() {
            obj.remove("content");
        }
        api::DeviceCommand {
            id: CommandId(r.id),
            device_id: DeviceId(r.device_id),
            command_type: r.command_type,
            payload,
            status: r.status,
            created_by: r.created_by.map(UserId),
            created_at: r.created_at,
            expires_at: r.expires_at,
            sent_at: r.sent_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
            exit_code: r.exit_code,
            stdout: r.stdout,
            stderr: r.stderr,
            error_message: r.error_message,
            rejection: r.rejection,
        }
    }
}

const CMD_COLS: &str = "SELECT id, device_id, type, payload, status, created_by, created_at, expires_at, sent_at, \
    started_at, completed_at, exit_code, stdout, stderr, error_message, rejection FROM device_commands";

/// Command history of a device the caller fetched through its scope, newest first.
pub async fn history(
    db: &Db,
    device: DeviceId,
    limit: u32,
    offset: u64,
) -> Result<Vec<api::DeviceCommand>, StoreError> {
    let mut q = Q::new(CMD_COLS);
    q.push(" WHERE device_id = ")
        .push_bind(device)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1)
        .push(" OFFSET ")
        .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    Ok(db
        .all::<CmdRow>(q)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// One command of a device the caller fetched through its scope.
pub async fn get(
    db: &Db,
    device: DeviceId,
    id: CommandId,
) -> Result<api::DeviceCommand, StoreError> {
    let mut q = Q::new(CMD_COLS);
    q.push(" WHERE device_id = ")
        .push_bind(device)
        .push(" AND id = ")
        .push_bind(id);
    db.one::<CmdRow>(q).await.map(Into::into)
}

/// Cancels a command that has not reached the agent yet. Answers false when it had.
pub async fn cancel_if_pending(
    db: &Db,
    device: DeviceId,
    id: CommandId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE device_commands SET status = 'cancelled', completed_at = ?, error_message = 'cancelled before delivery' \
                 WHERE id = ? AND device_id = ? AND status = 'pending'",
            )
            .bind(now)
            .bind(id)
            .bind(device),
        )
        .await?;
    if n > 0 {
        db.exec(
            Q::new(
                "UPDATE script_executions SET status = 'cancelled', completed_at = ?, error_message = 'cancelled before delivery' \
                 WHERE command_id = ?",
            )
            .bind(now)
            .bind(id),
        )
        .await?;
    }
    Ok(n > 0)
}

/// Expiry sweep: commands nobody took (or acknowledged) before `expires_at`.
pub async fn expire_sweep(db: &Db, now: DateTime<Utc>) -> Result<u64, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Id {
        id: Uuid,
    }
    let rows: Vec<Id> = db
        .all(
            Q::new(
                "UPDATE device_commands SET status = 'expired', completed_at = ? WHERE status IN ('pending', 'sent') \
                 AND expires_at < ? RETURNING id",
            )
            .bind(now)
            .bind(now),
        )
        .await?;
    if !rows.is_empty() {
        let mut q = Q::new("UPDATE script_executions SET status = 'expired', completed_at = ");
        q.push_bind(now)
            .push(" WHERE status IN ('pending', 'sent') AND command_id IN ")
            .push_list(rows.iter().map(|r| r.id));
        db.exec(q).await?;
    }
    Ok(rows.len() as u64)
}
