//! Runs the real `facerec` binary on committed photos.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn facerec() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_facerec"));
    c.current_dir(root()); // models/ is found as ./models
    c
}

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
        String::from_utf8_lossy(&out.stderr)
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("scripts/fetch-models.sh"));
}
