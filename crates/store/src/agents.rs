//! The agent-facing side of devices: enrollment, bearer-token authentication,
//! heartbeats, two-phase token rotation and token suspension. These functions are
//! authenticated by a token hash rather than a user scope, and say so in their names.

use crate::StoreError;
use crate::db::{Count, Db, Engine, Q, Tx};
use crate::device_events::{self, Actor, NewEvent};
use crate::enrollment_keys;
use breeze_core::DeviceCoords;
use breeze_proto::agent::{EnrollRequest, HeartbeatRequest};
use breeze_proto::ids::{DeviceId, EnrollmentKeyId, OrgId, PartnerId, SiteId, UserId};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

/// The status of a device whose agent enrolled and has not checked in yet (no
/// heartbeat, no channel): the console shows "waiting for first check-in". The offline
/// sweep leaves it alone; the first heartbeat or channel makes it `online`.
pub const AWAITING_CHECKIN: &str = "awaiting_checkin";

/// A device as its agent's token sees it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AgentDevice {
    pub id: Uuid,
    pub org_id: Uuid,
    pub site_id: Uuid,
    pub partner_id: Uuid,
    pub hostname: String,
    pub status: String,
    pub agent_token_hash: Option<String>,
    pub agent_token_pending_hash: Option<String>,
    pub agent_token_issued_at: Option<DateTime<Utc>>,
    pub agent_token_suspended_at: Option<DateTime<Utc>>,
    pub last_seen_ip: Option<String>,
    pub config_hash: Option<String>,
    pub inventory_hashes: Option<Json<Value>>,
    /// When the previous heartbeat arrived (commands started before it and missing
    /// from the next heartbeat's `running_commands` are lost).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The organization's status (`suspended`/`churned` refuse the agent).
    pub org_status: String,
}

impl AgentDevice {
    pub fn device_id(&self) -> DeviceId {
        DeviceId(self.id)
    }
    pub fn org(&self) -> OrgId {
        OrgId(self.org_id)
    }
    pub fn partner(&self) -> PartnerId {
        PartnerId(self.partner_id)
    }
    /// Where the device sits in the tenancy tree.
    pub fn coords(&self) -> DeviceCoords {
        DeviceCoords {
            partner_id: PartnerId(self.partner_id),
            org_id: OrgId(self.org_id),
            site_id: SiteId(self.site_id),
            device_id: DeviceId(self.id),
        }
    }
    /// Whether `hash` is the pending (not yet confirmed) token.
    pub fn is_pending_token(&self, hash: &str) -> bool {
        self.agent_token_pending_hash.as_deref() == Some(hash)
    }
}

const AGENT_COLS: &str = "SELECT d.id, d.org_id, d.site_id, o.partner_id, d.hostname, d.status, \
    d.agent_token_hash, d.agent_token_pending_hash, d.agent_token_issued_at, d.agent_token_suspended_at, \
    d.last_seen_ip, d.config_hash, d.inventory_hashes, d.last_seen_at, o.status AS org_status \
    FROM devices d JOIN organizations o ON o.id = d.org_id";

/// The device whose current or pending token has this hash (any device: the caller
/// compares it with the device in the path).
pub async fn device_by_token_hash_for_agent(
    db: &Db,
    hash: &str,
) -> Result<Option<AgentDevice>, StoreError> {
    let mut q = Q::new(AGENT_COLS);
    q.push(" WHERE d.agent_token_hash = ")
        .push_bind(hash)
        .push(" UNION ALL ")
        .push(AGENT_COLS)
        .push(" WHERE d.agent_token_pending_hash = ")
        .push_bind(hash);
    Ok(db.all::<AgentDevice>(q).await?.into_iter().next())
}

/// Suspends the token of `device` (it was used for another device's resources, seed
/// 000 `agentTokenSuspendedAt`); every later request with it answers 401.
pub async fn suspend_token_for_agent(
    db: &Db,
    device: DeviceId,
    reason: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.exec(
        Q::new(
            "UPDATE devices SET agent_token_suspended_at = COALESCE(agent_token_suspended_at, ?), \
             agent_token_suspended_reason = ?, updated_at = ? WHERE id = ?",
        )
        .bind(now)
        .bind(reason)
        .bind(now)
        .bind(device),
    )
    .await?;
    device_events::insert_tx(
        &mut tx,
        &NewEvent {
            device_id: device,
            event_type: "token_suspended",
            details: json!({"reason": reason}),
            ip_address: ip,
            actor: Actor::System,
        },
        now,
    )
    .await?;
    tx.commit().await
}

/// Who enrolled, and how.
pub enum Credential<'a> {
    /// A site enrollment key, found valid by `enrollment_keys::usable_for_agent`; a
    /// limited key's use is already reserved (`enrollment_keys::reserve_uses`).
    Key(&'a enrollment_keys::UsableKey),
    /// SHA-256 of a pending device's single-use enrollment token.
    DeviceTokenHash(&'a str),
}

/// Why an enrollment was refused.
#[derive(Debug)]
pub enum EnrollRefusal {
    /// Unknown, expired, revoked or used-up key/token.
    InvalidCredential,
    /// `site_id` requested is not the key's organization.
    SiteNotAllowed,
    /// The machine's fingerprint belongs to a device of the same partner whose agent
    /// token is suspended (seed 000: "Re-enrollment is blocked until cleared"), until
    /// an admin reactivates or decommissions that device.
    DeviceSuspended {
        device_id: DeviceId,
        org_id: OrgId,
        partner_id: PartnerId,
    },
    /// The partner's or the organization's `max_devices` is reached (devices that are
    /// not decommissioned count, pending ones included).
    DeviceLimitReached { limit: i64, of: &'static str },
    /// The organization is `suspended` or `churned`: its data is read-only.
    OrgInactive { status: String },
}

pub struct Enrolled {
    pub device_id: DeviceId,
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub partner_id: PartnerId,
    pub trust_level: &'static str,
    pub method: &'static str,
    /// The unlimited key this enrollment used, whose use the caller counts
    /// (`enrollment_keys::add_uses`); a limited key's use was reserved before.
    pub uncounted_use: Option<EnrollmentKeyId>,
}

impl Enrolled {
    pub fn coords(&self) -> DeviceCoords {
        DeviceCoords {
            partner_id: self.partner_id,
            org_id: self.org_id,
            site_id: self.site_id,
            device_id: self.device_id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
}

/// An organization's standing and the device limits that apply to it.
#[derive(sqlx::FromRow)]
struct OrgLimits {
    org_id: Uuid,
    partner_id: Uuid,
    status: String,
    /// `None`: the partner's limit alone applies.
    org_max: Option<i64>,
    partner_max: Option<i64>,
}

impl OrgLimits {
    fn refuses_writes(&self) -> Option<EnrollRefusal> {
        breeze_core::org_status::is_read_only(&self.status).then(|| EnrollRefusal::OrgInactive {
            status: self.status.clone(),
        })
    }
}

async fn org_limits(tx: &mut Tx, org: OrgId) -> Result<OrgLimits, StoreError> {
    tx.one(
        Q::new(
            "SELECT o.id AS org_id, o.partner_id, o.status, o.max_devices AS org_max, p.max_devices AS partner_max \
             FROM organizations o JOIN partners p ON p.id = o.partner_id WHERE o.id = ?",
        )
        .bind(org),
    )
    .await
}

/// Counts the devices (not decommissioned) under the partner and the organization,
/// inside the enrolling transaction, and answers the refusal when one more would pass
/// a limit. On PostgreSQL the partner row is locked first so two enrollments cannot
/// both take the last place; SQLite transactions that write are serialized already.
async fn device_limit(tx: &mut Tx, org: &OrgLimits) -> Result<Option<EnrollRefusal>, StoreError> {
    if org.org_max.is_none() && org.partner_max.is_none() {
        return Ok(None);
    }
    if tx.engine() == Engine::Postgres {
        tx.exec(Q::new("SELECT id FROM partners WHERE id = ? FOR UPDATE").bind(org.partner_id))
            .await?;
    }
    if let Some(limit) = org.partner_max {
        let n: Count = tx
            .one(
                Q::new(
                    "SELECT COUNT(*) AS n FROM devices d JOIN organizations o ON o.id = d.org_id \
                     WHERE o.partner_id = ? AND d.status <> 'decommissioned'",
                )
                .bind(org.partner_id),
            )
            .await?;
        if n.n >= limit {
            return Ok(Some(EnrollRefusal::DeviceLimitReached {
                limit,
                of: "partner",
            }));
        }
    }
    if let Some(limit) = org.org_max {
        let n: Count = tx
            .one(
                Q::new("SELECT COUNT(*) AS n FROM devices WHERE org_id = ? AND status <> 'decommissioned'")
                    .bind(org.org_id),
            )
            .await?;
        if n.n >= limit {
            return Ok(Some(EnrollRefusal::DeviceLimitReached {
                limit,
                of: "organization",
            }));
        }
    }
    Ok(None)
}

/// Enrolls a device with a valid key (whose use the caller reserved or counts) or a
/// pending device's token (consumed here): creates or completes the device row with the
/// new token's hash, records the fingerprint and trust level and writes the `enrolled`
/// event, in one transaction.
pub async fn enroll_for_agent(
    db: &Db,
    cred: Credential<'_>,
    req: &EnrollRequest,
    token_hash: &str,
    config_hash: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<Enrolled, EnrollRefusal>, StoreError> {
    let mut tx = db.begin().await?;
    // The unlimited key whose use the caller counts.
    let mut uncounted_use = None;
    let (device_id, org_id, site_id, method, existing) = match cred {
        Credential::Key(key) => {
            if !key.limited {
                uncounted_use = Some(key.id);
            }
            let site = match req.site_id {
                None => key.site_id,
                Some(s) if s == key.site_id => s,
                Some(s) => {
                    let same_org: Option<Count> = tx
                        .optional(
                            Q::new("SELECT COUNT(*) AS n FROM sites WHERE id = ? AND org_id = ? HAVING COUNT(*) > 0")
                                .bind(s)
                                .bind(key.org_id),
                        )
                        .await?;
                    if same_org.is_none() {
                        return Ok(Err(EnrollRefusal::SiteNotAllowed));
                    }
                    s
                }
            };
            (DeviceId::new(), key.org_id, site, "enrollment_key", false)
        }
        Credential::DeviceTokenHash(h) => {
            let row: Option<PendingRow> = tx
                .optional(
                    Q::new(
                        "SELECT id, org_id, site_id FROM devices WHERE enrollment_token_hash = ? \
                         AND enrollment_token_expires_at > ? AND status = 'pending'",
                    )
                    .bind(h)
                    .bind(now),
                )
                .await?;
            let Some(row) = row else {
                return Ok(Err(EnrollRefusal::InvalidCredential));
            };
            if req.site_id.is_some_and(|s| s.0 != row.site_id) {
                return Ok(Err(EnrollRefusal::SiteNotAllowed));
            }
            (
                DeviceId(row.id),
                OrgId(row.org_id),
                SiteId(row.site_id),
                "device_token",
                true,
            )
        }
    };
    let org = org_limits(&mut tx, org_id).await?;
    if let Some(refusal) = org.refuses_writes() {
        return Ok(Err(refusal));
    }
    if !req.fingerprint.is_empty() {
        let suspended: Option<PendingRow> = tx
            .optional(
                Q::new(
                    "SELECT d.id, d.org_id, d.site_id FROM devices d JOIN organizations o ON o.id = d.org_id WHERE o.partner_id = ? \
                     AND d.fingerprint = ? AND d.agent_token_suspended_at IS NOT NULL \
                     AND d.status <> 'decommissioned' AND d.id <> ? LIMIT 1",
                )
                .bind(org.partner_id)
                .bind(req.fingerprint.as_str())
                .bind(device_id),
            )
            .await?;
        if let Some(d) = suspended {
            return Ok(Err(EnrollRefusal::DeviceSuspended {
                device_id: DeviceId(d.id),
                org_id: OrgId(d.org_id),
                partner_id: PartnerId(org.partner_id),
            }));
        }
    }
    // A pending device is already counted; a new one must fit.
    if !existing && let Some(refusal) = device_limit(&mut tx, &org).await? {
        return Ok(Err(refusal));
    }
    let clash: Count = tx
        .one(
            Q::new(
                "SELECT COUNT(*) AS n FROM devices WHERE fingerprint = ? AND status <> 'decommissioned' AND id <> ?",
            )
            .bind(req.fingerprint.as_str())
            .bind(device_id),
        )
        .await?;
    let trust = breeze_core::trust::at_enrollment(&req.fingerprint, clash.n > 0).as_str();
    let hw = &req.hardware;
    let os_type = match req.os_type {
        breeze_proto::agent::OsType::Linux => "linux",
        breeze_proto::agent::OsType::Macos => "macos",
        breeze_proto::agent::OsType::Windows => "windows",
    };
    let cores = i64::from(hw.cpu_cores);
    let ram = i64::try_from(hw.ram_total_mb).unwrap_or(i64::MAX);
    if existing {
        tx.exec(
            Q::new(
                "UPDATE devices SET hostname = ?, os_type = ?, os_version = ?, os_build = ?, architecture = ?, \
                 agent_version = ?, status = 'awaiting_checkin', last_seen_at = NULL, last_seen_ip = ?, enrolled_at = ?, \
                 agent_token_hash = ?, agent_token_issued_at = ?, enrollment_token_hash = NULL, \
                 enrollment_token_expires_at = NULL, fingerprint = ?, trust_level = ?, cpu_model = ?, \
                 cpu_cores = ?, ram_total_mb = ?, serial_number = ?, config_hash = ?, updated_at = ? WHERE id = ?",
            )
            .bind(req.hostname.as_str())
            .bind(os_type)
            .bind(req.os_version.as_str())
            .bind(req.os_build.as_str())
            .bind(req.architecture.as_str())
            .bind(req.agent_version.as_str())
            .bind(ip)
            .bind(now)
            .bind(token_hash)
            .bind(now)
            .bind(req.fingerprint.as_str())
            .bind(trust)
            .bind(hw.cpu_model.as_str())
            .bind(cores)
            .bind(ram)
            .bind(hw.serial_number.clone())
            .bind(config_hash)
            .bind(now)
            .bind(device_id),
        )
        .await?;
    } else {
        tx.exec(
            Q::new(
                "INSERT INTO devices (id, org_id, site_id, agent_id, agent_token_hash, hostname, os_type, os_version, \
                 os_build, architecture, agent_version, status, last_seen_ip, enrolled_at, tags, \
                 created_at, updated_at, fingerprint, trust_level, agent_token_issued_at, cpu_model, cpu_cores, \
                 ram_total_mb, serial_number, config_hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'awaiting_checkin', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(device_id)
            .bind(org_id)
            .bind(site_id)
            .bind(device_id.to_string())
            .bind(token_hash)
            .bind(req.hostname.as_str())
            .bind(os_type)
            .bind(req.os_version.as_str())
            .bind(req.os_build.as_str())
            .bind(req.architecture.as_str())
            .bind(req.agent_version.as_str())
            .bind(ip)
            .bind(now)
            .bind(json!([]))
            .bind(now)
            .bind(now)
            .bind(req.fingerprint.as_str())
            .bind(trust)
            .bind(now)
            .bind(hw.cpu_model.as_str())
            .bind(cores)
            .bind(ram)
            .bind(hw.serial_number.clone())
            .bind(config_hash),
        )
        .await?;
    }
    device_events::insert_tx(
        &mut tx,
        &NewEvent {
            device_id,
            event_type: "enrolled",
            details: json!({"method": method, "trust_level": trust, "hostname": req.hostname,
                "fingerprint": req.fingerprint, "agent_version": req.agent_version}),
            ip_address: ip,
            actor: Actor::Agent,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(Enrolled {
        device_id,
        org_id,
        site_id,
        partner_id: PartnerId(org.partner_id),
        trust_level: trust,
        method,
        uncounted_use,
    }))
}

pub struct NewPendingDevice<'a> {
    pub org_id: OrgId,
    pub site_id: SiteId,
    pub hostname: &'a str,
    pub display_name: Option<&'a str>,
    pub os_type: &'a str,
    pub tags: &'a [String],
    pub token_hash: &'a str,
    pub token_expires_at: DateTime<Utc>,
    pub created_by: UserId,
}

/// Pre-creates a pending device holding a single-use enrollment token (seed 001). The
/// caller fetched the site through its scope. Refused like an enrollment when the
/// organization is read-only or a device limit is reached (a pending device counts).
pub async fn create_pending(
    db: &Db,
    d: &NewPendingDevice<'_>,
    now: DateTime<Utc>,
) -> Result<Result<DeviceId, EnrollRefusal>, StoreError> {
    let id = DeviceId::new();
    let mut tx = db.begin().await?;
    let org = org_limits(&mut tx, d.org_id).await?;
    if let Some(refusal) = org.refuses_writes() {
        return Ok(Err(refusal));
    }
    if let Some(refusal) = device_limit(&mut tx, &org).await? {
        return Ok(Err(refusal));
    }
    tx.exec(
        Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, display_name, os_type, status, tags, \
             created_at, updated_at, enrollment_token_hash, enrollment_token_expires_at, enrolled_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(d.org_id)
        .bind(d.site_id)
        .bind(id.to_string())
        .bind(d.hostname)
        .bind(d.display_name)
        .bind(d.os_type)
        .bind(json!(d.tags))
        .bind(now)
        .bind(now)
        .bind(d.token_hash)
        .bind(d.token_expires_at)
        .bind(d.created_by),
    )
    .await?;
    device_events::insert_tx(
        &mut tx,
        &NewEvent {
            device_id: id,
            event_type: "pending_device_created",
            details: json!({"hostname": d.hostname}),
            ip_address: None,
            actor: Actor::User(d.created_by.0),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// What a heartbeat changes on the device row.
pub struct HeartbeatUpdate<'a> {
    pub req: &'a HeartbeatRequest,
    pub ip: Option<&'a str>,
    /// When the token used is the pending one and the agent confirms it: make it current.
    pub confirm_rotation: bool,
    /// A new pending token hash to hand out with this answer.
    pub new_pending_hash: Option<&'a str>,
    pub config_hash: Option<&'a str>,
}

/// Records a heartbeat on the device (last seen, health, status back to online, or
/// online for the first time after enrollment) and applies the token-rotation steps.
pub async fn record_heartbeat_for_agent(
    db: &Db,
    device: &AgentDevice,
    u: &HeartbeatUpdate<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let r = u.req;
    let health = health_label(r.status);
    let mut q = Q::new(
        "UPDATE devices SET last_seen_at = ?, last_seen_ip = ?, agent_version = ?, pending_reboot = ?, \
         last_user = ?, uptime_secs = ?, agent_health = ?, updated_at = ?, \
         status = CASE WHEN status IN ('offline', 'pending', 'awaiting_checkin') THEN 'online' ELSE status END",
    );
    q = q
        .bind(now)
        .bind(u.ip)
        .bind(r.agent_version.as_str())
        .bind(r.pending_reboot)
        .bind(r.last_user.clone())
        .bind(i64::try_from(r.uptime_secs).unwrap_or(i64::MAX))
        .bind(health)
        .bind(now);
    if u.confirm_rotation {
        q.push(", agent_token_hash = agent_token_pending_hash, agent_token_pending_hash = NULL, agent_token_issued_at = ")
            .push_bind(now);
    }
    if let Some(h) = u.new_pending_hash {
        q.push(", agent_token_pending_hash = ").push_bind(h);
    }
    if let Some(h) = u.config_hash {
        q.push(", config_hash = ").push_bind(h);
    }
    q.push(" WHERE id = ").push_bind(device.id);
    db.exec(q).await?;
    Ok(())
}

/// The steady-state part of a heartbeat (nothing in it changes the device's status,
/// token or configuration), coalesced in memory by the server and written in batches
/// with [`record_seen_batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeenUpdate {
    pub device_id: DeviceId,
    pub last_seen_at: DateTime<Utc>,
    pub last_seen_ip: Option<String>,
    pub agent_version: String,
    pub pending_reboot: bool,
    pub last_user: Option<String>,
    pub uptime_secs: i64,
    pub agent_health: &'static str,
    /// The agent configuration's hash, when the heartbeat's answer carried the
    /// configuration; `None` keeps the stored one.
    pub config_hash: Option<String>,
}

impl SeenUpdate {
    pub fn new(
        device_id: DeviceId,
        req: &HeartbeatRequest,
        ip: Option<&str>,
        config_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        SeenUpdate {
            device_id,
            last_seen_at: now,
            last_seen_ip: ip.map(str::to_string),
            agent_version: req.agent_version.clone(),
            pending_reboot: req.pending_reboot,
            last_user: req.last_user.clone(),
            uptime_secs: i64::try_from(req.uptime_secs).unwrap_or(i64::MAX),
            agent_health: health_label(req.status),
            config_hash: config_hash.map(str::to_string),
        }
    }
}

fn health_label(h: breeze_proto::agent::AgentHealth) -> &'static str {
    match h {
        breeze_proto::agent::AgentHealth::Ok => "ok",
        breeze_proto::agent::AgentHealth::Warning => "warning",
        breeze_proto::agent::AgentHealth::Error => "error",
    }
}

/// Rows per statement of [`record_seen_batch`] (9 arguments a row: well under both
/// engines' limits on bound arguments).
const SEEN_CHUNK: usize = 1000;

/// Writes coalesced heartbeats: one `UPDATE … FROM (VALUES …)` per 1,000 devices, in one
/// transaction. A row whose `last_seen_at` is already newer (an immediate write, or
/// another replica's batch, came after) is left alone; status is never touched (a
/// device the offline sweep marked offline comes back online through its next
/// heartbeat's immediate write). Answers the rows written.
///
/// On PostgreSQL the rows are locked in id order (`SELECT … ORDER BY id FOR UPDATE`,
/// chunk by chunk over the batch sorted by id) before they are written: an `UPDATE`'s
/// join locks rows in whatever order its plan reads them, and two writers that lock
/// overlapping rows in different orders deadlock. [`sweep_offline`] locks in the same
/// order and skips what is locked.
pub async fn record_seen_batch(db: &Db, batch: &[SeenUpdate]) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut sorted: Vec<&SeenUpdate> = batch.iter().collect();
    sorted.sort_by_key(|u| u.device_id.0);
    let mut tx = db.begin().await?;
    let mut written = 0;
    for chunk in sorted.chunks(SEEN_CHUNK) {
        if tx.engine() == Engine::Postgres {
            let mut lock = Q::new("SELECT id FROM devices WHERE id IN ");
            lock.push_list(chunk.iter().map(|u| u.device_id))
                .push(" ORDER BY id FOR UPDATE");
            tx.exec(lock).await?;
        }
        let mut q = Q::new(
            "WITH v (id, seen, ip, version, reboot, last_user, uptime, health, cfg) AS (VALUES ",
        );
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(").push_bind(u.device_id);
            q.push(", ").push_bind(u.last_seen_at);
            q.push(", ").push_bind(u.last_seen_ip.clone());
            q.push(", ").push_bind(u.agent_version.as_str());
            q.push(", ").push_bind(u.pending_reboot);
            q.push(", ").push_bind(u.last_user.clone());
            q.push(", ").push_bind(u.uptime_secs);
            q.push(", ").push_bind(u.agent_health);
            q.push(", ").push_bind(u.config_hash.clone()).push(")");
        }
        q.push(
            ") UPDATE devices SET last_seen_at = v.seen, last_seen_ip = v.ip, agent_version = v.version, \
             pending_reboot = v.reboot, last_user = v.last_user, uptime_secs = v.uptime, \
             agent_health = v.health, config_hash = COALESCE(v.cfg, devices.config_hash), \
             updated_at = v.seen FROM v \
             WHERE devices.id = v.id AND (devices.last_seen_at IS NULL OR devices.last_seen_at <= v.seen)",
        );
        written += tx.exec(q).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// The agent's first contact after enrollment that is not a heartbeat (its channel
/// opened): a device `awaiting_checkin` becomes `online`. Answers whether it changed.
pub async fn check_in_for_agent(
    db: &Db,
    device: &AgentDevice,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = db
        .exec(
            Q::new(
                "UPDATE devices SET status = 'online', last_seen_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'awaiting_checkin'",
            )
            .bind(now)
            .bind(now)
            .bind(device.id),
        )
        .await?;
    Ok(n > 0)
}

#[derive(sqlx::FromRow)]
struct OfflineRow {
    id: Uuid,
    org_id: Uuid,
    site_id: Uuid,
    partner_id: Uuid,
}

/// The offline sweep: devices `online` whose last heartbeat is older than `cutoff`
/// become `offline` (with a device event). Answers the devices that changed. Devices
/// of a suspended or churned organization keep their state: their agents are refused,
/// not gone.
///
/// On PostgreSQL the sweep takes its rows `ORDER BY id FOR UPDATE SKIP LOCKED`, so it
/// never waits on a row lock: a row locked by a heartbeat flush
/// ([`record_seen_batch`]) belongs to a device that has just been heard from, and a row
/// locked by anything else is swept next period. A plain `UPDATE … WHERE status =
/// 'online'` locked rows in scan order and waited on the flush's, while the flush waited
/// on the sweep's: a deadlock, seen with two replicas at 100,000 agents.
pub async fn sweep_offline(
    db: &Db,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceCoords>, StoreError> {
    const STALE: &str = "status = 'online' AND last_seen_at < ? AND org_id NOT IN \
                         (SELECT id FROM organizations WHERE status IN ('suspended', 'churned'))";
    const RETURNING: &str = " RETURNING id, org_id, site_id, \
         (SELECT o.partner_id FROM organizations o WHERE o.id = devices.org_id) AS partner_id";
    let mut q = Q::new("UPDATE devices SET status = 'offline', updated_at = ? WHERE ");
    match db.engine() {
        Engine::Postgres => q
            .push("status = 'online' AND id IN (SELECT id FROM devices WHERE ")
            .push(STALE)
            .push(" ORDER BY id FOR UPDATE SKIP LOCKED)"),
        Engine::Sqlite => q.push(STALE),
    };
    q.push(RETURNING);
    // The rows and their events in one transaction, the events in batches: after an
    // outage every device goes offline at once.
    let mut tx = db.begin().await?;
    let rows: Vec<OfflineRow> = tx.all(q.bind(now).bind(cutoff)).await?;
    let events: Vec<NewEvent<'_>> = rows
        .iter()
        .map(|r| NewEvent {
            device_id: DeviceId(r.id),
            event_type: "offline",
            details: json!({"last_seen_before": cutoff}),
            ip_address: None,
            actor: Actor::System,
        })
        .collect();
    device_events::insert_many_tx(&mut tx, &events, now).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| DeviceCoords {
            partner_id: PartnerId(r.partner_id),
            org_id: OrgId(r.org_id),
            site_id: SiteId(r.site_id),
            device_id: DeviceId(r.id),
        })
        .collect())
}

/// Records the section hashes the server accepted with an inventory upload (merged
/// into what it held), so heartbeats can be compared without reading inventory.
pub async fn set_inventory_hashes_for_agent(
    db: &Db,
    device: &AgentDevice,
    accepted: &std::collections::BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let mut merged = device
        .inventory_hashes
        .as_ref()
        .and_then(|j| j.0.as_object().cloned())
        .unwrap_or_default();
    for (k, v) in accepted {
        merged.insert(k.clone(), Value::String(v.clone()));
    }
    db.exec(
        Q::new("UPDATE devices SET inventory_hashes = ? WHERE id = ?")
            .bind(Value::Object(merged))
            .bind(device.id),
    )
    .await?;
    Ok(())
}
