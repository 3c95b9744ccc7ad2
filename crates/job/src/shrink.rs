//! Shrinking big photos before detection, as face_recognition's CLI does: fit the longer
//! side to a maximum with Pillow's `thumbnail` (sizes and pixels reproduced to the bit in
//! [`crate::pil_resize`]). A 48-Mpx photo then costs what a 2-Mpx one does; faces smaller
//! than HOG's 80 px window after shrinking were not findable at that size anyway.
//!
//! [`decode_fitted`] (jobs: `facerec run` and the worker) goes one step further, as
//! Pillow's `thumbnail` does for a JPEG opened from its file: when the photo is at least
//! twice the target on both sides, libjpeg decodes it at 1/2, 1/4 or 1/8 scale in the DCT
//! (`draft`, with the target size) and the Lanczos shrink goes the rest of the way. Its
//! pixels are Pillow's `draft` + `resize(…, box=…, reducing_gap=2.0)` to the bit
//! (testdata/references/drafts.json); a 12-Mpx JPEG decodes and shrinks about 3× faster.

use facerec_engine::{decode_image_draft, ImageError, LoadOptions, RgbImage};

/// PIL's `thumbnail((max, max))` size: fit inside, keep the aspect ratio as PIL rounds it.
pub fn thumbnail_size(width: u32, height: u32, max: u32) -> (u32, u32) {
    let (x, y) = (max as f64, max as f64);
    let aspect = width as f64 / height as f64;
    let pick = |n: f64, key: &dyn Fn(f64) -> f64| {
        let (lo, hi) = (n.floor(), n.ceil());
        let best = if key(lo) <= key(hi) { lo } else { hi };
        best.max(1.0) as u32
    };
    if x / y >= aspect {
        let w = pick(y * aspect, &|n| (aspect - n / y).abs());
        (w, max)
    } else {
        let h = pick(x / aspect, &|n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - x / n).abs()
            }
        });
        (max, h)
    }
}

/// `img` shrunk to fit `max_side` (0: never), and the factor that maps its pixels back to
/// the original's (1.0 when it was small enough already).
pub fn fit(img: RgbImage, max_side: u32) -> (RgbImage, f64) {
    let (w, h) = fitted_size(img.width(), img.height(), max_side);
    if (w, h) == img.dimensions() {
        return (img, 1.0);
    }
    let scale = img.width() as f64 / w as f64;
    (crate::pil_resize::thumbnail(&img, w, h), scale)
}

/// A photo decoded and fitted by [`decode_fitted`].
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The pixels detection sees: no side over `max_side`.
    pub image: RgbImage,
    /// The photo's own size (upright).
    pub width: u32,
    pub height: u32,
    /// Multiply `image`'s pixel coordinates by this to get the photo's.
    pub scale: f64,
}

/// The size [`fit`] shrinks a `width`×`height` photo to (its own size when it fits).
fn fitted_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    if max_side == 0 || width.max(height) <= max_side {
        (width, height)
    } else {
        thumbnail_size(width, height, max_side)
    }
}

/// Decode `bytes` and fit it to `max_side` (0: never shrink), a JPEG through a DCT-scaled
/// decode when it is big enough (see the module's documentation).
pub fn decode_fitted(
    bytes: &[u8],
    load: &LoadOptions,
    max_side: u32,
) -> Result<Fitted, ImageError> {
    let draft = decode_image_draft(bytes, load, &|w, h| fitted_size(w, h, max_side))?;
    let (width, height) = (draft.width, draft.height);
    let (w, h) = fitted_size(width, height, max_side);
    let image = if draft.scale == 1 {
        fit(draft.image, max_side).0
    } else {
        let s = draft.scale as f64;
        crate::pil_resize::resize_reducing(&draft.image, width as f64 / s, height as f64 / s, w, h)
    };
    Ok(Fitted {
        image,
        width,
        height,
        scale: width as f64 / w as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_sizes_as_pillow_rounds_them() {
        assert_eq!(thumbnail_size(4000, 3000, 1600), (1600, 1200));
        assert_eq!(thumbnail_size(3000, 4000, 1600), (1200, 1600));
        assert_eq!(thumbnail_size(1999, 1001, 1600), (1600, 801));
        assert_eq!(thumbnail_size(3264, 2448, 1600), (1600, 1200));
    }

    #[test]
    fn fits_only_what_is_too_big() {
        let small = RgbImage::new(1600, 900);
        let (same, scale) = fit(small, 1600);
        assert_eq!((same.width(), same.height(), scale), (1600, 900, 1.0));
        let (shrunk, scale) = fit(RgbImage::new(3200, 1800), 1600);
        assert_eq!((shrunk.width(), shrunk.height(), scale), (1600, 900, 2.0));
        let (never, _) = fit(RgbImage::new(3200, 1800), 0);
        assert_eq!(never.width(), 3200);
    }
}
