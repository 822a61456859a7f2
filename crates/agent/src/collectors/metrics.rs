//! The metrics sample sent with every heartbeat. The sampler lives as long as the
//! service so CPU use and network bytes are measured between two heartbeats.

use breeze_proto::agent::Metrics;
use std::collections::BTreeMap;
use sysinfo::{
    CpuRefreshKind, MemoryRefreshKind, Networks, ProcessRefreshKind, ProcessesToUpdate,
    RefreshKind, System,
};

pub struct MetricsSampler {
    sys: System,
    networks: Option<Networks>,
    last_net: Option<(u64, u64)>,
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
        };
        me.last_net = me.net_totals();
        Ok(me)
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
        Metrics {
            cpu_percent: round1(f64::from(self.sys.global_cpu_usage())),
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

fn disk_totals() -> (u64, u64) {
    super::disks::collect()
        .iter()
        .fold((0, 0), |(t, u), d| (t + d.total_bytes, u + d.used_bytes))
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round1(part as f64 * 100.0 / whole as f64)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
