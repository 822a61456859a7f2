//! Metrics rollups and retention: values, bucket edges and watermarks on both engines.

use crate::harness::engines;
use breeze_proto::agent::Metrics;
use breeze_proto::ids::DeviceId;
use breeze_store::Q;
use breeze_store::metrics::{self, Resolution, Retention, Sample};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, h, m, s).unwrap()
}

fn sample(device: DeviceId, ts: DateTime<Utc>, cpu: f64, net_in: u64) -> Sample {
    Sample {
        device_id: device,
        ts,
        metrics: Metrics {
            cpu_percent: cpu,
            network_in_bytes: net_in,
            ..Metrics::default()
        },
    }
}

#[derive(sqlx::FromRow, Debug, PartialEq)]
struct Bucket {
    device_id: uuid::Uuid,
    bucket: DateTime<Utc>,
    samples: i64,
    cpu_percent: f64,
    network_in_bytes: f64,
}

async fn buckets(db: &breeze_store::Db, res: &'static str) -> Vec<(DeviceId, Bucket)> {
    let rows: Vec<Bucket> = db
        .all(
            Q::new(
                "SELECT device_id, bucket, samples, cpu_percent, network_in_bytes FROM device_metrics_rollup \
                 WHERE resolution = ? ORDER BY bucket, device_id",
            )
            .bind(res),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|b| (DeviceId::from(b.device_id), b))
        .collect()
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

async fn count(db: &breeze_store::Db, sql: &'static str) -> i64 {
    let c: Count = db.one(Q::new(sql)).await.unwrap();
    c.n
}

/// Buckets with samples, an idle gap of hours between them, two devices: each 5-minute
/// bucket holds its device's averages and byte sums, the hour weights each 5-minute
/// bucket by its samples, and a second run over the same time writes nothing.
#[tokio::test]
async fn rollups_sum_each_bucket_per_device_across_gaps_and_run_once() {
    for t in engines().await {
        let db = &t.db;
        let (a, b) = (DeviceId::new(), DeviceId::new());
        metrics::insert_batch(
            db,
            &[
                sample(a, at(10, 1, 0), 10.0, 100),
                sample(a, at(10, 3, 59), 30.0, 200),
                sample(a, at(10, 5, 0), 50.0, 400),
                sample(b, at(10, 2, 0), 90.0, 1),
                // Hours later; and one sample in the bucket still filling at the run.
                sample(a, at(12, 2, 0), 70.0, 800),
                sample(a, at(12, 25, 30), 5.0, 5),
            ],
        )
        .await
        .unwrap();

        // At 12:30:30 the buckets before 12:25 are complete (a minute is left for late
        // batches), so the 12:25 sample waits.
        let n = metrics::rollup(db, Resolution::FiveMinutes, at(12, 30, 30))
            .await
            .unwrap();
        assert_eq!(n, 4, "{}", t.name);
        let five = buckets(db, "5m").await;
        let rows: Vec<_> = five
            .iter()
            .map(|(d, b)| (*d, b.bucket, b.samples, b.cpu_percent, b.network_in_bytes))
            .collect();
        let mut want = vec![
            (a, at(10, 0, 0), 2, 20.0, 300.0),
            (b, at(10, 0, 0), 1, 90.0, 1.0),
            (a, at(10, 5, 0), 1, 50.0, 400.0),
            (a, at(12, 0, 0), 1, 70.0, 800.0),
        ];
        want[..2].sort_by_key(|r| r.0.to_string());
        let mut got = rows.clone();
        got[..2].sort_by_key(|r| r.0.to_string());
        assert_eq!(got, want, "{}", t.name);
        assert_eq!(
            metrics::rollup(db, Resolution::FiveMinutes, at(12, 30, 59))
                .await
                .unwrap(),
            0,
            "{}: the same time again",
            t.name
        );

        // Later: the 12:25 bucket completes; then the hours.
        assert_eq!(
            metrics::rollup(db, Resolution::FiveMinutes, at(13, 5, 0))
                .await
                .unwrap(),
            1,
            "{}",
            t.name
        );
        let n = metrics::rollup(db, Resolution::Hour, at(13, 5, 0))
            .await
            .unwrap();
        assert_eq!(n, 3, "{}", t.name);
        let hours = buckets(db, "1h").await;
        let a10 = hours
            .iter()
            .find(|(d, h)| *d == a && h.bucket == at(10, 0, 0))
            .map(|(_, h)| h)
            .unwrap();
        assert_eq!(a10.samples, 3, "{}", t.name);
        // (20 × 2 + 50 × 1) / 3, not the mean of the two 5-minute averages (35).
        assert!((a10.cpu_percent - 30.0).abs() < 1e-9, "{}: {a10:?}", t.name);
        assert!((a10.network_in_bytes - 700.0).abs() < 1e-9, "{}", t.name);
        let a12 = hours
            .iter()
            .find(|(d, h)| *d == a && h.bucket == at(12, 0, 0))
            .map(|(_, h)| h)
            .unwrap();
        assert_eq!(a12.samples, 2, "{}", t.name);
        assert!((a12.cpu_percent - 37.5).abs() < 1e-9, "{}: {a12:?}", t.name);
        assert_eq!(
            metrics::rollup(db, Resolution::Hour, at(13, 59, 0))
                .await
                .unwrap(),
            0,
            "{}",
            t.name
        );
    }
}

/// Retention deletes in batches: 30,000 samples in three minutes (three statements'
/// worth and more), then a sparse tail over hours. Everything before the cutoff goes,
/// nothing at or after it; the rollups' retention goes by resolution.
#[tokio::test]
async fn retention_deletes_everything_before_the_cutoff_in_batches_and_nothing_after() {
    for t in engines().await {
        let db = &t.db;
        let devices: Vec<DeviceId> = (0..100).map(|_| DeviceId::new()).collect();
        let mut batch = Vec::new();
        // 100 devices × 300 samples over 08:00–08:03, then one per 10 minutes to 12:00.
        for i in 0..300u32 {
            for d in &devices {
                batch.push(sample(*d, at(8, i * 3 / 5 / 60, i * 3 / 5 % 60), 1.0, 1));
            }
        }
        let mut ts = at(8, 10, 0);
        while ts < at(12, 0, 0) {
            batch.push(sample(devices[0], ts, 1.0, 1));
            ts += Duration::minutes(10);
        }
        batch.push(sample(devices[0], at(11, 0, 0), 1.0, 1));
        metrics::insert_batch(db, &batch).await.unwrap();
        for (res, bucket) in [
            ("5m", at(8, 0, 0)),
            ("5m", at(11, 0, 0)),
            ("1h", at(6, 0, 0)),
            ("1h", at(11, 0, 0)),
        ] {
            db.exec(
                Q::new(
                    "INSERT INTO device_metrics_rollup (device_id, resolution, bucket, samples, cpu_percent, \
                     ram_percent, ram_used_mb, disk_percent, disk_used_gb, network_in_bytes, \
                     network_out_bytes, process_count) VALUES (?, ?, ?, 1, 0, 0, 0, 0, 0, 0, 0, 0)",
                )
                .bind(devices[0])
                .bind(res)
                .bind(bucket),
            )
            .await
            .unwrap();
        }
        let before = count(
            db,
            "SELECT COUNT(*) AS n FROM device_metrics WHERE ts >= '2026-03-04T11:00:00.000000Z'",
        )
        .await;
        let now = at(12, 0, 0);
        let dropped = metrics::apply_retention(
            db,
            &Retention {
                raw: Duration::hours(1),
                five_minutes: Duration::minutes(90),
                hour: Duration::hours(3),
            },
            now,
        )
        .await
        .unwrap();
        // Raw: 30,000 + the sparse samples before 11:00 (08:10 … 10:50: 17).
        assert_eq!(dropped, 30_000 + 17 + 1 + 1, "{}", t.name);
        assert_eq!(before, 7, "{}", t.name);
        let left = [
            count(db, "SELECT COUNT(*) AS n FROM device_metrics").await,
            count(
                db,
                "SELECT COUNT(*) AS n FROM device_metrics_rollup WHERE resolution = '5m'",
            )
            .await,
            count(
                db,
                "SELECT COUNT(*) AS n FROM device_metrics_rollup WHERE resolution = '1h'",
            )
            .await,
        ];
        assert_eq!(left, [7, 1, 1], "{}", t.name);
    }
}
