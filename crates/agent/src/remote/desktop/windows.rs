//! The Windows backend: the interactive desktop through the shared `portable` screen
//! (xcap's GDI capture of each monitor, enigo's `SendInput`).
//!
//! Coordinates: the agent makes itself per-monitor DPI aware before it lists the monitors,
//! so xcap's monitor rectangles, its captures and enigo's pointer coordinates are all
//! physical pixels of the virtual desktop (primary monitor at 0,0). Without that, a
//! monitor scaled to 150 % would be captured and driven in two different units.
//! A known limit: enigo 0.6 sends absolute moves normalised to the primary monitor's size
//! without `MOUSEEVENTF_VIRTUALDESK`, and `SendInput` documents such coordinates as mapping
//! to the primary monitor; the pointer may therefore not reach monitors other than the
//! primary (capture of every monitor is unaffected). Not verified on a real machine.
//!
//! Session 0: an agent installed as a Windows service runs in session 0, which since
//! Windows Vista has its own window station and desktop that nobody sees; capture there
//! returns that empty desktop (or fails) and `SendInput` reaches nobody. Serving the
//! logged-in user's desktop needs a helper process in the user's session: the service
//! would find the active console session (`WTSGetActiveConsoleSessionId`), take a token
//! for it (`WTSQueryUserToken`, or its own token with `SetTokenInformation(TokenSessionId)`
//! for the logon screen), start the helper there with `CreateProcessAsUserW` on
//! `winsta0\default` (and follow `winsta0\Winlogon` for UAC prompts and the lock screen,
//! which need SYSTEM), and relay capture and input to it over a local pipe. None of that
//! is done here: this backend serves the desktop of the session the agent itself runs in
//! (an agent started in the user's session, e.g. at logon), and warns when it looks like
//! session 0.

use super::backend::Screen;
use super::portable::{keys, screen};

/// Opens the interactive desktop of the agent's own session.
pub fn open() -> Result<Box<dyn Screen>, String> {
    // Fails when the process already chose its awareness (a manifest, or a second stream):
    // either way it is set.
    if enigo::set_dpi_awareness().is_err() {
        tracing::debug!("DPI awareness already set for this process");
    }
    // Interactive logons set SESSIONNAME (`Console`, `RDP-Tcp#3`); services do not.
    let session = std::env::var("SESSIONNAME")
        .ok()
        .filter(|s| !s.trim().is_empty());
    if session.is_none() {
        tracing::warn!(
            "the agent seems to run outside an interactive session (as a service in session 0?): the desktop it captures is not the user's"
        );
    }
    let screen = screen::Screen::open(screen::Platform {
        display: session.unwrap_or_else(|| "console".into()),
        scale: |_| 1.0,
        keymap: keys::windows,
    })?;
    Ok(Box::new(screen))
}
