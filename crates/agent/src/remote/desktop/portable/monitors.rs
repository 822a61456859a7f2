//! The monitors of a Windows or macOS screen as a stream shows them: a stable order, one
//! primary, the browser's frame coordinates translated to the platform's pointer
//! coordinates, and captures turned into the encoder's pixel layout. Pure functions,
//! tested on any platform.

use crate::remote::desktop::encode::Image;
use breeze_proto::agent::remote_desktop::DesktopMonitor;

/// A monitor as the platform reports it, in the coordinates its pointer input uses.
/// Windows (a per-monitor DPI-aware process): virtual-desktop pixels, the primary
/// monitor's top-left at (0, 0), others possibly negative. macOS: global display points.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// Captured pixels per pointer unit: 1 on Windows, 2 on a Retina display.
    pub scale: f32,
    pub primary: bool,
}

/// One monitor of the screen: what the browser is told, and where it lies for input.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// As the browser sees it: `width`/`height` in captured pixels.
    pub info: DesktopMonitor,
    /// Position in the platform's own list (to find the monitor to capture).
    pub source: usize,
    /// The monitor's rectangle in pointer coordinates.
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// Orders the monitors left to right (then top to bottom), so the list does not depend on
/// the order the platform enumerates them in, and marks exactly one primary: the one the
/// platform calls primary, else the one at the origin, else the first. Monitors of zero
/// size are left out.
pub fn arrange(reported: &[Reported]) -> Vec<Placed> {
    let mut live: Vec<(usize, &Reported)> = reported
        .iter()
        .enumerate()
        .filter(|(_, r)| r.width > 0 && r.height > 0)
        .collect();
    live.sort_by_key(|(i, r)| (r.x, r.y, *i));
    let primary = live
        .iter()
        .position(|(_, r)| r.primary)
        .or_else(|| live.iter().position(|(_, r)| contains(r, 0, 0)))
        .unwrap_or(0);
    live.iter()
        .enumerate()
        .map(|(index, (source, r))| {
            let scale = if r.scale.is_finite() && r.scale > 0.0 {
                r.scale
            } else {
                1.0
            };
            let pixels = |units: u32| {
                let px = (f64::from(units) * f64::from(scale)).round();
                u16::try_from(px.clamp(1.0, f64::from(u16::MAX)) as u32).unwrap_or(u16::MAX)
            };
            Placed {
                info: DesktopMonitor {
                    index: u16::try_from(index).unwrap_or(u16::MAX),
                    name: if r.name.trim().is_empty() {
                        format!("monitor {}", index + 1)
                    } else {
                        r.name.clone()
                    },
                    x: clamp_i16(r.x),
                    y: clamp_i16(r.y),
                    width: pixels(r.width),
                    height: pixels(r.height),
                    primary: index == primary,
                },
                source: *source,
                x: r.x,
                y: r.y,
                width: r.width,
                height: r.height,
            }
        })
        .collect()
}

fn contains(r: &Reported, x: i32, y: i32) -> bool {
    let inside = |p: i32, start: i32, len: u32| {
        let (p, start) = (i64::from(p), i64::from(start));
        p >= start && p < start + i64::from(len)
    };
    inside(x, r.x, r.width) && inside(y, r.y, r.height)
}

fn clamp_i16(v: i32) -> i16 {
    i16::try_from(v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap_or(0)
}

impl Placed {
    /// The pointer position for (`x`, `y`) in a frame of `frame` (width, height) pixels,
    /// clamped to the monitor, so input never lands on a neighbouring monitor.
    pub fn pointer(&self, x: i32, y: i32, frame: (usize, usize)) -> (i32, i32) {
        let axis = |p: i32, frame_len: usize, start: i32, len: u32| -> i32 {
            let frame_len = i64::try_from(frame_len.max(1)).unwrap_or(i64::MAX);
            let len = i64::from(len.max(1));
            let p = i64::from(p).clamp(0, frame_len - 1);
            let at = i64::from(start) + p * len / frame_len;
            i32::try_from(at).unwrap_or(start)
        };
        (
            axis(x, frame.0, self.x, self.width),
            axis(y, frame.1, self.y, self.height),
        )
    }

    /// The frame size the browser sees before the first capture: the monitor in pixels.
    pub fn frame_size(&self) -> (usize, usize) {
        (usize::from(self.info.width), usize::from(self.info.height))
    }
}

/// A capture as RGBA rows (xcap's `RgbaImage`) → the encoder's B, G, R, X layout.
pub fn image_from_rgba(width: u32, height: u32, mut rgba: Vec<u8>) -> Result<Image, String> {
    let width = usize::try_from(width).map_err(|_| "capture too wide".to_string())?;
    let height = usize::try_from(height).map_err(|_| "capture too tall".to_string())?;
    let len = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| "capture too large".to_string())?;
    if rgba.len() < len {
        return Err(format!(
            "the capture is {} bytes, {width}×{height} needs {len}",
            rgba.len()
        ));
    }
    rgba.truncate(len);
    for px in rgba.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
    Ok(Image {
        width,
        height,
        bgrx: rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mon(name: &str, x: i32, y: i32, w: u32, h: u32, primary: bool) -> Reported {
        Reported {
            name: name.into(),
            x,
            y,
            width: w,
            height: h,
            scale: 1.0,
            primary,
        }
    }

    #[test]
    fn monitors_are_ordered_left_to_right_with_one_primary() {
        // Enumerated in a different order than they stand: the primary is in the middle.
        let placed = arrange(&[
            mon("\\\\.\\DISPLAY1", 0, 0, 1920, 1080, true),
            mon("\\\\.\\DISPLAY3", 1920, 0, 1280, 1024, false),
            mon("\\\\.\\DISPLAY2", -1280, 56, 1280, 1024, false),
        ]);
        let names: Vec<&str> = placed.iter().map(|p| p.info.name.as_str()).collect();
        assert_eq!(
            names,
            ["\\\\.\\DISPLAY2", "\\\\.\\DISPLAY1", "\\\\.\\DISPLAY3"]
        );
        let primaries: Vec<bool> = placed.iter().map(|p| p.info.primary).collect();
        assert_eq!(primaries, [false, true, false]);
        let indexes: Vec<u16> = placed.iter().map(|p| p.info.index).collect();
        assert_eq!(indexes, [0, 1, 2]);
        let sources: Vec<usize> = placed.iter().map(|p| p.source).collect();
        assert_eq!(sources, [2, 0, 1]);
        assert_eq!((placed[0].info.x, placed[0].info.y), (-1280, 56));
    }

    #[test]
    fn without_a_reported_primary_the_monitor_at_the_origin_is_primary() {
        let placed = arrange(&[
            mon("left", -1920, 0, 1920, 1080, false),
            mon("main", 0, 0, 1920, 1080, false),
        ]);
        assert!(!placed[0].info.primary && placed[1].info.primary);
        // Nothing at the origin either: the first.
        let placed = arrange(&[
            mon("a", 100, 0, 10, 10, false),
            mon("b", 200, 0, 10, 10, false),
        ]);
        assert!(placed[0].info.primary && !placed[1].info.primary);
        // Two that claim it: only the first (in order) keeps it.
        let placed = arrange(&[mon("a", 0, 0, 10, 10, true), mon("b", 10, 0, 10, 10, true)]);
        assert_eq!(placed.iter().filter(|p| p.info.primary).count(), 1);
    }

    #[test]
    fn empty_monitors_are_left_out_and_names_filled_in() {
        let placed = arrange(&[
            mon("", 0, 0, 800, 600, true),
            mon("off", 800, 0, 0, 0, false),
        ]);
        assert_eq!(placed.len(), 1);
        assert_eq!(placed[0].info.name, "monitor 1");
        assert!(arrange(&[]).is_empty());
    }

    #[test]
    fn retina_monitors_are_sized_in_pixels_and_input_lands_in_points() {
        let mut r = mon("Built-in", 0, 0, 1440, 900, true);
        r.scale = 2.0;
        let mut right = mon("External", 1440, -180, 2560, 1440, false);
        right.scale = 1.0;
        let placed = arrange(&[r, right]);
        assert_eq!((placed[0].info.width, placed[0].info.height), (2880, 1800));
        let frame = placed[0].frame_size();
        assert_eq!(placed[0].pointer(0, 0, frame), (0, 0));
        assert_eq!(placed[0].pointer(2000, 1000, frame), (1000, 500));
        assert_eq!(placed[0].pointer(2879, 1799, frame), (1439, 899));
        // The second monitor: its own origin.
        assert_eq!(
            placed[1].pointer(10, 20, placed[1].frame_size()),
            (1450, -160)
        );
    }

    #[test]
    fn pointer_is_clamped_to_its_monitor() {
        let placed = arrange(&[
            mon("left", -1280, 0, 1280, 1024, false),
            mon("main", 0, 0, 1920, 1080, true),
        ]);
        let left = &placed[0];
        let f = left.frame_size();
        assert_eq!(left.pointer(0, 0, f), (-1280, 0));
        assert_eq!(left.pointer(5000, 5000, f), (-1, 1023));
        assert_eq!(left.pointer(-30, -30, f), (-1280, 0));
        // A frame smaller than the monitor (a capture that came back scaled) still spans it.
        assert_eq!(placed[1].pointer(959, 539, (960, 540)), (1918, 1078));
    }

    #[test]
    fn huge_positions_are_clamped_for_the_browser_only() {
        let placed = arrange(&[mon("far", 40_000, -40_000, 100_000, 100, true)]);
        assert_eq!((placed[0].info.x, placed[0].info.y), (i16::MAX, i16::MIN));
        assert_eq!(placed[0].info.width, u16::MAX);
        assert_eq!(placed[0].x, 40_000);
    }

    #[test]
    fn rgba_captures_become_bgrx() {
        let img = image_from_rgba(2, 1, vec![1, 2, 3, 255, 10, 20, 30, 255]).unwrap();
        assert_eq!((img.width, img.height), (2, 1));
        assert_eq!(img.bgrx, vec![3, 2, 1, 255, 30, 20, 10, 255]);
        assert_eq!(
            image_from_rgba(2, 2, vec![0; 12]).unwrap_err(),
            "the capture is 12 bytes, 2×2 needs 16"
        );
        assert_eq!(
            Image::filled(1, 1, [9, 8, 7]).bgrx[..3],
            image_from_rgba(1, 1, vec![9, 8, 7, 0]).unwrap().bgrx[..3]
        );
    }
}
