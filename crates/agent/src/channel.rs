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
    /// Remote access settings for the streams the server opens.
    pub remote: Arc<crate::remote::RemoteConfig>,
    /// Set by a `reconnect` frame (the server is draining): reconnect within this.
    pub reconnect_within: Option<Duration>,
}

/// The longest `reconnect` delay the agent accepts from a server.
const MAX_RECONNECT_WITHIN: Duration = Duration::from_secs(600);

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
            let delay = match self.reconnect_within.take() {
                // The server went away on purpose: come back soon, at a random point
                // of the window it gave, whatever the backoff had grown to.
                Some(within) => {
                    backoff.reset();
                    use rand::Rng as _;
                    Duration::from_millis(
                        rand::rng().random_range(0..=within.as_millis().max(1) as u64),
                    )
                }
                None => backoff.next_delay(),
            };
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
        // Remote-access streams live as long as this connection. A task owns the write
        // side so that reading never waits for a write.
        let (mux, mux_out) = breeze_mux::Mux::new(breeze_mux::Side::Agent);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut writer = tokio::spawn(write_frames(sink, rx, mux_out));
        let result = self
            .serve_frames(&tx, &mut stream, &mux, backoff, &mut ping, &mut writer)
            .await;
        mux.shutdown("the channel closed");
        if self.shutdown.is_cancelled() {
            let _ = tx.send(Message::Close(None));
            drop(tx);
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
        }
        writer.abort();
        result
    }

    async fn serve_frames<St>(
        &mut self,
        tx: &mpsc::UnboundedSender<Message>,
        stream: &mut St,
        mux: &breeze_mux::Mux,
        backoff: &mut Backoff,
        ping: &mut tokio::time::Interval,
        writer: &mut tokio::task::JoinHandle<Result<()>>,
    ) -> Result<()>
    where
        St: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    {
        let send = |f: &ChannelFrame| -> Result<()> {
            tx.send(Message::text(serde_json::to_string(f)?))
                .map_err(|_| anyhow::anyhow!("the channel writer stopped"))
        };
        let mut last_rx = Instant::now();
        let mut ping_id = 0u64;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(()),
                w = &mut *writer => {
                    return match w {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e),
                        Err(e) => Err(anyhow::anyhow!("the channel writer failed: {e}")),
                    };
                }
                msg = stream.next() => {
                    let msg = match msg {
                        None => return Ok(()),
                        Some(m) => m.context("reading from the agent channel")?,
                    };
                    last_rx = Instant::now();
                    match msg {
                        Message::Text(text) => {
                            if let Some(reply) = self.on_frame(text.as_str(), backoff, mux) {
                                send(&reply)?;
                            }
                            if self.reconnect_within.is_some() {
                                tracing::info!("the server is shutting down; reconnecting");
                                let _ = tx.send(Message::Close(None));
                                return Ok(());
                            }
                        }
                        Message::Binary(b) => mux.on_binary(&b),
                        Message::Close(_) => return Ok(()),
                        // tungstenite answers pings itself.
                        _ => {}
                    }
                }
                ack = self.acks.recv() => {
                    let Some(ack) = ack else { bail!("acknowledgement queue closed") };
                    send(&ChannelFrame::CommandAck(ack))?;
                }
                Some(out) = self.outputs.recv() => {
                    send(&ChannelFrame::CommandOutput(out))?;
                }
                _ = ping.tick() => {
                    if last_rx.elapsed() > IDLE_LIMIT {
                        bail!("no frame from the server for {} s", IDLE_LIMIT.as_secs());
                    }
                    ping_id += 1;
                    send(&ChannelFrame::Ping { id: ping_id })?;
                }
            }
        }
    }

    /// Handles one text frame; returns the frame to answer with, if any.
    fn on_frame(
        &mut self,
        text: &str,
        backoff: &mut Backoff,
        mux: &breeze_mux::Mux,
    ) -> Option<ChannelFrame> {
        let frame: ChannelFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable channel frame");
                return Some(ChannelFrame::Error {
                    message: format!("unreadable frame: {e}"),
                });
            }
        };
        let frame = match mux.on_frame(frame) {
            breeze_mux::Dispatch::NotStream(f) => f,
            breeze_mux::Dispatch::Handled => return None,
            breeze_mux::Dispatch::Open(inc) => {
                crate::remote::serve(inc, self.remote.clone());
                return None;
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
            ChannelFrame::Reconnect { within_ms } => {
                self.reconnect_within =
                    Some(Duration::from_millis(within_ms).min(MAX_RECONNECT_WITHIN));
                None
            }
            ChannelFrame::Error { message } => {
                tracing::warn!(%message, "server reported a channel error");
                None
            }
            // Stream frames went to the mux above.
            ChannelFrame::StreamOpen { .. }
            | ChannelFrame::StreamData { .. }
            | ChannelFrame::StreamClose { .. }
            | ChannelFrame::StreamAccept { .. }
            | ChannelFrame::StreamWindow { .. }
            | ChannelFrame::StreamControl { .. } => None,
            ChannelFrame::Hello { .. }
            | ChannelFrame::CommandAck(_)
            | ChannelFrame::CommandOutput(_) => Some(ChannelFrame::Error {
                message: "unexpected frame for an agent".into(),
            }),
        }
    }
}

/// Writes the channel's frames (the loop's first, then the streams') until the socket
/// fails or every sender is gone.
async fn write_frames<Si>(
    mut sink: Si,
    mut rx: mpsc::UnboundedReceiver<Message>,
    mut mux_out: breeze_mux::MuxOutput,
) -> Result<()>
where
    Si: futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    loop {
        let msg = tokio::select! {
            biased;
            m = rx.recv() => match m {
                Some(m) => m,
                None => return Ok(()),
            },
            o = mux_out.recv() => match o {
                Some(breeze_mux::Outgoing::Text(f)) => Message::text(serde_json::to_string(&f)?),
                Some(breeze_mux::Outgoing::Binary(b)) => Message::Binary(b),
                None => return Ok(()),
            },
        };
        let close = matches!(msg, Message::Close(_));
        sink.send(msg)
            .await
            .context("writing to the agent channel")?;
        if close {
            return Ok(());
        }
    }
}
