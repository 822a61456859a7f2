//! Remote-access streams on the agent channel (issue 12). The server opens a stream with
//! `stream_open {kind, params}`; the agent answers `stream_accept {info}` or
//! `stream_close {reason}`. Kinds:
//!
//! - [`KIND_TERMINAL`]: a PTY running a login shell. `params` is [`TerminalParams`],
//!   `info` [`TerminalInfo`]. Payload bytes are the terminal's bytes both ways (Ctrl-C
//!   is byte 3 like any other key). Controls ([`TerminalControl`]): `resize` server →
//!   agent, `exit` agent → server just before the agent closes the stream.
//! - [`KIND_FILES`]: one file operation per stream, see [`super::remote_files`].
//! - [`KIND_DESKTOP`]: screen frames and input, see [`super::remote_desktop`].

use serde::{Deserialize, Serialize};

pub const KIND_TERMINAL: &str = "terminal";
pub const KIND_FILES: &str = "files";
pub const KIND_DESKTOP: &str = "desktop";

/// `stream_open` params of a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalParams {
    pub cols: u16,
    pub rows: u16,
}

/// `stream_accept` info of a terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalInfo {
    /// The shell started (`/bin/bash`).
    pub shell: String,
    /// The account it runs as.
    pub user: String,
}

/// `stream_control` messages of a terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TerminalControl {
    /// server → agent: the browser's terminal changed size.
    Resize { cols: u16, rows: u16 },
    /// agent → server: the shell exited with `code` (signal: 128 + number).
    Exit { code: i32 },
}
