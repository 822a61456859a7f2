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
        // An agent that may use loopback only (the tests) must not try the browser's
        // other addresses either: it keeps the offer's loopback candidates alone.
        let offer = match &interfaces {
            Some(names) if loopback_only(names) => keep_loopback_candidates(&offer),
            _ => offer,
        };
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

/// Whether every address of the interfaces `names` is a loopback address (and there is
/// at least one).
fn loopback_only(names: &[String]) -> bool {
    let Ok(networks) = sysinfo::Networks::new_with_refreshed_list() else {
        return false;
    };
    let addrs: Vec<std::net::IpAddr> = (&networks)
        .into_iter()
        .filter(|(name, _)| names.iter().any(|n| n.as_str() == name.to_string_lossy()))
        .flat_map(|(_, data)| data.ip_networks().iter().map(|n| n.addr))
        .collect();
    !addrs.is_empty() && addrs.iter().all(|a| a.is_loopback())
}

/// `sdp` without the `a=candidate` lines whose address is not a loopback address (a
/// hostname, e.g. an mDNS `.local` name, is dropped too).
fn keep_loopback_candidates(sdp: &str) -> String {
    let keep = |line: &str| -> bool {
        let Some(c) = line.strip_prefix("a=candidate:") else {
            return true;
        };
        // foundation component transport priority address port typ ...
        c.split_whitespace()
            .nth(4)
            .and_then(|a| a.parse::<std::net::IpAddr>().ok())
            .is_some_and(|a| a.is_loopback())
    };
    let mut out: String = sdp
        .split_inclusive('\n')
        .filter(|l| keep(l.trim_end()))
        .collect();
    if !sdp.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_candidates_are_kept() {
        let sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
            a=candidate:1 1 udp 2122260223 10.1.2.3 50000 typ host\r\n\
            a=candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host\r\n\
            a=candidate:3 1 udp 2122260223 ::1 50002 typ host\r\n\
            a=candidate:4 1 udp 2122260223 abcd.local 50003 typ host\r\n\
            a=candidate:5 1 udp 1686052607 203.0.113.9 50004 typ srflx raddr 0.0.0.0 rport 0\r\n\
            a=end-of-candidates\r\n";
        let kept = keep_loopback_candidates(sdp);
        assert!(kept.contains("127.0.0.1 50001"));
        assert!(kept.contains("::1 50002"));
        for gone in ["10.1.2.3", "abcd.local", "203.0.113.9"] {
            assert!(!kept.contains(gone), "{gone} kept: {kept}");
        }
        assert!(kept.starts_with("v=0\r\nm=application"));
        assert!(kept.ends_with("a=end-of-candidates\r\n"));
    }

    #[test]
    fn loopback_interface_is_loopback_only_and_unknown_is_not() {
        assert!(loopback_only(&["lo".to_string()]));
        assert!(!loopback_only(&["no-such-interface".to_string()]));
    }
}
