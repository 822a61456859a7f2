//! Live script output: `command_output` frames on the agent channel are appended to the
//! execution (in order, bounded by the output cap, never after the final result) and
//! published as `execution.output` to exactly the streams that may see the device. An
//! agent naming another device's command loses its channel and its token.

use crate::events::{enroll, heartbeat, invite, open, org_and_site, quarantine, read_until};
use crate::harness::{TestApp, engines, spawn};
use breeze_client::BreezeClient;
use breeze_core::roles::ORG_ADMIN;
use breeze_proto::agent::{ChannelFrame, CommandOutput, OutputStream, SignedCommand};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) type AgentSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the agent channel of `dev` with the agent's token.
pub(crate) async fn agent_channel(
    app: &TestApp,
    dev: DeviceId,
    agent: &BreezeClient,
) -> AgentSocket {
    let mut ws_url = app
        .client
        .base()
        .join(&format!("/ws/agents/{dev}"))
        .expect("url");
    ws_url.set_scheme("ws").expect("ws scheme");
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url.as_str(),
    )
    .expect("ws request");
    req.headers_mut().insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", agent.token().expect("agent token"))
            .parse()
            .expect("header"),
    );
    tokio_tungstenite::connect_async(req)
        .await
        .expect("agent channel")
        .0
}

/// Reads frames (on a channel over TCP or an HTTP/2 stream) until `pick` takes one.
pub(crate) async fn next_frame<S, T>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    pick: impl Fn(ChannelFrame) -> Option<T>,
) -> T
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("channel open")
            .expect("frame");
        let Message::Text(text) = msg else { continue };
        if let Some(t) =
            pick(serde_json::from_str::<ChannelFrame>(text.as_str()).expect("frame json"))
        {
            return t;
        }
    }
}

/// Reads frames until a command arrives.
pub(crate) async fn next_command<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> SignedCommand
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    next_frame(ws, |f| match f {
        ChannelFrame::Command(c) => Some(c),
        _ => None,
    })
    .await
}

/// Reads frames until the server's `welcome` (the channel is registered once it came).
pub(crate) async fn welcomed<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    next_frame(ws, |f| {
        matches!(f, ChannelFrame::Welcome { .. }).then_some(())
    })
    .await
}

/// Creates a bash script in `org` and runs it on `dev`, whose channel `ws` is open;
/// answers the execution and the command the channel delivered.
pub(crate) async fn run_over_channel<S>(
    admin: &BreezeClient,
    org: OrgId,
    dev: DeviceId,
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    content: &str,
) -> (ExecutionId, CommandId)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let script: Script = admin
        .post(
            "/api/v1/scripts",
            &json!({"org_id": org, "name": format!("s-{}", uuid::Uuid::new_v4().simple()),
                "language": "bash", "os_types": ["linux"], "content": content}),
        )
        .await
        .expect("script");
    let started: Data<Vec<ExecutionRef>> = admin
        .post(
            &format!("/api/v1/scripts/{}/execute", script.id),
            &json!({"device_ids": [dev]}),
        )
        .await
        .expect("execute");
    (started.data[0].id, next_command(ws).await.envelope.id)
}

async fn send(ws: &mut AgentSocket, frame: &ChannelFrame) {
    let text = serde_json::to_string(frame).expect("json");
    ws.send(Message::Text(text.into())).await.expect("send");
}

fn output(command: CommandId, stream: OutputStream, offset: u64, data: &str) -> ChannelFrame {
    ChannelFrame::CommandOutput(CommandOutput {
        command_id: command,
        stream,
        offset,
        data: data.into(),
    })
}

async fn execution(c: &BreezeClient, id: ExecutionId) -> ScriptExecution {
    c.get(&format!("/api/v1/script-executions/{id}"))
        .await
        .expect("execution")
}

fn is_output(e: &LiveEvent) -> bool {
    matches!(e, LiveEvent::ExecutionOutput { .. })
}

#[tokio::test]
async fn live_output_is_appended_in_order_bounded_and_reaches_only_streams_in_scope() {
    for engine in engines() {
        // The smallest cap the server takes, so the bound is reachable in a test.
        let app = spawn(engine, |c| c.agents.max_output_bytes = 1024).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "A0").await;
        let (org1, site1) = org_and_site(&pa, "A1").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "build-01").await;
        let (marker, _) = enroll(&app, &pa, org1, site1, "a1-marker").await;
        let ob = invite(&app, &pa, "ob@acme.test", RoleId(ORG_ADMIN), org1, None).await;
        let mut s_pa = open("partner admin", &pa).await;
        let mut s_ob = open("other org's admin", &ob).await;

        let mut ws = agent_channel(&app, dev, &agent).await;
        let (exec, run) =
            run_over_channel(&pa, org, dev, &mut ws, "echo one; sleep 5; echo two").await;
        let ack = json!({"type": "command_ack", "command_id": run, "status": "running",
            "started_at": chrono::Utc::now()});
        ws.send(Message::Text(ack.to_string().into()))
            .await
            .expect("ack");

        // The first chunk: appended and published while the execution runs.
        send(&mut ws, &output(run, OutputStream::Stdout, 0, "one é\n")).await;
        let seen = read_until("partner admin", &mut s_pa, is_output).await;
        assert_eq!(
            seen.last(),
            Some(&LiveEvent::ExecutionOutput {
                device_id: dev,
                execution_id: exec,
                command_id: run,
                stream: OutputStream::Stdout,
                offset: 0,
                data: "one é\n".into(),
            })
        );
        let ex = execution(&pa, exec).await;
        assert_eq!(ex.status, "running");
        assert_eq!(ex.stdout.as_deref(), Some("one é\n"));

        // A repeat and a gap are not taken; the next chunk at the right offset (bytes,
        // not characters) and a chunk of the other stream are.
        send(&mut ws, &output(run, OutputStream::Stdout, 0, "one é\n")).await;
        send(&mut ws, &output(run, OutputStream::Stdout, 99, "lost\n")).await;
        send(&mut ws, &output(run, OutputStream::Stdout, 7, "two\n")).await;
        send(&mut ws, &output(run, OutputStream::Stderr, 0, "warn\n")).await;
        let seen = read_until("partner admin", &mut s_pa, |e| {
            matches!(
                e,
                LiveEvent::ExecutionOutput {
                    stream: OutputStream::Stderr,
                    ..
                }
            )
        })
        .await;
        let offsets: Vec<(OutputStream, u64)> = seen
            .iter()
            .filter_map(|e| match e {
                LiveEvent::ExecutionOutput { stream, offset, .. } => Some((*stream, *offset)),
                _ => None,
            })
            .collect();
        assert_eq!(
            offsets,
            [(OutputStream::Stdout, 7), (OutputStream::Stderr, 0)],
            "{seen:?}"
        );
        let ex = execution(&pa, exec).await;
        assert_eq!(ex.stdout.as_deref(), Some("one é\ntwo\n"));
        assert_eq!(ex.stderr.as_deref(), Some("warn\n"));

        // The cap bounds what is held: a chunk that would pass it is not taken.
        let big = "x".repeat(1024);
        send(&mut ws, &output(run, OutputStream::Stdout, 11, &big)).await;
        let fits = "y".repeat(1024 - 11);
        send(&mut ws, &output(run, OutputStream::Stdout, 11, &fits)).await;
        let seen = read_until("partner admin", &mut s_pa, is_output).await;
        assert!(
            matches!(seen.last(), Some(LiveEvent::ExecutionOutput { offset: 11, data, .. }) if *data == fits),
            "{seen:?}"
        );
        assert_eq!(
            execution(&pa, exec).await.stdout.map(|s| s.len()),
            Some(1024)
        );

        // Another organization's admin saw none of it: the marker comes after.
        quarantine(&pa, marker).await;
        let seen = read_until(
            "other org's admin",
            &mut s_ob,
            |e| matches!(e, LiveEvent::DeviceStatus { device_id, .. } if *device_id == marker),
        )
        .await;
        assert!(
            seen.iter().all(|e| !is_output(e)),
            "output of another organization's device leaked: {seen:?}"
        );

        // The final result replaces the live text; output after it is not taken.
        let _: Value = agent
            .post(
                &format!("/api/v1/agents/{dev}/commands/{run}/result"),
                &json!({"command_id": run, "command_type": "run_script", "status": "completed",
                    "exit_code": 0, "stdout": "one é\ntwo\n", "stderr": "warn\n",
                    "completed_at": chrono::Utc::now()}),
            )
            .await
            .expect("result");
        read_until(
            "partner admin",
            &mut s_pa,
            |e| matches!(e, LiveEvent::ExecutionUpdated { status, .. } if status == "completed"),
        )
        .await;
        send(&mut ws, &output(run, OutputStream::Stderr, 5, "late\n")).await;
        // A ping's answer proves the frame before it was handled.
        send(&mut ws, &ChannelFrame::Ping { id: 7 }).await;
        loop {
            let msg = tokio::time::timeout(PATIENCE, ws.next())
                .await
                .expect("pong in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(t) = msg
                && serde_json::from_str::<ChannelFrame>(t.as_str()).ok()
                    == Some(ChannelFrame::Pong { id: 7 })
            {
                break;
            }
        }
        let ex = execution(&pa, exec).await;
        assert_eq!(ex.status, "completed");
        assert_eq!(ex.stdout.as_deref(), Some("one é\ntwo\n"));
        assert_eq!(ex.stderr.as_deref(), Some("warn\n"));
    }
}

#[tokio::test]
async fn output_for_another_devices_command_suspends_the_agent() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "A0").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "victim").await;
        let (other, intruder) = enroll(&app, &pa, org, site, "intruder").await;
        let mut ws = agent_channel(&app, dev, &agent).await;
        let (_, run) = run_over_channel(&pa, org, dev, &mut ws, "true").await;

        let mut bad = agent_channel(&app, other, &intruder).await;
        send(&mut bad, &output(run, OutputStream::Stdout, 0, "spoofed\n")).await;
        // The server ends the intruder's channel …
        let ended = tokio::time::timeout(PATIENCE, async {
            while let Some(Ok(m)) = bad.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the channel stayed open");
        // … its token no longer works, and nothing reached the execution.
        let hb: Result<Value, _> = intruder
            .post(&format!("/api/v1/agents/{other}/heartbeat"), &heartbeat())
            .await;
        assert!(hb.is_err(), "a suspended token still heartbeats: {hb:?}");
        let list: Page<ScriptExecution> = pa
            .get(&format!("/api/v1/script-executions?device_id={dev}"))
            .await
            .expect("executions");
        assert_eq!(list.data[0].stdout, None);
    }
}
