//! Hardware: CPU, memory, GPU and the DMI identity (manufacturer, model, serial,
//! BIOS) — from `/sys/class/dmi/id` on Linux, where `product_serial` needs root
//! and is skipped when unreadable.

use breeze_proto::agent::{DiskInfo, HardwareInventory};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// Placeholder strings firmware vendors leave in DMI fields.
const DMI_JUNK: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "system product name",
    "system manufacturer",
    "not specified",
    "not applicable",
    "none",
    "o.e.m.",
    "0",
    "0123456789",
];

fn clean_dmi(value: Option<String>) -> Option<String> {
    value.filter(|v| !DMI_JUNK.contains(&v.trim().to_ascii_lowercase().as_str()))
}

/// Collects the hardware section; `disks` gives `disk_total_gb`.
pub fn collect(disks: &[DiskInfo]) -> HardwareInventory {
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    let (cpu_model, threads, ram_total) = match &sys {
        Some(s) => (
            s.cpus()
                .first()
                .map(|c| c.brand().trim().to_string())
                .unwrap_or_default(),
            s.cpus().len() as u32,
            s.total_memory(),
        ),
        None => (String::new(), 0, 0),
    };
    let threads = if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(0)
    } else {
        threads
    };
    let cores = System::physical_core_count()
        .map(|c| c as u32)
        .unwrap_or(threads);
    let dmi = dmi();
    HardwareInventory {
        cpu_model,
        cpu_cores: if cores == 0 { threads } else { cores },
        cpu_threads: threads,
        ram_total_mb: ram_total / (1024 * 1024),
        disk_total_gb: round2(disks.iter().map(|d| d.total_bytes as f64).sum::<f64>() / 1e9),
        gpu_model: gpu_model(),
        serial_number: dmi.serial,
        manufacturer: dmi.manufacturer,
        model: dmi.model,
        bios_version: dmi.bios_version,
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Default)]
struct Dmi {
    manufacturer: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    bios_version: Option<String>,
}

#[cfg(target_os = "linux")]
fn dmi() -> Dmi {
    use super::read_trimmed;
    let f = |name: &str| clean_dmi(read_trimmed(format!("/sys/class/dmi/id/{name}")));
    Dmi {
        manufacturer: f("sys_vendor").or_else(|| f("board_vendor")),
        model: f("product_name").or_else(|| f("board_name")),
        serial: f("product_serial"), // root only
        bios_version: f("bios_version"),
    }
}

#[cfg(not(target_os = "linux"))]
fn dmi() -> Dmi {
    Dmi {
        manufacturer: clean_dmi(sysinfo::Product::vendor_name().ok()),
        model: clean_dmi(sysinfo::Product::name().ok()),
        serial: clean_dmi(sysinfo::Product::serial_number().ok()),
        bios_version: None,
    }
}

/// The display adapter: `lspci` names when available, else the PCI vendor of
/// `/sys/class/drm/card*/device` (Linux only).
#[cfg(target_os = "linux")]
fn gpu_model() -> Option<String> {
    if let Some(out) = super::command_output("lspci", &["-mm"]) {
        let names: Vec<String> = out.lines().filter_map(parse_lspci_display).collect();
        if !names.is_empty() {
            return Some(names.join("; "));
        }
    }
    let cards = std::fs::read_dir("/sys/class/drm").ok()?;
    let mut names = Vec::new();
    for card in cards.flatten() {
        let name = card.file_name().to_string_lossy().into_owned();
        if !name.starts_with("card") || name.contains('-') {
            continue;
        }
        let dev = card.path().join("device");
        let vendor = super::read_trimmed(dev.join("vendor"));
        let device = super::read_trimmed(dev.join("device"));
        if let (Some(v), Some(d)) = (vendor, device) {
            names.push(format!("{} device {d}", pci_vendor_name(&v)));
        }
    }
    (!names.is_empty()).then(|| names.join("; "))
}

#[cfg(not(target_os = "linux"))]
fn gpu_model() -> Option<String> {
    None
}

/// One `lspci -mm` line: `00:02.0 "VGA compatible controller" "Intel Corporation" "UHD Graphics 620" …`.
pub fn parse_lspci_display(line: &str) -> Option<String> {
    let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    let class = quoted.first()?;
    if !(class.contains("VGA")
        || class.contains("3D controller")
        || class.contains("Display controller"))
    {
        return None;
    }
    let vendor = quoted.get(1)?;
    let device = quoted.get(2)?;
    Some(format!("{vendor} {device}"))
}

#[cfg(target_os = "linux")]
fn pci_vendor_name(id: &str) -> String {
    match id.to_ascii_lowercase().as_str() {
        "0x10de" => "NVIDIA".into(),
        "0x1002" => "AMD".into(),
        "0x8086" => "Intel".into(),
        "0x1af4" => "Red Hat virtio".into(),
        "0x1234" => "QEMU".into(),
        "0x15ad" => "VMware".into(),
        "0x1414" => "Microsoft Hyper-V".into(),
        other => format!("PCI vendor {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lspci_display_lines_are_recognized() {
        let l = r#"00:02.0 "VGA compatible controller" "Intel Corporation" "UHD Graphics 620" -r07 "Lenovo" "ThinkPad""#;
        assert_eq!(
            parse_lspci_display(l).as_deref(),
            Some("Intel Corporation UHD Graphics 620")
        );
        assert_eq!(
            parse_lspci_display(r#"00:1f.3 "Audio device" "Intel" "HDA""#),
            None
        );
    }

    #[test]
    fn firmware_placeholders_are_dropped() {
        assert_eq!(clean_dmi(Some("To Be Filled By O.E.M.".into())), None);
        assert_eq!(
            clean_dmi(Some("ThinkPad X1".into())).as_deref(),
            Some("ThinkPad X1")
        );
    }
}
