//! Device lifecycle events (seed 001 `device_events`): enrolled, revoked, reactivated,
//! trust_level_changed, quarantined, offline, online, first_checkin, command_rejected …

use crate::StoreError;
use crate::db::{Db, Q, Tx};
use breeze_proto::api;
use breeze_proto::ids::DeviceId;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Who caused an event.
#[derive(Clone, Copy, Debug)]
pub enum Actor {
    System,
    Agent,
    User(Uuid),
}

impl Actor {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Actor::System => ("system", None),
            Actor::Agent => ("agent", None),
            Actor::User(u) => ("user", Some(u)),
        }
    }
}

pub struct NewEvent<'a> {
    pub device_id: DeviceId,
    pub event_type: &'a str,
    pub details: Value,
    pub ip_address: Option<&'a str>,
    pub actor: Actor,
}

/// One `INSERT` of `events` (at least one).
fn insert_q<'a>(events: impl IntoIterator<Item = &'a NewEvent<'a>>, now: DateTime<Utc>) -> Q {
    let mut q = Q::new(
        "INSERT INTO device_events (id, device_id, event_type, details, ip_address, actor_type, actor_id, created_at) VALUES ",
    );
    for (i, e) in events.into_iter().enumerate() {
        let (t, a) = e.actor.parts();
        if i > 0 {
            q.push(", ");
        }
        q.push("(").push_bind(Uuid::now_v7());
        q.push(", ").push_bind(e.device_id);
        q.push(", ").push_bind(e.event_type);
        q.push(", ").push_bind(e.details.clone());
        q.push(", ").push_bind(e.ip_address);
        q.push(", ").push_bind(t);
        q.push(", ").push_bind(a);
        q.push(", ").push_bind(now).push(")");
    }
    q
}

pub async fn insert(db: &Db, e: &NewEvent<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.exec(insert_q([e], now)).await.map(|_| ())
}

pub async fn insert_tx(
    tx: &mut Tx,
    e: &NewEvent<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.exec(insert_q([e], now)).await.map(|_| ())
}

/// Rows per statement of [`insert_many_tx`] (8 arguments a row).
const MANY_CHUNK: usize = 500;

/// Inserts many events in few statements (the offline sweep's, one per device that
/// went offline: 100,000 single-row inserts after an outage kept SQLite's one writer
/// busy for seconds).
pub async fn insert_many_tx(
    tx: &mut Tx,
    events: &[NewEvent<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in events.chunks(MANY_CHUNK) {
        tx.exec(insert_q(chunk, now)).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    device_id: Uuid,
    event_type: String,
    details: Json<Value>,
    ip_address: Option<String>,
    created_at: DateTime<Utc>,
}

/// Events of a device the caller already fetched through its scope, newest first.
pub async fn list_for_device(
    db: &Db,
    device: DeviceId,
    limit: u32,
    offset: u64,
) -> Result<Vec<api::DeviceEvent>, StoreError> {
    let rows: Vec<EventRow> = db
        .all(
            Q::new(
                "SELECT id, device_id, event_type, details, ip_address, created_at FROM device_events \
                 WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            )
            .bind(device)
            .bind(i64::from(limit) + 1)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX)),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| api::DeviceEvent {
            id: r.id,
            device_id: DeviceId(r.device_id),
            event_type: r.event_type,
            details: r.details.0,
            ip_address: r.ip_address,
            created_at: r.created_at,
        })
        .collect())
}
