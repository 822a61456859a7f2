//! `files` streams (issue 12): one file operation per stream. Paths are resolved on the
//! agent, under the device's allowed root when one is set.
//!
//! The server opens a [`super::remote::KIND_FILES`] stream with [`FileParams`] (the
//! operation and the root the server wants enforced). The agent confines every path to
//! each root that is set (its own `files_root` and the server's), then:
//!
//! - metadata operations (`list`, `stat`, `mkdir`, `rename`, `delete`, `hash`) answer
//!   `stream_accept` with the result ([`FileListing`], [`FileInfo`], [`FileHash`]) and
//!   close the stream;
//! - `read {offset}` answers `stream_accept` [`TransferInfo`] (`size` = the file's size),
//!   then sends the bytes from `offset` as data frames, then `stream_close`;
//! - `write {offset}` answers `stream_accept` [`TransferInfo`] (`size` = the size before
//!   writing), the server sends data frames then the control [`FileControl::End`]; the
//!   agent syncs the file to disk, answers [`FileControl::Written`] with the new size and
//!   closes. A stream the server closes without `end` keeps (and syncs) the bytes that
//!   arrived, so the upload resumes from there.
//!
//! A refusal or a failure is a `stream_close` whose `reason` is a [`FileError`] as JSON
//! ([`FileError::to_reason`], [`FileError::from_reason`]): a typed code, never prose to
//! match on.

use crate::api::FileEntry;
use serde::{Deserialize, Serialize};

/// One file operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FileRequest {
    /// A directory's entries.
    List {
        path: String,
    },
    /// One entry's metadata (the last component is not followed when it is a symlink).
    Stat {
        path: String,
    },
    /// The file's bytes from `offset`.
    Read {
        path: String,
        offset: u64,
    },
    /// Writes at `offset`, which must be 0 (create or truncate) or the current size.
    Write {
        path: String,
        offset: u64,
    },
    Mkdir {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    /// A file, an empty directory, or with `recursive` a directory and its contents.
    Delete {
        path: String,
        #[serde(default)]
        recursive: bool,
    },
    /// The file's SHA-256.
    Hash {
        path: String,
    },
}

impl FileRequest {
    /// The operation's name (for logs and audit rows).
    pub fn op(&self) -> &'static str {
        match self {
            Self::List { .. } => "list",
            Self::Stat { .. } => "stat",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
            Self::Mkdir { .. } => "mkdir",
            Self::Rename { .. } => "rename",
            Self::Delete { .. } => "delete",
            Self::Hash { .. } => "hash",
        }
    }
}

/// `stream_open` params of a `files` stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileParams {
    #[serde(flatten)]
    pub request: FileRequest,
    /// An absolute directory the server confines this operation to (the device's allowed
    /// root), on top of the agent's own `files_root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// `stream_accept` info of `list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileListing {
    /// The directory, as the agent resolved it.
    pub path: String,
    pub entries: Vec<FileEntry>,
    /// More entries than [`MAX_LIST_ENTRIES`] exist; the first ones read are listed.
    #[serde(default)]
    pub truncated: bool,
}

/// Entries one `list` answers at most (one `stream_accept` is one WebSocket message).
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// `stream_accept` info of `stat`, `mkdir`, `rename` (the new path) and `delete`
/// (`entry` is then what was deleted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The resolved path.
    pub path: String,
    pub entry: FileEntry,
}

/// `stream_accept` info of `read` and `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferInfo {
    /// `read`: the file's size; `write`: its size before this write (= the offset).
    pub size: u64,
}

/// `stream_accept` info of `hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// `stream_control` messages of a `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileControl {
    /// server → agent: every byte was sent.
    End,
    /// agent → server: the file is synced and now `size` bytes long.
    Written { size: u64 },
}

/// Why the agent refused or failed an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileErrorCode {
    NotFound,
    /// The path leaves an allowed root (`..`, an absolute path, a symlink pointing out).
    OutsideRoot,
    /// The path is not one this device accepts (a Windows drive or UNC path on Unix, a
    /// NUL byte, the root itself for `delete`).
    InvalidPath,
    /// The allowed root itself is missing or not absolute.
    InvalidRoot,
    Exists,
    NotADirectory,
    IsADirectory,
    NotEmpty,
    /// `write` at an offset that is neither 0 nor the current size (`size` says it).
    OffsetMismatch,
    PermissionDenied,
    /// Anything else the filesystem answered.
    Io,
    /// The request itself did not parse.
    BadRequest,
}

/// A refusal or failure, carried as JSON in `stream_close.reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub code: FileErrorCode,
    pub message: String,
    /// The request field the error is about (`path`, `from`, `to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The file's current size, for [`FileErrorCode::OffsetMismatch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl FileError {
    pub fn new(code: FileErrorCode, message: impl Into<String>) -> Self {
        FileError {
            code,
            message: message.into(),
            field: None,
            size: None,
        }
    }

    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// The `stream_close` reason carrying this error.
    pub fn to_reason(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.message.clone())
    }

    /// The error a `stream_close` reason carries, when it carries one.
    pub fn from_reason(reason: &str) -> Option<FileError> {
        serde_json::from_str(reason).ok()
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_flatten_the_operation_beside_the_root() -> Result<(), serde_json::Error> {
        let p = FileParams {
            request: FileRequest::Write {
                path: "a/b".into(),
                offset: 5,
            },
            root: Some("/srv".into()),
        };
        let v = serde_json::to_value(&p)?;
        assert_eq!(
            v,
            serde_json::json!({"op": "write", "path": "a/b", "offset": 5, "root": "/srv"})
        );
        let back: FileParams =
            serde_json::from_value(serde_json::json!({"op": "delete", "path": "x"}))?;
        assert_eq!(
            back.request,
            FileRequest::Delete {
                path: "x".into(),
                recursive: false
            }
        );
        assert_eq!(back.root, None);
        Ok(())
    }

    #[test]
    fn errors_round_trip_through_a_close_reason() {
        let mut e = FileError::new(FileErrorCode::OffsetMismatch, "the file has 7 bytes");
        e.size = Some(7);
        let r = e.to_reason();
        assert_eq!(FileError::from_reason(&r), Some(e));
        assert_eq!(FileError::from_reason("the channel closed"), None);
        let c: FileControl =
            serde_json::from_str(r#"{"type":"written","size":9}"#).unwrap_or(FileControl::End);
        assert_eq!(c, FileControl::Written { size: 9 });
    }
}
