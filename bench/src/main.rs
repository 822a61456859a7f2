//! `breeze-loadgen`: simulates a fleet of N agents against a running `breeze serve`.
//!
//! Each simulated agent enrolls with a site key, uploads its inventory (2,000 packages on
//! `--big-inventory-percent` of them, 20 on the rest), opens and holds its channel
//! `GET /ws/agents/{id}` (answering pings, acknowledging commands and posting their
//! results over HTTP, as `breeze-agent` does), and heartbeats every `--interval` seconds
//! (spread evenly). During the run the admin queues a script on a random device
//! `--commands-per-sec` times a second, and `--churn-percent-per-min` of the fleet drops
//! its channel and reconnects each minute. Printed, phase by phase:
//!
//! * enrollment: enrollments/s, and where the CPU went (server, PostgreSQL, this process);
//! * channels: how fast they opened, and the server's RSS per idle channel (RSS after the
//!   channels are open and idle, minus RSS before, divided by their number);
//! * the measured window (after one interval of warm-up): heartbeats/s, p50/p99, command
//!   delivery p50/p99 (API answer to `command` frame), reconnects, server CPU and RSS;
//! * then, with the fleet still running, closed-loop bursts of `GET /health`,
//!   `GET /api/v1/auth/me` and heartbeats, and their ratios.
//!
//! ```text
//! breeze-loadgen --server http://127.0.0.1:3001 --setup-data-dir DIR --agents 10000 \
//!     --interval 60 --duration 180 --server-pid $(pgrep -nx breeze)
//! ```
//! `--replica URL` (repeatable) adds servers sharing the first one's database and NATS:
//! agent `i` then does everything of its own on server `i % n` (`--server` first), while
//! setup, the commands queued through the API and the `/health` and `/auth/me` probes stay
//! on `--server`, so commands for agents elsewhere cross replicas. Give one `--server-pid`
//! per server, in the same order (bench/run-replicas.sh does all this).
//!
//! `--setup-data-dir DIR` finishes first-run setup on a fresh server and creates the
//! organization, site and key; or give `--key` (and `--admin-email`/`--admin-password`
//! for the commands and the `/auth/me` probe) for a server set up already.
//!
//! Every channel is a socket on both sides: the fleet needs as many open files here and
//! on the server (`ulimit -n`), and past ~25,000 agents several source addresses
//! (`--source-addrs`, 127.0.0.1..N). `--channels-per-connection N` carries the channels as
//! WebSocket streams over shared HTTP/2 connections instead (RFC 8441), N per connection,
//! for a fleet larger than one process may hold sockets for.

mod loadgen;

use anyhow::{Context as _, Result, bail};
use breeze_bench::first_run::first_run;
use breeze_bench::stats::summary;
use breeze_client::BreezeClient;
use breeze_proto::agent::{EnrollResponse, paths};
use clap::Parser;
use futures::StreamExt as _;
use loadgen::commands::{Admin, Ledger, Queueing, queue_steadily};
use loadgen::probes::{Outcome, burst};
use loadgen::procfs::{Snapshot, open_files_limit};
use loadgen::replicas::{Replica, agents_per_replica, replica_of};
use loadgen::sim_agent::{Fleet, Identity, Phase};
use loadgen::sources::Sources;
use loadgen::split::{Barrier, Credentials, Report, ServerUsage, now_secs};
use loadgen::{Counter, Latencies, inventory};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

#[derive(Parser, Clone)]
// A flag given twice takes its last value: bench/run-fleet.sh's own flags come first and
// the user's after them.
#[command(name = "breeze-loadgen", args_override_self = true)]
struct Args {
    /// Server base URL: setup, the admin's API calls and probes go here, and the agents
    /// too unless there are replicas.
    #[arg(long, default_value = "http://127.0.0.1:3001")]
    server: String,
    /// Another server on the same database and NATS (repeatable): agent `i` talks to
    /// server `i % n`, `--server` being the first.
    #[arg(long)]
    replica: Vec<String>,
    /// Site enrollment key (with enough max_uses).
    #[arg(long)]
    key: Option<String>,
    /// The key the setup creates has no `max_uses` (a mass-deploy key: its uses are
    /// counted in batches, not taken under the key row's lock); default 1,000,000 uses.
    #[arg(long)]
    unlimited_key: bool,
    /// With `--key`: an admin to queue commands and probe `/auth/me` as.
    #[arg(long, requires = "admin_password")]
    admin_email: Option<String>,
    #[arg(long)]
    admin_password: Option<String>,
    /// Data directory of a fresh server: run setup and create org, site and key.
    #[arg(long)]
    setup_data_dir: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Seconds between heartbeats of one agent.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Seconds of heartbeating to measure (after one interval of warm-up).
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Concurrent enrollments (and inventory uploads). The server lets 4 per core sign in
    /// at once and sheds beyond twice that; a shed enrollment waits its `Retry-After`.
    #[arg(long, default_value_t = 8)]
    enroll_concurrency: usize,
    /// Concurrent channel handshakes.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// PID of the server, for RSS and CPU; with replicas, one per server (repeatable, in
    /// the order `--server`, then the `--replica`s).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// The server's PostgreSQL database, for the CPU of its backends (a local server).
    #[arg(long)]
    postgres_db: Option<String>,
    /// Alert rules to create in the load organization before enrolling (with
    /// `--setup-data-dir`): see [`alert_rules`] for the mix.
    #[arg(long, default_value_t = 0)]
    alert_rules: usize,
    /// Percent of the devices whose inventory lists 2,000 packages.
    #[arg(long, default_value_t = 5.0)]
    big_inventory_percent: f64,
    /// Script runs queued through the API per second during the run (0: none).
    #[arg(long, default_value_t = 5.0)]
    commands_per_sec: f64,
    /// Percent of the fleet that drops its channel (and reconnects 1–3 s later) per minute.
    #[arg(long, default_value_t = 1.0)]
    churn_percent_per_min: f64,
    /// Hold no channel: heartbeats only (the load of the figures before issue 14).
    #[arg(long)]
    no_channels: bool,
    /// Carry the channels as WebSocket streams over shared HTTP/2 connections, this many
    /// per connection (at most 200, the server's limit), instead of one TCP connection
    /// each: for a fleet larger than one process's open-file limit (0: off).
    #[arg(long, default_value_t = 0)]
    channels_per_connection: usize,
    /// Source addresses 127.0.0.1..N for the fleet's sockets (default: one per 25,000
    /// agents).
    #[arg(long)]
    source_addrs: Option<usize>,
    /// Length of each closed-loop probe after the measured window (0: no probes).
    #[arg(long, default_value_t = 5)]
    probe_secs: u64,
    /// Workers of each closed-loop probe.
    #[arg(long, default_value_t = 32)]
    probe_concurrency: usize,
    /// In a fleet split over several load generators (bench/run-fleet.sh): the fleet
    /// index of this process's first agent (hostnames, and the server agent `i` talks
    /// to, count from it).
    #[arg(long, default_value_t = 0)]
    first_agent: usize,
    /// The enrollment key and admin (JSON): written after setup with `--setup-data-dir`,
    /// read otherwise (instead of `--key` and `--admin-*`).
    #[arg(long)]
    credentials: Option<std::path::PathBuf>,
    /// With `--setup-data-dir` and `--credentials`: set up, write the credentials, exit.
    #[arg(long)]
    setup_only: bool,
    /// `DIR:K`: this is one of K load generators of one fleet; each waits for the others
    /// before its channels open, before its measured window and before it exits.
    #[arg(long)]
    barrier: Option<String>,
    /// Write the measured window's counts and raw latencies (JSON) here, for `--merge`.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
    /// Print the figures of one fleet from its load generators' `--json-out` files, and
    /// exit.
    #[arg(long, num_args = 1..)]
    merge: Vec<std::path::PathBuf>,
}

/// Sends the request `make` builds, waiting out each 503's `Retry-After` (at most 30
/// times).
async fn send_retrying(
    make: impl Fn() -> reqwest::RequestBuilder,
    shed: &Counter,
) -> Result<reqwest::Response> {
    for _ in 0..30 {
        let r = make().send().await?;
        if r.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Ok(r);
        }
        shed.add();
        let wait = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    bail!("still shed after 30 attempts")
}

async fn checked(r: reqwest::Response) -> Result<reqwest::Response> {
    let s = r.status();
    if s.is_success() {
        return Ok(r);
    }
    let body = r.text().await.unwrap_or_default();
    bail!("{s}: {body}")
}

/// The enrollment key, and the admin when there is one.
async fn bootstrap(args: &Args) -> Result<(String, Option<Admin>, Option<String>)> {
    let s = &args.server;
    if let (None, None, Some(path)) = (&args.key, &args.setup_data_dir, &args.credentials) {
        let c = Credentials::read(path)?;
        let admin = BreezeClient::new(s)?
            .login_as(&c.admin_email, &c.admin_password)
            .await?;
        let admin = Admin::new(admin, c.admin_email, c.admin_password);
        return Ok((c.key, Some(admin), Some(c.org_id)));
    }
    match (&args.key, &args.setup_data_dir) {
        (Some(k), _) => {
            let admin = match (&args.admin_email, &args.admin_password) {
                (Some(e), Some(p)) => {
                    let c = BreezeClient::new(s)?.login_as(e, p).await?;
                    Some(Admin::new(c, e.clone(), p.clone()))
                }
                _ => None,
            };
            Ok((k.clone(), admin, None))
        }
        (None, Some(dir)) => {
            let run = first_run(s, dir, "Load").await?;
            let admin = Admin::new(run.admin, run.email, run.password);
            let k = admin
                .post(
                    "/api/v1/enrollment-keys",
                    &json!({"org_id": run.org_id, "site_id": run.site_id, "name": "load",
                        "max_uses": if args.unlimited_key { Value::Null } else { json!(1_000_000) },
                        "expires_in_hours": 48}),
                )
                .await?;
            for (i, rule) in alert_rules(args.alert_rules).into_iter().enumerate() {
                let mut rule = rule;
                rule["org_id"] = json!(run.org_id);
                rule["name"] = json!(format!("bench rule {i}"));
                admin
                    .post("/api/v1/alert-rules", &rule)
                    .await
                    .with_context(|| format!("creating alert rule {i}"))?;
            }
            let key = k["key"].as_str().context("key")?.to_string();
            if let Some(path) = &args.credentials {
                Credentials {
                    key: key.clone(),
                    admin_email: admin.email().to_string(),
                    admin_password: admin.password().to_string(),
                    org_id: run.org_id.clone(),
                }
                .write(path)?;
            }
            Ok((key, Some(admin), Some(run.org_id)))
        }
        (None, None) => bail!("give --key, --setup-data-dir or --credentials"),
    }
}

/// `n` alert rules targeting every device, as an MSP's org might have them: mostly metric
/// thresholds over a 5-minute window on each metric the simulated agents send (CPU is
/// uniform 0..100, so a windowed CPU rule almost never fires), one CPU rule with no window
/// that fires on ~2% of heartbeats and resolves on the next (alert churn), and rules the
/// heartbeat path must not evaluate (offline, software removed).
fn alert_rules(n: usize) -> Vec<Value> {
    let windowed = [
        ("cpu_percent", 90.0),
        ("ram_percent", 95.0),
        ("disk_percent", 95.0),
        ("process_count", 2000.0),
        ("custom.load_1", 16.0),
    ];
    (0..n)
        .map(|i| {
            let conditions = match i % 10 {
                7 => json!({"metric": "cpu_percent", "operator": "gt", "value": 98.0}),
                8 => json!({"type": "status", "status": "offline", "duration_minutes": 10}),
                9 => json!({"type": "software_change", "action": "removed", "name_pattern": "Antivirus*"}),
                k => {
                    let (metric, value) = windowed[k % windowed.len()];
                    json!({"metric": metric, "operator": "gt", "value": value + i as f64 * 0.01,
                        "duration_minutes": 5})
                }
            };
            json!({"severity": "high", "targets": {"all": true}, "conditions": conditions,
                "cooldown_minutes": 0, "auto_resolve": true})
        })
        .collect()
}

/// Refuses a fleet this process cannot hold, and warns when the server cannot.
fn check_open_files(args: &Args, sources: usize) -> Result<()> {
    if args.no_channels {
        return Ok(());
    }
    // Over HTTP/2 the channels share connections (`h2::Connections`).
    let sockets_for = |agents: usize| match args.channels_per_connection {
        0 => agents,
        per => agents.div_ceil(per.clamp(1, loadgen::h2::MAX_PER_CONNECTION)) + sources,
    };
    let need = sockets_for(args.agents) as u64 + sources as u64 * 300 + 200;
    if let Some(limit) = open_files_limit("self")
        && limit < need
    {
        bail!(
            "{} agents holding channels need about {need} open files here, and `ulimit -n` is {limit}: \
             raise it (the hard limit too), or run fewer agents per load generator",
            args.agents
        );
    }
    let share = agents_per_replica(args.agents, args.server_pid.len());
    for (pid, agents) in args.server_pid.iter().zip(share) {
        if let Some(limit) = open_files_limit(&pid.to_string())
            && limit < sockets_for(agents) as u64 + 200
        {
            eprintln!(
                "WARNING: the server (pid {pid}) may open {limit} files, fewer than its {agents} agents' channel connections plus its database and listener"
            );
        }
    }
    Ok(())
}

/// Enrolls `n` agents, `concurrency` at a time, each from its source address.
async fn enroll_all(args: &Args, key: &str, replicas: &[Replica]) -> Vec<Identity> {
    let shed = Counter::default();
    let failed = Counter::default();
    let latency = Latencies::default();
    let before = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    let t0 = Instant::now();
    let mut agents: Vec<(usize, Identity)> = futures::stream::iter(0..args.agents)
        .map(|i| {
            let (shed, failed, latency) = (&shed, &failed, &latency);
            async move {
                // Its index in the whole fleet (split over load generators or not).
                let g = args.first_agent + i;
                let replica = replica_of(g, replicas.len());
                let sources = &replicas[replica].sources;
                let url = format!("{}{}", replicas[replica].url, paths::ENROLL);
                let url = &url;
                let src = sources.of_agent(g);
                let body = inventory::enrollment(key, g);
                let t = Instant::now();
                let r = async {
                    let resp =
                        send_retrying(|| sources.client(src).post(url).json(&body), shed).await?;
                    let e: EnrollResponse = checked(resp).await?.json().await?;
                    anyhow::Ok(e)
                }
                .await;
                match r {
                    Ok(e) => {
                        latency.push(t.elapsed());
                        Some((
                            i,
                            Identity {
                                id: e.agent_id,
                                token: e.auth_token.expose().to_string(),
                                src,
                                replica,
                                big: inventory::is_big(g, args.big_inventory_percent),
                            },
                        ))
                    }
                    Err(e) => {
                        failed.add_noting(|| format!("enrolling agent {i}: {e:#}"));
                        None
                    }
                }
            }
        })
        .buffer_unordered(args.enroll_concurrency.max(1))
        .filter_map(|a| async move { a })
        .collect()
        .await;
    let secs = t0.elapsed().as_secs_f64();
    let after = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    println!(
        "enrolled {} of {} agents in {secs:.1} s: {:.0} enrollments/s at concurrency {} ({} shed and retried, {} failed)",
        agents.len(),
        args.agents,
        agents.len() as f64 / secs.max(1e-3),
        args.enroll_concurrency,
        shed.get(),
        failed.get()
    );
    println!("  enrollment {}", summary(&latency.sorted()));
    println!("  {}", after.cpu_since(&before));
    agents.sort_by_key(|(i, _)| *i);
    agents.into_iter().map(|(_, a)| a).collect()
}

/// Uploads every agent's first inventory.
async fn upload_inventories(args: &Args, agents: &[Identity], replicas: &[Replica]) {
    let shed = Counter::default();
    let failed = Counter::default();
    let before = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    let t0 = Instant::now();
    let big = agents.iter().filter(|a| a.big).count();
    futures::stream::iter(agents.iter().enumerate())
        .for_each_concurrent(args.enroll_concurrency.max(1), |(i, a)| {
            let (shed, failed) = (&shed, &failed);
            async move {
                let replica = &replicas[a.replica % replicas.len()];
                let url = format!("{}{}", replica.url, paths::inventory(a.id));
                let body = inventory::inventory(args.first_agent + i, a.big);
                let r = async {
                    let resp = send_retrying(
                        || {
                            replica
                                .sources
                                .client(a.src)
                                .put(&url)
                                .bearer_auth(&a.token)
                                .json(&body)
                        },
                        shed,
                    )
                    .await?;
                    checked(resp).await
                }
                .await;
                if let Err(e) = r {
                    failed.add_noting(|| format!("inventory of agent {i}: {e:#}"));
                }
            }
        })
        .await;
    let after = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    println!(
        "inventories: {} uploaded ({big} with {} packages) in {:.1} s ({} shed and retried, {} failed)",
        agents.len() as u64 - failed.get(),
        inventory::BIG_SOFTWARE,
        t0.elapsed().as_secs_f64(),
        shed.get(),
        failed.get()
    );
    println!("  {}", after.cpu_since(&before));
}

/// Waits until every agent's channel got its `welcome` (or 60 s pass with no progress).
async fn await_channels(fleet: &Fleet, n: usize, concurrency: usize) {
    let t0 = Instant::now();
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let up = fleet.stats.channels_opened.get() as usize;
        if up >= n {
            break;
        }
        if up != last {
            (last, last_change) = (up, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(60) {
            println!("  channels: stuck at {up} of {n} for 60 s; going on");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let up = fleet.stats.channels_opened.get();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "channels: {up} of {n} open in {secs:.1} s ({:.0}/s at {concurrency} concurrent handshakes, {} connect errors)",
        up as f64 / secs.max(1e-3),
        fleet.stats.connect_errors.get()
    );
    println!(
        "  open (TCP connect to welcome, once among the concurrent handshakes) {}",
        summary(&fleet.stats.channel_open_latency.sorted())
    );
}

fn kib_per(before: Option<u64>, after: Option<u64>, n: u64) -> String {
    match (before, after) {
        (Some(b), Some(a)) if n > 0 => format!(
            "{:.1} KiB ({} -> {} MiB)",
            (a as f64 - b as f64) / n as f64,
            b / 1024,
            a / 1024
        ),
        _ => "n/a".into(),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if !args.merge.is_empty() {
        println!("{}", loadgen::split::merge(&args.merge)?);
        return Ok(());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let barrier = args.barrier.as_deref().map(Barrier::parse).transpose()?;
    // A stage's wait: long enough for the slowest load generator's enrollment.
    let stage_limit = Duration::from_secs(3600);
    let n_src = args
        .source_addrs
        .unwrap_or_else(|| Sources::needed_for(args.agents));
    check_open_files(&args, n_src)?;
    let mut replicas = Vec::new();
    for url in std::iter::once(&args.server).chain(&args.replica) {
        replicas.push(Replica::new(url, n_src).await?);
    }
    if !args.server_pid.is_empty() && args.server_pid.len() != replicas.len() {
        bail!(
            "{} --server-pid for {} servers: give one per server, in the order --server, then the --replicas",
            args.server_pid.len(),
            replicas.len()
        );
    }
    let (key, admin, org_id) = bootstrap(&args).await?;
    if args.setup_only {
        return Ok(());
    }
    let admin = admin.map(Arc::new);
    let script = match (&admin, args.commands_per_sec > 0.0) {
        (Some(a), true) => Some(a.create_script(org_id.as_deref()).await?),
        _ => None,
    };
    let server_files: Vec<String> = args
        .server_pid
        .iter()
        .map(|p| open_files_limit(&p.to_string()).map_or("?".into(), |l| l.to_string()))
        .collect();
    println!(
        "fleet of {} agents from {} source address(es); open files here {}, server {}",
        args.agents,
        replicas[0].sources.len(),
        open_files_limit("self").map_or("?".into(), |l| l.to_string()),
        if server_files.is_empty() {
            "?".into()
        } else {
            server_files.join(" / ")
        }
    );
    if replicas.len() > 1 {
        println!(
            "{} servers: agent i talks to server i % {}; setup, commands and probes go to {}",
            replicas.len(),
            replicas.len(),
            args.server
        );
    }

    let enroll_start = now_secs();
    let agents = enroll_all(&args, &key, &replicas).await;
    let enroll_end = now_secs();
    if agents.is_empty() {
        bail!("no agent enrolled");
    }
    upload_inventories(&args, &agents, &replicas).await;
    if let Some(b) = &barrier {
        // Every load generator's agents enrolled: the servers' memory before channels.
        b.wait("enrolled", stage_limit).await?;
    }

    // Channels, and the server's memory per idle channel.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle0 = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    let n = agents.len();
    let h2 = (args.channels_per_connection > 0).then(|| {
        replicas
            .iter()
            .map(|r| {
                loadgen::h2::Connections::new(
                    n.div_ceil(replicas.len()),
                    r.sources.len(),
                    args.channels_per_connection,
                )
            })
            .collect::<Vec<_>>()
    });
    if let Some(h2) = &h2 {
        println!(
            "channels over HTTP/2: {} per connection, {} connections",
            h2[0].per_connection(),
            h2.iter()
                .map(loadgen::h2::Connections::count)
                .sum::<usize>()
        );
    }
    let fleet = Arc::new(Fleet {
        replicas,
        stats: Default::default(),
        ledger: Arc::new(Ledger::default()),
        interval: Duration::from_secs(args.interval.max(1)),
        churn_every: (args.churn_percent_per_min > 0.0 && !args.no_channels)
            .then(|| Duration::from_secs_f64(60.0 * 100.0 / args.churn_percent_per_min)),
        connecting: Semaphore::new(args.connect_concurrency.max(1)),
        hold_channels: !args.no_channels,
        h2,
    });
    let (phase, watching) = watch::channel(Phase::Idle);
    let mut tasks = tokio::task::JoinSet::new();
    for (slot, a) in agents.iter().enumerate() {
        tasks.spawn(loadgen::sim_agent::run(
            fleet.clone(),
            a.clone(),
            slot,
            n,
            watching.clone(),
        ));
    }
    let mut idle_rss = None;
    if !args.no_channels {
        await_channels(&fleet, n, args.connect_concurrency).await;
        if let Some(b) = &barrier {
            b.wait("channels", stage_limit).await?;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle1 = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
        if let (Some(before), Some(after)) = (idle0.server_rss_kb(), idle1.server_rss_kb()) {
            idle_rss = Some((before, after));
        }
        let open = fleet.stats.channels_opened.get();
        let shared = barrier.as_ref().is_some_and(Barrier::shared);
        if shared {
            // The servers also hold the other load generators' channels: `--merge`
            // divides by all of them.
            println!(
                "memory per idle channel: load generator {} (the servers': in the fleet's figures)",
                kib_per(idle0.my_rss_kb(), idle1.my_rss_kb(), open)
            );
        } else {
            println!(
                "memory per idle channel: server {}, load generator {}",
                kib_per(idle0.server_rss_kb(), idle1.server_rss_kb(), open),
                kib_per(idle0.my_rss_kb(), idle1.my_rss_kb(), open)
            );
        }
        if fleet.replicas.len() > 1 && !shared {
            for (((pid, before), (_, after)), r) in idle0
                .replica_rss_kb()
                .into_iter()
                .zip(idle1.replica_rss_kb())
                .zip(&fleet.replicas)
            {
                let held = r.channels.get();
                println!(
                    "  server pid {pid} ({}, {held} channels): {}",
                    r.url,
                    kib_per(before, after, held)
                );
            }
        }
        println!("  {}", idle1.cpu_since(&idle0));
    }

    if let Some(b) = &barrier {
        b.wait("measure", stage_limit).await?;
    }
    // Heartbeats spread over the interval, commands queued, channels churning.
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let end = start + fleet.interval + Duration::from_secs(args.duration);
    phase.send_replace(Phase::Run { start });
    let queueing = Arc::new(Queueing::default());
    if let (Some(admin), Some(script)) = (&admin, &script) {
        let targets = Arc::new(agents.iter().map(|a| a.id).collect::<Vec<_>>());
        tokio::spawn(queue_steadily(
            admin.clone(),
            script.clone(),
            targets,
            args.commands_per_sec,
            end - Duration::from_secs(5),
            fleet.ledger.clone(),
            queueing.clone(),
        ));
    }
    let st = &fleet.stats;
    let progress = |label: &str, since: Instant| {
        println!(
            "  {label} t+{:>4.0}s heartbeats {} errors {} shed {}; channel drops {} reconnects {} lost {}; command results {}",
            since.elapsed().as_secs_f64(),
            st.heartbeats.get(),
            st.heartbeat_errors.get(),
            st.heartbeats_shed.get(),
            st.churn_drops.get(),
            st.reconnects.get(),
            st.channels_lost.get(),
            st.results.get()
        );
    };
    let w0 = Instant::now();
    while tokio::time::Instant::now() + Duration::from_secs(10) < start + fleet.interval {
        tokio::time::sleep(Duration::from_secs(10)).await;
        progress("warm-up", w0);
    }
    tokio::time::sleep_until(start + fleet.interval).await;
    let (hb0, err0, shed0) = (
        st.heartbeats.get(),
        st.heartbeat_errors.get(),
        st.heartbeats_shed.get(),
    );
    let (drops0, rec0, lost0) = (
        st.churn_drops.get(),
        st.reconnects.get(),
        st.channels_lost.get(),
    );
    st.heartbeat_latency.clear();
    st.reconnect_latency.clear();
    let m0 = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    let t0 = Instant::now();
    // Open files (sockets) of each server and of this process, sampled every second: the
    // peaks show whether connections stay bounded under load.
    let fd_peaks: Arc<Vec<std::sync::atomic::AtomicUsize>> = Arc::new(
        (0..=args.server_pid.len())
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect(),
    );
    {
        let (peaks, pids) = (fd_peaks.clone(), args.server_pid.clone());
        tokio::spawn(async move {
            while tokio::time::Instant::now() < end {
                let who = pids
                    .iter()
                    .map(|p| p.to_string())
                    .chain(["self".to_string()]);
                for (peak, pid) in peaks.iter().zip(who) {
                    if let Some(n) = loadgen::procfs::open_files(&pid) {
                        peak.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    // Per server, then their sum (the peak of the sum, not the sum of the peaks).
    let mut peak_rss = vec![0u64; args.server_pid.len()];
    let mut peak_sum = 0u64;
    while tokio::time::Instant::now() < end {
        tokio::time::sleep_until(end.min(tokio::time::Instant::now() + Duration::from_secs(10)))
            .await;
        let now = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
        for (peak, (_, r)) in peak_rss.iter_mut().zip(now.replica_rss_kb()) {
            *peak = (*peak).max(r.unwrap_or_default());
        }
        peak_sum = peak_sum.max(now.server_rss_kb().unwrap_or_default());
        progress("measured", t0);
    }
    let m1 = Snapshot::take(&args.server_pid, args.postgres_db.as_deref());
    let secs = t0.elapsed().as_secs_f64();
    let hb = st.heartbeats.get() - hb0;
    let lat = st.heartbeat_latency.sorted();
    println!(
        "agents {n}, interval {} s, measured {secs:.0} s, channels {}",
        args.interval,
        if args.no_channels { "none" } else { "held" }
    );
    println!(
        "heartbeats {hb} ({:.1}/s, expected {:.1}/s), errors {}, shed {}",
        hb as f64 / secs,
        n as f64 / args.interval as f64,
        st.heartbeat_errors.get() - err0,
        st.heartbeats_shed.get() - shed0
    );
    println!("heartbeat latency {}", summary(&lat));
    if !args.no_channels {
        println!(
            "churn: {} channels dropped, {} reconnected, {} lost otherwise; reconnect (connect to welcome) {}",
            st.churn_drops.get() - drops0,
            st.reconnects.get() - rec0,
            st.channels_lost.get() - lost0,
            summary(&st.reconnect_latency.sorted())
        );
    }
    if script.is_some() {
        println!("{}", queueing.report());
        println!("{}", fleet.ledger.report());
        if fleet.replicas.len() > 1 {
            for line in fleet.ledger.report_per_replica(fleet.replicas.len()) {
                println!("{line}");
            }
        }
        println!(
            "command results posted {}, failed {}; error frames {}",
            st.results.get(),
            st.result_errors.get(),
            st.error_frames.get()
        );
    }
    let peaks: Vec<usize> = fd_peaks
        .iter()
        .map(|p| p.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    println!(
        "open files (peak, sampled each second while measured): {}load generator {}",
        args.server_pid
            .iter()
            .zip(&peaks)
            .map(|(pid, n)| format!("server pid {pid} {n}, "))
            .collect::<Vec<_>>()
            .concat(),
        peaks.last().copied().unwrap_or_default()
    );
    let mib = |kb: u64| kb as f64 / 1024.0;
    for (((pid, cpu), (_, rss)), peak) in m1
        .replica_cpu_since(&m0)
        .into_iter()
        .zip(m1.replica_rss_kb())
        .zip(&peak_rss)
    {
        if let Some(rss) = rss {
            println!(
                "server pid {pid}: CPU {cpu:.1}% of one core, RSS {:.0} MiB (peak {:.0} MiB)",
                mib(rss),
                mib((*peak).max(rss))
            );
        }
    }
    if args.server_pid.len() > 1
        && let (Some(cpu), Some(rss)) = (m1.server_cpu_since(&m0), m1.server_rss_kb())
    {
        println!(
            "servers together: CPU {cpu:.1}% of one core, RSS {:.0} MiB (peak {:.0} MiB)",
            mib(rss),
            mib(peak_sum.max(rss))
        );
    }
    println!("  {}", m1.cpu_since(&m0));
    if let Some(path) = &args.json_out {
        let (delivery_us, queued, missing) = fleet.ledger.delivery();
        Report {
            agents: args.agents,
            enrolled: n,
            enroll_start,
            enroll_end,
            channels_opened: st.channels_opened.get(),
            interval_secs: args.interval,
            measured_secs: secs,
            heartbeats: hb,
            heartbeat_errors: st.heartbeat_errors.get() - err0,
            heartbeats_shed: st.heartbeats_shed.get() - shed0,
            heartbeat_us: lat.clone(),
            commands_queued: queued as u64,
            commands_missing: missing as u64,
            delivery_us,
            churn_drops: st.churn_drops.get() - drops0,
            reconnects: st.reconnects.get() - rec0,
            channels_lost: st.channels_lost.get() - lost0,
            result_errors: st.result_errors.get(),
            open_files_peak: peaks.last().copied().unwrap_or_default(),
            servers: m1
                .replica_cpu_since(&m0)
                .into_iter()
                .zip(m1.replica_rss_kb())
                .zip(&peak_rss)
                .map(|(((pid, cpu), (_, rss)), peak)| ServerUsage {
                    pid,
                    cpu_percent: cpu,
                    rss_kb: rss.unwrap_or_default(),
                    peak_rss_kb: (*peak).max(rss.unwrap_or_default()),
                })
                .collect(),
            idle_rss_kb: idle_rss,
            postgres_cpu_percent: m1.postgres_cpu_since(&m0),
            my_cpu_percent: m1.my_cpu_since(&m0).unwrap_or_default(),
        }
        .write(path)?;
    }

    if args.probe_secs > 0 {
        probe(&args, &fleet, &agents, admin.as_deref(), hb as f64 / secs).await;
    }
    if fleet.replicas.len() > 1 {
        let mut enrolled = vec![0usize; fleet.replicas.len()];
        for a in &agents {
            enrolled[a.replica % fleet.replicas.len()] += 1;
        }
        for (k, (r, agents)) in fleet.replicas.iter().zip(enrolled).enumerate() {
            println!(
                "server {k} {}: {agents} agents, {} channels opened, {} heartbeats",
                r.url,
                r.channels.get(),
                r.heartbeats.get()
            );
        }
    }
    if let Some(b) = &barrier {
        // The fleet runs on until every load generator (the one probing last) is done.
        b.wait("done", stage_limit).await?;
    }
    phase.send_replace(Phase::Stop);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// Closed-loop bursts of `/health`, `/auth/me` and heartbeats while the fleet runs on.
async fn probe(
    args: &Args,
    fleet: &Arc<Fleet>,
    agents: &[Identity],
    admin: Option<&Admin>,
    steady: f64,
) {
    let len = Duration::from_secs(args.probe_secs);
    let c = args.probe_concurrency;
    println!(
        "closed-loop probes, {c} workers, {} s each, the fleet running on:",
        args.probe_secs
    );
    let first = &fleet.replicas[0];
    let client = first.sources.client(0).clone();
    let health_url = format!("{}/health", args.server);
    let health = burst(c, len, move |_, _| {
        let r = client.get(&health_url).send();
        async move { Outcome::of(r.await).await }
    })
    .await;
    println!("  GET /health {}", health.line());
    let me = match admin {
        Some(a) => {
            let token = match a.fresh_token().await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("logging in for the /auth/me probe failed: {e}");
                    a.token().await.unwrap_or_default()
                }
            };
            let client = first.sources.client(0).clone();
            let url = format!("{}/api/v1/auth/me", args.server);
            let b = burst(c, len, move |_, _| {
                let r = client.get(&url).bearer_auth(&token).send();
                async move { Outcome::of(r.await).await }
            })
            .await;
            println!("  GET /api/v1/auth/me {}", b.line());
            Some(b)
        }
        None => None,
    };
    let agents: Arc<Vec<Identity>> = Arc::new(agents.to_vec());
    let f = fleet.clone();
    let hb = burst(c, len, move |w, k| {
        let a = &agents[(w + k as usize * c) % agents.len()];
        let replica = f.replica(a);
        let r = replica
            .sources
            .client(a.src)
            .post(format!("{}{}", replica.url, paths::heartbeat(a.id)))
            .bearer_auth(&a.token)
            .json(&inventory::heartbeat(a.big, false))
            .send();
        async move { Outcome::of(r.await).await }
    })
    .await;
    println!("  POST heartbeat {}", hb.line());
    let h = health.per_sec().max(1e-9);
    println!(
        "ratios to GET /health: heartbeat (closed loop) {:.3}{}; the fleet's steady heartbeats ({steady:.1}/s) {:.4}",
        hb.per_sec() / h,
        me.map_or(String::new(), |m| format!(
            ", /auth/me {:.3}",
            m.per_sec() / h
        )),
        steady / h
    );
}
