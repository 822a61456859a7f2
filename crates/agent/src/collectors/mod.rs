//! What the machine is: one module per inventory section, plus metrics and the
//! enrollment identity. Linux is first-class; where another platform has no
//! collector yet, the collector returns [`Unsupported`] instead of pretending the
//! section is empty.

pub mod disks;
pub mod hardware;
pub mod identity;
pub mod metrics;
pub mod network;
pub mod os;
pub mod processes;
pub mod software;
pub mod users;

use breeze_proto::agent::OsType;

/// A collector that does not exist yet on this platform.
#[derive(Debug, thiserror::Error)]
#[error("{what} is not supported yet on this platform ({platform})")]
pub struct Unsupported {
    pub what: &'static str,
    pub platform: &'static str,
}

impl Unsupported {
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            platform: std::env::consts::OS,
        }
    }
}

/// This machine's OS family.
pub fn os_type() -> OsType {
    if cfg!(target_os = "windows") {
        OsType::Windows
    } else if cfg!(target_os = "macos") {
        OsType::Macos
    } else {
        OsType::Linux
    }
}

/// CPU architecture in the seed's naming (`amd64`, `arm64`, …).
pub fn arch_name() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
    .to_string()
}

/// Reads a small text file, trimmed; `None` when unreadable or empty.
#[cfg(target_os = "linux")]
pub(crate) fn read_trimmed(path: impl AsRef<std::path::Path>) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Runs a program and returns its stdout when it exits 0 (`None` when the program
/// is missing or fails).
pub(crate) fn command_output(program: &str, args: &[&str]) -> Option<String> {
    match run_program(program, args)? {
        (Some(0), out) => Some(out),
        _ => None,
    }
}

/// Runs a program (stdin and stderr closed): its exit code (`None` when killed by a
/// signal) and stdout; `None` when the program is missing or could not start.
pub(crate) fn run_program(program: &str, args: &[&str]) -> Option<(Option<i32>, String)> {
    crate::executor::find_program(program)?;
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    Some((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}
