//! Decoding photos into 8-bit RGB the way face_recognition sees them, plus EXIF orientation
//! (which face_recognition ignores) and a pixel limit against decompression bombs.
//!
//! JPEG goes through libjpeg-turbo (the `mozjpeg` crate) because Pillow uses libjpeg-turbo
//! with the same default IDCT and upsampling: the pixels are bit-identical, so landmarks and
//! embeddings match face_recognition's. That holds for progressive JPEGs and for CMYK and
//! YCCK ones too (libjpeg gives CMYK, converted with Pillow's own formula). A JPEG whose
//! data ends before its end-of-image marker is refused as truncated, as Pillow refuses it
//! ("image file is truncated"); libjpeg alone would pad it with grey.
//!
//! PNG (grey, RGB, palette, with or without alpha, 8 or 16 bit), WebP, GIF (its first
//! frame), BMP and TIFF use the `image` crate; alpha is dropped without compositing, as
//! Pillow's `convert('RGB')` does, and 16-bit samples keep their high byte as Pillow's do.
//! `testdata/formats/` holds one file of each kind with the SHA-256 of Pillow's RGB pixels:
//! all are identical except lossy WebP (a different VP8 decoder; see docs/cli.md).
//! Anything else (HEIC among them: no pure-Rust decoder we trust) is
//! [`ImageError::UnsupportedFormat`].

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

/// The formats [`decode_image`] accepts, as file name extensions (lower case).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// The format of an image [`decode_image`] accepts, from its first bytes; `None` for
/// anything else.
pub fn sniff_format(bytes: &[u8]) -> Option<image::ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(image::ImageFormat::Jpeg);
    }
    match image::guess_format(bytes) {
        Ok(
            f @ (image::ImageFormat::Png
            | image::ImageFormat::WebP
            | image::ImageFormat::Gif
            | image::ImageFormat::Bmp
            | image::ImageFormat::Tiff),
        ) => Some(f),
        _ => None,
    }
}

/// Decode an in-memory JPEG, PNG, WebP, GIF (first frame), BMP or TIFF, by its content
/// (the file name's extension plays no part).
pub fn decode_image(bytes: &[u8], opts: &LoadOptions) -> Result<RgbImage, ImageError> {
    decode(bytes, opts, None).map(|d| d.image)
}

/// A photo decoded by [`decode_image_draft`].
#[derive(Debug, Clone)]
pub struct Draft {
    /// The pixels, upright as `LoadOptions` says: the photo's own size divided by `scale`,
    /// rounded up.
    pub image: RgbImage,
    /// The photo's own width and height, upright.
    pub width: u32,
    pub height: u32,
    /// 1, 2, 4 or 8.
    pub scale: u32,
}

/// [`decode_image`] for a caller that will shrink the photo to `wanted(width, height)`
/// (its upright size in, the size it needs out): a JPEG is decoded at 1/2, 1/4 or 1/8 of
/// its size by libjpeg's DCT scaling when at least that much is left, as Pillow's
/// `JpegImageFile.draft(mode, wanted)` does — the largest of 8, 4, 2 not above
/// `min(width / wanted_w, height / wanted_h)` in integers. A scaled IDCT is several times
/// cheaper than a full decode and leaves a smaller image to shrink; its pixels are
/// Pillow's after `draft`, not after a full decode. Other formats decode at full size.
pub fn decode_image_draft(
    bytes: &[u8],
    opts: &LoadOptions,
    wanted: &dyn Fn(u32, u32) -> (u32, u32),
) -> Result<Draft, ImageError> {
    decode(bytes, opts, Some(wanted))
}

/// Pillow's draft scale for a `width`×`height` JPEG wanted at `want_w`×`want_h` (or more).
fn draft_scale(width: u32, height: u32, want_w: u32, want_h: u32) -> u32 {
    let ratio = (width / want_w.max(1)).min(height / want_h.max(1));
    [8, 4, 2].into_iter().find(|&s| ratio >= s).unwrap_or(1)
}

type Wanted<'a> = Option<&'a dyn Fn(u32, u32) -> (u32, u32)>;

fn decode(bytes: &[u8], opts: &LoadOptions, wanted: Wanted) -> Result<Draft, ImageError> {
    let orientation = if opts.apply_exif_orientation {
        exif_orientation(bytes)
    } else {
        1
    };
    // Orientations 5–8 turn the photo a quarter: its upright width is the stored height.
    let quarter_turn = (5..=8).contains(&orientation);
    let (img, (width, height), scale) = match sniff_format(bytes) {
        Some(image::ImageFormat::Jpeg) => decode_jpeg(bytes, opts, wanted, quarter_turn)?,
        Some(format) => {
            let img = decode_other(bytes, format, opts)?;
            let size = img.dimensions();
            (img, size, 1)
        }
        None => return Err(ImageError::UnsupportedFormat),
    };
    if img.width() == 0 || img.height() == 0 {
        return Err(ImageError::Empty {
            width: img.width(),
            height: img.height(),
        });
    }
    let (width, height) = if quarter_turn {
        (height, width)
    } else {
        (width, height)
    };
    Ok(Draft {
        image: apply_orientation(img, orientation),
        width,
        height,
        scale,
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

/// What [`decode_jpeg`] needs from a JPEG's marker segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JpegLayout {
    /// The markers and entropy-coded segments run on to an end-of-image marker.
    reaches_eoi: bool,
    /// An APP14 "Adobe" segment: CMYK samples are stored inverted (Pillow reads them as
    /// `CMYK;I` then).
    adobe: bool,
}

/// Walks a JPEG's marker segments (by their lengths) and entropy-coded data (to the next
/// marker that is neither a stuffed `FF 00` nor a restart `FF D0`–`D7`, ITU T.81 B.1.1.2
/// and F.1.2.3) up to EOI.
fn jpeg_layout(b: &[u8]) -> JpegLayout {
    // The first 0xFF at or after `from`: where the next marker (or a stuffed byte) starts.
    let next_ff = |b: &[u8], from: usize| {
        b.get(from..)?
            .iter()
            .position(|&x| x == 0xFF)
            .map(|p| from + p)
    };
    let mut layout = JpegLayout {
        reaches_eoi: false,
        adobe: false,
    };
    let n = b.len();
    let mut i = 2; // after SOI
    loop {
        // The next marker: libjpeg skips stray bytes before it (with a warning), so do we.
        let Some(at) = next_ff(b, i) else {
            return layout;
        };
        i = at;
        while i < n && b[i] == 0xFF {
            i += 1; // fill bytes
        }
        let Some(&marker) = b.get(i) else {
            return layout;
        };
        i += 1;
        match marker {
            0xD9 => {
                layout.reaches_eoi = true;
                return layout;
            }
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let Some(len) = b
            .get(i..i + 2)
            .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
        else {
            return layout;
        };
        if len < 2 {
            return layout;
        }
        if marker == 0xEE && b.get(i + 2..i + 7) == Some(b"Adobe".as_slice()) {
            layout.adobe = true;
        }
        i += len;
        if marker == 0xDA {
            // Entropy-coded data after the scan header.
            loop {
                let Some(at) = next_ff(b, i) else {
                    return layout;
                };
                i = at;
                let mut j = i;
                while j < n && b[j] == 0xFF {
                    j += 1;
                }
                match b.get(j) {
                    None => return layout,
                    Some(0x00) | Some(0xD0..=0xD7) => i = j + 1,
                    Some(_) => break, // a marker: back to the outer walk at its 0xFF
                }
            }
        }
    }
}

/// Pillow's CMYK → RGB (`cmyk2rgb` in libImaging/Convert.c): each of R, G, B is
/// `(255 − K) − C·(255 − K)/255`, with Pillow's rounded integer division by 255.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    fn muldiv255(a: i32, b: i32) -> i32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let v = |x: u8| if inverted { 255 - x as i32 } else { x as i32 };
            let nk = 255 - v(p[3]);
            let ch = |c: u8| (nk - muldiv255(v(c), nk)).clamp(0, 255) as u8;
            [ch(p[0]), ch(p[1]), ch(p[2])]
        })
        .collect()
}

/// The decoded pixels (stored orientation), the JPEG's own stored size, and the draft scale.
fn decode_jpeg(
    bytes: &[u8],
    opts: &LoadOptions,
    wanted: Wanted,
    quarter_turn: bool,
) -> Result<(RgbImage, (u32, u32), u32), ImageError> {
    let layout = jpeg_layout(bytes);
    if !layout.reaches_eoi {
        // libjpeg would fake an end of image and pad with grey; Pillow raises instead.
        return Err(ImageError::Decode(
            "the JPEG data ends before its end-of-image marker (truncated file)".into(),
        ));
    }
    // libjpeg reports fatal errors through a callback that mozjpeg turns into a panic.
    // (`wanted` only computes a size: nothing it sees is left half-changed by a panic.)
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<(RgbImage, (u32, u32), u32), ImageError> {
            let mut d = mozjpeg::Decompress::new_mem(bytes)
                .map_err(|e| ImageError::Decode(e.to_string()))?;
            let (w, h) = (d.width() as u64, d.height() as u64);
            check_size(w, h, opts)?;
            let (w, h) = (w as u32, h as u32);
            let scale = wanted.map_or(1, |wanted| {
                if quarter_turn {
                    let (ww, wh) = wanted(h, w);
                    draft_scale(w, h, wh, ww)
                } else {
                    let (ww, wh) = wanted(w, h);
                    draft_scale(w, h, ww, wh)
                }
            });
            if scale > 1 {
                // scale/8 in libjpeg's terms; the same output as Pillow's 1/scale.
                d.scale((8 / scale) as u8);
            }
            let cmyk = matches!(
                d.color_space(),
                mozjpeg::ColorSpace::JCS_CMYK | mozjpeg::ColorSpace::JCS_YCCK
            );
            let (data, out_w, out_h) = if cmyk {
                // libjpeg converts YCCK to CMYK; CMYK to RGB is Pillow's formula.
                let mut started = d
                    .to_colorspace(mozjpeg::ColorSpace::JCS_CMYK)
                    .map_err(|e| ImageError::Decode(e.to_string()))?;
                let raw: Vec<u8> = started
                    .read_scanlines()
                    .map_err(|e| ImageError::Decode(e.to_string()))?;
                let size = (started.width(), started.height());
                let _ = started.finish();
                (cmyk_to_rgb(&raw, layout.adobe), size.0, size.1)
            } else {
                let mut started = d.rgb().map_err(|e| ImageError::Decode(e.to_string()))?;
                let data: Vec<u8> = started
                    .read_scanlines()
                    .map_err(|e| ImageError::Decode(e.to_string()))?;
                let size = (started.width(), started.height());
                let _ = started.finish();
                (data, size.0, size.1)
            };
            let img = RgbImage::from_raw(out_w as u32, out_h as u32, data)
                .ok_or_else(|| ImageError::Decode("short JPEG scanlines".into()))?;
            Ok((img, (w, h), scale))
        },
    ));
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

/// PNG, WebP, GIF, BMP, TIFF through the `image` crate, size checked from the header.
fn decode_other(
    bytes: &[u8],
    format: image::ImageFormat,
    opts: &LoadOptions,
) -> Result<RgbImage, ImageError> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).max(1 << 20));
    reader.limits(limits);
    let (w, h) = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
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
        // HEIC (an ISO BMFF `ftyp` box, brand heic) and plain text.
        for bytes in [
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".as_slice(),
            b"text, not a photo".as_slice(),
        ] {
            assert!(matches!(
                decode_image(bytes, &LoadOptions::default()),
                Err(ImageError::UnsupportedFormat)
            ));
        }
    }

    #[test]
    fn jpeg_layout_finds_eoi_past_stuffed_bytes_and_restarts() {
        // SOI, APP14 Adobe, SOS (length 3), entropy data with FF 00 and FF D0, EOI.
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x07];
        j.extend_from_slice(b"Adobe");
        j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01]);
        j.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        let complete = [j.as_slice(), &[0xFF, 0xD9]].concat();
        assert_eq!(
            jpeg_layout(&complete),
            JpegLayout {
                reaches_eoi: true,
                adobe: true
            }
        );
        // Cut anywhere before the EOI: not complete.
        for cut in 2..complete.len() - 1 {
            assert!(!jpeg_layout(&complete[..cut]).reaches_eoi, "cut at {cut}");
        }
        // An EOI inside a segment's payload (an EXIF thumbnail's) does not count.
        let mut app1 = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00];
        app1.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01, 0x12]);
        assert!(!jpeg_layout(&app1).reaches_eoi);
    }

    #[test]
    fn cmyk_conversion_is_pillows() {
        // White, black, pure cyan (stored plain and Adobe-inverted), half grey K.
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0], false), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255], false), [0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[255, 0, 0, 0], false), [0, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 255], true), [0, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 128], false), [127, 127, 127]);
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
