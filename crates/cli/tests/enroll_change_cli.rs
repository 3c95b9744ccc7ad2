//! `facerec enroll --add NAME PHOTO…` / `--remove NAME`: one person changes, every other
//! entry stays exactly as it was — not re-encoded (an entry altered by hand survives, and
//! the original photos may be gone).

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

fn entries(gallery: &Path) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&std::fs::read(gallery).unwrap()).unwrap();
    doc["entries"].as_array().unwrap().clone()
}

/// (label, encoding as the f32s it stands for, source): what must survive a rewrite.
fn kept(e: &[Value]) -> Vec<(String, Vec<f32>, String)> {
    e.iter()
        .map(|e| {
            (
                e["label"].as_str().unwrap().to_string(),
                serde_json::from_value(e["encoding"].clone()).unwrap(),
                e["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn labels(e: &[Value]) -> Vec<&str> {
    e.iter().map(|e| e["label"].as_str().unwrap()).collect()
}

/// `facerec identify --gallery GALLERY PHOTO`'s (file name, name) pairs.
fn identified(gallery: &str, photo: &str) -> Vec<(String, String)> {
    names(&stdout(&run(&["identify", "--gallery", gallery, photo])))
}

#[test]
fn add_and_remove_change_one_person_only() {
    let tmp = tempfile::tempdir().unwrap();
    let gallery = known_gallery(tmp.path(), OBAMA_AND_BIDEN);
    let known = tmp.path().join("known");
    let g = gallery.to_str().unwrap();

    // Alter obama's encoding by hand and delete the known photos: a re-encode would undo
    // the first and fail on the second.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let altered = doc["entries"][1]["encoding"][0].as_f64().unwrap() as f32 + 0.001;
    doc["entries"][1]["encoding"][0] = serde_json::json!(altered);
    std::fs::write(&gallery, doc.to_string()).unwrap();
    std::fs::remove_dir_all(&known).unwrap();
    let before = entries(&gallery);
    assert_eq!(labels(&before), ["biden", "obama"]);

    let o = run(&[
        "enroll",
        "--gallery",
        g,
        "--add",
        "alex",
        "testdata/faces/fr/examples/alex-lacamoire.png",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after_add = entries(&gallery);
    assert_eq!(labels(&after_add), ["biden", "obama", "alex"]);
    assert_eq!(
        kept(&after_add[..2]),
        kept(&before),
        "the others bit for bit, sources included"
    );
    assert_eq!(
        after_add[1]["encoding"][0].as_f64().unwrap() as f32,
        altered
    );
    assert_eq!(
        after_add[2]["source"],
        "testdata/faces/fr/examples/alex-lacamoire.png"
    );
    assert_eq!(
        identified(
            g,
            "testdata/faces/fr/examples/knn_examples/test/alex_lacamoire1.jpg"
        ),
        pairs(&[("alex_lacamoire1.jpg", "alex")])
    );

    let o = run(&["enroll", "-o", g, "--remove", "biden"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after_remove = entries(&gallery);
    assert_eq!(labels(&after_remove), ["obama", "alex"]);
    assert_eq!(kept(&after_remove), kept(&after_add[1..]));
    assert_eq!(
        identified(g, "testdata/faces/fr/examples/biden.jpg"),
        pairs(&[("biden.jpg", "unknown_person")])
    );
}

#[test]
fn a_change_that_cannot_be_made_leaves_the_gallery_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let gallery = tmp.path().join("gallery.json");
    let g = gallery.to_str().unwrap();
    // --add creates a gallery that does not exist yet.
    let o = run(&[
        "enroll",
        "-o",
        g,
        "--add",
        "obama",
        "testdata/faces/fr/examples/obama.jpg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&gallery).unwrap();

    for (args, says) in [
        (vec!["--remove", "nobody"], "nobody named \"nobody\""),
        // Two faces: which one is the person is ambiguous, so none is taken.
        (
            vec!["--add", "kit", "testdata/faces/fr/examples/two_people.jpg"],
            "no usable face of kit",
        ),
        (vec!["--add", "x"], "needs at least one PHOTO"),
        (vec!["--remove", "obama"], "would be empty"),
    ] {
        let mut full = vec!["enroll", "-o", g];
        full.extend(&args);
        let o = run(&full);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert_eq!(std::fs::read(&gallery).unwrap(), bytes, "{args:?}");
    }
}
