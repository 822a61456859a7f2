//! Login and authenticated-request throughput against a real `breeze serve` process on
//! loopback. Starts the server (release build recommended) with a throwaway SQLite data
//! directory (or `--database-url`), completes setup, then runs, for a fixed time each:
//! concurrent logins (argon2id verification dominates) and concurrent authenticated
//! requests (`GET /api/v1/auth/me`, `GET /api/v1/orgs`). Prints requests/s, p50/p99 and
//! errors, plus the argon2 parameters and the cost of one hash.

use anyhow::{Context, bail};
use breeze_bench::stats::{percentile_ms, sorted_micros};
use breeze_client::BreezeClient;
use breeze_proto::api::SetupRequest;
use clap::Parser;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The `breeze` binary to benchmark.
    #[arg(long, default_value = "target/release/breeze")]
    breeze: String,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Database (default: SQLite in a temporary data directory).
    #[arg(long)]
    database_url: Option<String>,
}

const EMAIL: &str = "bench@acme.test";
const PASSWORD: &str = "benchmark password 123";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Phase {
    name: &'static str,
    ok: usize,
    errors: usize,
    lat: Vec<Duration>,
    elapsed: Duration,
}

impl Phase {
    fn print(&self) {
        let lat = sorted_micros(&self.lat);
        println!(
            "| {} | {:.0} | {:.1} | {:.1} | {} |",
            self.name,
            self.ok as f64 / self.elapsed.as_secs_f64(),
            percentile_ms(&lat, 0.50),
            percentile_ms(&lat, 0.99),
            self.errors
        );
    }
}

async fn run_phase<F, Fut>(name: &'static str, secs: u64, concurrency: usize, make: F) -> Phase
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let t = Instant::now();
                if make(w).await {
                    ok += 1;
                    lat.push(t.elapsed());
                } else {
                    err += 1;
                }
            }
            (ok, err, lat)
        }));
    }
    let mut p = Phase {
        name,
        ok: 0,
        errors: 0,
        lat: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        if let Ok((ok, err, lat)) = t.await {
            p.ok += ok;
            p.errors += err;
            p.lat.extend(lat);
        }
    }
    p.elapsed = start.elapsed();
    p
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(&args.breeze);
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir.path())
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(u) = &args.database_url {
        cmd.args(["--database-url", u]);
    }
    let _server = Server(
        cmd.spawn()
            .with_context(|| format!("starting {}", args.breeze))?,
    );
    let client = BreezeClient::new(&format!("http://127.0.0.1:{port}"))?;
    let mut up = false;
    for _ in 0..100 {
        if client.get::<serde_json::Value>("/health").await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!("the server did not come up");
    }
    let token = std::fs::read_to_string(dir.path().join("setup-token"))?
        .trim()
        .to_string();
    client
        .setup(&SetupRequest {
            setup_token: token,
            partner_name: "Bench".into(),
            admin_name: "Bench".into(),
            admin_email: EMAIL.into(),
            admin_password: PASSWORD.into(),
        })
        .await?;
    let authed = client.login_as(EMAIL, PASSWORD).await?;
    for i in 0..20 {
        let _: serde_json::Value = authed
            .post(
                "/api/v1/orgs",
                &serde_json::json!({"name": format!("Customer {i}")}),
            )
            .await?;
    }

    let cfg = breeze_server::config::AuthConfig::default();
    let hasher = breeze_server::auth::password::Hasher::new(&cfg)?;
    let t = Instant::now();
    let n = 10;
    for _ in 0..n {
        hasher.hash(PASSWORD)?;
    }
    println!(
        "argon2: {} — {:.1} ms per hash on this machine (bench process, one core)",
        hasher.describe(),
        t.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
    println!(
        "{} concurrent clients, {} s per phase, server {}",
        args.concurrency, args.seconds, args.breeze
    );
    println!();
    println!("| phase | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    let c = client.clone();
    run_phase(
        "POST /api/v1/auth/login",
        args.seconds,
        args.concurrency,
        move |_| {
            let c = c.clone();
            async move { c.login(EMAIL, PASSWORD).await.is_ok() }
        },
    )
    .await
    .print();
    let a = authed.clone();
    run_phase(
        "GET /api/v1/auth/me",
        args.seconds,
        args.concurrency,
        move |_| {
            let a = a.clone();
            async move { a.me().await.is_ok() }
        },
    )
    .await
    .print();
    let a = authed.clone();
    run_phase(
        "GET /api/v1/orgs (20 rows)",
        args.seconds,
        args.concurrency,
        move |_| {
            let a = a.clone();
            async move { a.orgs().await.is_ok() }
        },
    )
    .await
    .print();
    Ok(())
}
