//! The screen a desktop stream shows, whatever the platform: the [`Screen`] trait and the
//! choice of backend for this device ([`choose`]).
//!
//! - X11 (`x11`): Linux and the BSDs, when `[remote] desktop_display` or `$DISPLAY` names
//!   an X display.
//! - Wayland (`wayland`): Linux, when there is no X display but `$WAYLAND_DISPLAY` is set.
//! - Windows (`windows`) and macOS (`macos`).
//!
//! [`choose`] runs on the channel task and only decides (it must not block); the `desktop`
//! thread then calls [`Choice::open`], which connects and may block.

use super::encode::Image;
use crate::remote::RemoteConfig;
use breeze_proto::agent::remote_desktop::{DesktopControl, DesktopMonitor};

/// One opened screen, owned by the `desktop` thread of one stream.
pub trait Screen {
    /// The display's name as shown to the technician (`:0`, `wayland-0`, `console`).
    fn display(&self) -> String;
    /// The monitors, in a stable order; `index` is the position in this list.
    fn monitors(&self) -> &[DesktopMonitor];
    /// Captures monitor `m` whole.
    fn capture(&self, m: &DesktopMonitor) -> Result<Image, String>;
    /// Replays one input event on monitor `m` (monitor coordinates); non-input controls
    /// are ignored.
    fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String>;
    /// Releases every key and button this session pressed, so nothing stays stuck.
    fn release_all(&mut self);
}

/// The backend chosen for a stream, with what it needs to open.
#[derive(Clone, Debug)]
pub enum Choice {
    /// An X display (`:0`, `host:1.0`).
    #[cfg(all(unix, not(target_os = "macos")))]
    X11(String),
    /// A Wayland session (the socket name from `$WAYLAND_DISPLAY`).
    #[cfg(target_os = "linux")]
    Wayland(String),
    /// The interactive Windows desktop.
    #[cfg(windows)]
    Windows,
    /// The macOS console session.
    #[cfg(target_os = "macos")]
    MacOs,
}

impl Choice {
    /// Opens the screen (on the `desktop` thread: this may block).
    pub fn open(self) -> Result<Box<dyn Screen>, String> {
        match self {
            #[cfg(all(unix, not(target_os = "macos")))]
            Choice::X11(display) => Ok(Box::new(super::x11::Screen::open(&display)?)),
            #[cfg(target_os = "linux")]
            Choice::Wayland(socket) => super::wayland::open(&socket),
            #[cfg(windows)]
            Choice::Windows => super::windows::open(),
            #[cfg(target_os = "macos")]
            Choice::MacOs => super::macos::open(),
        }
    }
}

/// Decides which backend serves this device, or why none can.
pub fn choose(config: &RemoteConfig) -> Result<Choice, String> {
    #[cfg(windows)]
    {
        let _ = config;
        Ok(Choice::Windows)
    }
    #[cfg(target_os = "macos")]
    {
        let _ = config;
        Ok(Choice::MacOs)
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let x_display = config
            .desktop_display
            .clone()
            .or_else(|| std::env::var("DISPLAY").ok())
            .filter(|d| !d.trim().is_empty());
        if let Some(d) = x_display {
            return Ok(Choice::X11(d));
        }
        #[cfg(target_os = "linux")]
        if let Some(w) = std::env::var("WAYLAND_DISPLAY")
            .ok()
            .filter(|w| !w.trim().is_empty())
        {
            return Ok(Choice::Wayland(w));
        }
        Err("no display to capture: set [remote] desktop_display in the agent's config, or run the agent with DISPLAY (X11) or WAYLAND_DISPLAY (Wayland) set".into())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = config;
        Err("remote desktop is not supported on this platform".into())
    }
}
