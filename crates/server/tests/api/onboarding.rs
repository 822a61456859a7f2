//! Getting the first device on (issue 9): agent downloads with their checksum, the
//! install script, the install one-liner of a new key, and the "waiting for first
//! check-in" status of a device whose agent has not run yet.

use crate::device_state::org_and_site;
use crate::harness::{TestApp, engines, spawn};
use breeze_client::BreezeClient;
use breeze_proto::agent::EnrollResponse;
use breeze_proto::api::*;
use breeze_proto::ids::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::time::Duration;

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// Bytes that stand for an agent build: what is served must be exactly these.
fn fake_build(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn with_agent_dir(dist: &std::path::Path) -> TestApp {
    let dist = dist.to_path_buf();
    spawn(crate::harness::Engine::Sqlite, move |c| {
        c.agents.dist_dir = Some(dist);
        c.public_url = Some("https://rmm.example.test:8443/".into());
    })
    .await
}

async fn get(app: &TestApp, path: &str, gzip: bool) -> reqwest::Response {
    let url = app.client.base().join(path).expect("url");
    let mut r = reqwest::Client::new().get(url);
    if gzip {
        r = r.header(reqwest::header::ACCEPT_ENCODING, "gzip");
    }
    r.send().await.expect("request")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_agent_build_downloads_with_its_checksum_and_no_sign_in() {
    let dist = tempfile::tempdir().expect("tempdir");
    let path = dist.path().join("breeze-agent-linux-x86_64");
    let build = fake_build(300_000, 7);
    std::fs::write(&path, &build).expect("write build");
    let app = with_agent_dir(dist.path()).await;

    // Browsers ask for gzip; the binary still comes as it is, with its length.
    for gzip in [false, true] {
        let r = get(&app, "/download/agent/linux-x86_64", gzip).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-checksum-sha256"), sha256_hex(&build));
        assert_eq!(header(&r, "content-length"), build.len().to_string());
        assert_eq!(header(&r, "content-type"), "application/octet-stream");
        assert_eq!(
            header(&r, "content-disposition"),
            "attachment; filename=\"breeze-agent-linux-x86_64\""
        );
        assert_ne!(header(&r, "content-encoding"), "gzip");
        let body = r.bytes().await.expect("body");
        assert!(body.as_ref() == build.as_slice(), "the body is the build");
    }

    // The list says what there is, where, and with which checksum.
    let list: AgentDownloads = app.client.get("/download/agent").await.expect("list");
    assert_eq!(list.public_url, "https://rmm.example.test:8443");
    assert_eq!(
        list.install_script_url,
        "https://rmm.example.test:8443/install.sh"
    );
    assert_eq!(list.agents.len(), 1, "{list:?}");
    let a = &list.agents[0];
    assert_eq!(
        (a.platform.as_str(), a.os.as_str(), a.arch.as_str()),
        ("linux-x86_64", "linux", "x86_64")
    );
    assert_eq!(
        a.url,
        "https://rmm.example.test:8443/download/agent/linux-x86_64"
    );
    assert_eq!(a.sha256, sha256_hex(&build));
    assert_eq!(a.size, build.len() as u64);
    assert!(list.missing.contains(&"linux-aarch64".to_string()));

    // A platform without a build: 404 saying how to build one.
    let r = get(&app, "/download/agent/linux-aarch64", false).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "agent_not_built");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("cargo build --release -p breeze-agent")
            && msg.contains("breeze-agent-linux-aarch64"),
        "{msg}"
    );
    // Not a platform at all: 404 naming the ones there are.
    for bad in ["plan9-mips", "linux", "LINUX-X86_64", "linux-x86_64.exe"] {
        let r = get(&app, &format!("/download/agent/{bad}"), false).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "unknown_platform", "{bad}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("linux-x86_64")),
            "{v}"
        );
    }
}

#[tokio::test]
async fn the_checksum_is_computed_once_per_version_of_the_file() {
    let dist = tempfile::tempdir().expect("tempdir");
    let path = dist.path().join("breeze-agent-linux-aarch64");
    let first = fake_build(4096, 1);
    std::fs::write(&path, &first).expect("write");
    let app = with_agent_dir(dist.path()).await;
    let r = get(&app, "/download/agent/linux-aarch64", false).await;
    assert_eq!(header(&r, "x-checksum-sha256"), sha256_hex(&first));
    let mtime = std::fs::metadata(&path)
        .expect("meta")
        .modified()
        .expect("mtime");

    // Same size and time, other bytes: the cached checksum answers (no request hashes
    // the file again), so it no longer matches the body.
    let forged = fake_build(4096, 2);
    std::fs::write(&path, &forged).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let r = get(&app, "/download/agent/linux-aarch64", false).await;
    assert_eq!(header(&r, "x-checksum-sha256"), sha256_hex(&first));

    // A rebuilt file (new size) is hashed again.
    let rebuilt = fake_build(5000, 3);
    std::fs::write(&path, &rebuilt).expect("write");
    let r = get(&app, "/download/agent/linux-aarch64", false).await;
    assert_eq!(header(&r, "x-checksum-sha256"), sha256_hex(&rebuilt));
    assert_eq!(r.bytes().await.expect("body").len(), rebuilt.len());
}

#[tokio::test]
async fn the_install_script_is_posix_sh_rendered_with_the_public_url() {
    let dist = tempfile::tempdir().expect("tempdir");
    let app = with_agent_dir(dist.path()).await;
    let r = get(&app, "/install.sh", false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "content-type").starts_with("text/x-shellscript"));
    let script = r.text().await.expect("text");
    assert!(script.starts_with("#!/bin/sh\n"));
    assert!(
        script.contains("\nBREEZE_SERVER='https://rmm.example.test:8443'\n"),
        "rendered with the public URL"
    );
    assert!(!script.contains("__BREEZE_SERVER__"));
    let file = dist.path().join("install.sh");
    std::fs::write(&file, &script).expect("write");
    // POSIX syntax, as dash (Debian's /bin/sh) reads it.
    let out = std::process::Command::new("sh")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "sh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without a key it refuses, before touching anything.
    let out = std::process::Command::new("sh")
        .arg(&file)
        .arg("--no-service")
        .output()
        .expect("sh");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key is required"));
    // shellcheck, where it is installed (CI installs it).
    if let Ok(out) = std::process::Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(&file)
        .output()
    {
        assert!(
            out.status.success(),
            "shellcheck: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

async fn enroll(app: &TestApp, key: &str, host: &str) -> (DeviceId, BreezeClient) {
    let e: EnrollResponse = app
        .client
        .post(
            "/api/v1/agents/enroll",
            &json!({
                "protocol_version": 1, "enrollment_key": key, "hostname": host,
                "os_type": "linux", "os_version": "12", "architecture": "amd64",
                "agent_version": "0.1.0", "fingerprint": format!("{host:-<64}"),
                "hardware": {"cpu_model": "Test CPU", "cpu_cores": 2, "ram_total_mb": 4096}
            }),
        )
        .await
        .expect("enroll");
    (e.device_id, app.client.with_token(e.auth_token.expose()))
}

fn heartbeat() -> Value {
    json!({"protocol_version": 1, "agent_version": "0.1.0", "sent_at": chrono::Utc::now(),
        "status": "ok", "metrics": {"cpu_percent": 1.0, "ram_percent": 2.0}})
}

async fn device(admin: &BreezeClient, id: DeviceId) -> Device {
    admin
        .get(&format!("/api/v1/devices/{id}"))
        .await
        .expect("device")
}

#[tokio::test]
async fn an_enrolled_device_waits_for_its_first_check_in() {
    for engine in engines() {
        let app = spawn(engine, |c| {
            c.public_url = Some("https://rmm.example.test".into());
        })
        .await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Acme").await;
        let key: EnrollmentKeyCreated = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "first", "expires_in_hours": 48}),
            )
            .await
            .expect("key");
        assert_eq!(
            key.install_script_command,
            format!(
                "curl -fsSL https://rmm.example.test/install.sh | sudo sh -s -- --key {}",
                key.key
            )
        );

        // Enrolled: not online, never seen.
        let (dev, agent) = enroll(&app, &key.key, "web-01").await;
        let d = device(&pa, dev).await;
        assert_eq!(d.status, "awaiting_checkin", "{engine:?}");
        assert_eq!(d.last_seen_at, None);
        assert!(d.enrolled_at.is_some());
        let waiting: Page<Device> = pa
            .get("/api/v1/devices?status=awaiting_checkin")
            .await
            .expect("filter");
        assert_eq!(
            waiting.data.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![dev]
        );
        let online: Page<Device> = pa
            .get("/api/v1/devices?status=online")
            .await
            .expect("filter");
        assert!(online.data.is_empty());

        // The offline sweep leaves it waiting, however long.
        breeze_server::jobs::sweep_once(&app.state)
            .await
            .expect("sweep");
        assert_eq!(device(&pa, dev).await.status, "awaiting_checkin");

        // Quarantine and release bring it back to waiting, not online.
        let _: Value = pa
            .post(&format!("/api/v1/devices/{dev}/quarantine"), &json!({}))
            .await
            .expect("quarantine");
        let back: Device = pa
            .post(&format!("/api/v1/devices/{dev}/reactivate"), &json!({}))
            .await
            .expect("reactivate");
        assert_eq!(back.status, "awaiting_checkin", "{engine:?}");

        // The first heartbeat makes it online, and its history says so.
        let _: Value = agent
            .post(&format!("/api/v1/agents/{dev}/heartbeat"), &heartbeat())
            .await
            .expect("heartbeat");
        let d = device(&pa, dev).await;
        assert_eq!(d.status, "online");
        assert!(d.last_seen_at.is_some());
        let events: Page<DeviceEvent> = pa
            .get(&format!("/api/v1/devices/{dev}/events"))
            .await
            .expect("events");
        assert!(
            events.data.iter().any(|e| e.event_type == "first_checkin"),
            "{:?}",
            events.data
        );
    }
}

#[tokio::test]
async fn the_agent_channel_counts_as_the_first_check_in() {
    for engine in engines() {
        let app = spawn(engine, |_| {}).await;
        let pa = app.admin().await;
        let (org, site) = org_and_site(&pa, "Acme").await;
        let key: EnrollmentKeyCreated = pa
            .post(
                "/api/v1/enrollment-keys",
                &json!({"org_id": org, "site_id": site, "name": "first"}),
            )
            .await
            .expect("key");
        let (dev, agent) = enroll(&app, &key.key, "db-01").await;
        let mut live = pa.events().await.expect("event stream");
        assert_eq!(device(&pa, dev).await.status, "awaiting_checkin");

        let mut ws = crate::live_output::agent_channel(&app, dev, &agent).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ev = tokio::time::timeout_at(deadline, live.next())
                .await
                .expect("the device comes online in time")
                .expect("stream readable")
                .expect("stream open");
            if matches!(&ev, LiveEvent::DeviceStatus { device_id, status, .. } if *device_id == dev && status == "online")
            {
                break;
            }
        }
        assert_eq!(device(&pa, dev).await.status, "online", "{engine:?}");
        let _ = ws.close(None).await;
    }
}
