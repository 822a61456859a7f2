//! One simulated agent, one task: it holds its channel `GET /ws/agents/{id}` as
//! `breeze-agent` does (`hello` first, `pong` to every `ping`, `command_ack` for every
//! `command`, the result over HTTP), heartbeats every interval, and, with churn on, drops
//! its channel now and then and reconnects. Its socket has a 4 KiB read buffer and no
//! write buffer, so an idle agent costs a few KiB here.

use super::Stats;
use super::commands::{Ledger, Via};
use super::h2::{BoxedIo, Connections};
use super::inventory;
use super::replicas::Replica;
use anyhow::{Context as _, Result};
use breeze_proto::agent::{
    AckStatus, ChannelFrame, CommandAck, CommandResult, CommandStatus, HeartbeatResponse,
    PROTOCOL_VERSION, SignedCommand, paths,
};
use breeze_proto::ids::DeviceId;
use futures::future::BoxFuture;
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use rand::Rng as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

type Ws = WebSocketStream<BoxedIo>;

/// What every simulated agent shares.
pub struct Fleet {
    /// `--server`, then each `--replica`.
    pub replicas: Vec<Replica>,
    pub stats: Stats,
    pub ledger: Arc<Ledger>,
    pub interval: Duration,
    /// Mean time between two drops of one agent's channel; `None`: no churn.
    pub churn_every: Option<Duration>,
    /// Bounds the channel handshakes in progress.
    pub connecting: Semaphore,
    /// `false`: heartbeats only, no channel.
    pub hold_channels: bool,
    /// Channels over shared HTTP/2 connections, one set per replica (`None`: one TCP
    /// connection per channel, as the agent does).
    pub h2: Option<Vec<Connections>>,
}

impl Fleet {
    /// The server agent `me` talks to.
    pub fn replica(&self, me: &Identity) -> &Replica {
        &self.replicas[me.replica % self.replicas.len()]
    }
}

/// An enrolled agent.
#[derive(Clone)]
pub struct Identity {
    pub id: DeviceId,
    pub token: String,
    pub src: usize,
    /// Index into [`Fleet::replicas`].
    pub replica: usize,
    pub big: bool,
}

/// Where the run is; every agent watches it.
#[derive(Clone, Copy, PartialEq)]
pub enum Phase {
    /// Hold the channel, answer pings, send no heartbeat.
    Idle,
    /// Heartbeat from `start`, each agent at its offset within the interval.
    Run {
        start: tokio::time::Instant,
    },
    Stop,
}

fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(365 * 86_400)
}

/// Awaits `f` when there is one, else never resolves (a disabled `select!` branch).
async fn maybe<F: Future + Unpin>(f: Option<&mut F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn next_message(ws: Option<&mut Ws>) -> Option<Result<Message, tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

/// Exponential backoff from 1 s to 30 s, jittered ×0.5..1.5, as the agent does.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1 << failures.clamp(1, 5).saturating_sub(1))
        .min(Duration::from_secs(30));
    base.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// An exponentially distributed delay with mean `mean` (so drops form a Poisson process).
fn exponential(mean: Duration) -> Duration {
    let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
    mean.mul_f64(-u.ln())
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
}

/// Connects, upgrades and says `hello`; answers the socket and when the attempt got its
/// turn among the handshakes in progress.
async fn open_channel(fleet: Arc<Fleet>, me: Identity) -> Result<(Ws, Instant)> {
    let _permit = fleet.connecting.acquire().await?;
    let began = Instant::now();
    let replica = fleet.replica(&me);
    let token = &me.token;
    let handshake = async {
        if let Some(h2) = &fleet.h2 {
            let url = format!("{}{}", replica.url, paths::channel(me.id));
            return h2[me.replica % h2.len()]
                .open(&replica.sources, me.src, &url, token, ws_config())
                .await;
        }
        let tcp = replica
            .sources
            .connect(me.src)
            .await
            .context("connecting to the server")?;
        let url = format!(
            "{}{}",
            replica.url.replacen("http", "ws", 1),
            paths::channel(me.id)
        );
        let mut req = url.into_client_request()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse()?);
        let io: BoxedIo = Box::pin(tcp);
        let (ws, _) = client_async_with_config(req, io, Some(ws_config()))
            .await
            .context("the channel handshake")?;
        anyhow::Ok(ws)
    };
    let mut ws = tokio::time::timeout(Duration::from_secs(20), handshake)
        .await
        .context("the channel handshake timed out")??;
    let hello = ChannelFrame::Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "sim".into(),
    };
    ws.send(Message::text(serde_json::to_string(&hello)?))
        .await?;
    Ok((ws, began))
}

enum Beat {
    Done {
        commands: Vec<SignedCommand>,
        rotate: Option<String>,
        confirmed: bool,
    },
    Failed,
}

async fn heartbeat(fleet: Arc<Fleet>, me: Identity, confirm: bool) -> Beat {
    let replica = fleet.replica(&me);
    let url = format!("{}{}", replica.url, paths::heartbeat(me.id));
    let t = Instant::now();
    let sent = replica
        .sources
        .client(me.src)
        .post(url)
        .bearer_auth(&me.token)
        .json(&inventory::heartbeat(me.big, confirm))
        .send()
        .await;
    let stats = &fleet.stats;
    let resp = match sent {
        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            stats.heartbeats_shed.add();
            return Beat::Failed;
        }
        Ok(r) if r.status().is_success() => r.json::<HeartbeatResponse>().await,
        Ok(r) => {
            let s = r.status();
            let body = r.text().await.unwrap_or_default();
            stats
                .heartbeat_errors
                .add_noting(|| format!("heartbeat: {s}: {body}"));
            return Beat::Failed;
        }
        Err(e) => {
            stats
                .heartbeat_errors
                .add_noting(|| format!("heartbeat: {e:#}"));
            return Beat::Failed;
        }
    };
    match resp {
        Ok(h) => {
            stats.heartbeat_latency.push(t.elapsed());
            stats.heartbeats.add();
            replica.heartbeats.add();
            Beat::Done {
                commands: h.commands,
                rotate: h.rotate_token.map(|t| t.expose().to_string()),
                confirmed: confirm,
            }
        }
        Err(e) => {
            stats
                .heartbeat_errors
                .add_noting(|| format!("heartbeat answer: {e:#}"));
            Beat::Failed
        }
    }
}

/// Attempts at posting one command result.
const RESULT_ATTEMPTS: u32 = 20;

/// Posts a completed result for `cmd`, as the agent does once the command ran; a shed or
/// failed post is retried with the agent's backoff until it lands, as the agent's outbox
/// does (up to [`RESULT_ATTEMPTS`], minutes with the 30 s cap, longer than a run).
fn post_result(fleet: &Arc<Fleet>, me: &Identity, cmd: &SignedCommand) {
    let now = chrono::Utc::now();
    let r = CommandResult {
        command_id: cmd.envelope.id,
        command_type: cmd.envelope.command_type.clone(),
        status: CommandStatus::Completed,
        rejection: None,
        exit_code: Some(0),
        stdout: "ok\n".into(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 1,
        error_message: None,
        started_at: Some(now),
        completed_at: now,
    };
    let url = format!(
        "{}{}",
        fleet.replica(me).url,
        paths::command_result(me.id, cmd.envelope.id)
    );
    let (fleet, me) = (fleet.clone(), me.clone());
    tokio::spawn(async move {
        for attempt in 1..=RESULT_ATTEMPTS {
            let sent = fleet
                .replica(&me)
                .sources
                .client(me.src)
                .post(&url)
                .bearer_auth(&me.token)
                .json(&r)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    fleet.stats.results.add();
                    return;
                }
                Ok(resp) if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    let s = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    fleet
                        .stats
                        .result_errors
                        .add_noting(|| format!("command result: {s}: {body}"));
                    return;
                }
                _ => tokio::time::sleep(backoff(attempt)).await,
            }
        }
        fleet
            .stats
            .result_errors
            .add_noting(|| format!("command result: gave up after {RESULT_ATTEMPTS} attempts"));
    });
}

/// Runs agent `me`, the `slot`-th of `of`, until the phase says stop.
pub async fn run(
    fleet: Arc<Fleet>,
    mut me: Identity,
    slot: usize,
    of: usize,
    mut phase: watch::Receiver<Phase>,
) {
    let offset = fleet.interval.mul_f64(slot as f64 / of.max(1) as f64);
    let stats = &fleet.stats;
    let mut ws: Option<Ws> = None;
    let mut opening: Option<BoxFuture<'static, Result<(Ws, Instant)>>> = None;
    let mut attempt_started = Instant::now();
    let mut retry_at = fleet.hold_channels.then(tokio::time::Instant::now);
    let mut failures = 0u32;
    let mut ever_welcomed = false;
    let mut awaiting_welcome = false;
    let mut confirm = false;
    let mut beat: Option<BoxFuture<'static, Beat>> = None;
    let mut next_beat: Option<tokio::time::Instant> = None;
    let mut next_drop: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                match *phase.borrow_and_update() {
                    Phase::Idle => {}
                    Phase::Run { start } => {
                        next_beat = Some(start + offset);
                        next_drop = fleet.churn_every.map(|m| start + exponential(m));
                    }
                    Phase::Stop => break,
                }
            }
            () = tokio::time::sleep_until(retry_at.unwrap_or_else(far)), if retry_at.is_some() => {
                retry_at = None;
                opening = Some(open_channel(fleet.clone(), me.clone()).boxed());
            }
            opened = maybe(opening.as_mut()) => {
                opening = None;
                match opened {
                    Ok((w, began)) => {
                        ws = Some(w);
                        attempt_started = began;
                        awaiting_welcome = true;
                    }
                    Err(e) => {
                        failures += 1;
                        stats.connect_errors.add_noting(|| format!("agent channel: {e:#}"));
                        retry_at = Some(tokio::time::Instant::now() + backoff(failures));
                    }
                }
            }
            msg = next_message(ws.as_mut()) => {
                let frame = match msg {
                    Some(Ok(Message::Text(t))) => serde_json::from_str::<ChannelFrame>(t.as_str()).ok(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        ws = None;
                        stats.channels_lost.add();
                        failures += 1;
                        retry_at = Some(tokio::time::Instant::now() + backoff(failures));
                        continue;
                    }
                    Some(Ok(_)) => None,
                };
                let reply = match frame {
                    Some(ChannelFrame::Welcome { .. }) if awaiting_welcome => {
                        awaiting_welcome = false;
                        failures = 0;
                        if ever_welcomed {
                            stats.reconnects.add();
                            stats.reconnect_latency.push(attempt_started.elapsed());
                        } else {
                            ever_welcomed = true;
                            stats.channels_opened.add();
                            fleet.replica(&me).channels.add();
                            stats.channel_open_latency.push(attempt_started.elapsed());
                        }
                        None
                    }
                    Some(ChannelFrame::Ping { id }) => Some(ChannelFrame::Pong { id }),
                    Some(ChannelFrame::Command(c)) => {
                        fleet.ledger.arrived(&c, Via::Channel, me.replica);
                        post_result(&fleet, &me, &c);
                        Some(ChannelFrame::CommandAck(CommandAck {
                            command_id: c.envelope.id,
                            status: AckStatus::Running,
                            started_at: chrono::Utc::now(),
                        }))
                    }
                    Some(ChannelFrame::Error { message }) => {
                        stats.error_frames.add_noting(|| format!("error frame: {message}"));
                        None
                    }
                    _ => None,
                };
                if let (Some(f), Some(w)) = (reply, ws.as_mut()) {
                    let sent = match serde_json::to_string(&f) {
                        Ok(s) => w.send(Message::text(s)).await.is_ok(),
                        Err(_) => true,
                    };
                    if !sent {
                        ws = None;
                        stats.channels_lost.add();
                        failures += 1;
                        retry_at = Some(tokio::time::Instant::now() + backoff(failures));
                    }
                }
            }
            () = tokio::time::sleep_until(next_beat.unwrap_or_else(far)), if next_beat.is_some() && beat.is_none() => {
                next_beat = next_beat.map(|t| t + fleet.interval);
                beat = Some(heartbeat(fleet.clone(), me.clone(), confirm).boxed());
            }
            done = maybe(beat.as_mut()) => {
                beat = None;
                if let Beat::Done { commands, rotate, confirmed } = done {
                    if confirmed {
                        confirm = false;
                    }
                    if let Some(t) = rotate {
                        me.token = t;
                        confirm = true;
                    }
                    for c in commands {
                        fleet.ledger.arrived(&c, Via::Heartbeat, me.replica);
                        post_result(&fleet, &me, &c);
                    }
                }
            }
            () = tokio::time::sleep_until(next_drop.unwrap_or_else(far)), if next_drop.is_some() => {
                next_drop = fleet.churn_every.map(|m| tokio::time::Instant::now() + exponential(m));
                if ws.take().is_some() {
                    stats.churn_drops.add();
                    awaiting_welcome = false;
                    let pause = Duration::from_millis(rand::rng().random_range(1000..3000));
                    retry_at = Some(tokio::time::Instant::now() + pause);
                }
            }
        }
    }
}
