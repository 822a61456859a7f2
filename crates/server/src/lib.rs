//! The Breeze server: HTTP API, authentication, audit, jobs. `App::build(config)` makes a
//! server from a configuration value; tests build several side by side.

pub mod agent_dist;
pub mod alerting;
pub mod audit;
pub mod auth;
pub mod automations;
pub mod cluster;
pub mod config;
pub mod dispatch;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod extract;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod overload;
pub mod policies;
pub mod relay;
pub mod routes;
pub mod state;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use breeze_core::{Clock, SystemClock};
use breeze_store::{Db, DbOptions, migrations, roles, users};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

pub struct App {
    pub state: AppState,
    router: Router,
    listener: TcpListener,
    /// The separate `[metrics] listen` address, when configured.
    metrics_listener: Option<TcpListener>,
    jobs: jobs::Jobs,
    /// Acts on what the other replicas publish.
    cluster_task: tokio::task::JoinHandle<()>,
}

impl App {
    /// Opens the database (running migrations), loads or creates keys, opens first-run setup
    /// when no user exists, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        Self::build_with(config, clock, None).await
    }

    /// As [`App::build_with_clock`], on the given cluster bus instead of the configured one
    /// (tests run two replicas in one process on one [`cluster::LocalBus`]).
    pub async fn build_with(
        mut config: Config,
        clock: Arc<dyn Clock>,
        bus: Option<Arc<dyn cluster::PubSub>>,
    ) -> anyhow::Result<App> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let db = open_db(&config).await?;
        migrations::migrate(&db)
            .await
            .context("running migrations")?;
        roles::seed_builtins(&db, clock.now())
            .await
            .context("writing built-in roles")?;
        let keys = keys::Keys::load(
            &config.data_dir,
            config.master_key.as_ref(),
            config.signing_key.as_ref(),
        )?;
        let hasher = auth::password::Hasher::new(&config.auth)?;
        let mailer = notify::mail::Mailer::new(config.smtp.as_ref())?;
        let throttle = auth::throttle::Throttle::new(
            chrono::Duration::seconds(config.auth.throttle_window_secs),
            config.auth.max_failures_per_account,
            config.auth.max_failures_per_ip,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        if config.advertise_url.is_none() {
            // The port actually bound (`:0` picks one).
            config.advertise_url = Some(config.advertise_url_at(listener.local_addr()?));
        }
        let metrics_listener = match config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening on {addr} for metrics"))?,
            ),
            None => None,
        };
        let replica = cluster::new_replica_id();
        let (bus, alone): (Arc<dyn cluster::PubSub>, bool) = match (bus, &config.nats_url) {
            (Some(b), _) => (b, false),
            (None, Some(url)) => (cluster::NatsBus::connect(url, &replica).await?, false),
            (None, None) => (Arc::new(cluster::LocalBus::default()), true),
        };
        let cluster = cluster::Cluster::new(bus, replica, &config.nats_prefix);
        let cluster = Arc::new(if alone { cluster.alone() } else { cluster });
        let incoming = cluster.incoming().await?;
        tracing::info!(
            replica = cluster.replica(),
            bus = cluster.kind(),
            advertise_url = %config.advertise_url(),
            "cluster bus ready"
        );
        let alerting = alerting::Engine::default();
        alerting.set_cluster(cluster.clone());
        let audit_writer = audit::AuditWriter::spawn(db.clone());
        let key_reserver = enrollment::KeyReserver::spawn(db.clone());
        let state = AppState(Arc::new(state::Inner {
            db,
            clock,
            keys,
            hasher,
            throttle,
            mailer,
            metrics: metrics::Metrics::new(),
            hub: dispatch::AgentHub::new(cluster.clone()),
            relay: relay::sessions::Live::default(),
            grants: Default::default(),
            audit_writer,
            events: events::EventBus::clustered(cluster.clone()),
            metrics_buffer: jobs::MetricsBuffer::default(),
            heartbeats: jobs::heartbeats::HeartbeatBuffer::default(),
            key_uses: jobs::KeyUses::default(),
            key_reserver,
            alerting,
            cluster,
            draining: std::sync::atomic::AtomicBool::new(false),
            delivery: notify::queue::Wakeup::default(),
            setup_token_hash: Mutex::new(None),
            agent_dist: agent_dist::AgentDist::new(config.agents.dist_dir.as_deref()),
            config,
        }));
        routes::setup::open_if_needed(&state).await?;
        routes::downloads::log_available(&state).await;
        let router =
            routes::router(state.clone()).layer(DefaultBodyLimit::max(state.config.max_body_bytes));
        let jobs = jobs::spawn(&state);
        let cluster_task = tokio::spawn(cluster::serve(state.clone(), incoming));
        Ok(App {
            state,
            router,
            listener,
            metrics_listener,
            jobs,
            cluster_task,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The address of the separate metrics listener, when `[metrics] listen` is set.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        Ok(match &self.metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        })
    }

    /// Serves until `shutdown` resolves, then drains: `/ready` answers 503, new agent
    /// channels are refused, connected agents are told to reconnect (through the same
    /// address, so a proxy sends them to another replica) and given up to
    /// `[server] drain_secs` to go; then the listener closes and in-flight requests
    /// finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "breeze is listening");
        let state = self.state.clone();
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let metrics_server = self.metrics_listener.map(|l| {
            let router = routes::ops::metrics_only(self.state.clone());
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(l, router).with_graceful_shutdown(stopped).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        // No Nagle delay: a terminal keystroke or a command frame goes out at once
        // (measured: ~40 ms added per round trip without it).
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            drain(&state).await;
            let _ = stop_tx.send(true);
            // Event streams never end on their own; graceful shutdown waits for them.
            state.events.close();
        })
        .await?;
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        self.jobs.stop().await;
        self.cluster_task.abort();
        self.state.db.close().await;
        Ok(())
    }
}

/// The start of a shutdown: stop looking ready, send the agents elsewhere, and wait (up
/// to `[server] drain_secs`) until their channels are gone.
async fn drain(state: &AppState) {
    use std::sync::atomic::Ordering;
    state.draining.store(true, Ordering::SeqCst);
    let channels = state.hub.connected();
    let budget = std::time::Duration::from_secs(state.config.server.drain_secs);
    tracing::info!(channels, "draining: agents are told to reconnect elsewhere");
    state.hub.drain(budget);
    let started = std::time::Instant::now();
    while state.hub.connected() > 0 && started.elapsed() < budget {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tracing::info!(
        left = state.hub.connected(),
        took_ms = started.elapsed().as_millis() as u64,
        "drained"
    );
}

pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let url = config.database_url();
    Db::connect(
        &url,
        &DbOptions {
            max_connections: config.db_max_connections,
        },
    )
    .await
    .with_context(|| format!("opening database {}", redact(&url)))
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Whether any user exists (setup done).
pub async fn has_users(db: &Db) -> anyhow::Result<bool> {
    Ok(users::count(db).await? > 0)
}
