//! Issue 12 (remote access): the file manager with the real `breeze` server and the real
//! `breeze-agent`, over loopback.
//!
//! - a 50 MB random file uploaded in chunks and downloaded back with the same SHA-256,
//!   server and agent memory sampled during both transfers;
//! - an upload whose connection drops half way resumes from `HEAD`'s size and completes
//!   with the right hash, on the same FileTransfer row;
//! - zip-slip paths under an allowed root are refused and a sentinel outside it keeps its
//!   content and mtime;
//! - list, mkdir, rename and delete.

use crate::agent::{Enrolled, agent_cmd, server_with_enrolled_agent, stop};
use crate::support::eventually;
use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const MB: usize = 1024 * 1024;

/// `n` pseudo-random bytes (xorshift; the content only has to be incompressible and
/// reproducible).
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// VmRSS of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Samples a process's RSS every 20 ms until stopped; answers the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(r) = rss_kib(pid) {
                    p.fetch_max(r, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        RssSampler { stop, peak, task }
    }

    async fn peak_kib(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

struct Files {
    http: reqwest::Client,
    base: String,
    token: String,
    dev: String,
}

fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Files {
    fn url(&self, rest: &str) -> String {
        format!("{}/api/v1/devices/{}/files{rest}", self.base, self.dev)
    }

    async fn put(
        &self,
        path: &str,
        offset: usize,
        total: usize,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value)> {
        let r = self
            .http
            .put(self.url(&format!(
                "/content?path={}&offset={offset}&total={total}",
                q(path)
            )))
            .bearer_auth(&self.token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await?;
        let s = r.status();
        Ok((s, r.json().await.unwrap_or(Value::Null)))
    }

    async fn head(&self, path: &str) -> Result<(StatusCode, Option<u64>)> {
        let r = self
            .http
            .head(self.url(&format!("/content?path={}", q(path))))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let len = r
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((r.status(), len))
    }

    /// Downloads `path`, hashing as it goes (never holding the file); answers the status,
    /// size and SHA-256.
    async fn download(&self, path: &str) -> Result<(StatusCode, u64, String)> {
        let mut r = self
            .http
            .get(self.url(&format!("/content?path={}", q(path))))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = r.status();
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = r.chunk().await? {
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        Ok((status, n, hex::encode(h.finalize())))
    }

    async fn json(
        &self,
        method: reqwest::Method,
        rest: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut r = self
            .http
            .request(method, self.url(rest))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await?;
        let s = r.status();
        Ok((s, r.json().await.unwrap_or(Value::Null)))
    }
}

/// Sends a PUT whose body stops after `send` of the announced `len` bytes, then drops the
/// connection.
async fn cut_upload(f: &Files, path: &str, data: &[u8], len: usize) -> Result<()> {
    let addr = f.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "PUT /api/v1/devices/{}/files/content?path={}&offset=0&total={len} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n",
        f.dev,
        q(path),
        f.token
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(data).await?;
    s.flush().await?;
    // Let the server take the bytes before the connection goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(s);
    Ok(())
}

fn mtime(p: &Path) -> Result<std::time::SystemTime> {
    Ok(std::fs::metadata(p)?.modified()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_stream_50mb_resume_after_a_cut_and_refuse_zip_slip() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let Enrolled {
        bin,
        server,
        admin,
        org: _,
        dev,
        state,
    } = server_with_enrolled_agent(dir.path(), "Files", "agent-files").await?;
    let base = std::fs::canonicalize(dir.path())?;
    let root = base.join("share");
    let outside = base.join("outside");
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(&outside)?;
    let sentinel = outside.join("sentinel.txt");
    std::fs::write(&sentinel, b"do not touch")?;
    let sentinel_mtime = mtime(&sentinel)?;
    std::os::unix::fs::symlink(&outside, root.join("escape"))?;
    std::os::unix::fs::symlink(&sentinel, root.join("escape-file"))?;

    // The agent's own limit is the whole test directory; the server narrows it to `share`.
    let agent_toml = base.join("agent.toml");
    std::fs::write(
        &agent_toml,
        format!("[remote]\nfiles_root = \"{}\"\n", base.display()),
    )?;
    let log = std::fs::File::create(base.join("agent-files.log"))?;
    let mut agent = agent_cmd(&bin, &state)
        .arg("--config")
        .arg(&agent_toml)
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let agent_pid = agent.id().context("agent pid")?;
    let server_pid = server.pid().context("server pid")?;

    let token = admin.token.clone().context("admin token")?;
    let f = Files {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?,
        base: server.url.clone(),
        token,
        dev: dev.clone(),
    };
    // The allowed root: validated, then set.
    let (s, v) = f
        .json(
            reqwest::Method::PUT,
            "/root",
            Some(json!({"root": "relative/dir"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "root");
    let (s, v) = f
        .json(
            reqwest::Method::PUT,
            "/root",
            Some(json!({"root": root.display().to_string()})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The channel is up once a listing answers.
    eventually(60, "the agent's channel", || {
        let f = &f;
        async move {
            let (s, _) = f.json(reqwest::Method::GET, "?path=", None).await?;
            Ok((s == StatusCode::OK).then_some(()))
        }
    })
    .await?;

    // ---- 50 MB up in 5 chunks, then down, with memory sampled.
    let data = random_bytes(50 * MB, 0x5eed);
    let want = sha(&data);
    let (srv0, agt0) = (
        rss_kib(server_pid).unwrap_or(0),
        rss_kib(agent_pid).unwrap_or(0),
    );
    let (srv_up, agt_up) = (RssSampler::start(server_pid), RssSampler::start(agent_pid));
    let t = Instant::now();
    let chunk = 10 * MB;
    for i in 0..5 {
        let (s, v) = f
            .put(
                "big.bin",
                i * chunk,
                data.len(),
                data[i * chunk..(i + 1) * chunk].to_vec(),
            )
            .await?;
        assert_eq!(s, StatusCode::OK, "chunk {i}: {v}");
        assert_eq!(v["transferred_bytes"], (i + 1) * chunk);
        assert_eq!(v["progress_percent"], (i + 1) * 20);
        assert_eq!(v["status"], "transferring");
    }
    let up_secs = t.elapsed().as_secs_f64();
    let (srv_up, agt_up) = (srv_up.peak_kib().await, agt_up.peak_kib().await);
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/complete",
            Some(json!({"path": "big.bin", "sha256": want})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["progress_percent"].as_i64()),
        (Some("completed"), Some(100))
    );
    assert_eq!(v["sha256"], want);
    assert_eq!(std::fs::read(root.join("big.bin"))?.len(), data.len());

    let (srv_dn, agt_dn) = (RssSampler::start(server_pid), RssSampler::start(agent_pid));
    let t = Instant::now();
    let (s, n, got) = f.download("big.bin").await?;
    let down_secs = t.elapsed().as_secs_f64();
    let (srv_dn, agt_dn) = (srv_dn.peak_kib().await, agt_dn.peak_kib().await);
    assert_eq!((s, n as usize), (StatusCode::OK, data.len()));
    assert_eq!(got, want, "the download's SHA-256");
    let mib = |k: u64| k as f64 / 1024.0;
    eprintln!(
        "files: 50 MB up in {up_secs:.2} s ({:.0} MB/s), down in {down_secs:.2} s ({:.0} MB/s) (debug build)\n\
         files: server RSS {:.1} MiB before, peak {:.1} MiB uploading, {:.1} MiB downloading\n\
         files: agent RSS {:.1} MiB before, peak {:.1} MiB uploading, {:.1} MiB downloading",
        50.0 / up_secs,
        50.0 / down_secs,
        mib(srv0),
        mib(srv_up),
        mib(srv_dn),
        mib(agt0),
        mib(agt_up),
        mib(agt_dn),
    );
    // Generous bounds: the file is 50 MB; flow control keeps ~1 MiB in flight per stream.
    // (Each 10 MB upload request is read chunk by chunk, never as a whole.)
    assert!(
        srv_up.max(srv_dn) < srv0 + 64 * 1024,
        "server RSS grew too much"
    );
    assert!(
        agt_up.max(agt_dn) < agt0 + 64 * 1024,
        "agent RSS grew too much"
    );

    // A chunk at the wrong offset is refused with the current size.
    let (s, v) = f.put("big.bin", 7, data.len(), b"x".to_vec()).await?;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "offset_mismatch");

    // ---- An upload cut half way resumes from HEAD's size.
    let part = random_bytes(20 * MB, 0xbeef);
    let part_sha = sha(&part);
    cut_upload(&f, "resume.bin", &part[..10 * MB], part.len()).await?;
    // The agent syncs what arrived; wait for the size to settle.
    let at = eventually(30, "the cut upload's size to settle", || {
        let f = &f;
        async move {
            let (s, len) = f.head("resume.bin").await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (s2, len2) = f.head("resume.bin").await?;
            Ok((s == StatusCode::OK && s2 == StatusCode::OK && len == len2)
                .then_some(len)
                .flatten())
        }
    })
    .await? as usize;
    assert!(at > 0 && at <= 10 * MB, "resuming at {at}");
    assert_eq!(
        std::fs::read(root.join("resume.bin"))?,
        part[..at],
        "the bytes kept"
    );
    let (_, rows) = admin
        .get(&format!(
            "/api/v1/file-transfers?device_id={dev}&direction=upload"
        ))
        .await?;
    let cut_row = rows["data"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["remote_path"] == "resume.bin"))
        .cloned()
        .context("the cut upload's row")?;
    // The row is failed (the cut) or still moving, never completed.
    assert_ne!(cut_row["status"], "completed", "{cut_row}");
    let (s, v) = f
        .put("resume.bin", at, part.len(), part[at..].to_vec())
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], cut_row["id"], "the resume continues the same row");
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/complete",
            Some(json!({"path": "resume.bin", "sha256": sha(b"wrong")})),
        )
        .await?;
    assert_eq!(
        (s, &v["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("sha256")),
        "{v}"
    );
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/complete",
            Some(json!({"path": "resume.bin", "sha256": part_sha})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["id"].as_str()),
        (Some("completed"), cut_row["id"].as_str())
    );
    eprintln!(
        "files: an upload cut after 10 MB resumed at offset {at} and completed with the right SHA-256"
    );

    // ---- Zip-slip: every escape refused, the sentinel untouched.
    for p in [
        "../x",
        "a/../../x",
        "../outside/sentinel.txt",
        sentinel.to_str().context("path")?,
        "/etc/passwd",
        "escape/sentinel.txt",
        "escape-file",
        "..\\x",
        "..\\outside\\sentinel.txt",
        "C:\\x",
        "\\\\server\\share\\x",
    ] {
        let (s, v) = f.put(p, 0, 5, b"pwned".to_vec()).await?;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::UNPROCESSABLE_ENTITY,
            "PUT {p}: {s} {v}"
        );
        let (s, _, _) = f.download(p).await?;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::UNPROCESSABLE_ENTITY,
            "GET {p}: {s}"
        );
        // `escape-file` itself is a link inside the root: deleting it (below) removes the
        // link, and renaming onto it is refused because it exists.
        if p != "escape-file" {
            let (s, v) = f
                .json(reqwest::Method::DELETE, &format!("?path={}", q(p)), None)
                .await?;
            assert!(
                s == StatusCode::FORBIDDEN || s == StatusCode::UNPROCESSABLE_ENTITY,
                "DELETE {p}: {s} {v}"
            );
        }
        let (s, v) = f
            .json(
                reqwest::Method::POST,
                "/rename",
                Some(json!({"from": "big.bin", "to": p})),
            )
            .await?;
        assert!(
            s == StatusCode::FORBIDDEN
                || s == StatusCode::UNPROCESSABLE_ENTITY
                || (p == "escape-file" && s == StatusCode::CONFLICT),
            "rename to {p}: {s} {v}"
        );
    }
    let (s, v) = f.json(reqwest::Method::GET, "?path=escape", None).await?;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "outside_root");
    assert_eq!(std::fs::read(&sentinel)?, b"do not touch");
    assert_eq!(mtime(&sentinel)?, sentinel_mtime, "the sentinel's mtime");
    assert!(!base.join("x").exists() && !outside.join("x").exists());
    assert!(root.join("big.bin").exists(), "big.bin was not renamed out");

    // ---- list / mkdir / rename / delete.
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/mkdir",
            Some(json!({"path": "docs"})),
        )
        .await?;
    assert_eq!(
        (s, &v["type"]),
        (StatusCode::OK, &json!("directory")),
        "{v}"
    );
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/mkdir",
            Some(json!({"path": "docs"})),
        )
        .await?;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("file_exists"))
    );
    let (s, v) = f
        .json(
            reqwest::Method::POST,
            "/rename",
            Some(json!({"from": "resume.bin", "to": "docs/r.bin"})),
        )
        .await?;
    assert_eq!(
        (s, &v["name"], &v["size"]),
        (StatusCode::OK, &json!("r.bin"), &json!(part.len())),
        "{v}"
    );
    let (s, v) = f.json(reqwest::Method::GET, "?path=docs", None).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["entries"][0]["mode"].as_str().map(str::len), Some(4));
    let (s, v) = f.json(reqwest::Method::GET, "?path=", None).await?;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["big.bin", "docs", "escape", "escape-file"], "{v}");
    assert_eq!(v["entries"][2]["type"], "symlink");
    let (s, v) = f.json(reqwest::Method::DELETE, "?path=docs", None).await?;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("directory_not_empty"))
    );
    let (s, _) = f
        .json(reqwest::Method::DELETE, "?path=docs&recursive=true", None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    // Deleting the link removes the link only.
    let (s, _) = f
        .json(reqwest::Method::DELETE, "?path=escape-file", None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(std::fs::read(&sentinel)?, b"do not touch");
    let (s, v) = f.head("docs/r.bin").await?;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v:?}");

    // ---- FileTransfer rows and audit rows.
    let (_, rows) = admin
        .get(&format!(
            "/api/v1/file-transfers?device_id={dev}&status=completed"
        ))
        .await?;
    let rows = rows["data"].as_array().context("rows")?.clone();
    assert!(
        rows.iter().any(|r| r["direction"] == "download"
            && r["remote_path"] == "big.bin"
            && r["transferred_bytes"] == data.len()),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r["direction"] == "upload"
        && r["remote_path"] == "big.bin"
        && r["sha256"] == want));
    let (_, audit) = admin
        .get("/api/v1/audit/logs?limit=500&action=remote.file.")
        .await?;
    let audit = audit["data"].as_array().context("audit")?.clone();
    for a in [
        "remote.file.list",
        "remote.file.stat",
        "remote.file.download",
        "remote.file.upload",
        "remote.file.complete",
        "remote.file.mkdir",
        "remote.file.rename",
        "remote.file.delete",
    ] {
        assert!(audit.iter().any(|r| r["action"] == a), "no {a} audit row");
    }
    let up = audit
        .iter()
        .find(|r| r["action"] == "remote.file.upload" && r["result"] == "success")
        .context("an upload audit row")?;
    assert_eq!(up["device_id"], json!(dev), "{up}");
    assert_eq!(up["details"]["path"], "resume.bin", "{up}");
    assert_eq!(up["details"]["size"], part.len(), "{up}");
    // The refused escapes are audited as denied.
    assert!(
        audit
            .iter()
            .any(|r| r["result"] == "denied" && r["details"]["path"] == "/etc/passwd"),
        "no denied row for /etc/passwd"
    );
    let (_, roots) = admin
        .get("/api/v1/audit/logs?action=device.file_root")
        .await?;
    assert_eq!(
        roots["data"][0]["details"]["root"],
        json!(root.display().to_string())
    );

    // The agent stops; the device is offline for file operations.
    stop(&mut agent).await?;
    let (s, v) = eventually(30, "device_offline", || {
        let f = &f;
        async move {
            let (s, v) = f.json(reqwest::Method::GET, "?path=", None).await?;
            Ok((s == StatusCode::CONFLICT).then_some((s, v)))
        }
    })
    .await?;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::CONFLICT, &json!("device_offline"))
    );
    drop(server);
    Ok(())
}
