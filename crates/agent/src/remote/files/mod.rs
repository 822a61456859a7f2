//! `files` streams (issue 12): one file operation per stream, see
//! `breeze_proto::agent::remote_files` for the protocol and [`paths`] for how a path is
//! confined to the allowed roots.
//!
//! Every filesystem call runs on the blocking pool (`spawn_blocking`, `tokio::fs`), never
//! on the channel task. Reads stream in chunks of at most 64 KiB through the stream
//! writer, whose credit bounds what is in flight; writes take the server's data frames as
//! they come. No file is ever held whole in memory.

pub mod paths;

use super::RemoteConfig;
use breeze_mux::{Event, Incoming, StreamReader, StreamWriter};
use breeze_proto::agent::channel::MAX_CHUNK;
use breeze_proto::agent::remote_files::{
    FileControl, FileError, FileErrorCode, FileHash, FileInfo, FileListing, FileParams,
    FileRequest, MAX_LIST_ENTRIES, TransferInfo,
};
use breeze_proto::api::{FileEntry, FileType};
use paths::{Access, Confinement};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves a `files` stream the server opened (on its own task).
pub fn serve(inc: Incoming, config: Arc<RemoteConfig>) {
    tokio::spawn(run(inc, config));
}

async fn run(inc: Incoming, config: Arc<RemoteConfig>) {
    let params: FileParams = match serde_json::from_value(inc.params.clone()) {
        Ok(p) => p,
        Err(e) => {
            let err = FileError::new(FileErrorCode::BadRequest, format!("bad params: {e}"));
            inc.refuse(err.to_reason());
            return;
        }
    };
    let op = params.request.op();
    let agent_root = config.files_root.clone();
    let server_root = params.root.clone();
    let conf = blocking(move || Confinement::new(agent_root.as_deref(), server_root.as_deref()));
    let conf = match conf.await {
        Ok(c) => c,
        Err(e) => {
            inc.refuse(e.to_reason());
            return;
        }
    };
    let result = match params.request {
        FileRequest::List { path } => answer(inc, blocking(move || list(&conf, &path))).await,
        FileRequest::Stat { path } => answer(inc, blocking(move || stat(&conf, &path))).await,
        FileRequest::Mkdir { path } => answer(inc, blocking(move || mkdir(&conf, &path))).await,
        FileRequest::Rename { from, to } => {
            answer(inc, blocking(move || rename(&conf, &from, &to))).await
        }
        FileRequest::Delete { path, recursive } => {
            answer(inc, blocking(move || delete(&conf, &path, recursive))).await
        }
        FileRequest::Hash { path } => answer(inc, blocking(move || hash(&conf, &path))).await,
        FileRequest::Read { path, offset } => read(inc, conf, path, offset).await,
        FileRequest::Write { path, offset } => write(inc, conf, path, offset).await,
    };
    if let Err(e) = result {
        tracing::debug!(op, error = %e, "files stream ended early");
    }
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(FileError::new(
            FileErrorCode::Io,
            format!("the file operation failed: {e}"),
        ))
    })
}

/// A metadata operation: accept with its result and close, or refuse with its error.
async fn answer<T: Serialize>(
    inc: Incoming,
    result: impl Future<Output = Result<T, FileError>>,
) -> Result<(), FileError> {
    match result.await {
        Ok(v) => {
            let info = serde_json::to_value(&v)
                .map_err(|e| FileError::new(FileErrorCode::Io, e.to_string()))?;
            let stream = inc.accept(info);
            stream.writer.close(None);
            Ok(())
        }
        Err(e) => {
            inc.refuse(e.to_reason());
            Err(e)
        }
    }
}

/// The filesystem's error in protocol terms.
fn io_error(e: &std::io::Error, field: &str, path: &Path) -> FileError {
    use std::io::ErrorKind as K;
    let code = match e.kind() {
        K::NotFound => FileErrorCode::NotFound,
        K::PermissionDenied => FileErrorCode::PermissionDenied,
        K::AlreadyExists => FileErrorCode::Exists,
        K::DirectoryNotEmpty => FileErrorCode::NotEmpty,
        K::NotADirectory => FileErrorCode::NotADirectory,
        K::IsADirectory => FileErrorCode::IsADirectory,
        _ if paths::left_root(e) => FileErrorCode::OutsideRoot,
        _ => FileErrorCode::Io,
    };
    FileError::new(code, format!("{}: {e}", path.display())).field(field)
}

fn entry(name: String, md: &Metadata) -> FileEntry {
    let ft = md.file_type();
    let file_type = if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_file() {
        FileType::File
    } else {
        FileType::Other
    };
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(format!("{:04o}", md.permissions().mode() & 0o7777))
    };
    #[cfg(not(unix))]
    let mode = None;
    FileEntry {
        name,
        file_type,
        size: if ft.is_file() { md.len() } else { 0 },
        mode,
        modified: md
            .modified()
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from),
    }
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn info_of(p: &Path, field: &str) -> Result<FileInfo, FileError> {
    let md = std::fs::symlink_metadata(p).map_err(|e| io_error(&e, field, p))?;
    Ok(FileInfo {
        path: p.display().to_string(),
        entry: entry(name_of(p), &md),
    })
}

fn list(conf: &Confinement, raw: &str) -> Result<FileListing, FileError> {
    let dir = conf.resolve(raw, "path", true)?;
    let rd = std::fs::read_dir(&dir).map_err(|e| io_error(&e, "path", &dir))?;
    let mut entries = Vec::new();
    let mut truncated = false;
    for de in rd {
        let de = de.map_err(|e| io_error(&e, "path", &dir))?;
        if entries.len() == MAX_LIST_ENTRIES {
            truncated = true;
            break;
        }
        // An entry removed while listing is skipped.
        if let Ok(md) = std::fs::symlink_metadata(de.path()) {
            entries.push(entry(de.file_name().to_string_lossy().into_owned(), &md));
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(FileListing {
        path: dir.display().to_string(),
        entries,
        truncated,
    })
}

fn stat(conf: &Confinement, raw: &str) -> Result<FileInfo, FileError> {
    info_of(&conf.resolve(raw, "path", false)?, "path")
}

fn mkdir(conf: &Confinement, raw: &str) -> Result<FileInfo, FileError> {
    let p = conf.resolve(raw, "path", true)?;
    std::fs::create_dir(&p).map_err(|e| io_error(&e, "path", &p))?;
    info_of(&p, "path")
}

fn rename(conf: &Confinement, from: &str, to: &str) -> Result<FileInfo, FileError> {
    let src = conf.resolve(from, "from", false)?;
    let dst = conf.resolve(to, "to", false)?;
    if conf.is_root(&src) {
        return Err(
            FileError::new(FileErrorCode::InvalidPath, "the root cannot be renamed").field("from"),
        );
    }
    std::fs::symlink_metadata(&src).map_err(|e| io_error(&e, "from", &src))?;
    if std::fs::symlink_metadata(&dst).is_ok() {
        return Err(FileError::new(
            FileErrorCode::Exists,
            format!("{} exists already", dst.display()),
        )
        .field("to"));
    }
    std::fs::rename(&src, &dst).map_err(|e| io_error(&e, "to", &dst))?;
    info_of(&dst, "to")
}

fn delete(conf: &Confinement, raw: &str, recursive: bool) -> Result<FileInfo, FileError> {
    let p = conf.resolve(raw, "path", false)?;
    if conf.is_root(&p) {
        return Err(
            FileError::new(FileErrorCode::InvalidPath, "the root cannot be deleted").field("path"),
        );
    }
    let info = info_of(&p, "path")?;
    let r = match info.entry.file_type {
        FileType::Directory if recursive => std::fs::remove_dir_all(&p),
        FileType::Directory => std::fs::remove_dir(&p),
        _ => std::fs::remove_file(&p),
    };
    r.map_err(|e| io_error(&e, "path", &p))?;
    Ok(info)
}

/// Opens a regular file for reading; answers it, its path and size.
fn open_read(conf: &Confinement, raw: &str) -> Result<(File, PathBuf, u64), FileError> {
    let p = conf.resolve(raw, "path", true)?;
    let f = conf
        .open(&p, Access::Read)
        .map_err(|e| io_error(&e, "path", &p))?;
    let md = f.metadata().map_err(|e| io_error(&e, "path", &p))?;
    if !md.is_file() {
        let code = if md.is_dir() {
            FileErrorCode::IsADirectory
        } else {
            FileErrorCode::InvalidPath
        };
        return Err(
            FileError::new(code, format!("{} is not a regular file", p.display())).field("path"),
        );
    }
    Ok((f, p, md.len()))
}

fn hash(conf: &Confinement, raw: &str) -> Result<FileHash, FileError> {
    let (mut f, p, _) = open_read(conf, raw)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| io_error(&e, "path", &p))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileHash {
        path: p.display().to_string(),
        size,
        sha256: hex::encode(h.finalize()),
    })
}

async fn read(inc: Incoming, conf: Confinement, raw: String, offset: u64) -> Result<(), FileError> {
    let opened = blocking(move || {
        let (mut f, p, size) = open_read(&conf, &raw)?;
        if offset > size {
            let mut e = FileError::new(
                FileErrorCode::OffsetMismatch,
                format!("offset {offset} is past the end of the file ({size} bytes)"),
            );
            e.size = Some(size);
            return Err(e);
        }
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_error(&e, "path", &p))?;
        Ok((f, p, size))
    })
    .await;
    let (f, p, size) = match opened {
        Ok(v) => v,
        Err(e) => {
            inc.refuse(e.to_reason());
            return Err(e);
        }
    };
    let (_reader, writer) = inc.accept(serde_json::json!(TransferInfo { size })).split();
    let mut file = tokio::fs::File::from_std(f);
    let mut buf = vec![0u8; MAX_CHUNK];
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => return Err(fail(&writer, io_error(&e, "path", &p))),
        };
        if n == 0 {
            writer.close(None);
            return Ok(());
        }
        if writer.send(&buf[..n]).await.is_err() {
            // The server closed the stream (the HTTP client went away).
            return Err(FileError::new(
                FileErrorCode::Io,
                "the server ended the read",
            ));
        }
    }
}

fn fail(writer: &StreamWriter, e: FileError) -> FileError {
    writer.close(Some(e.to_reason()));
    e
}

/// Opens for a write at `offset`: 0 creates or truncates, else it must be the size.
fn open_write(conf: &Confinement, raw: &str, offset: u64) -> Result<(File, PathBuf), FileError> {
    let p = conf.resolve(raw, "path", true)?;
    let f = conf
        .open(
            &p,
            Access::Write {
                create: offset == 0,
            },
        )
        .map_err(|e| io_error(&e, "path", &p))?;
    let md = f.metadata().map_err(|e| io_error(&e, "path", &p))?;
    if !md.is_file() {
        return Err(FileError::new(
            FileErrorCode::IsADirectory,
            format!("{} is not a regular file", p.display()),
        )
        .field("path"));
    }
    if md.len() != offset {
        let mut e = FileError::new(
            FileErrorCode::OffsetMismatch,
            format!(
                "the file has {} bytes: write at 0 or at {}, not at {offset}",
                md.len(),
                md.len()
            ),
        )
        .field("offset");
        e.size = Some(md.len());
        return Err(e);
    }
    Ok((f, p))
}

async fn write(
    inc: Incoming,
    conf: Confinement,
    raw: String,
    offset: u64,
) -> Result<(), FileError> {
    let opened = blocking(move || {
        let (mut f, p) = open_write(&conf, &raw, offset)?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_error(&e, "path", &p))?;
        Ok((f, p))
    })
    .await;
    let (f, p) = match opened {
        Ok(v) => v,
        Err(e) => {
            inc.refuse(e.to_reason());
            return Err(e);
        }
    };
    let (reader, writer) = inc
        .accept(serde_json::json!(TransferInfo { size: offset }))
        .split();
    let file = tokio::fs::File::from_std(f);
    receive(reader, &writer, file, &p).await
}

/// Writes the server's data frames until `end` (sync, answer `written`, close) or until the
/// server closes the stream (sync what came, so the upload resumes from there).
async fn receive(
    mut reader: StreamReader,
    writer: &StreamWriter,
    mut file: tokio::fs::File,
    p: &Path,
) -> Result<(), FileError> {
    loop {
        match reader.recv().await {
            Some(Event::Data(b)) => {
                if let Err(e) = file.write_all(&b).await {
                    return Err(fail(writer, io_error(&e, "path", p)));
                }
            }
            Some(Event::Control(v)) => {
                if let Ok(FileControl::End) = serde_json::from_value::<FileControl>(v) {
                    let synced = async {
                        file.flush().await?;
                        file.sync_all().await?;
                        file.metadata().await
                    };
                    let md = match synced.await {
                        Ok(md) => md,
                        Err(e) => return Err(fail(writer, io_error(&e, "path", p))),
                    };
                    let _ = writer
                        .control(&FileControl::Written { size: md.len() })
                        .await;
                    writer.close(None);
                    return Ok(());
                }
            }
            None => {
                let _ = file.flush().await;
                let _ = file.sync_data().await;
                return Err(FileError::new(
                    FileErrorCode::Io,
                    format!(
                        "the server ended the write: {}",
                        reader.close_reason().unwrap_or("closed")
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
