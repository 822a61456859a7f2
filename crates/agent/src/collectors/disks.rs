//! Mounted real filesystems (pseudo filesystems, snaps and bind mounts left out).

use breeze_proto::agent::DiskInfo;
use sysinfo::Disks;

const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "devfs",
    "ramfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "configfs",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "fusectl",
    "squashfs",
    "nsfs",
    "autofs",
    "binfmt_misc",
    "efivarfs",
    "rpc_pipefs",
    "nfsd",
    "none",
    "selinuxfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "fuse.lxcfs",
    "overlay",
    "aufs",
    "nullfs",
    "map",
    "autofs_map",
];

/// Whether a mount is a real filesystem worth reporting. `overlay` counts only as
/// the root of a container.
pub fn is_real(fs: &str, mount_point: &str, total: u64) -> bool {
    if total == 0 {
        return false;
    }
    let fs = fs.to_ascii_lowercase();
    if fs == "overlay" && mount_point == "/" {
        return true;
    }
    !PSEUDO_FS.contains(&fs.as_str())
        && !mount_point.starts_with("/snap/")
        && !mount_point.starts_with("/proc")
        && !mount_point.starts_with("/sys")
}

pub fn collect() -> Vec<DiskInfo> {
    let Ok(disks) = Disks::new_with_refreshed_list() else {
        return Vec::new();
    };
    let mut out: Vec<DiskInfo> = Vec::new();
    for d in &disks {
        let fs = d.file_system().to_string_lossy().into_owned();
        let mount = d.mount_point().to_string_lossy().into_owned();
        let total = d.total_space();
        if !is_real(&fs, &mount, total) {
            continue;
        }
        let device = d.name().to_string_lossy().into_owned();
        let info = DiskInfo {
            mount_point: mount,
            filesystem: fs,
            device,
            total_bytes: total,
            used_bytes: total.saturating_sub(d.available_space()),
            removable: d.is_removable(),
        };
        // The same device mounted twice (bind mounts, btrfs subvolumes): keep the
        // shortest mount point so capacity is counted once.
        match out
            .iter_mut()
            .find(|o| o.device == info.device && !info.device.is_empty())
        {
            Some(existing) if info.mount_point.len() < existing.mount_point.len() => {
                *existing = info
            }
            Some(_) => {}
            None => out.push(info),
        }
    }
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_filesystems_are_left_out() {
        assert!(is_real("ext4", "/", 10));
        assert!(is_real("overlay", "/", 10));
        assert!(!is_real("overlay", "/var/lib/docker/x", 10));
        assert!(!is_real("tmpfs", "/run", 10));
        assert!(!is_real("squashfs", "/snap/core/1", 10));
        assert!(!is_real("ext4", "/", 0));
    }
}
