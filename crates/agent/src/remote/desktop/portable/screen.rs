//! The screen through xcap (capture, monitors) and enigo (input), as Windows and macOS
//! share it; `windows.rs` and `macos.rs` open it with their display name, pixel scale and
//! key map.

use super::keys::Keystroke;
use super::monitors::{self, Placed, Reported};
use crate::remote::desktop::encode::Image;
use breeze_proto::agent::remote_desktop::{DesktopControl, DesktopMonitor};
use enigo::{Axis, Button, Coordinate, Direction, Enigo, Key, Keyboard as _, Mouse as _, Settings};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// DOM key (and code) → what to inject on this platform.
pub type KeyMap = fn(&str, Option<&str>) -> Option<Keystroke>;

/// Wheel notches replayed for one event, at most, in each direction (a hostile delta
/// cannot flood the device).
const MAX_NOTCHES: i32 = 10;

/// What differs between the platforms that share this screen.
pub struct Platform {
    /// The name shown to the technician (`console`, `RDP-Tcp#3`).
    pub display: String,
    /// Captured pixels per pointer unit of an xcap monitor (1 on Windows).
    pub scale: fn(&xcap::Monitor) -> f32,
    pub keymap: KeyMap,
}

/// The opened screen, owned by the `desktop` thread of one stream.
pub struct Screen {
    display: String,
    sources: Vec<xcap::Monitor>,
    placed: Vec<Placed>,
    monitors: Vec<DesktopMonitor>,
    /// The size of the last frame captured of each monitor (by index): browser
    /// coordinates are in that frame's pixels.
    frames: RefCell<BTreeMap<u16, (usize, usize)>>,
    enigo: Enigo,
    keymap: KeyMap,
    keys_down: Vec<Keystroke>,
    buttons_down: Vec<Button>,
}

impl Screen {
    /// Lists the monitors and opens input injection.
    pub fn open(platform: Platform) -> Result<Screen, String> {
        let sources = xcap::Monitor::all().map_err(|e| format!("cannot list the monitors: {e}"))?;
        let reported = sources
            .iter()
            .map(|m| report(m, platform.scale))
            .collect::<Result<Vec<_>, _>>()?;
        let placed = monitors::arrange(&reported);
        if placed.is_empty() {
            return Err("this device has no monitor to capture".into());
        }
        let settings = Settings {
            // A missing permission is told to the technician, not prompted for on the
            // device's screen by a remote session.
            open_prompt_to_get_permissions: false,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings)
            .map_err(|e| format!("cannot open input injection on this device: {e}"))?;
        let monitors = placed.iter().map(|p| p.info.clone()).collect();
        Ok(Screen {
            display: platform.display,
            sources,
            placed,
            monitors,
            frames: RefCell::new(BTreeMap::new()),
            enigo,
            keymap: platform.keymap,
            keys_down: Vec::new(),
            buttons_down: Vec::new(),
        })
    }

    fn placed(&self, m: &DesktopMonitor) -> Result<&Placed, String> {
        self.placed
            .get(usize::from(m.index))
            .ok_or_else(|| format!("there is no monitor {}", m.index))
    }

    /// Where browser coordinates (`x`, `y`) on monitor `m` land for the pointer.
    fn pointer(&self, m: &DesktopMonitor, x: i32, y: i32) -> Result<(i32, i32), String> {
        let p = self.placed(m)?;
        let frame = self
            .frames
            .borrow()
            .get(&m.index)
            .copied()
            .unwrap_or_else(|| p.frame_size());
        Ok(p.pointer(x, y, frame))
    }

    fn move_to(&mut self, m: &DesktopMonitor, x: i32, y: i32) -> Result<(), String> {
        let (px, py) = self.pointer(m, x, y)?;
        self.enigo
            .move_mouse(px, py, Coordinate::Abs)
            .map_err(|e| format!("input failed: {e}"))
    }

    fn button(&mut self, b: Button, down: bool) -> Result<(), String> {
        let dir = if down {
            if !self.buttons_down.contains(&b) {
                self.buttons_down.push(b);
            }
            Direction::Press
        } else {
            self.buttons_down.retain(|x| *x != b);
            Direction::Release
        };
        self.enigo
            .button(b, dir)
            .map_err(|e| format!("input failed: {e}"))
    }

    fn key(&mut self, k: Keystroke, down: bool) -> Result<(), String> {
        let key = match k {
            Keystroke::Code(code) => Key::Other(u32::from(code)),
            Keystroke::Layout(c) => Key::Unicode(c),
            Keystroke::Text(c) => {
                return if down {
                    self.enigo
                        .text(c.encode_utf8(&mut [0; 4]))
                        .map_err(|e| format!("input failed: {e}"))
                } else {
                    Ok(())
                };
            }
        };
        let dir = if down {
            if !self.keys_down.contains(&k) {
                self.keys_down.push(k);
            }
            Direction::Press
        } else {
            self.keys_down.retain(|x| *x != k);
            Direction::Release
        };
        self.enigo
            .key(key, dir)
            .map_err(|e| format!("input failed: {e}"))
    }
}

/// One xcap monitor as the platform reports it.
fn report(m: &xcap::Monitor, scale: fn(&xcap::Monitor) -> f32) -> Result<Reported, String> {
    let err = |e: xcap::XCapError| format!("cannot read a monitor's geometry: {e}");
    Ok(Reported {
        name: m
            .friendly_name()
            .ok()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| m.name().ok())
            .unwrap_or_default(),
        x: m.x().map_err(err)?,
        y: m.y().map_err(err)?,
        width: m.width().map_err(err)?,
        height: m.height().map_err(err)?,
        scale: scale(m),
        primary: m.is_primary().unwrap_or(false),
    })
}

/// The enigo button for a DOM `MouseEvent.button`.
fn dom_button(b: u8) -> Option<Button> {
    match b {
        0 => Some(Button::Left),
        1 => Some(Button::Middle),
        2 => Some(Button::Right),
        3 => Some(Button::Back),
        4 => Some(Button::Forward),
        _ => None,
    }
}

impl crate::remote::desktop::backend::Screen for Screen {
    fn display(&self) -> String {
        self.display.clone()
    }

    fn monitors(&self) -> &[DesktopMonitor] {
        &self.monitors
    }

    fn capture(&self, m: &DesktopMonitor) -> Result<Image, String> {
        let p = self.placed(m)?;
        let source = self
            .sources
            .get(p.source)
            .ok_or_else(|| format!("there is no monitor {}", m.index))?;
        let rgba = source
            .capture_image()
            .map_err(|e| format!("capture failed: {e}"))?;
        let (w, h) = (rgba.width(), rgba.height());
        let img = monitors::image_from_rgba(w, h, rgba.into_raw())?;
        self.frames
            .borrow_mut()
            .insert(m.index, (img.width, img.height));
        Ok(img)
    }

    fn input(&mut self, m: &DesktopMonitor, ev: &DesktopControl) -> Result<(), String> {
        match ev {
            DesktopControl::PointerMove { x, y } => self.move_to(m, *x, *y),
            DesktopControl::PointerButton { button, down, x, y } => {
                self.move_to(m, *x, *y)?;
                match dom_button(*button) {
                    Some(b) => self.button(b, *down),
                    None => Ok(()),
                }
            }
            DesktopControl::Wheel { dx, dy, x, y } => {
                self.move_to(m, *x, *y)?;
                let wheel = |d: i32| d.clamp(-MAX_NOTCHES, MAX_NOTCHES);
                if *dy != 0 {
                    self.enigo
                        .scroll(wheel(*dy), Axis::Vertical)
                        .map_err(|e| format!("input failed: {e}"))?;
                }
                if *dx != 0 {
                    self.enigo
                        .scroll(wheel(*dx), Axis::Horizontal)
                        .map_err(|e| format!("input failed: {e}"))?;
                }
                Ok(())
            }
            DesktopControl::Key { key, code, down } => match (self.keymap)(key, code.as_deref()) {
                Some(k) => self.key(k, *down),
                None => {
                    tracing::debug!(%key, "no key on this platform for this DOM key");
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }

    fn release_all(&mut self) {
        for k in std::mem::take(&mut self.keys_down) {
            let _ = self.key(k, false);
        }
        for b in std::mem::take(&mut self.buttons_down) {
            let _ = self.button(b, false);
        }
    }
}
