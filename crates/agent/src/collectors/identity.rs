//! Who this machine is at enrollment: hostname, OS and the stable fingerprint.

#[cfg(target_os = "linux")]
use super::read_trimmed;
use super::{arch_name, os_type};
use breeze_proto::agent::HardwareSummary;
use sha2::{Digest as _, Sha256};

/// The machine's hostname (never empty: falls back to `unknown`).
pub fn hostname() -> String {
    sysinfo::System::host_name()
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The stable identifiers that go into the fingerprint, as `name=value` lines.
/// Linux: `/etc/machine-id` (or `/var/lib/dbus/machine-id`) and the DMI product
/// uuid when readable (root). Elsewhere: sysinfo's product uuid and serial.
pub fn fingerprint_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    #[cfg(target_os = "linux")]
    {
        if let Some(id) =
            read_trimmed("/etc/machine-id").or_else(|| read_trimmed("/var/lib/dbus/machine-id"))
        {
            out.push(("machine_id".into(), id));
        }
        if let Some(uuid) = read_trimmed("/sys/class/dmi/id/product_uuid") {
            out.push(("product_uuid".into(), uuid.to_ascii_lowercase()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        if let Ok(uuid) = sysinfo::Product::uuid() {
            out.push(("product_uuid".into(), uuid.to_ascii_lowercase()));
        }
        if let Ok(serial) = sysinfo::Product::serial_number() {
            out.push(("product_serial".into(), serial));
        }
    }
    if out.is_empty() {
        // Nothing stable is readable: fall back to hostname + architecture, which
        // is weaker but still stable across agent reinstalls.
        out.push(("hostname".into(), hostname()));
        out.push(("arch".into(), arch_name()));
    }
    out
}

/// Lowercase hex SHA-256 over the fingerprint sources.
pub fn fingerprint() -> String {
    let mut h = Sha256::new();
    h.update(b"breeze-fingerprint-v1\n");
    for (k, v) in fingerprint_sources() {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// OS version and build for the enrollment record.
pub fn os_version_and_build() -> (String, String) {
    let os = super::os::collect();
    (os.version, os.build)
}

/// The short hardware summary sent at enrollment.
pub fn hardware_summary() -> HardwareSummary {
    let hw = super::hardware::collect(&[]);
    HardwareSummary {
        cpu_model: hw.cpu_model,
        cpu_cores: hw.cpu_cores,
        ram_total_mb: hw.ram_total_mb,
        manufacturer: hw.manufacturer,
        model: hw.model,
        serial_number: hw.serial_number,
    }
}

/// `os_type` re-exported for the enrollment request.
pub fn os() -> breeze_proto::agent::OsType {
    os_type()
}
