//! CPU and memory of the processes a run involves, from `/proc`: the server, the
//! PostgreSQL processes (on the PostgreSQL runs) and the load generator itself, and the
//! whole machine (`/proc/stat`: what no process here accounts for, the kernel's network
//! work on loopback among it). PostgreSQL is counted process by process: a backend that
//! exits between two snapshots loses only its own ticks since the first.

use std::time::Instant;

/// CPU ticks (utime + stime; USER_HZ is 100 on Linux) and resident memory of one process.
#[derive(Clone, Copy, Default)]
pub struct Usage {
    pub ticks: u64,
    pub rss_kb: u64,
}

/// The command name, CPU ticks and start time (ticks since boot) of a process.
fn stat_fields(pid: &str) -> Option<(String, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, after) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    // Fields from the 3rd (state) on: utime and stime are the 14th and 15th, starttime
    // the 22nd.
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let started = f.get(19)?.parse::<u64>().ok()?;
    Some((comm, ticks, started))
}

/// `pid` may be `self`.
pub fn usage(pid: &str) -> Option<Usage> {
    let (_, ticks, _) = stat_fields(pid)?;
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

/// One PostgreSQL process: which (pid and start time, so a reused pid is another
/// process), whether it serves the database (else it is one of PostgreSQL's shared
/// processes), and its CPU ticks so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgProcess {
    pub pid: u32,
    pub started: u64,
    pub backend: bool,
    pub ticks: u64,
}

/// The PostgreSQL processes now: the backends serving database `db`, and PostgreSQL's
/// shared background processes (WAL writer, checkpointer…, which serve every database).
pub fn postgres_processes(db: &str) -> Vec<PgProcess> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        let Some((comm, ticks, started)) = stat_fields(&pid) else {
            continue;
        };
        if comm != "postgres" {
            continue;
        }
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let backend = match backend_database(&String::from_utf8_lossy(&title)) {
            None => false,
            Some(d) if d == db => true,
            Some(_) => continue,
        };
        out.push(PgProcess {
            pid: pid.parse().unwrap_or_default(),
            started,
            backend,
            ticks,
        });
    }
    out
}

/// Ticks the backends and the shared processes used between two readings, process by
/// process: one that started in between counts whole, one that exited counts nothing.
/// (Summing each reading and subtracting lost the whole past of every backend that
/// exited: a pool that replaced connections during a run showed PostgreSQL at 18 % of a
/// core where `top` showed 61 %.)
pub fn postgres_ticks_between(then: &[PgProcess], now: &[PgProcess]) -> (u64, u64) {
    let before: std::collections::HashMap<(u32, u64), u64> =
        then.iter().map(|p| ((p.pid, p.started), p.ticks)).collect();
    let (mut backends, mut shared) = (0, 0);
    for p in now {
        let used = p
            .ticks
            .saturating_sub(before.get(&(p.pid, p.started)).copied().unwrap_or(0));
        if p.backend {
            backends += used;
        } else {
            shared += used;
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

/// Open file descriptors (sockets included) of `pid` (`self` or a number).
pub fn open_files(pid: &str) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// The soft limit on open files of `pid` (`self` or a number).
pub fn open_files_limit(pid: &str) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The whole machine's CPU time from the first line of `/proc/stat` (ticks summed over
/// all cores): what every process used, ours or not (NATS, the other load generators),
/// and what the hypervisor took (steal).
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Machine {
    /// user + nice + system + irq + softirq.
    pub busy: u64,
    pub iowait: u64,
    pub steal: u64,
    /// Every field but guest time (already counted in user).
    pub total: u64,
    pub cores: usize,
}

/// Parses `/proc/stat`: the aggregate `cpu` line and the number of `cpuN` lines.
pub fn parse_machine(stat: &str) -> Option<Machine> {
    let mut lines = stat.lines();
    let f: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    let cores = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    Some(Machine {
        busy: at(0) + at(1) + at(2) + at(5) + at(6),
        iowait: at(4),
        steal: at(7),
        total: (0..8).map(at).sum(),
        cores: cores.max(1),
    })
}

fn machine() -> Option<Machine> {
    parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// "machine: 93% busy of 2 cores (iowait 1%, steal 0%)": the share of all cores' time
/// between two readings.
fn machine_since(now: &Machine, then: &Machine) -> Option<String> {
    let total = now.total.checked_sub(then.total).filter(|t| *t > 0)? as f64;
    let pct = |a: u64, b: u64| 100.0 * a.saturating_sub(b) as f64 / total;
    Some(format!(
        "machine {:.0}% busy of {} cores (iowait {:.0}%, steal {:.0}%)",
        pct(now.busy, then.busy),
        now.cores,
        pct(now.iowait, then.iowait),
        pct(now.steal, then.steal)
    ))
}

/// Where CPU went between two snapshots.
#[derive(Clone)]
pub struct Snapshot {
    at: Instant,
    /// Each `--server-pid` (one per replica, in order) and its usage.
    servers: Vec<(u32, Option<Usage>)>,
    /// The database's backends and PostgreSQL's shared processes.
    postgres: Option<Vec<PgProcess>>,
    me: Option<Usage>,
    machine: Option<Machine>,
}

impl Snapshot {
    /// `server_pids`: one per replica; `postgres_db`: the servers' PostgreSQL database,
    /// when they have one.
    pub fn take(server_pids: &[u32], postgres_db: Option<&str>) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            servers: server_pids
                .iter()
                .map(|p| (*p, usage(&p.to_string())))
                .collect(),
            postgres: postgres_db.map(postgres_processes),
            me: usage("self"),
            machine: machine(),
        }
    }

    /// The servers' RSS, summed; `None` unless every one was read.
    pub fn server_rss_kb(&self) -> Option<u64> {
        if self.servers.is_empty() {
            return None;
        }
        self.servers.iter().map(|(_, u)| u.map(|u| u.rss_kb)).sum()
    }

    /// Each server's pid and RSS, in `--server-pid` order.
    pub fn replica_rss_kb(&self) -> Vec<(u32, Option<u64>)> {
        self.servers
            .iter()
            .map(|(p, u)| (*p, u.map(|u| u.rss_kb)))
            .collect()
    }

    pub fn my_rss_kb(&self) -> Option<u64> {
        self.me.map(|u| u.rss_kb)
    }

    fn secs_since(&self, earlier: &Snapshot) -> f64 {
        self.at.duration_since(earlier.at).as_secs_f64().max(1e-3)
    }

    /// "server (pid 7) 85%, PostgreSQL backends 40% + …, load generator 30%" since
    /// `earlier`; with several servers "servers (pid 7) 50% + (pid 8) 35% = 85%".
    pub fn cpu_since(&self, earlier: &Snapshot) -> String {
        let secs = self.secs_since(earlier);
        let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let mut parts = Vec::new();
        let servers = self.replica_cpu_since(earlier);
        if !servers.is_empty() {
            parts.push(servers_cpu(&servers));
        }
        if let (Some(now), Some(then)) = (&self.postgres, &earlier.postgres) {
            let (b, s) = postgres_ticks_between(then, now);
            parts.push(format!(
                "PostgreSQL backends {:.0}% + shared processes {:.0}%",
                pct(b, 0),
                pct(s, 0)
            ));
        }
        if let (Some(a), Some(b)) = (self.me, earlier.me) {
            parts.push(format!("load generator {:.0}%", pct(a.ticks, b.ticks)));
        }
        let whole = match (&self.machine, &earlier.machine) {
            (Some(now), Some(then)) => machine_since(now, then),
            _ => None,
        };
        match whole {
            Some(w) => format!("CPU (100% = one core): {}; {w}", parts.join(", ")),
            None => format!("CPU (100% = one core): {}", parts.join(", ")),
        }
    }

    /// Each server's pid and CPU since `earlier` (100% = one core), for the servers read
    /// both times.
    pub fn replica_cpu_since(&self, earlier: &Snapshot) -> Vec<(u32, f64)> {
        let secs = self.secs_since(earlier);
        self.servers
            .iter()
            .zip(&earlier.servers)
            .filter_map(|((pid, now), (_, then))| {
                Some((
                    *pid,
                    (*now)?.ticks.saturating_sub((*then)?.ticks) as f64 / secs,
                ))
            })
            .collect()
    }

    /// The PostgreSQL backends' CPU since `earlier` (100% = one core), when measured.
    pub fn postgres_cpu_since(&self, earlier: &Snapshot) -> Option<f64> {
        let (b, _) = postgres_ticks_between(earlier.postgres.as_ref()?, self.postgres.as_ref()?);
        Some(b as f64 / self.secs_since(earlier))
    }

    /// This process's CPU since `earlier` (100% = one core).
    pub fn my_cpu_since(&self, earlier: &Snapshot) -> Option<f64> {
        Some((self.me?.ticks.saturating_sub(earlier.me?.ticks)) as f64 / self.secs_since(earlier))
    }

    /// The servers' CPU since `earlier`, summed, 100% = one core; `None` unless every
    /// server was read both times.
    pub fn server_cpu_since(&self, earlier: &Snapshot) -> Option<f64> {
        let each = self.replica_cpu_since(earlier);
        (!each.is_empty() && each.len() == self.servers.len())
            .then(|| each.iter().map(|(_, c)| c).sum())
    }
}

/// "server (pid 7) 85%", or for several "servers (pid 7) 50% + (pid 8) 35% = 85%".
fn servers_cpu(each: &[(u32, f64)]) -> String {
    match each {
        [(pid, c)] => format!("server (pid {pid}) {c:.0}%"),
        _ => {
            let terms: Vec<String> = each
                .iter()
                .map(|(pid, c)| format!("(pid {pid}) {c:.0}%"))
                .collect();
            let sum: f64 = each.iter().map(|(_, c)| c).sum();
            format!("servers {} = {sum:.0}%", terms.join(" + "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        Machine, PgProcess, backend_database, machine_since, parse_machine, postgres_ticks_between,
        servers_cpu,
    };

    #[test]
    fn postgres_cpu_counts_each_process_so_an_exited_backend_takes_only_itself() {
        let p = |pid, started, backend, ticks| PgProcess {
            pid,
            started,
            backend,
            ticks,
        };
        let then = [
            p(10, 1, true, 5_000), // exits: its 5,000 past ticks must not come off the rest
            p(11, 1, true, 1_000),
            p(12, 1, false, 300),
            p(13, 1, true, 700), // exits and its pid comes back as a new backend
        ];
        let now = [
            p(11, 1, true, 1_250),
            p(12, 1, false, 340),
            p(14, 900, true, 60), // new: all of it in the window
            p(13, 950, true, 20),
        ];
        assert_eq!(postgres_ticks_between(&then, &now), (250 + 60 + 20, 40));
    }

    #[test]
    fn the_machine_line_sums_busy_time_and_counts_cores() {
        let stat = "cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\n\
                    cpu1 50 3 25 400 10 2 1 5 4 0\nintr 1 2 3\nctxt 9\n";
        let m = parse_machine(stat).expect("parsed");
        assert_eq!(
            m,
            Machine {
                busy: 160,
                iowait: 20,
                steal: 10,
                total: 990,
                cores: 2
            }
        );
        let later = Machine {
            busy: m.busy + 150,
            iowait: m.iowait + 10,
            steal: m.steal + 20,
            total: m.total + 200,
            cores: 2,
        };
        assert_eq!(
            machine_since(&later, &m).as_deref(),
            Some("machine 75% busy of 2 cores (iowait 5%, steal 10%)")
        );
        assert_eq!(machine_since(&m, &m), None);
        assert_eq!(parse_machine("intr 1\n"), None);
    }

    #[test]
    fn one_server_reads_as_before_and_several_show_each_and_the_sum() {
        assert_eq!(servers_cpu(&[(7, 84.6)]), "server (pid 7) 85%");
        assert_eq!(
            servers_cpu(&[(7, 50.2), (8, 35.1)]),
            "servers (pid 7) 50% + (pid 8) 35% = 85%"
        );
    }

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
