//! Changed-region encoding: the monitor is cut into [`TILE`]-pixel tiles, each compared
//! with the previous capture; runs of changed tiles in a tile row are encoded together as
//! one baseline JPEG rectangle (fewer JPEG headers than one per tile, and the rectangles
//! stay small when little changed).
//!
//! Why JPEG: screen content at 1920×1080 is ~8 MB a frame raw; JPEG at quality 80 keeps
//! text readable and photos/video small, and every browser decodes it natively
//! (`createImageBitmap`). PNG would be exact but several times larger on anything that is
//! not flat colour. Flat colours come through within a few levels (the tests check that).

use breeze_proto::agent::remote_desktop::{ENC_JPEG, FrameRect};
use jpeg_encoder::{ColorType, Encoder};

/// Tile edge in pixels.
pub const TILE: usize = 64;

/// A captured image: 4 bytes a pixel in memory order B, G, R, X, rows packed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub bgrx: Vec<u8>,
}

impl Image {
    /// An image of one colour (tests, benchmarks).
    pub fn filled(width: usize, height: usize, rgb: [u8; 3]) -> Image {
        let px = [rgb[2], rgb[1], rgb[0], 0];
        Image {
            width,
            height,
            bgrx: px.repeat(width * height),
        }
    }

    /// Paints a rectangle (clipped) with `rgb`.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, rgb: [u8; 3]) {
        let px = [rgb[2], rgb[1], rgb[0], 0];
        for row in y..(y + h).min(self.height) {
            for col in x..(x + w).min(self.width) {
                let at = (row * self.width + col) * 4;
                if let Some(p) = self.bgrx.get_mut(at..at + 4) {
                    p.copy_from_slice(&px);
                }
            }
        }
    }
}

/// Encodes successive captures of one monitor as changed rectangles.
pub struct TileEncoder {
    quality: u8,
    prev: Option<Image>,
    scratch: Vec<u8>,
}

impl TileEncoder {
    pub fn new(quality: u8) -> Self {
        TileEncoder {
            quality: quality.clamp(1, 100),
            prev: None,
            scratch: Vec::new(),
        }
    }

    /// Forgets the previous capture: the next frame covers everything.
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// The rectangles of `img` that differ from the previous capture (all of it when
    /// `full`, on the first call, after [`TileEncoder::reset`] or when the size changed).
    pub fn encode(&mut self, img: Image, full: bool) -> Result<Vec<FrameRect>, String> {
        let prev = self
            .prev
            .take()
            .filter(|p| !full && p.width == img.width && p.height == img.height);
        let mut rects = Vec::new();
        let cols = img.width.div_ceil(TILE);
        let stride = img.width * 4;
        for ty in 0..img.height.div_ceil(TILE) {
            let y0 = ty * TILE;
            let h = TILE.min(img.height - y0);
            let mut run: Option<usize> = None;
            for tx in 0..=cols {
                let changed = tx < cols
                    && match &prev {
                        None => true,
                        Some(p) => {
                            let x0 = tx * TILE * 4;
                            let x1 = ((tx + 1) * TILE).min(img.width) * 4;
                            (y0..y0 + h).any(|row| {
                                let a = row * stride;
                                img.bgrx.get(a + x0..a + x1) != p.bgrx.get(a + x0..a + x1)
                            })
                        }
                    };
                match (changed, run) {
                    (true, None) => run = Some(tx),
                    (false, Some(start)) => {
                        let x = start * TILE;
                        let w = (tx * TILE).min(img.width) - x;
                        rects.push(self.rect(&img, x, y0, w, h)?);
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        self.prev = Some(img);
        Ok(rects)
    }

    fn rect(
        &mut self,
        img: &Image,
        x: usize,
        y: usize,
        w: usize,
        h: usize,
    ) -> Result<FrameRect, String> {
        self.scratch.clear();
        for row in y..y + h {
            let a = (row * img.width + x) * 4;
            let line = img
                .bgrx
                .get(a..a + w * 4)
                .ok_or_else(|| "the captured image is shorter than its size".to_string())?;
            self.scratch.extend_from_slice(line);
        }
        let (x, y, w, h) = (to16(x)?, to16(y)?, to16(w)?, to16(h)?);
        let mut data = Vec::with_capacity(w as usize * h as usize / 4);
        Encoder::new(&mut data, self.quality)
            .encode(&self.scratch, w, h, ColorType::Bgra)
            .map_err(|e| format!("JPEG encoding failed: {e}"))?;
        Ok(FrameRect {
            x,
            y,
            w,
            h,
            encoding: ENC_JPEG,
            data,
        })
    }
}

fn to16(v: usize) -> Result<u16, String> {
    u16::try_from(v).map_err(|_| format!("{v} pixels is larger than a frame can carry"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frame_is_whole_then_only_changes_then_nothing() -> Result<(), String> {
        let mut enc = TileEncoder::new(80);
        let mut img = Image::filled(300, 130, [10, 20, 30]);
        let first = enc.encode(img.clone(), false)?;
        // 3 tile rows (64, 64, 2 px), each one run across the whole width.
        let cover: Vec<_> = first.iter().map(|r| (r.x, r.y, r.w, r.h)).collect();
        assert_eq!(
            cover,
            vec![(0, 0, 300, 64), (0, 64, 300, 64), (0, 128, 300, 2)]
        );
        assert!(first.iter().all(|r| r.data.starts_with(&[0xff, 0xd8])));

        assert!(
            enc.encode(img.clone(), false)?.is_empty(),
            "a static screen sends nothing"
        );

        img.fill_rect(70, 70, 5, 5, [255, 0, 0]);
        let change = enc.encode(img.clone(), false)?;
        let cover: Vec<_> = change.iter().map(|r| (r.x, r.y, r.w, r.h)).collect();
        assert_eq!(cover, vec![(64, 64, 64, 64)]);

        img.fill_rect(0, 0, 1, 1, [1, 1, 1]);
        img.fill_rect(290, 0, 1, 1, [1, 1, 1]);
        let cover: Vec<_> = enc
            .encode(img.clone(), false)?
            .iter()
            .map(|r| (r.x, r.y, r.w, r.h))
            .collect();
        assert_eq!(cover, vec![(0, 0, 64, 64), (256, 0, 44, 64)]);

        assert_eq!(
            enc.encode(img.clone(), true)?.len(),
            3,
            "refresh sends everything"
        );
        enc.reset();
        assert_eq!(enc.encode(img, false)?.len(), 3);
        Ok(())
    }
}
