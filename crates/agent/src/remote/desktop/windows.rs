//! The Windows backend: not written yet (see `backend`).

use super::backend::Screen;

/// Opens the interactive desktop.
pub fn open() -> Result<Box<dyn Screen>, String> {
    Err("remote desktop is not supported on Windows yet".into())
}
