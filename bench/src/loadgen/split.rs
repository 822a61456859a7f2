//! One fleet split over several load generator processes (bench/run-fleet.sh): a process
//! may hold only as many channels as it may open files, so a fleet bigger than that limit
//! runs as K processes, each with its share of the agents. They share:
//!
//! * the credentials (`--credentials FILE`): the first process (`--setup-only`) does
//!   first-run setup and writes the enrollment key and the admin there; the others read it;
//! * stages (`--barrier DIR:K`): each process waits at a stage (channels open, measured
//!   window over, …) until all K reached it, so their measured windows coincide;
//! * results (`--json-out FILE`): each writes its counts and raw latencies, and
//!   `--merge FILE…` prints the fleet's figures from them.

use anyhow::{Context as _, Result, bail};
use breeze_bench::stats::summary;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the processes of one fleet share after setup.
#[derive(Serialize, Deserialize)]
pub struct Credentials {
    pub key: String,
    pub admin_email: String,
    pub admin_password: String,
    pub org_id: String,
}

impl Credentials {
    pub fn write(&self, path: &Path) -> Result<()> {
        // Written whole under another name, then renamed: a reader never sees half of it.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(self)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    pub fn read(path: &Path) -> Result<Credentials> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading credentials {}", path.display()))?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// `DIR:K`: the stages of K processes.
#[derive(Clone)]
pub struct Barrier {
    dir: PathBuf,
    count: usize,
}

impl Barrier {
    pub fn parse(s: &str) -> Result<Barrier> {
        let (dir, count) = s.rsplit_once(':').context("--barrier is DIR:K")?;
        let count: usize = count.parse().context("--barrier DIR:K: K is a number")?;
        if count == 0 {
            bail!("--barrier DIR:K: K must be at least 1");
        }
        std::fs::create_dir_all(dir)?;
        Ok(Barrier {
            dir: PathBuf::from(dir),
            count,
        })
    }

    /// Whether other load generators share the fleet.
    pub fn shared(&self) -> bool {
        self.count > 1
    }

    /// Marks `stage` reached by this process, and waits (up to `limit`) until all K did.
    pub async fn wait(&self, stage: &str, limit: Duration) -> Result<()> {
        let mine = self.dir.join(format!("{stage}.{}", std::process::id()));
        std::fs::write(&mine, b"")?;
        let t0 = std::time::Instant::now();
        loop {
            let reached = std::fs::read_dir(&self.dir)?
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.strip_prefix(stage).is_some_and(|r| r.starts_with('.')))
                })
                .count();
            if reached >= self.count {
                return Ok(());
            }
            if t0.elapsed() > limit {
                bail!(
                    "stage {stage}: {reached} of {} load generators after {limit:?}",
                    self.count
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One server's CPU and memory over the measured window.
#[derive(Serialize, Deserialize, Clone)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_percent: f64,
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
}

/// What one process of a split fleet measured.
#[derive(Serialize, Deserialize, Default)]
pub struct Report {
    pub agents: usize,
    pub enrolled: usize,
    /// Seconds since the epoch when this process's enrollment began and ended.
    pub enroll_start: f64,
    pub enroll_end: f64,
    pub channels_opened: u64,
    pub interval_secs: u64,
    pub measured_secs: f64,
    pub heartbeats: u64,
    pub heartbeat_errors: u64,
    pub heartbeats_shed: u64,
    /// Heartbeat latencies in the measured window, microseconds.
    pub heartbeat_us: Vec<u64>,
    pub commands_queued: u64,
    pub commands_missing: u64,
    /// Command delivery, API answer to `command` frame, microseconds.
    pub delivery_us: Vec<u64>,
    pub churn_drops: u64,
    pub reconnects: u64,
    pub channels_lost: u64,
    pub result_errors: u64,
    pub open_files_peak: usize,
    /// Only from the process given the servers' pids.
    pub servers: Vec<ServerUsage>,
    /// The servers' summed RSS before any channel of the fleet opened and once all were
    /// open and idle (only from the process given the servers' pids).
    pub idle_rss_kb: Option<(u64, u64)>,
    /// PostgreSQL backends' CPU in the window (100% = one core), when measured.
    pub postgres_cpu_percent: Option<f64>,
    pub my_cpu_percent: f64,
}

pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Report {
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// The fleet's figures from its processes' reports.
pub fn merge(paths: &[PathBuf]) -> Result<String> {
    let mut all = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        all.push(
            serde_json::from_slice::<Report>(&bytes)
                .with_context(|| format!("parsing {}", p.display()))?,
        );
    }
    Ok(merged(&all))
}

fn merged(all: &[Report]) -> String {
    let sum = |f: fn(&Report) -> u64| all.iter().map(f).sum::<u64>();
    let agents: usize = all.iter().map(|r| r.agents).sum();
    let enrolled: usize = all.iter().map(|r| r.enrolled).sum();
    let enroll_span = all.iter().map(|r| r.enroll_end).fold(0.0, f64::max)
        - all
            .iter()
            .map(|r| r.enroll_start)
            .fold(f64::INFINITY, f64::min);
    // The windows coincide (a barrier starts them), so the fleet's rate is the sum of
    // the processes' rates.
    let rate: f64 = all
        .iter()
        .map(|r| r.heartbeats as f64 / r.measured_secs.max(1e-3))
        .sum();
    let interval = all.first().map_or(60, |r| r.interval_secs).max(1);
    let secs = all.iter().map(|r| r.measured_secs).fold(0.0, f64::max);
    let mut hb: Vec<u64> = all.iter().flat_map(|r| r.heartbeat_us.clone()).collect();
    hb.sort_unstable();
    let mut delivery: Vec<u64> = all.iter().flat_map(|r| r.delivery_us.clone()).collect();
    delivery.sort_unstable();
    let channels = sum(|r| r.channels_opened);
    let mut out = vec![
        format!(
            "fleet of {agents} agents in {} load generators: {enrolled} enrolled in {enroll_span:.1} s ({:.0}/s together)",
            all.len(),
            enrolled as f64 / enroll_span.max(1e-3)
        ),
        format!(
            "measured {secs:.0} s: heartbeats {:.1}/s (expected {:.1}/s), errors {}, shed {}",
            rate,
            enrolled as f64 / interval as f64,
            sum(|r| r.heartbeat_errors),
            sum(|r| r.heartbeats_shed)
        ),
        format!("heartbeat latency {}", summary(&hb)),
        format!(
            "command delivery (API answer -> command frame): {}; queued {}, not arrived {}",
            summary(&delivery),
            sum(|r| r.commands_queued),
            sum(|r| r.commands_missing)
        ),
        format!(
            "channels {channels}; churn: {} dropped, {} reconnected, {} lost otherwise; command results failed {}",
            sum(|r| r.churn_drops),
            sum(|r| r.reconnects),
            sum(|r| r.channels_lost),
            sum(|r| r.result_errors)
        ),
        format!(
            "open files (peak) of each load generator: {}",
            all.iter()
                .map(|r| r.open_files_peak.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    let mib = |kb: u64| kb as f64 / 1024.0;
    for r in all {
        if let Some((before, after)) = r.idle_rss_kb
            && channels > 0
        {
            out.push(format!(
                "memory per idle channel (servers together): {:.1} KiB ({:.0} -> {:.0} MiB for {channels} channels)",
                (after as f64 - before as f64) / channels as f64,
                mib(before),
                mib(after)
            ));
        }
        if !r.servers.is_empty() {
            let cpu: f64 = r.servers.iter().map(|s| s.cpu_percent).sum();
            let rss: u64 = r.servers.iter().map(|s| s.rss_kb).sum();
            out.push(format!(
                "servers together: CPU {cpu:.0}% of one core, RSS {:.0} MiB; each: {}",
                mib(rss),
                r.servers
                    .iter()
                    .map(|s| format!(
                        "pid {} {:.0}% {:.0} MiB (peak {:.0})",
                        s.pid,
                        s.cpu_percent,
                        mib(s.rss_kb),
                        mib(s.peak_rss_kb)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(pg) = r.postgres_cpu_percent {
            out.push(format!("PostgreSQL backends: CPU {pg:.0}% of one core"));
        }
    }
    out.push(format!(
        "load generators: CPU {:.0}% of one core together",
        all.iter().map(|r| r.my_cpu_percent).sum::<f64>()
    ));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::{Barrier, Report, merged};
    use std::time::Duration;

    #[test]
    fn merged_figures_add_rates_and_pool_latencies() {
        let a = Report {
            agents: 2,
            enrolled: 2,
            enroll_start: 100.0,
            enroll_end: 102.0,
            channels_opened: 2,
            interval_secs: 60,
            measured_secs: 10.0,
            heartbeats: 100,
            heartbeat_us: vec![1_000, 3_000],
            delivery_us: vec![500],
            commands_queued: 1,
            ..Report::default()
        };
        let b = Report {
            agents: 2,
            enrolled: 2,
            enroll_start: 101.0,
            enroll_end: 104.0,
            channels_opened: 2,
            interval_secs: 60,
            measured_secs: 10.0,
            heartbeats: 50,
            heartbeat_us: vec![2_000],
            commands_queued: 2,
            commands_missing: 1,
            idle_rss_kb: Some((1_000, 1_080)),
            ..Report::default()
        };
        let text = merged(&[a, b]);
        assert!(
            text.contains("4 enrolled in 4.0 s (1/s together)"),
            "{text}"
        );
        assert!(text.contains("heartbeats 15.0/s"), "{text}");
        assert!(text.contains("heartbeat latency p50 2.0 ms"), "{text}");
        assert!(text.contains("queued 3, not arrived 1"), "{text}");
        assert!(
            text.contains("memory per idle channel (servers together): 20.0 KiB"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_stage_opens_when_every_process_reached_it() {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!("{}:2", dir.path().display());
        let b = Barrier::parse(&spec).unwrap();
        // Alone, the stage stays shut.
        assert!(b.wait("go", Duration::from_millis(200)).await.is_err());
        // Another process's mark opens it; another stage's marks do not count.
        std::fs::write(dir.path().join("gone.1"), b"").unwrap();
        assert!(b.wait("go", Duration::from_millis(200)).await.is_err());
        std::fs::write(dir.path().join("go.1"), b"").unwrap();
        b.wait("go", Duration::from_millis(200)).await.unwrap();
    }
}
