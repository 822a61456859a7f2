//! The backend Windows and macOS share: capture and monitors through `xcap`, input through
//! `enigo` (both keep their `unsafe` platform calls inside; this crate forbids its own).
//!
//! - `keys`: DOM keys → Windows virtual keys / macOS keycodes.
//! - `monitors`: monitor order and primary, frame → pointer coordinates, RGBA → BGRX.
//! - `screen`: the [`super::backend::Screen`] over xcap and enigo (Windows and macOS only).
//!
//! `keys` and `monitors` are pure and compiled in tests on every platform.

pub mod keys;
pub mod monitors;
#[cfg(any(windows, target_os = "macos"))]
pub mod screen;
