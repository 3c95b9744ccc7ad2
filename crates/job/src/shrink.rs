//! Shrinking big photos before detection, as face_recognition's CLI does: fit the longer
//! side to a maximum with Pillow's `thumbnail` (sizes and pixels reproduced to the bit in
//! [`crate::pil_resize`]). A 48-Mpx photo then costs what a 2-Mpx one does; faces smaller
//! than HOG's 80 px window after shrinking were not findable at that size anyway.

use facerec_engine::RgbImage;

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
    if max_side == 0 || img.width().max(img.height()) <= max_side {
        return (img, 1.0);
    }
    let (w, h) = thumbnail_size(img.width(), img.height(), max_side);
    let scale = img.width() as f64 / w as f64;
    (crate::pil_resize::thumbnail(&img, w, h), scale)
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
