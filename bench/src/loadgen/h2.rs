//! Agent channels carried as WebSocket streams over shared HTTP/2 connections (RFC 8441,
//! extended CONNECT), `--channels-per-connection N`. One process here may open only as many
//! sockets as it may open files (20,000 on this machine kind), so a fleet larger than that
//! cannot hold one TCP connection per agent on one server; over HTTP/2 a few hundred
//! connections carry 100,000 channels. Each channel is still its own WebSocket, served by
//! its own task on the server, as a real agent's is; what the figures then leave out is the
//! kernel's memory per TCP socket, which no process's RSS counts either way.

use super::sources::Sources;
use anyhow::{Context as _, Result, bail};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// A byte stream a channel's WebSocket runs on: a TCP socket or an HTTP/2 stream.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub type BoxedIo = Pin<Box<dyn Io>>;

/// Streams the server allows at once on one HTTP/2 connection (hyper's default).
pub const MAX_PER_CONNECTION: usize = 200;

/// One server's HTTP/2 connections, per source address, each carrying at most
/// `per_connection` channels at a time (at most [`MAX_PER_CONNECTION`]).
pub struct Connections {
    per_connection: usize,
    /// `slots[src]`: that source's connections, opened when first needed and again when
    /// one closes.
    slots: Vec<Vec<Mutex<Option<SendRequest<String>>>>>,
    next: Vec<AtomicUsize>,
}

impl Connections {
    /// Room for `agents` channels spread over `sources` source addresses.
    pub fn new(agents: usize, sources: usize, per_connection: usize) -> Connections {
        let per_connection = per_connection.clamp(1, MAX_PER_CONNECTION);
        let sources = sources.max(1);
        let per_source = agents.div_ceil(sources).div_ceil(per_connection).max(1);
        Connections {
            per_connection,
            slots: (0..sources)
                .map(|_| (0..per_source).map(|_| Mutex::new(None)).collect())
                .collect(),
            next: (0..sources).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    pub fn count(&self) -> usize {
        self.slots.iter().map(Vec::len).sum()
    }

    pub fn per_connection(&self) -> usize {
        self.per_connection
    }

    /// A sender on one of source `src`'s connections, round robin, connecting it first
    /// when it is not (or no longer) open.
    async fn sender(&self, sources: &Sources, src: usize) -> Result<SendRequest<String>> {
        let s = src % self.slots.len();
        let slots = &self.slots[s];
        let k = self.next[s].fetch_add(1, Ordering::Relaxed) % slots.len();
        let mut slot = slots[k].lock().await;
        if let Some(tx) = slot.as_ref().filter(|tx| !tx.is_closed()) {
            return Ok(tx.clone());
        }
        let tcp = sources
            .connect(src)
            .await
            .context("connecting to the server")?;
        let (tx, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tcp))
            .await
            .context("the HTTP/2 handshake")?;
        tokio::spawn(async move {
            // Ends when the server closes the connection; every channel on it then ends.
            let _ = conn.await;
        });
        *slot = Some(tx.clone());
        Ok(tx)
    }

    /// Opens the WebSocket at `url` (`http://host:port/ws/agents/{id}`) on an HTTP/2
    /// stream from source `src`.
    pub async fn open(
        &self,
        sources: &Sources,
        src: usize,
        url: &str,
        token: &str,
        config: WebSocketConfig,
    ) -> Result<WebSocketStream<BoxedIo>> {
        let mut tx = self.sender(sources, src).await?;
        tx.ready().await.context("waiting for an HTTP/2 stream")?;
        let mut req = hyper::Request::builder()
            .method(hyper::Method::CONNECT)
            .uri(url)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .header(hyper::header::SEC_WEBSOCKET_VERSION, "13")
            .body(String::new())?;
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let resp = tx.send_request(req).await.context("the extended CONNECT")?;
        if resp.status() != hyper::StatusCode::OK {
            bail!("the extended CONNECT answered {}", resp.status());
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .context("upgrading the HTTP/2 stream")?;
        let io: BoxedIo = Box::pin(TokioIo::new(upgraded));
        Ok(WebSocketStream::from_raw_socket(io, Role::Client, Some(config)).await)
    }
}
