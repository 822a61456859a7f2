//! `breeze`: the server and its admin tools. Every subcommand finds the same database
//! through the same `--data-dir`, `--database-url` and `--config` options (or `BREEZE_*`).

use anyhow::{Context, bail};
use breeze_core::roles::PARTNER_ADMIN;
use breeze_core::scope::OrgAccess;
use breeze_core::validate::{self, Email};
use breeze_proto::ids::RoleId;
use breeze_server::config::{Config, Overrides};
use breeze_store::{audit, migrations, partners, sessions, users};
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "breeze", version, about = "Breeze RMM server and admin tools")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// Data directory (SQLite database, keys, setup token).
    #[arg(long, global = true, env = "BREEZE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long, global = true, env = "BREEZE_DATABASE_URL")]
    database_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, global = true, env = "BREEZE_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "BREEZE_LOG_FORMAT")]
    log_format: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the server (API and web console).
    Serve {
        /// Address to listen on (default 127.0.0.1:3001).
        #[arg(long, env = "BREEZE_LISTEN")]
        listen: Option<SocketAddr>,
        /// Public URL of the console, for links in e-mails.
        #[arg(long, env = "BREEZE_PUBLIC_URL")]
        public_url: Option<String>,
        /// Directory of agent binaries to serve at /download/agent/{os}-{arch}
        /// (default: next to this executable; see `[agents] dist_dir`).
        #[arg(long, env = "BREEZE_AGENT_DIR")]
        agent_dir: Option<PathBuf>,
        /// NATS server (nats://HOST:4222) shared by the replicas of one cluster; with a
        /// PostgreSQL database URL it is all a replica needs (default: one process).
        #[arg(long, env = "BREEZE_NATS_URL")]
        nats_url: Option<String>,
        /// http://HOST:PORT at which the other replicas reach this one, to relay remote
        /// sessions to the agent channels held here (default: http://<listen>, or the
        /// host name when listening on every address).
        #[arg(long, env = "BREEZE_ADVERTISE_URL")]
        advertise_url: Option<String>,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Manages administrator accounts.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Prints the OpenAPI document the server serves at `/api/openapi.json` (no server,
    /// database or configuration needed); the web console's types are generated from it.
    Openapi,
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Creates a Partner Admin (creating the partner when needed) or, with --system, a platform
    /// operator. The password is read from standard input, or generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Partner name or slug (required unless --system).
        #[arg(long)]
        partner: Option<String>,
        /// A platform operator: may create partners, sees no tenant's data.
        #[arg(long)]
        system: bool,
    },
    /// Sets a new password (from standard input, or generated and printed once) and ends
    /// the account's sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Checks the audit log's hash chain; names any edited or deleted row.
    Verify,
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validates the configuration and checks the database is reachable.
    Check,
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// The configuration, with the common options over `serve`'s own (`Overrides::default()`
/// for every other command).
fn load(common: &Common, serve: Overrides) -> anyhow::Result<Config> {
    Config::load(
        common.config.as_deref(),
        Overrides {
            data_dir: common.data_dir.clone(),
            database_url: common.database_url.clone(),
            log_format: common.log_format.clone(),
            ..serve
        },
    )
}

/// A password from standard input when it is piped, else a generated one (printed once).
fn password_from_stdin_or_generate() -> anyhow::Result<(String, bool)> {
    let mut stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut s = String::new();
        stdin
            .read_to_string(&mut s)
            .context("reading the password from standard input")?;
        let p = s.trim_end_matches(['\r', '\n']).to_string();
        if !p.is_empty() {
            validate::password("password", &p).map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok((p, false));
        }
    }
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let p: String = (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Ok((p, true))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let ok = std::process::ExitCode::SUCCESS;
    match cli.cmd {
        Cmd::Openapi => {
            let doc = breeze_server::openapi::document();
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ok)
        }
        Cmd::Serve {
            listen,
            public_url,
            agent_dir,
            nats_url,
            advertise_url,
        } => {
            let config = load(
                &cli.common,
                Overrides {
                    listen,
                    public_url,
                    agent_dir,
                    nats_url,
                    advertise_url,
                    ..Overrides::default()
                },
            )?;
            init_logs(&config.log_format);
            let app = breeze_server::App::build(config).await?;
            app.run_until(async {
                let ctrl_c = tokio::signal::ctrl_c();
                #[cfg(unix)]
                {
                    let mut term = match tokio::signal::unix::signal(
                        tokio::signal::unix::SignalKind::terminate(),
                    ) {
                        Ok(t) => t,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            return;
                        }
                    };
                    tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
                }
                #[cfg(not(unix))]
                {
                    let _ = ctrl_c.await;
                }
                tracing::info!("shutting down");
            })
            .await?;
            Ok(ok)
        }
        Cmd::Migrate => {
            let config = load(&cli.common, Overrides::default())?;
            init_logs(&config.log_format);
            let db = breeze_server::open_db(&config).await?;
            let applied = migrations::migrate(&db).await?;
            println!(
                "schema at version {} (applied now: {:?})",
                migrations::latest_version(),
                applied
            );
            Ok(ok)
        }
        Cmd::Config {
            cmd: ConfigCmd::Check,
        } => {
            let config = load(&cli.common, Overrides::default())?;
            let db = breeze_server::open_db(&config).await?;
            db.ping().await?;
            println!("configuration OK");
            println!("  data dir:  {}", config.data_dir.display());
            println!(
                "  database:  {} ({:?})",
                breeze_server::redact(&config.database_url()),
                db.engine()
            );
            println!("  listen:    {}", config.listen);
            println!("  public:    {}", config.public_url());
            println!(
                "  smtp:      {}",
                config
                    .smtp
                    .as_ref()
                    .map_or("not configured".to_string(), |s| format!(
                        "{}:{}",
                        s.host, s.port
                    ))
            );
            Ok(ok)
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify,
        } => {
            let config = load(&cli.common, Overrides::default())?;
            let db = breeze_server::open_db(&config).await?;
            let (checked, problems) = audit::verify(&db).await?;
            if problems.is_empty() {
                println!("audit log OK: {checked} rows, hash chain intact");
                Ok(ok)
            } else {
                println!(
                    "audit log TAMPERED: {} problem(s) in {checked} rows",
                    problems.len()
                );
                for p in &problems {
                    println!("  {p}");
                }
                Ok(std::process::ExitCode::FAILURE)
            }
        }
        Cmd::Admin { cmd } => {
            let config = load(&cli.common, Overrides::default())?;
            let db = breeze_server::open_db(&config).await?;
            migrations::migrate(&db).await?;
            let now = chrono::Utc::now();
            breeze_store::roles::seed_builtins(&db, now).await?;
            match cmd {
                AdminCmd::Create {
                    email,
                    name,
                    partner,
                    system,
                } => {
                    let email =
                        Email::parse("email", &email).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let name =
                        validate::name("name", &name, 200).map_err(|e| anyhow::anyhow!("{e}"))?;
                    if system == partner.is_some() {
                        bail!(
                            "give either --partner NAME (a Partner Admin) or --system (a platform operator)"
                        );
                    }
                    let (password, generated) = password_from_stdin_or_generate()?;
                    let hasher = breeze_server::auth::password::Hasher::new(&config.auth)?;
                    let hash = hasher.hash(&password)?;
                    let mut tx = db.begin().await?;
                    let uid = users::insert(
                        &mut tx,
                        &users::NewUser {
                            email: &email,
                            name: &name,
                            password_hash: Some(&hash),
                            status: "active",
                            is_platform_admin: system,
                        },
                        now,
                    )
                    .await?;
                    let mut partner_id = None;
                    if let Some(p) = &partner {
                        let pid = match partners::find_for_admin(&db, p).await? {
                            Some(id) => id,
                            None => {
                                let pname = validate::name("partner", p, 200)
                                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                                let slug = validate::slugify(&pname);
                                partners::insert(
                                    &mut tx,
                                    &partners::NewPartner {
                                        name: &pname,
                                        slug: &slug,
                                        partner_type: "msp",
                                        plan: "unlimited",
                                        max_organizations: None,
                                        max_devices: None,
                                        billing_email: None,
                                    },
                                    now,
                                )
                                .await?
                            }
                        };
                        users::add_partner_member(
                            &mut tx,
                            pid,
                            uid,
                            RoleId(PARTNER_ADMIN),
                            &OrgAccess::All,
                            now,
                        )
                        .await?;
                        partner_id = Some(pid);
                    }
                    tx.commit().await?;
                    let ev = breeze_store::audit::NewAudit {
                        partner_id,
                        org_id: None,
                        actor_type: "system".into(),
                        actor_id: None,
                        actor_email: Some("breeze-cli".into()),
                        action: if system {
                            "admin.create_operator".into()
                        } else {
                            "admin.create_partner_admin".into()
                        },
                        resource_type: "user".into(),
                        resource_id: Some(uid.to_string()),
                        resource_name: Some(email.to_string()),
                        details: serde_json::json!({"partner": partner}),
                        ip_address: None,
                        user_agent: Some("breeze-cli".into()),
                        result: "success".into(),
                        error_message: None,
                        site_id: None,
                        device_id: None,
                    };
                    audit::append(&db, &ev, now).await?;
                    let _ = std::fs::remove_file(config.data_dir.join("setup-token"));
                    println!(
                        "created {} {} ({})",
                        if system {
                            "platform operator"
                        } else {
                            "Partner Admin"
                        },
                        email,
                        uid
                    );
                    if generated {
                        println!("password (shown once): {password}");
                    }
                    Ok(ok)
                }
                AdminCmd::ResetPassword { email } => {
                    let email =
                        Email::parse("email", &email).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let user = users::by_email_for_auth(&db, &email)
                        .await?
                        .with_context(|| format!("no account {email}"))?;
                    let (password, generated) = password_from_stdin_or_generate()?;
                    let hasher = breeze_server::auth::password::Hasher::new(&config.auth)?;
                    users::set_password(&db, user.id(), &hasher.hash(&password)?, now).await?;
                    sessions::revoke_all_for_user(
                        &db,
                        user.id(),
                        "password reset by administrator",
                        now,
                    )
                    .await?;
                    let ev = breeze_store::audit::NewAudit {
                        partner_id: None,
                        org_id: None,
                        actor_type: "system".into(),
                        actor_id: None,
                        actor_email: Some("breeze-cli".into()),
                        action: "admin.reset_password".into(),
                        resource_type: "user".into(),
                        resource_id: Some(user.id.to_string()),
                        resource_name: Some(email.to_string()),
                        details: serde_json::json!({}),
                        ip_address: None,
                        user_agent: Some("breeze-cli".into()),
                        result: "success".into(),
                        error_message: None,
                        site_id: None,
                        device_id: None,
                    };
                    audit::append(&db, &ev, now).await?;
                    println!("password reset for {email}; their sessions were ended");
                    if generated {
                        println!("new password (shown once): {password}");
                    }
                    Ok(ok)
                }
            }
        }
    }
}
