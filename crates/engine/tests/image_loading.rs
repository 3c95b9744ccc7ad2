//! Image decoding: formats, limits, typed errors.

mod common;
use common::*;
use facerec_engine::{decode_image, load_image, ImageError, LoadOptions};
use image::{ImageEncoder, RgbImage};

fn png_bytes(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    write(&mut v);
    v
}

fn sample() -> RgbImage {
    load_image(
        &faces_dir().join("fr/examples/obama_small.jpg"),
        &LoadOptions::default(),
    )
    .unwrap()
}

#[test]
fn grey_16bit_and_rgba_png_decode_to_rgb() {
    let rgb = sample();
    let (w, h) = rgb.dimensions();
    let grey = image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8();
    let grey_png = png_bytes(|v| {
        image::codecs::png::PngEncoder::new(v)
            .write_image(grey.as_raw(), w, h, image::ExtendedColorType::L8)
            .unwrap()
    });
    let g = decode_image(&grey_png, &LoadOptions::default()).unwrap();
    assert_eq!(g.dimensions(), (w, h));
    assert!(
        g.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]),
        "grey must replicate to RGB"
    );

    let wide: Vec<u8> = rgb
        .as_raw()
        .iter()
        .flat_map(|v| (*v as u16 * 257).to_be_bytes())
        .collect();
    let png16 = png_bytes(|v| {
        image::codecs::png::PngEncoder::new(v)
            .write_image(&wide, w, h, image::ExtendedColorType::Rgb16)
            .unwrap()
    });
    let d16 = decode_image(&png16, &LoadOptions::default()).unwrap();
    assert_eq!(
        d16.as_raw(),
        rgb.as_raw(),
        "16-bit PNG must reduce to the same 8-bit pixels"
    );

    let rgba = image::DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
    let rgba_png = png_bytes(|v| {
        image::codecs::png::PngEncoder::new(v)
            .write_image(rgba.as_raw(), w, h, image::ExtendedColorType::Rgba8)
            .unwrap()
    });
    assert_eq!(
        decode_image(&rgba_png, &LoadOptions::default())
            .unwrap()
            .as_raw(),
        rgb.as_raw()
    );
}

#[test]
fn pixel_limit_rejects_before_decoding() {
    let bytes = std::fs::read(faces_dir().join("fr/examples/obama.jpg")).unwrap();
    let opts = LoadOptions {
        max_pixels: 1000,
        ..LoadOptions::default()
    };
    match decode_image(&bytes, &opts) {
        Err(ImageError::TooLarge {
            width: 910,
            height: 1137,
            ..
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn corrupt_and_unknown_inputs_are_typed_errors() {
    let bytes = std::fs::read(faces_dir().join("fr/examples/obama.jpg")).unwrap();
    let mut broken = bytes[..200].to_vec();
    broken.extend_from_slice(&[0u8; 64]);
    assert!(matches!(
        decode_image(&broken, &LoadOptions::default()),
        Err(ImageError::Decode(_))
    ));
    assert!(matches!(
        decode_image(b"not an image", &LoadOptions::default()),
        Err(ImageError::UnsupportedFormat)
    ));
    let missing = load_image("/nonexistent/x.jpg".as_ref(), &LoadOptions::default());
    assert!(matches!(missing, Err(ImageError::Io { .. })));
}

#[test]
fn wrong_sized_chip_is_rejected() {
    let e = engine().encode_chip(&RgbImage::new(100, 150)).unwrap_err();
    assert!(e.to_string().contains("150x150"), "{e}");
}

#[test]
fn missing_models_name_the_fetch_script() {
    let e =
        facerec_engine::Engine::load(&facerec_engine::ModelPaths::in_dir("/nonexistent-models"))
            .err()
            .unwrap();
    assert!(e.to_string().contains("scripts/fetch-models.sh"), "{e}");
}

/// A JPEG with an EXIF APP1 segment saying "rotate 90° clockwise to view" (orientation 6).
fn with_orientation_6(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 1]); // one IFD entry
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation, SHORT, 1, 6
    tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_unless_disabled() {
    let bytes = std::fs::read(faces_dir().join("fr/examples/obama_small.jpg")).unwrap();
    let rotated = with_orientation_6(&bytes);
    let plain = decode_image(&bytes, &LoadOptions::default()).unwrap();
    let upright = decode_image(&rotated, &LoadOptions::default()).unwrap();
    assert_eq!(upright.dimensions(), (plain.height(), plain.width()));
    assert_eq!(upright, image::imageops::rotate90(&plain));
    let as_fr = decode_image(
        &rotated,
        &LoadOptions {
            apply_exif_orientation: false,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(as_fr, plain, "face_recognition mode must ignore EXIF");
}

/// One file of each accepted kind, made by Pillow 13 from obama_small.jpg
/// (testdata/formats/SOURCES.md), decodes to Pillow's RGB pixels exactly — except lossy
/// WebP, where the VP8 decoders differ, which is held to a small mean difference instead.
#[test]
fn every_accepted_format_decodes_to_pillows_pixels() {
    use sha2::{Digest, Sha256};
    let dir = repo_root().join("testdata/formats");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pillow-decoded.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= 9, "{expected:?}");
    for (name, want) in expected {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let img =
            decode_image(&bytes, &LoadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            [img.width() as u64, img.height() as u64],
            [
                want["size"][0].as_u64().unwrap(),
                want["size"][1].as_u64().unwrap()
            ],
            "{name}"
        );
        let sha: String = Sha256::digest(img.as_raw())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if name == "lossy.webp" {
            // Pillow's pixels are those of the lossless file's source; a lossy decode is
            // within a few levels of the same picture.
            let lossless = decode_image(
                &std::fs::read(dir.join("lossless.webp")).unwrap(),
                &LoadOptions::default(),
            )
            .unwrap();
            let mean: f64 = img
                .as_raw()
                .iter()
                .zip(lossless.as_raw())
                .map(|(a, b)| (*a as f64 - *b as f64).abs())
                .sum::<f64>()
                / img.as_raw().len() as f64;
            assert!(mean < 6.0, "{name}: mean difference {mean}");
        } else {
            assert_eq!(sha, want["rgb_sha256"].as_str().unwrap(), "{name}");
        }
    }
}

#[test]
fn a_truncated_jpeg_is_refused_not_padded() {
    let jpeg = std::fs::read(faces_dir().join("fr/examples/biden.jpg")).unwrap();
    for cut in [jpeg.len() / 2, jpeg.len() - 2] {
        match decode_image(&jpeg[..cut], &LoadOptions::default()) {
            Err(ImageError::Decode(m)) => assert!(m.contains("truncated"), "{m}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(decode_image(&jpeg, &LoadOptions::default()).is_ok());
}
