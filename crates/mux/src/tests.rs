use super::*;
use std::time::Duration;

/// Two muxes joined by tasks that carry each one's output to the other, through JSON and
/// binary frames as a socket would.
fn pair() -> (Mux, Mux) {
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    pump(server_out, agent.clone());
    pump(agent_out, server.clone());
    (server, agent)
}

fn pump(mut out: MuxOutput, to: Mux) {
    tokio::spawn(async move {
        while let Some(o) = out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    let text = serde_json::to_string(&f).unwrap_or_default();
                    let Ok(frame) = serde_json::from_str::<ChannelFrame>(&text) else {
                        continue;
                    };
                    if let Dispatch::Open(inc) = to.on_frame(frame) {
                        serve_echo(inc);
                    }
                }
                Outgoing::Binary(b) => to.on_binary(&b),
            }
        }
    });
}

/// The test peer: `echo` streams send every byte back, `sink` streams swallow bytes
/// slowly, `refuse` streams are refused.
fn serve_echo(inc: Incoming) {
    match inc.kind.as_str() {
        "echo" => {
            let s = inc.accept(serde_json::json!({"hello": 1}));
            tokio::spawn(async move {
                let (mut r, w) = s.split();
                while let Some(ev) = r.recv().await {
                    match ev {
                        Event::Data(b) => {
                            if w.send(&b).await.is_err() {
                                break;
                            }
                        }
                        Event::Control(v) => {
                            if v == serde_json::json!("bye") {
                                w.close(None);
                                break;
                            }
                            let _ = w.control(&v).await;
                        }
                    }
                }
            });
        }
        "sink" => {
            let s = inc.accept(Value::Null);
            tokio::spawn(async move {
                let (mut r, _w) = s.split();
                tokio::time::sleep(Duration::from_millis(300)).await;
                while r.recv().await.is_some() {}
            });
        }
        "burst" => {
            // Sends 3 MiB then closes: the reader must see every byte before the close.
            let s = inc.accept(Value::Null);
            tokio::spawn(async move {
                let (_r, w) = s.split();
                let block = vec![7u8; 100_000];
                for _ in 0..31 {
                    if w.send(&block).await.is_err() {
                        return;
                    }
                }
                w.close(None);
            });
        }
        _ => inc.refuse("unsupported stream kind"),
    }
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn data_and_control_round_trip() -> Result<(), MuxError> {
    let (server, _agent) = pair();
    let (s, info) = server.open("echo", Value::Null, T).await?;
    assert_eq!(info, serde_json::json!({"hello": 1}));
    assert_eq!(s.id().0 % 2, 0, "server streams are even");
    let (mut r, w) = s.split();
    w.send(b"hello").await?;
    w.control(&serde_json::json!({"type": "resize"})).await?;
    let mut got = Vec::new();
    while got.len() < 5 {
        match r.recv().await {
            Some(Event::Data(b)) => got.extend_from_slice(&b),
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert_eq!(got, b"hello");
    assert_eq!(
        r.recv().await,
        Some(Event::Control(serde_json::json!({"type": "resize"})))
    );
    w.control(&"bye").await?;
    assert_eq!(r.recv().await, None);
    assert_eq!(r.close_reason(), None);
    Ok(())
}

#[tokio::test]
async fn refused_kind_is_an_error() {
    let (server, agent) = pair();
    let err = server.open("nope", Value::Null, T).await.err();
    assert_eq!(
        err,
        Some(MuxError::Refused("unsupported stream kind".into()))
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(server.is_empty() && agent.is_empty());
}

#[tokio::test]
async fn a_slow_reader_stops_the_sender_at_the_window() -> Result<(), MuxError> {
    let (server, _agent) = pair();
    let (s, _) = server.open("sink", Value::Null, T).await?;
    let (_r, w) = s.split();
    let chunk = vec![1u8; MAX_CHUNK];
    let mut sent = 0u64;
    // The sink does not read for 300 ms: the sender stops after one window.
    let started = tokio::time::Instant::now();
    while sent < STREAM_WINDOW * 3 {
        w.send(&chunk).await?;
        sent += chunk.len() as u64;
        if sent == STREAM_WINDOW {
            assert!(started.elapsed() < Duration::from_millis(250));
        }
        if sent == STREAM_WINDOW + chunk.len() as u64 {
            assert!(
                started.elapsed() >= Duration::from_millis(250),
                "the sender went past the window while the reader slept"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_byte_arrives_before_the_close() -> Result<(), MuxError> {
    let (server, _agent) = pair();
    let (s, _) = server.open("burst", Value::Null, T).await?;
    let (mut r, _w) = s.split();
    let mut n = 0usize;
    while let Some(ev) = r.recv().await {
        if let Event::Data(b) = ev {
            n += b.len();
            // A slow consumer: the sender waits for grants instead of buffering.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(n, 3_100_000);
    assert_eq!(r.close_reason(), None);
    Ok(())
}

#[tokio::test]
async fn overrunning_the_window_closes_the_stream() -> Result<(), MuxError> {
    let (server, mut out) = Mux::new(Side::Server);
    let open = tokio::spawn({
        let server = server.clone();
        async move { server.open("x", Value::Null, T).await }
    });
    // Play the agent by hand: accept, then send more than a window without grants.
    let Some(Outgoing::Text(ChannelFrame::StreamOpen { stream, .. })) = out.recv().await else {
        panic!("expected stream_open")
    };
    server.on_frame(ChannelFrame::StreamAccept {
        stream,
        info: Value::Null,
    });
    let (s, _) = open.await.map_err(|_| MuxError::Closed)??;
    let (mut r, _w) = s.split();
    let chunk = vec![0u8; MAX_CHUNK];
    for _ in 0..=(STREAM_WINDOW as usize / MAX_CHUNK) {
        server.on_binary(&encode_binary(stream, &chunk));
    }
    let mut got = 0;
    while let Some(Event::Data(b)) = r.recv().await {
        got += b.len();
    }
    assert_eq!(got as u64, STREAM_WINDOW);
    assert_eq!(r.close_reason(), Some("flow-control window exceeded"));
    Ok(())
}

#[tokio::test]
async fn shutdown_ends_every_stream_and_refuses_new_ones() -> Result<(), MuxError> {
    let (server, _agent) = pair();
    let (s, _) = server.open("echo", Value::Null, T).await?;
    let (mut r, w) = s.split();
    server.shutdown("agent disconnected");
    assert_eq!(r.recv().await, None);
    assert_eq!(r.close_reason(), Some("agent disconnected"));
    assert_eq!(w.send(b"x").await, Err(MuxError::Closed));
    assert_eq!(
        server.open("echo", Value::Null, T).await.err(),
        Some(MuxError::ChannelClosed)
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_reader_closes_the_stream_on_both_sides() -> Result<(), MuxError> {
    let (server, agent) = pair();
    let (s, _) = server.open("echo", Value::Null, T).await?;
    assert_eq!(agent.len(), 1);
    drop(s);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((server.len(), agent.len()), (0, 0));
    Ok(())
}

#[tokio::test]
async fn loopback_streams_reach_the_receiver_with_flow_control_and_close_reasons()
-> Result<(), MuxError> {
    let (near, mut opens) = loopback();
    // The receiver's side serves echo streams, as a tunnel would serve them elsewhere.
    tokio::spawn(async move {
        while let Some(inc) = opens.recv().await {
            serve_echo(inc);
        }
    });
    let (s, info) = near.open("echo", Value::Null, T).await?;
    assert_eq!(info, serde_json::json!({"hello": 1}));
    let (mut r, w) = s.split();
    // More than a window each way: only possible if credit flows back through the pair.
    let data = vec![7u8; (STREAM_WINDOW as usize) * 3];
    let sender = {
        let w = w.clone();
        let data = data.clone();
        tokio::spawn(async move { w.send(&data).await })
    };
    let mut got = 0usize;
    while got < data.len() {
        match tokio::time::timeout(T, r.recv()).await {
            Ok(Some(Event::Data(b))) => got += b.len(),
            other => panic!("expected echoed data, got {other:?}"),
        }
    }
    assert_eq!(sender.await.ok(), Some(Ok(())));
    let refused = near.open("refuse", Value::Null, T).await.err();
    assert!(matches!(refused, Some(MuxError::Refused(_))), "{refused:?}");
    w.close(Some("done here".into()));
    assert_eq!(r.recv().await, None);
    Ok(())
}

#[tokio::test]
async fn loopback_refuses_when_nobody_serves_and_lets_go_when_dropped() -> Result<(), MuxError> {
    let (near, opens) = loopback();
    drop(opens);
    let refused = near.open("echo", Value::Null, T).await.err();
    assert_eq!(
        refused,
        Some(MuxError::Refused("nobody serves this stream".into()))
    );

    // Once every near handle and stream is gone, both ends are freed: the tasks that
    // carry frames stopped and hold nothing in a cycle.
    let (near, mut opens) = loopback();
    let opener = {
        let near = near.clone();
        tokio::spawn(async move { near.open("held", Value::Null, T).await })
    };
    let inc = tokio::time::timeout(T, opens.recv())
        .await
        .ok()
        .flatten()
        .expect("the open arrives");
    let far = inc.accept(Value::Null);
    let near_stream = opener.await.expect("the opener").map(|(s, _)| s)?;
    let near_weak = Arc::downgrade(&near.shared);
    let far_weak = Arc::downgrade(&far.writer.shared);
    let (mut far_r, far_w) = far.split();
    drop(near_stream);
    assert_eq!(tokio::time::timeout(T, far_r.recv()).await.ok(), Some(None));
    drop((far_r, far_w, near, opens));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(near_weak.upgrade().is_none(), "the near end is freed");
    assert!(far_weak.upgrade().is_none(), "the far end is freed");
    Ok(())
}
