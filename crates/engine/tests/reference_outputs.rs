//! Our outputs against face_recognition's, recorded in testdata/references by
//! scripts/python-baseline/build-references.sh (no Python needed here).

mod common;
use common::*;
use facerec_engine::{load_image, Detector, Gallery, LoadOptions, Point, Rect, DEFAULT_TOLERANCE};

fn css_rect(v: &serde_json::Value) -> Rect {
    let b: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    Rect {
        top: b[0],
        right: b[1],
        bottom: b[2],
        left: b[3],
    }
}

/// face_recognition's loader does not apply EXIF orientation; compare like with like.
fn fr_load(rel: &str) -> facerec_engine::RgbImage {
    let opts = LoadOptions {
        apply_exif_orientation: false,
        ..LoadOptions::default()
    };
    load_image(&faces_dir().join(rel), &opts).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn aligned_chip_embeddings_match_dlib_within_1e4() {
    let refs = reference("chips.json");
    let items = refs["items"].as_object().unwrap();
    assert!(
        items.len() >= 20,
        "expected the dlib/johns chips in the reference"
    );
    let paths: Vec<&String> = items.keys().collect();
    let chips: Vec<_> = paths.iter().map(|p| fr_load(p)).collect();
    let got = engine().encode_batch(&chips).unwrap();
    for (p, e) in paths.iter().zip(&got) {
        let d = l2(e, &floats(&items[*p]));
        assert!(d <= 1e-4, "{p}: L2 to dlib's embedding {d} > 1e-4");
    }
}

#[test]
fn landmarks_and_embeddings_match_on_photos_given_the_same_boxes() {
    let refs = reference("photos.json");
    let mut faces = 0;
    for (path, e) in refs["items"].as_object().unwrap() {
        let img = fr_load(path);
        assert_eq!(
            (img.width() as i64, img.height() as i64),
            (e["width"].as_i64().unwrap(), e["height"].as_i64().unwrap()),
            "{path}"
        );
        let boxes: Vec<Rect> = e["boxes_upsample1"]
            .as_array()
            .unwrap()
            .iter()
            .map(css_rect)
            .collect();
        let got = engine().encode_faces(&img, &boxes);
        for (i, f) in got.iter().enumerate() {
            let want: Vec<Point> = e["landmarks5"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Point {
                    x: p[0].as_i64().unwrap(),
                    y: p[1].as_i64().unwrap(),
                })
                .collect();
            assert_eq!(f.landmarks, want, "{path} face {i}: landmarks differ");
            let d = l2(&f.embedding, &floats(&e["encodings"][i]));
            assert!(d <= 0.01, "{path} face {i}: embedding L2 {d} > 0.01");
            faces += 1;
        }
    }
    assert!(faces >= 25, "too few reference faces ({faces})");
}

#[test]
fn hog_boxes_match_face_recognition_in_order() {
    let refs = reference("photos.json");
    let mut boxes_seen = 0;
    for (path, e) in refs["items"].as_object().unwrap() {
        let img = fr_load(path);
        for up in [0u32, 1] {
            let want: Vec<Rect> = e[format!("boxes_upsample{up}")]
                .as_array()
                .unwrap()
                .iter()
                .map(css_rect)
                .collect();
            let got = engine()
                .detect(&img, Detector::Hog { upsample: up })
                .unwrap();
            assert_eq!(
                got.len(),
                want.len(),
                "{path} upsample {up}: {got:?} vs {want:?}"
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let iou = g.iou(w);
                assert!(
                    iou >= 0.9,
                    "{path} upsample {up} face {i}: IoU {iou} ({g:?} vs {w:?})"
                );
                // Stronger than the IoU bound: the very same pixels.
                assert_eq!(g, w, "{path} upsample {up} face {i}: box");
            }
            boxes_seen += want.len();
        }
    }
    assert!(boxes_seen >= 40, "too few reference boxes ({boxes_seen})");
}

/// `encode_image` is face_recognition's default `face_encodings(img)`: landmarks on the
/// detector's unclipped rectangles, boxes reported clipped.
#[test]
fn end_to_end_encodings_match_face_recognition() {
    let refs = reference("photos.json");
    let mut edge_faces = 0;
    for (path, e) in refs["items"].as_object().unwrap() {
        let img = fr_load(path);
        let faces = engine()
            .encode_image(&img, Detector::Hog { upsample: 1 })
            .unwrap();
        let want = e["encodings_default"].as_array().unwrap();
        assert_eq!(faces.len(), want.len(), "{path}: face count");
        let boxes: Vec<Rect> = e["boxes_upsample1"]
            .as_array()
            .unwrap()
            .iter()
            .map(css_rect)
            .collect();
        for (i, (f, w)) in faces.iter().zip(want).enumerate() {
            assert_eq!(f.rect, boxes[i], "{path} face {i}: box");
            let landmarks: Vec<Point> = e["landmarks5_default"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Point {
                    x: p[0].as_i64().unwrap(),
                    y: p[1].as_i64().unwrap(),
                })
                .collect();
            assert_eq!(f.landmarks, landmarks, "{path} face {i}: landmarks");
            let d = l2(&f.embedding, &floats(w));
            assert!(d <= 0.01, "{path} face {i}: embedding L2 {d} > 0.01");
            // Where the box was clipped, the two ways of encoding really differ.
            let raw = &e["raw_upsample1"][i]["ltrb"];
            let clipped = raw[0].as_i64().unwrap() < 0
                || raw[1].as_i64().unwrap() < 0
                || raw[2].as_i64().unwrap() >= img.width() as i64
                || raw[3].as_i64().unwrap() >= img.height() as i64;
            if clipped && e["landmarks5"][i] != e["landmarks5_default"][i] {
                edge_faces += 1;
            }
        }
    }
    assert!(
        edge_faces >= 1,
        "no photo exercises landmarks on a box past the edge"
    );
}

const KNOWN: &[(&str, &str)] = &[
    ("fr/examples/obama.jpg", "obama"),
    ("fr/examples/biden.jpg", "biden"),
    (
        "fr/examples/knn_examples/train/alex_lacamoire/img1.jpg",
        "alex_lacamoire",
    ),
    (
        "fr/examples/knn_examples/train/kit_harington/john1.jpeg",
        "kit_harington",
    ),
    (
        "fr/examples/knn_examples/train/rose_leslie/img1.jpg",
        "rose_leslie",
    ),
    ("fr/examples/lin-manuel-miranda.png", "lin_manuel_miranda"),
];

#[test]
fn same_names_as_face_recognition_at_tolerance_06() {
    let refs = reference("photos.json");
    let items = refs["items"].as_object().unwrap();
    // face_recognition's gallery from its own encodings; ours from our whole pipeline.
    let (mut theirs, mut ours) = (Gallery::new(), Gallery::new());
    for (path, name) in KNOWN {
        let mine = engine()
            .encode_image(&fr_load(path), Detector::Hog { upsample: 1 })
            .unwrap();
        assert_eq!(mine.len(), 1, "{path}: expected one face");
        let mut t = [0f32; 128];
        t.copy_from_slice(&floats(&items[*path]["encodings_default"][0]));
        theirs.add(*name, &t);
        ours.add(*name, &mine[0].embedding);
    }
    let mut named = 0;
    for (path, e) in items {
        if KNOWN.iter().any(|(p, _)| p == path) {
            continue;
        }
        let got = engine()
            .encode_image(&fr_load(path), Detector::Hog { upsample: 1 })
            .unwrap();
        let want = e["encodings_default"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{path}: face count");
        for (i, (f, w)) in got.iter().zip(want).enumerate() {
            let mut t = [0f32; 128];
            t.copy_from_slice(&floats(w));
            let want = theirs.best_match(&t, DEFAULT_TOLERANCE).map(|m| m.name);
            let have = ours
                .best_match(&f.embedding, DEFAULT_TOLERANCE)
                .map(|m| m.name);
            assert_eq!(have, want, "{path} face {i}");
            named += want.is_some() as usize;
        }
    }
    assert!(
        named >= 10,
        "expected most probe faces to be recognised, got {named}"
    );
    // And the identities are the right ones, not merely the same as face_recognition's.
    for (path, who) in [
        ("fr/examples/obama2.jpg", "obama"),
        ("fr/examples/knn_examples/train/biden/biden2.jpg", "biden"),
    ] {
        let f = engine()
            .encode_image(&fr_load(path), Detector::Hog { upsample: 1 })
            .unwrap();
        assert_eq!(
            ours.best_match(&f[0].embedding, DEFAULT_TOLERANCE)
                .unwrap()
                .name,
            who,
            "{path}"
        );
    }
}
