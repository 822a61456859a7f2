//! The script executor: the right interpreter, parameters as environment variables
//! only, a timeout that kills the whole process tree, and capped output (also sent
//! live while the script runs, see [`crate::live_output`]).
//!
//! The script is written to `<work_root>/<command_id>/script.<ext>` (directory
//! `0700`, file `0700`, owned by the `run_as` user when that is another account)
//! and removed afterwards. The parameter → environment rule is documented on
//! [`breeze_proto::agent::RunScriptPayload`] and implemented by [`parameter_env`].

use crate::clock::Clock;
use crate::live_output::{FLUSH_EVERY, LiveStream};
use crate::output::TailBuffer;
use crate::process_tree;
use anyhow::{Context as _, Result, bail};
use breeze_proto::agent::{
    CommandOutput, CommandResult, CommandStatus, OutputStream, RunAs, RunScriptPayload,
    ScriptLanguage,
};
use breeze_proto::ids::CommandId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// How long to wait for output pipes after the script's main process ended before
/// killing whatever it left running in its process group.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Everything needed to run one script.
#[derive(Clone, Debug)]
pub struct ScriptJob {
    pub command_id: CommandId,
    pub payload: RunScriptPayload,
    pub timeout: Duration,
    /// Cap per stream (stdout, stderr).
    pub max_output_bytes: usize,
    /// Directory under which the per-execution temp directory is made.
    pub work_root: PathBuf,
    /// Where live output goes while the script runs (the channel); `None`: only the
    /// final result carries it.
    pub live: Option<tokio::sync::mpsc::Sender<CommandOutput>>,
    /// Given to the script as `BREEZE_METRICS_DIR`: where it may leave `*.metrics` files of
    /// custom metrics for the heartbeat (`collectors::metrics::read_custom_dir`).
    pub metrics_dir: Option<PathBuf>,
}

/// Environment variable names that a parameter never overrides under its plain name.
const RESERVED_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "IFS",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PSMODULEPATH",
    "COMSPEC",
    "SYSTEMROOT",
    "TEMP",
    "TMP",
    "TMPDIR",
];
const RESERVED_PREFIXES: &[&str] = &["LD_", "DYLD_", "BREEZE_"];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_reserved(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    RESERVED_NAMES.contains(&upper.as_str())
        || RESERVED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// The environment variables that carry `parameters` (see the rule on
/// [`RunScriptPayload`]). Fails on an empty name or a value containing NUL.
pub fn parameter_env(parameters: &BTreeMap<String, String>) -> Result<Vec<(String, String)>> {
    let mut env = Vec::with_capacity(parameters.len() * 2);
    for (name, value) in parameters {
        if name.is_empty() {
            bail!("a script parameter has an empty name");
        }
        if value.contains('\0') || name.contains('\0') {
            bail!(
                "script parameter `{name}` contains a NUL byte, which an environment variable can't hold"
            );
        }
        let upper: String = name
            .chars()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        env.push((format!("BREEZE_PARAM_{upper}"), value.clone()));
        if is_identifier(name) && !is_reserved(name) {
            env.push((name.clone(), value.clone()));
        }
    }
    Ok(env)
}

/// Finds `name` on `PATH` (with `.exe` on Windows).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let candidates = if cfg!(windows) {
            vec![dir.join(format!("{name}.exe")), dir.join(name)]
        } else {
            vec![dir.join(name)]
        };
        candidates.into_iter().find(|p| p.is_file())
    })
}

/// The interpreter command line for `language`, with the script path appended
/// last, and the script file extension.
pub fn interpreter(language: ScriptLanguage) -> Result<(PathBuf, Vec<String>, &'static str)> {
    let need = |name: &str| {
        find_program(name).with_context(|| format!("interpreter `{name}` not found on PATH"))
    };
    Ok(match language {
        ScriptLanguage::Bash => (need("bash")?, vec![], "sh"),
        ScriptLanguage::Sh => (need("sh")?, vec![], "sh"),
        ScriptLanguage::Python => {
            let program = find_program("python3")
                .or_else(|| find_program("python"))
                .context("no Python interpreter (python3 or python) found on PATH")?;
            (program, vec![], "py")
        }
        ScriptLanguage::Powershell => {
            let args = vec!["-NoProfile".into(), "-NonInteractive".into()];
            if cfg!(windows) {
                let mut a = args;
                a.extend(["-ExecutionPolicy".into(), "Bypass".into(), "-File".into()]);
                (need("powershell")?, a, "ps1")
            } else {
                let mut a = args;
                a.push("-File".into());
                let p = find_program("pwsh").context(
                    "PowerShell scripts need `pwsh` (PowerShell 7) on PATH; it was not found",
                )?;
                (p, a, "ps1")
            }
        }
        ScriptLanguage::Cmd => {
            if !cfg!(windows) {
                bail!("cmd scripts run only on Windows");
            }
            (need("cmd")?, vec!["/D".into(), "/C".into()], "cmd")
        }
    })
}

/// The account a script will run under, resolved against this agent's privileges.
#[derive(Debug)]
enum Account {
    /// The agent's own account.
    Own,
    /// Another local user, via `runuser` (Linux, agent running as root).
    #[cfg(unix)]
    Other { name: String, uid: u32, gid: u32 },
}

fn current_user_name() -> Option<String> {
    #[cfg(unix)]
    {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.name)
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").ok()
    }
}

fn resolve_account(run_as: &RunAs) -> Result<Account> {
    match run_as {
        RunAs::System => Ok(Account::Own),
        RunAs::Elevated => {
            if crate::config::is_privileged() || cfg!(windows) {
                Ok(Account::Own)
            } else {
                bail!(
                    "run_as `elevated` needs the agent to run as root; it runs as an unprivileged user"
                )
            }
        }
        RunAs::LoggedInUser => {
            bail!("run_as `logged_in_user` is not supported yet by this agent version")
        }
        RunAs::User(name) => {
            if current_user_name().as_deref() == Some(name.as_str()) {
                return Ok(Account::Own);
            }
            other_account(name)
        }
    }
}

#[cfg(target_os = "linux")]
fn other_account(name: &str) -> Result<Account> {
    if !crate::config::is_privileged() {
        bail!("cannot run as user `{name}`: the agent is not running as root");
    }
    if find_program("runuser").is_none() {
        bail!("cannot run as user `{name}`: `runuser` was not found on PATH");
    }
    let user = nix::unistd::User::from_name(name)
        .with_context(|| format!("looking up user `{name}`"))?
        .with_context(|| format!("no local user named `{name}`"))?;
    Ok(Account::Other {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

#[cfg(not(target_os = "linux"))]
fn other_account(name: &str) -> Result<Account> {
    bail!("running a script as another user (`{name}`) is not supported yet on this platform")
}

fn other_user_root() -> PathBuf {
    std::env::temp_dir().join("breeze-agent-run")
}

/// The per-execution directory for `job` run as `account`.
fn script_dir(job: &ScriptJob, account: &Account) -> PathBuf {
    match account {
        Account::Own => job.work_root.join(job.command_id.to_string()),
        #[cfg(unix)]
        Account::Other { .. } => other_user_root().join(job.command_id.to_string()),
    }
}

/// Writes the script into a fresh private directory; returns (dir, file).
fn write_script(job: &ScriptJob, ext: &str, account: &Account) -> Result<(PathBuf, PathBuf)> {
    let dir = script_dir(job, account);
    match account {
        Account::Own => crate::durable::create_private_dir(&job.work_root)?,
        #[cfg(unix)]
        Account::Other { .. } => {
            // The state dir is root-only, so another account's scripts live under
            // the system temp dir: a traversable (0711) parent, a private child.
            use std::os::unix::fs::PermissionsExt as _;
            let parent = other_user_root();
            std::fs::create_dir_all(&parent)
                .with_context(|| format!("creating {}", parent.display()))?;
            std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o711))
                .with_context(|| format!("setting permissions of {}", parent.display()))?;
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    crate::durable::create_private_dir(&dir)?;
    let file = dir.join(format!("script.{ext}"));
    {
        use std::io::Write as _;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o700);
        }
        let mut f = opts
            .open(&file)
            .with_context(|| format!("creating {}", file.display()))?;
        f.write_all(job.payload.content.as_bytes())
            .with_context(|| format!("writing {}", file.display()))?;
    }
    #[cfg(unix)]
    if let Account::Other { uid, gid, .. } = account {
        use nix::unistd::{Gid, Uid, chown};
        for p in [&dir, &file] {
            chown(
                p.as_path(),
                Some(Uid::from_raw(*uid)),
                Some(Gid::from_raw(*gid)),
            )
            .with_context(|| format!("giving {} to the run_as user", p.display()))?;
        }
    }
    #[cfg(not(unix))]
    let _ = account;
    Ok((dir, file))
}

type SharedTail = std::sync::Arc<std::sync::Mutex<TailBuffer>>;

/// Reads a pipe to its end into the capped tail, and into the live stream when there
/// is one (flushed every [`FLUSH_EVERY`], and at the end).
async fn read_capped<R: AsyncRead + Unpin>(
    mut reader: R,
    tail: SharedTail,
    mut live: Option<LiveStream>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = reader.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut t) = tail.lock() {
                        t.push(&chunk[..n]);
                    }
                    if let Some(l) = live.as_mut() {
                        l.push(&chunk[..n]);
                    }
                }
            },
            _ = flush.tick(), if live.is_some() => {
                if let Some(l) = live.as_mut() {
                    l.flush(false);
                }
            }
        }
    }
    if let Some(l) = live.as_mut() {
        l.flush(true);
    }
}

fn take_tail(tail: &SharedTail) -> (String, bool) {
    match tail.lock() {
        Ok(mut t) => std::mem::replace(&mut *t, TailBuffer::new(0)).finish(),
        Err(_) => (String::new(), false),
    }
}

/// How the script ended, before output is collected.
enum Ending {
    Exited(std::process::ExitStatus),
    TimedOut,
    Cancelled,
    WaitFailed(std::io::Error),
}

/// Runs `job`; never fails: problems become a `failed` result with a message.
pub async fn run_script(
    job: ScriptJob,
    cancel: CancellationToken,
    clock: &dyn Clock,
) -> CommandResult {
    let started_at = clock.now();
    let started = Instant::now();
    let mut result = CommandResult {
        command_id: job.command_id,
        command_type: "run_script".into(),
        status: CommandStatus::Failed,
        rejection: None,
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 0,
        error_message: None,
        started_at: Some(started_at),
        completed_at: started_at,
    };
    if let Err(e) = execute(&job, cancel, &mut result).await {
        result.status = CommandStatus::Failed;
        result.error_message = Some(format!("{e:#}"));
    }
    let _ = std::fs::remove_dir_all(job.work_root.join(job.command_id.to_string()));
    let _ = std::fs::remove_dir_all(other_user_root().join(job.command_id.to_string()));
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result.completed_at = clock.now();
    result
}

async fn execute(
    job: &ScriptJob,
    cancel: CancellationToken,
    result: &mut CommandResult,
) -> Result<()> {
    let env = parameter_env(&job.payload.parameters)?;
    let account = resolve_account(&job.payload.run_as)?;
    let (program, args, ext) = interpreter(job.payload.language)?;
    let (dir, file) = write_script(job, ext, &account)?;

    let mut cmd = match &account {
        Account::Own => {
            let mut c = Command::new(&program);
            c.args(&args).arg(&file);
            c
        }
        #[cfg(unix)]
        Account::Other { name, .. } => {
            let mut c = Command::new("runuser");
            c.args(["-u", name, "--"])
                .arg(&program)
                .args(&args)
                .arg(&file);
            c
        }
    };
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BREEZE_AGENT") {
            cmd.env_remove(&k);
        }
    }
    if let Some(dir) = &job.metrics_dir
        && std::fs::create_dir_all(dir).is_ok()
    {
        cmd.env("BREEZE_METRICS_DIR", dir);
    }
    cmd.envs(env)
        .env("BREEZE_COMMAND_ID", job.command_id.to_string())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(e) = job.payload.execution_id {
        cmd.env("BREEZE_EXECUTION_ID", e.to_string());
    }
    if let Some(s) = job.payload.script_id {
        cmd.env("BREEZE_SCRIPT_ID", s.to_string());
    }
    if let Some(v) = job.payload.script_version {
        cmd.env("BREEZE_SCRIPT_VERSION", v.to_string());
    }
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(windows)]
    cmd.creation_flags(0x0000_0200); // CREATE_NEW_PROCESS_GROUP

    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let pid = child.id().context("the script process has no pid")?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let cap = job.max_output_bytes;
    let out_tail: SharedTail = std::sync::Arc::new(std::sync::Mutex::new(TailBuffer::new(cap)));
    let err_tail: SharedTail = std::sync::Arc::new(std::sync::Mutex::new(TailBuffer::new(cap)));
    let live = |stream| {
        job.live
            .clone()
            .map(|tx| LiveStream::new(job.command_id, stream, cap, tx))
    };
    let mut out_task = tokio::spawn(read_capped(
        stdout,
        out_tail.clone(),
        live(OutputStream::Stdout),
    ));
    let mut err_task = tokio::spawn(read_capped(
        stderr,
        err_tail.clone(),
        live(OutputStream::Stderr),
    ));

    let ending = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => Ending::Exited(s),
            Err(e) => Ending::WaitFailed(e),
        },
        () = tokio::time::sleep(job.timeout) => Ending::TimedOut,
        () = cancel.cancelled() => Ending::Cancelled,
    };
    if !matches!(ending, Ending::Exited(_)) {
        process_tree::kill_tree(pid);
        let _ = child.wait().await;
    }
    // The pipes close when every process holding them is gone. Give background
    // processes of a finished script a moment, then kill its process tree.
    let drained = tokio::time::timeout(DRAIN_GRACE, async {
        let _ = (&mut out_task).await;
        let _ = (&mut err_task).await;
    })
    .await;
    let mut leftovers = false;
    if drained.is_err() {
        leftovers = true;
        process_tree::kill_tree(pid);
        let _ = tokio::time::timeout(DRAIN_GRACE, async {
            let _ = (&mut out_task).await;
            let _ = (&mut err_task).await;
        })
        .await;
        out_task.abort();
        err_task.abort();
    }
    let (stdout, stdout_truncated) = take_tail(&out_tail);
    let (stderr, stderr_truncated) = take_tail(&err_tail);
    result.stdout = stdout;
    result.stderr = stderr;
    result.stdout_truncated = stdout_truncated;
    result.stderr_truncated = stderr_truncated;
    apply_ending(result, ending, job.timeout);
    if leftovers {
        let note = "processes left running by the script kept its output open and were killed";
        result.error_message = Some(match result.error_message.take() {
            Some(m) => format!("{m}; {note}"),
            None => note.to_string(),
        });
    }
    Ok(())
}

fn apply_ending(result: &mut CommandResult, ending: Ending, timeout: Duration) {
    match ending {
        Ending::Exited(status) => {
            result.status = CommandStatus::Completed;
            result.exit_code = status.code();
            #[cfg(unix)]
            if status.code().is_none() {
                use std::os::unix::process::ExitStatusExt as _;
                if let Some(sig) = status.signal() {
                    result.exit_code = Some(128 + sig);
                    result.error_message = Some(format!("the script was killed by signal {sig}"));
                }
            }
        }
        Ending::TimedOut => {
            result.status = CommandStatus::Timeout;
            result.error_message = Some(format!(
                "timed out after {} s; the process tree was killed",
                timeout.as_secs()
            ));
        }
        Ending::Cancelled => {
            result.status = CommandStatus::Cancelled;
            result.error_message = Some("cancelled; the process tree was killed".into());
        }
        Ending::WaitFailed(e) => {
            result.status = CommandStatus::Failed;
            result.error_message = Some(format!("waiting for the script failed: {e}"));
        }
    }
}

/// Removes leftover per-execution directories (after a crash).
pub fn clean_work_root(work_root: &Path) {
    if let Ok(entries) = std::fs::read_dir(work_root) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameter_names_map_to_env_vars() -> Result<()> {
        let env = parameter_env(&params(&[
            ("max-size", "1"),
            ("target", "x"),
            ("PATH", "/evil"),
            ("ld_preload", "y"),
        ]))?;
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "BREEZE_PARAM_PATH",
                "BREEZE_PARAM_LD_PRELOAD",
                "BREEZE_PARAM_MAX_SIZE",
                "BREEZE_PARAM_TARGET",
                "target"
            ]
        );
        Ok(())
    }

    #[test]
    fn nul_and_empty_names_are_refused() {
        assert!(parameter_env(&params(&[("a", "x\0y")])).is_err());
        assert!(parameter_env(&params(&[("", "x")])).is_err());
    }
}
