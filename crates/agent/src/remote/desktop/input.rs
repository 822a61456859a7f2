//! Browser input → X11 terms: DOM `KeyboardEvent.key` values to keysyms, keysyms to
//! keycodes (from the server's `GetKeyboardMapping`), DOM mouse buttons and wheel notches
//! to X button numbers. Pure functions, tested without an X server.

/// The X keysym for a DOM `key` (and `code`, which tells left from right modifiers).
pub fn keysym(key: &str, code: Option<&str>) -> Option<u32> {
    let right = code.is_some_and(|c| c.ends_with("Right"));
    let named = match key {
        "Backspace" => 0xff08,
        "Tab" => 0xff09,
        "Enter" => 0xff0d,
        "Pause" => 0xff13,
        "ScrollLock" => 0xff14,
        "Escape" => 0xff1b,
        "Home" => 0xff50,
        "ArrowLeft" => 0xff51,
        "ArrowUp" => 0xff52,
        "ArrowRight" => 0xff53,
        "ArrowDown" => 0xff54,
        "PageUp" => 0xff55,
        "PageDown" => 0xff56,
        "End" => 0xff57,
        "PrintScreen" => 0xff61,
        "Insert" => 0xff63,
        "ContextMenu" => 0xff67,
        "NumLock" => 0xff7f,
        "Shift" if right => 0xffe2,
        "Shift" => 0xffe1,
        "Control" if right => 0xffe4,
        "Control" => 0xffe3,
        "CapsLock" => 0xffe5,
        "Meta" | "OS" if right => 0xffec,
        "Meta" | "OS" => 0xffeb,
        "Alt" if right => 0xffea,
        "Alt" => 0xffe9,
        "AltGraph" => 0xfe03,
        "Delete" => 0xffff,
        "Dead" => return None,
        _ => 0,
    };
    if named != 0 {
        return Some(named);
    }
    if let Some(n) = key.strip_prefix('F').and_then(|n| n.parse::<u32>().ok())
        && (1..=35).contains(&n)
    {
        return Some(0xffbe + n - 1);
    }
    let mut chars = key.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None; // an unknown named key ("Unidentified", "MediaPlay", …)
    }
    let cp = u32::from(c);
    match cp {
        0x20..=0x7e | 0xa0..=0xff => Some(cp),
        0x100.. => Some(0x0100_0000 + cp),
        _ => None,
    }
}

/// The X button for a DOM `MouseEvent.button` (0 left, 1 middle, 2 right, 3 back,
/// 4 forward).
pub fn x_button(dom: u8) -> Option<u8> {
    match dom {
        0 => Some(1),
        1 => Some(2),
        2 => Some(3),
        3 => Some(8),
        4 => Some(9),
        _ => None,
    }
}

/// X buttons to click for one wheel event: 4/5 up/down, 6/7 left/right; at most 10
/// notches a direction, so a hostile delta cannot flood the X server.
pub fn wheel_buttons(dx: i32, dy: i32) -> Vec<u8> {
    let mut v = Vec::new();
    let notches = |d: i32| d.unsigned_abs().min(10) as usize;
    v.extend(std::iter::repeat_n(if dy < 0 { 4 } else { 5 }, notches(dy)));
    v.extend(std::iter::repeat_n(if dx < 0 { 6 } else { 7 }, notches(dx)));
    v
}

/// The keyboard mapping: keysyms per keycode.
pub struct Keymap {
    min: u8,
    per: usize,
    syms: Vec<u32>,
}

impl Keymap {
    pub fn new(min_keycode: u8, keysyms_per_keycode: u8, syms: Vec<u32>) -> Self {
        Keymap {
            min: min_keycode,
            per: usize::from(keysyms_per_keycode).max(1),
            syms,
        }
    }

    /// The keycode producing `sym`, preferring one where it is the unshifted symbol (so
    /// `a` and `A` find the same key; the browser sends Shift itself).
    pub fn keycode(&self, sym: u32) -> Option<u8> {
        let lower = lowercase(sym);
        for col in 0..self.per {
            for (i, row) in self.syms.chunks(self.per).enumerate() {
                let s = row.get(col).copied().unwrap_or(0);
                if s != 0 && (s == sym || (col == 0 && s == lower)) {
                    return u8::try_from(usize::from(self.min) + i).ok();
                }
            }
        }
        None
    }
}

/// Latin letters' lower-case keysym (keymaps list `a` first and may omit `A`).
fn lowercase(sym: u32) -> u32 {
    match sym {
        0x41..=0x5a | 0xc0..=0xd6 | 0xd8..=0xde => sym + 0x20,
        _ => sym,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom_keys_map_to_keysyms() {
        assert_eq!(keysym("a", Some("KeyA")), Some(0x61));
        assert_eq!(keysym("A", Some("KeyA")), Some(0x41));
        assert_eq!(keysym(" ", Some("Space")), Some(0x20));
        assert_eq!(keysym("é", None), Some(0xe9));
        assert_eq!(keysym("€", None), Some(0x0100_20ac));
        assert_eq!(keysym("Enter", None), Some(0xff0d));
        assert_eq!(keysym("Shift", Some("ShiftLeft")), Some(0xffe1));
        assert_eq!(keysym("Shift", Some("ShiftRight")), Some(0xffe2));
        assert_eq!(keysym("F1", None), Some(0xffbe));
        assert_eq!(keysym("F12", None), Some(0xffc9));
        assert_eq!(keysym("Unidentified", None), None);
        assert_eq!(keysym("Dead", None), None);
        assert_eq!(keysym("", None), None);
    }

    #[test]
    fn keysyms_find_their_keycode() {
        // keycode 10: a A, 11: 1 exclam, 12: Return.
        let map = Keymap::new(10, 2, vec![0x61, 0x41, 0x31, 0x21, 0xff0d, 0]);
        assert_eq!(map.keycode(0x61), Some(10));
        assert_eq!(map.keycode(0x41), Some(10));
        assert_eq!(map.keycode(0x21), Some(11));
        assert_eq!(map.keycode(0xff0d), Some(12));
        assert_eq!(map.keycode(0x62), None);
        // A map listing only `a` still finds `A`.
        assert_eq!(Keymap::new(8, 1, vec![0x61]).keycode(0x41), Some(8));
    }

    #[test]
    fn buttons_and_wheel_map_to_x_buttons() {
        assert_eq!(x_button(0), Some(1));
        assert_eq!(x_button(2), Some(3));
        assert_eq!(x_button(7), None);
        assert_eq!(wheel_buttons(0, 2), vec![5, 5]);
        assert_eq!(wheel_buttons(-1, -1), vec![4, 6]);
        assert_eq!(wheel_buttons(0, 1000).len(), 10);
    }
}
