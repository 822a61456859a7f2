//! Policy compliance at fleet scale (issue 13): builds N simulated devices in the store
//! (SQLite in a temporary data directory, or `--database-url`), one policy of two rules
//! targeting all of them, and feeds one round of check results per device through the
//! server's own result hook (`policies::on_command_result`: command lookup, policy read,
//! the per-device transaction that moves rule and device counts, events). Then a second
//! round where 10 % of the devices change status (history rows, count moves). Measures:
//!
//! - result ingestion per device (µs), sequential and with `--concurrency` tasks;
//! - the compliance counts read (`GET …/compliance` counts part): one indexed read of
//!   `1 + rules` rows, which must not grow with N;
//! - the per-device compliance list: first page, a page in the middle, a status filter.
//!
//! `cargo run --release -p breeze-bench --bin breeze-bench-policies -- --devices 10000 --devices 100000`

use anyhow::Context;
use breeze_core::PermissionSet;
use breeze_core::scope::{OrgAccess, Scope};
use breeze_proto::agent::{CommandResult, CommandStatus};
use breeze_proto::api::{ComplianceStatus, Enforcement, PolicyRule};
use breeze_proto::ids::{CommandId, DeviceId, OrgId, PartnerId, PolicyId, SiteId};
use breeze_server::state::AppState;
use breeze_store::listing::ListOpts;
use breeze_store::policy_compliance as compliance;
use breeze_store::{Db, Q, orgs, partners, policies, roles, sites};
use chrono::Utc;
use clap::Parser;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Fleet sizes to measure (each in a fresh database).
    #[arg(long, default_values_t = vec![10_000usize])]
    devices: Vec<usize>,
    /// Database (default: SQLite in a temporary data directory). A PostgreSQL URL gets a
    /// fresh schema per run.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent tasks for the concurrent ingestion round.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "engine: {}",
        if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    for n in &args.devices {
        run(*n, args.database_url.as_deref(), args.concurrency).await?;
    }
    Ok(())
}

struct Fleet {
    partner: PartnerId,
    org: OrgId,
    devices: Vec<DeviceId>,
}

async fn fleet(db: &Db, n: usize) -> anyhow::Result<Fleet> {
    let now = Utc::now();
    roles::seed_builtins(db, now).await?;
    let mut tx = db.begin().await?;
    let partner = partners::insert(
        &mut tx,
        &partners::NewPartner {
            name: "Bench",
            slug: "bench",
            partner_type: "msp",
            plan: "pro",
            max_organizations: None,
            max_devices: None,
            billing_email: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let org = orgs::create(
        db,
        partner,
        &orgs::NewOrg {
            name: "Fleet".into(),
            slug: "fleet".into(),
            org_type: "customer".into(),
            status: "active".into(),
            max_devices: None,
            settings: json!({}),
            contract_start: None,
            contract_end: None,
            billing_contact: None,
        },
        now,
    )
    .await?;
    let site: SiteId = sites::create(
        db,
        org,
        &sites::NewSite {
            name: "HQ".into(),
            timezone: "UTC".into(),
            address: None,
            contact: None,
            settings: json!({}),
        },
        now,
    )
    .await?;
    let mut devices = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(500) {
        let end = (chunk_start + 500).min(n);
        let mut q = Q::new(
            "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type, status, tags, \
             created_at, updated_at, enrolled_at) VALUES ",
        );
        for i in chunk_start..end {
            let id = DeviceId::new();
            devices.push(id);
            if i > chunk_start {
                q.push(", ");
            }
            q.push("(")
                .push_bind(id)
                .push(", ")
                .push_bind(org)
                .push(", ")
                .push_bind(site)
                .push(", ")
                .push_bind(id.to_string())
                .push(", ")
                .push_bind(format!("host-{i:06}"))
                .push(", 'linux', 'online', ")
                .push_bind(json!([]))
                .push(", ")
                .push_bind(now)
                .push(", ")
                .push_bind(now)
                .push(", ")
                .push_bind(now)
                .push(")");
        }
        db.exec(q).await?;
    }
    Ok(Fleet {
        partner,
        org,
        devices,
    })
}

/// Mean of `f` over `times` runs, in µs.
async fn mean_us<F, Fut>(times: usize, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let t = Instant::now();
    for _ in 0..times {
        f().await?;
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / times as f64)
}

fn result_for(policy: PolicyId, cmd: CommandId, statuses: [ComplianceStatus; 2]) -> CommandResult {
    let report = json!({"policy_id": policy, "results": [
        {"rule_index": 0, "status": statuses[0], "detail": "installed 1.2.0 < 2.0"},
        {"rule_index": 1, "status": statuses[1], "detail": "present"},
    ]});
    CommandResult {
        command_id: cmd,
        command_type: "policy_check".into(),
        status: CommandStatus::Completed,
        rejection: None,
        exit_code: Some(0),
        stdout: report.to_string(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 5,
        error_message: None,
        started_at: None,
        completed_at: Utc::now(),
    }
}

/// Records a check in flight for every device (the bookkeeping `queue_checks` does next
/// to each signed command), answering the command ids.
async fn note_checks(db: &Db, p: PolicyId, devices: &[DeviceId]) -> anyhow::Result<Vec<CommandId>> {
    let now = Utc::now();
    let mut ids = Vec::with_capacity(devices.len());
    for chunk in devices.chunks(1000) {
        let mut tx = db.begin().await?;
        for d in chunk {
            let id = CommandId::new();
            compliance::note_check_tx(&mut tx, p, *d, id, 1, now).await?;
            ids.push(id);
        }
        tx.commit().await?;
    }
    Ok(ids)
}

/// Feeds one result per device through the server hook with `tasks` concurrent tasks;
/// answers µs per device (wall time / devices).
async fn ingest(
    state: &AppState,
    p: PolicyId,
    devices: &[DeviceId],
    cmds: &[CommandId],
    round: usize,
    tasks: usize,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let per = devices.len().div_ceil(tasks);
    let mut handles = Vec::new();
    for (k, (ds, cs)) in devices.chunks(per).zip(cmds.chunks(per)).enumerate() {
        let state = state.clone();
        let ds = ds.to_vec();
        let cs = cs.to_vec();
        handles.push(tokio::spawn(async move {
            for (i, (d, c)) in ds.iter().zip(&cs).enumerate() {
                let n = k * per + i;
                // Round 0: 70 % compliant, 20 % non-compliant, 10 % error. Later rounds:
                // every tenth device flips.
                let base = match n % 10 {
                    0..=6 => ComplianceStatus::Compliant,
                    7 | 8 => ComplianceStatus::NonCompliant,
                    _ => ComplianceStatus::Error,
                };
                let first = if round > 0 && n % 10 == 3 {
                    ComplianceStatus::NonCompliant
                } else {
                    base
                };
                let r = result_for(p, *c, [first, ComplianceStatus::Compliant]);
                breeze_server::policies::on_command_result(&state, *d, &r).await;
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / devices.len() as f64)
}

async fn run(n: usize, database_url: Option<&str>, concurrency: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = breeze_server::config::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    };
    config.agents.sweep_interval_secs = 3600;
    if let Some(url) = database_url {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let db = Db::connect_pg_schema(url, &schema, &Default::default()).await?;
        db.close().await;
        let sep = if url.contains('?') { '&' } else { '?' };
        config.database_url = Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"));
    }
    let app = breeze_server::App::build(config).await?;
    let state = app.state.clone();
    let db = state.db.clone();
    println!("\n== {n} devices");
    let t = Instant::now();
    let f = fleet(&db, n).await?;
    println!("fleet inserted: {:.1} s", t.elapsed().as_secs_f64());
    let rules = vec![
        PolicyRule::PackageInstalled {
            name: "openssl".into(),
            min_version: Some("2.0".into()),
        },
        PolicyRule::FileExists {
            path: "/etc/motd".into(),
            content: None,
            sha256: None,
            mode: None,
        },
    ];
    let p = policies::create(
        &db,
        &policies::NewPolicy {
            org_id: f.org,
            name: "bench".into(),
            description: None,
            enabled: true,
            enforcement: Enforcement::Monitor,
            targets: json!({"all": true}),
            check_interval_minutes: 60,
            rules,
            remediation_script_id: None,
            remediation_max_attempts: 3,
            created_by: None,
        },
        Utc::now(),
    )
    .await?;
    let targeted: Vec<(DeviceId, OrgId)> = f.devices.iter().map(|d| (*d, f.org)).collect();
    let t = Instant::now();
    compliance::reconcile_for_system(&db, p, &targeted, Utc::now()).await?;
    println!(
        "targets matched (rows + counts, one transaction): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let scope = Scope::partner(f.partner, OrgAccess::All, PermissionSet::everything());
    let counts_us = |label: &'static str| {
        let db = db.clone();
        async move {
            let us = mean_us(2000, || {
                let db = db.clone();
                async move {
                    compliance::counts(&db, p).await?;
                    Ok(())
                }
            })
            .await?;
            println!("counts read ({label}): {us:.0} µs");
            anyhow::Ok(())
        }
    };
    counts_us("before results").await?;

    let t = Instant::now();
    let cmds = note_checks(&db, p, &f.devices).await?;
    println!(
        "checks noted in flight: {:.1} µs/device",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let us = ingest(&state, p, &f.devices, &cmds, 0, 1).await?;
    println!("round 1 (first results, 2 rules; sequential): {us:.0} µs/device");
    let (c, rc) = compliance::counts(&db, p).await?;
    println!("counts: {c:?}; rule 0: {:?}", rc.first().map(|r| r.counts));
    let cmds = note_checks(&db, p, &f.devices).await?;
    let us = ingest(&state, p, &f.devices, &cmds, 1, concurrency).await?;
    println!("round 2 (10 % change status; {concurrency} tasks): {us:.0} µs/device wall");
    let cmds = note_checks(&db, p, &f.devices).await?;
    let us = ingest(&state, p, &f.devices, &cmds, 2, 1).await?;
    println!("round 3 (no change; sequential): {us:.0} µs/device");
    let (c, _) = compliance::counts(&db, p).await?;
    println!("counts: {c:?}");
    anyhow::ensure!(c.total == n as i64, "every device counted");
    counts_us("after results").await?;
    let get_us = mean_us(500, || {
        let db = db.clone();
        let scope = scope.clone();
        async move {
            policies::get(&db, &scope, p).await?;
            Ok(())
        }
    })
    .await?;
    println!("policy with counts (GET /policies/{{id}}): {get_us:.0} µs");
    let types = ["package_installed", "file_exists"];
    for (label, offset, status) in [
        ("first page of 50", 0u64, None),
        ("page of 50 at the middle", n as u64 / 2, None),
        (
            "first 50 non-compliant",
            0,
            Some(ComplianceStatus::NonCompliant),
        ),
    ] {
        let opts = ListOpts {
            limit: 50,
            offset,
            sort: None,
            search: None,
        };
        let us = mean_us(50, || {
            let db = db.clone();
            let scope = scope.clone();
            let opts = opts.clone();
            async move {
                let (rows, _) =
                    compliance::list_devices(&db, &scope, p, &types, status, None, &opts).await?;
                anyhow::ensure!(rows.len() == 50, "a full page");
                Ok(())
            }
        })
        .await?;
        println!("device list, {label}: {:.2} ms", us / 1000.0);
    }
    #[derive(sqlx::FromRow)]
    struct N {
        n: i64,
    }
    let h: N = db
        .one(Q::new(
            "SELECT COUNT(*) AS n FROM policy_compliance_history",
        ))
        .await
        .context("history rows")?;
    println!("history rows after 3 rounds: {}", h.n);
    drop(app);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
