//! Policy evaluation on the agent (issue 13): services, packages, files, config keys,
//! sysctl, users, firewall, disk encryption and check scripts.
//!
//! Each rule answers a status and a short detail. A rule the agent cannot judge on this
//! machine (no systemd, no firewall tool that answers, a root filesystem that is not a
//! block device) is `unknown` — never a guess; a check that failed (unreadable file, a
//! check script that timed out) is `error`.

use breeze_core::policy_rules::{compare_versions, parse_mode};
use breeze_proto::agent::{
    CommandResult, CommandStatus, PolicyCheckPayload, PolicyCheckReport, PolicyCheckScript,
    PolicyRuleOutcome, SoftwarePackage,
};
use breeze_proto::api::{ComplianceStatus, PolicyRule};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::future::Future;
use std::path::{Path, PathBuf};

use ComplianceStatus::{Compliant, Error, NonCompliant, Unknown};

/// Files compared by content or hash are read up to this size.
const MAX_READ: u64 = 16 * 1024 * 1024;

/// Where the evaluator looks (tests point these at temporary files).
#[derive(Clone, Debug)]
pub struct Sources {
    /// Root of the kernel parameters (`/proc/sys`).
    pub proc_sys: PathBuf,
    /// The account database (`/etc/passwd`).
    pub passwd: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Self {
            proc_sys: PathBuf::from("/proc/sys"),
            passwd: PathBuf::from("/etc/passwd"),
        }
    }
}

type Verdict = (ComplianceStatus, String);

/// Evaluates every rule of the payload. Check scripts run through `run_script` (the
/// agent's executor, with the script's timeout); installed packages come from
/// `packages` (the software collector), asked at most once.
pub async fn evaluate<R, Fut>(
    payload: &PolicyCheckPayload,
    sources: &Sources,
    packages: impl FnOnce() -> Result<Vec<SoftwarePackage>, String> + Send + 'static,
    run_script: R,
) -> PolicyCheckReport
where
    R: Fn(PolicyCheckScript) -> Fut,
    Fut: Future<Output = CommandResult>,
{
    // Everything but scripts reads files or runs short commands: off the async threads.
    let rules = payload.rules.clone();
    let src = sources.clone();
    let local = tokio::task::spawn_blocking(move || {
        let mut pkgs = Packages::new(packages);
        rules
            .iter()
            .map(|r| match r {
                PolicyRule::Script { .. } => None,
                r => Some(check_local(r, &src, &mut pkgs)),
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|_| vec![Some((Error, "the check panicked".to_string())); payload.rules.len()]);
    let mut results = Vec::with_capacity(payload.rules.len());
    for (i, (rule, done)) in payload.rules.iter().zip(local).enumerate() {
        let (status, detail) = match (rule, done) {
            (_, Some(v)) => v,
            (PolicyRule::Script { script_id }, None) => {
                match payload.scripts.iter().find(|s| s.script_id == *script_id) {
                    Some(s) => script_verdict(&run_script(s.clone()).await),
                    None => (Error, "the check script was not sent".into()),
                }
            }
            (_, None) => (Error, "not evaluated".into()),
        };
        results.push(PolicyRuleOutcome {
            rule_index: u32::try_from(i).unwrap_or(u32::MAX),
            status,
            detail: Some(detail),
        });
    }
    PolicyCheckReport {
        policy_id: payload.policy_id,
        results,
    }
}

/// Where installed packages come from (the software collector).
type PackageSource = Box<dyn FnOnce() -> Result<Vec<SoftwarePackage>, String> + Send>;

/// Installed packages, collected on first use.
struct Packages {
    source: Option<PackageSource>,
    list: Option<Result<Vec<SoftwarePackage>, String>>,
}

impl Packages {
    fn new(f: impl FnOnce() -> Result<Vec<SoftwarePackage>, String> + Send + 'static) -> Self {
        Self {
            source: Some(Box::new(f)),
            list: None,
        }
    }

    fn get(&mut self) -> &Result<Vec<SoftwarePackage>, String> {
        if self.list.is_none() {
            let r = match self.source.take() {
                Some(f) => f(),
                None => Err("no package source".into()),
            };
            self.list = Some(r);
        }
        self.list
            .get_or_insert_with(|| Err("no package source".into()))
    }
}

fn check_local(rule: &PolicyRule, src: &Sources, pkgs: &mut Packages) -> Verdict {
    match rule {
        PolicyRule::ServiceRunning { name } => service(name, true),
        PolicyRule::ServiceStopped { name } => service(name, false),
        PolicyRule::PackageInstalled { name, min_version } => match pkgs.get() {
            Err(e) => (Unknown, e.clone()),
            Ok(list) => package_installed(list, name, min_version.as_deref()),
        },
        PolicyRule::PackageAbsent { name } => match pkgs.get() {
            Err(e) => (Unknown, e.clone()),
            Ok(list) => match list.iter().find(|p| p.name == *name) {
                Some(p) => (NonCompliant, format!("installed {}", p.version)),
                None => (Compliant, "not installed".into()),
            },
        },
        PolicyRule::FileExists {
            path,
            content,
            sha256,
            mode,
        } => file_exists(
            Path::new(path),
            content.as_deref(),
            sha256.as_deref(),
            mode.as_deref(),
        ),
        PolicyRule::FileAbsent { path } => match std::fs::symlink_metadata(path) {
            Ok(_) => (NonCompliant, "exists".into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Compliant, "absent".into()),
            Err(e) => (Error, format!("cannot tell: {e}")),
        },
        PolicyRule::ConfigValue {
            path,
            key,
            value,
            separator,
        } => config_value(
            Path::new(path),
            key,
            value,
            separator.as_deref().unwrap_or("="),
        ),
        PolicyRule::Sysctl { key, value } => sysctl(&src.proc_sys, key, value),
        PolicyRule::UserPresent { name } => user(&src.passwd, name, true),
        PolicyRule::UserAbsent { name } => user(&src.passwd, name, false),
        PolicyRule::FirewallEnabled => firewall(),
        PolicyRule::DiskEncryption => disk_encryption(),
        PolicyRule::Script { .. } => (Error, "not evaluated".into()),
    }
}

/// Whether a package is installed, at `min` or newer when given.
pub fn package_installed(list: &[SoftwarePackage], name: &str, min: Option<&str>) -> Verdict {
    let found: Vec<&SoftwarePackage> = list.iter().filter(|p| p.name == name).collect();
    let Some(best) = found
        .iter()
        .max_by(|a, b| compare_versions(&a.version, &b.version))
    else {
        return (NonCompliant, "not installed".into());
    };
    match min {
        None => (Compliant, format!("installed {}", best.version)),
        Some(m) => match compare_versions(&best.version, m) {
            Ordering::Less => (NonCompliant, format!("installed {} < {m}", best.version)),
            _ => (Compliant, format!("installed {} >= {m}", best.version)),
        },
    }
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(MAX_READ + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A file that exists, with the given content, hash and mode when asked.
pub fn file_exists(
    path: &Path,
    content: Option<&str>,
    sha256: Option<&str>,
    mode: Option<&str>,
) -> Verdict {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (NonCompliant, "missing".into());
        }
        Err(e) => return (Error, format!("cannot read: {e}")),
    };
    if !meta.is_file() && (content.is_some() || sha256.is_some()) {
        return (NonCompliant, "not a regular file".into());
    }
    if let Some(want) = mode {
        let Some(want) = parse_mode(want) else {
            return (Error, format!("bad mode {want}"));
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let have = meta.permissions().mode() & 0o7777;
            if have != want {
                return (NonCompliant, format!("mode {have:04o}, want {want:04o}"));
            }
        }
        #[cfg(not(unix))]
        {
            let _ = want;
            return (Unknown, "file modes are a Unix notion".into());
        }
    }
    if content.is_some() || sha256.is_some() {
        let bytes = match read_limited(path) {
            Ok(b) if b.len() as u64 > MAX_READ => {
                return (Error, "too large to compare".into());
            }
            Ok(b) => b,
            Err(e) => return (Error, format!("cannot read: {e}")),
        };
        if let Some(c) = content
            && bytes != c.as_bytes()
        {
            return (NonCompliant, "content differs".into());
        }
        if let Some(h) = sha256 {
            let have = hex::encode(Sha256::digest(&bytes));
            if !have.eq_ignore_ascii_case(h) {
                return (
                    NonCompliant,
                    format!("sha256 {}…, want {}…", &have[..12], &h[..h.len().min(12)]),
                );
            }
        }
    }
    (Compliant, "present".into())
}

/// `key<sep>value` in a config file (the last setting of the key wins; `#` and `;` start
/// comment lines; spaces around key and value are ignored).
pub fn config_value(path: &Path, key: &str, want: &str, sep: &str) -> Verdict {
    let bytes = match read_limited(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (NonCompliant, "file missing".into());
        }
        Err(e) => return (Error, format!("cannot read: {e}")),
    };
    let text = String::from_utf8_lossy(&bytes);
    let sep_trim = sep.trim();
    let mut found: Option<String> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        // A whitespace separator matches any run of blanks.
        let split = if sep_trim.is_empty() {
            l.split_once(char::is_whitespace)
        } else {
            l.split_once(sep)
        };
        if let Some((k, v)) = split
            && k.trim() == key
        {
            found = Some(v.trim().to_string());
        }
    }
    match found {
        None => (NonCompliant, format!("{key} not set")),
        Some(v) if v == want.trim() => (Compliant, format!("{key} = {v}")),
        Some(v) => (NonCompliant, format!("{key} = {v}, want {}", want.trim())),
    }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A kernel parameter from `<proc_sys>/net/ipv4/ip_forward`.
pub fn sysctl(proc_sys: &Path, key: &str, want: &str) -> Verdict {
    if key.split(['.', '/']).any(|p| p.is_empty() || p == "..") {
        return (Error, "bad key".into());
    }
    let path = proc_sys.join(key.replace('.', "/"));
    match std::fs::read_to_string(&path) {
        Ok(v) => {
            let (have, want) = (normalize_ws(&v), normalize_ws(want));
            if have == want {
                (Compliant, format!("{key} = {have}"))
            } else {
                (NonCompliant, format!("{key} = {have}, want {want}"))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if proc_sys.exists() {
                (Error, format!("no kernel parameter {key}"))
            } else {
                (Unknown, "no /proc/sys on this system".into())
            }
        }
        Err(e) => (Error, format!("cannot read: {e}")),
    }
}

/// A local account in a passwd-format file.
pub fn user(passwd: &Path, name: &str, present: bool) -> Verdict {
    let text = match std::fs::read_to_string(passwd) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && cfg!(not(unix)) => {
            return (Unknown, "no passwd database on this system".into());
        }
        Err(e) => return (Error, format!("cannot read {}: {e}", passwd.display())),
    };
    let exists = text
        .lines()
        .any(|l| l.split(':').next() == Some(name) && !l.starts_with('#'));
    match (exists, present) {
        (true, true) => (Compliant, "present".into()),
        (false, false) => (Compliant, "absent".into()),
        (true, false) => (NonCompliant, "present".into()),
        (false, true) => (NonCompliant, "absent".into()),
    }
}

/// Runs a program: its exit code and trimmed stdout; `None` when it is missing.
fn run(program: &str, args: &[&str]) -> Option<(Option<i32>, String)> {
    crate::collectors::run_program(program, args).map(|(code, out)| (code, out.trim().to_string()))
}

fn service(name: &str, want_running: bool) -> Verdict {
    let running = service_running(name);
    match running {
        None => (Unknown, "cannot query services here".into()),
        Some((is, state)) => {
            let ok = is == want_running;
            (if ok { Compliant } else { NonCompliant }, state)
        }
    }
}

/// Whether a service runs, with the state word the system gave.
fn service_running(name: &str) -> Option<(bool, String)> {
    #[cfg(target_os = "linux")]
    {
        let (_, out) = run("systemctl", &["is-active", "--", name])?;
        let word = out.lines().next().unwrap_or("").trim().to_string();
        if word.is_empty() {
            return None;
        }
        Some((word == "active", word))
    }
    #[cfg(target_os = "macos")]
    {
        let (code, _) = run("launchctl", &["list", name])?;
        Some((
            code == Some(0),
            if code == Some(0) {
                "loaded"
            } else {
                "not loaded"
            }
            .into(),
        ))
    }
    #[cfg(windows)]
    {
        let (_, out) = run("sc", &["query", name])?;
        let running = out.contains("RUNNING");
        Some((
            running,
            if running { "running" } else { "not running" }.into(),
        ))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = name;
        None
    }
}

/// ufw, then firewalld, then an nftables input hook; `unknown` when none tells.
fn firewall() -> Verdict {
    #[cfg(target_os = "linux")]
    {
        if let Some((Some(0), out)) = run("ufw", &["status"]) {
            if out.contains("Status: active") {
                return (Compliant, "ufw active".into());
            }
            if out.contains("Status: inactive") {
                return (NonCompliant, "ufw inactive".into());
            }
        }
        if let Some((_, out)) = run("firewall-cmd", &["--state"]) {
            match out.trim() {
                "running" => return (Compliant, "firewalld running".into()),
                "not running" => {}
                _ => {}
            }
        }
        if let Some((Some(0), out)) = run("nft", &["list", "ruleset"])
            && out.contains("hook input")
        {
            return (Compliant, "nftables input hook present".into());
        }
        (Unknown, "no firewall tool gave an answer".into())
    }
    #[cfg(not(target_os = "linux"))]
    {
        (Unknown, "not checked on this platform yet".into())
    }
}

/// The root filesystem's block device stack holds a `crypt` (LUKS/dm-crypt) layer.
fn disk_encryption() -> Verdict {
    #[cfg(target_os = "linux")]
    {
        let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
            return (Unknown, "cannot read the mount table".into());
        };
        let Some(source) = mounts.lines().find_map(|l| {
            let mut f = l.split_whitespace();
            let (src, target) = (f.next()?, f.next()?);
            (target == "/").then(|| src.to_string())
        }) else {
            return (Unknown, "no root filesystem in the mount table".into());
        };
        if !source.starts_with("/dev/") {
            return (Unknown, format!("root is on {source}, not a block device"));
        }
        match run("lsblk", &["-s", "-n", "-r", "-o", "TYPE", &source]) {
            Some((Some(0), out)) if !out.is_empty() => {
                if out.lines().any(|t| t.trim() == "crypt") {
                    (Compliant, format!("{source} is encrypted"))
                } else {
                    (NonCompliant, format!("{source} has no crypt layer"))
                }
            }
            _ => (Unknown, "lsblk gave no answer".into()),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        (Unknown, "not checked on this platform yet".into())
    }
}

/// A check script's result: exit 0 is compliant.
pub fn script_verdict(r: &CommandResult) -> Verdict {
    let first_line = |s: &str| {
        s.lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect::<String>()
    };
    match (r.status, r.exit_code) {
        (CommandStatus::Completed, Some(0)) => (Compliant, "exit 0".into()),
        (CommandStatus::Completed, Some(c)) => {
            let out = first_line(&r.stdout);
            let detail = if out.is_empty() {
                format!("exit {c}")
            } else {
                format!("exit {c}: {out}")
            };
            (NonCompliant, detail)
        }
        (s, _) => (
            Error,
            format!(
                "check script {}{}",
                s.as_str(),
                r.error_message
                    .as_deref()
                    .map(|m| format!(": {}", first_line(m)))
                    .unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use breeze_proto::agent::SoftwareSource;
    use breeze_proto::ids::{PolicyId, ScriptId};

    fn pkg(name: &str, version: &str) -> SoftwarePackage {
        SoftwarePackage {
            name: name.into(),
            version: version.into(),
            publisher: None,
            install_date: None,
            install_location: None,
            architecture: None,
            source: SoftwareSource::Dpkg,
        }
    }

    #[test]
    fn packages_and_minimum_versions() {
        let list = vec![pkg("curl", "7.81.0-1ubuntu1.15"), pkg("openssl", "1.2.0")];
        assert_eq!(package_installed(&list, "curl", None).0, Compliant);
        assert_eq!(
            package_installed(&list, "openssl", Some("2.0")),
            (NonCompliant, "installed 1.2.0 < 2.0".into())
        );
        assert_eq!(
            package_installed(&list, "openssl", Some("1.2")).0,
            Compliant
        );
        assert_eq!(
            package_installed(&list, "nmap", None),
            (NonCompliant, "not installed".into())
        );
    }

    #[test]
    fn files_by_content_hash_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("motd");
        std::fs::write(&f, "hello\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let hash = hex::encode(Sha256::digest(b"hello\n"));
        assert_eq!(file_exists(&f, None, None, None).0, Compliant);
        assert_eq!(
            file_exists(&f, Some("hello\n"), Some(&hash), None).0,
            Compliant
        );
        assert_eq!(
            file_exists(&f, Some("bye\n"), None, None),
            (NonCompliant, "content differs".into())
        );
        assert_eq!(
            file_exists(&f, None, Some(&"0".repeat(64)), None).0,
            NonCompliant
        );
        #[cfg(unix)]
        {
            assert_eq!(file_exists(&f, None, None, Some("0640")).0, Compliant);
            assert_eq!(
                file_exists(&f, None, None, Some("0644")),
                (NonCompliant, "mode 0640, want 0644".into())
            );
        }
        assert_eq!(
            file_exists(&dir.path().join("nope"), None, None, None),
            (NonCompliant, "missing".into())
        );
    }

    #[test]
    fn config_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sshd_config");
        std::fs::write(
            &f,
            "# PermitRootLogin yes\nPermitRootLogin   no\nPort 22\n; x=1\nmax = 5\nmax=7\n",
        )
        .unwrap();
        assert_eq!(config_value(&f, "PermitRootLogin", "no", " ").0, Compliant);
        assert_eq!(
            config_value(&f, "Port", "2222", " "),
            (NonCompliant, "Port = 22, want 2222".into())
        );
        // The last setting wins.
        assert_eq!(config_value(&f, "max", "7", "=").0, Compliant);
        assert_eq!(
            config_value(&f, "x", "1", "="),
            (NonCompliant, "x not set".into())
        );
        assert_eq!(
            config_value(&dir.path().join("nope"), "a", "b", "=").0,
            NonCompliant
        );
    }

    #[test]
    fn sysctl_from_a_fake_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net/ipv4")).unwrap();
        std::fs::write(dir.path().join("net/ipv4/ip_forward"), "0\n").unwrap();
        std::fs::write(
            dir.path().join("net/ipv4/tcp_rmem"),
            "4096\t131072\t6291456\n",
        )
        .unwrap();
        assert_eq!(sysctl(dir.path(), "net.ipv4.ip_forward", "0").0, Compliant);
        assert_eq!(
            sysctl(dir.path(), "net.ipv4.ip_forward", "1"),
            (NonCompliant, "net.ipv4.ip_forward = 0, want 1".into())
        );
        assert_eq!(
            sysctl(dir.path(), "net.ipv4.tcp_rmem", "4096 131072 6291456").0,
            Compliant
        );
        assert_eq!(sysctl(dir.path(), "net.ipv4.nope", "1").0, Error);
        assert_eq!(sysctl(dir.path(), "net..x", "1").0, Error);
    }

    #[test]
    fn users_from_a_fake_passwd() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("passwd");
        std::fs::write(
            &f,
            "root:x:0:0::/root:/bin/sh\nops:x:1000:1000::/home/ops:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(user(&f, "ops", true).0, Compliant);
        assert_eq!(user(&f, "guest", true).0, NonCompliant);
        assert_eq!(user(&f, "guest", false).0, Compliant);
        assert_eq!(user(&f, "root", false).0, NonCompliant);
        // A prefix is not a match.
        assert_eq!(user(&f, "op", true).0, NonCompliant);
    }

    #[tokio::test]
    async fn evaluate_runs_every_rule_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "ops:x:1000:1000::/:/bin/sh\n").unwrap();
        let script = ScriptId::new();
        let payload = PolicyCheckPayload {
            policy_id: PolicyId::new(),
            rules: vec![
                PolicyRule::UserPresent { name: "ops".into() },
                PolicyRule::PackageInstalled {
                    name: "x".into(),
                    min_version: None,
                },
                PolicyRule::Script { script_id: script },
                PolicyRule::Script {
                    script_id: ScriptId::new(),
                },
            ],
            scripts: vec![PolicyCheckScript {
                script_id: script,
                language: breeze_proto::agent::ScriptLanguage::Sh,
                content: "exit 3".into(),
                timeout_secs: 5,
            }],
        };
        let sources = Sources {
            proc_sys: dir.path().into(),
            passwd,
        };
        let report = evaluate(
            &payload,
            &sources,
            || Ok(vec![pkg("x", "1.0")]),
            |s: PolicyCheckScript| async move {
                assert_eq!(s.content, "exit 3");
                CommandResult {
                    command_id: breeze_proto::ids::CommandId::new(),
                    command_type: "run_script".into(),
                    status: CommandStatus::Completed,
                    rejection: None,
                    exit_code: Some(3),
                    stdout: "sshd drifted\n".into(),
                    stderr: String::new(),
                    stdout_truncated: false,
                    stderr_truncated: false,
                    duration_ms: 1,
                    error_message: None,
                    started_at: None,
                    completed_at: chrono::Utc::now(),
                }
            },
        )
        .await;
        let got: Vec<_> = report
            .results
            .iter()
            .map(|r| (r.rule_index, r.status, r.detail.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Compliant, "present".into()),
                (1, Compliant, "installed 1.0".into()),
                (2, NonCompliant, "exit 3: sshd drifted".into()),
                (3, Error, "the check script was not sent".into()),
            ]
        );
    }
}
