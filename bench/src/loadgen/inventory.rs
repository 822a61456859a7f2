//! What a simulated agent sends about itself: its enrollment, its inventory (20 packages,
//! or 2,000 on the devices that carry a realistic desktop's software list) and its
//! heartbeat.

use breeze_proto::agent::PROTOCOL_VERSION;
use rand::Rng as _;
use serde_json::{Value, json};

/// Packages on a device with a big inventory.
pub const BIG_SOFTWARE: usize = 2_000;
const SMALL_SOFTWARE: usize = 20;

/// Whether agent `i` of the fleet is one of the `percent` % with a big inventory (spread
/// evenly over the fleet).
pub fn is_big(i: usize, percent: f64) -> bool {
    let f = percent.clamp(0.0, 100.0) / 100.0;
    ((i + 1) as f64 * f).floor() > (i as f64 * f).floor()
}

pub fn enrollment(key: &str, i: usize) -> Value {
    let fp: String = (0..64)
        .map(|_| char::from(b"0123456789abcdef"[rand::rng().random_range(0..16)]))
        .collect();
    json!({"protocol_version": PROTOCOL_VERSION, "enrollment_key": key, "hostname": hostname(i),
        "os_type": "linux", "os_version": "12", "architecture": "amd64", "agent_version": "sim",
        "fingerprint": fp, "hardware": {"cpu_model": "Sim CPU", "cpu_cores": 4, "ram_total_mb": 16000}})
}

pub fn hostname(i: usize) -> String {
    format!("sim-{i:06}")
}

fn hashes(big: bool) -> Value {
    json!({"hardware": "h1", "os": "h2", "disks": "h3", "network": "h4",
        "software": if big { "h5-big" } else { "h5" }})
}

pub fn inventory(i: usize, big: bool) -> Value {
    let n = if big { BIG_SOFTWARE } else { SMALL_SOFTWARE };
    let software: Vec<Value> = (0..n)
        .map(|k| {
            json!({"name": format!("package-{k:04}-{}", ["lib", "tools", "data", "common"][k % 4]),
                "version": format!("{}.{}.{}-1", k % 7, k % 13, k % 31),
                "publisher": "Debian", "install_date": "2026-01-15", "architecture": "amd64",
                "source": "dpkg"})
        })
        .collect();
    json!({
        "hardware": {"cpu_model": "Sim CPU", "cpu_cores": 4, "cpu_threads": 8, "ram_total_mb": 16000, "disk_total_gb": 512.0},
        "os": {"os_type": "linux", "name": "Debian", "version": "12", "build": "", "architecture": "amd64",
               "kernel_version": "6.1.0", "hostname": hostname(i)},
        "disks": [{"mount_point": "/", "filesystem": "ext4", "device": "/dev/sda1", "total_bytes": 512_000_000_000u64, "used_bytes": 100_000_000_000u64, "removable": false}],
        "network": [{"name": "eth0", "mac_address": "02:00:00:00:00:01", "addresses": [{"address": "10.0.0.2", "kind": "ipv4", "prefix_len": 24}], "is_primary": true, "interface_type": "ethernet"}],
        "software": software,
        "hashes": hashes(big)
    })
}

pub fn heartbeat(big: bool, confirm_rotation: bool) -> Value {
    json!({"protocol_version": PROTOCOL_VERSION, "agent_version": "sim",
        "sent_at": chrono::Utc::now(), "status": "ok",
        "metrics": {"cpu_percent": rand::rng().random_range(0.0..100.0), "ram_percent": 50.0,
            "ram_used_mb": 8000, "ram_total_mb": 16000, "process_count": 200,
            "disk_percent": 40.0, "custom": {"load_1": rand::rng().random_range(0.0..4.0)}},
        "inventory_hashes": hashes(big),
        "confirm_token_rotation": confirm_rotation})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_inventories_are_the_given_share_spread_over_the_fleet() {
        let big: Vec<usize> = (0..10_000).filter(|i| is_big(*i, 5.0)).collect();
        assert_eq!(big.len(), 500);
        assert!(big.windows(2).all(|w| w[1] - w[0] == 20));
        assert_eq!((0..1000).filter(|i| is_big(*i, 0.0)).count(), 0);
        assert_eq!((0..1000).filter(|i| is_big(*i, 100.0)).count(), 1000);
        let packages = |big| inventory(0, big)["software"].as_array().map(Vec::len);
        assert_eq!(packages(true), Some(BIG_SOFTWARE));
        assert_eq!(packages(false), Some(SMALL_SOFTWARE));
    }
}
