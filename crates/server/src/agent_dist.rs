//! The agent binaries the server hands out at `/download/agent/{os}-{arch}`.
//!
//! Where they are looked for, first match wins:
//! - `[agents] dist_dir` (`--agent-dir`, `BREEZE_AGENT_DIR`) when set, and then only there:
//!   `breeze-agent-<os>-<arch>[.exe]`, or plain `breeze-agent[.exe]` for the server's own
//!   platform;
//! - otherwise the directory of the server executable, the same two names: a release
//!   bundle ships them side by side, and `cargo build` puts `breeze` and `breeze-agent`
//!   together in `target/<profile>/`;
//! - and, when that directory is a cargo profile directory (`target/<profile>/`),
//!   cross-built agents at `target/<triple>/<profile>/breeze-agent[.exe]` (then
//!   `target/<triple>/release/…`), e.g. `cargo build --release -p breeze-agent --target
//!   aarch64-unknown-linux-gnu`.
//!
//! A file's SHA-256 is computed the first time it is asked for and cached with the
//! file's size and modification time; a rebuilt binary is hashed again, no request
//! hashes an unchanged one.

use breeze_proto::api::AgentPlatform;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// An agent binary found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentBinary {
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Hex SHA-256.
    pub sha256: String,
}

pub struct AgentDist {
    /// Candidate paths per platform, in search order.
    candidates: HashMap<AgentPlatform, Vec<PathBuf>>,
    cache: Mutex<HashMap<PathBuf, AgentBinary>>,
}

/// The platform this server was built for, when the agent is built for it too.
pub fn host_platform() -> Option<AgentPlatform> {
    AgentPlatform::from_consts(std::env::consts::OS, std::env::consts::ARCH)
}

impl AgentDist {
    /// Looks in `dist_dir` when given, else next to the running executable (and the
    /// cargo target layout around it).
    pub fn new(dist_dir: Option<&Path>) -> AgentDist {
        let host = host_platform();
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        let mut candidates = HashMap::new();
        for p in AgentPlatform::ALL {
            let mut c = Vec::new();
            match (dist_dir, &exe_dir) {
                (Some(d), _) => c.extend(names_in(d, p, host)),
                (None, Some(e)) => {
                    c.extend(names_in(e, p, host));
                    c.extend(cargo_cross_paths(e, p));
                }
                (None, None) => {}
            }
            candidates.insert(p, c);
        }
        AgentDist {
            candidates,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Where `platform`'s binary is looked for, in order.
    pub fn candidates(&self, platform: AgentPlatform) -> &[PathBuf] {
        self.candidates
            .get(&platform)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The binary for `platform`, hashed (from the cache when the file is unchanged).
    pub async fn find(&self, platform: AgentPlatform) -> std::io::Result<Option<AgentBinary>> {
        for path in self.candidates(platform) {
            let meta = match tokio::fs::metadata(path).await {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            return self
                .describe(path, meta.len(), meta.modified().ok())
                .await
                .map(Some);
        }
        Ok(None)
    }

    /// The cached description of `path` when its size and modification time still
    /// match, else a fresh hash of it.
    pub async fn describe(
        &self,
        path: &Path,
        size: u64,
        modified: Option<SystemTime>,
    ) -> std::io::Result<AgentBinary> {
        if let Some(b) = self.lock().get(path)
            && b.size == size
            && b.modified == modified
        {
            return Ok(b.clone());
        }
        let owned = path.to_path_buf();
        let (sha256, hashed_size) = tokio::task::spawn_blocking(move || sha256_file(&owned))
            .await
            .map_err(std::io::Error::other)??;
        let b = AgentBinary {
            path: path.to_path_buf(),
            size: hashed_size,
            modified,
            sha256,
        };
        tracing::debug!(path = %path.display(), sha256 = %b.sha256, "hashed an agent binary");
        self.lock().insert(path.to_path_buf(), b.clone());
        Ok(b)
    }

    /// Every platform with a binary, for the start-up log and the downloads list.
    pub async fn available(&self) -> std::io::Result<Vec<(AgentPlatform, AgentBinary)>> {
        let mut out = Vec::new();
        for p in AgentPlatform::ALL {
            if let Some(b) = self.find(p).await? {
                out.push((p, b));
            }
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, AgentBinary>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn names_in(dir: &Path, p: AgentPlatform, host: Option<AgentPlatform>) -> Vec<PathBuf> {
    let mut v = vec![dir.join(p.file_name())];
    if host == Some(p) {
        v.push(dir.join(format!("breeze-agent{}", p.exe_suffix())));
    }
    v
}

/// `target/<triple>/<profile>/breeze-agent` when `exe_dir` is `target/<profile>`.
fn cargo_cross_paths(exe_dir: &Path, p: AgentPlatform) -> Vec<PathBuf> {
    // A cargo profile directory holds `.fingerprint`; a release bundle does not.
    if !exe_dir.join(".fingerprint").is_dir() {
        return Vec::new();
    }
    let (Some(target), Some(profile)) = (exe_dir.parent(), exe_dir.file_name()) else {
        return Vec::new();
    };
    let mut profiles = vec![profile.to_os_string()];
    if profile != "release" {
        profiles.push("release".into());
    }
    let name = format!("breeze-agent{}", p.exe_suffix());
    p.target_triples()
        .iter()
        .flat_map(|t| {
            profiles
                .iter()
                .map(|prof| target.join(t).join(prof).join(&name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Hex SHA-256 and length of a file.
fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let read = f.read(&mut buf)?;
        if read == 0 {
            break;
        }
        h.update(&buf[..read]);
        n += read as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// How to get a binary for `platform` onto this server, for the 404 message.
pub fn build_hint(platform: AgentPlatform) -> String {
    let cmd = if host_platform() == Some(platform) {
        "cargo build --release -p breeze-agent".to_string()
    } else {
        format!(
            "cargo build --release -p breeze-agent --target {}",
            platform
                .target_triples()
                .first()
                .copied()
                .unwrap_or_default()
        )
    };
    format!(
        "this server has no breeze-agent build for {platform}. Build it with `{cmd}` where the \
         server runs, or put a build named {} in the server's agent directory \
         (`[agents] dist_dir`, `--agent-dir`)",
        platform.file_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finds_named_binaries_and_hashes_once_per_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dist = AgentDist::new(Some(dir.path()));
        assert_eq!(
            dist.find(AgentPlatform::LinuxAarch64).await.expect("io"),
            None
        );
        let path = dir.path().join("breeze-agent-linux-aarch64");
        std::fs::write(&path, b"abc").expect("write");
        let b = dist
            .find(AgentPlatform::LinuxAarch64)
            .await
            .expect("io")
            .expect("found");
        // SHA-256("abc")
        assert_eq!(
            b.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(b.size, 3);
        // A cached entry answers while size and time match …
        let same = dist.describe(&path, 3, b.modified).await.expect("io");
        assert_eq!(same, b);
        // … and a changed file is hashed again.
        std::fs::write(&path, b"abcd").expect("write");
        let meta = std::fs::metadata(&path).expect("meta");
        let again = dist
            .describe(&path, meta.len(), meta.modified().ok())
            .await
            .expect("io");
        assert_eq!(again.size, 4);
        assert_ne!(again.sha256, b.sha256);
    }

    #[test]
    fn the_host_platform_also_takes_the_plain_name() {
        let Some(host) = host_platform() else { return };
        let dist = AgentDist::new(Some(Path::new("/opt/agents")));
        let c = dist.candidates(host);
        assert_eq!(
            c.first(),
            Some(&Path::new("/opt/agents").join(host.file_name()))
        );
        assert!(
            c.iter()
                .any(|p| p.file_stem().is_some_and(|s| s == "breeze-agent"))
        );
    }

    #[test]
    fn a_cargo_profile_dir_adds_cross_built_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let debug = dir.path().join("debug");
        std::fs::create_dir_all(debug.join(".fingerprint")).expect("mkdir");
        let c = cargo_cross_paths(&debug, AgentPlatform::LinuxAarch64);
        assert_eq!(
            c.first(),
            Some(
                &dir.path()
                    .join("aarch64-unknown-linux-gnu/debug/breeze-agent")
            )
        );
        assert!(
            c.contains(
                &dir.path()
                    .join("aarch64-unknown-linux-gnu/release/breeze-agent")
            )
        );
        let plain = dir.path().join("bundle");
        std::fs::create_dir_all(&plain).expect("mkdir");
        assert!(cargo_cross_paths(&plain, AgentPlatform::LinuxAarch64).is_empty());
    }
}
