//! Agent downloads (`GET /download/agent`, `/download/agent/{platform}`) and the install
//! script (`GET /install.sh`). None needs a sign-in: a binary holds no secret, and the
//! enrollment key is given to the script by whoever runs it.

use super::*;

/// A platform the agent is built for: `<os>-<arch>` in download URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgentPlatform {
    LinuxX86_64,
    LinuxAarch64,
    DarwinX86_64,
    DarwinAarch64,
    WindowsX86_64,
    WindowsAarch64,
}

impl AgentPlatform {
    pub const ALL: [AgentPlatform; 6] = [
        AgentPlatform::LinuxX86_64,
        AgentPlatform::LinuxAarch64,
        AgentPlatform::DarwinX86_64,
        AgentPlatform::DarwinAarch64,
        AgentPlatform::WindowsX86_64,
        AgentPlatform::WindowsAarch64,
    ];

    /// `linux-x86_64`, `darwin-aarch64`, … (what `uname -s`/`uname -m` give, lowercased,
    /// with `arm64` spelled `aarch64`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentPlatform::LinuxX86_64 => "linux-x86_64",
            AgentPlatform::LinuxAarch64 => "linux-aarch64",
            AgentPlatform::DarwinX86_64 => "darwin-x86_64",
            AgentPlatform::DarwinAarch64 => "darwin-aarch64",
            AgentPlatform::WindowsX86_64 => "windows-x86_64",
            AgentPlatform::WindowsAarch64 => "windows-aarch64",
        }
    }

    pub fn parse(s: &str) -> Option<AgentPlatform> {
        AgentPlatform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The platform of a build for `os`/`arch` as `std::env::consts` name them.
    pub fn from_consts(os: &str, arch: &str) -> Option<AgentPlatform> {
        let os = match os {
            "macos" => "darwin",
            o => o,
        };
        AgentPlatform::parse(&format!("{os}-{arch}"))
    }

    pub fn os(self) -> &'static str {
        self.as_str().split_once('-').map_or("", |(o, _)| o)
    }

    pub fn arch(self) -> &'static str {
        self.as_str().split_once('-').map_or("", |(_, a)| a)
    }

    /// `.exe` on Windows.
    pub fn exe_suffix(self) -> &'static str {
        if self.os() == "windows" { ".exe" } else { "" }
    }

    /// The file name a download is saved under: `breeze-agent-linux-x86_64`, `….exe`.
    pub fn file_name(self) -> String {
        format!("breeze-agent-{}{}", self.as_str(), self.exe_suffix())
    }

    /// Rust target triples that build for this platform, the usual one first.
    pub fn target_triples(self) -> &'static [&'static str] {
        match self {
            AgentPlatform::LinuxX86_64 => {
                &["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
            }
            AgentPlatform::LinuxAarch64 => {
                &["aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"]
            }
            AgentPlatform::DarwinX86_64 => &["x86_64-apple-darwin"],
            AgentPlatform::DarwinAarch64 => &["aarch64-apple-darwin"],
            AgentPlatform::WindowsX86_64 => &["x86_64-pc-windows-msvc", "x86_64-pc-windows-gnu"],
            AgentPlatform::WindowsAarch64 => &["aarch64-pc-windows-msvc"],
        }
    }
}

impl std::fmt::Display for AgentPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

api_type! {
    /// An agent build this server hands out.
    pub struct AgentDownload {
        /// `<os>-<arch>`, e.g. `linux-x86_64`.
        pub platform: String,
        /// `linux`, `darwin` or `windows`.
        pub os: String,
        /// `x86_64` or `aarch64`.
        pub arch: String,
        /// `<public_url>/download/agent/<platform>`.
        pub url: String,
        /// The name the file is saved under.
        pub file_name: String,
        pub size: u64,
        /// Hex SHA-256 of the file (also sent as `X-Checksum-Sha256` with the download).
        pub sha256: String,
    }

    /// `GET /download/agent`: the agent builds this server has and how to install one.
    pub struct AgentDownloads {
        /// The address agents reach this server at (`public_url`).
        pub public_url: String,
        /// `<public_url>/install.sh`: downloads, verifies, enrolls and starts the agent.
        pub install_script_url: String,
        pub agents: Vec<AgentDownload>,
        /// Platforms without a build on this server (their download answers 404 saying
        /// how to build one).
        pub missing: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_round_trip_and_split() {
        for p in AgentPlatform::ALL {
            assert_eq!(AgentPlatform::parse(p.as_str()), Some(p));
            assert_eq!(format!("{}-{}", p.os(), p.arch()), p.as_str());
        }
        assert_eq!(AgentPlatform::parse("linux-amd64"), None);
        assert_eq!(AgentPlatform::parse("Linux-x86_64"), None);
        assert_eq!(
            AgentPlatform::from_consts("macos", "aarch64"),
            Some(AgentPlatform::DarwinAarch64)
        );
        assert_eq!(
            AgentPlatform::WindowsX86_64.file_name(),
            "breeze-agent-windows-x86_64.exe"
        );
        assert_eq!(
            AgentPlatform::LinuxAarch64.file_name(),
            "breeze-agent-linux-aarch64"
        );
    }
}
