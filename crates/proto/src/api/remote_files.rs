//! File manager (issue 12): `/api/v1/devices/{id}/files…` bodies and FileTransfer rows.
//! Paths are resolved on the agent (see `agent::remote_files`), under the device's
//! allowed root when one is set.
//!
//! - `GET …/files?path=` → [`FileList`]
//! - `GET …/files/content?path=` streams the file (`application/octet-stream`).
//! - `HEAD …/files/content?path=` answers `Content-Length` = the file's current size
//!   (404 when it does not exist), so an interrupted upload resumes at that offset.
//! - `PUT …/files/content?path=&offset=N[&total=T]` writes the body at offset N (N must
//!   be 0 or the current size) → [`FileTransfer`].
//! - `POST …/files/complete` [`CompleteUpload`] → [`FileTransfer`] (422 on a mismatch).
//! - `POST …/files/mkdir` [`MakeDirectory`], `POST …/files/rename` [`RenameFile`],
//!   `DELETE …/files?path=[&recursive=true]` → [`FileEntry`].
//! - `GET /api/v1/file-transfers` lists transfers.
//! - `GET`/`PUT …/files/root` [`FileRoot`] / [`SetFileRoot`]: the device's allowed root.

use super::*;

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    File,
    Directory,
    Symlink,
    Other,
}

api_type! {
    /// One directory entry.
    pub struct FileEntry {
        pub name: String,
        #[serde(rename = "type")]
        pub file_type: FileType,
        /// Bytes (0 for directories).
        pub size: u64,
        /// Unix permission bits as octal text (`"0644"`); `null` where there are none.
        pub mode: Option<String>,
        pub modified: Option<DateTime<Utc>>,
    }

    /// `GET /api/v1/devices/{id}/files?path=`.
    pub struct FileList {
        /// The directory listed, as the agent resolved it.
        pub path: String,
        pub entries: Vec<FileEntry>,
        /// The directory holds more entries than one listing carries (10 000).
        #[serde(default)]
        pub truncated: bool,
    }

    /// One upload or download (seed 004 FileTransfer).
    pub struct FileTransfer {
        pub id: FileTransferId,
        pub session_id: Option<RemoteSessionId>,
        pub device_id: DeviceId,
        pub user_id: UserId,
        /// `upload` or `download`.
        pub direction: String,
        pub remote_path: String,
        pub local_filename: Option<String>,
        /// The whole file's size, when known.
        pub size_bytes: Option<i64>,
        pub transferred_bytes: i64,
        /// `pending`, `transferring`, `completed` or `failed`.
        pub status: String,
        pub progress_percent: i64,
        pub error_message: Option<String>,
        pub sha256: Option<String>,
        pub created_at: DateTime<Utc>,
        pub completed_at: Option<DateTime<Utc>>,
    }
}

request_type! {
    /// `POST /api/v1/devices/{id}/files/complete`: the upload is whole when the file's
    /// SHA-256 is `sha256`.
    pub struct CompleteUpload {
        pub path: String,
        /// Lower-case hex.
        pub sha256: String,
    }

    /// `POST /api/v1/devices/{id}/files/mkdir`.
    pub struct MakeDirectory {
        pub path: String,
    }

    /// `POST /api/v1/devices/{id}/files/rename`.
    pub struct RenameFile {
        pub from: String,
        pub to: String,
    }
}

/// `?path=` of the file routes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct FilePathQuery {
    pub path: String,
    /// The file-manager session this operation belongs to (links the FileTransfer row).
    pub session_id: Option<RemoteSessionId>,
}

/// `PUT /api/v1/devices/{id}/files/content` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct UploadQuery {
    pub path: String,
    /// Where this chunk goes: 0, or the file's current size (see `HEAD`).
    pub offset: u64,
    /// The whole file's size, for progress.
    pub total: Option<u64>,
    pub session_id: Option<RemoteSessionId>,
}

/// `DELETE /api/v1/devices/{id}/files` query.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct DeleteFileQuery {
    pub path: String,
    /// Delete a directory with everything in it (default: only files and empty
    /// directories).
    pub recursive: Option<bool>,
    pub session_id: Option<RemoteSessionId>,
}

/// `GET /api/v1/file-transfers` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(IntoParams), into_params(parameter_in = Query))]
pub struct FileTransferListQuery {
    /// Page size, 1..=500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    pub device_id: Option<DeviceId>,
    /// `pending`, `transferring`, `completed` or `failed`.
    pub status: Option<String>,
    /// `upload` or `download`.
    pub direction: Option<String>,
}

api_type! {
    /// `GET /api/v1/devices/{id}/files/root`: the directory the device's file manager is
    /// confined to (`null`: no limit set on the server; the agent's own `files_root`
    /// applies in any case).
    pub struct FileRoot {
        pub device_id: DeviceId,
        pub root: Option<String>,
    }
}

request_type! {
    /// `PUT /api/v1/devices/{id}/files/root`.
    pub struct SetFileRoot {
        /// An absolute directory on the device (`/srv/share`, `C:\Share`), or `null` to
        /// lift the limit.
        pub root: Option<String>,
    }
}
