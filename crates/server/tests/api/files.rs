//! The file manager's HTTP side (issue 12), with an in-process fake agent on the channel:
//! permissions (`remote:execute`), tenancy (another organization's device is 404 on every
//! file route), validation naming the field, the agent's typed refusals mapped to HTTP,
//! the allowed root sent to the agent, and audit rows. Transfers with the real agent are
//! in the e2e suite (`e2e/remote_files.rs`).

use crate::events::{enroll, invite, org_and_site};
use crate::harness::{engines, spawn};
use crate::live_output::{AgentSocket, agent_channel};
use breeze_client::BreezeClient;
use breeze_core::roles::{ORG_ADMIN, ORG_VIEWER};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote_files::{
    FileError, FileErrorCode, FileInfo, FileListing, FileParams, FileRequest,
};
use breeze_proto::api::{FileEntry, FileType};
use breeze_proto::ids::*;
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

async fn call(c: &BreezeClient, m: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (s, text) = c.raw(m, path, body.as_ref()).await.expect("request");
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every file route of `dev`, with a valid request.
fn routes(dev: DeviceId) -> Vec<(Method, String, Option<Value>)> {
    let f = format!("/api/v1/devices/{dev}/files");
    vec![
        (Method::GET, format!("{f}?path=docs"), None),
        (Method::GET, format!("{f}/content?path=a.txt"), None),
        (Method::HEAD, format!("{f}/content?path=a.txt"), None),
        (
            Method::PUT,
            format!("{f}/content?path=a.txt&offset=0"),
            None,
        ),
        (
            Method::POST,
            format!("{f}/complete"),
            Some(json!({"path": "a.txt", "sha256": "0".repeat(64)})),
        ),
        (
            Method::POST,
            format!("{f}/mkdir"),
            Some(json!({"path": "new"})),
        ),
        (
            Method::POST,
            format!("{f}/rename"),
            Some(json!({"from": "a.txt", "to": "b.txt"})),
        ),
        (Method::DELETE, format!("{f}?path=a.txt"), None),
    ]
}

#[tokio::test]
async fn file_routes_need_remote_execute_and_a_device_in_scope() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Files A").await;
        let (org1, _) = org_and_site(&pa, "Files B").await;
        let (dev, _agent) = enroll(&app, &pa, org, site, "files-01").await;
        let viewer = invite(
            &app,
            &pa,
            "viewer@files.test",
            RoleId(ORG_VIEWER),
            org,
            None,
        )
        .await;
        let other = invite(&app, &pa, "other@files.test", RoleId(ORG_ADMIN), org1, None).await;
        for (m, path, body) in routes(dev) {
            let (s, v) = call(&viewer, m.clone(), &path, body.clone()).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "viewer {m} {path}: {v}");
            let (s, v) = call(&other, m.clone(), &path, body.clone()).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "other org {m} {path}: {v}");
            // In scope, with the permission, but no agent connected.
            let (s, v) = call(&pa, m.clone(), &path, body.clone()).await;
            assert_eq!(s, StatusCode::CONFLICT, "offline {m} {path}: {v}");
            if m != Method::HEAD {
                assert_eq!(v["error"]["code"], "device_offline", "{m} {path}");
            }
        }
        // The root: reading needs the device in scope, setting needs devices:admin.
        let root = format!("/api/v1/devices/{dev}/files/root");
        let (s, _) = call(&other, Method::GET, &root, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = call(&viewer, Method::PUT, &root, Some(json!({"root": "/srv"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = call(&other, Method::PUT, &root, Some(json!({"root": "/srv"}))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Transfers: only those of devices in reach.
        let (s, v) = call(
            &other,
            Method::GET,
            &format!("/api/v1/file-transfers?device_id={dev}"),
            None,
        )
        .await;
        assert_eq!(
            (s, v["data"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0))
        );
        // A quarantined device takes no file operation and no session, connected or not.
        let (s, v) = call(
            &pa,
            Method::POST,
            &format!("/api/v1/devices/{dev}/quarantine"),
            Some(json!({"reason": "suspected compromise"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "quarantine: {v}");
        for (m, path, body) in routes(dev) {
            let (s, v) = call(&pa, m.clone(), &path, body.clone()).await;
            assert_eq!(s, StatusCode::CONFLICT, "quarantined {m} {path}: {v}");
            if m != Method::HEAD {
                assert_eq!(v["error"]["code"], "device_quarantined", "{m} {path}");
            }
        }
        let (s, v) = call(
            &pa,
            Method::POST,
            "/api/v1/remote/sessions",
            Some(json!({"device_id": dev, "type": "terminal"})),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("device_quarantined")),
            "{v}"
        );
    }
}

#[tokio::test]
async fn bad_file_requests_are_422_naming_the_field() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Files V").await;
        let (dev, _agent) = enroll(&app, &pa, org, site, "files-v").await;
        let f = format!("/api/v1/devices/{dev}/files");
        let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
            (Method::GET, f.clone(), None, "path"),
            (Method::GET, format!("{f}/content"), None, "path"),
            (Method::GET, format!("{f}/content?path="), None, "path"),
            (Method::PUT, format!("{f}/content?path=a"), None, "offset"),
            (
                Method::PUT,
                format!("{f}/content?path=a&offset=x"),
                None,
                "offset",
            ),
            (
                Method::PUT,
                format!("{f}/content?path=a&offset=9&total=3"),
                None,
                "total",
            ),
            (Method::DELETE, format!("{f}?path="), None, "path"),
            (
                Method::POST,
                format!("{f}/mkdir"),
                Some(json!({"path": " "})),
                "path",
            ),
            (Method::POST, format!("{f}/mkdir"), Some(json!({})), "path"),
            (
                Method::POST,
                format!("{f}/rename"),
                Some(json!({"from": "", "to": "b"})),
                "from",
            ),
            (
                Method::POST,
                format!("{f}/rename"),
                Some(json!({"from": "a", "to": ""})),
                "to",
            ),
            (
                Method::POST,
                format!("{f}/complete"),
                Some(json!({"path": "a", "sha256": "abc"})),
                "sha256",
            ),
            (
                Method::GET,
                format!("{f}?path=x&session_id={}", uuid::Uuid::new_v4()),
                None,
                "session_id",
            ),
            (
                Method::PUT,
                format!("{f}/root"),
                Some(json!({"root": "srv"})),
                "root",
            ),
            (
                Method::PUT,
                format!("{f}/root"),
                Some(json!({"root": "/srv/../etc"})),
                "root",
            ),
            (
                Method::PUT,
                format!("{f}/root"),
                Some(json!({"root": "\\\\host\\share"})),
                "root",
            ),
        ];
        for (m, path, body, field) in cases {
            let (s, v) = call(&pa, m.clone(), &path, body).await;
            assert!(
                s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
                "{m} {path}: {s} {v}"
            );
            assert_eq!(v["error"]["field"], field, "{m} {path}: {v}");
        }
        // A valid root is stored and audited.
        let (s, v) = call(
            &pa,
            Method::PUT,
            &format!("{f}/root"),
            Some(json!({"root": "C:\\Share"})),
        )
        .await;
        assert_eq!(
            (s, &v["root"]),
            (StatusCode::OK, &json!("C:\\Share")),
            "{v}"
        );
        let (s, v) = call(&pa, Method::GET, &format!("{f}/root"), None).await;
        assert_eq!((s, &v["root"]), (StatusCode::OK, &json!("C:\\Share")));
        let (_, a) = call(
            &pa,
            Method::GET,
            "/api/v1/audit/logs?action=device.file_root",
            None,
        )
        .await;
        assert_eq!(a["data"][0]["details"]["root"], "C:\\Share", "{a}");
        assert_eq!(a["data"][0]["device_id"], json!(dev));
    }
}

fn entry(name: &str, t: FileType) -> FileEntry {
    FileEntry {
        name: name.into(),
        file_type: t,
        size: 3,
        mode: Some("0644".into()),
        modified: None,
    }
}

/// A fake agent: answers `files` streams like the real one would for a tree holding
/// `docs/a.txt`, refusing `missing` (not found) and any `..` (outside the root). Reports
/// every request it got.
async fn fake_agent(mut ws: AgentSocket, seen: mpsc::UnboundedSender<FileParams>) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(ChannelFrame::StreamOpen {
            stream,
            kind,
            params,
        }) = serde_json::from_str::<ChannelFrame>(text.as_str())
        else {
            continue;
        };
        assert_eq!(kind, "files");
        let p: FileParams = serde_json::from_value(params).expect("file params");
        let _ = seen.send(p.clone());
        let path = match &p.request {
            FileRequest::List { path } | FileRequest::Mkdir { path } => path.clone(),
            _ => String::new(),
        };
        let refusal = if path.contains("..") {
            Some(FileError::new(FileErrorCode::OutsideRoot, "leaves the root").field("path"))
        } else if path == "missing" {
            Some(FileError::new(FileErrorCode::NotFound, "no such directory").field("path"))
        } else if path == "C:\\x" {
            Some(FileError::new(FileErrorCode::InvalidPath, "a drive path").field("path"))
        } else {
            None
        };
        let info = match (&p.request, refusal) {
            (_, Some(e)) => Err(e.to_reason()),
            (FileRequest::List { path }, None) => Ok(serde_json::to_value(FileListing {
                path: format!("/srv/share/{path}"),
                entries: vec![entry("a.txt", FileType::File)],
                truncated: false,
            })),
            (FileRequest::Mkdir { path }, None) => Ok(serde_json::to_value(FileInfo {
                path: format!("/srv/share/{path}"),
                entry: entry(&path.clone(), FileType::Directory),
            })),
            _ => Err("unsupported by the fake".to_string()),
        };
        let frames = match info {
            Ok(v) => vec![
                ChannelFrame::StreamAccept {
                    stream,
                    info: v.expect("json"),
                },
                ChannelFrame::StreamClose {
                    stream,
                    reason: None,
                },
            ],
            Err(reason) => vec![ChannelFrame::StreamClose {
                stream,
                reason: Some(reason),
            }],
        };
        for f in frames {
            let text = serde_json::to_string(&f).expect("frame");
            if ws.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn agent_answers_and_refusals_map_to_http_and_are_audited() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Files F").await;
        let (dev, agent) = enroll(&app, &pa, org, site, "files-f").await;
        let ws = agent_channel(&app, dev, &agent).await;
        let (tx, mut seen) = mpsc::unbounded_channel();
        tokio::spawn(fake_agent(ws, tx));
        let f = format!("/api/v1/devices/{dev}/files");
        let (s, _) = call(
            &pa,
            Method::PUT,
            &format!("{f}/root"),
            Some(json!({"root": "/srv/share"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK);

        let mut ok = None;
        for _ in 0..100 {
            let (s, v) = call(&pa, Method::GET, &format!("{f}?path=docs"), None).await;
            if s != StatusCode::CONFLICT {
                ok = Some((s, v));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let (s, v) = ok.expect("the channel registered");
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["path"], "/srv/share/docs");
        assert_eq!(v["entries"][0]["name"], "a.txt");
        assert_eq!(v["entries"][0]["type"], "file");
        let p = seen.recv().await.expect("the agent saw the list");
        assert_eq!(
            p.root.as_deref(),
            Some("/srv/share"),
            "the device's root goes to the agent"
        );
        assert_eq!(
            p.request,
            FileRequest::List {
                path: "docs".into()
            }
        );

        let (s, v) = call(&pa, Method::GET, &format!("{f}?path=missing"), None).await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("file_not_found")),
            "{v}"
        );
        let (s, v) = call(&pa, Method::GET, &format!("{f}?path=..%2Fetc"), None).await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (StatusCode::FORBIDDEN, &json!("outside_root")),
            "{v}"
        );
        let (s, v) = call(
            &pa,
            Method::POST,
            &format!("{f}/mkdir"),
            Some(json!({"path": "C:\\x"})),
        )
        .await;
        assert_eq!(
            (s, &v["error"]["field"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("path")),
            "{v}"
        );
        let (s, v) = call(
            &pa,
            Method::POST,
            &format!("{f}/mkdir"),
            Some(json!({"path": "new"})),
        )
        .await;
        assert_eq!(
            (s, &v["type"]),
            (StatusCode::OK, &json!("directory")),
            "{v}"
        );
        // An operation the agent refuses without a typed error is a 502, not a 500.
        let (s, v) = call(&pa, Method::DELETE, &format!("{f}?path=a.txt"), None).await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (StatusCode::BAD_GATEWAY, &json!("agent_stream_closed")),
            "{v}"
        );

        let (_, a) = call(
            &pa,
            Method::GET,
            "/api/v1/audit/logs?action=remote.file.&limit=100",
            None,
        )
        .await;
        let rows = a["data"].as_array().expect("rows").clone();
        let find = |action: &str, path: &str, result: &str| {
            rows.iter().any(|r| {
                r["action"] == action
                    && r["details"]["path"] == path
                    && r["result"] == result
                    && r["device_id"] == json!(dev)
            })
        };
        assert!(find("remote.file.list", "docs", "success"), "{rows:?}");
        assert!(find("remote.file.list", "missing", "denied"), "{rows:?}");
        assert!(find("remote.file.list", "../etc", "denied"), "{rows:?}");
        assert!(find("remote.file.mkdir", "new", "success"), "{rows:?}");
        assert!(find("remote.file.mkdir", "C:\\x", "failure"), "{rows:?}");
        assert!(find("remote.file.delete", "a.txt", "failure"), "{rows:?}");
    }
}
