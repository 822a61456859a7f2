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

/// A sample or a bucket: its values (averages, bytes summed), or, as [`Sums`], the
/// database's sums of them.
#[derive(sqlx::FromRow)]
struct Values {
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

#[derive(sqlx::FromRow)]
struct Row {
    device_id: Uuid,
    ts: DateTime<Utc>,
    #[sqlx(flatten)]
    v: Values,
}

impl Row {
    fn point(&self) -> api::MetricPoint {
        let v = &self.v;
        api::MetricPoint {
            timestamp: self.ts,
            cpu_percent: v.cpu_percent,
            ram_percent: v.ram_percent,
            ram_used_mb: v.ram_used_mb,
            disk_percent: v.disk_percent,
            disk_used_gb: v.disk_used_gb,
            network_in_bytes: v.network_in_bytes,
            network_out_bytes: v.network_out_bytes,
            process_count: v.process_count,
            samples: v.samples,
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
        let v = &r.v;
        let w = v.samples as f64;
        a.samples += v.samples;
        a.v[0] += v.cpu_percent * w;
        a.v[1] += v.ram_percent * w;
        a.v[2] += v.ram_used_mb * w;
        a.v[3] += v.disk_percent * w;
        a.v[4] += v.disk_used_gb * w;
        a.v[5] += v.network_in_bytes;
        a.v[6] += v.network_out_bytes;
        a.v[7] += v.process_count * w;
    }
    Ok(acc)
}

/// The sums of one device's source rows in one bucket, summed by the database
/// (averaged values weighted by their samples).
#[derive(sqlx::FromRow)]
struct Sums {
    device_id: Uuid,
    #[sqlx(flatten)]
    sums: Values,
}

impl Sums {
    fn acc(&self) -> Acc {
        let s = &self.sums;
        Acc {
            samples: s.samples,
            v: [
                s.cpu_percent,
                s.ram_percent,
                s.ram_used_mb,
                s.disk_percent,
                s.disk_used_gb,
                s.network_in_bytes,
                s.network_out_bytes,
                s.process_count,
            ],
        }
    }
}

#[derive(sqlx::FromRow)]
struct First {
    first: Option<DateTime<Utc>>,
}

/// Rolls up complete buckets of `res` between the watermark and `now` from the next
/// finer resolution. Answers the number of rollup rows written.
///
/// One bucket at a time, each summed per device by the database (`GROUP BY`), written,
/// and then the watermark moved past it:
/// - what crosses to the server is one row per device and bucket, not every sample: at
///   100,000 devices a 5-minute bucket is ~500,000 raw rows, and decoding them took a
///   runtime thread for seconds, while heartbeat and metrics flushes waited;
/// - a catch-up after downtime holds one bucket in memory, not days of samples;
/// - buckets with no source rows are skipped with one indexed read.
pub async fn rollup(db: &Db, res: Resolution, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let (key, first_q, sums_q) = match res {
        Resolution::Raw => return Ok(0),
        Resolution::FiveMinutes => (
            "metrics_rollup_5m",
            "SELECT MIN(ts) AS first FROM device_metrics WHERE ts >= ? AND ts < ?",
            "SELECT device_id, COUNT(*) AS samples, SUM(cpu_percent) AS cpu_percent, \
             SUM(ram_percent) AS ram_percent, SUM(ram_used_mb) AS ram_used_mb, SUM(disk_percent) AS disk_percent, \
             SUM(disk_used_gb) AS disk_used_gb, SUM(network_in_bytes) AS network_in_bytes, \
             SUM(network_out_bytes) AS network_out_bytes, SUM(process_count) AS process_count \
             FROM device_metrics WHERE ts >= ? AND ts < ? GROUP BY device_id",
        ),
        // Averages weighted by the samples each 5-minute bucket holds; bytes are sums.
        Resolution::Hour => (
            "metrics_rollup_1h",
            "SELECT MIN(bucket) AS first FROM device_metrics_rollup \
             WHERE resolution = '5m' AND bucket >= ? AND bucket < ?",
            "SELECT device_id, CAST(SUM(samples) AS BIGINT) AS samples, SUM(cpu_percent * samples) AS cpu_percent, \
             SUM(ram_percent * samples) AS ram_percent, SUM(ram_used_mb * samples) AS ram_used_mb, \
             SUM(disk_percent * samples) AS disk_percent, SUM(disk_used_gb * samples) AS disk_used_gb, \
             SUM(network_in_bytes) AS network_in_bytes, SUM(network_out_bytes) AS network_out_bytes, \
             SUM(process_count * samples) AS process_count \
             FROM device_metrics_rollup WHERE resolution = '5m' AND bucket >= ? AND bucket < ? GROUP BY device_id",
        ),
    };
    let step = res.step();
    let trunc = |t: DateTime<Utc>| {
        t.duration_trunc(step)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    // Leave a minute for batched writes to land before a bucket counts as complete.
    let end = trunc(now - Duration::minutes(1))?;
    let mut start = match watermark(db, key).await? {
        Some(w) => w,
        None => end - Duration::days(2),
    };
    let mut written = 0u64;
    while start < end {
        let first: First = db.one(Q::new(first_q).bind(start).bind(end)).await?;
        let Some(first) = first.first else { break };
        let bucket = trunc(first)?.max(start);
        let until = (bucket + step).min(end);
        let sums: Vec<Sums> = db.all(Q::new(sums_q).bind(bucket).bind(until)).await?;
        // One statement per chunk, not one transaction for all: on SQLite a transaction
        // holds the one writer, and at 100,000 devices that held every heartbeat flush
        // and every write a request made for seconds. Each chunk upserts complete buckets
        // computed from the source, and the watermark moves only after the bucket's last
        // chunk, so a bucket cut short is redone whole next time.
        for chunk in sums.chunks(CHUNK) {
            let mut q = Q::new(
                "INSERT INTO device_metrics_rollup (device_id, resolution, bucket, samples, cpu_percent, ram_percent, \
                 ram_used_mb, disk_percent, disk_used_gb, network_in_bytes, network_out_bytes, process_count) VALUES ",
            );
            for (i, s) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(").push_bind(s.device_id);
                q.push(", ").push_bind(res.as_str());
                q.push(", ").push_bind(bucket);
                q.push(", ").push_bind(s.sums.samples);
                for v in s.acc().values() {
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
        written += sums.len() as u64;
        set_watermark(db, key, until, now).await?;
        start = until;
    }
    if start < end {
        set_watermark(db, key, end, now).await?;
    }
    Ok(written)
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
    let mut n = delete_before(db, "device_metrics", "ts < ?", None, now - r.raw).await?;
    for (res, cutoff) in [("5m", now - r.five_minutes), ("1h", now - r.hour)] {
        n += delete_before(
            db,
            "device_metrics_rollup",
            "resolution = ? AND bucket < ?",
            Some(res),
            cutoff,
        )
        .await?;
    }
    Ok(n)
}

/// Rows a retention statement deletes at most.
const DELETE_BATCH: u64 = 10_000;

/// Deletes the rows of `table` matching `filter` (its `?`s bound to `resolution`, when
/// given, and `cutoff`), [`DELETE_BATCH`] rows per statement. One statement
/// for all would, on SQLite, hold the one writer for as long as it ran: at 100,000
/// devices every 5 minutes of raw samples is ~500,000 rows (2.1 s in
/// `breeze-bench-rollup`), and every heartbeat flush waited behind it.
async fn delete_before(
    db: &Db,
    table: &'static str,
    filter: &'static str,
    resolution: Option<&'static str>,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // The row's physical address: SQLite's rowid, PostgreSQL's ctid (compared with
    // `= ANY(ARRAY(…))`, which PostgreSQL runs as a TID scan).
    let (open, close) = match db.engine() {
        crate::Engine::Sqlite => (" WHERE rowid IN (SELECT rowid FROM ", ")"),
        crate::Engine::Postgres => (" WHERE ctid = ANY(ARRAY(SELECT ctid FROM ", "))"),
    };
    let mut total = 0;
    loop {
        let mut q = Q::new("DELETE FROM ");
        q.push_trusted(table)
            .push(open)
            .push_trusted(table)
            .push(" WHERE ")
            .push(filter)
            .push_trusted(&format!(" LIMIT {DELETE_BATCH}"))
            .push(close);
        if let Some(r) = resolution {
            q = q.bind(r);
        }
        let n = db.exec(q.bind(cutoff)).await?;
        total += n;
        if n < DELETE_BATCH {
            return Ok(total);
        }
    }
}
