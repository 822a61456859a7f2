//! `terminal` streams (issue 12): a login shell on a PTY.
//!
//! The PTY comes from `portable-pty` (WezTerm's crate): openpty on Unix, ConPTY on
//! Windows, behind the same API, so no platform code is needed here beyond choosing the
//! shell. The shell is the login shell of `[remote] terminal_user` from the password
//! database (through `su -` when the agent runs as root and the user is another one),
//! otherwise the agent's own user's login shell (`-l`), with `TERM=xterm-256color`, a
//! small clean environment (the agent's own variables are not passed on) and the home
//! directory as working directory.
//!
//! Threads and memory: PTY reads happen on a thread of their own that hands chunks to the
//! stream task through a bounded channel, so a slow browser (the stream's credit runs out)
//! stops the reader instead of growing a buffer; PTY writes happen on another thread fed
//! by a bounded channel; the child is reaped by a third. The channel task only spawns the
//! session task, so sessions never delay heartbeats or script runs.
//!
//! Ends: when the shell exits the agent sends `exit {code}` (signal: 128 + number) and
//! closes the stream; when the stream closes first (the browser left, the session was
//! ended) the shell's process group gets SIGHUP, then SIGKILL after a grace period, and is
//! reaped.

use super::RemoteConfig;
use breeze_mux::{Event, Incoming, StreamWriter};
use breeze_proto::agent::remote::{TerminalControl, TerminalInfo, TerminalParams};
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// PTY output chunks waiting for stream credit (each at most [`READ_CHUNK`] bytes).
const OUT_QUEUE: usize = 4;
const READ_CHUNK: usize = 16 * 1024;
/// Input chunks waiting for the PTY.
const IN_QUEUE: usize = 8;
/// How long a shell has after SIGHUP before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long output still drains after the shell exited.
const DRAIN: Duration = Duration::from_millis(300);

pub fn serve(inc: Incoming, config: Arc<RemoteConfig>) {
    tokio::spawn(run(inc, config));
}

/// The program to start and what to tell the server about it.
struct ShellSpec {
    cmd: CommandBuilder,
    info: TerminalInfo,
}

#[cfg(unix)]
fn shell_spec(config: &RemoteConfig) -> Result<ShellSpec, String> {
    use nix::unistd::{Uid, User};
    let me = User::from_uid(Uid::effective())
        .map_err(|e| format!("reading the agent's account: {e}"))?
        .ok_or("the agent's account is not in the password database")?;
    let target = match config.terminal_user.as_deref() {
        Some(name) if name != me.name => {
            let u = User::from_name(name)
                .map_err(|e| format!("looking up terminal_user {name}: {e}"))?
                .ok_or_else(|| format!("terminal_user {name} is not in the password database"))?;
            Some(u)
        }
        _ => None,
    };
    let user = target.as_ref().unwrap_or(&me);
    let shell = {
        let s = user.shell.to_string_lossy().into_owned();
        if s.is_empty() {
            "/bin/sh".to_string()
        } else {
            s
        }
    };
    let home = user.dir.clone();
    let mut cmd = match &target {
        Some(u) => {
            if !Uid::effective().is_root() {
                return Err(format!(
                    "the agent runs as {} and cannot open a terminal as {}",
                    me.name, u.name
                ));
            }
            // `su -` starts the user's login shell with their environment.
            let mut c = CommandBuilder::new("su");
            c.args(["-", u.name.as_str()]);
            c
        }
        None => {
            let mut c = CommandBuilder::new(&shell);
            c.arg("-l");
            c
        }
    };
    cmd.env_clear();
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLORTERM", "truecolor");
    cmd.env("HOME", &home);
    cmd.env("USER", &user.name);
    cmd.env("LOGNAME", &user.name);
    cmd.env("SHELL", &shell);
    cmd.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    cmd.env(
        "LANG",
        std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".into()),
    );
    if home.is_dir() {
        cmd.cwd(&home);
    } else {
        cmd.cwd("/");
    }
    Ok(ShellSpec {
        cmd,
        info: TerminalInfo {
            shell,
            user: user.name.clone(),
        },
    })
}

/// Windows: ConPTY through the same crate; the shell is the system's default
/// (`%ComSpec%`), as the agent's account (`terminal_user` is not supported there).
#[cfg(windows)]
fn shell_spec(config: &RemoteConfig) -> Result<ShellSpec, String> {
    if config.terminal_user.is_some() {
        return Err("terminal_user is not supported on Windows".into());
    }
    let cmd = CommandBuilder::new_default_prog();
    let shell = std::env::var("ComSpec").unwrap_or_else(|_| "cmd.exe".into());
    let user = std::env::var("USERNAME").unwrap_or_default();
    Ok(ShellSpec {
        cmd,
        info: TerminalInfo { shell, user },
    })
}

/// A started shell: the PTY's master side, its process id, and the I/O threads' ends.
struct Pty {
    master: Box<dyn MasterPty + Send>,
    pid: Option<u32>,
    output: mpsc::Receiver<Vec<u8>>,
    input: mpsc::Sender<Vec<u8>>,
    exited: oneshot::Receiver<i32>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn start(cmd: CommandBuilder, cols: u16, rows: u16) -> anyhow::Result<Pty> {
    let pair = native_pty_system().openpty(size(cols, rows))?;
    let child = pair.slave.spawn_command(cmd)?;
    // The slave side belongs to the shell now; keeping it open here would hide EOF.
    drop(pair.slave);
    let pid = child.process_id();
    let mut reader = pair.master.try_clone_reader()?;
    let mut writer = pair.master.take_writer()?;
    let (out_tx, output) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    std::thread::Builder::new()
        .name("pty-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                match reader.read(&mut buf) {
                    // EOF, or EIO once the last process holding the slave is gone.
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        })?;
    let (input, mut in_rx) = mpsc::channel::<Vec<u8>>(IN_QUEUE);
    std::thread::Builder::new()
        .name("pty-write".into())
        .spawn(move || {
            while let Some(b) = in_rx.blocking_recv() {
                if writer.write_all(&b).and_then(|()| writer.flush()).is_err() {
                    break;
                }
            }
        })?;
    let (exit_tx, exited) = oneshot::channel();
    std::thread::Builder::new()
        .name("pty-wait".into())
        .spawn(move || {
            let code = wait_child(child);
            let _ = exit_tx.send(code);
        })?;
    Ok(Pty {
        master: pair.master,
        pid,
        output,
        input,
        exited,
    })
}

/// Reaps the shell: its exit code, or 128 + the signal that ended it.
#[cfg(unix)]
fn wait_child(child: Box<dyn portable_pty::Child + Send + Sync>) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    let Some(pid) = child.process_id().and_then(|p| i32::try_from(p).ok()) else {
        return -1;
    };
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return -1,
        }
    }
}

#[cfg(windows)]
fn wait_child(mut child: Box<dyn portable_pty::Child + Send + Sync>) -> i32 {
    match child.wait() {
        Ok(s) => i32::try_from(s.exit_code()).unwrap_or(-1),
        Err(_) => -1,
    }
}

/// Ends the shell's process group (and the terminal's foreground group): SIGHUP, then
/// SIGKILL after the grace period if the shell has not been reaped.
/// `exited`: the shell's reaper, when it has not reported yet (`None`: the shell is
/// reaped and only what it left in its groups is signalled).
#[cfg(unix)]
async fn hang_up(
    pid: Option<u32>,
    foreground: Option<i32>,
    exited: Option<&mut oneshot::Receiver<i32>>,
) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let groups: Vec<Pid> = pid
        .and_then(|p| i32::try_from(p).ok())
        .into_iter()
        .chain(foreground)
        .filter(|g| *g > 1)
        .map(Pid::from_raw)
        .collect();
    for g in &groups {
        let _ = killpg(*g, Signal::SIGHUP);
        let _ = killpg(*g, Signal::SIGCONT);
    }
    let gone = match exited {
        Some(rx) => {
            let gone = tokio::time::timeout(KILL_GRACE, &mut *rx).await.is_ok();
            if !gone {
                for g in &groups {
                    let _ = killpg(*g, Signal::SIGKILL);
                }
                let _ = tokio::time::timeout(KILL_GRACE, rx).await;
            }
            gone
        }
        None => {
            tokio::time::sleep(KILL_GRACE).await;
            false
        }
    };
    if !gone {
        for g in &groups {
            let _ = killpg(*g, Signal::SIGKILL);
        }
    }
}

#[cfg(windows)]
async fn hang_up(_pid: Option<u32>, _fg: Option<i32>, exited: Option<&mut oneshot::Receiver<i32>>) {
    // Closing the pseudoconsole (dropping the master) ends the attached processes.
    if let Some(rx) = exited {
        let _ = tokio::time::timeout(KILL_GRACE, rx).await;
    }
}

fn foreground_group(master: &dyn MasterPty) -> Option<i32> {
    #[cfg(unix)]
    {
        master.process_group_leader()
    }
    #[cfg(windows)]
    {
        let _ = master;
        None
    }
}

async fn run(inc: Incoming, config: Arc<RemoteConfig>) {
    let params = match serde_json::from_value::<TerminalParams>(inc.params.clone()) {
        Ok(p) if (1..=1000).contains(&p.cols) && (1..=1000).contains(&p.rows) => p,
        Ok(_) => return inc.refuse("cols and rows must be between 1 and 1000"),
        Err(e) => return inc.refuse(format!("bad terminal params: {e}")),
    };
    let spec = match shell_spec(&config) {
        Ok(s) => s,
        Err(e) => return inc.refuse(e),
    };
    let info = spec.info.clone();
    let started =
        tokio::task::spawn_blocking(move || start(spec.cmd, params.cols, params.rows)).await;
    let pty = match started {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return inc.refuse(format!("starting the shell failed: {e:#}")),
        Err(e) => return inc.refuse(format!("starting the shell failed: {e}")),
    };
    tracing::info!(stream = inc.id().0, shell = %info.shell, user = %info.user, "terminal opened");
    let stream = inc.accept(serde_json::to_value(&info).unwrap_or_default());
    let (mut reader, writer) = stream.split();
    let Pty {
        master,
        pid,
        mut output,
        input,
        mut exited,
    } = pty;
    let master = Arc::new(std::sync::Mutex::new(master));
    let fg = |m: &std::sync::Mutex<Box<dyn MasterPty + Send>>| {
        foreground_group(m.lock().unwrap_or_else(|e| e.into_inner()).as_ref())
    };
    // The two directions pump independently: a shell that does not read its input (the
    // PTY's input buffer full) must not stop its output from reaching the server.
    // Output: true at EOF, false when the stream is gone.
    let out_writer = writer.clone();
    let mut pump_out = tokio::spawn(async move {
        while let Some(b) = output.recv().await {
            if out_writer.send(&b).await.is_err() {
                return false;
            }
        }
        true
    });
    let in_master = master.clone();
    let mut pump_in = tokio::spawn(async move {
        while let Some(ev) = reader.recv().await {
            match ev {
                Event::Data(b) => {
                    if input.send(b.to_vec()).await.is_err() {
                        break;
                    }
                }
                Event::Control(v) => match serde_json::from_value::<TerminalControl>(v) {
                    Ok(TerminalControl::Resize { cols, rows })
                        if (1..=1000).contains(&cols) && (1..=1000).contains(&rows) =>
                    {
                        let m = in_master.lock().unwrap_or_else(|e| e.into_inner());
                        if let Err(e) = m.resize(size(cols, rows)) {
                            tracing::warn!(error = %e, "resizing the terminal failed");
                        }
                    }
                    other => tracing::debug!(?other, "ignored terminal control"),
                },
            }
        }
    });
    tokio::select! {
        code = &mut exited => {
            let code = code.unwrap_or(-1);
            // Forward what the shell printed last, then end even if a background job
            // still holds the terminal.
            let _ = tokio::time::timeout(DRAIN, &mut pump_out).await;
            let fg = fg(&master);
            exit(&writer, code).await;
            // Background jobs the shell left on the terminal go with it.
            hang_up(pid, fg, None).await;
        }
        eof = &mut pump_out => {
            if matches!(eof, Ok(true)) {
                // Nothing holds the terminal any more: the shell is gone or going.
                match tokio::time::timeout(KILL_GRACE, &mut exited).await {
                    Ok(code) => exit(&writer, code.unwrap_or(-1)).await,
                    Err(_) => {
                        exit(&writer, -1).await;
                        hang_up(pid, fg(&master), Some(&mut exited)).await;
                    }
                }
            } else {
                // The stream is gone first: hang up on the shell and reap it.
                writer.close(None);
                hang_up(pid, fg(&master), Some(&mut exited)).await;
            }
        }
        _ = &mut pump_in => {
            // The server closed the stream (the browser left, the session was ended).
            writer.close(None);
            hang_up(pid, fg(&master), Some(&mut exited)).await;
        }
    }
    pump_in.abort();
    pump_out.abort();
    tracing::info!(stream = writer.id().0, "terminal closed");
}

async fn exit(writer: &StreamWriter, code: i32) {
    let _ = writer.control(&TerminalControl::Exit { code }).await;
    writer.close(None);
    tracing::info!(stream = writer.id().0, code, "terminal shell exited");
}
