//! The agent channel over HTTP/2 (RFC 8441: an extended CONNECT opens a WebSocket on one
//! stream): several agents' channels share one connection, each authenticated by its own
//! token and each receiving its own device's commands.

use crate::events::{enroll, org_and_site};
use crate::harness::{engines, spawn};
use crate::live_output::{run_over_channel, welcomed};
use breeze_proto::agent::{ChannelFrame, PROTOCOL_VERSION};
use breeze_proto::ids::DeviceId;
use futures::SinkExt as _;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

type H2Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Opens `/ws/agents/{dev}` on a new stream of the connection `tx`, with `token` as the
/// bearer (none when `None`): the socket, or the status the server refused it with.
async fn open(
    tx: &SendRequest<String>,
    base: &url::Url,
    dev: DeviceId,
    token: Option<&str>,
) -> Result<H2Socket, hyper::StatusCode> {
    let mut tx = tx.clone();
    tx.ready().await.expect("a stream");
    let mut req = hyper::Request::builder()
        .method(hyper::Method::CONNECT)
        .uri(
            base.join(&format!("/ws/agents/{dev}"))
                .expect("url")
                .as_str(),
        )
        .header(hyper::header::SEC_WEBSOCKET_VERSION, "13");
    if let Some(t) = token {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(String::new()).expect("request");
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let resp = tx.send_request(req).await.expect("an answer");
    if resp.status() != hyper::StatusCode::OK {
        return Err(resp.status());
    }
    let upgraded = hyper::upgrade::on(resp).await.expect("upgraded stream");
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
    let hello = ChannelFrame::Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "test".into(),
    };
    ws.send(Message::text(serde_json::to_string(&hello).expect("json")))
        .await
        .expect("hello");
    Ok(ws)
}

#[tokio::test]
async fn agent_channels_share_one_http2_connection_each_with_its_own_token_and_commands() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "H2").await;
        let (d1, a1) = enroll(&app, &pa, org, site, "h2-01").await;
        let (d2, a2) = enroll(&app, &pa, org, site, "h2-02").await;
        let base = app.client.base().clone();
        let tcp = tokio::net::TcpStream::connect((
            base.host_str().expect("host"),
            base.port().expect("port"),
        ))
        .await
        .expect("connect");
        let (tx, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tcp))
            .await
            .expect("HTTP/2 with prior knowledge");
        tokio::spawn(conn);

        // Refused streams leave the connection usable.
        assert_eq!(
            open(&tx, &base, d1, None).await.err(),
            Some(hyper::StatusCode::UNAUTHORIZED),
            "{}: no token",
            app.engine
        );
        assert_eq!(
            open(&tx, &base, d1, Some("not-a-token")).await.err(),
            Some(hyper::StatusCode::UNAUTHORIZED),
            "{}: a wrong token",
            app.engine
        );
        let mut w1 = open(&tx, &base, d1, a1.token()).await.expect("channel 1");
        let mut w2 = open(&tx, &base, d2, a2.token()).await.expect("channel 2");
        welcomed(&mut w1).await;
        welcomed(&mut w2).await;

        // Each channel gets its own device's command, pushed as it is queued.
        let (_, c2) = run_over_channel(&pa, org, d2, &mut w2, "echo two").await;
        let (_, c1) = run_over_channel(&pa, org, d1, &mut w1, "echo one").await;
        assert_ne!(c1, c2, "{}", app.engine);
        app.stop().await;
    }
}
