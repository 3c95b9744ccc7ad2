//! Runs the real `facerec` binary on committed photos.

mod support;

use support::*;

#[test]
fn encode_json_prints_one_line_per_image_with_face_recognitions_box() {
    let out = facerec()
        .args([
            "encode",
            "--json",
            "--no-exif",
            "testdata/faces/fr/examples/obama_small.jpg",
            "testdata/faces/dlib/faces/dogs.jpg",
            "missing.jpg",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing file must fail the run: {}",
        stderr(&out)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0]["path"],
        "testdata/faces/fr/examples/obama_small.jpg"
    );
    let faces = lines[0]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    // face_recognition.face_locations(img, 1) gives (68, 211, 175, 103) for this photo.
    assert_eq!(faces[0]["box"], serde_json::json!([68, 211, 175, 103]));
    assert_eq!(faces[0]["encoding"].as_array().unwrap().len(), 128);
    assert_eq!(
        lines[1]["faces"].as_array().unwrap().len(),
        0,
        "no faces among dogs"
    );
    assert!(lines[2]["error"].as_str().unwrap().contains("missing.jpg"));
}

#[test]
fn encode_aligned_embeds_the_chip_itself() {
    let out = facerec()
        .args([
            "encode",
            "--json",
            "--aligned",
            "testdata/faces/dlib/johns/John_Simm/000288_00470387.jpg",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let enc = line["faces"][0]["encoding"].as_array().unwrap();
    assert_eq!(enc.len(), 128);
    let norm: f64 = enc
        .iter()
        .map(|v| v.as_f64().unwrap().powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(norm > 0.1, "embedding must not be all zeros");
}

#[test]
fn missing_models_say_how_to_fetch_them() {
    let out = facerec()
        .args([
            "encode",
            "--json",
            "--models",
            "/nonexistent",
            "testdata/faces/fr/examples/obama_small.jpg",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scripts/fetch-models.sh"));
}

/// face_recognition's two conventions, on a face crossing the left edge
/// (testdata/references/photos.json: `encodings_default` is `face_encodings(img)`,
/// `encodings` is `face_encodings(img, face_locations(img))`): the default reproduces the
/// first, `--known-locations` the second; the box is the clipped one either way.
#[test]
fn encode_follows_either_face_recognition_convention_on_a_border_face() {
    let photo = "fr/tests/test_images/obama_partial_face.jpg";
    let refs: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/photos.json")).unwrap(),
    )
    .unwrap();
    let want = &refs["items"][photo];
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let l2 = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let encode = |extra: &[&str]| -> (serde_json::Value, Vec<f64>) {
        let path = format!("testdata/faces/{photo}");
        let mut args = vec!["encode", "--json", "--no-exif"];
        args.extend_from_slice(extra);
        args.push(&path);
        let out = facerec().args(&args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let faces = line["faces"].as_array().unwrap();
        assert_eq!(faces.len(), 1, "{line}");
        (faces[0]["box"].clone(), floats(&faces[0]["encoding"]))
    };
    let (default_box, default_enc) = encode(&[]);
    let (known_box, known_enc) = encode(&["--known-locations"]);
    assert_eq!(default_box, want["boxes_upsample1"][0]);
    assert_eq!(known_box, want["boxes_upsample1"][0]);
    let d_default = l2(&default_enc, &floats(&want["encodings_default"][0]));
    let d_known = l2(&known_enc, &floats(&want["encodings"][0]));
    assert!(
        d_default <= 0.01,
        "default vs face_encodings(img): {d_default}"
    );
    assert!(
        d_known <= 0.01,
        "--known-locations vs face_encodings(img, face_locations(img)): {d_known}"
    );
    // And the photo does tell the two apart.
    let apart = l2(&default_enc, &known_enc);
    assert!(apart > 0.05, "the two conventions agree here ({apart})");
}
