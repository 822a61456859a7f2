//! Operating system facts.

use breeze_proto::agent::OsInventory;
use chrono::DateTime;
use sysinfo::System;

pub fn collect() -> OsInventory {
    let kernel = System::kernel_version().unwrap_or_default();
    let version = System::os_version().unwrap_or_default();
    let build = os_build().unwrap_or_else(|| kernel.clone());
    OsInventory {
        os_type: super::os_type(),
        name: System::name().unwrap_or_else(|_| std::env::consts::OS.to_string()),
        version,
        build,
        architecture: super::arch_name(),
        kernel_version: kernel,
        hostname: super::identity::hostname(),
        boot_time: System::boot_time()
            .ok()
            .and_then(|s| DateTime::from_timestamp(i64::try_from(s).ok()?, 0)),
    }
}

/// Uptime in seconds.
pub fn uptime_secs() -> u64 {
    System::uptime().unwrap_or(0)
}

/// Linux: `BUILD_ID` or `VERSION` from `/etc/os-release`; elsewhere the long OS
/// version (which carries the build number on Windows and macOS).
fn os_build() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let text = std::fs::read_to_string("/etc/os-release").ok()?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
        };
        field("BUILD_ID").or_else(|| field("VERSION"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        System::long_os_version().ok()
    }
}

/// Whether the OS says a reboot is pending.
pub fn pending_reboot() -> bool {
    #[cfg(target_os = "linux")]
    {
        std::path::Path::new("/var/run/reboot-required").exists()
            || std::path::Path::new("/run/reboot-required").exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}
