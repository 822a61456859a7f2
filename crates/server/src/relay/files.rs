//! File operations over the agent channel (issue 12): one `files` stream per operation
//! (`breeze_proto::agent::remote_files`), and the agent's typed refusals mapped to HTTP.
//!
//! Transfers stream both ways without holding a file: a download hands the agent's data
//! frames to the HTTP body one by one (the stream's credit is granted back only when the
//! body asks for the next chunk, so a slow HTTP client stops the agent), and an upload
//! forwards the request body chunk by chunk into the stream (each send waits for credit).
//! A [`TransferRow`] keeps the FileTransfer row current and marks it failed when the
//! transfer is dropped half way (the client went away).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::StatusCode;
use breeze_core::Scope;
use breeze_mux::{Event, Mux, MuxError, Stream, StreamReader, StreamWriter};
use breeze_proto::agent::remote::KIND_FILES;
use breeze_proto::agent::remote_files::{
    FileControl, FileError, FileErrorCode, FileParams, FileRequest, TransferInfo,
};
use breeze_proto::ids::{DeviceId, FileTransferId};
use breeze_store::file_transfers::{self, Progress};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the agent has to accept (or refuse) an operation; a hash of a large file
/// takes a while.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the agent has to sync a written file.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// Bytes one `PUT …/files/content` request may carry (the file may be larger: upload it
/// in several chunks).
pub const MAX_UPLOAD_CHUNK: u64 = 1 << 30;
/// A FileTransfer row's progress is written at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The agent's refusal in HTTP terms.
pub fn api_error(e: &FileError) -> ApiError {
    let msg = e.message.clone();
    let field = e.field.clone().unwrap_or_else(|| "path".into());
    match e.code {
        FileErrorCode::NotFound => ApiError::refused(StatusCode::NOT_FOUND, "file_not_found", msg),
        FileErrorCode::OutsideRoot => ApiError::refused(StatusCode::FORBIDDEN, "outside_root", msg),
        FileErrorCode::PermissionDenied => {
            ApiError::refused(StatusCode::FORBIDDEN, "permission_denied", msg)
        }
        FileErrorCode::InvalidPath => ApiError::validation(field, msg),
        FileErrorCode::InvalidRoot => ApiError::refused(StatusCode::CONFLICT, "invalid_root", msg),
        FileErrorCode::Exists => ApiError::refused(StatusCode::CONFLICT, "file_exists", msg),
        FileErrorCode::NotADirectory => {
            ApiError::refused(StatusCode::CONFLICT, "not_a_directory", msg)
        }
        FileErrorCode::IsADirectory => {
            ApiError::refused(StatusCode::CONFLICT, "is_a_directory", msg)
        }
        FileErrorCode::NotEmpty => {
            ApiError::refused(StatusCode::CONFLICT, "directory_not_empty", msg)
        }
        FileErrorCode::OffsetMismatch => {
            ApiError::refused(StatusCode::CONFLICT, "offset_mismatch", msg)
        }
        FileErrorCode::Io => ApiError::BadGateway {
            code: "agent_io_error",
            message: msg,
        },
        FileErrorCode::BadRequest => ApiError::BadGateway {
            code: "agent_protocol_error",
            message: msg,
        },
    }
}

/// A stream that ended with `reason` in HTTP terms.
fn closed_error(reason: Option<&str>) -> ApiError {
    match reason.and_then(FileError::from_reason) {
        Some(e) => api_error(&e),
        None => ApiError::BadGateway {
            code: "agent_stream_closed",
            message: format!(
                "the agent ended the operation: {}",
                reason.unwrap_or("without a reason")
            ),
        },
    }
}

fn mux_error(e: MuxError) -> ApiError {
    match e {
        MuxError::Refused(reason) => closed_error(Some(&reason)),
        MuxError::ChannelClosed => offline(),
        MuxError::Timeout => ApiError::refused(
            StatusCode::GATEWAY_TIMEOUT,
            "agent_timeout",
            "the agent did not answer in time",
        ),
        MuxError::Closed | MuxError::Encode(_) => ApiError::BadGateway {
            code: "agent_stream_closed",
            message: e.to_string(),
        },
    }
}

fn offline() -> ApiError {
    ApiError::refused(
        StatusCode::CONFLICT,
        "device_offline",
        "the device's agent is not connected to the server",
    )
}

/// The agent of one device, with the root the server wants enforced.
#[derive(Clone)]
pub struct Agent {
    mux: Mux,
    root: Option<String>,
}

impl Agent {
    /// The connected agent of `device`, on this replica or another (409 `device_offline`
    /// when no replica holds its channel).
    pub async fn connected(
        state: &AppState,
        device: DeviceId,
        root: Option<String>,
    ) -> Result<Self, ApiError> {
        let mux = super::route::mux(state, device).await.ok_or_else(offline)?;
        Ok(Agent { mux, root })
    }

    async fn open(&self, request: FileRequest) -> Result<(Stream, serde_json::Value), ApiError> {
        let params = FileParams {
            request,
            root: self.root.clone(),
        };
        let params = serde_json::to_value(params).map_err(ApiError::internal)?;
        self.mux
            .open(KIND_FILES, params, OPEN_TIMEOUT)
            .await
            .map_err(mux_error)
    }

    /// A metadata operation's answer.
    pub async fn call<T: DeserializeOwned>(&self, request: FileRequest) -> Result<T, ApiError> {
        let (_stream, info) = self.open(request).await?;
        serde_json::from_value(info).map_err(|e| ApiError::BadGateway {
            code: "agent_protocol_error",
            message: format!("the agent's answer did not parse: {e}"),
        })
    }

    /// Starts reading `path`: the file's size and the stream its bytes come on.
    pub async fn read(&self, path: &str) -> Result<(u64, Stream), ApiError> {
        let (stream, info) = self
            .open(FileRequest::Read {
                path: path.to_string(),
                offset: 0,
            })
            .await?;
        let info: TransferInfo = parse_info(info)?;
        Ok((info.size, stream))
    }

    /// Starts writing `path` at `offset` (the agent refuses a wrong offset with 409).
    pub async fn write(&self, path: &str, offset: u64) -> Result<Stream, ApiError> {
        let (stream, info) = self
            .open(FileRequest::Write {
                path: path.to_string(),
                offset,
            })
            .await?;
        let _: TransferInfo = parse_info(info)?;
        Ok(stream)
    }
}

fn parse_info<T: DeserializeOwned>(info: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(info).map_err(|e| ApiError::BadGateway {
        code: "agent_protocol_error",
        message: format!("the agent's answer did not parse: {e}"),
    })
}

/// Keeps a FileTransfer row current while bytes move; marks it failed when dropped before
/// [`TransferRow::finish`].
pub struct TransferRow {
    state: AppState,
    scope: Arc<Scope>,
    pub id: FileTransferId,
    /// Bytes of the file that are on the far side now.
    done_bytes: Arc<AtomicU64>,
    last_write: Instant,
    finished: Arc<AtomicBool>,
}

impl TransferRow {
    pub fn new(state: &AppState, scope: &Scope, id: FileTransferId, done: u64) -> Self {
        TransferRow {
            state: state.clone(),
            scope: Arc::new(scope.clone()),
            id,
            done_bytes: Arc::new(AtomicU64::new(done)),
            last_write: Instant::now(),
            finished: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `n` bytes more are across; the row is written at most once a second.
    pub async fn advance(&mut self, n: u64) {
        let done = self.done_bytes.fetch_add(n, Ordering::Relaxed) + n;
        if self.last_write.elapsed() >= PROGRESS_EVERY {
            self.last_write = Instant::now();
            let p = Progress {
                transferred_bytes: i64::try_from(done).unwrap_or(i64::MAX),
                size_bytes: None,
                status: "transferring",
                error_message: None,
            };
            if let Err(e) =
                file_transfers::progress(&self.state.db, &self.scope, self.id, &p, self.state.now())
                    .await
            {
                tracing::warn!(error = %e, transfer = %self.id.0, "could not write transfer progress");
            }
        }
    }

    pub fn done_bytes(&self) -> u64 {
        self.done_bytes.load(Ordering::Relaxed)
    }

    /// Writes where the transfer stands (`error`: it failed) without ending the guard.
    pub async fn update(
        &self,
        done: u64,
        size: Option<u64>,
        error: Option<String>,
    ) -> Result<breeze_proto::api::FileTransfer, ApiError> {
        let p = Progress {
            transferred_bytes: i64::try_from(done).unwrap_or(i64::MAX),
            size_bytes: size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            status: if error.is_some() {
                "failed"
            } else {
                "transferring"
            },
            error_message: error,
        };
        Ok(
            file_transfers::progress(&self.state.db, &self.scope, self.id, &p, self.state.now())
                .await?,
        )
    }

    /// The transfer stopped: the row records how far it got (`error`: it failed).
    pub async fn finish(
        &self,
        done: u64,
        size: Option<u64>,
        error: Option<String>,
    ) -> Result<breeze_proto::api::FileTransfer, ApiError> {
        self.finished.store(true, Ordering::Relaxed);
        self.update(done, size, error).await
    }

    /// The transfer is whole.
    pub async fn complete(
        &self,
        size: u64,
        sha256: Option<&str>,
    ) -> Result<breeze_proto::api::FileTransfer, ApiError> {
        self.finished.store(true, Ordering::Relaxed);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        Ok(file_transfers::complete(
            &self.state.db,
            &self.scope,
            self.id,
            size,
            sha256,
            self.state.now(),
        )
        .await?)
    }
}

impl Drop for TransferRow {
    fn drop(&mut self) {
        if self.finished.load(Ordering::Relaxed) {
            return;
        }
        let (state, scope, id) = (self.state.clone(), self.scope.clone(), self.id);
        let done = self.done_bytes();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let p = Progress {
                    transferred_bytes: i64::try_from(done).unwrap_or(i64::MAX),
                    size_bytes: None,
                    status: "failed",
                    error_message: Some("the transfer was cut off".into()),
                };
                if let Err(e) =
                    file_transfers::progress(&state.db, &scope, id, &p, state.now()).await
                {
                    tracing::warn!(error = %e, "could not mark a cut transfer failed");
                }
            });
        }
    }
}

/// The HTTP body of a download: the agent's data frames as they come. The stream's credit
/// goes back to the agent only when the body is polled for the next chunk. Ends with an
/// error (so the client sees a cut body) when the agent fails half way.
pub fn download_body(
    stream: Stream,
    size: u64,
    row: TransferRow,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    struct St {
        reader: StreamReader,
        _writer: StreamWriter,
        row: TransferRow,
        size: u64,
        sent: u64,
        ended: bool,
    }
    let (reader, writer) = stream.split();
    let st = St {
        reader,
        _writer: writer,
        row,
        size,
        sent: 0,
        ended: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            match st.reader.recv().await {
                Some(Event::Data(b)) => {
                    st.sent += b.len() as u64;
                    if st.sent == st.size {
                        // With the whole `Content-Length` handed over, the body may not be
                        // polled again: the download is complete now.
                        st.ended = true;
                        if let Err(e) = st.row.complete(st.sent, None).await {
                            tracing::warn!(error = %e, "could not complete a download row");
                        }
                    } else {
                        st.row.advance(b.len() as u64).await;
                    }
                    return Some((Ok(b), st));
                }
                Some(Event::Control(_)) => continue,
                None => {
                    st.ended = true;
                    let reason = st.reader.close_reason().map(str::to_string);
                    if reason.is_none() && st.sent == st.size {
                        if let Err(e) = st.row.complete(st.sent, None).await {
                            tracing::warn!(error = %e, "could not complete a download row");
                        }
                        return None;
                    }
                    let why = match reason.as_deref().and_then(FileError::from_reason) {
                        Some(e) => e.message,
                        None => format!(
                            "the download stopped at {} of {} bytes: {}",
                            st.sent,
                            st.size,
                            reason.as_deref().unwrap_or("closed")
                        ),
                    };
                    let _ = st
                        .row
                        .finish(st.sent, Some(st.size), Some(why.clone()))
                        .await;
                    return Some((Err(std::io::Error::other(why)), st));
                }
            }
        }
    })
}

/// What an upload request came to.
pub struct Uploaded {
    /// The file's size on the device after this request.
    pub size: u64,
    /// Bytes this request carried.
    pub received: u64,
}

/// Forwards a request body into a write stream, then asks the agent to sync. The row
/// advances as bytes go; on a cut body the stream is closed with a reason (the agent keeps
/// and syncs what arrived) and the row is marked failed.
pub async fn upload_body(
    stream: Stream,
    body: axum::body::Body,
    row: &mut TransferRow,
) -> Result<Uploaded, ApiError> {
    let (mut reader, writer) = stream.split();
    let mut data = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = data.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let why = format!("the upload was cut after {received} bytes of this request: {e}");
                writer.close(Some(why.clone()));
                let _ = row.finish(row.done_bytes(), None, Some(why.clone())).await;
                return Err(ApiError::BadRequest {
                    code: "upload_cut",
                    message: why,
                    field: None,
                });
            }
        };
        received += chunk.len() as u64;
        if received > MAX_UPLOAD_CHUNK {
            let why = format!(
                "one request carries at most {MAX_UPLOAD_CHUNK} bytes: send the rest in another request at the new offset"
            );
            writer.close(Some(why.clone()));
            let _ = row.finish(row.done_bytes(), None, Some(why.clone())).await;
            return Err(ApiError::PayloadTooLarge(why));
        }
        if writer.send(&chunk).await.is_err() {
            return Err(agent_stopped(&mut reader, row).await);
        }
        row.advance(chunk.len() as u64).await;
    }
    drop(data);
    if writer.control(&FileControl::End).await.is_err() {
        return Err(agent_stopped(&mut reader, row).await);
    }
    let answer = tokio::time::timeout(SYNC_TIMEOUT, async {
        loop {
            match reader.recv().await {
                Some(Event::Control(v)) => {
                    if let Ok(FileControl::Written { size }) = serde_json::from_value(v) {
                        return Ok(size);
                    }
                }
                Some(Event::Data(_)) => {}
                None => return Err(closed_error(reader.close_reason())),
            }
        }
    })
    .await;
    match answer {
        Ok(Ok(size)) => Ok(Uploaded { size, received }),
        Ok(Err(e)) => {
            let _ = row
                .finish(row.done_bytes(), None, Some(e.to_string()))
                .await;
            Err(e)
        }
        Err(_) => {
            let why = "the agent did not confirm the write in time".to_string();
            let _ = row.finish(row.done_bytes(), None, Some(why.clone())).await;
            Err(ApiError::refused(
                StatusCode::GATEWAY_TIMEOUT,
                "agent_timeout",
                why,
            ))
        }
    }
}

/// The agent closed a write stream while the body was still coming: its reason.
async fn agent_stopped(reader: &mut StreamReader, row: &mut TransferRow) -> ApiError {
    while reader.recv().await.is_some() {}
    let e = closed_error(reader.close_reason());
    let _ = row
        .finish(row.done_bytes(), None, Some(e.to_string()))
        .await;
    e
}
