//! Browser input → Linux evdev codes, what Wayland's virtual input protocols take: DOM
//! `KeyboardEvent.code` (the key's position) to key codes, DOM mouse buttons to `BTN_*`,
//! and the XKB keymap the virtual keyboard uploads when the seat has none to copy. Pure
//! functions, tested without a compositor (numbers from `linux/input-event-codes.h`).

/// The evdev key code of the key at DOM `code` (`KeyA`, `ShiftRight`, `Numpad7`), or, when
/// the browser sent no `code` or one this table lacks, of the key a US keyboard types
/// DOM `key` with (`a`, `Enter`).
pub fn key(code: Option<&str>, key: &str) -> Option<u32> {
    code.and_then(by_code).or_else(|| by_key(key))
}

fn by_code(code: &str) -> Option<u32> {
    if let Some(c) = code.strip_prefix("Key")
        && let [l] = c.as_bytes()
    {
        return letter(*l);
    }
    if let Some(d) = code.strip_prefix("Digit")
        && let [d] = d.as_bytes()
    {
        return digit(*d);
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return match n {
            1..=10 => Some(58 + n),
            11 | 12 => Some(76 + n),
            13..=24 => Some(170 + n),
            _ => None,
        };
    }
    let k = match code {
        "Escape" => 1,
        "Minus" => 12,
        "Equal" => 13,
        "Backspace" => 14,
        "Tab" => 15,
        "BracketLeft" => 26,
        "BracketRight" => 27,
        "Enter" => 28,
        "ControlLeft" => 29,
        "Semicolon" => 39,
        "Quote" => 40,
        "Backquote" => 41,
        "ShiftLeft" => 42,
        "Backslash" => 43,
        "Comma" => 51,
        "Period" => 52,
        "Slash" => 53,
        "ShiftRight" => 54,
        "NumpadMultiply" => 55,
        "AltLeft" => 56,
        "Space" => 57,
        "CapsLock" => 58,
        "NumLock" => 69,
        "ScrollLock" => 70,
        "Numpad7" => 71,
        "Numpad8" => 72,
        "Numpad9" => 73,
        "NumpadSubtract" => 74,
        "Numpad4" => 75,
        "Numpad5" => 76,
        "Numpad6" => 77,
        "NumpadAdd" => 78,
        "Numpad1" => 79,
        "Numpad2" => 80,
        "Numpad3" => 81,
        "Numpad0" => 82,
        "NumpadDecimal" => 83,
        "IntlBackslash" => 86,
        "IntlRo" => 89,
        "Convert" => 92,
        "KanaMode" => 93,
        "NonConvert" => 94,
        "NumpadEnter" => 96,
        "ControlRight" => 97,
        "NumpadDivide" => 98,
        "PrintScreen" => 99,
        "AltRight" => 100,
        "Home" => 102,
        "ArrowUp" => 103,
        "PageUp" => 104,
        "ArrowLeft" => 105,
        "ArrowRight" => 106,
        "End" => 107,
        "ArrowDown" => 108,
        "PageDown" => 109,
        "Insert" => 110,
        "Delete" => 111,
        "AudioVolumeMute" | "VolumeMute" => 113,
        "AudioVolumeDown" | "VolumeDown" => 114,
        "AudioVolumeUp" | "VolumeUp" => 115,
        "Power" => 116,
        "NumpadEqual" => 117,
        "Pause" => 119,
        "NumpadComma" => 121,
        "Lang1" => 122,
        "Lang2" => 123,
        "IntlYen" => 124,
        "MetaLeft" | "OSLeft" => 125,
        "MetaRight" | "OSRight" => 126,
        "ContextMenu" => 127,
        "BrowserBack" => 158,
        "BrowserForward" => 159,
        "MediaTrackNext" => 163,
        "MediaPlayPause" => 164,
        "MediaTrackPrevious" => 165,
        "MediaStop" => 166,
        _ => return None,
    };
    Some(k)
}

/// `KEY_A`… for an ASCII letter (either case).
fn letter(l: u8) -> Option<u32> {
    // The QWERTY rows, in evdev order: q…p are 16–25, a…l 30–38, z…m 44–50.
    let rows: [(&[u8], u32); 3] = [(b"qwertyuiop", 16), (b"asdfghjkl", 30), (b"zxcvbnm", 44)];
    let l = l.to_ascii_lowercase();
    rows.iter().find_map(|(row, first)| {
        let i = row.iter().position(|c| *c == l)?;
        Some(first + u32::try_from(i).ok()?)
    })
}

/// `KEY_1`…`KEY_0` for an ASCII digit.
fn digit(d: u8) -> Option<u32> {
    match d {
        b'1'..=b'9' => Some(u32::from(d - b'1') + 2),
        b'0' => Some(11),
        _ => None,
    }
}

/// The US-keyboard key typing DOM `key`, for events without a usable `code`.
fn by_key(key: &str) -> Option<u32> {
    let code = match key {
        "Shift" => "ShiftLeft",
        "Control" => "ControlLeft",
        "Alt" => "AltLeft",
        "AltGraph" => "AltRight",
        "Meta" | "OS" => "MetaLeft",
        " " => "Space",
        "Escape" | "Backspace" | "Tab" | "Enter" | "CapsLock" | "NumLock" | "ScrollLock"
        | "PrintScreen" | "Pause" | "Insert" | "Delete" | "Home" | "End" | "PageUp"
        | "PageDown" | "ArrowUp" | "ArrowDown" | "ArrowLeft" | "ArrowRight" | "ContextMenu" => key,
        k if k.len() > 1 && k.starts_with('F') => k,
        k => {
            let [c] = k.as_bytes() else { return None };
            return letter(*c).or_else(|| digit(*c));
        }
    };
    by_code(code)
}

/// The evdev button (`BTN_LEFT`…) for a DOM `MouseEvent.button` (0 left, 1 middle,
/// 2 right, 3 back, 4 forward).
pub fn button(dom: u8) -> Option<u32> {
    match dom {
        0 => Some(0x110),
        1 => Some(0x112),
        2 => Some(0x111),
        3 => Some(0x113),
        4 => Some(0x114),
        _ => None,
    }
}

/// Wheel notches of one event, at most 10 a direction (a hostile delta cannot flood the
/// compositor), with Wayland's sign (positive: down or right), as the DOM's.
pub fn notches(d: i32) -> i32 {
    d.clamp(-10, 10)
}

/// The keymap of the virtual keyboard when the seat has none to copy: a US pc105
/// keyboard, resolved by the compositor's xkbcommon from its XKB data (the compositor
/// needs that data for its own keyboards anyway). NUL-terminated, as the protocol wants.
pub const US_KEYMAP: &str = "xkb_keymap {\n\
    xkb_keycodes { include \"evdev+aliases(qwerty)\" };\n\
    xkb_types { include \"complete\" };\n\
    xkb_compat { include \"complete\" };\n\
    xkb_symbols { include \"pc+us+inet(evdev)\" };\n\
    xkb_geometry { include \"pc(pc105)\" };\n\
};\n\0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom_codes_map_to_evdev_keys() {
        assert_eq!(key(Some("KeyA"), "a"), Some(30)); // KEY_A
        assert_eq!(key(Some("KeyQ"), "a"), Some(16)); // position wins: AZERTY's a is KEY_Q
        assert_eq!(key(Some("KeyP"), "p"), Some(25));
        assert_eq!(key(Some("KeyZ"), "z"), Some(44));
        assert_eq!(key(Some("KeyM"), "m"), Some(50));
        assert_eq!(key(Some("Digit1"), "!"), Some(2));
        assert_eq!(key(Some("Digit0"), "0"), Some(11));
        assert_eq!(key(Some("Enter"), "Enter"), Some(28));
        assert_eq!(key(Some("ShiftLeft"), "Shift"), Some(42));
        assert_eq!(key(Some("ShiftRight"), "Shift"), Some(54));
        assert_eq!(key(Some("ControlRight"), "Control"), Some(97));
        assert_eq!(key(Some("AltRight"), "AltGraph"), Some(100));
        assert_eq!(key(Some("MetaLeft"), "Meta"), Some(125));
        assert_eq!(key(Some("F1"), "F1"), Some(59));
        assert_eq!(key(Some("F10"), "F10"), Some(68));
        assert_eq!(key(Some("F11"), "F11"), Some(87));
        assert_eq!(key(Some("F12"), "F12"), Some(88));
        assert_eq!(key(Some("F13"), "F13"), Some(183));
        assert_eq!(key(Some("F24"), "F24"), Some(194));
        assert_eq!(key(Some("ArrowLeft"), "ArrowLeft"), Some(105));
        assert_eq!(key(Some("Delete"), "Delete"), Some(111));
        assert_eq!(key(Some("Numpad0"), "0"), Some(82));
        assert_eq!(key(Some("NumpadEnter"), "Enter"), Some(96));
        assert_eq!(key(Some("IntlBackslash"), "<"), Some(86));
    }

    #[test]
    fn keys_without_a_code_use_the_us_key() {
        assert_eq!(key(None, "a"), Some(30));
        assert_eq!(key(None, "A"), Some(30));
        assert_eq!(key(None, "7"), Some(8));
        assert_eq!(key(None, " "), Some(57));
        assert_eq!(key(None, "Enter"), Some(28));
        assert_eq!(key(None, "Shift"), Some(42));
        assert_eq!(key(None, "F5"), Some(63));
        assert_eq!(key(Some("Unidentified"), "b"), Some(48));
        assert_eq!(key(Some("KeyAB"), "x"), Some(45));
    }

    #[test]
    fn unknown_keys_have_no_code() {
        assert_eq!(key(None, "é"), None);
        assert_eq!(key(None, "Unidentified"), None);
        assert_eq!(key(None, "Dead"), None);
        assert_eq!(key(None, ""), None);
        assert_eq!(key(Some("F25"), "F25"), None);
        assert_eq!(key(Some("F0"), "F0"), None);
    }

    #[test]
    fn dom_buttons_map_to_evdev_buttons() {
        assert_eq!(button(0), Some(0x110)); // BTN_LEFT
        assert_eq!(button(1), Some(0x112)); // BTN_MIDDLE
        assert_eq!(button(2), Some(0x111)); // BTN_RIGHT
        assert_eq!(button(3), Some(0x113)); // BTN_SIDE
        assert_eq!(button(4), Some(0x114)); // BTN_EXTRA
        assert_eq!(button(5), None);
    }

    #[test]
    fn wheel_notches_are_bounded() {
        assert_eq!(notches(1), 1);
        assert_eq!(notches(-3), -3);
        assert_eq!(notches(i32::MAX), 10);
        assert_eq!(notches(i32::MIN), -10);
    }

    #[test]
    fn the_fallback_keymap_is_nul_terminated() {
        assert!(US_KEYMAP.ends_with('\0'));
        assert_eq!(US_KEYMAP.matches('\0').count(), 1);
    }
}
