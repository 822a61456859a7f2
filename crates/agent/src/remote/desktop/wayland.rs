//! The Wayland backend: not written yet (see `backend`).

use super::backend::Screen;

/// Opens the Wayland session `socket`.
pub fn open(socket: &str) -> Result<Box<dyn Screen>, String> {
    Err(format!(
        "this device runs a Wayland session ({socket}), which remote desktop does not support yet; set [remote] desktop_display to an X display"
    ))
}
