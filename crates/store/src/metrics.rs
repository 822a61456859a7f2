//! Device metrics as a time series: raw samples written in batches, 5-minute and
//! 1-hour rollups computed by a job from a watermark (so each raw row is read once),
//! and retention that drops old rows of each resolution.

use crate::StoreError;
use crate::db::{Db, Q};
use breeze_proto::agent::Metrics;
use breeze_proto::api;
use breeze_proto::ids::DeviceId;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One sample waiting to be written.
#[derive(Clone, Debug)]
pub struct Sample {
    pub device_id: DeviceId,
    pub ts: DateTime<Utc>,
    pub metrics: Metrics,
}

const CHUNK: usize = 200;

fn u(v: u64) -> f64 {
    v as f64
}

/// Writes samples with multi-row INSERTs in one transaction.
pub async fn insert_batch(db: &Db, samples: &[Sample]) -> Result<(), StoreError> {
    if samples.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for chunk in samples.chunks(CHUNK) {
        let mut q = Q::new(
            "INSERT INTO device_metrics (device_id, ts, cpu_percent, ram_percent, ram_used_mb, disk_percent, \
             disk_used_gb, network_in_bytes, network_out_bytes, process_count, custom) VALUES ",
        );
        for (i, s) in chunk.iter().enumerate() {
            let m = &s.metrics;
            if i > 0 {
                q.push(", ");
            }
            q.push("(").push_bind(s.device_id);
            q.push(", ").push_bind(s.ts);
            q.push(", ").push_bind(m.cpu_percent);
            q.push(", ").push_bind(m.ram_percent);
            q.push(", ").push_bind(u(m.ram_used_mb));
            q.push(", ").push_bind(m.disk_percent);
            q.push(", ").push_bind(m.disk_used_gb);
            q.push(", ").push_bind(u(m.network_in_bytes));
            q.push(", ").push_bind(u(m.network_out_bytes));
            q.push(", ").push_bind(u(m.process_count));
            q.push(", ")
                .push_bind((!m.custom.is_empty()).then(|| json!(m.custom)))
                .push(")");
        }
        tx.exec(q).await?;
    }
    tx.commit().await
}

/// Resolution of a metrics query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    FiveMinutes,
    Hour,
}

impl Resolution {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(Self::Raw),
            "5m" => Some(Self::FiveMinutes),
            "1h" => Some(Self::Hour),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::FiveMinutes => "5m",
            Self::Hour => "1h",
        }
    }
    fn step(self) -> Duration {
        match self {
            Self::Raw => Duration::zero(),
            Self::FiveMinutes => Duration::minutes(5),
            Self::Hour => Duration::hours(1),
        }
    }
}

/// Points of a device (fetched through the caller's scope) in `[from, to]`, at most
/// 10 000 (oldest first). A rollup resolution answers the stored buckets, then the buckets
/// the rollup job has not written yet (the last minutes, or a device enrolled moments ago)
/// computed now from the finer data, the newest of them still filling.
pub async fn query(
    db: &Db,
    device: DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    res: Resolution,
) -> Result<Vec<api::MetricPoint>, StoreError> {
    const LIMIT: usize = 10_000;
    let (key, finer_key) = match res {
        Resolution::Raw => {
            let q = Q::new(
                "SELECT device_id, ts, CAST(1 AS BIGINT) AS samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
                 network_in_bytes, network_out_bytes, process_count FROM device_metrics \
                 WHERE device_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT 10000",
            )
            .bind(device)
            .bind(from)
            .bind(to);
            let rows: Vec<Row> = db.all(q).await?;
            return Ok(rows.iter().map(Row::point).collect());
        }
        Resolution::FiveMinutes => ("metrics_rollup_5m", None),
        Resolution::Hour => ("metrics_rollup_1h", Some("metrics_rollup_5m")),
    };
    // Buckets before the watermark are complete and stored; the rest is computed.
    let done = watermark(db, key).await?;
    let tail_from = done.map_or(from, |d| d.max(from));
    let stored: Vec<Row> = db
        .all(
            Q::new(
                "SELECT device_id, bucket AS ts, samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
                 network_in_bytes, network_out_bytes, process_count FROM device_metrics_rollup \
                 WHERE device_id = ? AND resolution = ? AND bucket >= ? AND bucket < ? ORDER BY bucket LIMIT 10000",
            )
            .bind(device)
            .bind(res.as_str())
            .bind(from)
            .bind(tail_from.min(to + Duration::seconds(1))),
        )
        .await?;
    let mut points: Vec<api::MetricPoint> = stored.iter().map(Row::point).collect();
    if tail_from > to || points.len() >= LIMIT {
        points.truncate(LIMIT);
        return Ok(points);
    }
    // The finer data after `tail_from`: 5-minute buckets up to their own watermark (for
    // hourly points), raw samples after it.
    let mut finer: Vec<Row> = Vec::new();
    let mut raw_from = tail_from;
    if let Some(k) = finer_key {
        let five_done = watermark(db, k).await?.unwrap_or(tail_from);
        if five_done > tail_from {
            finer = db
                .all(
                    Q::new(
                        "SELECT device_id, bucket AS ts, samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
                         network_in_bytes, network_out_bytes, process_count FROM device_metrics_rollup \
                         WHERE device_id = ? AND resolution = '5m' AND bucket >= ? AND bucket < ?",
                    )
                    .bind(device)
                    .bind(tail_from)
                    .bind(five_done),
                )
                .await?;
            raw_from = five_done;
        }
    }
    let raw: Vec<Row> = db
        .all(
            Q::new(
                "SELECT device_id, ts, CAST(1 AS BIGINT) AS samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
                 network_in_bytes, network_out_bytes, process_count FROM device_metrics \
                 WHERE device_id = ? AND ts >= ? AND ts <= ?",
            )
            .bind(device)
            .bind(raw_from)
            .bind(to),
        )
        .await?;
    finer.extend(raw);
    for ((_, bucket), acc) in accumulate(finer, res.step())? {
        points.push(acc.point(bucket));
    }
    points.truncate(LIMIT);
    Ok(points)
}

#[derive(sqlx::FromRow)]
struct Setting {
    value: Json<Value>,
}

async fn watermark(db: &Db, key: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let s: Option<Setting> = db
        .optional(Q::new("SELECT value FROM server_settings WHERE key = ?").bind(key))
        .await?;
    Ok(s.and_then(|s| s.value.0.as_str().and_then(|t| t.parse().ok())))
}

async fn set_watermark(
    db: &Db,
    key: &'static str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.exec(
        Q::new(
            "INSERT INTO server_settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(json!(at.to_rfc3339()))
        .bind(now),
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    device_id: Uuid,
    ts: DateTime<Utc>,
    samples: i64,
    cpu_percent: f64,
    ram_percent: f64,
    ram_used_mb: f64,
    disk_percent: f64,
    disk_used_gb: f64,
    network_in_bytes: f64,
    network_out_bytes: f64,
    process_count: f64,
}

impl Row {
    fn point(&self) -> api::MetricPoint {
        api::MetricPoint {
            timestamp: self.ts,
            cpu_percent: self.cpu_percent,
            ram_percent: self.ram_percent,
            ram_used_mb: self.ram_used_mb,
            disk_percent: self.disk_percent,
            disk_used_gb: self.disk_used_gb,
            network_in_bytes: self.network_in_bytes,
            network_out_bytes: self.network_out_bytes,
            process_count: self.process_count,
            samples: self.samples,
        }
    }
}

#[derive(Default)]
struct Acc {
    samples: i64,
    /// Sample-weighted sums of the averaged values; network bytes are plain sums.
    v: [f64; 8],
}

impl Acc {
    /// The bucket's values: sample-weighted averages, network bytes summed.
    fn values(&self) -> [f64; 8] {
        let n = self.samples.max(1) as f64;
        let mut out = self.v;
        for (k, v) in out.iter_mut().enumerate() {
            if k != 5 && k != 6 {
                *v /= n;
            }
        }
        out
    }

    fn point(&self, bucket: DateTime<Utc>) -> api::MetricPoint {
        let v = self.values();
        api::MetricPoint {
            timestamp: bucket,
            cpu_percent: v[0],
            ram_percent: v[1],
            ram_used_mb: v[2],
            disk_percent: v[3],
            disk_used_gb: v[4],
            network_in_bytes: v[5],
            network_out_bytes: v[6],
            process_count: v[7],
            samples: self.samples,
        }
    }
}

/// Rows (raw samples or finer buckets) summed into buckets of `step`, per device, in order.
fn accumulate(
    rows: Vec<Row>,
    step: Duration,
) -> Result<BTreeMap<(Uuid, DateTime<Utc>), Acc>, StoreError> {
    let mut acc: BTreeMap<(Uuid, DateTime<Utc>), Acc> = BTreeMap::new();
    for r in rows {
        let bucket =
            r.ts.duration_trunc(step)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let a = acc.entry((r.device_id, bucket)).or_default();
        let w = r.samples as f64;
        a.samples += r.samples;
        a.v[0] += r.cpu_percent * w;
        a.v[1] += r.ram_percent * w;
        a.v[2] += r.ram_used_mb * w;
        a.v[3] += r.disk_percent * w;
        a.v[4] += r.disk_used_gb * w;
        a.v[5] += r.network_in_bytes;
        a.v[6] += r.network_out_bytes;
        a.v[7] += r.process_count * w;
    }
    Ok(acc)
}

/// Rolls up complete buckets of `res` between the watermark and `now` from the next
/// finer resolution. Answers the number of rollup rows written.
pub async fn rollup(db: &Db, res: Resolution, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let (key, source) = match res {
        Resolution::Raw => return Ok(0),
        Resolution::FiveMinutes => ("metrics_rollup_5m", Resolution::Raw),
        Resolution::Hour => ("metrics_rollup_1h", Resolution::FiveMinutes),
    };
    let step = res.step();
    // Leave a minute for batched writes to land before a bucket counts as complete.
    let end = (now - Duration::minutes(1))
        .duration_trunc(step)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let start = match watermark(db, key).await? {
        Some(w) => w,
        None => end - Duration::days(2),
    };
    if start >= end {
        return Ok(0);
    }
    let q = match source {
        Resolution::Raw => Q::new(
            "SELECT device_id, ts, CAST(1 AS BIGINT) AS samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
             network_in_bytes, network_out_bytes, process_count FROM device_metrics WHERE ts >= ? AND ts < ?",
        ),
        _ => Q::new(
            "SELECT device_id, bucket AS ts, samples, cpu_percent, ram_percent, ram_used_mb, disk_percent, disk_used_gb, \
             network_in_bytes, network_out_bytes, process_count FROM device_metrics_rollup \
             WHERE resolution = '5m' AND bucket >= ? AND bucket < ?",
        ),
    }
    .bind(start)
    .bind(end);
    let rows: Vec<Row> = db.all(q).await?;
    let acc = accumulate(rows, step)?;
    // One statement per chunk, not one transaction for all: on SQLite a transaction holds
    // the one writer, and at 100,000 devices this one held it for seconds, so every
    // heartbeat flush and every write a request made waited behind it (and agents were
    // shed meanwhile). Each chunk is an upsert of complete buckets computed from the
    // source, and the watermark moves only after the last, so a rollup cut short is
    // redone whole next time.
    let entries: Vec<_> = acc.into_iter().collect();
    for chunk in entries.chunks(CHUNK) {
        let mut q = Q::new(
            "INSERT INTO device_metrics_rollup (device_id, resolution, bucket, samples, cpu_percent, ram_percent, \
             ram_used_mb, disk_percent, disk_used_gb, network_in_bytes, network_out_bytes, process_count) VALUES ",
        );
        for (i, ((device, bucket), a)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(").push_bind(*device);
            q.push(", ").push_bind(res.as_str());
            q.push(", ").push_bind(*bucket);
            q.push(", ").push_bind(a.samples);
            for v in a.values() {
                q.push(", ").push_bind(v);
            }
            q.push(")");
        }
        q.push(
            " ON CONFLICT (device_id, resolution, bucket) DO UPDATE SET samples = excluded.samples, \
             cpu_percent = excluded.cpu_percent, ram_percent = excluded.ram_percent, ram_used_mb = excluded.ram_used_mb, \
             disk_percent = excluded.disk_percent, disk_used_gb = excluded.disk_used_gb, \
             network_in_bytes = excluded.network_in_bytes, network_out_bytes = excluded.network_out_bytes, \
             process_count = excluded.process_count",
        );
        db.exec(q).await?;
    }
    set_watermark(db, key, end, now).await?;
    Ok(entries.len() as u64)
}

/// Retention: how long each resolution is kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub raw: Duration,
    pub five_minutes: Duration,
    pub hour: Duration,
}

/// Deletes rows past retention; answers how many.
pub async fn apply_retention(
    db: &Db,
    r: &Retention,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut n = db
        .exec(Q::new("DELETE FROM device_metrics WHERE ts < ?").bind(now - r.raw))
        .await?;
    n += db
        .exec(
            Q::new("DELETE FROM device_metrics_rollup WHERE resolution = '5m' AND bucket < ?")
                .bind(now - r.five_minutes),
        )
        .await?;
    n += db
        .exec(
            Q::new("DELETE FROM device_metrics_rollup WHERE resolution = '1h' AND bucket < ?")
                .bind(now - r.hour),
        )
        .await?;
    Ok(n)
}
