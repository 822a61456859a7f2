//! The file manager (issue 12): `/api/v1/devices/{id}/files…` and `/api/v1/file-transfers`.
//!
//! Every file route needs `remote:execute` (reading a device's files is remote access)
//! and a device in the caller's scope (else 404); the device's agent must be connected to
//! this server (else 409 `device_offline`). Paths are resolved by the agent, confined to
//! the device's allowed root (`GET`/`PUT …/files/root`) and the agent's own `files_root`;
//! its refusals map to HTTP in `relay::files::api_error` (outside the root → 403
//! `outside_root`, missing → 404 `file_not_found`, exists → 409 `file_exists`, …).
//! Every operation is audited (`remote.file.list|stat|download|upload|complete|mkdir|
//! rename|delete`) with the device, the path and the size.

use crate::audit::{Actor, AuditEvent, AuditSlot, ClientMeta};
use crate::auth::principal::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::relay::files::{Agent, TransferRow, download_body, upload_body};
use crate::routes::common::{one_of, page, unsorted_list_opts};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use breeze_core::permissions::{Action, Resource};
use breeze_proto::agent::remote_files::{FileHash, FileInfo, FileListing, FileRequest};
use breeze_proto::api::{
    CompleteUpload, DeleteFileQuery, Device, ErrorBody, FileEntry, FileList, FilePathQuery,
    FileRoot, FileTransfer, FileTransferListQuery, FileType, MakeDirectory, Page, RenameFile,
    SetFileRoot, UploadQuery,
};
use breeze_proto::ids::{DeviceId, RemoteSessionId};
use breeze_store::devices;
use breeze_store::file_transfers::{self, NewTransfer, TransferFilter};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_files, delete_file))
        .routes(routes!(download_file, file_size, upload_file))
        .routes(routes!(complete_upload))
        .routes(routes!(make_directory))
        .routes(routes!(rename_file))
        .routes(routes!(get_file_root, set_file_root))
        .routes(routes!(list_file_transfers))
}

const MAX_PATH: usize = 4096;

fn check_path(field: &str, p: &str, allow_empty: bool) -> ApiResult<()> {
    if !allow_empty && p.trim().is_empty() {
        return Err(ApiError::validation(field, "is required"));
    }
    if p.len() > MAX_PATH {
        return Err(ApiError::validation(
            field,
            format!("is longer than {MAX_PATH} bytes"),
        ));
    }
    if p.contains('\0') {
        return Err(ApiError::validation(field, "must not contain a NUL byte"));
    }
    Ok(())
}

/// The device (in scope, else 404) and its connected agent, for a caller with
/// `remote:execute`; `write` also needs the organization writable.
async fn target(
    state: &AppState,
    auth: &Auth,
    id: DeviceId,
    write: bool,
    session: Option<RemoteSessionId>,
) -> ApiResult<(Device, Agent)> {
    auth.require(Resource::Remote, Action::Execute)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    super::remote::takes_remote_access(&d)?;
    if write {
        auth.writable(d.org_id)?;
    }
    if let Some(s) = session
        && !file_transfers::session_on_device(&state.db, &auth.scope, s, id).await?
    {
        return Err(ApiError::validation(
            "session_id",
            "no remote session of yours on this device has this id",
        ));
    }
    let root = file_transfers::file_root(&state.db, &auth.scope, id).await?;
    let agent = Agent::connected(state, id, root).await?;
    Ok((d, agent))
}

/// Who asks, for the audit rows.
struct Ctx<'a> {
    state: &'a AppState,
    auth: &'a Auth,
    meta: &'a ClientMeta,
    slot: &'a AuditSlot,
}

impl<'a> Ctx<'a> {
    fn new(state: &'a AppState, actor: &'a Actor) -> Self {
        Ctx {
            state,
            auth: &actor.auth,
            meta: &actor.meta,
            slot: &actor.slot,
        }
    }
}

/// Records `action` on device `d`, as a failure when `err` is set.
async fn audit(
    cx: &Ctx<'_>,
    d: &Device,
    action: &str,
    details: Value,
    err: Option<&ApiError>,
) -> ApiResult<()> {
    let mut ev = AuditEvent::new(action, "device")
        .by(cx.auth)
        .client(cx.meta)
        .org(Some(d.org_id))
        .device(d.site_id, d.id)
        .resource(d.id, Some(&d.hostname))
        .details(details);
    if let Some(e) = err {
        let result = match e.status() {
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => "denied",
            _ => "failure",
        };
        ev = ev.failed(result, e.to_string());
    }
    cx.state.record(ev, Some(cx.slot)).await
}

/// Runs an operation on a device and audits it either way. `op` answers the result and
/// the audit details.
async fn audited<T>(
    cx: &Ctx<'_>,
    d: &Device,
    action: &str,
    details: Value,
    op: impl Future<Output = ApiResult<(T, Value)>>,
) -> ApiResult<T> {
    match op.await {
        Ok((v, more)) => {
            let mut all = details;
            if let (Some(a), Value::Object(m)) = (all.as_object_mut(), more) {
                a.extend(m);
            }
            audit(cx, d, action, all, None).await?;
            Ok(v)
        }
        Err(e) => {
            audit(cx, d, action, details, Some(&e)).await?;
            Err(e)
        }
    }
}

/// A directory's entries.
#[utoipa::path(get, path = "/api/v1/devices/{id}/files", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path), FilePathQuery),
    responses((status = 200, body = FileList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_files(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(q): ApiQuery<FilePathQuery>,
) -> ApiResult<axum::Json<FileList>> {
    let auth = &actor.auth;
    check_path("path", &q.path, true)?;
    let (d, agent) = target(&state, auth, id, false, q.session_id).await?;
    let details = json!({"path": q.path});
    let op = async {
        let l: FileListing = agent
            .call(FileRequest::List {
                path: q.path.clone(),
            })
            .await?;
        let more = json!({"resolved": l.path, "entries": l.entries.len()});
        Ok((
            FileList {
                path: l.path,
                entries: l.entries,
                truncated: l.truncated,
            },
            more,
        ))
    };
    let l = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.list",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(l))
}

/// Streams a file from the device (`application/octet-stream`, `Content-Length` = its size).
/// The body is cut (the connection closes early) when the agent fails half way.
#[utoipa::path(get, path = "/api/v1/devices/{id}/files/content", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path), FilePathQuery),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn download_file(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(q): ApiQuery<FilePathQuery>,
) -> ApiResult<Response> {
    let auth = &actor.auth;
    check_path("path", &q.path, false)?;
    let (d, agent) = target(&state, auth, id, false, q.session_id).await?;
    let details = json!({"path": q.path});
    let op = async {
        let (size, stream) = agent.read(&q.path).await?;
        let row = file_transfers::create(
            &state.db,
            &auth.scope,
            &NewTransfer {
                org_id: d.org_id,
                session_id: q.session_id,
                device_id: d.id,
                user_id: auth.user_id(),
                direction: "download",
                remote_path: q.path.clone(),
                size_bytes: Some(i64::try_from(size).unwrap_or(i64::MAX)),
                transferred_bytes: 0,
            },
            state.now(),
        )
        .await?;
        let more = json!({"size": size, "transfer_id": row.id});
        Ok(((size, stream, row), more))
    };
    let (size, stream, row) = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.download",
        details,
        op,
    )
    .await?;
    let tr = TransferRow::new(&state, &auth.scope, row.id, 0);
    if size == 0 {
        // An empty body may never be polled: nothing is left to move.
        tr.complete(0, None).await?;
    }
    let mut resp = Body::from_stream(download_body(stream, size, tr)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    // Already compressed or not, a transfer is sent as it is.
    h.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    let name: String = q
        .path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("download")
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    let name = if name.is_empty() {
        "download".into()
    } else {
        name
    };
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&row.id.0.to_string()) {
        h.insert("x-file-transfer-id", v);
    }
    Ok(resp)
}

/// The file's current size as `Content-Length` (404 when it does not exist): where an
/// interrupted upload resumes.
#[utoipa::path(head, path = "/api/v1/devices/{id}/files/content", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path), FilePathQuery),
    responses((status = 200, description = "`Content-Length` is the file's size"), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn file_size(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(q): ApiQuery<FilePathQuery>,
) -> ApiResult<Response> {
    let auth = &actor.auth;
    check_path("path", &q.path, false)?;
    let (d, agent) = target(&state, auth, id, false, q.session_id).await?;
    let details = json!({"path": q.path});
    let op = async {
        let info: FileInfo = agent
            .call(FileRequest::Stat {
                path: q.path.clone(),
            })
            .await?;
        if info.entry.file_type != FileType::File {
            return Err(ApiError::refused(
                StatusCode::CONFLICT,
                "is_a_directory",
                format!("{} is not a regular file", info.path),
            ));
        }
        let size = info.entry.size;
        Ok((size, json!({"size": size})))
    };
    let size = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.stat",
        details,
        op,
    )
    .await?;
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(resp)
}

/// Writes the request body at `offset` (0 starts the file over; otherwise it must be the
/// file's current size, see `HEAD`, else 409 `offset_mismatch`). One request carries at
/// most 1 GiB. The upload's FileTransfer row is created at offset 0 and continued by the
/// requests that resume it.
#[utoipa::path(put, path = "/api/v1/devices/{id}/files/content", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = FileTransfer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload_file(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<axum::Json<FileTransfer>> {
    let auth = &actor.auth;
    check_path("path", &q.path, false)?;
    if let Some(t) = q.total
        && t < q.offset
    {
        return Err(ApiError::validation("total", "is smaller than offset"));
    }
    let (d, agent) = target(&state, auth, id, true, q.session_id).await?;
    let details = json!({"path": q.path, "offset": q.offset, "total": q.total});
    let op = async {
        let stream = agent.write(&q.path, q.offset).await?;
        let resumed = if q.offset == 0 {
            None
        } else {
            file_transfers::resumable_upload(&state.db, &auth.scope, id, &q.path, auth.user_id())
                .await?
        };
        let row = match resumed {
            Some(r) => r,
            None => {
                file_transfers::create(
                    &state.db,
                    &auth.scope,
                    &NewTransfer {
                        org_id: d.org_id,
                        session_id: q.session_id,
                        device_id: d.id,
                        user_id: auth.user_id(),
                        direction: "upload",
                        remote_path: q.path.clone(),
                        size_bytes: q.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
                        transferred_bytes: i64::try_from(q.offset).unwrap_or(i64::MAX),
                    },
                    state.now(),
                )
                .await?
            }
        };
        let mut tr = TransferRow::new(&state, &auth.scope, row.id, q.offset);
        tr.update(q.offset, q.total, None).await?;
        let up = upload_body(stream, body, &mut tr).await?;
        let row = tr.finish(up.size, q.total, None).await?;
        let more = json!({"received": up.received, "size": up.size, "transfer_id": row.id});
        Ok((row, more))
    };
    let row = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.upload",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(row))
}

fn check_sha256(s: &str) -> ApiResult<String> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::validation(
            "sha256",
            "must be 64 hexadecimal characters",
        ));
    }
    Ok(s)
}

/// Verifies an upload: the file's SHA-256 must be `sha256` (else 422 naming `sha256`; the
/// transfer stays open to be resumed or restarted). Completes the upload's FileTransfer.
#[utoipa::path(post, path = "/api/v1/devices/{id}/files/complete", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path)), request_body = CompleteUpload,
    responses((status = 200, body = FileTransfer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn complete_upload(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<CompleteUpload>,
) -> ApiResult<axum::Json<FileTransfer>> {
    let auth = &actor.auth;
    check_path("path", &req.path, false)?;
    let want = check_sha256(&req.sha256)?;
    let (d, agent) = target(&state, auth, id, true, None).await?;
    let details = json!({"path": req.path, "sha256": want});
    let op = async {
        let row =
            file_transfers::resumable_upload(&state.db, &auth.scope, id, &req.path, auth.user_id())
                .await?
                .ok_or_else(|| {
                    ApiError::refused(
                        StatusCode::NOT_FOUND,
                        "no_upload",
                        "you have no unfinished upload of this path on this device",
                    )
                })?;
        let h: FileHash = agent
            .call(FileRequest::Hash {
                path: req.path.clone(),
            })
            .await?;
        let tr = TransferRow::new(&state, &auth.scope, row.id, h.size);
        if h.sha256 != want {
            let why = format!(
                "the file on the device ({} bytes) has SHA-256 {}, not {want}",
                h.size, h.sha256
            );
            tr.finish(h.size, None, None).await?;
            return Err(ApiError::validation("sha256", why));
        }
        let row = tr.complete(h.size, Some(&want)).await?;
        Ok((row.clone(), json!({"size": h.size, "transfer_id": row.id})))
    };
    let row = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.complete",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(row))
}

/// Creates a directory (its parent must exist).
#[utoipa::path(post, path = "/api/v1/devices/{id}/files/mkdir", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path)), request_body = MakeDirectory,
    responses((status = 200, body = FileEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn make_directory(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<MakeDirectory>,
) -> ApiResult<axum::Json<FileEntry>> {
    let auth = &actor.auth;
    check_path("path", &req.path, false)?;
    let (d, agent) = target(&state, auth, id, true, None).await?;
    let details = json!({"path": req.path});
    let op = async {
        let info: FileInfo = agent
            .call(FileRequest::Mkdir {
                path: req.path.clone(),
            })
            .await?;
        let more = json!({"resolved": info.path, "size": 0});
        Ok((info.entry, more))
    };
    let e = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.mkdir",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(e))
}

/// Renames (moves) a file or directory; `to` must not exist (409 `file_exists`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/files/rename", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path)), request_body = RenameFile,
    responses((status = 200, body = FileEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rename_file(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<RenameFile>,
) -> ApiResult<axum::Json<FileEntry>> {
    let auth = &actor.auth;
    check_path("from", &req.from, false)?;
    check_path("to", &req.to, false)?;
    let (d, agent) = target(&state, auth, id, true, None).await?;
    let details = json!({"path": req.from, "to": req.to});
    let op = async {
        let info: FileInfo = agent
            .call(FileRequest::Rename {
                from: req.from.clone(),
                to: req.to.clone(),
            })
            .await?;
        let more = json!({"resolved": info.path, "size": info.entry.size});
        Ok((info.entry, more))
    };
    let e = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.rename",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(e))
}

/// Deletes a file, an empty directory, or with `recursive=true` a directory and all in it.
/// Answers what was deleted.
#[utoipa::path(delete, path = "/api/v1/devices/{id}/files", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path), DeleteFileQuery),
    responses((status = 200, body = FileEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_file(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiQuery(q): ApiQuery<DeleteFileQuery>,
) -> ApiResult<axum::Json<FileEntry>> {
    let auth = &actor.auth;
    check_path("path", &q.path, false)?;
    let recursive = q.recursive.unwrap_or(false);
    let (d, agent) = target(&state, auth, id, true, q.session_id).await?;
    let details = json!({"path": q.path, "recursive": recursive});
    let op = async {
        let info: FileInfo = agent
            .call(FileRequest::Delete {
                path: q.path.clone(),
                recursive,
            })
            .await?;
        let more =
            json!({"resolved": info.path, "size": info.entry.size, "type": info.entry.file_type});
        Ok((info.entry, more))
    };
    let e = audited(
        &Ctx::new(&state, &actor),
        &d,
        "remote.file.delete",
        details,
        op,
    )
    .await?;
    Ok(axum::Json(e))
}

/// The directory the device's file manager is confined to.
#[utoipa::path(get, path = "/api/v1/devices/{id}/files/root", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path)),
    responses((status = 200, body = FileRoot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_file_root(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<DeviceId>,
) -> ApiResult<axum::Json<FileRoot>> {
    auth.require(Resource::Devices, Action::Read)?;
    let root = file_transfers::file_root(&state.db, &auth.scope, id).await?;
    Ok(axum::Json(FileRoot {
        device_id: id,
        root,
    }))
}

/// An allowed root: absolute (`/srv/share`, `C:\Share`), no `..`, no UNC path.
fn check_root(raw: &str) -> ApiResult<String> {
    let r = raw.trim();
    check_path("root", r, false)?;
    let b = r.as_bytes();
    let sep = |c: u8| c == b'/' || c == b'\\';
    let unix = b.first().is_some_and(|c| *c == b'/');
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && sep(b[2]);
    if b.len() >= 2 && sep(b[0]) && sep(b[1]) {
        return Err(ApiError::validation(
            "root",
            "a UNC or network path cannot be a root",
        ));
    }
    if !(unix || drive) {
        return Err(ApiError::validation(
            "root",
            "must be an absolute path (`/srv/share` or `C:\\Share`)",
        ));
    }
    if r.split(['/', '\\']).any(|p| p == "..") {
        return Err(ApiError::validation("root", "must not contain `..`"));
    }
    Ok(r.to_string())
}

/// Sets the directory the device's file manager is confined to (`null` lifts it; the
/// agent's own `files_root` applies in any case). Needs `devices:admin`.
#[utoipa::path(put, path = "/api/v1/devices/{id}/files/root", tag = "files", security(("bearer" = [])),
    params(("id" = DeviceId, Path)), request_body = SetFileRoot,
    responses((status = 200, body = FileRoot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_file_root(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<SetFileRoot>,
) -> ApiResult<axum::Json<FileRoot>> {
    let auth = &actor.auth;
    auth.require(Resource::Devices, Action::Admin)?;
    let d = devices::get(&state.db, &auth.scope, id).await?;
    auth.writable(d.org_id)?;
    let root = req.root.as_deref().map(check_root).transpose()?;
    let before = file_transfers::file_root(&state.db, &auth.scope, id).await?;
    file_transfers::set_file_root(&state.db, &auth.scope, id, root.as_deref(), state.now()).await?;
    audit(
        &Ctx::new(&state, &actor),
        &d,
        "device.file_root",
        json!({"before": before, "root": root}),
        None,
    )
    .await?;
    Ok(axum::Json(FileRoot {
        device_id: id,
        root,
    }))
}

/// Uploads and downloads in reach, newest first.
#[utoipa::path(get, path = "/api/v1/file-transfers", tag = "files", security(("bearer" = [])),
    params(FileTransferListQuery),
    responses((status = 200, body = Page<FileTransfer>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_file_transfers(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<FileTransferListQuery>,
) -> ApiResult<axum::Json<Page<FileTransfer>>> {
    auth.require(Resource::Remote, Action::Read)?;
    let f = TransferFilter {
        device_id: q.device_id,
        status: q
            .status
            .as_deref()
            .map(|s| {
                one_of(
                    "status",
                    s,
                    &["pending", "transferring", "completed", "failed"],
                )
            })
            .transpose()?,
        direction: q
            .direction
            .as_deref()
            .map(|s| one_of("direction", s, &["upload", "download"]))
            .transpose()?,
    };
    let opts = unsorted_list_opts(q.limit, q.cursor, None)?;
    let (rows, next) = file_transfers::list(&state.db, &auth.scope, &f, &opts).await?;
    Ok(page(rows, next))
}
