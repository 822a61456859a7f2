//! Streams multiplexed on one agent channel, with credit-based flow control.
//!
//! Both ends of the channel (the server's `/ws/agents/{id}` task and the agent's channel
//! task) own one [`Mux`]. The socket task feeds it every stream frame it reads
//! ([`Mux::on_frame`], [`Mux::on_binary`]) and writes whatever [`MuxOutput::recv`] gives
//! it. Everything else talks to [`Stream`]s. The wire format is described in
//! `breeze_proto::agent::channel`.
//!
//! Memory is bounded per stream: a sender holds at most [`STREAM_WINDOW`] bytes of
//! un-granted credit, the receiver grants bytes back only once its owner has taken them
//! with [`StreamReader::recv`], and a peer that sends past its window gets the stream
//! closed. The socket task never blocks on a stream: inbound frames go to per-stream
//! queues whose size the window bounds.

use base64::Engine as _;
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::StreamId;
use breeze_proto::agent::channel::{MAX_CHUNK, STREAM_WINDOW, decode_binary, encode_binary};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Which end of the channel this is: the server opens even stream ids, the agent odd ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Server,
    Agent,
}

/// A frame for the socket task to write.
#[derive(Debug)]
pub enum Outgoing {
    /// A JSON text frame.
    Text(ChannelFrame),
    /// A binary stream frame (header included).
    Binary(Bytes),
}

/// What a [`StreamReader`] hands its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Data(Bytes),
    Control(Value),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MuxError {
    #[error("the stream is closed")]
    Closed,
    #[error("the channel is closed")]
    ChannelClosed,
    #[error("the other side refused the stream: {0}")]
    Refused(String),
    #[error("the other side did not answer the stream open in time")]
    Timeout,
    #[error("the message could not be encoded: {0}")]
    Encode(String),
}

enum Inbound {
    Accept(Value),
    Data(Bytes),
    Control(Value),
    Close(Option<String>),
}

struct Entry {
    events: mpsc::UnboundedSender<Inbound>,
    credit: Arc<Semaphore>,
    /// Bytes received that the reader has not granted back yet.
    unacked_in: u64,
}

/// The queues hold boxes: a tokio channel allocates its slots 32 at a time when it is
/// made, and a `ChannelFrame` is large, so every idle agent channel paid ~10 KiB for two
/// empty queues (issue 14, memory per idle channel).
struct Shared {
    side: Side,
    ctrl: mpsc::UnboundedSender<Box<ChannelFrame>>,
    data: mpsc::Sender<Box<Outgoing>>,
    streams: Mutex<HashMap<StreamId, Entry>>,
    next: AtomicU64,
    shut: AtomicBool,
}

impl Shared {
    /// Queues a control frame (ahead of data); false once the channel is gone.
    fn send_ctrl(&self, f: ChannelFrame) -> bool {
        self.ctrl.send(Box::new(f)).is_ok()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<StreamId, Entry>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a stream locally: drops its entry, fails its writers, tells the peer. The
    /// close frame goes behind the data already queued, so the peer gets every byte.
    fn close_local(&self, id: StreamId, reason: Option<String>) {
        let removed = self.lock().remove(&id);
        if let Some(e) = removed {
            e.credit.close();
            let _ = e.events.send(Inbound::Close(reason.clone()));
            let frame = Box::new(Outgoing::Text(ChannelFrame::StreamClose {
                stream: id,
                reason,
            }));
            match self.data.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(frame)) => {
                    match tokio::runtime::Handle::try_current() {
                        Ok(rt) => {
                            let data = self.data.clone();
                            rt.spawn(async move {
                                let _ = data.send(frame).await;
                            });
                        }
                        Err(_) => {
                            if let Outgoing::Text(f) = *frame {
                                let _ = self.ctrl.send(Box::new(f));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One end of the channel's streams. Cheap to clone.
#[derive(Clone)]
pub struct Mux {
    shared: Arc<Shared>,
}

/// The frames the socket task must write, stream control first.
pub struct MuxOutput {
    ctrl: mpsc::UnboundedReceiver<Box<ChannelFrame>>,
    data: mpsc::Receiver<Box<Outgoing>>,
}

impl MuxOutput {
    /// The next frame to write; `None` once every [`Mux`] handle is gone.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        tokio::select! {
            biased;
            Some(f) = self.ctrl.recv() => Some(Outgoing::Text(*f)),
            Some(o) = self.data.recv() => Some(*o),
            else => None,
        }
    }
}

/// What [`Mux::on_frame`] did with a frame.
pub enum Dispatch {
    /// A stream frame, handled.
    Handled,
    /// The peer opened a stream: accept or refuse it.
    Open(Incoming),
    /// Not a stream frame: the caller handles it.
    NotStream(ChannelFrame),
}

/// A stream the peer opened, waiting for [`Incoming::accept`] or [`Incoming::refuse`].
pub struct Incoming {
    pub kind: String,
    pub params: Value,
    stream: Stream,
}

impl Incoming {
    pub fn id(&self) -> StreamId {
        self.stream.reader.id
    }

    /// Accepts with kind-specific `info` and hands back the stream.
    pub fn accept(self, info: Value) -> Stream {
        let _ = self
            .stream
            .writer
            .shared
            .send_ctrl(ChannelFrame::StreamAccept {
                stream: self.stream.reader.id,
                info,
            });
        self.stream
    }

    /// Refuses: the peer sees `stream_close` with `reason`.
    pub fn refuse(self, reason: impl Into<String>) {
        self.stream.writer.close_with(Some(reason.into()));
    }
}

/// Frames the data queue holds before stream writers wait (each at most [`MAX_CHUNK`]).
pub const DATA_QUEUE: usize = 32;

impl Mux {
    pub fn new(side: Side) -> (Mux, MuxOutput) {
        let (ctrl_tx, ctrl_rx) = mpsc::unbounded_channel();
        let (data_tx, data_rx) = mpsc::channel(DATA_QUEUE);
        let first = match side {
            Side::Server => 2,
            Side::Agent => 1,
        };
        let mux = Mux {
            shared: Arc::new(Shared {
                side,
                ctrl: ctrl_tx,
                data: data_tx,
                streams: Mutex::new(HashMap::new()),
                next: AtomicU64::new(first),
                shut: AtomicBool::new(false),
            }),
        };
        (
            mux,
            MuxOutput {
                ctrl: ctrl_rx,
                data: data_rx,
            },
        )
    }

    /// Streams open now.
    pub fn len(&self) -> usize {
        self.shared.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn register(&self, id: StreamId) -> Option<Stream> {
        let (tx, rx) = mpsc::unbounded_channel();
        let credit = Arc::new(Semaphore::new(STREAM_WINDOW as usize));
        {
            let mut m = self.shared.lock();
            if self.shared.shut.load(Ordering::SeqCst) || m.contains_key(&id) {
                return None;
            }
            m.insert(
                id,
                Entry {
                    events: tx,
                    credit: credit.clone(),
                    unacked_in: 0,
                },
            );
        }
        Some(Stream {
            reader: StreamReader {
                id,
                shared: self.shared.clone(),
                rx,
                to_grant: 0,
                done: false,
                close_reason: None,
            },
            writer: StreamWriter {
                id,
                shared: self.shared.clone(),
                credit,
            },
        })
    }

    /// Opens a stream of `kind` and waits up to `timeout` for the peer to accept it.
    /// Answers the stream and the peer's `info`.
    pub async fn open(
        &self,
        kind: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<(Stream, Value), MuxError> {
        let id = StreamId(self.shared.next.fetch_add(2, Ordering::Relaxed));
        let mut stream = self.register(id).ok_or(MuxError::ChannelClosed)?;
        self.shared
            .ctrl
            .send(Box::new(ChannelFrame::StreamOpen {
                stream: id,
                kind: kind.to_string(),
                params,
            }))
            .map_err(|_| MuxError::ChannelClosed)?;
        match tokio::time::timeout(timeout, stream.reader.rx.recv()).await {
            Ok(Some(Inbound::Accept(info))) => Ok((stream, info)),
            Ok(Some(Inbound::Close(reason))) => {
                stream.reader.done = true;
                Err(MuxError::Refused(
                    reason.unwrap_or_else(|| "closed without a reason".into()),
                ))
            }
            Ok(Some(_)) => {
                stream
                    .writer
                    .close_with(Some("data before stream_accept".into()));
                Err(MuxError::Refused(
                    "the peer sent data before accepting".into(),
                ))
            }
            Ok(None) => Err(MuxError::ChannelClosed),
            Err(_) => {
                stream
                    .writer
                    .close_with(Some("no stream_accept in time".into()));
                Err(MuxError::Timeout)
            }
        }
    }

    /// Routes a frame read from the socket.
    pub fn on_frame(&self, frame: ChannelFrame) -> Dispatch {
        match frame {
            ChannelFrame::StreamOpen {
                stream,
                kind,
                params,
            } => {
                let theirs = match self.shared.side {
                    Side::Server => stream.0 % 2 == 1,
                    Side::Agent => stream.0 % 2 == 0 && stream.0 != 0,
                };
                if !theirs {
                    let _ = self.shared.send_ctrl(ChannelFrame::StreamClose {
                        stream,
                        reason: Some("stream id of the wrong parity".into()),
                    });
                    return Dispatch::Handled;
                }
                match self.register(stream) {
                    Some(s) => Dispatch::Open(Incoming {
                        kind,
                        params,
                        stream: s,
                    }),
                    None => {
                        let _ = self.shared.send_ctrl(ChannelFrame::StreamClose {
                            stream,
                            reason: Some("stream id already in use".into()),
                        });
                        Dispatch::Handled
                    }
                }
            }
            ChannelFrame::StreamData { stream, data } => {
                match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
                    Ok(bytes) => self.data_in(stream, Bytes::from(bytes)),
                    Err(_) => self
                        .shared
                        .close_local(stream, Some("stream_data is not base64".into())),
                }
                Dispatch::Handled
            }
            ChannelFrame::StreamAccept { stream, info } => {
                self.deliver(stream, Inbound::Accept(info));
                Dispatch::Handled
            }
            ChannelFrame::StreamControl { stream, message } => {
                self.deliver(stream, Inbound::Control(message));
                Dispatch::Handled
            }
            ChannelFrame::StreamWindow { stream, bytes } => {
                if let Some(e) = self.shared.lock().get(&stream) {
                    // More credit than a window means a confused peer; cap it.
                    let room =
                        (STREAM_WINDOW as usize).saturating_sub(e.credit.available_permits());
                    e.credit
                        .add_permits(usize::try_from(bytes).unwrap_or(usize::MAX).min(room));
                }
                Dispatch::Handled
            }
            ChannelFrame::StreamClose { stream, reason } => {
                let removed = self.shared.lock().remove(&stream);
                if let Some(e) = removed {
                    e.credit.close();
                    let _ = e.events.send(Inbound::Close(reason));
                }
                Dispatch::Handled
            }
            other => Dispatch::NotStream(other),
        }
    }

    /// Routes a binary frame read from the socket. A frame too short for its header is
    /// dropped.
    pub fn on_binary(&self, frame: &[u8]) {
        if let Some((id, payload)) = decode_binary(frame) {
            self.data_in(id, Bytes::copy_from_slice(payload));
        }
    }

    fn deliver(&self, id: StreamId, ev: Inbound) {
        if let Some(e) = self.shared.lock().get(&id) {
            let _ = e.events.send(ev);
        }
    }

    fn data_in(&self, id: StreamId, payload: Bytes) {
        let overrun = {
            let mut m = self.shared.lock();
            let Some(e) = m.get_mut(&id) else { return };
            e.unacked_in += payload.len() as u64;
            if e.unacked_in > STREAM_WINDOW {
                true
            } else {
                let _ = e.events.send(Inbound::Data(payload));
                false
            }
        };
        if overrun {
            tracing::warn!(stream = id.0, "peer overran the stream window");
            self.shared
                .close_local(id, Some("flow-control window exceeded".into()));
        }
    }

    /// The channel is gone: every stream ends with `reason`, and no new one opens.
    pub fn shutdown(&self, reason: &str) {
        self.shared.shut.store(true, Ordering::SeqCst);
        let all: Vec<(StreamId, Entry)> = self.shared.lock().drain().collect();
        for (_, e) in all {
            e.credit.close();
            let _ = e.events.send(Inbound::Close(Some(reason.to_string())));
        }
    }
}

/// A [`Mux`] whose peer is in this process: every stream opened on the returned mux
/// arrives on the receiver as an [`Incoming`], to be accepted (and served) or refused
/// there. The relay uses it to hand a session the same `Mux` whether the agent's channel
/// is on this replica or on another, whose streams are then carried by a tunnel
/// (`breeze_server::relay::route`). Flow control is the mux's own, both ways.
///
/// Two tasks carry the frames. The one carrying the returned mux's output holds the peer
/// end and stops once every handle of the returned mux (and every stream it opened) is
/// gone; the other holds the returned mux only weakly, so nothing keeps the pair alive in
/// a cycle. Needs a Tokio runtime.
pub fn loopback() -> (Mux, mpsc::UnboundedReceiver<Incoming>) {
    let (near, mut near_out) = Mux::new(Side::Server);
    let (far, mut far_out) = Mux::new(Side::Agent);
    let (opens_tx, opens_rx) = mpsc::unbounded_channel();
    let weak_near = Arc::downgrade(&near.shared);
    tokio::spawn(async move {
        while let Some(o) = near_out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    if let Dispatch::Open(inc) = far.on_frame(f)
                        && let Err(mpsc::error::SendError(inc)) = opens_tx.send(inc)
                    {
                        inc.refuse("nobody serves this stream");
                    }
                }
                Outgoing::Binary(b) => far.on_binary(&b),
            }
        }
        far.shutdown("the stream's opener went away");
    });
    tokio::spawn(async move {
        while let Some(o) = far_out.recv().await {
            let Some(shared) = weak_near.upgrade() else {
                break;
            };
            let near = Mux { shared };
            match o {
                Outgoing::Text(f) => {
                    // The near end opens streams; the far end never does.
                    let _ = near.on_frame(f);
                }
                Outgoing::Binary(b) => near.on_binary(&b),
            }
        }
    });
    (near, opens_rx)
}

/// Both halves of a stream.
pub struct Stream {
    pub reader: StreamReader,
    pub writer: StreamWriter,
}

impl Stream {
    pub fn id(&self) -> StreamId {
        self.reader.id
    }

    pub fn split(self) -> (StreamReader, StreamWriter) {
        (self.reader, self.writer)
    }
}

/// The receiving half. Dropping it before the stream ended closes the stream.
pub struct StreamReader {
    id: StreamId,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Inbound>,
    to_grant: u64,
    done: bool,
    close_reason: Option<String>,
}

impl StreamReader {
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The next data or control message; `None` once the stream ended (see
    /// [`StreamReader::close_reason`]). Bytes handed out by the previous call count as
    /// consumed and are granted back to the sender.
    pub async fn recv(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        loop {
            let next = match self.rx.try_recv() {
                Ok(ev) => {
                    if self.to_grant >= STREAM_WINDOW / 4 {
                        self.grant();
                    }
                    Some(ev)
                }
                Err(_) => {
                    // Nothing queued: give all consumed bytes back before waiting.
                    self.grant();
                    self.rx.recv().await
                }
            };
            match next {
                Some(Inbound::Data(b)) => {
                    self.to_grant += b.len() as u64;
                    return Some(Event::Data(b));
                }
                Some(Inbound::Control(v)) => return Some(Event::Control(v)),
                Some(Inbound::Accept(_)) => continue,
                Some(Inbound::Close(reason)) => {
                    self.done = true;
                    self.close_reason = reason;
                    return None;
                }
                None => {
                    self.done = true;
                    self.close_reason = Some("the channel closed".into());
                    return None;
                }
            }
        }
    }

    /// Why the stream ended (`None`: a normal close, or not ended yet).
    pub fn close_reason(&self) -> Option<&str> {
        self.close_reason.as_deref()
    }

    fn grant(&mut self) {
        if self.to_grant == 0 {
            return;
        }
        let bytes = std::mem::take(&mut self.to_grant);
        let live = match self.shared.lock().get_mut(&self.id) {
            Some(e) => {
                e.unacked_in = e.unacked_in.saturating_sub(bytes);
                true
            }
            None => false,
        };
        if live {
            let _ = self.shared.send_ctrl(ChannelFrame::StreamWindow {
                stream: self.id,
                bytes,
            });
        }
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        if !self.done {
            self.shared.close_local(self.id, None);
        }
    }
}

/// The sending half. Clones share the stream's credit.
#[derive(Clone)]
pub struct StreamWriter {
    id: StreamId,
    shared: Arc<Shared>,
    credit: Arc<Semaphore>,
}

impl StreamWriter {
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Sends `data` in chunks of at most [`MAX_CHUNK`] bytes, waiting for credit.
    pub async fn send(&self, data: &[u8]) -> Result<(), MuxError> {
        for chunk in data.chunks(MAX_CHUNK) {
            let n = u32::try_from(chunk.len()).map_err(|_| MuxError::Closed)?;
            let permit = self
                .credit
                .acquire_many(n)
                .await
                .map_err(|_| MuxError::Closed)?;
            permit.forget();
            self.shared
                .data
                .send(Box::new(Outgoing::Binary(Bytes::from(encode_binary(
                    self.id, chunk,
                )))))
                .await
                .map_err(|_| MuxError::ChannelClosed)?;
        }
        Ok(())
    }

    /// Sends a kind-specific control message (queued behind data already sent).
    pub async fn control<T: Serialize>(&self, message: &T) -> Result<(), MuxError> {
        if self.credit.is_closed() {
            return Err(MuxError::Closed);
        }
        let message = serde_json::to_value(message).map_err(|e| MuxError::Encode(e.to_string()))?;
        self.shared
            .data
            .send(Box::new(Outgoing::Text(ChannelFrame::StreamControl {
                stream: self.id,
                message,
            })))
            .await
            .map_err(|_| MuxError::ChannelClosed)
    }

    /// Whether the stream has ended (either side).
    pub fn is_closed(&self) -> bool {
        self.credit.is_closed()
    }

    /// Ends the stream after the data already sent; `reason` marks it failed for the peer.
    pub fn close(&self, reason: Option<String>) {
        self.close_with(reason);
    }

    fn close_with(&self, reason: Option<String>) {
        self.shared.close_local(self.id, reason);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]
mod tests;
