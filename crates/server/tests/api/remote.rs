//! Remote sessions (issue 12) through the API, with a fake agent on the real channel that
//! accepts terminal streams and echoes bytes: lifecycle, the relay both ways, resize,
//! exit, recording, tickets (single use, expiry), the Origin check before the upgrade,
//! DELETE ending a live socket, the idle timeout, permissions, tenancy and audit.

use crate::events::{enroll, invite, org_and_site};
use crate::harness::{TestApp, engines, spawn, spawn_clocked};
use crate::live_output::{AgentSocket, agent_channel};
use breeze_client::BreezeClient;
use breeze_core::FixedClock;
use breeze_core::roles::ORG_VIEWER;
use breeze_proto::agent::channel::{decode_binary, encode_binary};
use breeze_proto::agent::{ChannelFrame, StreamId};
use breeze_proto::api::*;
use breeze_proto::ids::*;
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PATIENCE: Duration = Duration::from_secs(20);

type Browser =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the fake agent saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) opened: Vec<(String, Value)>,
    pub(crate) closed: Vec<StreamId>,
}

async fn send_frame(ws: &mut AgentSocket, f: &ChannelFrame) {
    ws.send(Message::Text(serde_json::to_string(f).unwrap().into()))
        .await
        .unwrap();
}

/// Connects `dev`'s channel and serves terminal streams: accepts them, echoes input,
/// answers a resize with `resized CxR`, and `exit\r` with exit code 3.
pub(crate) async fn fake_agent(
    app: &TestApp,
    dev: DeviceId,
    agent: &BreezeClient,
) -> Arc<Mutex<Seen>> {
    let mut ws = agent_channel(app, dev, agent).await;
    send_frame(
        &mut ws,
        &ChannelFrame::Hello {
            protocol_version: 1,
            agent_version: "0.1.0".into(),
        },
    )
    .await;
    // The channel is registered once the server answered.
    loop {
        let m = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m
            && matches!(
                serde_json::from_str(t.as_str()).unwrap(),
                ChannelFrame::Welcome { .. }
            )
        {
            break;
        }
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Binary(b) => {
                    let (id, payload) = decode_binary(&b).unwrap();
                    let payload = payload.to_vec();
                    send_frame(
                        &mut ws,
                        &ChannelFrame::StreamWindow {
                            stream: id,
                            bytes: payload.len() as u64,
                        },
                    )
                    .await;
                    if payload == b"exit\r" {
                        send_frame(
                            &mut ws,
                            &ChannelFrame::StreamControl {
                                stream: id,
                                message: json!({"type": "exit", "code": 3}),
                            },
                        )
                        .await;
                        send_frame(
                            &mut ws,
                            &ChannelFrame::StreamClose {
                                stream: id,
                                reason: None,
                            },
                        )
                        .await;
                    } else {
                        ws.send(Message::Binary(encode_binary(id, &payload).into()))
                            .await
                            .unwrap();
                    }
                }
                Message::Text(t) => match serde_json::from_str::<ChannelFrame>(t.as_str()).unwrap()
                {
                    ChannelFrame::StreamOpen {
                        stream,
                        kind,
                        params,
                    } => {
                        s.lock()
                            .unwrap()
                            .opened
                            .push((kind.clone(), params.clone()));
                        if kind == "terminal" {
                            send_frame(
                                &mut ws,
                                &ChannelFrame::StreamAccept {
                                    stream,
                                    info: json!({"shell": "/bin/fake", "user": "test"}),
                                },
                            )
                            .await;
                            let hello = format!("ready {}x{}\r\n", params["cols"], params["rows"]);
                            ws.send(Message::Binary(
                                encode_binary(stream, hello.as_bytes()).into(),
                            ))
                            .await
                            .unwrap();
                        } else {
                            send_frame(
                                &mut ws,
                                &ChannelFrame::StreamClose {
                                    stream,
                                    reason: Some(format!("no {kind} here")),
                                },
                            )
                            .await;
                        }
                    }
                    ChannelFrame::StreamControl { stream, message } => {
                        let text = format!("resized {}x{}\r\n", message["cols"], message["rows"]);
                        ws.send(Message::Binary(
                            encode_binary(stream, text.as_bytes()).into(),
                        ))
                        .await
                        .unwrap();
                    }
                    ChannelFrame::StreamClose { stream, .. } => {
                        s.lock().unwrap().closed.push(stream)
                    }
                    ChannelFrame::Ping { id } => {
                        send_frame(&mut ws, &ChannelFrame::Pong { id }).await
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    });
    seen
}

fn ws_url(app: &TestApp, path: &str, ticket: Option<&str>) -> String {
    let mut u = app.client.base().join(path).unwrap();
    u.set_scheme("ws").unwrap();
    if let Some(t) = ticket {
        u.query_pairs_mut().append_pair("ticket", t);
    }
    u.to_string()
}

fn own_origin(app: &TestApp) -> String {
    let b = app.client.base();
    format!("http://{}:{}", b.host_str().unwrap(), b.port().unwrap())
}

/// Opens the session socket; `Err(status)` when refused before the upgrade.
async fn connect(
    app: &TestApp,
    created: &RemoteSessionCreated,
    ticket: Option<&str>,
    origin: Option<&str>,
) -> Result<Browser, (StatusCode, String)> {
    let mut req = ws_url(app, &created.ws_path, ticket)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            Err((status, body))
        }
        Err(e) => panic!("connecting: {e}"),
    }
}

pub(crate) async fn open_session(
    c: &BreezeClient,
    dev: DeviceId,
    body: Value,
) -> RemoteSessionCreated {
    let mut body = body;
    body["device_id"] = json!(dev);
    c.post("/api/v1/remote/sessions", &body)
        .await
        .expect("session")
}

/// Reads until a binary frame's text contains `want`; answers the text frames seen.
pub(crate) async fn read_text_until(b: &mut Browser, want: &str) -> Vec<Value> {
    let mut out = String::new();
    let mut controls = Vec::new();
    loop {
        let m = tokio::time::timeout(PATIENCE, b.next())
            .await
            .unwrap_or_else(|_| panic!("no {want:?} in time; got {out:?}"))
            .expect("socket open")
            .expect("frame");
        match m {
            Message::Binary(d) => out.push_str(&String::from_utf8_lossy(&d)),
            Message::Text(t) => controls.push(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(_) => panic!("closed before {want:?}; got {out:?} and {controls:?}"),
            _ => {}
        }
        if out.contains(want) {
            return controls;
        }
    }
}

/// Reads until the socket closes; answers the text frames seen.
pub(crate) async fn read_to_close(b: &mut Browser) -> Vec<Value> {
    let mut controls = Vec::new();
    loop {
        match tokio::time::timeout(PATIENCE, b.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Text(t))) => controls.push(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return controls,
            Some(Ok(_)) => {}
        }
    }
}

pub(crate) async fn wait_final(c: &BreezeClient, id: RemoteSessionId) -> RemoteSession {
    let start = std::time::Instant::now();
    loop {
        let s: RemoteSession = c
            .get(&format!("/api/v1/remote/sessions/{id}"))
            .await
            .unwrap();
        if s.status.is_final() {
            return s;
        }
        assert!(start.elapsed() < PATIENCE, "session still {:?}", s.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn audit_rows(c: &BreezeClient, action: &str) -> Vec<AuditEntry> {
    let p: Page<AuditEntry> = c
        .get(&format!("/api/v1/audit/logs?action={action}&limit=100"))
        .await
        .unwrap();
    p.data
}

/// The `action` rows once there are `n`: a session's end is audited by the task that served
/// its socket right after it moved the row to its final state, so a reader that saw that
/// state may be a moment ahead of the audit row.
async fn wait_audit_rows(c: &BreezeClient, action: &str, n: usize) -> Vec<AuditEntry> {
    let start = std::time::Instant::now();
    loop {
        let rows = audit_rows(c, action).await;
        if rows.len() >= n || start.elapsed() > PATIENCE {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn terminal_session_relays_both_ways_resizes_exits_and_is_recorded() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Term").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "term-01").await;
        let seen = fake_agent(&app, dev, &agent).await;
        let created = open_session(
            &pa,
            dev,
            json!({"type": "terminal", "cols": 120, "rows": 30}),
        )
        .await;
        assert_eq!(created.ws_path, format!("/ws/remote/{}", created.id));
        assert_eq!(created.status, RemoteSessionStatus::Pending);
        assert!((created.expires_at - chrono::Utc::now()).num_seconds() <= 60);
        let s: RemoteSession = pa
            .get(&format!("/api/v1/remote/sessions/{}", created.id))
            .await
            .unwrap();
        assert_eq!(
            (s.status, s.session_type, s.device_id),
            (
                RemoteSessionStatus::Pending,
                RemoteSessionType::Terminal,
                dev
            )
        );
        assert_eq!(s.hostname, "term-01");

        let mut b = connect(
            &app,
            &created,
            Some(&created.ticket),
            Some(&own_origin(&app)),
        )
        .await
        .expect("same origin accepted");
        read_text_until(&mut b, "ready 120x30").await;
        assert_eq!(seen.lock().unwrap().opened[0].0, "terminal");
        let s: RemoteSession = pa
            .get(&format!("/api/v1/remote/sessions/{}", created.id))
            .await
            .unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Active);
        assert!(s.started_at.is_some());
        // The ticket opened one socket: a second upgrade is refused, before the upgrade.
        let again = connect(&app, &created, Some(&created.ticket), None)
            .await
            .expect_err("refused");
        assert_eq!(again.0, StatusCode::UNAUTHORIZED, "{}", again.1);

        b.send(Message::Binary(b"echo h\xc3\xa9llo\r".to_vec().into()))
            .await
            .unwrap();
        read_text_until(&mut b, "echo héllo").await;
        b.send(Message::Text(
            r#"{"type":"resize","cols":100,"rows":40}"#.into(),
        ))
        .await
        .unwrap();
        read_text_until(&mut b, "resized 100x40").await;
        // A bad text frame is answered with an error frame and the session goes on.
        b.send(Message::Text(
            r#"{"type":"resize","cols":0,"rows":40}"#.into(),
        ))
        .await
        .unwrap();
        b.send(Message::Binary(b"still here\r".to_vec().into()))
            .await
            .unwrap();
        let controls = read_text_until(&mut b, "still here").await;
        assert_eq!(controls.len(), 1, "{controls:?}");
        assert_eq!(controls[0]["type"], "error");
        assert!(controls[0]["message"].as_str().unwrap().contains("cols"));

        b.send(Message::Binary(b"exit\r".to_vec().into()))
            .await
            .unwrap();
        let controls = read_to_close(&mut b).await;
        assert_eq!(controls, vec![json!({"type": "exit", "code": 3})]);

        let s = wait_final(&pa, created.id).await;
        assert_eq!(s.status, RemoteSessionStatus::Disconnected);
        assert_eq!(s.end_reason.as_deref(), Some("exit 3"));
        assert!(s.duration_seconds.is_some() && s.ended_at.is_some());
        assert!(s.bytes_transferred > 40, "{}", s.bytes_transferred);
        let url = s.recording_url.clone().expect("recorded");
        assert_eq!(
            url,
            format!("/api/v1/remote/sessions/{}/recording", created.id)
        );

        // The recording: asciicast v2 with the output (and the resize), not the input.
        let resp = reqwest::Client::new()
            .get(app.client.base().join(&url).unwrap())
            .bearer_auth(pa.token().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/x-asciicast");
        let text = resp.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(
            (lines[0]["width"].as_u64(), lines[0]["height"].as_u64()),
            (Some(120), Some(30))
        );
        let output: String = lines[1..]
            .iter()
            .filter(|l| l[1] == "o")
            .map(|l| l[2].as_str().unwrap())
            .collect();
        assert!(output.contains("echo héllo"), "{output}");
        assert!(lines.iter().any(|l| l[1] == "r" && l[2] == "100x40"));

        // Listed with filters; audited at start and end.
        let p: Page<RemoteSession> = pa
            .get(&format!(
                "/api/v1/remote/sessions?device_id={dev}&type=terminal&status=disconnected"
            ))
            .await
            .unwrap();
        assert_eq!(
            p.data.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![created.id]
        );
        let p: Page<RemoteSession> = pa
            .get("/api/v1/remote/sessions?status=active")
            .await
            .unwrap();
        assert!(p.data.is_empty());
        let start = audit_rows(&pa, "remote.session.start").await;
        assert_eq!(start.len(), 1);
        assert_eq!(
            start[0].resource_id.as_deref(),
            Some(dev.to_string().as_str())
        );
        assert_eq!(start[0].details["type"], "terminal");
        let end = wait_audit_rows(&pa, "remote.session.end", 1).await;
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].details["reason"], "exit 3");
        assert_eq!(end[0].details["bytes"], json!(s.bytes_transferred));
        assert_eq!(
            end[0].details["duration_seconds"],
            json!(s.duration_seconds)
        );
    }
}

#[tokio::test]
async fn tickets_and_origins_are_checked_before_the_upgrade() {
    for engine in engines() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let app = spawn_clocked(engine, Some(clock.clone()), |c| {
            c.auth.access_ttl_secs = 3600
        })
        .await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Tickets").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "tick-01").await;
        let _seen = fake_agent(&app, dev, &agent).await;
        let created = open_session(&pa, dev, json!({"type": "terminal"})).await;
        // No ticket, a wrong one, a foreign Origin: refused with a JSON error, not 101.
        let (st, body) = connect(&app, &created, None, None).await.err().unwrap();
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert!(serde_json::from_str::<Value>(&body).unwrap()["error"]["message"].is_string());
        let (st, _) = connect(&app, &created, Some("bzt_wrong"), None)
            .await
            .err()
            .unwrap();
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, body) = connect(
            &app,
            &created,
            Some(&created.ticket),
            Some("https://evil.example"),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
            "foreign_origin"
        );
        // Another port on the same host is another origin.
        let b = app.client.base();
        let other_port = format!("http://{}:{}", b.host_str().unwrap(), b.port().unwrap() + 1);
        let (st, _) = connect(&app, &created, Some(&created.ticket), Some(&other_port))
            .await
            .err()
            .unwrap();
        assert_eq!(st, StatusCode::FORBIDDEN);
        // None of those spent the ticket; a client with no Origin (not a browser) may use it.
        let mut ws = connect(&app, &created, Some(&created.ticket), None)
            .await
            .expect("no origin");
        read_text_until(&mut ws, "ready 80x24").await;
        drop(ws);

        // An expired ticket is refused, and the sweep marks its session failed.
        let late = open_session(&pa, dev, json!({"type": "terminal"})).await;
        clock.advance(chrono::Duration::seconds(61));
        let (st, _) = connect(&app, &late, Some(&late.ticket), None)
            .await
            .err()
            .unwrap();
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        breeze_server::jobs::sweep_once(&app.state).await.unwrap();
        let s: RemoteSession = pa
            .get(&format!("/api/v1/remote/sessions/{}", late.id))
            .await
            .unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Failed);
        assert_eq!(s.end_reason.as_deref(), Some("ticket expired"));
        let ended = audit_rows(&pa, "remote.session.end").await;
        assert!(
            ended
                .iter()
                .any(|e| e.details["session_id"] == json!(late.id))
        );
    }
}

#[tokio::test]
async fn delete_ends_a_live_session_at_once_and_idle_sessions_time_out() {
    for engine in engines() {
        let app = spawn(engine, |c| c.remote.idle_timeout_secs = 2).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Ends").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "end-01").await;
        let seen = fake_agent(&app, dev, &agent).await;

        let created = open_session(&pa, dev, json!({"type": "terminal"})).await;
        let mut b = connect(&app, &created, Some(&created.ticket), None)
            .await
            .unwrap();
        read_text_until(&mut b, "ready").await;
        let t0 = std::time::Instant::now();
        let s: RemoteSession = pa
            .delete(&format!("/api/v1/remote/sessions/{}", created.id))
            .await
            .unwrap();
        read_to_close(&mut b).await;
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        assert_eq!(s.status, RemoteSessionStatus::Disconnected);
        assert!(
            s.end_reason.as_deref().unwrap().starts_with("closed by "),
            "{:?}",
            s.end_reason
        );
        assert!(s.bytes_transferred > 0);
        // The agent's stream was closed too.
        let start = std::time::Instant::now();
        while seen.lock().unwrap().closed.is_empty() {
            assert!(start.elapsed() < PATIENCE, "the agent stream stayed open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!audit_rows(&pa, "remote.session.close").await.is_empty());
        // A pending session ends too (no socket yet); its ticket is then useless.
        let pending = open_session(&pa, dev, json!({"type": "terminal"})).await;
        let s: RemoteSession = pa
            .delete(&format!("/api/v1/remote/sessions/{}", pending.id))
            .await
            .unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Failed);
        assert!(
            connect(&app, &pending, Some(&pending.ticket), None)
                .await
                .is_err()
        );

        // Idle: no byte either way for the timeout closes the session.
        let idle = open_session(&pa, dev, json!({"type": "terminal"})).await;
        let mut b = connect(&app, &idle, Some(&idle.ticket), None)
            .await
            .unwrap();
        read_text_until(&mut b, "ready").await;
        let controls = read_to_close(&mut b).await;
        assert_eq!(
            controls,
            vec![json!({"type": "error", "message": "idle timeout"})]
        );
        let s = wait_final(&pa, idle.id).await;
        assert_eq!(
            (s.status, s.end_reason.as_deref()),
            (RemoteSessionStatus::Disconnected, Some("idle timeout"))
        );
    }
}

#[tokio::test]
async fn sessions_need_the_remote_permissions_and_stay_in_their_tenant() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Perm").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "perm-01").await;
        let (offline, _) = enroll(&app, &pa, org, site, "perm-02").await;
        let seen = fake_agent(&app, dev, &agent).await;

        // Validation names the field.
        let bad = |body: Value| {
            let pa = pa.clone();
            async move {
                pa.post::<_, Value>("/api/v1/remote/sessions", &body)
                    .await
                    .expect_err("refused")
            }
        };
        let e = bad(json!({"device_id": dev, "type": "shell"})).await;
        assert_eq!(
            (e.status(), e.field()),
            (Some(StatusCode::UNPROCESSABLE_ENTITY), Some("type")),
            "{e:?}"
        );
        let e = bad(json!({"device_id": dev, "type": "terminal", "cols": 0})).await;
        assert_eq!(
            (e.status(), e.field()),
            (Some(StatusCode::UNPROCESSABLE_ENTITY), Some("cols"))
        );
        let e = bad(json!({"device_id": dev, "type": "terminal", "rows": 1001})).await;
        assert_eq!(e.field(), Some("rows"));
        let e = bad(json!({"device_id": dev, "type": "terminal", "view_only": true})).await;
        assert_eq!(e.field(), Some("view_only"));
        let e = bad(json!({"device_id": offline, "type": "terminal"})).await;
        assert_eq!(
            (e.status(), e.code()),
            (Some(StatusCode::CONFLICT), Some("device_offline"))
        );
        let e = bad(json!({"device_id": DeviceId::new(), "type": "terminal"})).await;
        assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));

        // A viewer reads sessions but cannot open or end them.
        let viewer = invite(&app, &pa, "viewer@perm.test", RoleId(ORG_VIEWER), org, None).await;
        let e = viewer
            .post::<_, Value>(
                "/api/v1/remote/sessions",
                &json!({"device_id": dev, "type": "terminal"}),
            )
            .await
            .err()
            .unwrap();
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
        // Remote without desktop: terminals yes, desktops no.
        let role: Role = pa
            .post(
                "/api/v1/roles",
                &json!({"name": "terminal only", "scope": "organization", "org_id": org,
                    "permissions": ["devices:read", "remote:read", "remote:execute"]}),
            )
            .await
            .unwrap();
        let tech = invite(&app, &pa, "tech@perm.test", role.id, org, None).await;
        let e = tech
            .post::<_, Value>(
                "/api/v1/remote/sessions",
                &json!({"device_id": dev, "type": "desktop"}),
            )
            .await
            .err()
            .unwrap();
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
        assert!(e.to_string().contains("remote_desktop"), "{e}");
        let mine = open_session(&tech, dev, json!({"type": "terminal"})).await;
        let desk = open_session(&pa, dev, json!({"type": "desktop", "view_only": true})).await;
        let s: RemoteSession = viewer
            .get(&format!("/api/v1/remote/sessions/{}", mine.id))
            .await
            .unwrap();
        assert_eq!(s.user_email, "tech@perm.test");
        let e = viewer
            .delete::<Value>(&format!("/api/v1/remote/sessions/{}", mine.id))
            .await
            .err()
            .unwrap();
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
        let e = tech
            .delete::<Value>(&format!("/api/v1/remote/sessions/{}", desk.id))
            .await
            .err()
            .unwrap();
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
        let (st, _) = viewer
            .raw(
                Method::GET,
                &format!("/api/v1/remote/sessions/{}/recording", mine.id),
                None,
            )
            .await
            .unwrap();
        assert_eq!(st, StatusCode::FORBIDDEN);
        // The desktop was asked for view-only.
        let mut b = connect(&app, &desk, Some(&desk.ticket), None)
            .await
            .unwrap();
        read_to_close(&mut b).await;
        assert!(
            seen.lock()
                .unwrap()
                .opened
                .iter()
                .any(|(k, p)| k == "desktop" && p["view_only"] == true)
        );

        // Another organization of the partner, and another partner: 404 everywhere.
        let (org1, _) = org_and_site(&pa, "Other").await;
        let other_org = invite(
            &app,
            &pa,
            "admin@other.test",
            RoleId(breeze_core::roles::ORG_ADMIN),
            org1,
            None,
        )
        .await;
        let other_partner = crate::harness::second_partner(&app).await;
        for c in [&other_org, &other_partner] {
            for (m, path) in [
                (Method::GET, format!("/api/v1/remote/sessions/{}", mine.id)),
                (
                    Method::DELETE,
                    format!("/api/v1/remote/sessions/{}", mine.id),
                ),
                (
                    Method::GET,
                    format!("/api/v1/remote/sessions/{}/recording", mine.id),
                ),
            ] {
                let (st, _) = c.raw(m.clone(), &path, None).await.unwrap();
                assert_eq!(st, StatusCode::NOT_FOUND, "{m} {path}");
            }
            let p: Page<RemoteSession> = c.get("/api/v1/remote/sessions").await.unwrap();
            assert!(p.data.is_empty());
            let e = c
                .post::<_, Value>(
                    "/api/v1/remote/sessions",
                    &json!({"device_id": dev, "type": "terminal"}),
                )
                .await
                .err()
                .unwrap();
            assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
        }
        // The session is still pending and usable by its ticket.
        let s: RemoteSession = pa
            .get(&format!("/api/v1/remote/sessions/{}", mine.id))
            .await
            .unwrap();
        assert_eq!(s.status, RemoteSessionStatus::Pending);
        // No recording yet: 404 with a code.
        let (st, body) = pa
            .raw(
                Method::GET,
                &format!("/api/v1/remote/sessions/{}/recording", mine.id),
                None,
            )
            .await
            .unwrap();
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(body.contains("no_recording"));
    }
}
