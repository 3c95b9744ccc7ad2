//! `run()` with the real models (models/, from scripts/fetch-models.sh) on committed
//! photos: what docs/jobs.md promises of `top_k`, `max_side` and bad input.

use std::path::PathBuf;

use facerec_engine::{decode_image, Detector, Engine, LoadOptions, ModelPaths};
use facerec_job::{run, ErrorKind, GalleryEntry, JobOptions, Limits};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(root().join("testdata/faces/fr/examples").join(name)).unwrap()
}

fn engine() -> Engine {
    let models = std::env::var_os("FACEREC_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models"));
    Engine::load(&ModelPaths::in_dir(models))
        .unwrap_or_else(|e| panic!("models missing ({e}); run scripts/fetch-models.sh"))
}

/// The photo's only face, as a gallery entry.
fn itself(engine: &Engine, bytes: &[u8], label: &str) -> GalleryEntry {
    let img = decode_image(bytes, &LoadOptions::default()).unwrap();
    let faces = engine
        .encode_image(&img, Detector::Hog { upsample: 1 })
        .unwrap();
    assert_eq!(faces.len(), 1);
    GalleryEntry {
        label: label.into(),
        encoding: faces[0].embedding.to_vec(),
        source: None,
    }
}

#[test]
fn top_k_zero_reports_no_nearest_but_still_the_best_match() {
    let engine = engine();
    let bytes = photo("obama_small.jpg");
    let gallery = facerec_job::gallery_of(&[itself(&engine, &bytes, "obama")]);
    let with_k = |top_k| {
        let options = JobOptions {
            top_k,
            ..JobOptions::default()
        };
        run(&engine, &bytes, &gallery, &options, &Limits::default()).unwrap()
    };
    let none = with_k(0);
    assert_eq!(none.faces.len(), 1);
    let best = none.faces[0].best_match.as_ref().expect("an exact match");
    assert_eq!((best.label.as_str(), best.distance), ("obama", 0.0));
    assert!(none.faces[0].nearest.is_empty());
    assert_eq!(with_k(3).faces[0].nearest.len(), 1);
}

#[test]
fn embeddings_only_on_request_and_they_are_the_faces_own() {
    let engine = engine();
    let bytes = photo("obama_small.jpg");
    let own = itself(&engine, &bytes, "obama");
    let gallery = facerec_job::gallery_of(&[]);
    let with = |embeddings| {
        let options = JobOptions {
            embeddings,
            ..JobOptions::default()
        };
        run(&engine, &bytes, &gallery, &options, &Limits::default()).unwrap()
    };
    assert_eq!(with(false).faces[0].embedding, None);
    assert_eq!(with(true).faces[0].embedding.as_ref(), Some(&own.encoding));
    let json = serde_json::to_value(&with(false).faces[0]).unwrap();
    assert!(json.get("embedding").is_none(), "{json}");
}

#[test]
fn a_big_photo_is_shrunk_to_detect_and_boxes_come_back_in_its_pixels() {
    let engine = engine();
    let bytes = photo("obama-1080p.jpg");
    let gallery = facerec_job::gallery_of(&[]);
    let with_side = |max_side| {
        let options = JobOptions {
            max_side,
            ..JobOptions::default()
        };
        run(&engine, &bytes, &gallery, &options, &Limits::default()).unwrap()
    };
    let full = with_side(0);
    let half = with_side(960);
    assert_eq!((half.width, half.height), (1920, 1080));
    assert_eq!((full.width, full.height), (1920, 1080));
    assert_eq!(full.faces.len(), 1);
    assert_eq!(half.faces.len(), 1);
    let (f, h) = (&full.faces[0].bbox, &half.faces[0].bbox);
    let size = (f.right - f.left) as f64;
    // Same face, same place: within 10% of its size on every side (HOG's boxes move
    // by its 8-px cells, doubled by the scale). Unscaled boxes would be off by half.
    for (a, b) in [
        (f.top, h.top),
        (f.right, h.right),
        (f.bottom, h.bottom),
        (f.left, h.left),
    ] {
        assert!(((a - b) as f64).abs() < size * 0.1, "{f:?} vs {h:?}");
    }
}

#[test]
fn bad_bytes_are_permanent_and_named() {
    let engine = engine();
    let gallery = facerec_job::gallery_of(&[]);
    let options = JobOptions::default();
    let mut truncated = photo("obama_small.jpg");
    truncated.truncate(truncated.len() / 2);
    let err = run(&engine, &truncated, &gallery, &options, &Limits::default()).unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Permanent, "corrupt_image")
    );
    let err = run(&engine, b"hello", &gallery, &options, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    let tiny = Limits {
        max_pixels: 1000,
        ..Limits::default()
    };
    let err = run(
        &engine,
        &photo("obama_small.jpg"),
        &gallery,
        &options,
        &tiny,
    )
    .unwrap_err();
    assert_eq!(err.code, "decompression_bomb");
}
