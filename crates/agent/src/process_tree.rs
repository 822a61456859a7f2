//! Killing a script's whole process tree.
//!
//! * Unix: every script is started in its own process group (`setpgid(0, 0)`), so
//!   `killpg(SIGKILL)` reaches its children. On Linux the agent also walks `/proc`
//!   for descendants that moved to another group or session (`setsid`, `nohup …
//!   &` in a new group) *before* killing, and kills those pids too.
//! * Windows: `taskkill /T /F /PID` kills the process and its descendants.

/// Kills the tree rooted at `pid` (which is also the process-group id on Unix).
pub fn kill_tree(pid: u32) {
    #[cfg(unix)]
    unix::kill_tree(pid);
    #[cfg(windows)]
    windows::kill_tree(pid);
}

/// Pids of all live descendants of `root` (Linux: from `/proc`; elsewhere empty).
pub fn descendants(root: u32) -> Vec<u32> {
    #[cfg(target_os = "linux")]
    {
        linux::descendants(root)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = root;
        Vec::new()
    }
}

/// Whether any process is still in process group `pgid` (Linux; `false` elsewhere).
pub fn group_alive(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        linux::processes()
            .iter()
            .any(|p| p.pgid == pgid && p.state != 'Z')
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pgid;
        false
    }
}

#[cfg(unix)]
mod unix {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;

    pub fn kill_tree(pid: u32) {
        let Ok(raw) = i32::try_from(pid) else { return };
        if raw <= 1 {
            return; // never signal init or "all processes"
        }
        // Find descendants first: once the group dies they are reparented and lost.
        let escaped = super::descendants(pid);
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        for d in escaped {
            if let Ok(d) = i32::try_from(d)
                && d > 1
            {
                let _ = kill(Pid::from_raw(d), Signal::SIGKILL);
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;

    pub struct Proc {
        pub pid: u32,
        pub ppid: u32,
        pub pgid: u32,
        pub state: char,
    }

    /// Parses `/proc/<pid>/stat`: `pid (comm) state ppid pgrp …` where comm may hold
    /// spaces and parentheses, so fields are read after the last `)`.
    fn parse_stat(pid: u32, stat: &str) -> Option<Proc> {
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut f = rest.split_whitespace();
        let state = f.next()?.chars().next()?;
        let ppid = f.next()?.parse().ok()?;
        let pgid = f.next()?.parse().ok()?;
        Some(Proc {
            pid,
            ppid,
            pgid,
            state,
        })
    }

    pub fn processes() -> Vec<Proc> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                parse_stat(pid, &stat)
            })
            .collect()
    }

    pub fn descendants(root: u32) -> Vec<u32> {
        let procs = processes();
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in &procs {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            if let Some(kids) = children.get(&p) {
                for &k in kids {
                    if !out.contains(&k) && k != root {
                        out.push(k);
                        stack.push(k);
                    }
                }
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn stat_with_odd_command_names_parses() {
            let p = super::parse_stat(42, "42 (a) b (c)) S 7 42 42 0 -1")
                .map(|p| (p.ppid, p.pgid, p.state));
            assert_eq!(p, Some((7, 42, 'S')));
        }
    }
}

#[cfg(windows)]
mod windows {
    pub fn kill_tree(pid: u32) {
        let _ = std::process::Command::new("taskkill")
            .args(["/T", "/F", "/PID", &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
