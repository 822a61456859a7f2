//! `breeze-agent install|uninstall`: the OS service. Linux: a systemd unit;
//! other platforms are not supported yet and say so.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};

pub const UNIT_PATH: &str = "/etc/systemd/system/breeze-agent.service";

/// The systemd unit for `binary` with `state_dir` (and `config`, when given).
pub fn systemd_unit(binary: &Path, state_dir: &Path, config: Option<&Path>) -> String {
    let config_arg = config
        .map(|c| format!(" --config {}", c.display()))
        .unwrap_or_default();
    format!(
        "[Unit]\n\
         Description=Breeze RMM agent\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={bin}{config_arg} --state-dir {state} run\n\
         Restart=always\n\
         RestartSec=5\n\
         # SIGTERM to the agent only: it cancels running scripts and records their\n\
         # results before it exits; whatever is left is killed after the timeout.\n\
         KillMode=mixed\n\
         TimeoutStopSec=30\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        bin = binary.display(),
        state = state_dir.display(),
    )
}

fn systemctl(args: &[&str]) -> Result<()> {
    let status = std::process::Command::new("systemctl")
        .args(args)
        .status()
        .with_context(|| format!("running systemctl {}", args.join(" ")))?;
    if !status.success() {
        bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn require_linux_root() -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!(
            "installing the agent as a service is not supported yet on this platform ({}); run `breeze-agent run` under your service manager",
            std::env::consts::OS
        );
    }
    if !crate::config::is_privileged() {
        bail!("installing the service needs root");
    }
    Ok(())
}

/// Writes the unit and, when `systemctl` exists, enables and starts it.
pub fn install(state_dir: &Path, config: Option<&Path>) -> Result<String> {
    require_linux_root()?;
    let binary: PathBuf = std::env::current_exe().context("finding this binary's path")?;
    crate::durable::write_atomic(
        Path::new(UNIT_PATH),
        systemd_unit(&binary, state_dir, config).as_bytes(),
        0o644,
    )?;
    if crate::executor::find_program("systemctl").is_none() {
        return Ok(format!(
            "wrote {UNIT_PATH}; systemctl not found, so the service was not enabled"
        ));
    }
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", "breeze-agent.service"])?;
    Ok(format!(
        "installed and started breeze-agent.service ({UNIT_PATH})"
    ))
}

/// Stops, disables and removes the unit (credentials stay in the state dir).
pub fn uninstall() -> Result<String> {
    require_linux_root()?;
    let has_systemctl = crate::executor::find_program("systemctl").is_some();
    if has_systemctl {
        let _ = systemctl(&["disable", "--now", "breeze-agent.service"]);
    }
    match std::fs::remove_file(UNIT_PATH) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!("{UNIT_PATH} was not installed"));
        }
        Err(e) => return Err(e).with_context(|| format!("removing {UNIT_PATH}")),
    }
    if has_systemctl {
        systemctl(&["daemon-reload"])?;
    }
    Ok(format!("removed {UNIT_PATH}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_runs_the_agent_with_its_state_dir() {
        let unit = systemd_unit(
            Path::new("/usr/bin/breeze-agent"),
            Path::new("/var/lib/breeze-agent"),
            None,
        );
        assert!(
            unit.contains(
                "ExecStart=/usr/bin/breeze-agent --state-dir /var/lib/breeze-agent run\n"
            )
        );
        assert!(unit.contains("KillMode=mixed"));
    }
}
