//! `files` streams served by [`super::serve`] behind a real mux pair (frames through JSON
//! and binary, as on the socket).

use super::*;
use breeze_mux::{Dispatch, Mux, MuxError, MuxOutput, Outgoing, Side, Stream};
use breeze_proto::agent::ChannelFrame;
use breeze_proto::agent::remote::KIND_FILES;
use serde_json::Value;
use std::time::Duration;

fn pair(config: RemoteConfig) -> Mux {
    let (server, server_out) = Mux::new(Side::Server);
    let (agent, agent_out) = Mux::new(Side::Agent);
    let config = Arc::new(config);
    pump(server_out, agent.clone(), Some(config));
    pump(agent_out, server.clone(), None);
    server
}

fn pump(mut out: MuxOutput, to: Mux, serve_with: Option<Arc<RemoteConfig>>) {
    tokio::spawn(async move {
        while let Some(o) = out.recv().await {
            match o {
                Outgoing::Text(f) => {
                    let text = serde_json::to_string(&f).unwrap();
                    let frame: ChannelFrame = serde_json::from_str(&text).unwrap();
                    if let Dispatch::Open(inc) = to.on_frame(frame)
                        && let Some(c) = &serve_with
                    {
                        super::super::serve(inc, c.clone());
                    }
                }
                Outgoing::Binary(b) => to.on_binary(&b),
            }
        }
    });
}

async fn open(
    mux: &Mux,
    req: FileRequest,
    root: Option<&Path>,
) -> Result<(Stream, Value), FileError> {
    open_inner(mux, req, root).await
}

/// The refusal of an operation expected to fail.
async fn refusal(mux: &Mux, req: FileRequest, root: Option<&Path>) -> FileError {
    match open_inner(mux, req, root).await {
        Ok((_, v)) => panic!("expected a refusal, got {v}"),
        Err(e) => e,
    }
}

async fn open_inner(
    mux: &Mux,
    req: FileRequest,
    root: Option<&Path>,
) -> Result<(Stream, Value), FileError> {
    let params = FileParams {
        request: req,
        root: root.map(|r| r.display().to_string()),
    };
    match mux
        .open(
            KIND_FILES,
            serde_json::to_value(params).unwrap(),
            Duration::from_secs(5),
        )
        .await
    {
        Ok(v) => Ok(v),
        Err(MuxError::Refused(r)) => {
            Err(FileError::from_reason(&r).unwrap_or_else(|| panic!("untyped refusal {r}")))
        }
        Err(e) => panic!("open failed: {e}"),
    }
}

async fn upload(
    mux: &Mux,
    root: &Path,
    path: &str,
    offset: u64,
    data: &[u8],
) -> Result<u64, FileError> {
    let (s, info) = open(
        mux,
        FileRequest::Write {
            path: path.into(),
            offset,
        },
        Some(root),
    )
    .await?;
    assert_eq!(info["size"], offset);
    let (mut r, w) = s.split();
    w.send(data).await.unwrap();
    w.control(&FileControl::End).await.unwrap();
    match r.recv().await {
        Some(Event::Control(v)) => match serde_json::from_value(v).unwrap() {
            FileControl::Written { size } => {
                assert_eq!(r.recv().await, None);
                assert_eq!(r.close_reason(), None);
                Ok(size)
            }
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?} ({:?})", r.close_reason()),
    }
}

async fn download(mux: &Mux, root: &Path, path: &str) -> Result<Vec<u8>, FileError> {
    let (s, info) = open(
        mux,
        FileRequest::Read {
            path: path.into(),
            offset: 0,
        },
        Some(root),
    )
    .await?;
    let (mut r, _w) = s.split();
    let mut out = Vec::new();
    while let Some(ev) = r.recv().await {
        if let Event::Data(b) = ev {
            assert!(b.len() <= MAX_CHUNK);
            out.extend_from_slice(&b);
        }
    }
    assert_eq!(r.close_reason(), None);
    assert_eq!(info["size"], out.len() as u64);
    Ok(out)
}

fn root() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(d.path()).unwrap().join("root");
    std::fs::create_dir(&root).unwrap();
    (d, root)
}

#[tokio::test]
async fn a_file_written_in_two_chunks_reads_back_whole_and_hashes() {
    let (_d, root) = root();
    let mux = pair(RemoteConfig::default());
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        upload(&mux, &root, "f.bin", 0, &data[..100_000])
            .await
            .unwrap(),
        100_000
    );
    // Resuming at anything but the current size is refused, and says the size.
    let e = upload(&mux, &root, "f.bin", 5, b"x").await.unwrap_err();
    assert_eq!(
        (e.code, e.size),
        (FileErrorCode::OffsetMismatch, Some(100_000))
    );
    assert_eq!(
        upload(&mux, &root, "f.bin", 100_000, &data[100_000..])
            .await
            .unwrap(),
        300_000
    );
    assert_eq!(download(&mux, &root, "f.bin").await.unwrap(), data);
    let (_, h) = open(
        &mux,
        FileRequest::Hash {
            path: "f.bin".into(),
        },
        Some(&root),
    )
    .await
    .unwrap();
    assert_eq!(h["sha256"], hex::encode(Sha256::digest(&data)));
    assert_eq!(h["size"], 300_000);
}

#[tokio::test]
async fn a_write_the_server_cuts_keeps_the_bytes_that_arrived() {
    let (_d, root) = root();
    let mux = pair(RemoteConfig::default());
    let (s, _) = open(
        &mux,
        FileRequest::Write {
            path: "cut".into(),
            offset: 0,
        },
        Some(&root),
    )
    .await
    .unwrap();
    s.writer.send(&[7u8; 70_000]).await.unwrap();
    s.writer.close(Some("the upload was cut".into()));
    drop(s);
    let mut size = 0;
    for _ in 0..100 {
        size = std::fs::metadata(root.join("cut"))
            .map(|m| m.len())
            .unwrap_or(0);
        if size == 70_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(size, 70_000);
    assert_eq!(
        upload(&mux, &root, "cut", 70_000, b"tail").await.unwrap(),
        70_004
    );
}

#[tokio::test]
async fn metadata_operations_answer_typed_results_and_errors() {
    let (_d, root) = root();
    let mux = pair(RemoteConfig::default());
    let r = Some(root.as_path());
    let (_, v) = open(&mux, FileRequest::Mkdir { path: "dir".into() }, r)
        .await
        .unwrap();
    assert_eq!(v["entry"]["type"], "directory");
    let e = refusal(&mux, FileRequest::Mkdir { path: "dir".into() }, r).await;
    assert_eq!(e.code, FileErrorCode::Exists);
    upload(&mux, &root, "dir/a.txt", 0, b"hello").await.unwrap();
    let (_, v) = open(&mux, FileRequest::List { path: "dir".into() }, r)
        .await
        .unwrap();
    let listing: FileListing = serde_json::from_value(v).unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(
        (listing.entries[0].name.as_str(), listing.entries[0].size),
        ("a.txt", 5)
    );
    assert_eq!(listing.entries[0].file_type, FileType::File);
    let (_, v) = open(
        &mux,
        FileRequest::Rename {
            from: "dir/a.txt".into(),
            to: "dir/b.txt".into(),
        },
        r,
    )
    .await
    .unwrap();
    assert_eq!(v["entry"]["name"], "b.txt");
    upload(&mux, &root, "dir/c.txt", 0, b"c").await.unwrap();
    let e = refusal(
        &mux,
        FileRequest::Rename {
            from: "dir/c.txt".into(),
            to: "dir/b.txt".into(),
        },
        r,
    )
    .await;
    assert_eq!(
        (e.code, e.field.as_deref()),
        (FileErrorCode::Exists, Some("to"))
    );
    let e = refusal(
        &mux,
        FileRequest::Delete {
            path: "dir".into(),
            recursive: false,
        },
        r,
    )
    .await;
    assert_eq!(e.code, FileErrorCode::NotEmpty);
    let e = refusal(
        &mux,
        FileRequest::Delete {
            path: "".into(),
            recursive: true,
        },
        r,
    )
    .await;
    assert_eq!(e.code, FileErrorCode::InvalidPath);
    open(
        &mux,
        FileRequest::Delete {
            path: "dir".into(),
            recursive: true,
        },
        r,
    )
    .await
    .unwrap();
    assert!(!root.join("dir").exists());
    let e = refusal(&mux, FileRequest::Stat { path: "dir".into() }, r).await;
    assert_eq!(e.code, FileErrorCode::NotFound);
    let e = download(&mux, &root, "missing").await.unwrap_err();
    assert_eq!(e.code, FileErrorCode::NotFound);
}

#[tokio::test]
async fn the_agents_own_root_holds_even_when_the_server_sends_none() {
    let (d, root) = root();
    let outside = d.path().join("sentinel");
    std::fs::write(&outside, b"keep").unwrap();
    let mux = pair(RemoteConfig {
        files_root: Some(root.clone()),
        ..RemoteConfig::default()
    });
    let params = serde_json::json!({"op": "write", "path": "../sentinel", "offset": 0});
    let r = mux.open(KIND_FILES, params, Duration::from_secs(5)).await;
    let Err(MuxError::Refused(reason)) = r else {
        panic!("expected a refusal")
    };
    assert_eq!(
        FileError::from_reason(&reason).unwrap().code,
        FileErrorCode::OutsideRoot
    );
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    let bad = mux
        .open(
            KIND_FILES,
            serde_json::json!({"op": "chmod"}),
            Duration::from_secs(5),
        )
        .await;
    let Err(MuxError::Refused(reason)) = bad else {
        panic!("expected a refusal")
    };
    assert_eq!(
        FileError::from_reason(&reason).unwrap().code,
        FileErrorCode::BadRequest
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_write_through_a_symlink_pointing_out_is_refused() {
    let (d, root) = root();
    let outside = d.path().join("sentinel");
    std::fs::write(&outside, b"keep").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let mux = pair(RemoteConfig::default());
    for path in ["link", "../sentinel", "..\\sentinel"] {
        let e = upload(&mux, &root, path, 0, b"pwned").await.unwrap_err();
        assert_eq!(e.code, FileErrorCode::OutsideRoot, "{path}");
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    // Deleting the link removes the link, not its target.
    open(
        &mux,
        FileRequest::Delete {
            path: "link".into(),
            recursive: false,
        },
        Some(&root),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
}
