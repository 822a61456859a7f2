//! The live event bus: handlers and jobs publish what changed (after their database
//! change committed), and every open event stream (`GET /api/v1/events`) takes what its
//! subscriber may see.
//!
//! It is a bounded `tokio::sync::broadcast`: publishing never waits, and a subscriber
//! that falls more than [`CAPACITY`] events behind loses the oldest ones and is told to
//! refetch everything (`resync`). With nobody subscribed, publishing is one atomic load.
//!
//! The broadcast reaches the streams open on *this* replica; [`EventBus::publish`] also
//! hands the event to the other replicas over the cluster bus ([`crate::cluster`]), whose
//! subscriber calls [`EventBus::publish_local_json`]. Events carry ids and a status
//! (`execution.output` also at most one 16 KiB chunk of a script's output), so they fit.

use breeze_core::DeviceCoords;
use breeze_proto::api::LiveEvent;
use breeze_proto::ids::{CommandId, DeviceId, ExecutionId};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Events a subscriber may fall behind by before it gets a `resync`.
pub const CAPACITY: usize = 1024;

/// One published event: where it belongs in the tenancy tree (streams filter on it)
/// and its JSON, serialized once for every subscriber.
#[derive(Debug)]
pub struct Published {
    pub at: DeviceCoords,
    pub json: String,
}

pub struct EventBus {
    tx: broadcast::Sender<Arc<Published>>,
    closed: watch::Sender<bool>,
    /// The other replicas, when the bus belongs to a server.
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum Received {
    Event(Arc<Published>),
    /// Events were dropped for this subscriber: it should refetch everything.
    Lagged,
    /// The server is shutting down.
    Closed,
}

pub struct Subscriber {
    rx: broadcast::Receiver<Arc<Published>>,
    closed: watch::Receiver<bool>,
}

impl Subscriber {
    /// Waits for the next event (cancel-safe: it can be raced in `select!`).
    pub async fn recv(&mut self) -> Received {
        if *self.closed.borrow() {
            return Received::Closed;
        }
        tokio::select! {
            r = self.rx.recv() => match r {
                Ok(e) => Received::Event(e),
                Err(broadcast::error::RecvError::Lagged(_)) => Received::Lagged,
                Err(broadcast::error::RecvError::Closed) => Received::Closed,
            },
            // Any change (or the sender gone) means closed.
            _ = self.closed.changed() => Received::Closed,
        }
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let (closed, _) = watch::channel(false);
        EventBus {
            tx,
            closed,
            cluster: None,
        }
    }

    /// A server's bus: events also go to the other replicas.
    pub fn clustered(cluster: Arc<crate::cluster::Cluster>) -> Self {
        EventBus {
            cluster: Some(cluster),
            ..Self::new(CAPACITY)
        }
    }

    /// Publishes an event about the device at `at`, here and on the other replicas.
    /// Call it once the change it reports is committed.
    pub fn publish(&self, at: DeviceCoords, event: &LiveEvent) {
        let local = self.tx.receiver_count() > 0;
        if !local && self.cluster.is_none() {
            return;
        }
        let json = match serde_json::to_string(event) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "serializing a live event");
                return;
            }
        };
        if let Some(c) = &self.cluster {
            c.event(&at, &json);
        }
        if local {
            self.publish_local_json(at, json);
        }
    }

    /// Hands an event (as JSON) to the streams open in this process.
    pub fn publish_local_json(&self, at: DeviceCoords, json: String) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        // Fails only when every subscriber left meanwhile.
        drop(self.tx.send(Arc::new(Published { at, json })));
    }

    pub fn subscribe(&self) -> Subscriber {
        Subscriber {
            rx: self.tx.subscribe(),
            closed: self.closed.subscribe(),
        }
    }

    /// Open streams in this process.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Ends every stream (server shutdown: graceful shutdown waits for open responses,
    /// and an event stream never ends on its own).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// `device.status` for the device at `at`.
pub fn device_status(at: &DeviceCoords, status: &str) -> LiveEvent {
    LiveEvent::DeviceStatus {
        device_id: at.device_id,
        org_id: at.org_id,
        site_id: at.site_id,
        status: status.to_string(),
    }
}

/// `execution.updated` for a command that carries a script execution, else
/// `command.updated`.
pub fn command_updated(
    device: DeviceId,
    command: CommandId,
    execution: Option<ExecutionId>,
    status: &str,
) -> LiveEvent {
    match execution {
        Some(execution_id) => LiveEvent::ExecutionUpdated {
            device_id: device,
            execution_id,
            command_id: command,
            status: status.to_string(),
        },
        None => LiveEvent::CommandUpdated {
            device_id: device,
            command_id: command,
            status: status.to_string(),
        },
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use breeze_proto::ids::{OrgId, PartnerId, SiteId};

    fn at() -> DeviceCoords {
        DeviceCoords {
            partner_id: PartnerId::new(),
            org_id: OrgId::new(),
            site_id: SiteId::new(),
            device_id: DeviceId::new(),
        }
    }

    fn status(s: &str) -> LiveEvent {
        device_status(&at(), s)
    }

    #[tokio::test]
    async fn subscribers_get_events_in_order_as_json() {
        let bus = EventBus::new(8);
        let mut s = bus.subscribe();
        let a = at();
        bus.publish(a, &status("online"));
        bus.publish(a, &status("offline"));
        for want in ["online", "offline"] {
            match s.recv().await {
                Received::Event(e) => {
                    assert_eq!(e.at, a);
                    let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
                    assert_eq!(v["type"], "device.status");
                    assert_eq!(v["status"], want);
                }
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_to_resync_and_publishers_never_wait() {
        let bus = EventBus::new(2);
        let mut slow = bus.subscribe();
        // Publishing far past capacity returns at once.
        for _ in 0..10 {
            bus.publish(at(), &status("online"));
        }
        assert!(matches!(slow.recv().await, Received::Lagged));
        // After the resync it reads the newest events again.
        assert!(matches!(slow.recv().await, Received::Event(_)));
        assert!(matches!(slow.recv().await, Received::Event(_)));
    }

    #[tokio::test]
    async fn close_ends_every_subscriber() {
        let bus = EventBus::new(2);
        let mut s = bus.subscribe();
        let waiting = tokio::spawn(async move { s.recv().await });
        bus.close();
        assert!(matches!(waiting.await.unwrap(), Received::Closed));
        let mut late = bus.subscribe();
        assert!(matches!(late.recv().await, Received::Closed));
    }

    #[test]
    fn publishing_without_subscribers_is_a_no_op() {
        let bus = EventBus::new(2);
        bus.publish(at(), &status("online"));
        assert_eq!(bus.subscribers(), 0);
        let _s = bus.subscribe();
        assert_eq!(bus.subscribers(), 1);
    }
}
