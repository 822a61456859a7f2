//! The agent's desktop streams under Xvfb, through a real mux pair (no server): frames
//! show the screen, input reaches X clients, view-only refuses input, unacknowledged
//! frames stop the capture, a missing monitor is refused with an error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use breeze_agent::remote::{RemoteConfig, serve};
use breeze_e2e::xvfb::{TestWindow, Xvfb};
use breeze_mux::{Dispatch, Event, Mux, MuxOutput, Outgoing, Side, Stream};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote::KIND_DESKTOP;
use breeze_proto::agent::remote_desktop::{
    DesktopControl, DesktopInfo, ENC_JPEG, Frame, MessageSplitter,
};
use std::sync::Arc;
use std::time::Duration;

/// Carries one mux's output into the other (through JSON, as on the socket); streams the
/// agent side opens are served with `config`.
pub(crate) fn carry(mut out: MuxOutput, to: Mux, config: Option<Arc<RemoteConfig>>) {
    tokio::spawn(async move {
        while let Some(o) = out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    let text = serde_json::to_string(&f).unwrap();
                    let frame: ChannelFrame = serde_json::from_str(&text).unwrap();
                    if let Dispatch::Open(inc) = to.on_frame(frame) {
                        serve(inc, config.clone().unwrap());
                    }
                }
                Outgoing::Binary(b) => to.on_binary(&b),
            }
        }
    });
}

/// The server end of a channel to an agent configured with `display`.
fn channel(display: Option<&str>) -> Mux {
    let config = Arc::new(RemoteConfig {
        desktop_display: display.map(str::to_string),
        ..RemoteConfig::default()
    });
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    carry(server_out, agent, Some(config));
    carry(agent_out, server.clone(), None);
    server
}

struct Viewer {
    stream: Stream,
    split: MessageSplitter,
    controls: Vec<DesktopControl>,
}

impl Viewer {
    /// The next frame within `wait` (controls seen meanwhile are kept).
    async fn frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.stream.reader.recv())
                .await
                .ok()??;
            match ev {
                Event::Data(b) => {
                    if let Some(m) = self.split.push(&b).unwrap().into_iter().next() {
                        assert_eq!(self.split.pending(), 0, "one frame at a time here");
                        return Some(Frame::decode(&m).unwrap());
                    }
                }
                Event::Control(v) => self.controls.push(serde_json::from_value(v).unwrap()),
            }
        }
    }

    async fn send(&self, c: DesktopControl) {
        self.stream.writer.control(&c).await.unwrap();
    }

    async fn click(&self, x: i32, y: i32) {
        for down in [true, false] {
            self.send(DesktopControl::PointerButton {
                button: 0,
                down,
                x,
                y,
            })
            .await;
        }
    }
}

async fn open(mux: &Mux, view_only: bool) -> (Viewer, DesktopInfo) {
    let (stream, info) = mux
        .open(
            KIND_DESKTOP,
            serde_json::json!({ "view_only": view_only }),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let viewer = Viewer {
        stream,
        split: MessageSplitter::default(),
        controls: Vec::new(),
    };
    (viewer, serde_json::from_value(info).unwrap())
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
    let meta = dec.info().unwrap();
    assert_eq!((meta.width, meta.height), (r.w, r.h));
    let at = (usize::from(y - r.y) * usize::from(r.w) + usize::from(x - r.x)) * 3;
    [rgb[at], rgb[at + 1], rgb[at + 2]]
}

fn close_to(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_stream_shows_the_screen_and_replays_input() {
    let Some(x) = Xvfb::for_test(1280, 800).unwrap() else {
        return;
    };
    let win = TestWindow::open(&x.display, 200, 150, 300, 200, 0x3366cc).unwrap();
    let mux = channel(Some(&x.display));
    let (mut v, info) = open(&mux, false).await;
    assert_eq!(info.display, x.display);
    assert!(!info.view_only);
    let m = &info.monitors[usize::from(info.current)];
    assert_eq!((m.width, m.height), (1280, 800));

    // First frame: the whole monitor, the window's colour at its centre.
    let f1 = v
        .frame(Duration::from_secs(10))
        .await
        .expect("a first frame");
    assert_eq!((f1.seq, f1.width, f1.height), (1, 1280, 800));
    let area: u32 = f1
        .rects
        .iter()
        .map(|r| u32::from(r.w) * u32::from(r.h))
        .sum();
    assert_eq!(area, 1280 * 800, "the first frame covers the monitor");
    let centre = pixel(&f1, 350, 250);
    assert!(
        close_to(centre, [0x33, 0x66, 0xcc]),
        "window colour, got {centre:?}"
    );
    assert!(close_to(pixel(&f1, 50, 50), [0, 0, 0]), "root is black");

    // A static screen sends nothing, acked or not.
    v.send(DesktopControl::Ack { seq: 1 }).await;
    assert!(v.frame(Duration::from_millis(600)).await.is_none());

    // A click at the window's centre reaches the X client.
    v.click(350, 250).await;
    let press = win.wait_press(Duration::from_secs(5)).unwrap();
    assert_eq!(press, Some((1, 150, 100)));

    // A change sends only the tiles around it.
    win.move_to(600, 150).unwrap();
    let f2 = v
        .frame(Duration::from_secs(5))
        .await
        .expect("a frame after the move");
    assert_eq!(f2.seq, 2);
    let area: u32 = f2
        .rects
        .iter()
        .map(|r| u32::from(r.w) * u32::from(r.h))
        .sum();
    assert!(area < 1280 * 800 / 2, "only changed tiles: {area} px");
    assert!(close_to(pixel(&f2, 750, 250), [0x33, 0x66, 0xcc]));

    // Unacknowledged frames stop the capture after two in flight.
    for i in 0..10 {
        win.move_to(100 + i * 40, 300).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let f3 = v
        .frame(Duration::from_secs(2))
        .await
        .expect("a second frame in flight");
    assert_eq!(f3.seq, 3);
    assert!(
        v.frame(Duration::from_millis(800)).await.is_none(),
        "no third unacknowledged frame"
    );
    v.send(DesktopControl::Ack { seq: 3 }).await;
    let f4 = v
        .frame(Duration::from_secs(2))
        .await
        .expect("frames resume after the ack");
    assert_eq!(f4.seq, 4);
    v.send(DesktopControl::Ack { seq: 4 }).await;

    // Refresh sends everything again.
    v.send(DesktopControl::Refresh).await;
    let f5 = v
        .frame(Duration::from_secs(2))
        .await
        .expect("a refresh frame");
    let area: u32 = f5
        .rects
        .iter()
        .map(|r| u32::from(r.w) * u32::from(r.h))
        .sum();
    assert_eq!(area, 1280 * 800);

    // A monitor that does not exist is an error, the stream goes on.
    v.send(DesktopControl::Monitor { index: 9 }).await;
    v.send(DesktopControl::Ack { seq: 5 }).await;
    let _ = v.frame(Duration::from_millis(500)).await;
    assert!(
        v.controls.iter().any(
            |c| matches!(c, DesktopControl::Error { message } if message.contains("no monitor 9"))
        ),
        "{:?}",
        v.controls
    );
    drop(v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_only_streams_refuse_input() {
    let Some(x) = Xvfb::for_test(800, 600).unwrap() else {
        return;
    };
    let win = TestWindow::open(&x.display, 100, 100, 200, 200, 0x00ff00).unwrap();
    let mux = channel(Some(&x.display));
    let (mut v, info) = open(&mux, true).await;
    assert!(info.view_only);
    let f = v.frame(Duration::from_secs(10)).await.expect("a frame");
    assert!(close_to(pixel(&f, 200, 200), [0, 0xff, 0]));
    v.click(200, 200).await;
    assert_eq!(win.wait_press(Duration::from_secs(1)).unwrap(), None);
    let _ = v.frame(Duration::from_millis(200)).await;
    assert!(
        v.controls.iter().any(
            |c| matches!(c, DesktopControl::Error { message } if message.contains("view-only"))
        )
    );
}

#[tokio::test]
async fn desktop_streams_without_a_display_are_refused_with_a_reason() {
    let mux = channel(Some(":249"));
    let err = mux
        .open(KIND_DESKTOP, serde_json::json!({}), Duration::from_secs(10))
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("cannot connect to the X display :249"),
        "{err}"
    );
}
