//! `breeze-agent`: enroll, run, status, install, uninstall.

use anyhow::{Context as _, Result};
use breeze_agent::config::{FileConfig, default_state_dir};
use breeze_agent::enroll::{EnrollOptions, Enrollment};
use breeze_agent::state::{Credentials, ServiceStatus, StateDir};
use breeze_proto::ids::SiteId;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "breeze-agent", version, about = "Breeze RMM endpoint agent")]
struct Cli {
    /// Config file (TOML). Default: /etc/breeze-agent/agent.toml when it exists.
    #[arg(long, global = true, env = "BREEZE_AGENT_CONFIG")]
    config: Option<PathBuf>,
    /// State directory (credentials, outbox). Default: /var/lib/breeze-agent as
    /// root, else ~/.local/state/breeze-agent.
    #[arg(long, global = true, env = "BREEZE_AGENT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enroll this machine with a Breeze server.
    Enroll {
        /// Server base URL, e.g. https://rmm.example.com
        #[arg(long, env = "BREEZE_AGENT_SERVER")]
        server: Option<String>,
        /// Site enrollment key.
        #[arg(
            long,
            env = "BREEZE_AGENT_ENROLLMENT_KEY",
            conflicts_with = "token",
            required_unless_present = "token",
            hide_env_values = true
        )]
        key: Option<String>,
        /// Single-use device enrollment token.
        #[arg(long, env = "BREEZE_AGENT_ENROLLMENT_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Site to enroll into (when the key allows several).
        #[arg(long)]
        site: Option<SiteId>,
        /// Enroll again even if credentials exist.
        #[arg(long)]
        force: bool,
    },
    /// Run the agent in the foreground (what the service runs).
    Run,
    /// Show enrollment and service state.
    Status,
    /// Install and start the OS service (systemd on Linux).
    Install,
    /// Stop and remove the OS service.
    Uninstall,
}

fn init_tracing(filter: Option<&str>) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| filter.map(str::to_string))
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let file = FileConfig::load(cli.config.as_deref())?;
    init_tracing(file.log.as_deref());
    breeze_agent::tls::install_crypto_provider();
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(|| file.state_dir.clone())
        .unwrap_or_else(default_state_dir);
    match cli.command {
        Cmd::Enroll {
            server,
            key,
            token,
            site,
            force,
        } => {
            let server = server
                .or_else(|| file.server_url.clone())
                .context("--server is required (or server_url in the config file)")?;
            let enrollment = match (key, token) {
                (Some(k), _) => Enrollment::Key(SecretString::from(k)),
                (None, Some(t)) => Enrollment::Token(SecretString::from(t)),
                (None, None) => anyhow::bail!("give --key or --token"),
            };
            let creds = breeze_agent::enroll::enroll(EnrollOptions {
                server: &server,
                enrollment,
                site_id: site,
                state_dir: &state_dir,
                ca_cert: file.ca_cert.as_deref(),
                force,
            })
            .await?;
            println!(
                "enrolled: agent {} (device {}) with {}",
                creds.agent_id, creds.device_id, creds.server_url
            );
            println!(
                "credentials: {}",
                StateDir::at(&state_dir).credentials().display()
            );
            println!("{}", next_steps(&state_dir, cli.config.as_deref()));
        }
        Cmd::Run => {
            breeze_agent::service::run(breeze_agent::service::RunOptions {
                state_dir,
                ca_cert: file.ca_cert.clone(),
                remote: file.remote.clone(),
            })
            .await?;
        }
        Cmd::Status => print_status(&state_dir)?,
        Cmd::Install => println!(
            "{}",
            breeze_agent::install::install(&state_dir, cli.config.as_deref())?
        ),
        Cmd::Uninstall => println!("{}", breeze_agent::install::uninstall()?),
    }
    Ok(())
}

/// What to do after enrolling: the device shows "waiting for first check-in" until the
/// agent runs.
fn next_steps(state_dir: &std::path::Path, config: Option<&std::path::Path>) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "breeze-agent".into());
    let config = config
        .map(|c| format!(" --config {}", c.display()))
        .unwrap_or_default();
    let base = format!("{exe}{config} --state-dir {}", state_dir.display());
    format!(
        "next: start the agent; the device shows \"waiting for first check-in\" until it does.\n  \
         as a service (Linux, as root): {base} install\n  \
         in the foreground:             {base} run"
    )
}

fn print_status(state_dir: &std::path::Path) -> Result<()> {
    let state = StateDir::at(state_dir);
    println!("state dir:      {}", state_dir.display());
    let Some(creds) = Credentials::load(&state)? else {
        println!("enrolled:       no");
        return Ok(());
    };
    println!("enrolled:       yes, {}", creds.enrolled_at.to_rfc3339());
    println!("server:         {}", creds.server_url);
    println!("agent id:       {}", creds.agent_id);
    println!("org / site:     {} / {}", creds.org_id, creds.site_id);
    println!(
        "token rotation: {}",
        if creds.pending_token.is_some() {
            "pending confirmation"
        } else {
            "none pending"
        }
    );
    println!(
        "heartbeat:      every {} s",
        creds.config.heartbeat_interval_secs
    );
    match ServiceStatus::load(&state)? {
        Some(s) => {
            let when = s
                .last_heartbeat_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into());
            println!(
                "last heartbeat: {when} ({})",
                if s.last_heartbeat_ok { "ok" } else { "failed" }
            );
            if let Some(e) = s.last_error {
                println!("last error:     {e}");
            }
            println!(
                "channel:        {}",
                if s.channel_connected {
                    "connected"
                } else {
                    "not connected"
                }
            );
        }
        None => println!("last heartbeat: never (the service has not run yet)"),
    }
    let outbox = breeze_agent::outbox::Outbox::open(state.outbox())
        .map(|o| o.len())
        .unwrap_or(0);
    println!("results queued: {outbox}");
    Ok(())
}
