use breeze_agent::collectors::{disks, hardware, identity, metrics, network, os, software, users};
use breeze_agent::inventory::{InventoryTracker, collect_all};
use breeze_proto::agent::{AgentConfig, InventorySection, SoftwareSource};

#[test]
fn identity_and_os_are_real() {
    assert!(!identity::hostname().is_empty());
    let fp = identity::fingerprint();
    assert_eq!(fp.len(), 64);
    assert_eq!(fp, identity::fingerprint(), "fingerprint is stable");
    let o = os::collect();
    assert!(!o.kernel_version.is_empty());
    assert_eq!(o.hostname, identity::hostname());
    assert!(os::uptime_secs() > 0);
}

#[test]
fn hardware_disks_and_network_are_real() {
    let d = disks::collect();
    assert!(!d.is_empty(), "at least one disk");
    assert!(
        d.iter()
            .all(|x| x.total_bytes > 0 && x.used_bytes <= x.total_bytes)
    );
    let hw = hardware::collect(&d);
    assert!(hw.cpu_cores > 0 && hw.cpu_threads >= hw.cpu_cores);
    assert!(hw.ram_total_mb > 0);
    assert!(hw.disk_total_gb > 0.0);
    let n = network::collect();
    assert!(n.iter().any(|i| !i.addresses.is_empty()));
    if let Some(primary) = network::default_route_interface() {
        assert!(n.iter().any(|i| i.name == primary && i.is_primary));
    }
}

#[test]
fn dpkg_packages_are_found_when_dpkg_exists() -> anyhow::Result<()> {
    if !std::path::Path::new("/var/lib/dpkg/status").exists() {
        return Ok(());
    }
    let pkgs = software::collect()?;
    let dpkg: Vec<_> = pkgs
        .iter()
        .filter(|p| p.source == SoftwareSource::Dpkg)
        .collect();
    assert!(dpkg.len() > 10, "only {} dpkg packages", dpkg.len());
    assert!(
        dpkg.iter()
            .any(|p| p.name == "bash" && !p.version.is_empty())
    );
    Ok(())
}

#[test]
fn metrics_sample_is_plausible() -> anyhow::Result<()> {
    let mut s = metrics::MetricsSampler::new()?;
    let _ = s.sample();
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    let m = s.sample();
    assert!(m.ram_total_mb > 0 && m.ram_used_mb <= m.ram_total_mb);
    assert!((0.0..=100.0).contains(&m.cpu_percent));
    assert!(m.process_count > 0);
    assert!(m.disk_total_gb > 0.0);
    Ok(())
}

#[test]
fn users_collector_runs() {
    // May be empty in a container; must not fail.
    let u = users::collect();
    assert!(u.iter().all(|x| !x.username.is_empty()));
}

#[test]
fn only_changed_sections_are_uploaded() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = AgentConfig {
        collect_processes: false,
        ..AgentConfig::default()
    };
    let c = collect_all(&config, chrono::Utc::now());
    assert!(c.full.hashes.contains_key(&InventorySection::Hardware));
    let path = dir.path().join("hashes.json");
    let mut t = InventoryTracker::load(&path)?;
    let first = t
        .upload_for(&c.full, &[])
        .ok_or_else(|| anyhow::anyhow!("first upload must send everything"))?;
    assert_eq!(first.sections().len(), c.full.hashes.len());
    t.mark_accepted(&first)?;
    let t = InventoryTracker::load(&path)?; // persisted
    assert!(t.upload_for(&c.full, &[]).is_none(), "nothing changed");
    let forced = t
        .upload_for(&c.full, &[InventorySection::Os])
        .ok_or_else(|| anyhow::anyhow!("forced"))?;
    assert_eq!(forced.sections(), vec![InventorySection::Os]);
    assert!(forced.os.is_some() && forced.hardware.is_none());
    let mut changed = c.full.clone();
    if let Some(d) = changed.disks.as_mut().and_then(|d| d.first_mut()) {
        d.used_bytes += 1;
    }
    changed.hashes.insert(
        InventorySection::Disks,
        breeze_proto::agent::section_hash(&changed.disks)?,
    );
    let up = t
        .upload_for(&changed, &[])
        .ok_or_else(|| anyhow::anyhow!("disk change"))?;
    assert_eq!(up.sections(), vec![InventorySection::Disks]);
    Ok(())
}
