//! The macOS backend: not written yet (see `backend`).

use super::backend::Screen;

/// Opens the console session's screen.
pub fn open() -> Result<Box<dyn Screen>, String> {
    Err("remote desktop is not supported on macOS yet".into())
}
