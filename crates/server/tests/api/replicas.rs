//! Remote sessions across replicas (issue 14): two servers on one database and one cluster
//! bus, the agent's channel on A, the technician's browser on B. B finds A over the bus
//! and carries the session's stream to A's `/internal/v1/streams`; the session row, its
//! recording and its audit rows are B's. A `DELETE` through A ends the socket B serves.
//! The recording B wrote is replayed through A, and deleted on B when A's sweep asks.
//! The tunnel endpoint refuses a missing, forged, expired, over-long or replayed grant.

use crate::events::{enroll, org_and_site};
use crate::harness::{ADMIN_EMAIL, PASSWORD, TestApp, engines, spawn_pair};
use crate::remote::{fake_agent, open_session, read_text_until, read_to_close, wait_final};
use breeze_proto::api::*;
use breeze_proto::cluster::{STREAMS_PATH, StreamGrant, TunnelFrame};
use breeze_proto::ids::DeviceId;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn grant(device: DeviceId, expires_in: i64) -> StreamGrant {
    StreamGrant {
        device,
        kind: "terminal".into(),
        params: json!({"cols": 80, "rows": 24}),
        expires_at: chrono::Utc::now().timestamp() + expires_in,
        nonce: uuid::Uuid::new_v4().to_string(),
        from: "test".into(),
    }
}

/// Opens the tunnel endpoint of `app` with `token`: the first text frame, or the
/// status and body of a refusal before the upgrade.
async fn tunnel(app: &TestApp, token: Option<&str>) -> Result<TunnelFrame, (StatusCode, String)> {
    let mut u = app.client.base().join(STREAMS_PATH).unwrap();
    u.set_scheme("ws").unwrap();
    let mut req = u.as_str().into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, _)) => loop {
            let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(t) = m {
                return Ok(serde_json::from_str(t.as_str()).unwrap());
            }
        },
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err((
            StatusCode::from_u16(resp.status().as_u16()).unwrap(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(e) => panic!("connecting: {e}"),
    }
}

#[tokio::test]
async fn a_session_opened_on_b_reaches_the_agent_on_a_and_ends_from_either() {
    for engine in engines() {
        let (a, b) = spawn_pair(engine).await;
        let on_a = a.admin().await;
        let on_b = b.client.login_as(ADMIN_EMAIL, PASSWORD).await.unwrap();
        let (org, site) = org_and_site(&on_a, "Replicated").await;
        let (dev, agent) = enroll(&a, &on_a, org, site, "far-01").await;
        let seen = fake_agent(&a, dev, &agent).await;
        assert_eq!(
            (a.state.hub.connected(), b.state.hub.connected()),
            (1, 0),
            "the channel is on A only"
        );

        // Opened through B: B finds the channel on A.
        let created = open_session(
            &on_b,
            dev,
            json!({"type": "terminal", "cols": 100, "rows": 40}),
        )
        .await;
        let mut u = b.client.base().join(&created.ws_path).unwrap();
        u.set_scheme("ws").unwrap();
        u.query_pairs_mut().append_pair("ticket", &created.ticket);
        let (mut browser, _) = tokio_tungstenite::connect_async(u.as_str()).await.unwrap();
        read_text_until(&mut browser, "ready 100x40").await;
        browser
            .send(Message::Binary(b"echo across\r".to_vec().into()))
            .await
            .unwrap();
        read_text_until(&mut browser, "echo across").await;
        browser
            .send(Message::Text(
                json!({"type": "resize", "cols": 132, "rows": 50})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        read_text_until(&mut browser, "resized 132x50").await;
        assert_eq!(
            seen.lock().unwrap().opened,
            vec![("terminal".to_string(), json!({"cols": 100, "rows": 40}))],
            "the agent saw one stream, with B's parameters"
        );
        let live: RemoteSession = on_a
            .get(&format!("/api/v1/remote/sessions/{}", created.id))
            .await
            .unwrap();
        assert_eq!(live.status, RemoteSessionStatus::Active);

        // Ended through A, whose registry does not hold it: B's socket task ends it.
        let ended: RemoteSession = on_a
            .delete(&format!("/api/v1/remote/sessions/{}", created.id))
            .await
            .unwrap();
        assert!(ended.status.is_final(), "{:?}", ended.status);
        read_to_close(&mut browser).await;
        let s = wait_final(&on_b, created.id).await;
        assert_eq!(s.status, RemoteSessionStatus::Disconnected);
        assert!(
            s.end_reason.as_deref().unwrap_or("").contains(ADMIN_EMAIL),
            "{:?}",
            s.end_reason
        );
        assert!(
            s.bytes_transferred > 20,
            "B's task recorded the bytes: {}",
            s.bytes_transferred
        );
        // The agent's stream was closed too.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().closed.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent's stream stayed open"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The recording is a file in B's data directory (B served the socket); through A
        // it is fetched from B, byte for byte.
        let url = s.recording_url.clone().expect("recorded");
        let get = |app: &TestApp, c: &breeze_client::BreezeClient| {
            let req = reqwest::Client::new()
                .get(app.client.base().join(&url).unwrap())
                .bearer_auth(c.token().unwrap());
            async move {
                let r = req.send().await.unwrap();
                let status = r.status();
                let len = r.headers().get("content-length").cloned();
                (status, len, r.bytes().await.unwrap())
            }
        };
        let file = b
            .dir
            .path()
            .join("recordings")
            .join(format!("{}.cast", created.id));
        assert!(file.exists(), "B keeps the recording");
        assert!(
            !a.dir
                .path()
                .join("recordings")
                .join(format!("{}.cast", created.id))
                .exists()
        );
        let (status, _, from_b) = get(&b, &on_b).await;
        assert_eq!(status, StatusCode::OK);
        let (status, len, via_a) = get(&a, &on_a).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(via_a, from_b, "the recording through A is B's file");
        assert!(String::from_utf8_lossy(&via_a).contains("echo across"));
        assert_eq!(
            len.and_then(|v| v.to_str().ok().map(str::to_string)),
            Some(from_b.len().to_string())
        );
        // Past retention, the sweep on A (which has no file) has B delete its copy.
        a.state.cluster.delete_recording(created.id);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file.exists() {
            assert!(std::time::Instant::now() < deadline, "B kept the recording");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (status, _, body) = get(&a, &on_a).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(&body).contains("no_recording"));

        // A kind the agent refuses: its reason comes back through the tunnel.
        let created = open_session(&on_b, dev, json!({"type": "desktop"})).await;
        let mut u = b.client.base().join(&created.ws_path).unwrap();
        u.set_scheme("ws").unwrap();
        u.query_pairs_mut().append_pair("ticket", &created.ticket);
        let (mut browser, _) = tokio_tungstenite::connect_async(u.as_str()).await.unwrap();
        let frames = read_to_close(&mut browser).await;
        assert!(
            frames.iter().any(|f| f["message"]
                .as_str()
                .unwrap_or("")
                .contains("no desktop here")),
            "{frames:?}"
        );

        // A device whose channel no replica holds: 409 from either.
        let (idle, _idle_agent) = enroll(&a, &on_a, org, site, "idle-01").await;
        for c in [&on_a, &on_b] {
            let (status, body) = c
                .raw(
                    reqwest::Method::POST,
                    "/api/v1/remote/sessions",
                    Some(&json!({"device_id": idle, "type": "terminal"})),
                )
                .await
                .unwrap();
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "device_offline", "{body}");
        }
    }
}

#[tokio::test]
async fn the_tunnel_endpoint_takes_only_fresh_grants_minted_by_the_cluster() {
    for engine in engines() {
        let (a, _b) = spawn_pair(engine).await;
        let dev = DeviceId::new();
        let mint = |g: &StreamGrant| breeze_server::relay::route::mint(&a.state.keys, g).unwrap();

        let (status, body) = tunnel(&a, None).await.unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("grant"), "{body}");

        // Minted with another cluster's key.
        let other_dir = tempfile::tempdir().unwrap();
        let other = breeze_server::keys::Keys::load(other_dir.path(), None, None).unwrap();
        let forged = breeze_server::relay::route::mint(&other, &grant(dev, 30)).unwrap();
        let (status, body) = tunnel(&a, Some(&forged)).await.unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("signature"), "{body}");

        // Changed after minting (another device): the signature no longer matches.
        let good = mint(&grant(dev, 30));
        let (_, sig) = good.split_once('.').unwrap();
        let other_body = mint(&grant(DeviceId::new(), 30));
        let (other_body, _) = other_body.split_once('.').unwrap();
        let (status, _) = tunnel(&a, Some(&format!("{other_body}.{sig}")))
            .await
            .unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (status, body) = tunnel(&a, Some(&mint(&grant(dev, -5)))).await.unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("expired"), "{body}");
        let (status, body) = tunnel(&a, Some(&mint(&grant(dev, 3600))))
            .await
            .unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("too long"), "{body}");
        let (status, _) = tunnel(&a, Some("not-a-grant")).await.unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A good grant for a device with no channel here: upgraded, then refused.
        let once = mint(&grant(dev, 30));
        match tunnel(&a, Some(&once)).await {
            Ok(TunnelFrame::Refused { reason }) => {
                assert!(reason.contains("not connected"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A recording grant reads only a recording this replica has.
        let mut g = grant(dev, 30);
        g.kind = breeze_server::relay::route::RECORDING.into();
        g.params = json!({"session": breeze_proto::ids::RemoteSessionId::new()});
        match tunnel(&a, Some(&mint(&g))).await {
            Ok(TunnelFrame::Refused { reason }) => {
                assert!(reason.contains("no such recording"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Spent: the same grant again is refused before the upgrade.
        let (status, body) = tunnel(&a, Some(&once)).await.unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("already used"), "{body}");
    }
}
