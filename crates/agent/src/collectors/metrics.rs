//! The metrics sample sent with every heartbeat. The sampler lives as long as the
//! service so CPU use and network bytes are measured between two heartbeats.

use breeze_core::json_limits;
use breeze_proto::agent::Metrics;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use sysinfo::{
    CpuRefreshKind, MemoryRefreshKind, Networks, ProcessRefreshKind, ProcessesToUpdate,
    RefreshKind, System,
};

pub struct MetricsSampler {
    sys: System,
    networks: Option<Networks>,
    last_net: Option<(u64, u64)>,
    /// Where scripts leave custom metrics ([`read_custom_dir`]).
    custom_dir: Option<PathBuf>,
}

impl MetricsSampler {
    pub fn new() -> anyhow::Result<Self> {
        let sys = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_usage())
                .with_memory(MemoryRefreshKind::everything()),
        )
        .map_err(|e| anyhow::anyhow!("reading system information: {e:?}"))?;
        let mut me = Self {
            sys,
            networks: Networks::new_with_refreshed_list().ok(),
            last_net: None,
            custom_dir: None,
        };
        me.last_net = me.net_totals();
        Ok(me)
    }

    /// Also sends the custom metrics scripts leave in `dir` ([`read_custom_dir`]).
    pub fn with_custom_dir(mut self, dir: PathBuf) -> Self {
        self.custom_dir = Some(dir);
        self
    }

    /// The system handle, for collectors that want the same sampling state.
    pub fn system_mut(&mut self) -> &mut System {
        &mut self.sys
    }

    fn net_totals(&mut self) -> Option<(u64, u64)> {
        let nets = self.networks.as_mut()?;
        nets.refresh(true);
        let (mut rx, mut tx) = (0u64, 0u64);
        for (name, data) in nets.iter() {
            let name = name.to_string_lossy();
            if name == "lo" || name.starts_with("lo0") || name.starts_with("Loopback") {
                continue;
            }
            rx = rx.saturating_add(data.total_received());
            tx = tx.saturating_add(data.total_transmitted());
        }
        Some((rx, tx))
    }

    /// Takes a sample. CPU and network figures cover the time since the previous one.
    pub fn sample(&mut self) -> Metrics {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing(),
        );
        let process_count = self
            .sys
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .count() as u64;
        let total = self.sys.total_memory();
        let used = self.sys.used_memory();
        let (disk_total, disk_used) = disk_totals();
        let now_net = self.net_totals();
        let (rx, tx) = match (self.last_net, now_net) {
            (Some((r0, t0)), Some((r1, t1))) => (r1.saturating_sub(r0), t1.saturating_sub(t0)),
            _ => (0, 0),
        };
        self.last_net = now_net;
        let mut custom = BTreeMap::new();
        if let Ok(load) = System::load_average() {
            custom.insert("load_1".into(), load.one);
            custom.insert("load_5".into(), load.five);
            custom.insert("load_15".into(), load.fifteen);
        }
        if self.sys.total_swap() > 0 {
            custom.insert(
                "swap_percent".into(),
                pct(self.sys.used_swap(), self.sys.total_swap()),
            );
        }
        if let Some(dir) = &self.custom_dir {
            for (name, value) in read_custom_dir(dir, SystemTime::now()) {
                // The agent's own names win.
                custom.entry(name).or_insert(value);
            }
        }
        Metrics {
            // The server refuses a percentage outside 0..=100.
            cpu_percent: round1(f64::from(self.sys.global_cpu_usage()).clamp(0.0, 100.0)),
            ram_percent: pct(used, total),
            ram_used_mb: used / (1024 * 1024),
            ram_total_mb: total / (1024 * 1024),
            disk_percent: pct(disk_used, disk_total),
            disk_used_gb: super::hardware::round2(disk_used as f64 / 1e9),
            disk_total_gb: super::hardware::round2(disk_total as f64 / 1e9),
            network_in_bytes: rx,
            network_out_bytes: tx,
            process_count,
            custom,
        }
    }
}

/// At most this many custom metrics from scripts are sent.
pub const MAX_SCRIPT_METRICS: usize = 100;
/// A metrics file not rewritten for this long is stale: the script that wrote it stopped.
pub const SCRIPT_METRICS_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// A metrics file larger than this is skipped.
const MAX_METRICS_FILE_BYTES: u64 = 64 * 1024;

/// Custom metrics scripts report, in the manner of Prometheus' textfile collector: each
/// `*.metrics` file in `dir` (scripts get its path as `BREEZE_METRICS_DIR`; write a temp
/// file and rename it, so a half-written file is never read) holds `name value` lines,
/// `#` starting a comment. Names are letters, digits, `_`, `-` and `.` (at most 100), the
/// value a finite number at most `1e300` in magnitude; an alert rule reads one as `custom.<name>`. Files older than
/// [`SCRIPT_METRICS_MAX_AGE`] or larger than 64 KiB, and lines that do not parse, are
/// skipped; files are read in name order and the first [`MAX_SCRIPT_METRICS`] names kept.
pub fn read_custom_dir(dir: &Path, now: SystemTime) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && n.ends_with(".metrics"))
        })
        .collect();
    files.sort();
    for path in files {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let fresh = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok().or(Some(Duration::ZERO)))
            .is_some_and(|age| age <= SCRIPT_METRICS_MAX_AGE);
        if !meta.is_file() || meta.len() > MAX_METRICS_FILE_BYTES || !fresh {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut parts = line.split_whitespace();
            let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            // The server refuses a heartbeat with a name or value outside these.
            if !json_limits::metric_name_ok(name)
                || !value.is_finite()
                || value.abs() > json_limits::MAX_NUMBER
            {
                continue;
            }
            if out.len() >= MAX_SCRIPT_METRICS && !out.contains_key(name) {
                continue;
            }
            out.insert(name.to_string(), value);
        }
    }
    out
}

fn disk_totals() -> (u64, u64) {
    super::disks::collect()
        .iter()
        .fold((0, 0), |(t, u), d| (t + d.total_bytes, u + d.used_bytes))
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round1((part as f64 * 100.0 / whole as f64).min(100.0))
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_metrics_are_read_from_fresh_metrics_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        write(
            "app.metrics",
            "# response time of the app\napp_response_ms 5210.5\nqueue.depth 12 # trailing\n\
             bad name 1\nnot_a_number abc\ninf_value inf\nhuge_value -1.7976931348623157e308\nmissing_value\nevil$name 3\n",
        );
        write("other.txt", "ignored 1\n");
        write(".tmp.metrics", "half_written 1\n");
        write("stale.metrics", "stale 1\n");
        let old = SystemTime::now() - SCRIPT_METRICS_MAX_AGE - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("stale.metrics"))
            .expect("open")
            .set_modified(old)
            .expect("mtime");

        let m = read_custom_dir(dir.path(), SystemTime::now());
        assert_eq!(
            m,
            BTreeMap::from([
                ("app_response_ms".to_string(), 5210.5),
                ("queue.depth".to_string(), 12.0),
            ])
        );
        assert!(read_custom_dir(&dir.path().join("absent"), SystemTime::now()).is_empty());
    }

    #[test]
    fn script_metrics_are_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text: String = (0..MAX_SCRIPT_METRICS + 50)
            .map(|i| format!("m{i:04} {i}\n"))
            .collect();
        std::fs::write(dir.path().join("many.metrics"), text).expect("write");
        let m = read_custom_dir(dir.path(), SystemTime::now());
        assert_eq!(m.len(), MAX_SCRIPT_METRICS);
        assert_eq!(m.get("m0000"), Some(&0.0));
    }

    #[test]
    fn the_agents_own_metrics_are_not_overridden() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("x.metrics"), "load_1 999\nmine 1\n").expect("write");
        let mut s = MetricsSampler::new()
            .expect("sampler")
            .with_custom_dir(dir.path().to_path_buf());
        let m = s.sample();
        assert_eq!(m.custom.get("mine"), Some(&1.0));
        if let Ok(load) = System::load_average() {
            assert_ne!(m.custom.get("load_1"), Some(&999.0), "{load:?}");
        }
    }
}
