//! Issue 12 (remote access): a terminal end to end over the raw socket contract (no
//! browser): the in-process server, the real `breeze-agent` binary with a real PTY and
//! login shell. Typing `echo hello-$RANDOM` shows the echoed `hello-<digits>` line; after
//! a resize to 100x40 `stty size` prints `40 100`; Ctrl-C (byte 3) stops `sleep 100` and
//! the next command runs; `exit` sends the exit frame; the session row is disconnected
//! with a duration and bytes; the recording is asciicast v2 with the same hello line.
//!
//! Runs on SQLite, and on PostgreSQL when `BREEZE_TEST_DATABASE_URL` is set.

use crate::agent::{agent_cmd, binaries, credentials, enroll_agent, stop};
use crate::support::{self, Api, eventually};
use anyhow::{Context, Result, bail, ensure};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// What the reader task saw on the socket.
#[derive(Default)]
struct Screen {
    text: String,
    controls: Vec<Value>,
    closed: bool,
}

type Sink = futures::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

struct Term {
    sink: Sink,
    screen: Arc<Mutex<Screen>>,
}

impl Term {
    async fn open(base: &str, ws_path: &str, ticket: &str) -> Result<Term> {
        let url = format!(
            "{}{ws_path}?ticket={ticket}",
            base.replacen("http://", "ws://", 1)
        );
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
        let (sink, mut stream) = ws.split();
        let screen = Arc::new(Mutex::new(Screen::default()));
        let s = screen.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                match m {
                    Message::Binary(b) => s.text.push_str(&String::from_utf8_lossy(&b)),
                    Message::Text(t) => {
                        if let Ok(v) = serde_json::from_str(t.as_str()) {
                            s.controls.push(v);
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            s.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        });
        Ok(Term { sink, screen })
    }

    async fn keys(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink
            .send(Message::Binary(bytes.to_vec().into()))
            .await?;
        Ok(())
    }

    async fn control(&mut self, v: Value) -> Result<()> {
        self.sink.send(Message::Text(v.to_string().into())).await?;
        Ok(())
    }

    fn text(&self) -> String {
        self.screen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .text
            .clone()
    }

    /// Waits until `found` answers `Some` for the screen text after `from`.
    async fn wait_for<T>(
        &self,
        secs: u64,
        what: &str,
        from: usize,
        found: impl Fn(&str) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text();
            if let Some(t) = found(text.get(from..).unwrap_or("")) {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!("no {what} within {secs} s; the terminal shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The first `hello-<digits>` in `s` (the typed command shows `hello-$RANDOM`, no digits).
fn hello_line(s: &str) -> Option<String> {
    let mut rest = s;
    while let Some(i) = rest.find("hello-") {
        let digits: String = rest[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() {
            return Some(format!("hello-{digits}"));
        }
        rest = &rest[i + 6..];
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_over_the_raw_socket_with_a_real_agent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bin = binaries()?;
    let server = support::start(false, |c| {
        c.auth.access_ttl_secs = 3600;
    })
    .await?;
    let admin = support::setup(&server.url, server._dir.path(), "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Terminal E2E").await?;
    let _ = org;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.with_extension("log"))?;
    let mut agent = agent_cmd(&bin, &state)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let outcome = scenario(&server.url, &admin, &dev).await;
    stop(&mut agent).await?;
    if outcome.is_err() {
        let log = std::fs::read_to_string(state.with_extension("log")).unwrap_or_default();
        eprintln!("agent log:\n{log}");
    }
    outcome
}

async fn scenario(base: &str, admin: &Api, dev: &str) -> Result<()> {
    // The session opens once the agent's channel is up (409 device_offline before).
    let created = eventually(60, "the agent's channel", || {
        let admin = admin.clone();
        let dev = dev.to_string();
        async move {
            let (s, v) = admin
                .post(
                    "/api/v1/remote/sessions",
                    json!({"device_id": dev, "type": "terminal", "cols": 80, "rows": 24}),
                )
                .await?;
            Ok((s.as_u16() == 201).then_some(v))
        }
    })
    .await?;
    let id = created["id"].as_str().context("id")?.to_string();
    let mut t = Term::open(
        base,
        created["ws_path"].as_str().context("ws_path")?,
        created["ticket"].as_str().context("ticket")?,
    )
    .await?;
    // A prompt (anything) first, so the shell reads what is typed.
    t.wait_for(20, "the shell's first output", 0, |s| {
        (!s.is_empty()).then_some(())
    })
    .await?;

    let t0 = Instant::now();
    let mark = t.text().len();
    t.keys(b"echo hello-$RANDOM\r").await?;
    let hello = t.wait_for(20, "hello-<digits>", mark, hello_line).await?;
    eprintln!(
        "terminal: {hello} echoed {} ms after typing",
        t0.elapsed().as_millis()
    );

    t.control(json!({"type": "resize", "cols": 100, "rows": 40}))
        .await?;
    let mark = t.text().len();
    t.keys(b"stty size\r").await?;
    t.wait_for(20, "`40 100` from stty size", mark, |s| {
        s.contains("40 100").then_some(())
    })
    .await?;

    let mark = t.text().len();
    t.keys(b"sleep 100\r").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    t.keys(&[3]).await?;
    t.keys(b"echo after-$((6*7))\r").await?;
    t.wait_for(5, "the next command after Ctrl-C", mark, |s| {
        s.contains("after-42").then_some(())
    })
    .await?;
    eprintln!(
        "terminal: Ctrl-C stopped sleep 100 and the next command ran within {} ms",
        t1.elapsed().as_millis()
    );

    t.keys(b"exit\r").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        let exit = {
            let s = t.screen.lock().unwrap_or_else(|e| e.into_inner());
            s.controls.iter().find(|c| c["type"] == "exit").cloned()
        };
        if let Some(e) = exit {
            break e;
        }
        ensure!(Instant::now() < deadline, "no exit frame; got {}", t.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ensure!(exit["code"].is_i64(), "{exit}");
    eventually(10, "the socket to close", || {
        let closed = t.screen.lock().unwrap_or_else(|e| e.into_inner()).closed;
        async move { Ok(closed.then_some(())) }
    })
    .await?;

    let s = eventually(20, "the session to end", || {
        let admin = admin.clone();
        let id = id.clone();
        async move {
            let (_, s) = admin.get(&format!("/api/v1/remote/sessions/{id}")).await?;
            Ok((s["status"] == "disconnected").then_some(s))
        }
    })
    .await?;
    ensure!(s["duration_seconds"].is_i64(), "{s}");
    ensure!(s["bytes_transferred"].as_i64().unwrap_or(0) > 0, "{s}");
    ensure!(s["end_reason"] == format!("exit {}", exit["code"]), "{s}");

    // The recording replays the same text.
    let url = s["recording_url"].as_str().context("recording_url")?;
    let resp = support::http()
        .get(format!("{base}{url}"))
        .bearer_auth(admin.token.as_deref().context("token")?)
        .send()
        .await?;
    ensure!(resp.status().is_success(), "recording: {}", resp.status());
    ensure!(
        resp.headers()
            .get("content-type")
            .is_some_and(|v| v == "application/x-asciicast")
    );
    let cast = resp.text().await?;
    let mut lines = cast.lines();
    let header: Value = serde_json::from_str(lines.next().context("header")?)?;
    ensure!(header["version"] == 2 && header["width"] == 80 && header["height"] == 24);
    let mut output = String::new();
    let mut resized = false;
    for l in lines {
        let ev: Value = serde_json::from_str(l)?;
        ensure!(ev[0].is_f64() || ev[0].is_u64(), "{l}");
        match ev[1].as_str() {
            Some("o") => output.push_str(ev[2].as_str().unwrap_or("")),
            Some("r") => resized |= ev[2] == "100x40",
            _ => {}
        }
    }
    ensure!(output.contains(&hello), "the recording lacks {hello}");
    ensure!(output.contains("40 100") && resized);
    Ok(())
}

/// Issue 12, relay: the agent serves several busy sessions at once without delaying its
/// heartbeats or a script run. Three terminals flood output (`base64 /dev/urandom`): one
/// socket is read as fast as it comes, two are never read (browsers that stalled, so their
/// streams sit at the flow-control window). Meanwhile the device's heartbeats keep coming
/// (`last_seen_at` moves on at the 5 s interval) and a script queued through the API runs
/// and reports in seconds, and the agent's memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_sessions_do_not_delay_heartbeats_or_script_runs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bin = binaries()?;
    let server = support::start(false, |c| {
        c.auth.access_ttl_secs = 3600;
    })
    .await?;
    let admin = support::setup(&server.url, server._dir.path(), "admin@example.com").await?;
    let (org, site) = support::org_and_site(&admin, "Busy Sessions").await?;
    let (_, key) = support::enrollment_key(&admin, &org, &site).await?;
    let state = dir.path().join("agent");
    enroll_agent(&bin, &state, &server.url, &key).await?;
    let dev = credentials(&state)?["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let mut agent = agent_cmd(&bin, &state)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let agent_pid = agent.id().context("agent pid")?;
    let outcome = busy(&server.url, &admin, &org, &dev, agent_pid).await;
    stop(&mut agent).await?;
    outcome
}

async fn busy(base: &str, admin: &Api, org: &str, dev: &str, agent_pid: u32) -> Result<()> {
    let open = || async {
        eventually(60, "a terminal session", || {
            let admin = admin.clone();
            async move {
                let (st, v) = admin
                    .post(
                        "/api/v1/remote/sessions",
                        json!({"device_id": dev, "type": "terminal"}),
                    )
                    .await?;
                Ok((st.as_u16() == 201).then_some(v))
            }
        })
        .await
    };
    let flood = b"exec base64 /dev/urandom\r";
    let dial = |s: Value| {
        let url = format!(
            "{}{}?ticket={}",
            base.replacen("http://", "ws://", 1),
            s["ws_path"].as_str().unwrap_or_default(),
            s["ticket"].as_str().unwrap_or_default()
        );
        async move {
            let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
            Ok::<_, anyhow::Error>(ws)
        }
    };
    // The one that is read as fast as it comes (bytes counted, not kept).
    let mut ws = dial(open().await?).await?;
    ws.send(Message::Binary(flood.to_vec().into())).await?;
    let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = received.clone();
    let (_read_sink, mut read_stream) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = read_stream.next().await {
            if let Message::Binary(b) = m {
                counter.fetch_add(b.len(), std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    // Two that are never read after the command is sent.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut ws = dial(open().await?).await?;
        ws.send(Message::Binary(flood.to_vec().into())).await?;
        stalled.push(ws);
    }
    // The floods are on: the read socket keeps growing.
    let grown = |n: usize| {
        let received = received.clone();
        move || {
            let len = received.load(std::sync::atomic::Ordering::Relaxed);
            async move { Ok((len > n).then_some(len)) }
        }
    };
    let before = eventually(30, "the flood on the read socket", grown(1 << 20)).await?;

    // Heartbeats go on: last_seen_at moves on (interval 5 s) while the sessions flood.
    let seen = |admin: Api| async move {
        let (_, d) = admin.get(&format!("/api/v1/devices/{dev}")).await?;
        Ok::<_, anyhow::Error>(d["last_seen_at"].as_str().unwrap_or("").to_string())
    };
    let first = seen(admin.clone()).await?;
    let t0 = Instant::now();
    eventually(20, "a heartbeat during the floods", || {
        let admin = admin.clone();
        let first = first.clone();
        async move {
            let now = seen(admin).await?;
            Ok((!now.is_empty() && now != first).then_some(()))
        }
    })
    .await?;
    let heartbeat_wait = t0.elapsed();
    ensure!(
        heartbeat_wait < Duration::from_secs(12),
        "the next heartbeat took {heartbeat_wait:?} (interval 5 s)"
    );

    // A script run is not held up either.
    let script = crate::agent::script(admin, org, "echo busy-$((6*7))", 60, json!([])).await?;
    let t1 = Instant::now();
    let run = crate::agent::execute(admin, &script, dev, json!({})).await?;
    let done = eventually(30, "the script run to finish", || {
        let admin = admin.clone();
        let run = run.clone();
        async move {
            let (_, v) = admin
                .get(&format!("/api/v1/script-executions/{run}"))
                .await?;
            Ok(matches!(
                v["status"].as_str(),
                Some("completed" | "failed" | "timeout")
            )
            .then_some(v))
        }
    })
    .await?;
    let script_time = t1.elapsed();
    ensure!(done["status"] == "completed", "{done}");
    ensure!(
        done["stdout"].as_str().unwrap_or("").contains("busy-42"),
        "{done}"
    );
    ensure!(
        script_time < Duration::from_secs(10),
        "the script took {script_time:?} to run and report"
    );

    // Still flooding (the read socket keeps growing), and the agent's memory is bounded
    // although two sessions have not been read for seconds.
    let after = eventually(30, "the flood going on", grown(before + (1 << 20))).await?;
    let rss_mib = std::fs::read_to_string(format!("/proc/{agent_pid}/status"))?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .context("agent VmRSS")?
        / 1024;
    eprintln!(
        "busy sessions: next heartbeat after {heartbeat_wait:?}, script run in {script_time:?}, \
         read socket {before}→{after} bytes, agent RSS {rss_mib} MiB"
    );
    ensure!(rss_mib < 200, "agent RSS {rss_mib} MiB");
    drop(stalled);
    reader.abort();
    Ok(())
}
