//! Big JPEGs decoded at 1/2, 1/4 or 1/8 scale and shrunk, held to Pillow's `draft` +
//! `resize` pixels: testdata/references/drafts.json, made by
//! scripts/python-baseline/draft_references.py (Pillow 13.0.0).

use std::path::PathBuf;

use facerec_engine::{decode_image_draft, LoadOptions};
use facerec_job::shrink::{decode_fitted, thumbnail_size};
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn scaled_decode_and_shrink_give_pillows_very_pixels() {
    let refs: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/drafts.json")).unwrap(),
    )
    .unwrap();
    let cases = refs["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut scales = Vec::new();
    for want in cases {
        let bytes = std::fs::read(root().join(want["source"].as_str().unwrap())).unwrap();
        let max_side = want["max_side"].as_u64().unwrap() as u32;
        let load = LoadOptions {
            apply_exif_orientation: want["exif_orientation"].as_bool().unwrap(),
            ..LoadOptions::default()
        };

        let draft =
            decode_image_draft(&bytes, &load, &|w, h| thumbnail_size(w, h, max_side)).unwrap();
        let scale = want["draft_scale"].as_u64().unwrap() as u32;
        assert_eq!(draft.scale, scale, "{want}");
        assert_eq!(
            serde_json::json!([draft.width, draft.height]),
            want["size"],
            "{want}"
        );
        assert_eq!(draft.image.width(), draft.width.div_ceil(scale), "{want}");
        scales.push(scale);

        let fitted = decode_fitted(&bytes, &load, max_side).unwrap();
        assert_eq!((fitted.width, fitted.height), (draft.width, draft.height));
        assert_eq!(
            serde_json::json!([fitted.image.width(), fitted.image.height()]),
            want["fitted"],
            "{want}"
        );
        assert_eq!(
            fitted.scale,
            fitted.width as f64 / fitted.image.width() as f64
        );
        let hash: String = Sha256::digest(fitted.image.as_raw())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash, want["rgb_sha256"].as_str().unwrap(), "{want}");
    }
    for s in [1, 2, 4, 8] {
        assert!(scales.contains(&s), "no case decodes at 1/{s}");
    }
}

#[test]
fn photos_that_fit_decode_whole_and_unshrunk() {
    let bytes = std::fs::read(root().join("testdata/faces/fr/examples/biden.jpg")).unwrap();
    for max_side in [0, 2204, 4000] {
        let fitted = decode_fitted(&bytes, &LoadOptions::default(), max_side).unwrap();
        assert_eq!(fitted.image.dimensions(), (970, 2204), "{max_side}");
        assert_eq!(fitted.scale, 1.0);
    }
}
