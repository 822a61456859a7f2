//! The desktop stream's WebRTC path under Xvfb: a webrtc-rs peer in the test stands in for
//! the browser (loopback only), offers through the stream's controls, gets whole frames
//! through the data channel, and the frames go back to the stream when the channel
//! closes; an agent whose ICE cannot connect keeps sending frames over the stream; and
//! with a TURN server (webrtc-rs's, on 127.0.0.1) given in the offer and a browser that may
//! only use relayed candidates, the data channel opens through that TURN server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use crate::desktop::carry;
use breeze_agent::remote::RemoteConfig;
use breeze_e2e::xvfb::{TestWindow, Xvfb};
use breeze_mux::{Event, Mux, Side, Stream};
use breeze_proto::agent::remote::KIND_DESKTOP;
use breeze_proto::agent::remote_desktop::{
    DesktopControl, ENC_JPEG, Frame, IceServer, MessageSplitter, RTC_CHANNEL_LABEL, RTC_CHUNK,
    RTC_CONNECT_TIMEOUT_SECS, TransportPath,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::api::APIBuilder;
use webrtc::api::setting_engine::SettingEngine;
use webrtc::data_channel::data_channel_message::DataChannelMessage;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;

/// A desktop stream to an agent on `display` whose WebRTC may use `interfaces`.
async fn open(display: &str, interfaces: &[&str]) -> Stream {
    let config = Arc::new(RemoteConfig {
        desktop_display: Some(display.to_string()),
        webrtc_interfaces: Some(interfaces.iter().map(|s| s.to_string()).collect()),
        ..RemoteConfig::default()
    });
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    carry(server_out, agent, Some(config));
    carry(agent_out, server.clone(), None);
    let (stream, _info) = server
        .open(KIND_DESKTOP, serde_json::json!({}), Duration::from_secs(10))
        .await
        .unwrap();
    stream
}

/// The "browser": a peer connection on loopback with the frames' data channel, whose
/// messages come out of `chunks`.
async fn browser() -> (Arc<RTCPeerConnection>, mpsc::UnboundedReceiver<Vec<u8>>) {
    browser_with(RTCConfiguration::default()).await
}

async fn browser_with(
    config: RTCConfiguration,
) -> (Arc<RTCPeerConnection>, mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut se = SettingEngine::default();
    se.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    se.set_include_loopback_candidate(true);
    se.set_interface_filter(Box::new(|name: &str| name == "lo"));
    let api = APIBuilder::new().with_setting_engine(se).build();
    let pc = Arc::new(api.new_peer_connection(config).await.unwrap());
    let dc = pc
        .create_data_channel(RTC_CHANNEL_LABEL, None)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    dc.on_message(Box::new(move |m: DataChannelMessage| {
        let _ = tx.send(m.data.to_vec());
        Box::pin(async {})
    }));
    (pc, rx)
}

/// The offer with every loopback candidate in it.
async fn offer(pc: &RTCPeerConnection) -> String {
    let offer = pc.create_offer(None).await.unwrap();
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(offer).await.unwrap();
    let _ = gathered.recv().await;
    let sdp = pc.local_description().await.unwrap().sdp;
    assert!(sdp.contains("a=candidate"), "loopback candidates: {sdp}");
    sdp
}

/// What the stream carries: frames over the relay, or controls.
enum Relay {
    Frame(Frame),
    Control(DesktopControl),
}

async fn relay_next(stream: &mut Stream, split: &mut MessageSplitter, wait: Duration) -> Relay {
    loop {
        let ev = tokio::time::timeout(wait, stream.reader.recv())
            .await
            .expect("something on the stream in time")
            .expect("the stream is open");
        match ev {
            Event::Data(b) => {
                if let Some(m) = split.push(&b).unwrap().into_iter().next() {
                    return Relay::Frame(Frame::decode(&m).unwrap());
                }
            }
            Event::Control(v) => return Relay::Control(serde_json::from_value(v).unwrap()),
        }
    }
}

/// The next frame joined from data channel messages.
async fn channel_frame(
    chunks: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    split: &mut MessageSplitter,
) -> (Frame, usize) {
    let mut messages = 0;
    loop {
        let c = tokio::time::timeout(Duration::from_secs(10), chunks.recv())
            .await
            .expect("a data channel message in time")
            .expect("the channel is open");
        assert!(c.len() <= RTC_CHUNK, "a message of {} bytes", c.len());
        messages += 1;
        if let Some(m) = split.push(&c).unwrap().into_iter().next() {
            assert_eq!(split.pending(), 0, "one frame at a time here");
            return (Frame::decode(&m).unwrap(), messages);
        }
    }
}

fn area(f: &Frame) -> u32 {
    f.rects
        .iter()
        .map(|r| u32::from(r.w) * u32::from(r.h))
        .sum()
}

/// The RGB pixel at (`x`, `y`) of the monitor, decoded from the frame's rectangle there.
fn pixel(frame: &Frame, x: u16, y: u16) -> [u8; 3] {
    let r = frame
        .rects
        .iter()
        .find(|r| (r.x..r.x + r.w).contains(&x) && (r.y..r.y + r.h).contains(&y))
        .expect("a rectangle covers the point");
    assert_eq!(r.encoding, ENC_JPEG);
    let mut dec = jpeg_decoder::Decoder::new(&r.data[..]);
    let rgb = dec.decode().unwrap();
    let at = (usize::from(y - r.y) * usize::from(r.w) + usize::from(x - r.x)) * 3;
    [rgb[at], rgb[at + 1], rgb[at + 2]]
}

fn close_to(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

async fn control(stream: &Stream, c: DesktopControl) {
    stream.writer.control(&c).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_take_the_data_channel_once_open_and_go_back_to_the_stream_when_it_closes() {
    let Some(x) = Xvfb::for_test(1280, 800).unwrap() else {
        return;
    };
    let win = TestWindow::open(&x.display, 200, 150, 300, 200, 0x3366cc).unwrap();
    let mut stream = open(&x.display, &["lo"]).await;
    let mut relay_split = MessageSplitter::default();
    let (pc, mut chunks) = browser().await;
    control(
        &stream,
        DesktopControl::RtcOffer {
            sdp: offer(&pc).await,
            ice_servers: Vec::new(),
        },
    )
    .await;

    // Relay frames come meanwhile (acked); then the answer, then the switch.
    let mut last_seq = 0;
    let mut answered = false;
    loop {
        match relay_next(&mut stream, &mut relay_split, Duration::from_secs(15)).await {
            Relay::Frame(f) => {
                assert!(f.seq > last_seq);
                last_seq = f.seq;
                control(&stream, DesktopControl::Ack { seq: f.seq }).await;
            }
            Relay::Control(DesktopControl::RtcAnswer { sdp }) => {
                assert!(
                    sdp.contains("a=candidate"),
                    "the answer's candidates: {sdp}"
                );
                for line in sdp.lines().filter(|l| l.starts_with("a=candidate")) {
                    assert!(
                        line.contains(" 127.0.0.1 ") || line.contains(" ::1 "),
                        "loopback only: {line}"
                    );
                }
                pc.set_remote_description(RTCSessionDescription::answer(sdp).unwrap())
                    .await
                    .unwrap();
                answered = true;
            }
            Relay::Control(DesktopControl::Transport { path, reason }) => {
                assert_eq!(path, TransportPath::Webrtc, "{reason:?}");
                assert!(answered);
                break;
            }
            Relay::Control(other) => panic!("unexpected control {other:?}"),
        }
    }

    // The first frame on the channel covers the whole monitor, in chunks.
    let mut dc_split = MessageSplitter::default();
    let (f, messages) = channel_frame(&mut chunks, &mut dc_split).await;
    assert!(f.seq > last_seq, "seq goes on across paths");
    assert_eq!(area(&f), 1280 * 800, "a whole frame after the switch");
    assert!(close_to(pixel(&f, 350, 250), [0x33, 0x66, 0xcc]));
    let encoded = f.encode().unwrap().len() + 4;
    assert_eq!(messages, encoded.div_ceil(RTC_CHUNK), "{encoded} bytes");
    control(&stream, DesktopControl::Ack { seq: f.seq }).await;

    // A change comes over the channel too, and nothing comes over the stream.
    win.move_to(600, 150).unwrap();
    let (g, _) = channel_frame(&mut chunks, &mut dc_split).await;
    assert_eq!(g.seq, f.seq + 1);
    assert!(area(&g) < 1280 * 800 / 2);
    assert!(close_to(pixel(&g, 750, 250), [0x33, 0x66, 0xcc]));
    control(&stream, DesktopControl::Ack { seq: g.seq }).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), stream.reader.recv())
            .await
            .is_err(),
        "the stream is quiet while the channel carries the frames"
    );

    // The browser closes its peer connection: the frames go back to the stream, starting
    // with a whole monitor (the last channel frame is never acked, pacing goes on).
    win.move_to(300, 300).unwrap();
    pc.close().await.unwrap();
    let mut back = false;
    loop {
        match relay_next(&mut stream, &mut relay_split, Duration::from_secs(15)).await {
            Relay::Control(DesktopControl::Transport { path, reason }) => {
                assert_eq!(path, TransportPath::Relay);
                assert!(reason.is_some());
                back = true;
            }
            Relay::Frame(h) => {
                assert!(back, "no relay frame before the switch back");
                assert!(h.seq > g.seq);
                assert_eq!(area(&h), 1280 * 800, "a whole frame after the switch back");
                assert!(close_to(pixel(&h, 450, 400), [0x33, 0x66, 0xcc]));
                break;
            }
            Relay::Control(other) => panic!("unexpected control {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_ice_cannot_connect_frames_keep_coming_over_the_stream() {
    let Some(x) = Xvfb::for_test(640, 480).unwrap() else {
        return;
    };
    let win = TestWindow::open(&x.display, 10, 10, 100, 100, 0xcc3333).unwrap();
    // No interface of that name: the agent has no candidate, ICE cannot connect.
    let mut stream = open(&x.display, &["breeze-none0"]).await;
    let mut split = MessageSplitter::default();
    let (pc, _chunks) = browser().await;
    let started = tokio::time::Instant::now();
    control(
        &stream,
        DesktopControl::RtcOffer {
            sdp: offer(&pc).await,
            ice_servers: Vec::new(),
        },
    )
    .await;
    let mut frames = 0;
    let mut moves = 0;
    let reason = loop {
        match relay_next(&mut stream, &mut split, Duration::from_secs(20)).await {
            Relay::Frame(f) => {
                frames += 1;
                control(&stream, DesktopControl::Ack { seq: f.seq }).await;
                // Keep the screen changing so that frames keep coming.
                moves += 1;
                win.move_to(10 + (moves % 2) * 200, 10).unwrap();
            }
            Relay::Control(DesktopControl::RtcAnswer { sdp }) => {
                pc.set_remote_description(RTCSessionDescription::answer(sdp).unwrap())
                    .await
                    .unwrap();
            }
            Relay::Control(DesktopControl::Transport { path, reason }) => {
                assert_eq!(path, TransportPath::Relay);
                break reason.expect("a reason");
            }
            Relay::Control(other) => panic!("unexpected control {other:?}"),
        }
    };
    let waited = started.elapsed();
    assert!(reason.contains("no direct connection"), "{reason}");
    assert!(
        waited >= Duration::from_secs(RTC_CONNECT_TIMEOUT_SECS)
            && waited < Duration::from_secs(RTC_CONNECT_TIMEOUT_SECS + 5),
        "gave up after {waited:?}"
    );
    assert!(frames >= 5, "frames kept coming while ICE tried: {frames}");
    // And after it gave up (a frame of the last move may come before the refreshed one).
    control(&stream, DesktopControl::Refresh).await;
    let mut whole = false;
    for _ in 0..3 {
        match relay_next(&mut stream, &mut split, Duration::from_secs(5)).await {
            Relay::Frame(f) => {
                control(&stream, DesktopControl::Ack { seq: f.seq }).await;
                if area(&f) == 640 * 480 {
                    whole = true;
                    break;
                }
            }
            Relay::Control(other) => panic!("expected a frame, got {other:?}"),
        }
    }
    assert!(whole, "a whole frame over the stream after the refresh");
    let _ = pc.close().await;
}

/// TURN credentials of the test server, counting the requests it authenticated.
struct TurnUsers {
    key: Vec<u8>,
    asked: Arc<AtomicUsize>,
}

impl webrtc::turn::auth::AuthHandler for TurnUsers {
    fn auth_handle(
        &self,
        username: &str,
        _realm: &str,
        _src: SocketAddr,
    ) -> Result<Vec<u8>, webrtc::turn::Error> {
        if username != "breeze" {
            return Err(webrtc::turn::Error::ErrNoSuchUser);
        }
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self.key.clone())
    }
}

/// A TURN server on 127.0.0.1 (relaying on 127.0.0.1 too); answers its port.
async fn turn_server(asked: Arc<AtomicUsize>) -> (webrtc::turn::server::Server, u16) {
    use webrtc::turn::relay::relay_static::RelayAddressGeneratorStatic;
    use webrtc::turn::server::config::{ConnConfig, ServerConfig};
    let conn = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let port = conn.local_addr().unwrap().port();
    let server = webrtc::turn::server::Server::new(ServerConfig {
        conn_configs: vec![ConnConfig {
            conn,
            relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                relay_address: "127.0.0.1".parse().unwrap(),
                address: "127.0.0.1".to_owned(),
                net: Arc::new(webrtc::util::vnet::net::Net::new(None)),
            }),
        }],
        realm: "breeze.test".to_owned(),
        auth_handler: Arc::new(TurnUsers {
            key: webrtc::turn::auth::generate_auth_key("breeze", "breeze.test", "s3cret"),
            asked,
        }),
        channel_bind_timeout: Duration::from_secs(0),
        alloc_close_notify: None,
    })
    .await
    .unwrap();
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_turn_server_in_the_offer_frames_flow_through_the_relayed_candidates() {
    let Some(x) = Xvfb::for_test(640, 480).unwrap() else {
        return;
    };
    let _win = TestWindow::open(&x.display, 100, 100, 200, 150, 0x33cc66).unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let (turn, port) = turn_server(Arc::clone(&asked)).await;
    let url = format!("turn:127.0.0.1:{port}?transport=udp");
    // The browser may use relayed candidates only: a connection proves the TURN path.
    let (pc, mut chunks) = browser_with(RTCConfiguration {
        ice_servers: vec![RTCIceServer {
            urls: vec![url.clone()],
            username: "breeze".into(),
            credential: "s3cret".into(),
        }],
        ice_transport_policy: RTCIceTransportPolicy::Relay,
        ..RTCConfiguration::default()
    })
    .await;
    let sdp = offer(&pc).await;
    for line in sdp.lines().filter(|l| l.starts_with("a=candidate")) {
        assert!(
            line.contains(" typ relay"),
            "relayed candidates only: {line}"
        );
    }
    let mut stream = open(&x.display, &["lo"]).await;
    let mut split = MessageSplitter::default();
    // The agent gets the TURN server from the offer, as the server forwards it.
    control(
        &stream,
        DesktopControl::RtcOffer {
            sdp,
            ice_servers: vec![IceServer {
                urls: vec![url],
                username: Some("breeze".into()),
                credential: Some("s3cret".into()),
            }],
        },
    )
    .await;
    loop {
        match relay_next(&mut stream, &mut split, Duration::from_secs(20)).await {
            Relay::Frame(f) => control(&stream, DesktopControl::Ack { seq: f.seq }).await,
            Relay::Control(DesktopControl::RtcAnswer { sdp }) => {
                // The agent used the TURN server it was given: it offers a relayed
                // candidate of its own.
                assert!(sdp.contains(" typ relay"), "a relayed candidate: {sdp}");
                pc.set_remote_description(RTCSessionDescription::answer(sdp).unwrap())
                    .await
                    .unwrap();
            }
            Relay::Control(DesktopControl::Transport { path, reason }) => {
                assert_eq!(path, TransportPath::Webrtc, "{reason:?}");
                break;
            }
            Relay::Control(other) => panic!("unexpected control {other:?}"),
        }
    }
    let mut dc_split = MessageSplitter::default();
    let (f, _) = channel_frame(&mut chunks, &mut dc_split).await;
    assert_eq!(area(&f), 640 * 480, "a whole frame after the switch");
    assert!(close_to(pixel(&f, 200, 175), [0x33, 0xcc, 0x66]));
    assert!(
        asked.load(Ordering::SeqCst) > 0,
        "the TURN server authenticated the allocations"
    );
    let _ = pc.close().await;
    turn.close().await.unwrap();
}
