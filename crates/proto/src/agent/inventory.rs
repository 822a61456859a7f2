//! Inventory: `PUT /api/v1/agents/{agent_id}/inventory`.
//!
//! Each section is optional. A present section **replaces** everything the server
//! holds for that section of the device; an absent one leaves it as it is. The
//! agent sends a section when its hash differs from the hash the server last
//! accepted, or when the server asks for it (`inventory_requested`,
//! `collect_inventory_now`). A section's hash is the lowercase hex SHA-256 of the
//! section's [`canonical_json`](super::canonical_json) and is sent in `hashes`, so
//! the server can store it and compare it with the agent's heartbeat.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::OsType;

/// The inventory sections, as used in hashes and requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InventorySection {
    Hardware,
    Os,
    Network,
    Disks,
    Software,
    Processes,
    Users,
}

impl InventorySection {
    pub const ALL: [InventorySection; 7] = [
        Self::Hardware,
        Self::Os,
        Self::Network,
        Self::Disks,
        Self::Software,
        Self::Processes,
        Self::Users,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hardware => "hardware",
            Self::Os => "os",
            Self::Network => "network",
            Self::Disks => "disks",
            Self::Software => "software",
            Self::Processes => "processes",
            Self::Users => "users",
        }
    }
}

/// One inventory upload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct InventoryRequest {
    pub collected_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareInventory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInventory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Vec<NetworkInterface>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<Vec<SoftwarePackage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<Vec<ProcessInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<LoggedInUser>>,
    /// Hash of every section present in this request.
    pub hashes: BTreeMap<InventorySection, String>,
}

impl InventoryRequest {
    /// The sections this request carries.
    pub fn sections(&self) -> Vec<InventorySection> {
        self.hashes.keys().copied().collect()
    }
}

/// Seed 004 DeviceHardware.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct HardwareInventory {
    pub cpu_model: String,
    /// Physical cores (falls back to logical threads where unknown).
    pub cpu_cores: u32,
    /// Logical processors.
    pub cpu_threads: u32,
    pub ram_total_mb: u64,
    /// Sum of the disks section's totals.
    pub disk_total_gb: f64,
    pub gpu_model: Option<String>,
    /// DMI `product_serial` (needs root on Linux; absent otherwise).
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub bios_version: Option<String>,
}

/// Operating system facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsInventory {
    pub os_type: OsType,
    /// Distribution or product name, e.g. `Debian GNU/Linux`.
    pub name: String,
    pub version: String,
    pub build: String,
    /// `amd64`, `arm64` …
    pub architecture: String,
    pub kernel_version: String,
    pub hostname: String,
    pub boot_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IpKind {
    Ipv4,
    Ipv6,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InterfaceAddress {
    pub address: String,
    pub kind: IpKind,
    pub prefix_len: u8,
}

/// Seed 004 DeviceNetwork (one row per interface; its addresses inside).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkInterface {
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`, or empty when the interface has none.
    pub mac_address: String,
    pub addresses: Vec<InterfaceAddress>,
    /// The interface holding the default route.
    pub is_primary: bool,
    /// `ethernet`, `wireless`, `loopback`, `virtual`, `other`.
    pub interface_type: String,
}

/// Seed 000 deviceDisks: one mounted, real filesystem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiskInfo {
    pub mount_point: String,
    pub filesystem: String,
    pub device: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub removable: bool,
}

/// Where an installed package was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SoftwareSource {
    Dpkg,
    Rpm,
    Apk,
    Pacman,
    Flatpak,
    Snap,
    /// macOS `/Applications` bundles.
    MacApp,
    /// Windows uninstall registry keys.
    WindowsRegistry,
}

/// Seed 004 DeviceSoftware.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoftwarePackage {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    pub source: SoftwareSource,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub cpu_percent: f32,
    pub memory_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedInUser {
    pub username: String,
    /// `tty1`, `pts/0`, `:0`, `console` …
    pub terminal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_time: Option<DateTime<Utc>>,
}

/// The hash of one section: lowercase hex SHA-256 of its canonical JSON.
pub fn section_hash<T: Serialize>(section: &T) -> Result<String, serde_json::Error> {
    use sha2::Digest as _;
    let value = serde_json::to_value(section)?;
    let canonical = super::canonical_json(&value);
    Ok(hex::encode(sha2::Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_hash_changes_with_content_only() -> Result<(), serde_json::Error> {
        let disk = |used| DiskInfo {
            mount_point: "/".into(),
            filesystem: "ext4".into(),
            device: "/dev/sda1".into(),
            total_bytes: 100,
            used_bytes: used,
            removable: false,
        };
        assert_eq!(section_hash(&vec![disk(1)])?, section_hash(&vec![disk(1)])?);
        assert_ne!(section_hash(&vec![disk(1)])?, section_hash(&vec![disk(2)])?);
        assert_eq!(section_hash(&vec![disk(1)])?.len(), 64);
        Ok(())
    }
}
