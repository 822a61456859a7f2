//! Inventory collection and change tracking: every section is hashed, and only
//! sections whose hash differs from the one the server last accepted (or that the
//! server asked for) are uploaded.

use crate::collectors::{self, Unsupported};
use crate::durable;
use anyhow::Result;
use breeze_proto::agent::{AgentConfig, InventoryRequest, InventorySection, section_hash};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything collected in one pass, plus what could not be collected.
#[derive(Debug, Default)]
pub struct Collected {
    pub full: InventoryRequest,
    /// Sections that could not be collected here, with the reason.
    pub unavailable: Vec<(InventorySection, String)>,
}

/// Collects every section enabled by `config` (blocking: run it off the async
/// runtime). Hashes are filled for each collected section.
pub fn collect_all(config: &AgentConfig, now: DateTime<Utc>) -> Collected {
    let mut c = Collected::default();
    let disks = collectors::disks::collect();
    c.full.hardware = Some(collectors::hardware::collect(&disks));
    c.full.os = Some(collectors::os::collect());
    c.full.network = Some(collectors::network::collect());
    c.full.disks = Some(disks);
    if config.collect_software {
        match collectors::software::collect() {
            Ok(s) => c.full.software = Some(s),
            Err(Unsupported { what, platform }) => c.unavailable.push((
                InventorySection::Software,
                format!("{what} is not supported yet on {platform}"),
            )),
        }
    }
    if config.collect_processes
        && let Ok(mut sys) = sysinfo::System::new()
    {
        // Two samples so per-process CPU use means something.
        let _ = collectors::processes::collect(&mut sys);
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        c.full.processes = Some(collectors::processes::collect(&mut sys));
    }
    c.full.users = Some(collectors::users::collect());
    c.full.collected_at = Some(now);
    c.full.hashes = hashes_of(&c.full);
    c
}

fn hashes_of(r: &InventoryRequest) -> BTreeMap<InventorySection, String> {
    let mut h = BTreeMap::new();
    let mut put = |s, hash: Result<String, serde_json::Error>| {
        if let Ok(hash) = hash {
            h.insert(s, hash);
        }
    };
    if let Some(x) = &r.hardware {
        put(InventorySection::Hardware, section_hash(x));
    }
    if let Some(x) = &r.os {
        put(InventorySection::Os, section_hash(x));
    }
    if let Some(x) = &r.network {
        put(InventorySection::Network, section_hash(x));
    }
    if let Some(x) = &r.disks {
        put(InventorySection::Disks, section_hash(x));
    }
    if let Some(x) = &r.software {
        put(InventorySection::Software, section_hash(x));
    }
    if let Some(x) = &r.processes {
        put(InventorySection::Processes, section_hash(x));
    }
    if let Some(x) = &r.users {
        put(InventorySection::Users, section_hash(x));
    }
    h
}

/// Hashes of the sections the server has accepted, persisted in the state dir.
#[derive(Debug)]
pub struct InventoryTracker {
    path: PathBuf,
    accepted: BTreeMap<InventorySection, String>,
}

impl InventoryTracker {
    pub fn load(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let accepted = durable::read_json(&path)?.unwrap_or_default();
        Ok(Self { path, accepted })
    }

    pub fn accepted(&self) -> &BTreeMap<InventorySection, String> {
        &self.accepted
    }

    /// The upload for `collected`: changed sections plus `forced` ones; `None` when
    /// nothing needs sending.
    pub fn upload_for(
        &self,
        collected: &InventoryRequest,
        forced: &[InventorySection],
    ) -> Option<InventoryRequest> {
        let wanted: Vec<InventorySection> = collected
            .hashes
            .iter()
            .filter(|(s, h)| forced.contains(s) || self.accepted.get(s) != Some(h))
            .map(|(s, _)| *s)
            .collect();
        if wanted.is_empty() {
            return None;
        }
        let keep = |s: InventorySection| wanted.contains(&s);
        Some(InventoryRequest {
            collected_at: collected.collected_at,
            hardware: collected
                .hardware
                .clone()
                .filter(|_| keep(InventorySection::Hardware)),
            os: collected.os.clone().filter(|_| keep(InventorySection::Os)),
            network: collected
                .network
                .clone()
                .filter(|_| keep(InventorySection::Network)),
            disks: collected
                .disks
                .clone()
                .filter(|_| keep(InventorySection::Disks)),
            software: collected
                .software
                .clone()
                .filter(|_| keep(InventorySection::Software)),
            processes: collected
                .processes
                .clone()
                .filter(|_| keep(InventorySection::Processes)),
            users: collected
                .users
                .clone()
                .filter(|_| keep(InventorySection::Users)),
            hashes: collected
                .hashes
                .iter()
                .filter(|(s, _)| keep(**s))
                .map(|(s, h)| (*s, h.clone()))
                .collect(),
        })
    }

    /// Records that the server accepted `sent`.
    pub fn mark_accepted(&mut self, sent: &InventoryRequest) -> Result<()> {
        for (s, h) in &sent.hashes {
            self.accepted.insert(*s, h.clone());
        }
        durable::write_json(&self.path, &self.accepted, 0o600)
    }

    /// Forgets a section's hash (so it is sent again next time).
    pub fn forget(&mut self, section: InventorySection) {
        self.accepted.remove(&section);
    }
}
