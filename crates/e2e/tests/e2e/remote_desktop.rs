//! Remote desktop end to end under Xvfb: the real server and the real agent (its
//! `desktop_display` pointing at a fresh Xvfb), a test X client mapping a window of a
//! known colour, and the desktop session opened through the API and driven over the raw
//! socket contract: the first frame shows the window's colour at its centre, a click at
//! the centre reaches the X client, a view-only session's click does not.
//! Skipped (with the reason printed) only when Xvfb is missing and `CI` is unset.

use crate::agent::{Enrolled, agent_cmd, server_with_enrolled_agent, stop};
use crate::support::{Api, eventually};
use anyhow::{Context as _, Result, bail};
use breeze_e2e::xvfb::{TestWindow, Xvfb};
use breeze_proto::agent::remote_desktop::{ENC_JPEG, Frame};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const COLOUR: u32 = 0xcc3333;
/// The window: 400×300 at (400, 300); its centre on the monitor.
const CENTRE: (i32, i32) = (600, 450);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_session_shows_the_window_and_clicks_reach_it() -> Result<()> {
    let Some(x) = Xvfb::for_test(1920, 1080)? else {
        return Ok(());
    };
    let window = TestWindow::open(&x.display, 400, 300, 400, 300, COLOUR)?;
    let dir = tempfile::tempdir()?;
    let Enrolled {
        bin,
        server,
        admin,
        dev,
        state,
        ..
    } = server_with_enrolled_agent(dir.path(), "Desk", "agent-desk").await?;
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("[remote]\ndesktop_display = \"{}\"\n", x.display),
    )?;
    let log = std::fs::File::create(state.with_extension("log"))?;
    let mut agent = agent_cmd(&bin, &state)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env_remove("DISPLAY")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    eventually(60, "the device online", || {
        let admin = admin.clone();
        let dev = dev.clone();
        async move {
            let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
            Ok((d["status"] == "online").then_some(()))
        }
    })
    .await?;

    // A controlling session: frame, then a click that reaches the window.
    let (id, mut ws) = open(&admin, &server.url, &dev, false).await?;
    let hello = next_text(&mut ws).await?;
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["display"], x.display.as_str());
    assert_eq!(hello["view_only"], false);
    let frame = next_frame(&mut ws).await?;
    assert_eq!((frame.width, frame.height), (1920, 1080));
    let px = pixel(&frame, CENTRE.0, CENTRE.1)?;
    assert!(
        close_to(px, COLOUR),
        "the window's colour at its centre, got {px:?}"
    );
    send(&mut ws, json!({"type": "ack", "seq": frame.seq})).await?;
    click(&mut ws).await?;
    let press = tokio::task::block_in_place(|| window.wait_press(Duration::from_secs(10)))?;
    assert_eq!(press, Some((1, 200, 150)), "the click reached the X client");
    ws.close(None).await?;
    let ended = eventually(30, "the session ended", || {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let (_, s) = admin.get(&format!("/api/v1/remote/sessions/{id}")).await?;
            Ok((s["status"] == "disconnected").then_some(s))
        }
    })
    .await?;
    assert!(
        ended["bytes_transferred"].as_i64().unwrap_or(0) > 10_000,
        "{ended}"
    );

    // A view-only session sees the screen, but its click never reaches the window.
    let (_, mut ws) = open(&admin, &server.url, &dev, true).await?;
    let hello = next_text(&mut ws).await?;
    assert_eq!(hello["view_only"], true, "{hello}");
    let frame = next_frame(&mut ws).await?;
    assert!(close_to(pixel(&frame, CENTRE.0, CENTRE.1)?, COLOUR));
    click(&mut ws).await?;
    let told = next_text(&mut ws).await?;
    assert_eq!(told["type"], "error", "{told}");
    assert!(
        told["message"].as_str().unwrap_or("").contains("view-only"),
        "{told}"
    );
    let press = tokio::task::block_in_place(|| window.wait_press(Duration::from_secs(3)))?;
    assert_eq!(press, None, "a view-only click reached the X client");
    ws.close(None).await?;

    stop(&mut agent).await?;
    Ok(())
}

/// Opens a desktop session and its socket (with the server's own Origin).
async fn open(admin: &Api, url: &str, dev: &str, view_only: bool) -> Result<(String, Socket)> {
    let (st, created) = admin
        .post(
            "/api/v1/remote/sessions",
            json!({"device_id": dev, "type": "desktop", "view_only": view_only}),
        )
        .await?;
    if st.as_u16() != 201 {
        bail!("opening a desktop session: {st} {created}");
    }
    let id = created["id"].as_str().context("id")?.to_string();
    let ws_url = format!(
        "{}{}?ticket={}",
        url.replacen("http", "ws", 1),
        created["ws_path"].as_str().context("ws_path")?,
        created["ticket"].as_str().context("ticket")?
    );
    let mut req = ws_url.into_client_request()?;
    req.headers_mut().insert("Origin", url.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    Ok((id, ws))
}

async fn next(ws: &mut Socket) -> Result<Message> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .context("no message from the desktop socket in 20 s")?
            .context("the desktop socket closed")??;
        match m {
            Message::Text(_) | Message::Binary(_) => return Ok(m),
            Message::Close(c) => bail!("the desktop socket closed: {c:?}"),
            _ => continue,
        }
    }
}

async fn next_text(ws: &mut Socket) -> Result<Value> {
    loop {
        if let Message::Text(t) = next(ws).await? {
            return Ok(serde_json::from_str(t.as_str())?);
        }
    }
}

async fn next_frame(ws: &mut Socket) -> Result<Frame> {
    loop {
        match next(ws).await? {
            Message::Binary(b) => return Ok(Frame::decode(&b)?),
            Message::Text(t) => {
                // The ICE servers for WebRTC come after `hello`: this client stays on the
                // relay, as a browser does when it cannot connect directly.
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] != "rtc" {
                    bail!("expected a frame, got {t}");
                }
            }
            _ => continue,
        }
    }
}

async fn send(ws: &mut Socket, v: Value) -> Result<()> {
    ws.send(Message::text(v.to_string())).await?;
    Ok(())
}

async fn click(ws: &mut Socket) -> Result<()> {
    for down in [true, false] {
        let m = json!({"type": "pointer_button", "button": 0, "down": down, "x": CENTRE.0, "y": CENTRE.1});
        send(ws, m).await?;
    }
    Ok(())
}

/// The RGB pixel at (`x`, `y`), decoded from the frame's JPEG rectangle there.
fn pixel(frame: &Frame, x: i32, y: i32) -> Result<[u8; 3]> {
    let (x, y) = (u16::try_from(x)?, u16::try_from(y)?);
    let r = frame
        .rects
        .iter()
        .find(|r| (r.x..r.x + r.w).contains(&x) && (r.y..r.y + r.h).contains(&y))
        .context("no rectangle covers the point")?;
    if r.encoding != ENC_JPEG {
        bail!("rectangle encoding {}", r.encoding);
    }
    let rgb = jpeg_decoder::Decoder::new(&r.data[..]).decode()?;
    let at = (usize::from(y - r.y) * usize::from(r.w) + usize::from(x - r.x)) * 3;
    Ok([rgb[at], rgb[at + 1], rgb[at + 2]])
}

/// Within 12 levels a channel (JPEG).
fn close_to(px: [u8; 3], rgb: u32) -> bool {
    let want = [(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8];
    px.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 12)
}
