//! CPU and memory of the processes a run involves, from `/proc`: the server, the
//! PostgreSQL processes (on the PostgreSQL runs) and the load generator itself. A backend
//! that exits between two snapshots takes its ticks with it; the server's pool keeps its
//! connections, so that loses little.

use std::time::Instant;

/// CPU ticks (utime + stime; USER_HZ is 100 on Linux) and resident memory of one process.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    pub ticks: u64,
    pub rss_kb: u64,
}

fn stat_fields(pid: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, after) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((comm, ticks))
}

/// `pid` may be `self`.
pub fn usage(pid: &str) -> Option<Usage> {
    let (_, ticks) = stat_fields(pid)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(Usage { ticks, rss_kb })
}

/// CPU ticks of the PostgreSQL backends serving database `db`, and of PostgreSQL's shared
/// background processes (WAL writer, checkpointer…, which serve every database); 0 when
/// there are none.
pub fn postgres_ticks(db: &str) -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let (mut backends, mut shared) = (0, 0);
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        let Some((comm, ticks)) = stat_fields(&pid) else {
            continue;
        };
        if comm != "postgres" {
            continue;
        }
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        match backend_database(&String::from_utf8_lossy(&title)) {
            None => shared += ticks,
            Some(d) if d == db => backends += ticks,
            Some(_) => {}
        }
    }
    (backends, shared)
}

/// The database a PostgreSQL backend serves, from its process title
/// ("postgres: 15/main: USER DB HOST(PORT) STATE", NULs or spaces between words); `None`
/// for the server's own processes (checkpointer, WAL writer…).
fn backend_database(title: &str) -> Option<&str> {
    let words: Vec<&str> = title.split(['\0', ' ']).filter(|w| !w.is_empty()).collect();
    let host = words
        .iter()
        .position(|w| *w == "[local]" || (w.contains('(') && w.ends_with(')')))?;
    host.checked_sub(1).and_then(|i| words.get(i).copied())
}

/// The soft limit on open files of `pid` (`self` or a number).
pub fn open_files_limit(pid: &str) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Where CPU went between two snapshots.
#[derive(Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    server: Option<Usage>,
    /// Ticks of the database's backends and of PostgreSQL's shared processes.
    postgres: Option<(u64, u64)>,
    me: Option<Usage>,
    server_pid: Option<u32>,
}

impl Snapshot {
    /// `postgres_db`: the server's PostgreSQL database, when it has one.
    pub fn take(server_pid: Option<u32>, postgres_db: Option<&str>) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            server: server_pid.and_then(|p| usage(&p.to_string())),
            postgres: postgres_db.map(postgres_ticks),
            me: usage("self"),
            server_pid,
        }
    }

    pub fn server_rss_kb(&self) -> Option<u64> {
        self.server.map(|u| u.rss_kb)
    }

    pub fn my_rss_kb(&self) -> Option<u64> {
        self.me.map(|u| u.rss_kb)
    }

    /// "server 85% of a core, PostgreSQL 40%, load generator 30%" since `earlier`.
    pub fn cpu_since(&self, earlier: &Snapshot) -> String {
        let secs = self.at.duration_since(earlier.at).as_secs_f64().max(1e-3);
        let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let mut parts = Vec::new();
        if let (Some(a), Some(b)) = (self.server, earlier.server) {
            parts.push(format!(
                "server (pid {}) {:.0}%",
                self.server_pid.unwrap_or_default(),
                pct(a.ticks, b.ticks)
            ));
        }
        if let (Some((b1, s1)), Some((b0, s0))) = (self.postgres, earlier.postgres) {
            parts.push(format!(
                "PostgreSQL backends {:.0}% + shared processes {:.0}%",
                pct(b1, b0),
                pct(s1, s0)
            ));
        }
        if let (Some(a), Some(b)) = (self.me, earlier.me) {
            parts.push(format!("load generator {:.0}%", pct(a.ticks, b.ticks)));
        }
        format!("CPU (100% = one core): {}", parts.join(", "))
    }

    /// The server's CPU since `earlier`, 100% = one core.
    pub fn server_cpu_since(&self, earlier: &Snapshot) -> Option<f64> {
        let secs = self.at.duration_since(earlier.at).as_secs_f64().max(1e-3);
        Some(self.server?.ticks.saturating_sub(earlier.server?.ticks) as f64 / secs)
    }
}

#[cfg(test)]
mod tests {
    use super::backend_database;

    #[test]
    fn backends_are_told_from_shared_processes_by_their_title() {
        assert_eq!(
            backend_database("postgres: 15/main: postgres breeze_bench 127.0.0.1(54450) idle   "),
            Some("breeze_bench")
        );
        assert_eq!(
            backend_database("postgres: 15/main: postgres test [local] SELECT waiting"),
            Some("test")
        );
        assert_eq!(backend_database("postgres: 15/main: walwriter   "), None);
        assert_eq!(
            backend_database(
                "/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/postgresql/15/main\0"
            ),
            None
        );
    }
}
