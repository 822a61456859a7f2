//! The X11 screen: connection, monitors (RandR), capture (`GetImage`) and input (XTEST).
//! Plain `GetImage` rather than MIT-SHM: shared memory would need `unsafe`, which the
//! workspace forbids; on a local socket a 1920×1080 capture still takes only milliseconds.

use super::encode::Image;
use super::input::{self, Keymap};
use breeze_proto::agent::remote_desktop::{DesktopControl, DesktopMonitor};
use std::collections::BTreeSet;
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{self, ConnectionExt as _, ImageFormat, ImageOrder};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// One X display, opened by the desktop worker thread.
pub struct Screen {
    conn: RustConnection,
    root: xproto::Window,
    root_size: (u16, u16),
    pub display: String,
    pub monitors: Vec<DesktopMonitor>,
    keymap: Keymap,
    keys_down: BTreeSet<u8>,
    buttons_down: BTreeSet<u8>,
}

impl Screen {
    /// Connects to `display` and checks what capture and input need.
    pub fn open(display: &str) -> Result<Screen, String> {
        let (conn, screen_num) = x11rb::connect(Some(display))
            .map_err(|e| format!("cannot connect to the X display {display}: {e}"))?;
        let setup = conn.setup();
        let screen = setup
            .roots
            .get(screen_num)
            .ok_or_else(|| format!("the X display {display} has no screen {screen_num}"))?;
        let root = screen.root;
        let root_size = (screen.width_in_pixels, screen.height_in_pixels);
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == screen.root_depth)
            .map(|f| f.bits_per_pixel);
        let visual = screen
            .allowed_depths
            .iter()
            .flat_map(|d| d.visuals.iter())
            .find(|v| v.visual_id == screen.root_visual);
        let standard = matches!(visual, Some(v) if v.red_mask == 0xff_0000 && v.green_mask == 0xff00 && v.blue_mask == 0xff);
        if bpp != Some(32) || !standard || setup.image_byte_order != ImageOrder::LSB_FIRST {
            return Err(format!(
                "the X display {display} uses a pixel format this agent cannot capture (depth {}, {} bits a pixel); 24-bit true colour is needed",
                screen.root_depth,
                bpp.unwrap_or(0)
            ));
        }
        let min = setup.min_keycode;
        let max = setup.max_keycode;
        let (missing_xtest, monitors) = {
            let xtest = conn
                .extension_information(x11rb::protocol::xtest::X11_EXTENSION_NAME)
                .map_err(|e| format!("X display {display}: {e}"))?;
            (xtest.is_none(), monitors(&conn, root, root_size))
        };
        if missing_xtest {
            return Err(format!(
                "the X display {display} lacks the XTEST extension needed for input"
            ));
        }
        let mapping = conn
            .get_keyboard_mapping(min, max.saturating_sub(min).saturating_add(1))
            .map_err(|e| format!("X display {display}: {e}"))?
            .reply()
            .map_err(|e| format!("X display {display}: reading the keyboard mapping: {e}"))?;
        let keymap = Keymap::new(min, mapping.keysyms_per_keycode, mapping.keysyms);
        Ok(Screen {
            conn,
            root,
            root_size,
            display: display.to_string(),
            monitors,
            keymap,
            keys_down: BTreeSet::new(),
            buttons_down: BTreeSet::new(),
        })
    }

    /// Captures monitor `m` (clipped to the root window).
    pub fn capture(&self, m: &DesktopMonitor) -> Result<Image, String> {
        let (x, y, w, h) = clip(m, self.root_size);
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
            .map_err(|e| format!("capture failed: {e}"))?
            .reply()
            .map_err(|e| format!("capture failed: {e}"))?;
        let (width, height) = (usize::from(w), usize::from(h));
        if reply.data.len() < width * height * 4 {
            return Err("the X server answered a short image".into());
        }
        let mut bgrx = reply.data;
        bgrx.truncate(width * height * 4);
        Ok(Image {
            width,
            height,
            bgrx,
        })
    }

    /// Replays one input event on monitor `m`; non-input controls are ignored.
    pub fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String> {
        let at = |x: i32, y: i32| -> (i16, i16) {
            let (cx, cy, w, h) = clip(m, self.root_size);
            let x = x.clamp(0, i32::from(w.max(1)) - 1) + i32::from(cx);
            let y = y.clamp(0, i32::from(h.max(1)) - 1) + i32::from(cy);
            (
                i16::try_from(x).unwrap_or(i16::MAX),
                i16::try_from(y).unwrap_or(i16::MAX),
            )
        };
        match ev {
            DesktopControl::PointerMove { x, y } => self.motion(at(*x, *y))?,
            DesktopControl::PointerButton { button, down, x, y } => {
                self.motion(at(*x, *y))?;
                if let Some(b) = input::x_button(*button) {
                    self.button(b, *down)?;
                }
            }
            DesktopControl::Wheel { dx, dy, x, y } => {
                self.motion(at(*x, *y))?;
                for b in input::wheel_buttons(*dx, *dy) {
                    self.button(b, true)?;
                    self.button(b, false)?;
                }
            }
            DesktopControl::Key { key, code, down } => {
                let Some(sym) = input::keysym(key, code.as_deref()) else {
                    tracing::debug!(%key, "no keysym for this key");
                    return Ok(());
                };
                let Some(kc) = self.keymap.keycode(sym) else {
                    tracing::debug!(%key, sym, "no keycode for this keysym");
                    return Ok(());
                };
                self.key(kc, *down)?;
            }
            _ => {}
        }
        self.conn.flush().map_err(|e| format!("input failed: {e}"))
    }

    fn fake(&self, kind: u8, detail: u8, pos: (i16, i16)) -> Result<(), String> {
        self.conn
            .xtest_fake_input(
                kind,
                detail,
                x11rb::CURRENT_TIME,
                self.root,
                pos.0,
                pos.1,
                0,
            )
            .map_err(|e| format!("input failed: {e}"))?;
        Ok(())
    }

    fn motion(&self, pos: (i16, i16)) -> Result<(), String> {
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, pos)
    }

    fn button(&mut self, b: u8, down: bool) -> Result<(), String> {
        let kind = if down {
            self.buttons_down.insert(b);
            xproto::BUTTON_PRESS_EVENT
        } else {
            self.buttons_down.remove(&b);
            xproto::BUTTON_RELEASE_EVENT
        };
        self.fake(kind, b, (0, 0))
    }

    fn key(&mut self, kc: u8, down: bool) -> Result<(), String> {
        let kind = if down {
            self.keys_down.insert(kc);
            xproto::KEY_PRESS_EVENT
        } else {
            self.keys_down.remove(&kc);
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, kc, (0, 0))
    }

    /// Releases every key and button this session pressed (the session ended, or the
    /// browser lost focus mid-press), so nothing stays stuck on the device.
    pub fn release_all(&mut self) {
        let keys: Vec<u8> = self.keys_down.iter().copied().collect();
        let buttons: Vec<u8> = self.buttons_down.iter().copied().collect();
        for k in keys {
            let _ = self.key(k, false);
        }
        for b in buttons {
            let _ = self.button(b, false);
        }
        let _ = self.conn.flush();
    }
}

/// The monitor's rectangle within the root window.
fn clip(m: &DesktopMonitor, root: (u16, u16)) -> (i16, i16, u16, u16) {
    let x = m.x.clamp(0, i16::try_from(root.0).unwrap_or(i16::MAX));
    let y = m.y.clamp(0, i16::try_from(root.1).unwrap_or(i16::MAX));
    let w = m.width.min(root.0.saturating_sub(x.unsigned_abs()));
    let h = m.height.min(root.1.saturating_sub(y.unsigned_abs()));
    (x, y, w.max(1), h.max(1))
}

/// The display's monitors from RandR 1.5, or the whole root window as one.
fn monitors(conn: &RustConnection, root: xproto::Window, size: (u16, u16)) -> Vec<DesktopMonitor> {
    let whole = || {
        vec![DesktopMonitor {
            index: 0,
            name: "screen".into(),
            x: 0,
            y: 0,
            width: size.0,
            height: size.1,
            primary: true,
        }]
    };
    let randr = conn
        .extension_information(x11rb::protocol::randr::X11_EXTENSION_NAME)
        .ok()
        .flatten()
        .is_some();
    if !randr {
        return whole();
    }
    let version = conn
        .randr_query_version(1, 5)
        .ok()
        .and_then(|c| c.reply().ok());
    if !matches!(version, Some(v) if (v.major_version, v.minor_version) >= (1, 5)) {
        return whole();
    }
    let Some(reply) = conn
        .randr_get_monitors(root, true)
        .ok()
        .and_then(|c| c.reply().ok())
    else {
        return whole();
    };
    let mut out = Vec::new();
    for (i, m) in reply.monitors.iter().enumerate() {
        if m.width == 0 || m.height == 0 {
            continue;
        }
        let name = conn
            .get_atom_name(m.name)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|r| String::from_utf8_lossy(&r.name).into_owned())
            .unwrap_or_else(|| format!("monitor {i}"));
        out.push(DesktopMonitor {
            index: u16::try_from(out.len()).unwrap_or(u16::MAX),
            name,
            x: m.x,
            y: m.y,
            width: m.width,
            height: m.height,
            primary: m.primary,
        });
    }
    if out.is_empty() { whole() } else { out }
}

impl super::backend::Screen for Screen {
    fn display(&self) -> String {
        self.display.clone()
    }

    fn monitors(&self) -> &[DesktopMonitor] {
        &self.monitors
    }

    fn capture(&self, m: &DesktopMonitor) -> Result<Image, String> {
        Screen::capture(self, m)
    }

    fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String> {
        Screen::input(self, m, ev)
    }

    fn release_all(&mut self) {
        Screen::release_all(self);
    }
}
