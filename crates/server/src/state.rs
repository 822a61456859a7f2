//! Everything a request handler needs, built once by `App::build`.

use crate::auth::password::Hasher;
use crate::auth::throttle::Throttle;
use crate::config::Config;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::notify::mail::Mailer;
use breeze_core::Clock;
use breeze_store::Db;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub keys: Keys,
    /// Appends audit rows in batches (`crate::audit::AuditWriter`).
    pub audit_writer: crate::audit::AuditWriter,
    pub hasher: Hasher,
    pub throttle: Throttle,
    pub mailer: Mailer,
    pub metrics: Metrics,
    /// Agent channels connected to this process.
    pub hub: crate::dispatch::AgentHub,
    /// Remote sessions whose browser socket this process serves.
    pub relay: crate::relay::sessions::Live,
    /// Stream grants other replicas spent here (`crate::relay::route`).
    pub grants: crate::relay::route::SpentGrants,
    /// Live events for the console's event streams.
    pub events: crate::events::EventBus,
    /// Heartbeat metrics waiting for the batched writer.
    pub metrics_buffer: crate::jobs::MetricsBuffer,
    /// Uses of unlimited enrollment keys waiting to be counted.
    pub key_uses: crate::jobs::KeyUses,
    /// Uses of limited enrollment keys, reserved in batches.
    pub key_reserver: crate::enrollment::KeyReserver,
    /// Coalesced heartbeats waiting for the batched writer.
    pub heartbeats: crate::jobs::heartbeats::HeartbeatBuffer,
    /// The alert engine: rule index, metric windows, open alerts.
    pub alerting: crate::alerting::Engine,
    /// Wakes the delivery worker when a job is queued.
    pub delivery: crate::notify::queue::Wakeup,
    /// Agent binaries served at `/download/agent/{os}-{arch}`, with cached checksums.
    pub agent_dist: crate::agent_dist::AgentDist,
    /// The other replicas (wake-ups, live events, cache invalidation).
    pub cluster: Arc<crate::cluster::Cluster>,
    /// Shutting down: `/ready` answers 503 and new agent channels are refused.
    pub draining: std::sync::atomic::AtomicBool,
    /// SHA-256 of the one-time setup token while setup is open.
    pub setup_token_hash: Mutex<Option<String>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
