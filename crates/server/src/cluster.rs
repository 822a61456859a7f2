//! Fan-out between replicas (issue 14): what one `breeze serve` process must tell the
//! others, over a publish/subscribe bus.
//!
//! - **Wake-ups** (`<prefix>.wake`): "device X has queued commands". The command is in the
//!   database; the replica that holds X's channel wakes its task, which takes the queue. A
//!   replica that holds the channel itself wakes it directly and publishes nothing.
//! - **Disconnects** (`<prefix>.disconnect`): close X's channel wherever it is
//!   (decommissioned, token suspended).
//! - **Live events** (`<prefix>.events`): a change made on replica A reaches the console's
//!   event streams open on replica B.
//! - **Cache invalidation** (`<prefix>.invalidate`): the alert engine's rule index and
//!   device facts are cached per process; a rule changed through A must reload on B.
//! - **Locating a channel** (`<prefix>.locate`, answered on `<prefix>.located.<token>`):
//!   "who holds X's channel?"; the holder answers with its advertised URL, and the asker
//!   carries a remote session's streams there (`crate::relay::route`).
//! - **Ending a session** (`<prefix>.end_session`): `DELETE` of a remote session reaches
//!   the replica whose socket task serves it.
//! - **Recordings** (`<prefix>.locate_recording`, `<prefix>.delete_recording`): a terminal
//!   recording is a file in the data directory of the replica that served the session;
//!   another replica finds it to replay it, and the retention sweep has it deleted there.
//!
//! Every message carries the publishing replica's id; a replica ignores its own (it
//! already acted locally). The bus is best effort by design: a lost wake-up costs
//! latency (the agent's next heartbeat takes the queue), never a command; a lost event
//! costs a console refresh.
//!
//! Two implementations of [`PubSub`]: [`LocalBus`] (in-process, the single-node default;
//! tests also share one between two `App`s) and [`NatsBus`] (NATS core pub/sub, when
//! `nats_url` is configured). Why NATS rather than PostgreSQL `LISTEN/NOTIFY`: see the
//! README's "Running several replicas".

use anyhow::Context as _;
use breeze_core::DeviceCoords;
use breeze_proto::ids::{AlertRuleId, DeviceId, OrgId, PartnerId, RemoteSessionId, SiteId};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Messages a local subscriber may fall behind by before it loses the oldest.
const LOCAL_CAPACITY: usize = 4096;
/// Publishes waiting for the NATS connection before new ones are dropped (counted).
const NATS_QUEUE: usize = 16_384;

/// Whether the bus can carry messages now (for `/ready`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusStatus {
    pub ok: bool,
    pub detail: String,
}

/// A publish/subscribe transport between replicas.
pub trait PubSub: Send + Sync + 'static {
    /// Publishes without waiting (fire and forget; see the module docs for why that is
    /// enough).
    fn publish(&self, subject: &str, payload: Bytes);
    /// Every message published on `subject` from now on.
    fn subscribe(&self, subject: &str) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, Bytes>>>;
    fn status(&self) -> BusStatus;
    /// `local` or `nats`, for logs and `/ready`.
    fn kind(&self) -> &'static str;
}

/// The in-process bus: a broadcast channel per subject.
#[derive(Default)]
pub struct LocalBus {
    subjects: Mutex<HashMap<String, broadcast::Sender<Bytes>>>,
}

impl LocalBus {
    fn sender(&self, subject: &str) -> broadcast::Sender<Bytes> {
        self.subjects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(subject.to_string())
            .or_insert_with(|| broadcast::channel(LOCAL_CAPACITY).0)
            .clone()
    }
}

impl PubSub for LocalBus {
    fn publish(&self, subject: &str, payload: Bytes) {
        // Fails only when nobody subscribed: nothing to deliver.
        let _ = self.sender(subject).send(payload);
    }

    fn subscribe(&self, subject: &str) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, Bytes>>> {
        let rx = self.sender(subject).subscribe();
        Box::pin(async move {
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(b) => return Some((b, rx)),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(lost = n, "a local bus subscriber fell behind");
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            Ok(stream.boxed())
        })
    }

    fn status(&self) -> BusStatus {
        BusStatus {
            ok: true,
            detail: "in-process".into(),
        }
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

/// NATS core pub/sub (`async-nats`). Publishes go through a bounded queue to one task, so
/// a publisher never waits on the network; the client reconnects by itself, and
/// subscriptions survive a reconnect.
pub struct NatsBus {
    client: async_nats::Client,
    out: mpsc::Sender<(String, Bytes)>,
    dropped: std::sync::atomic::AtomicU64,
}

impl NatsBus {
    /// Connects (failing when the server cannot be reached within a few seconds, so a
    /// misconfigured replica does not start), then reconnects on its own after any loss.
    pub async fn connect(url: &str, name: &str) -> anyhow::Result<Arc<NatsBus>> {
        let client = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            async_nats::ConnectOptions::new()
                .name(name)
                .connection_timeout(std::time::Duration::from_secs(5))
                .connect(url),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting to NATS at {url} timed out"))?
        .with_context(|| format!("connecting to NATS at {url}"))?;
        let (out, mut rx) = mpsc::channel::<(String, Bytes)>(NATS_QUEUE);
        let publisher = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = rx.recv().await {
                if let Err(e) = publisher.publish(subject, payload).await {
                    tracing::warn!(error = %e, "publishing on NATS failed");
                }
            }
        });
        Ok(Arc::new(NatsBus {
            client,
            out,
            dropped: Default::default(),
        }))
    }
}

impl PubSub for NatsBus {
    fn publish(&self, subject: &str, payload: Bytes) {
        if self.out.try_send((subject.to_string(), payload)).is_err() {
            let n = self
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n + 1,
                    "the NATS publish queue is full; messages dropped"
                );
            }
        }
    }

    fn subscribe(&self, subject: &str) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, Bytes>>> {
        let subject = subject.to_string();
        Box::pin(async move {
            let sub = self
                .client
                .subscribe(subject.clone())
                .await
                .with_context(|| format!("subscribing to {subject} on NATS"))?;
            Ok(sub.map(|m| m.payload).boxed())
        })
    }

    fn status(&self) -> BusStatus {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => BusStatus {
                ok: true,
                detail: "connected".into(),
            },
            other => BusStatus {
                ok: false,
                detail: format!("NATS {other:?}").to_lowercase(),
            },
        }
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}

/// A cache to drop on every replica (see [`Cluster::invalidate`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Invalidate {
    AlertRule { rule: AlertRuleId },
    AlertTargets,
    AlertDevice { device: DeviceId },
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    origin: String,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize, Deserialize)]
struct DeviceMsg {
    device: DeviceId,
}

#[derive(Serialize, Deserialize)]
struct EventMsg {
    partner_id: PartnerId,
    org_id: OrgId,
    site_id: SiteId,
    device_id: DeviceId,
    /// The event's JSON, as the streams send it.
    json: String,
}

#[derive(Serialize, Deserialize)]
struct LocateMsg {
    device: DeviceId,
    nonce: String,
    /// The asker's reply token: answers go to `<prefix>.located.<reply>`.
    reply: String,
}

#[derive(Serialize, Deserialize)]
struct LocatedMsg {
    nonce: String,
    url: String,
}

#[derive(Serialize, Deserialize)]
struct LocateRecordingMsg {
    session: RemoteSessionId,
    nonce: String,
    reply: String,
}

#[derive(Serialize, Deserialize)]
struct SessionMsg {
    session: RemoteSessionId,
}

#[derive(Serialize, Deserialize)]
struct EndSessionMsg {
    session: RemoteSessionId,
    reason: String,
}

/// What arrived from another replica.
#[derive(Debug)]
pub enum Incoming {
    Wake(DeviceId),
    Disconnect(DeviceId),
    Event(DeviceCoords, String),
    Invalidate(Invalidate),
    /// Another replica asks who holds `device`'s channel.
    Locate {
        device: DeviceId,
        nonce: String,
        reply: String,
    },
    /// An answer to this replica's [`Cluster::locate`].
    Located {
        nonce: String,
        url: String,
    },
    EndSession {
        session: RemoteSessionId,
        reason: String,
    },
    /// Another replica asks who has `session`'s recording file.
    LocateRecording {
        session: RemoteSessionId,
        nonce: String,
        reply: String,
    },
    /// The recording of `session` is past retention: delete the file if it is here.
    DeleteRecording(RemoteSessionId),
}

const SUBJECTS: [&str; 8] = [
    "wake",
    "disconnect",
    "events",
    "invalidate",
    "locate",
    "end_session",
    "locate_recording",
    "delete_recording",
];

/// This replica's side of the bus.
pub struct Cluster {
    bus: Arc<dyn PubSub>,
    replica: String,
    prefix: String,
    /// This replica's reply token (subject-safe, unlike the replica id).
    reply: String,
    /// Whether no other replica can be on the bus (the private in-process bus).
    alone: bool,
    /// Locates waiting for an answer, by nonce.
    pending: Mutex<HashMap<String, oneshot::Sender<String>>>,
}

impl Cluster {
    pub fn new(bus: Arc<dyn PubSub>, replica: String, prefix: &str) -> Cluster {
        Cluster {
            bus,
            replica,
            prefix: prefix.to_string(),
            reply: format!("{:016x}", rand::random::<u64>()),
            alone: false,
            pending: Mutex::default(),
        }
    }

    /// A single process: an in-process bus nobody else listens on.
    pub fn single() -> Cluster {
        Cluster::new(Arc::new(LocalBus::default()), new_replica_id(), "breeze").alone()
    }

    /// Marks this replica as the only one (its bus is private): [`Cluster::locate`]
    /// answers at once.
    pub fn alone(mut self) -> Cluster {
        self.alone = true;
        self
    }

    /// Whether other replicas may share the bus.
    pub fn has_peers(&self) -> bool {
        !self.alone
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    pub fn status(&self) -> BusStatus {
        self.bus.status()
    }

    pub fn kind(&self) -> &'static str {
        self.bus.kind()
    }

    fn subject(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    fn send<T: Serialize>(&self, name: &str, body: T) {
        let env = Envelope {
            origin: self.replica.clone(),
            body,
        };
        match serde_json::to_vec(&env) {
            Ok(v) => self.bus.publish(&self.subject(name), Bytes::from(v)),
            Err(e) => tracing::error!(error = %e, "serializing a cluster message"),
        }
    }

    /// Asks the replica holding `device`'s channel to take its queue.
    pub fn wake(&self, device: DeviceId) {
        self.send("wake", DeviceMsg { device });
    }

    /// Asks every replica to close `device`'s channel.
    pub fn disconnect(&self, device: DeviceId) {
        self.send("disconnect", DeviceMsg { device });
    }

    /// Hands a live event (already serialized) to the other replicas' streams.
    pub fn event(&self, at: &DeviceCoords, json: &str) {
        self.send(
            "events",
            EventMsg {
                partner_id: at.partner_id,
                org_id: at.org_id,
                site_id: at.site_id,
                device_id: at.device_id,
                json: json.to_string(),
            },
        );
    }

    pub fn invalidate(&self, what: Invalidate) {
        self.send("invalidate", what);
    }

    /// Asks the other replicas to end a remote session whose socket one of them serves.
    pub fn end_session(&self, session: RemoteSessionId, reason: &str) {
        self.send(
            "end_session",
            EndSessionMsg {
                session,
                reason: reason.to_string(),
            },
        );
    }

    /// The advertised URL of the replica holding `device`'s channel, when one answers
    /// within `timeout` (the first answer wins). None at once when this replica is alone.
    pub async fn locate(&self, device: DeviceId, timeout: std::time::Duration) -> Option<String> {
        self.ask(timeout, |nonce, reply| {
            self.send(
                "locate",
                LocateMsg {
                    device,
                    nonce,
                    reply,
                },
            )
        })
        .await
    }

    /// The advertised URL of the replica whose data directory has `session`'s
    /// recording, as [`Cluster::locate`].
    pub async fn locate_recording(
        &self,
        session: RemoteSessionId,
        timeout: std::time::Duration,
    ) -> Option<String> {
        self.ask(timeout, |nonce, reply| {
            self.send(
                "locate_recording",
                LocateRecordingMsg {
                    session,
                    nonce,
                    reply,
                },
            )
        })
        .await
    }

    /// Asks every other replica to delete `session`'s recording file if it has it.
    pub fn delete_recording(&self, session: RemoteSessionId) {
        self.send("delete_recording", SessionMsg { session });
    }

    /// Publishes a question (`publish(nonce, reply token)`) and waits for its first answer.
    async fn ask(
        &self,
        timeout: std::time::Duration,
        publish: impl FnOnce(String, String),
    ) -> Option<String> {
        if self.alone {
            return None;
        }
        let nonce = format!("{:032x}", rand::random::<u128>());
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(nonce.clone(), tx);
        publish(nonce.clone(), self.reply.clone());
        let found = tokio::time::timeout(timeout, rx)
            .await
            .ok()
            .and_then(Result::ok);
        self.lock_pending().remove(&nonce);
        found
    }

    /// Answers another replica's locate (of a channel or a recording): it is here, at `url`.
    pub fn answer_locate(&self, reply: &str, nonce: String, url: String) {
        if !is_token(reply) {
            return;
        }
        self.send(&format!("located.{reply}"), LocatedMsg { nonce, url });
    }

    fn resolve(&self, nonce: &str, url: String) {
        if let Some(tx) = self.lock_pending().remove(nonce) {
            let _ = tx.send(url);
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<String>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to every subject (and this replica's answers); the stream yields what
    /// other replicas published.
    pub async fn incoming(&self) -> anyhow::Result<BoxStream<'static, Incoming>> {
        let mut streams = Vec::new();
        for name in SUBJECTS {
            let me = self.replica.clone();
            let s = self.bus.subscribe(&self.subject(name)).await?;
            streams.push(
                s.filter_map(move |b| {
                    let r = decode(name, &b, &me);
                    async move { r }
                })
                .boxed(),
            );
        }
        let me = self.replica.clone();
        let answers = self
            .bus
            .subscribe(&self.subject(&format!("located.{}", self.reply)))
            .await?;
        streams.push(
            answers
                .filter_map(move |b| {
                    let r = decode("located", &b, &me);
                    async move { r }
                })
                .boxed(),
        );
        Ok(futures::stream::select_all(streams).boxed())
    }
}

/// Decodes one message; None for our own and for unreadable ones (logged).
fn decode(subject: &str, b: &[u8], me: &str) -> Option<Incoming> {
    fn parse<T: serde::de::DeserializeOwned>(b: &[u8], me: &str) -> Option<T> {
        match serde_json::from_slice::<Envelope<T>>(b) {
            Ok(e) if e.origin == me => None,
            Ok(e) => Some(e.body),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable cluster message");
                None
            }
        }
    }
    match subject {
        "wake" => parse::<DeviceMsg>(b, me).map(|m| Incoming::Wake(m.device)),
        "disconnect" => parse::<DeviceMsg>(b, me).map(|m| Incoming::Disconnect(m.device)),
        "events" => parse::<EventMsg>(b, me).map(|m| {
            Incoming::Event(
                DeviceCoords {
                    partner_id: m.partner_id,
                    org_id: m.org_id,
                    site_id: m.site_id,
                    device_id: m.device_id,
                },
                m.json,
            )
        }),
        "invalidate" => parse::<Invalidate>(b, me).map(Incoming::Invalidate),
        "locate" => parse::<LocateMsg>(b, me).map(|m| Incoming::Locate {
            device: m.device,
            nonce: m.nonce,
            reply: m.reply,
        }),
        "located" => parse::<LocatedMsg>(b, me).map(|m| Incoming::Located {
            nonce: m.nonce,
            url: m.url,
        }),
        "end_session" => parse::<EndSessionMsg>(b, me).map(|m| Incoming::EndSession {
            session: m.session,
            reason: m.reason,
        }),
        "locate_recording" => {
            parse::<LocateRecordingMsg>(b, me).map(|m| Incoming::LocateRecording {
                session: m.session,
                nonce: m.nonce,
                reply: m.reply,
            })
        }
        "delete_recording" => {
            parse::<SessionMsg>(b, me).map(|m| Incoming::DeleteRecording(m.session))
        }
        _ => None,
    }
}

/// Whether `s` can be one token of a NATS subject (a reply token is 16 hex digits).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A fresh replica id: host name, process id and a random suffix.
pub fn new_replica_id() -> String {
    let host = crate::config::host_name().unwrap_or_else(|| "breeze".into());
    let rand: u32 = rand::random();
    format!("{host}-{}-{rand:08x}", std::process::id())
}

/// Acts on what other replicas published, until the stream ends.
pub async fn serve(state: crate::AppState, mut incoming: BoxStream<'static, Incoming>) {
    while let Some(m) = incoming.next().await {
        match m {
            Incoming::Wake(d) => {
                state.hub.wake_local(d);
            }
            Incoming::Disconnect(d) => state.hub.disconnect_local(d),
            Incoming::Event(at, json) => state.events.publish_local_json(at, json),
            Incoming::Invalidate(what) => state.alerting.invalidate_local(&what),
            Incoming::Locate {
                device,
                nonce,
                reply,
            } => {
                if state.hub.mux(device).is_some() {
                    state
                        .cluster
                        .answer_locate(&reply, nonce, state.config.advertise_url());
                }
            }
            Incoming::Located { nonce, url } => state.cluster.resolve(&nonce, url),
            Incoming::EndSession { session, reason } => {
                state.relay.cancel(session, &reason);
            }
            Incoming::LocateRecording {
                session,
                nonce,
                reply,
            } => {
                let path = crate::relay::recording::local_path(&state, session);
                if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                    state
                        .cluster
                        .answer_locate(&reply, nonce, state.config.advertise_url());
                }
            }
            Incoming::DeleteRecording(session) => {
                let path = crate::relay::recording::local_path(&state, session);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => tracing::info!(%session, "deleted a recording past retention"),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(error = %e, %session, "deleting an old recording failed")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    async fn next(s: &mut BoxStream<'static, Incoming>) -> Incoming {
        tokio::time::timeout(std::time::Duration::from_secs(2), s.next())
            .await
            .expect("a message in time")
            .expect("the stream is open")
    }

    #[tokio::test]
    async fn replicas_on_one_bus_hear_each_other_but_not_themselves() {
        let bus: Arc<dyn PubSub> = Arc::new(LocalBus::default());
        let a = Cluster::new(bus.clone(), "a".into(), "t");
        let b = Cluster::new(bus.clone(), "b".into(), "t");
        let mut a_in = a.incoming().await.unwrap();
        let mut b_in = b.incoming().await.unwrap();
        let d = DeviceId::new();
        a.wake(d);
        match next(&mut b_in).await {
            Incoming::Wake(got) => assert_eq!(got, d),
            other => panic!("expected a wake-up, got {other:?}"),
        }
        b.invalidate(Invalidate::AlertTargets);
        match next(&mut a_in).await {
            Incoming::Invalidate(Invalidate::AlertTargets) => {}
            other => panic!("expected an invalidation, got {other:?}"),
        }
        // Neither heard its own message: the next thing each reads is the other's.
        let at = DeviceCoords {
            partner_id: PartnerId::new(),
            org_id: OrgId::new(),
            site_id: SiteId::new(),
            device_id: d,
        };
        b.event(&at, "{\"type\":\"x\"}");
        match next(&mut a_in).await {
            Incoming::Event(got, json) => {
                assert_eq!(got, at);
                assert_eq!(json, "{\"type\":\"x\"}");
            }
            other => panic!("expected an event, got {other:?}"),
        }
        a.disconnect(d);
        match next(&mut b_in).await {
            Incoming::Disconnect(got) => assert_eq!(got, d),
            other => panic!("expected a disconnect, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_locate_is_answered_by_the_holder_alone_and_only_to_the_asker() {
        let bus: Arc<dyn PubSub> = Arc::new(LocalBus::default());
        let a = Arc::new(Cluster::new(bus.clone(), "a".into(), "t"));
        let b = Cluster::new(bus.clone(), "b".into(), "t");
        let c = Cluster::new(bus, "c".into(), "t");
        let mut a_in = a.incoming().await.unwrap();
        let mut b_in = b.incoming().await.unwrap();
        let mut c_in = c.incoming().await.unwrap();
        let d = DeviceId::new();
        let asker = {
            let a = a.clone();
            tokio::spawn(async move { a.locate(d, std::time::Duration::from_secs(5)).await })
        };
        let (nonce, reply) = match next(&mut b_in).await {
            Incoming::Locate {
                device,
                nonce,
                reply,
            } => {
                assert_eq!(device, d);
                (nonce, reply)
            }
            other => panic!("expected a locate, got {other:?}"),
        };
        b.answer_locate(&reply, nonce, "http://b.internal:3001".into());
        match next(&mut a_in).await {
            Incoming::Located { nonce, url } => a.resolve(&nonce, url),
            other => panic!("expected an answer, got {other:?}"),
        }
        assert_eq!(
            asker.await.unwrap().as_deref(),
            Some("http://b.internal:3001")
        );
        // C heard the question but not the answer, which went to A's reply subject only.
        assert!(matches!(next(&mut c_in).await, Incoming::Locate { .. }));
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(200), c_in.next()).await;
        assert!(quiet.is_err(), "C heard something else: {quiet:?}");
        // Nobody holds it: no answer within the timeout.
        let t = std::time::Instant::now();
        assert_eq!(
            a.locate(DeviceId::new(), std::time::Duration::from_millis(150))
                .await,
            None
        );
        assert!(t.elapsed() >= std::time::Duration::from_millis(150));
        // Alone on a private bus: no question is asked.
        let single = Cluster::single();
        let t = std::time::Instant::now();
        assert_eq!(
            single.locate(d, std::time::Duration::from_secs(5)).await,
            None
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert!(!single.has_peers() && a.has_peers());
        // A bad reply token is not turned into a subject.
        assert!(!is_token("x.>") && !is_token("") && is_token("00ff"));
    }

    #[tokio::test]
    async fn another_prefix_is_another_cluster() {
        let bus: Arc<dyn PubSub> = Arc::new(LocalBus::default());
        let a = Cluster::new(bus.clone(), "a".into(), "one");
        let b = Cluster::new(bus.clone(), "b".into(), "two");
        let c = Cluster::new(bus, "c".into(), "two");
        let mut b_in = b.incoming().await.unwrap();
        a.wake(DeviceId::new());
        let d = DeviceId::new();
        c.wake(d);
        match next(&mut b_in).await {
            Incoming::Wake(got) => assert_eq!(got, d),
            other => panic!("expected c's wake-up, got {other:?}"),
        }
    }

    #[test]
    fn unreadable_messages_are_skipped() {
        assert!(decode("wake", b"not json", "me").is_none());
        assert!(
            decode(
                "wake",
                br#"{"origin":"me","device":"00000000-0000-0000-0000-000000000000"}"#,
                "me"
            )
            .is_none()
        );
    }
}
