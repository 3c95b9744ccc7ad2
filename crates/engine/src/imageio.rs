//! Decoding photos into 8-bit RGB the way face_recognition sees them, plus EXIF orientation
//! (which face_recognition ignores) and a pixel limit against decompression bombs.
//!
//! JPEG goes through libjpeg-turbo (the `mozjpeg` crate) because Pillow uses libjpeg-turbo
//! with the same default IDCT and upsampling: the pixels are bit-identical, so landmarks and
//! embeddings match face_recognition's. PNG (grey, RGB, RGBA, 8 or 16 bit) uses the `image`
//! crate; alpha is dropped without compositing, as Pillow's `convert('RGB')` does.

use crate::error::ImageError;
use image::RgbImage;
use std::path::Path;

/// How to load an image.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Largest accepted width × height (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Rotate/flip as the EXIF Orientation tag says. face_recognition does not, so turn
    /// this off to reproduce its results on rotated phone photos exactly.
    pub apply_exif_orientation: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_pixels: 64_000_000,
            apply_exif_orientation: true,
        }
    }
}

/// Read and decode an image file.
pub fn load_image(path: &Path, opts: &LoadOptions) -> Result<RgbImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_image(&bytes, opts)
}

/// Decode an in-memory JPEG or PNG.
pub fn decode_image(bytes: &[u8], opts: &LoadOptions) -> Result<RgbImage, ImageError> {
    let img = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes, opts)?
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes, opts)?
    } else {
        return Err(ImageError::UnsupportedFormat);
    };
    if img.width() == 0 || img.height() == 0 {
        return Err(ImageError::Empty {
            width: img.width(),
            height: img.height(),
        });
    }
    Ok(if opts.apply_exif_orientation {
        apply_orientation(img, exif_orientation(bytes))
    } else {
        img
    })
}

fn check_size(width: u64, height: u64, opts: &LoadOptions) -> Result<(), ImageError> {
    let pixels = width * height;
    if pixels > opts.max_pixels {
        return Err(ImageError::TooLarge {
            width: width as u32,
            height: height as u32,
            pixels,
            limit: opts.max_pixels,
        });
    }
    if pixels == 0 {
        return Err(ImageError::Empty {
            width: width as u32,
            height: height as u32,
        });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8], opts: &LoadOptions) -> Result<RgbImage, ImageError> {
    // libjpeg reports fatal errors through a callback that mozjpeg turns into a panic.
    let result = std::panic::catch_unwind(|| -> Result<RgbImage, ImageError> {
        let d =
            mozjpeg::Decompress::new_mem(bytes).map_err(|e| ImageError::Decode(e.to_string()))?;
        let (w, h) = (d.width() as u64, d.height() as u64);
        check_size(w, h, opts)?;
        let mut started = d.rgb().map_err(|e| ImageError::Decode(e.to_string()))?;
        let data: Vec<u8> = started
            .read_scanlines()
            .map_err(|e| ImageError::Decode(e.to_string()))?;
        // A truncated file still yields the rows libjpeg could decode (padded grey), as
        // Pillow's LOAD_TRUNCATED_IMAGES does for face_recognition; only then can finishing fail.
        let _ = started.finish();
        RgbImage::from_raw(w as u32, h as u32, data)
            .ok_or_else(|| ImageError::Decode("short JPEG scanlines".into()))
    });
    match result {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "libjpeg error".into());
            Err(ImageError::Decode(msg))
        }
    }
}

fn decode_png(bytes: &[u8], opts: &LoadOptions) -> Result<RgbImage, ImageError> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).max(1 << 20));
    reader.limits(limits);
    let (w, h) =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png)
            .into_dimensions()
            .map_err(|e| ImageError::Decode(e.to_string()))?;
    check_size(w as u64, h as u64, opts)?;
    let img = reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    Ok(match img {
        image::DynamicImage::ImageRgb8(i) => i,
        // Pillow's 16-bit → 8-bit conversion keeps the high byte; do the same.
        image::DynamicImage::ImageRgb16(i) => RgbImage::from_raw(
            i.width(),
            i.height(),
            i.as_raw().iter().map(|v| (v >> 8) as u8).collect(),
        )
        .expect("same size"),
        image::DynamicImage::ImageRgba16(i) => RgbImage::from_raw(
            i.width(),
            i.height(),
            i.as_raw()
                .chunks_exact(4)
                .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
                .collect(),
        )
        .expect("same size"),
        image::DynamicImage::ImageLuma16(i) => RgbImage::from_raw(
            i.width(),
            i.height(),
            i.as_raw()
                .iter()
                .flat_map(|v| [(v >> 8) as u8; 3])
                .collect(),
        )
        .expect("same size"),
        other => other.to_rgb8(),
    })
}

/// The EXIF Orientation value (1–8), or 1 when absent or unreadable.
pub fn exif_orientation(bytes: &[u8]) -> u32 {
    let reader = exif::Reader::new();
    let Ok(exif) = reader.read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1)
}

/// Turn a stored image upright according to its EXIF orientation.
pub fn apply_orientation(img: RgbImage, orientation: u32) -> RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate180, rotate270, rotate90};
    match orientation {
        2 => flip_horizontal(&img),
        3 => rotate180(&img),
        4 => flip_vertical(&img),
        5 => flip_horizontal(&rotate90(&img)),
        6 => rotate90(&img),
        7 => flip_horizontal(&rotate270(&img)),
        8 => rotate270(&img),
        _ => img,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_format() {
        assert!(matches!(
            decode_image(b"GIF89a....", &LoadOptions::default()),
            Err(ImageError::UnsupportedFormat)
        ));
    }

    #[test]
    fn orientation_6_rotates_clockwise() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        let r = apply_orientation(img, 6);
        assert_eq!((r.width(), r.height()), (1, 2));
        assert_eq!(r.get_pixel(0, 0).0, [255, 0, 0]);
    }
}
