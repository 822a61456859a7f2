//! Installed software. Linux: dpkg (`/var/lib/dpkg/status`, parsed directly), rpm
//! (`rpm -qa --queryformat`), apk (`/lib/apk/db/installed`), pacman
//! (`/var/lib/pacman/local/*/desc`), flatpak and snap (their CLIs when present).
//! macOS and Windows sources are not written yet and say so.

use super::Unsupported;
use breeze_proto::agent::{SoftwarePackage, SoftwareSource};
use chrono::{DateTime, NaiveDate};
use std::path::Path;

/// Where dpkg's package database is read: `BREEZE_AGENT_DPKG_STATUS` when set (tests
/// point it at a file of their own), else `/var/lib/dpkg/status`.
pub fn dpkg_status_path() -> std::path::PathBuf {
    std::env::var_os("BREEZE_AGENT_DPKG_STATUS")
        .filter(|v| !v.is_empty())
        .map_or_else(|| "/var/lib/dpkg/status".into(), std::path::PathBuf::from)
}

/// Every installed package from every source found on this machine.
pub fn collect() -> Result<Vec<SoftwarePackage>, Unsupported> {
    #[cfg(target_os = "linux")]
    {
        let mut out = Vec::new();
        let dpkg = dpkg_status_path();
        if let Ok(text) = std::fs::read_to_string(&dpkg) {
            out.extend(parse_dpkg_status(
                &text,
                Some(Path::new("/var/lib/dpkg/info")),
            ));
        }
        if let Some(text) = super::command_output(
            "rpm",
            &[
                "-qa",
                "--queryformat",
                "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{VENDOR}\\t%{INSTALLTIME}\\t%{ARCH}\\n",
            ],
        ) {
            out.extend(parse_rpm_query(&text));
        }
        if let Ok(text) = std::fs::read_to_string("/lib/apk/db/installed") {
            out.extend(parse_apk_installed(&text));
        }
        out.extend(collect_pacman(Path::new("/var/lib/pacman/local")));
        if let Some(text) =
            super::command_output("flatpak", &["list", "--columns=application,version,origin"])
        {
            out.extend(parse_flatpak_list(&text));
        }
        if let Some(text) = super::command_output("snap", &["list"]) {
            out.extend(parse_snap_list(&text));
        }
        out.sort_by(|a, b| {
            (a.name.as_str(), a.version.as_str()).cmp(&(b.name.as_str(), b.version.as_str()))
        });
        Ok(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(Unsupported::new("installed-software inventory"))
    }
}

/// Paragraph-based formats (dpkg, apk): blank lines separate packages.
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    text.split("\n\n").filter(|p| !p.trim().is_empty())
}

/// `/var/lib/dpkg/status`. Only `Status: install ok installed` packages count;
/// the install date is the mtime of `info_dir/<pkg>[:<arch>].list` when given.
pub fn parse_dpkg_status(text: &str, info_dir: Option<&Path>) -> Vec<SoftwarePackage> {
    let mut out = Vec::new();
    for para in paragraphs(text) {
        let field = |key: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        let (Some(name), Some(status)) = (field("Package"), field("Status")) else {
            continue;
        };
        if !status.ends_with(" installed") || status.contains("not-installed") {
            continue;
        }
        let arch = field("Architecture");
        let install_date = info_dir.and_then(|dir| {
            let plain = dir.join(format!("{name}.list"));
            let with_arch = arch.as_ref().map(|a| dir.join(format!("{name}:{a}.list")));
            [Some(plain), with_arch]
                .into_iter()
                .flatten()
                .find_map(|p| std::fs::metadata(p).ok()?.modified().ok())
                .map(|t| DateTime::<chrono::Utc>::from(t).date_naive())
        });
        out.push(SoftwarePackage {
            name,
            version: field("Version").unwrap_or_default(),
            publisher: field("Maintainer"),
            install_date,
            install_location: None,
            architecture: arch,
            source: SoftwareSource::Dpkg,
        });
    }
    out
}

/// Tab-separated `NAME VERSION-RELEASE VENDOR INSTALLTIME ARCH` lines.
pub fn parse_rpm_query(text: &str) -> Vec<SoftwarePackage> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let name = f.first()?.trim();
            if name.is_empty() || name == "gpg-pubkey" {
                return None;
            }
            let none = |s: &&&str| !s.is_empty() && **s != "(none)";
            Some(SoftwarePackage {
                name: name.to_string(),
                version: f.get(1).copied().unwrap_or_default().to_string(),
                publisher: f.get(2).filter(none).map(|s| s.to_string()),
                install_date: f.get(3).and_then(|s| unix_date(s)),
                install_location: None,
                architecture: f.get(4).filter(none).map(|s| s.to_string()),
                source: SoftwareSource::Rpm,
            })
        })
        .collect()
}

fn unix_date(secs: &str) -> Option<NaiveDate> {
    DateTime::from_timestamp(secs.trim().parse().ok()?, 0).map(|d| d.date_naive())
}

/// `/lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `m:` maintainer.
pub fn parse_apk_installed(text: &str) -> Vec<SoftwarePackage> {
    paragraphs(text)
        .filter_map(|para| {
            let field = |key: &str| {
                para.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(|v| v.trim().to_string())
            };
            Some(SoftwarePackage {
                name: field("P:")?,
                version: field("V:").unwrap_or_default(),
                publisher: field("m:"),
                install_date: None,
                install_location: None,
                architecture: field("A:"),
                source: SoftwareSource::Apk,
            })
        })
        .collect()
}

/// One pacman `desc` file: `%NAME%\nvalue\n\n%VERSION%\nvalue …`.
pub fn parse_pacman_desc(text: &str) -> Option<SoftwarePackage> {
    let field = |key: &str| {
        let mut lines = text.lines();
        lines.find(|l| l.trim() == key)?;
        lines
            .next()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Some(SoftwarePackage {
        name: field("%NAME%")?,
        version: field("%VERSION%").unwrap_or_default(),
        publisher: field("%PACKAGER%"),
        install_date: field("%INSTALLDATE%").and_then(|s| unix_date(&s)),
        install_location: None,
        architecture: field("%ARCH%"),
        source: SoftwareSource::Pacman,
    })
}

#[cfg(target_os = "linux")]
fn collect_pacman(local: &Path) -> Vec<SoftwarePackage> {
    let Ok(dirs) = std::fs::read_dir(local) else {
        return Vec::new();
    };
    dirs.flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("desc")).ok())
        .filter_map(|t| parse_pacman_desc(&t))
        .collect()
}

/// `flatpak list --columns=application,version,origin` (tab-separated).
pub fn parse_flatpak_list(text: &str) -> Vec<SoftwarePackage> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').map(str::trim).collect();
            let name = f
                .first()
                .filter(|s| !s.is_empty() && **s != "Application ID")?;
            Some(SoftwarePackage {
                name: name.to_string(),
                version: f.get(1).copied().unwrap_or_default().to_string(),
                publisher: f.get(2).filter(|s| !s.is_empty()).map(|s| s.to_string()),
                install_date: None,
                install_location: None,
                architecture: None,
                source: SoftwareSource::Flatpak,
            })
        })
        .collect()
}

/// `snap list`: `Name Version Rev Tracking Publisher Notes`, a header line first.
pub fn parse_snap_list(text: &str) -> Vec<SoftwarePackage> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(SoftwarePackage {
                name: f.first()?.to_string(),
                version: f.get(1)?.to_string(),
                publisher: f
                    .get(4)
                    .map(|p| p.trim_end_matches('✓').trim_end_matches('*').to_string()),
                install_date: None,
                install_location: Some(format!("/snap/{}", f.first()?)),
                architecture: None,
                source: SoftwareSource::Snap,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_keeps_installed_packages_only() {
        let t = "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nMaintainer: Matthias Klose <doko@debian.org>\nVersion: 5.2.15-2+b2\nDescription: GNU shell\n multi-line\n\n\
                 Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                 Package: half\nStatus: install ok half-installed\nVersion: 2\n";
        let p = parse_dpkg_status(t, None);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("bash", "5.2.15-2+b2")
        );
        assert_eq!(p[0].architecture.as_deref(), Some("amd64"));
        assert_eq!(p[0].source, SoftwareSource::Dpkg);
    }

    #[test]
    fn rpm_apk_pacman_flatpak_snap_parse() {
        let rpm = parse_rpm_query(
            "bash\t5.1.8-6.el9\tRed Hat, Inc.\t1700000000\tx86_64\ngpg-pubkey\t1-1\t(none)\t1\t(none)\n",
        );
        assert_eq!(rpm.len(), 1);
        assert_eq!(rpm[0].install_date, NaiveDate::from_ymd_opt(2023, 11, 14));
        let apk = parse_apk_installed("C:Q1x\nP:musl\nV:1.2.4-r2\nA:x86_64\n\nP:busybox\nV:1.36\n");
        assert_eq!(
            apk.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["musl", "busybox"]
        );
        let pac =
            parse_pacman_desc("%NAME%\nlinux\n\n%VERSION%\n6.6.1-1\n\n%INSTALLDATE%\n1700000000\n");
        assert_eq!(
            pac.map(|p| (p.name, p.version)),
            Some(("linux".into(), "6.6.1-1".into()))
        );
        let fp = parse_flatpak_list("org.mozilla.firefox\t120.0\tflathub\n");
        assert_eq!(fp[0].publisher.as_deref(), Some("flathub"));
        let snap = parse_snap_list(
            "Name  Version  Rev  Tracking  Publisher  Notes\ncore22  20231123  1033  latest/stable  canonical✓  base\n",
        );
        assert_eq!(
            (snap[0].name.as_str(), snap[0].publisher.as_deref()),
            ("core22", Some("canonical"))
        );
    }
}
