//! The persistent WebSocket channel (`/ws/agents/{id}`) for sub-second command
//! delivery. Frames are `breeze_proto::agent::ChannelFrame` JSON text; see that
//! module for the flow. When the channel is down, heartbeat polling still delivers
//! commands; the channel reconnects with jittered exponential backoff.

use crate::api::AgentApi;
use crate::backoff::Backoff;
use crate::clock::ServerClock;
use crate::commands::{CommandHandler, Origin};
use anyhow::{Context as _, Result, bail};
use breeze_proto::agent::{ChannelFrame, CommandAck, CommandOutput, PROTOCOL_VERSION};
use futures::{SinkExt as _, StreamExt as _};
use secrecy::ExposeSecret as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{Connector, connect_async_tls_with_config};
use tokio_util::sync::CancellationToken;

const PING_EVERY: Duration = Duration::from_secs(30);
const IDLE_LIMIT: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What the channel task needs.
pub struct Channel {
    pub api: AgentApi,
    pub handler: Arc<CommandHandler>,
    pub tls: Arc<rustls::ClientConfig>,
    pub acks: mpsc::UnboundedReceiver<CommandAck>,
    /// Live output of running scripts, sent as `command_output` frames.
    pub outputs: mpsc::Receiver<CommandOutput>,
    pub connected: Arc<AtomicBool>,
    pub server_clock: ServerClock,
    pub max_backoff: Duration,
    pub shutdown: CancellationToken,
}

impl Channel {
    /// Connects, serves, and reconnects until `shutdown`.
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_secs(1), self.max_backoff);
        loop {
            let started = Instant::now();
            let outcome = self.serve_once(&mut backoff).await;
            self.connected.store(false, Ordering::SeqCst);
            if self.shutdown.is_cancelled() {
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            match outcome {
                Ok(()) => tracing::info!(retry_in = ?delay, "agent channel closed by the server"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?delay, "agent channel down; commands arrive by heartbeat meanwhile")
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn serve_once(&mut self, backoff: &mut Backoff) -> Result<()> {
        let url = self.api.channel_url()?;
        let mut request = url
            .as_str()
            .into_client_request()
            .context("building the channel request")?;
        let auth = format!("Bearer {}", self.api.current_token().expose_secret());
        request.headers_mut().insert(
            "Authorization",
            auth.parse()
                .context("the token is not a valid header value")?,
        );
        let connector = if url.scheme() == "wss" {
            Connector::Rustls(self.tls.clone())
        } else {
            Connector::Plain
        };
        let (ws, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            connect_async_tls_with_config(request, None, true, Some(connector)),
        )
        .await
        .context("connecting the agent channel timed out")?
        .context("connecting the agent channel")?;
        let (mut sink, mut stream) = ws.split();
        let hello = ChannelFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_version: crate::AGENT_VERSION.into(),
        };
        sink.send(Message::text(serde_json::to_string(&hello)?))
            .await?;
        self.connected.store(true, Ordering::SeqCst);
        tracing::info!(url = %url, "agent channel connected");

        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut last_rx = Instant::now();
        let mut ping_id = 0u64;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(());
                }
                msg = stream.next() => {
                    let msg = match msg {
                        None => return Ok(()),
                        Some(m) => m.context("reading from the agent channel")?,
                    };
                    last_rx = Instant::now();
                    match msg {
                        Message::Text(text) => {
                            if let Some(reply) = self.on_frame(text.as_str(), backoff) {
                                sink.send(Message::text(serde_json::to_string(&reply)?)).await?;
                            }
                        }
                        Message::Close(_) => return Ok(()),
                        // tungstenite answers pings itself; binary frames are not used.
                        _ => {}
                    }
                }
                ack = self.acks.recv() => {
                    let Some(ack) = ack else { bail!("acknowledgement queue closed") };
                    sink.send(Message::text(serde_json::to_string(&ChannelFrame::CommandAck(ack))?)).await?;
                }
                Some(out) = self.outputs.recv() => {
                    sink.send(Message::text(serde_json::to_string(&ChannelFrame::CommandOutput(out))?)).await?;
                }
                _ = ping.tick() => {
                    if last_rx.elapsed() > IDLE_LIMIT {
                        bail!("no frame from the server for {} s", IDLE_LIMIT.as_secs());
                    }
                    ping_id += 1;
                    sink.send(Message::text(serde_json::to_string(&ChannelFrame::Ping { id: ping_id })?)).await?;
                }
            }
        }
    }

    /// Handles one text frame; returns the frame to answer with, if any.
    fn on_frame(&self, text: &str, backoff: &mut Backoff) -> Option<ChannelFrame> {
        let frame: ChannelFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable channel frame");
                return Some(ChannelFrame::Error {
                    message: format!("unreadable frame: {e}"),
                });
            }
        };
        match frame {
            ChannelFrame::Welcome { server_time } => {
                backoff.reset();
                if let Some(t) = server_time {
                    self.server_clock.observe(t);
                }
                None
            }
            ChannelFrame::Command(cmd) => {
                if let Err(e) = self.handler.handle(cmd, Origin::Channel) {
                    tracing::error!(error = %format!("{e:#}"), "could not handle a command from the channel");
                }
                None
            }
            ChannelFrame::Ping { id } => Some(ChannelFrame::Pong { id }),
            ChannelFrame::Pong { .. } => None,
            ChannelFrame::Error { message } => {
                tracing::warn!(%message, "server reported a channel error");
                None
            }
            ChannelFrame::StreamOpen { stream, kind, .. } => Some(ChannelFrame::StreamClose {
                stream,
                reason: Some(format!("unsupported stream kind: {kind}")),
            }),
            ChannelFrame::StreamData { .. } | ChannelFrame::StreamClose { .. } => None,
            ChannelFrame::Hello { .. }
            | ChannelFrame::CommandAck(_)
            | ChannelFrame::CommandOutput(_) => Some(ChannelFrame::Error {
                message: "unexpected frame for an agent".into(),
            }),
        }
    }
}
