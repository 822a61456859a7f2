//! The macOS backend: the console session's displays through the shared `portable` screen
//! (xcap's CoreGraphics capture, enigo's `CGEvent` input).
//!
//! Coordinates: xcap reports display bounds in points (global display space, main display
//! at 0,0) and captures in pixels (twice the points on a Retina display); enigo moves the
//! pointer in points. Monitors are told to the browser in pixels, and its coordinates are
//! scaled back to points (`portable::monitors`).
//!
//! Permissions and sessions: capture needs the Screen Recording permission and input the
//! Accessibility permission (System Settings → Privacy & Security), granted to the agent's
//! binary; without the first, frames show only the desktop background. Like Windows'
//! session 0, an agent running as a LaunchDaemon (root, outside any login session) cannot
//! see or drive the user's session: it would need a LaunchAgent helper in the user's Aqua
//! session, which is not done here.

use super::backend::Screen;
use super::portable::{keys, screen};

/// Opens the console session's screen.
pub fn open() -> Result<Box<dyn Screen>, String> {
    let screen = screen::Screen::open(screen::Platform {
        display: "console".into(),
        scale: |m| m.scale_factor().unwrap_or(1.0),
        keymap: keys::macos,
    })?;
    Ok(Box::new(screen))
}
