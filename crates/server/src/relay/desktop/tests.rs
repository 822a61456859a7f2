//! The bridge between a browser socket (channels standing in for the WebSocket halves)
//! and a real mux stream whose agent end the test drives.

use super::*;
use breeze_mux::{Dispatch, Incoming, Mux, MuxOutput, Outgoing, Side, Stream};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote_desktop::{DesktopMonitor, length_prefixed};
use futures::channel::mpsc;
use std::convert::Infallible;
use tokio::task::JoinHandle;

fn carry(
    mut out: MuxOutput,
    to: Mux,
    accepted: Option<tokio::sync::mpsc::UnboundedSender<Incoming>>,
) {
    tokio::spawn(async move {
        while let Some(o) = out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    let text = serde_json::to_string(&f).unwrap();
                    let frame: ChannelFrame = serde_json::from_str(&text).unwrap();
                    if let Dispatch::Open(inc) = to.on_frame(frame) {
                        accepted.as_ref().unwrap().send(inc).unwrap();
                    }
                }
                Outgoing::Binary(b) => to.on_binary(&b),
            }
        }
    });
}

fn info() -> serde_json::Value {
    serde_json::to_value(DesktopInfo {
        display: ":7".into(),
        monitors: vec![DesktopMonitor {
            index: 0,
            name: "VIRT-0".into(),
            x: 0,
            y: 0,
            width: 640,
            height: 480,
            primary: true,
        }],
        current: 0,
        view_only: false,
    })
    .unwrap()
}

struct Rig {
    /// The agent's end of the stream.
    agent: Stream,
    /// Browser → bridge.
    to_bridge: mpsc::Sender<Result<Message, Infallible>>,
    /// Bridge → browser.
    from_bridge: mpsc::Receiver<Message>,
    bridge: JoinHandle<BridgeEnd>,
}

async fn rig(view_only: bool, idle: Duration) -> Rig {
    rig_with(view_only, idle, None).await
}

async fn rig_with(view_only: bool, idle: Duration, rtc: Option<Vec<IceServer>>) -> Rig {
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    let (acc_tx, mut acc_rx) = tokio::sync::mpsc::unbounded_channel();
    carry(server_out, agent, Some(acc_tx));
    carry(agent_out, server.clone(), None);
    let opened = tokio::spawn(async move {
        server
            .open("desktop", serde_json::json!({}), Duration::from_secs(5))
            .await
    });
    let agent_stream = acc_rx.recv().await.unwrap().accept(info());
    let (stream, info) = opened.await.unwrap().unwrap();
    let (to_bridge, source) = mpsc::channel(4);
    // Capacity 0: a send completes only once the "browser" took the message, like a
    // socket whose peer stopped reading.
    let (sink, from_bridge) = mpsc::channel(0);
    let (reader, writer) = stream.split();
    let bridge = tokio::spawn(pump(
        sink, source, reader, writer, info, view_only, idle, rtc,
    ));
    Rig {
        agent: agent_stream,
        to_bridge,
        from_bridge,
        bridge,
    }
}

impl Rig {
    async fn next(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.from_bridge.next())
            .await
            .expect("a message in time")
            .expect("the bridge is open")
    }

    async fn next_json(&mut self) -> DesktopServerMessage {
        match self.next().await {
            Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    async fn browser_sends(&mut self, v: serde_json::Value) {
        self.to_bridge
            .send(Ok(Message::Text(v.to_string().into())))
            .await
            .unwrap();
    }

    async fn agent_control(&mut self) -> DesktopControl {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.agent.reader.recv())
                .await
                .expect("a control in time")
                .expect("the stream is open")
            {
                Event::Control(v) => return serde_json::from_value(v).unwrap(),
                Event::Data(_) => continue,
            }
        }
    }
}

#[tokio::test]
async fn frames_reach_the_browser_whole_and_in_order_after_the_hello() {
    let mut r = rig(false, Duration::from_secs(30)).await;
    match r.next_json().await {
        DesktopServerMessage::Hello {
            display,
            monitors,
            current,
            view_only,
        } => {
            assert_eq!(
                (display.as_str(), monitors.len(), current, view_only),
                (":7", 1, 0, false)
            );
            assert_eq!(monitors[0].name, "VIRT-0");
        }
        other => panic!("hello first, got {other:?}"),
    }
    let frames: Vec<Vec<u8>> = vec![vec![1; 10], vec![2; 200_000], vec![3; 5]];
    let stream: Vec<u8> = frames
        .iter()
        .flat_map(|f| length_prefixed(f).unwrap())
        .collect();
    // Cut where frames do not end: the bridge must reassemble.
    r.agent.writer.send(&stream[..7]).await.unwrap();
    r.agent.writer.send(&stream[7..150_000]).await.unwrap();
    r.agent.writer.send(&stream[150_000..]).await.unwrap();
    for f in &frames {
        match r.next().await {
            Message::Binary(b) => assert_eq!(&b[..], &f[..]),
            other => panic!("expected a frame, got {other:?}"),
        }
    }
    // The agent's monitor switch and errors reach the browser as JSON.
    r.agent
        .writer
        .control(&DesktopControl::MonitorChanged { current: 0 })
        .await
        .unwrap();
    assert_eq!(
        r.next_json().await,
        DesktopServerMessage::Monitor { current: 0 }
    );
    // Browser input and acks reach the agent as controls.
    r.browser_sends(
        serde_json::json!({"type":"pointer_button","button":0,"down":true,"x":5,"y":6}),
    )
    .await;
    r.browser_sends(serde_json::json!({"type":"ack","seq":3}))
        .await;
    assert_eq!(
        r.agent_control().await,
        DesktopControl::PointerButton {
            button: 0,
            down: true,
            x: 5,
            y: 6
        }
    );
    assert_eq!(r.agent_control().await, DesktopControl::Ack { seq: 3 });
    // A bad message is answered with an error naming the problem; the session goes on.
    r.browser_sends(serde_json::json!({"type":"format_disk"}))
        .await;
    match r.next_json().await {
        DesktopServerMessage::Error { message } => {
            assert!(message.contains("invalid message"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // The browser leaves: the stream closes, bytes were counted.
    drop(r.to_bridge);
    let end = r.bridge.await.unwrap();
    assert!(!end.failed);
    assert_eq!(end.reason.as_deref(), Some("closed by the browser"));
    assert!(end.bytes >= stream.len() as u64, "{}", end.bytes);
    assert!(
        r.agent.reader.recv().await.is_none(),
        "the agent's stream ended"
    );
}

#[tokio::test]
async fn view_only_sessions_drop_input_and_say_so_once() {
    let mut r = rig(true, Duration::from_secs(30)).await;
    let _hello = r.next_json().await;
    for down in [true, false] {
        r.browser_sends(
            serde_json::json!({"type":"pointer_button","button":0,"down":down,"x":1,"y":1}),
        )
        .await;
    }
    r.browser_sends(serde_json::json!({"type":"key","key":"a","down":true}))
        .await;
    r.browser_sends(serde_json::json!({"type":"refresh"})).await;
    // (The browser channel holds one message: read the error before the bridge goes on.)
    match r.next_json().await {
        DesktopServerMessage::Error { message } => {
            assert!(message.contains("view-only"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Only the refresh reaches the agent.
    assert_eq!(r.agent_control().await, DesktopControl::Refresh);
    // Told once: the next thing the browser sees is the frame sent now.
    r.agent
        .writer
        .send(&length_prefixed(&[9; 4]).unwrap())
        .await
        .unwrap();
    assert!(matches!(r.next().await, Message::Binary(b) if b[..] == [9; 4]));
}

#[tokio::test]
async fn an_idle_session_ends() {
    let mut r = rig(false, Duration::from_millis(300)).await;
    let _hello = r.next_json().await;
    match r.next_json().await {
        DesktopServerMessage::Error { message } => assert!(message.contains("idle"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.next().await, Message::Close(_)));
    let end = tokio::time::timeout(Duration::from_secs(5), r.bridge)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end.reason.as_deref(), Some("idle timeout"));
    assert!(!end.failed);
    assert!(r.agent.reader.recv().await.is_none());
}

#[tokio::test]
async fn the_agent_ending_the_stream_with_a_reason_fails_the_session() {
    let mut r = rig(false, Duration::from_secs(30)).await;
    let _hello = r.next_json().await;
    r.agent
        .writer
        .close(Some("capture failed: the X server went away".into()));
    match r.next_json().await {
        DesktopServerMessage::Error { message } => assert!(message.contains("X server went away")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.next().await, Message::Close(_)));
    let end = r.bridge.await.unwrap();
    assert!(end.failed);
}

#[tokio::test]
async fn a_browser_that_does_not_read_holds_the_agent_back() {
    let mut r = rig(false, Duration::from_secs(30)).await;
    let _hello = r.next_json().await;
    let frame = length_prefixed(&[7u8; 100_000]).unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = r.agent.writer.clone();
    let counter = sent.clone();
    let producer = tokio::spawn(async move {
        for _ in 0..40 {
            writer.send(&frame).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stuck = sent.load(std::sync::atomic::Ordering::SeqCst);
    // The window (1 MiB) plus the frame the bridge is sending: far below 40 frames.
    assert!(
        stuck <= 13,
        "{stuck} frames went out while the browser read nothing"
    );
    for _ in 0..40 {
        assert!(matches!(r.next().await, Message::Binary(b) if b.len() == 100_000));
    }
    producer.await.unwrap();
}

fn ice() -> Vec<IceServer> {
    vec![
        IceServer {
            urls: vec!["stun:stun.example.net:3478".into()],
            username: None,
            credential: None,
        },
        IceServer {
            urls: vec!["turn:turn.example.net:3478?transport=udp".into()],
            username: Some("breeze".into()),
            credential: Some("s3cret".into()),
        },
    ]
}

#[tokio::test]
async fn webrtc_signalling_carries_the_configured_ice_servers_to_the_agent_and_back() {
    use breeze_proto::agent::remote_desktop::TransportPath;
    let mut r = rig_with(false, Duration::from_secs(30), Some(ice())).await;
    assert!(matches!(
        r.next_json().await,
        DesktopServerMessage::Hello { .. }
    ));
    // The browser learns the ICE servers right after the hello.
    assert_eq!(
        r.next_json().await,
        DesktopServerMessage::Rtc { ice_servers: ice() }
    );
    // Its offer reaches the agent with the server's ICE servers added.
    r.browser_sends(serde_json::json!({"type":"rtc_offer","sdp":"v=0 offer"}))
        .await;
    assert_eq!(
        r.agent_control().await,
        DesktopControl::RtcOffer {
            sdp: "v=0 offer".into(),
            ice_servers: ice()
        }
    );
    // The agent's answer and its path changes reach the browser.
    r.agent
        .writer
        .control(&DesktopControl::RtcAnswer {
            sdp: "v=0 answer".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        r.next_json().await,
        DesktopServerMessage::RtcAnswer {
            sdp: "v=0 answer".into()
        }
    );
    for (path, reason) in [
        (TransportPath::Webrtc, None),
        (
            TransportPath::Relay,
            Some("the data channel closed".to_string()),
        ),
    ] {
        r.agent
            .writer
            .control(&DesktopControl::Transport {
                path,
                reason: reason.clone(),
            })
            .await
            .unwrap();
        assert_eq!(
            r.next_json().await,
            DesktopServerMessage::Transport { path, reason }
        );
    }
}

#[tokio::test]
async fn with_webrtc_off_offers_are_answered_with_an_error_and_not_forwarded() {
    let mut r = rig(false, Duration::from_secs(30)).await;
    assert!(matches!(
        r.next_json().await,
        DesktopServerMessage::Hello { .. }
    ));
    r.browser_sends(serde_json::json!({"type":"rtc_offer","sdp":"v=0"}))
        .await;
    match r.next_json().await {
        DesktopServerMessage::Error { message } => {
            assert!(message.contains("WebRTC is turned off"), "{message}")
        }
        other => panic!("no rtc message without WebRTC, got {other:?}"),
    }
    r.browser_sends(serde_json::json!({"type":"refresh"})).await;
    assert_eq!(r.agent_control().await, DesktopControl::Refresh);
}
