//! The agent against an overloaded server: the real `breeze-agent run` talks to a small
//! HTTP server on loopback that answers the first heartbeat, the first inventory upload
//! and the first result 503 `overloaded` with `Retry-After: 1`, and everything after
//! that 2xx. The agent must send each again no sooner than one second later (and soon
//! after: not a heartbeat interval or a backoff step later), and must get through.

use breeze_agent::outbox::Outbox;
use breeze_agent::state::{Credentials, StateDir};
use breeze_proto::agent::{
    AgentConfig, CommandResult, CommandStatus, SecretToken, SigningKey, verifying_key_to_base64,
};
use breeze_proto::ids::{CommandId, DeviceId, OrgId, SiteId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server saw: when, which kind of request, and what it answered.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    kind: &'static str,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn kind_of(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("POST", p) if p.ends_with("/heartbeat") => "heartbeat",
        ("PUT", p) if p.ends_with("/inventory") => "inventory",
        ("POST", p) if p.ends_with("/result") => "result",
        ("POST", p) if p.ends_with("/ack") => "ack",
        _ => "other",
    }
}

/// Serves one connection: HTTP/1.1 requests with a `Content-Length` body, kept alive.
async fn serve(stream: TcpStream, log: Log) -> std::io::Result<()> {
    let mut conn = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if conn.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).await?;
        let kind = kind_of(&method, &path);
        let (status, answer) = {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            let first = !log.iter().any(|s| s.kind == kind);
            let (status, answer): (u16, &str) = match kind {
                "heartbeat" | "inventory" | "result" if first => (
                    503,
                    r#"{"error":{"code":"overloaded","message":"the server is busy"}}"#,
                ),
                "heartbeat" => (200, "{}"),
                "inventory" | "ack" => (204, ""),
                "result" => (201, "{}"),
                _ => (
                    404,
                    r#"{"error":{"code":"not_found","message":"not found"}}"#,
                ),
            };
            log.push(Seen {
                at: Instant::now(),
                kind,
                status,
            });
            (status, answer)
        };
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            503 => "Service Unavailable",
            _ => "Not Found",
        };
        let mut head = format!("HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n");
        if status == 503 {
            head.push_str("retry-after: 1\r\n");
        }
        if status != 204 {
            head.push_str(&format!("content-length: {}\r\n", answer.len()));
        }
        head.push_str("\r\n");
        let stream = conn.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(answer.as_bytes()).await?;
        stream.flush().await?;
    }
}

fn credentials(server: &str) -> Credentials {
    let key = SigningKey::from_bytes(&[9u8; 32]);
    let device = DeviceId::new();
    Credentials {
        server_url: server.into(),
        agent_id: device,
        device_id: device,
        org_id: OrgId::new(),
        site_id: SiteId::new(),
        auth_token: SecretToken::new("bzt_test_token"),
        pending_token: None,
        signing_public_key: verifying_key_to_base64(&key.verifying_key()),
        config: AgentConfig {
            // Far longer than the test: a second heartbeat within seconds can only be
            // the retry after `Retry-After`.
            heartbeat_interval_secs: 600,
            inventory_interval_secs: 3600,
            ws_enabled: false,
            collect_processes: false,
            collect_software: false,
            ..AgentConfig::default()
        },
        fingerprint: "f".repeat(64),
        enrolled_at: chrono::Utc::now(),
    }
}

fn waiting_result() -> CommandResult {
    CommandResult {
        command_id: CommandId::new(),
        command_type: "run_script".into(),
        status: CommandStatus::Completed,
        rejection: None,
        exit_code: Some(0),
        stdout: "done".into(),
        stderr: String::new(),
        stdout_truncated: false,
        stderr_truncated: false,
        duration_ms: 5,
        error_message: None,
        started_at: None,
        completed_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn agent_waits_out_retry_after_then_gets_through() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let server = tokio::spawn({
        let log = log.clone();
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, log.clone()));
            }
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    credentials(&format!("http://{addr}")).save(&state).unwrap();
    // A result from before a restart, waiting in the outbox.
    Outbox::open(state.outbox())
        .unwrap()
        .put(&waiting_result())
        .unwrap();

    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_breeze-agent"))
        .arg("--state-dir")
        .arg(dir.path())
        .arg("run")
        .env("RUST_LOG", "breeze_agent=debug")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Wait until each kind has been refused once and then accepted.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = |log: &[Seen]| {
        ["heartbeat", "inventory", "result"]
            .iter()
            .all(|k| log.iter().any(|s| s.kind == *k && s.status < 300))
    };
    loop {
        if done(&log.lock().unwrap()) {
            break;
        }
        assert!(
            agent.try_wait().unwrap().is_none(),
            "the agent stopped: {:?}",
            log.lock().unwrap()
        );
        assert!(
            Instant::now() < deadline,
            "the agent did not get through: {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = agent.kill().await;
    server.abort();

    let log = log.lock().unwrap().clone();
    let mut by_kind: HashMap<&str, Vec<&Seen>> = HashMap::new();
    for s in &log {
        by_kind.entry(s.kind).or_default().push(s);
    }
    for kind in ["heartbeat", "inventory", "result"] {
        let seen = &by_kind[kind];
        assert!(seen.len() >= 2, "{kind}: {seen:?}");
        assert_eq!(seen[0].status, 503, "{kind}: the first was refused");
        assert!(
            seen[1].status < 300,
            "{kind}: the retry got through: {seen:?}"
        );
        let gap = seen[1].at - seen[0].at;
        // Not before Retry-After…
        assert!(
            gap >= Duration::from_secs(1),
            "{kind}: retried after {gap:?}"
        );
        // … and soon after: Retry-After plus at most a second of jitter (first attempt),
        // with room for a slow machine; not an interval or a 30 s pass later.
        assert!(
            gap < Duration::from_secs(6),
            "{kind}: retried after {gap:?}"
        );
    }
    // The result was delivered once, and the outbox is empty.
    assert_eq!(by_kind["result"].len(), 2, "{:?}", by_kind["result"]);
    assert!(Outbox::open(state.outbox()).unwrap().is_empty());
}
