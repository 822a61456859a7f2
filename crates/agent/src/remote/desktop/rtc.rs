//! The WebRTC path of a desktop session (protocol: `breeze_proto::agent::remote_desktop`,
//! "WebRTC"). The agent answers the browser's offer (no trickle: the answer carries every
//! candidate once gathering completed), waits for the frames' data channel to open, and
//! reports what happens as [`RtcEvent`]s; the session's pump decides which path a frame
//! takes. webrtc-rs does ICE (host candidates, STUN for server-reflexive ones, TURN for
//! relayed ones), DTLS and SCTP.
//!
//! Candidates come from the interfaces `[remote] webrtc_interfaces` names (loopback
//! included when it is named), or from every interface but loopback. mDNS is off: the
//! agent neither announces nor resolves `.local` names.

use breeze_proto::agent::remote_desktop::{
    IceServer, RTC_CHANNEL_LABEL, RTC_CHUNK, RTC_CONNECT_TIMEOUT_SECS,
};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use webrtc::api::APIBuilder;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::data_channel::RTCDataChannel;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

/// What a negotiation reports to the pump, tagged with the negotiation's number so that
/// the events of a replaced one are ignored.
#[derive(Debug)]
pub enum RtcEvent {
    /// The answer to send back to the browser.
    Answer(String),
    /// The frames' data channel is open: frames may go there.
    Open(FrameChannel),
    /// WebRTC is not (or no longer) usable; frames go over the stream.
    Down(String),
}

/// The open data channel of the frames.
#[derive(Clone)]
pub struct FrameChannel(Arc<RTCDataChannel>);

impl std::fmt::Debug for FrameChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FrameChannel")
            .field(&self.0.label())
            .finish()
    }
}

impl FrameChannel {
    /// Sends one length-prefixed message cut into data channel messages of at most
    /// [`RTC_CHUNK`] bytes.
    pub async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        for chunk in bytes.chunks(RTC_CHUNK) {
            self.0
                .send(&Bytes::copy_from_slice(chunk))
                .await
                .map_err(|e| format!("the data channel failed: {e}"))?;
        }
        Ok(())
    }
}

/// A running negotiation; dropping it closes its peer connection.
pub struct Negotiation {
    pub id: u64,
    _stop: oneshot::Sender<()>,
}

/// Answers `offer` in a task of its own; its events come on `events` as `(id, event)`.
pub fn negotiate(
    id: u64,
    offer: String,
    ice_servers: Vec<IceServer>,
    interfaces: Option<Vec<String>>,
    events: mpsc::UnboundedSender<(u64, RtcEvent)>,
) -> Negotiation {
    let (stop_tx, stop_rx) = oneshot::channel();
    tokio::spawn(async move {
        let send = |ev| {
            let _ = events.send((id, ev));
        };
        let (itx, irx) = mpsc::unbounded_channel();
        let pc = match peer(&ice_servers, interfaces, itx).await {
            Ok(pc) => pc,
            Err(e) => {
                send(RtcEvent::Down(format!("WebRTC could not start: {e}")));
                return;
            }
        };
        match answer(&pc, offer).await {
            Ok(sdp) => {
                send(RtcEvent::Answer(sdp));
                watch(irx, stop_rx, send).await;
            }
            Err(e) => send(RtcEvent::Down(format!("the WebRTC offer failed: {e}"))),
        }
        let _ = pc.close().await;
    });
    Negotiation { id, _stop: stop_tx }
}

/// What the peer connection's callbacks tell the negotiation task.
enum Internal {
    Open(Arc<RTCDataChannel>),
    Down(String),
}

/// Waits for the data channel to open (at most [`RTC_CONNECT_TIMEOUT_SECS`]), then for the
/// connection to end or the pump to drop the negotiation.
async fn watch(
    mut irx: mpsc::UnboundedReceiver<Internal>,
    mut stop: oneshot::Receiver<()>,
    send: impl Fn(RtcEvent),
) {
    let deadline = tokio::time::sleep(Duration::from_secs(RTC_CONNECT_TIMEOUT_SECS));
    tokio::pin!(deadline);
    let mut open = false;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = &mut deadline, if !open => {
                send(RtcEvent::Down(format!(
                    "no direct connection within {RTC_CONNECT_TIMEOUT_SECS} s"
                )));
                return;
            }
            ev = irx.recv() => match ev {
                Some(Internal::Open(dc)) => {
                    open = true;
                    send(RtcEvent::Open(FrameChannel(dc)));
                }
                Some(Internal::Down(reason)) => {
                    send(RtcEvent::Down(reason));
                    return;
                }
                None => return,
            },
        }
    }
}

/// A peer connection with the given ICE servers, candidates only on `interfaces`.
async fn peer(
    ice_servers: &[IceServer],
    interfaces: Option<Vec<String>>,
    itx: mpsc::UnboundedSender<Internal>,
) -> Result<Arc<RTCPeerConnection>, webrtc::Error> {
    let mut se = SettingEngine::default();
    se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if let Some(names) = interfaces {
        se.set_include_loopback_candidate(true);
        se.set_interface_filter(Box::new(move |name: &str| names.iter().any(|n| n == name)));
    }
    let api = APIBuilder::new().with_setting_engine(se).build();
    let config = RTCConfiguration {
        ice_servers: ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect(),
        ..RTCConfiguration::default()
    };
    let pc = Arc::new(api.new_peer_connection(config).await?);
    let state_tx = itx.clone();
    pc.on_peer_connection_state_change(Box::new(move |s: RTCPeerConnectionState| {
        let reason = match s {
            RTCPeerConnectionState::Disconnected => Some("the direct connection was lost"),
            RTCPeerConnectionState::Failed => Some("the direct connection failed"),
            RTCPeerConnectionState::Closed => Some("the direct connection closed"),
            _ => None,
        };
        if let Some(r) = reason {
            let _ = state_tx.send(Internal::Down(r.to_string()));
        }
        Box::pin(async {})
    }));
    pc.on_data_channel(Box::new(move |dc: Arc<RTCDataChannel>| {
        let itx = itx.clone();
        Box::pin(async move {
            if dc.label() != RTC_CHANNEL_LABEL {
                let _ = dc.close().await;
                return;
            }
            let open_tx = itx.clone();
            let opened = Arc::clone(&dc);
            dc.on_open(Box::new(move || {
                let _ = open_tx.send(Internal::Open(opened));
                Box::pin(async {})
            }));
            dc.on_close(Box::new(move || {
                let _ = itx.send(Internal::Down("the data channel closed".into()));
                Box::pin(async {})
            }));
        })
    }));
    Ok(pc)
}

/// Sets the offer, creates the answer and waits until every candidate is in it.
async fn answer(pc: &RTCPeerConnection, offer: String) -> Result<String, String> {
    let e = |e: webrtc::Error| e.to_string();
    pc.set_remote_description(RTCSessionDescription::offer(offer).map_err(e)?)
        .await
        .map_err(e)?;
    let answer = pc.create_answer(None).await.map_err(e)?;
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(answer).await.map_err(e)?;
    let _ = gathered.recv().await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| "no local description after gathering".to_string())
}
