//! Browser keys → what Windows and macOS inject: DOM `KeyboardEvent.key` values (and `code`,
//! which tells left from right modifiers and the numeric keypad) to Windows virtual-key
//! codes and macOS virtual keycodes. Pure functions, tested on any platform.
//!
//! The rule, on both platforms: named keys (Enter, arrows, modifiers, F-keys…) press the
//! platform key code; letters and digits press the key that types them in the device's
//! layout (so Ctrl+C or ⌘C reach the application as shortcuts, and the browser sends Shift
//! itself); any other character is typed as text when the key goes down, whatever the
//! device's layout, and its release does nothing. Typing punctuation as text keeps what the
//! technician sees and what the device receives the same when the two keyboards' layouts
//! differ; the cost is that shortcuts made with punctuation (Ctrl+/) do not arrive as
//! shortcuts.

/// What to inject for one DOM key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keystroke {
    /// A platform key code (Windows virtual-key, macOS virtual keycode), pressed and
    /// released with the browser's key.
    Code(u16),
    /// A letter or digit, pressed and released as the key that types it in the device's
    /// keyboard layout (macOS: enigo's `Key::Unicode` looks the keycode up in the layout).
    #[cfg_attr(
        windows,
        expect(
            dead_code,
            reason = "Windows presses letters and digits by virtual key"
        )
    )]
    Layout(char),
    /// Any other character: typed as text when the key goes down; its release does nothing.
    Text(char),
}

/// The Windows keystroke for a DOM `key` (and `code`).
#[cfg(any(windows, test))]
pub fn windows(key: &str, code: Option<&str>) -> Option<Keystroke> {
    let right = code.is_some_and(|c| c.ends_with("Right"));
    if let Some(vk) = code.and_then(|c| windows_keypad(c, key)) {
        return Some(Keystroke::Code(vk));
    }
    let vk: u16 = match key {
        "Backspace" => 0x08,
        "Tab" => 0x09,
        "Clear" => 0x0c,
        "Enter" => 0x0d,
        "Pause" => 0x13,
        "CapsLock" => 0x14,
        "Escape" => 0x1b,
        " " => 0x20,
        "PageUp" => 0x21,
        "PageDown" => 0x22,
        "End" => 0x23,
        "Home" => 0x24,
        "ArrowLeft" => 0x25,
        "ArrowUp" => 0x26,
        "ArrowRight" => 0x27,
        "ArrowDown" => 0x28,
        "PrintScreen" => 0x2c,
        "Insert" => 0x2d,
        "Delete" => 0x2e,
        "Help" => 0x2f,
        "Meta" | "OS" if right => 0x5c,
        "Meta" | "OS" => 0x5b,
        "ContextMenu" => 0x5d,
        "NumLock" => 0x90,
        "ScrollLock" => 0x91,
        "Shift" if right => 0xa1,
        "Shift" => 0xa0,
        "Control" if right => 0xa3,
        "Control" => 0xa2,
        "Alt" if right => 0xa5,
        "Alt" => 0xa4,
        // Windows browsers report AltGr as ControlLeft + AltGraph (AltRight): the right
        // Alt key, with the Ctrl the browser sent on its own.
        "AltGraph" => 0xa5,
        "BrowserBack" => 0xa6,
        "BrowserForward" => 0xa7,
        "BrowserRefresh" => 0xa8,
        "BrowserStop" => 0xa9,
        "BrowserSearch" => 0xaa,
        "BrowserFavorites" => 0xab,
        "BrowserHome" => 0xac,
        "AudioVolumeMute" => 0xad,
        "AudioVolumeDown" => 0xae,
        "AudioVolumeUp" => 0xaf,
        "MediaTrackNext" => 0xb0,
        "MediaTrackPrevious" => 0xb1,
        "MediaStop" => 0xb2,
        "MediaPlayPause" => 0xb3,
        _ => 0,
    };
    if vk != 0 {
        return Some(Keystroke::Code(vk));
    }
    if let Some(n) = function_key(key, 24) {
        return Some(Keystroke::Code(0x70 + n - 1)); // VK_F1 … VK_F24
    }
    let c = single_char(key)?;
    Some(match c {
        // VK_A…VK_Z and VK_0…VK_9 are the keys that type these letters and digits in the
        // device's layout.
        'a'..='z' | 'A'..='Z' | '0'..='9' => {
            Keystroke::Code(u16::from(c.to_ascii_uppercase() as u8))
        }
        _ => Keystroke::Text(c),
    })
}

/// The numeric keypad's keys (by `code`), which Windows tells apart from the main ones;
/// with NumLock off the browser names them as navigation keys, mapped as such.
#[cfg(any(windows, test))]
fn windows_keypad(code: &str, key: &str) -> Option<u16> {
    let rest = code.strip_prefix("Numpad")?;
    let digit = |d: &str| d.len() == 1 && d == key;
    Some(match rest {
        "Enter" => 0x0d,
        "Multiply" => 0x6a,
        "Add" => 0x6b,
        "Subtract" => 0x6d,
        "Decimal" if key == "." || key == "," => 0x6e,
        "Divide" => 0x6f,
        d if digit(d) => 0x60 + d.parse::<u16>().ok().filter(|n| *n <= 9)?,
        _ => return None,
    })
}

/// The macOS keystroke for a DOM `key` (and `code`). Key codes are the `kVK_*` constants of
/// HIToolbox's `Events.h`.
#[cfg(any(target_os = "macos", test))]
pub fn macos(key: &str, code: Option<&str>) -> Option<Keystroke> {
    let right = code.is_some_and(|c| c.ends_with("Right"));
    if code == Some("NumpadEnter") {
        return Some(Keystroke::Code(0x4c));
    }
    let kvk: u16 = match key {
        "Enter" => 0x24,
        "Tab" => 0x30,
        " " => 0x31,
        "Backspace" => 0x33,
        "Escape" => 0x35,
        "Meta" | "OS" if right => 0x36,
        "Meta" | "OS" => 0x37,
        "Shift" if right => 0x3c,
        "Shift" => 0x38,
        "CapsLock" => 0x39,
        "Alt" if right => 0x3d,
        "Alt" => 0x3a,
        "AltGraph" => 0x3d,
        "Control" if right => 0x3e,
        "Control" => 0x3b,
        "Fn" => 0x3f,
        "AudioVolumeUp" => 0x48,
        "AudioVolumeDown" => 0x49,
        "AudioVolumeMute" => 0x4a,
        "Help" | "Insert" => 0x72,
        "Home" => 0x73,
        "PageUp" => 0x74,
        "Delete" => 0x75,
        "End" => 0x77,
        "PageDown" => 0x79,
        "ArrowLeft" => 0x7b,
        "ArrowRight" => 0x7c,
        "ArrowDown" => 0x7d,
        "ArrowUp" => 0x7e,
        _ => 0,
    };
    if kvk != 0 {
        return Some(Keystroke::Code(kvk));
    }
    if let Some(n) = function_key(key, 20) {
        const F_KEYS: [u16; 20] = [
            0x7a, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6d, // F1–F10
            0x67, 0x6f, 0x69, 0x6b, 0x71, 0x6a, 0x40, 0x4f, 0x50, 0x5a, // F11–F20
        ];
        return F_KEYS.get(usize::from(n) - 1).map(|k| Keystroke::Code(*k));
    }
    let c = single_char(key)?;
    Some(if c.is_ascii_alphanumeric() {
        Keystroke::Layout(c.to_ascii_lowercase())
    } else {
        Keystroke::Text(c)
    })
}

/// `F<n>` with 1 ≤ n ≤ `max`.
fn function_key(key: &str, max: u16) -> Option<u16> {
    key.strip_prefix('F')
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|n| (1..=max).contains(n))
}

/// The one printable character a `key` names; `None` for named keys the maps above do not
/// know (`Unidentified`, `Dead`, `MediaRecord`…) and for control characters.
fn single_char(key: &str) -> Option<char> {
    let mut chars = key.chars();
    let c = chars.next()?;
    if chars.next().is_some() || c.is_control() {
        return None;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Keystroke::{Code, Layout, Text};

    #[test]
    fn windows_named_keys_are_virtual_keys() {
        assert_eq!(windows("Enter", Some("Enter")), Some(Code(0x0d)));
        assert_eq!(windows("Backspace", None), Some(Code(0x08)));
        assert_eq!(windows(" ", Some("Space")), Some(Code(0x20)));
        assert_eq!(windows("ArrowLeft", None), Some(Code(0x25)));
        assert_eq!(windows("Delete", None), Some(Code(0x2e)));
        assert_eq!(windows("F1", None), Some(Code(0x70)));
        assert_eq!(windows("F24", None), Some(Code(0x87)));
        assert_eq!(windows("F25", None), None);
        assert_eq!(windows("AudioVolumeUp", None), Some(Code(0xaf)));
    }

    #[test]
    fn windows_modifiers_keep_their_side() {
        assert_eq!(windows("Shift", Some("ShiftLeft")), Some(Code(0xa0)));
        assert_eq!(windows("Shift", Some("ShiftRight")), Some(Code(0xa1)));
        assert_eq!(windows("Shift", None), Some(Code(0xa0)));
        assert_eq!(windows("Control", Some("ControlRight")), Some(Code(0xa3)));
        assert_eq!(windows("Alt", Some("AltLeft")), Some(Code(0xa4)));
        assert_eq!(windows("AltGraph", Some("AltRight")), Some(Code(0xa5)));
        assert_eq!(windows("Meta", Some("MetaLeft")), Some(Code(0x5b)));
        assert_eq!(windows("Meta", Some("MetaRight")), Some(Code(0x5c)));
    }

    #[test]
    fn windows_letters_and_digits_are_their_virtual_keys_other_characters_text() {
        assert_eq!(windows("a", Some("KeyA")), Some(Code(0x41)));
        assert_eq!(windows("A", Some("KeyA")), Some(Code(0x41)));
        assert_eq!(windows("z", Some("KeyZ")), Some(Code(0x5a)));
        assert_eq!(windows("7", Some("Digit7")), Some(Code(0x37)));
        assert_eq!(windows("/", Some("Slash")), Some(Text('/')));
        assert_eq!(windows("é", None), Some(Text('é')));
        assert_eq!(windows("€", Some("KeyE")), Some(Text('€')));
        assert_eq!(windows("Unidentified", None), None);
        assert_eq!(windows("Dead", Some("BracketLeft")), None);
        assert_eq!(windows("", None), None);
        assert_eq!(windows("\u{7f}", None), None);
    }

    #[test]
    fn windows_keypad_keys_are_told_apart() {
        assert_eq!(windows("5", Some("Numpad5")), Some(Code(0x65)));
        assert_eq!(windows("0", Some("Numpad0")), Some(Code(0x60)));
        assert_eq!(windows("+", Some("NumpadAdd")), Some(Code(0x6b)));
        assert_eq!(windows("Enter", Some("NumpadEnter")), Some(Code(0x0d)));
        assert_eq!(windows(",", Some("NumpadDecimal")), Some(Code(0x6e)));
        // NumLock off: the keypad's 4 is a left arrow.
        assert_eq!(windows("ArrowLeft", Some("Numpad4")), Some(Code(0x25)));
        assert_eq!(windows("Delete", Some("NumpadDecimal")), Some(Code(0x2e)));
    }

    #[test]
    fn macos_named_keys_are_virtual_keycodes() {
        assert_eq!(macos("Enter", None), Some(Code(0x24)));
        assert_eq!(macos("Enter", Some("NumpadEnter")), Some(Code(0x4c)));
        assert_eq!(macos("Backspace", None), Some(Code(0x33)));
        assert_eq!(macos("Delete", None), Some(Code(0x75)));
        assert_eq!(macos(" ", Some("Space")), Some(Code(0x31)));
        assert_eq!(macos("ArrowUp", None), Some(Code(0x7e)));
        assert_eq!(macos("F1", None), Some(Code(0x7a)));
        assert_eq!(macos("F5", None), Some(Code(0x60)));
        assert_eq!(macos("F12", None), Some(Code(0x6f)));
        assert_eq!(macos("F20", None), Some(Code(0x5a)));
        assert_eq!(macos("F21", None), None);
        assert_eq!(macos("Meta", Some("MetaLeft")), Some(Code(0x37)));
        assert_eq!(macos("Meta", Some("MetaRight")), Some(Code(0x36)));
        assert_eq!(macos("Alt", Some("AltLeft")), Some(Code(0x3a)));
        assert_eq!(macos("Alt", Some("AltRight")), Some(Code(0x3d)));
        assert_eq!(macos("Control", Some("ControlLeft")), Some(Code(0x3b)));
        assert_eq!(macos("Shift", Some("ShiftRight")), Some(Code(0x3c)));
    }

    #[test]
    fn macos_letters_go_through_the_layout_other_characters_text() {
        assert_eq!(macos("c", Some("KeyC")), Some(Layout('c')));
        assert_eq!(macos("C", Some("KeyC")), Some(Layout('c')));
        assert_eq!(macos("3", Some("Digit3")), Some(Layout('3')));
        assert_eq!(macos("ß", None), Some(Text('ß')));
        assert_eq!(macos("[", None), Some(Text('[')));
        assert_eq!(macos("Dead", None), None);
    }
}
