//! `facerec enroll`, `identify` and `detect` end to end: the real binary, real models and
//! the committed photos, checked against who is in them (testdata/faces/SOURCES.md) and
//! against face_recognition's own boxes (testdata/references/photos.json).

mod support;

use serde_json::Value;
use support::*;

#[test]
fn enroll_then_identify_names_obama_and_biden_like_face_recognition() {
    let tmp = tempfile::tempdir().unwrap();
    let gallery = known_gallery(tmp.path(), OBAMA_AND_BIDEN);
    let known = tmp.path().join("known");
    let doc: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    assert_eq!(doc["format"], "facerec-gallery");
    assert_eq!(doc["version"], 1);
    assert_eq!(gallery_labels(&gallery), ["biden", "obama"]);

    let unknown = [
        "testdata/faces/fr/examples/two_people.jpg",
        "testdata/faces/fr/examples/obama2.jpg",
        "testdata/faces/fr/examples/lin-manuel-miranda.png",
        "testdata/faces/dlib/faces/dogs.jpg",
    ];
    let expected = pairs(&[
        ("two_people.jpg", "biden"),
        ("two_people.jpg", "obama"),
        ("obama2.jpg", "obama"),
        ("lin-manuel-miranda.png", "unknown_person"),
        ("dogs.jpg", "no_persons_found"),
    ]);
    let mut with_gallery = vec!["identify", "--gallery", gallery.to_str().unwrap()];
    with_gallery.extend(unknown);
    let o = run(&with_gallery);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), expected);
    // Paths are printed as given, as face_recognition does.
    assert!(stdout(&o).starts_with("testdata/faces/fr/examples/two_people.jpg,"));

    // face_recognition's own form, KNOWN_DIR first, gives the same lines.
    let mut with_dir = vec!["identify", known.to_str().unwrap()];
    with_dir.extend(unknown);
    let o2 = run(&with_dir);
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert_eq!(stdout(&o2), stdout(&o));

    // --show-distance, in face_recognition's spelling: a third column.
    let o = run(&[
        "identify",
        "--show-distance",
        "true",
        known.to_str().unwrap(),
        "testdata/faces/fr/examples/obama2.jpg",
        "testdata/faces/fr/examples/lin-manuel-miranda.png",
    ]);
    let text = stdout(&o);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0][1], "obama");
    let d: f32 = lines[0][2].parse().unwrap();
    assert!(d > 0.0 && d <= 0.6, "{d}");
    assert_eq!(&lines[1][1..], ["unknown_person", "None"]);

    // A strict tolerance turns the same face into an unknown person.
    let o = run(&[
        "identify",
        "--tolerance",
        &format!("{}", d * 0.5),
        "--gallery",
        gallery.to_str().unwrap(),
        "testdata/faces/fr/examples/obama2.jpg",
    ]);
    assert_eq!(
        names(&stdout(&o)),
        pairs(&[("obama2.jpg", "unknown_person")])
    );

    // --json: one object per photo, in the job result's face schema.
    let o = run(&[
        "identify",
        "--json",
        "--cpus",
        "1",
        "--gallery",
        gallery.to_str().unwrap(),
        "testdata/faces/fr/examples/two_people.jpg",
    ]);
    let line: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let mut found: Vec<&str> = line["faces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["best_match"]["label"].as_str().unwrap())
        .collect();
    found.sort();
    assert_eq!(found, ["biden", "obama"]);
    let face = &line["faces"][0];
    let b = &face["box"];
    assert!(b["right"].as_i64() > b["left"].as_i64() && b["bottom"].as_i64() > b["top"].as_i64());
    assert_eq!(face["nearest"][0], face["best_match"], "{face}");
}

#[test]
fn subfolders_enroll_several_photos_per_person() {
    let tmp = tempfile::tempdir().unwrap();
    let gallery = tmp.path().join("g.json");
    enroll_ok("testdata/faces/fr/examples/knn_examples/train", &gallery);
    let doc: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let count = |who: &str| {
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["label"] == who)
            .count()
    };
    assert_eq!(count("kit_harington"), 2);
    assert_eq!(count("rose_leslie"), 2);
    let o = run(&[
        "identify",
        "--gallery",
        gallery.to_str().unwrap(),
        "testdata/faces/fr/examples/knn_examples/test",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&stdout(&o)),
        // face_recognition finds 1, 1, 2, 1 and 3 faces in these; Obama and the third
        // person in obama_and_biden.jpg have no folder in train/.
        pairs(&[
            ("alex_lacamoire1.jpg", "alex_lacamoire"),
            ("johnsnow_test1.jpg", "kit_harington"),
            ("kit_with_rose.jpg", "kit_harington"),
            ("kit_with_rose.jpg", "rose_leslie"),
            ("obama1.jpg", "unknown_person"),
            ("obama_and_biden.jpg", "biden"),
            ("obama_and_biden.jpg", "unknown_person"),
            ("obama_and_biden.jpg", "unknown_person"),
        ])
    );
}

#[test]
fn detect_prints_face_detections_lines_and_boxes() {
    let refs: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/photos.json")).unwrap(),
    )
    .unwrap();
    let o = run(&[
        "detect",
        "testdata/faces/fr/examples/two_people.jpg",
        "testdata/faces/fr/examples/obama_small.jpg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut expected = String::new();
    for f in ["two_people.jpg", "obama_small.jpg"] {
        // face_detection upsamples 0 times by default.
        for b in refs["items"][format!("fr/examples/{f}")]["boxes_upsample0"]
            .as_array()
            .unwrap()
        {
            let b: Vec<String> = b
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            expected.push_str(&format!("testdata/faces/fr/examples/{f},{}\n", b.join(",")));
        }
    }
    assert_eq!(expected.lines().count(), 3);
    assert_eq!(stdout(&o), expected);

    // --json: the same boxes in the job result's face schema.
    let o = run(&[
        "detect",
        "--json",
        "testdata/faces/fr/examples/obama_small.jpg",
    ]);
    let line: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let want = &refs["items"]["fr/examples/obama_small.jpg"]["boxes_upsample0"][0];
    let b = &line["faces"][0]["box"];
    assert_eq!(
        [&b["top"], &b["right"], &b["bottom"], &b["left"]].map(|v| v.as_i64()),
        [0, 1, 2, 3].map(|i| want[i].as_i64()),
        "{line}"
    );
}

#[test]
fn enroll_warns_about_known_photos_with_no_face_or_several_as_face_recognition() {
    let tmp = tempfile::tempdir().unwrap();
    let known = tmp.path().join("known");
    copy_photos(
        &known,
        &[("obama.jpg", "obama.jpg"), ("two_people.jpg", "pair.jpg")],
    );
    std::fs::copy(
        root().join("testdata/faces/dlib/faces/dogs.jpg"),
        known.join("dogs.jpg"),
    )
    .unwrap();
    let gallery = tmp.path().join("g.json");
    let o = enroll(&known, &gallery);
    assert!(
        o.status.success(),
        "warnings are not failures: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    let k = known.display();
    for w in [
        format!(
            "WARNING: More than one face found in {k}/pair.jpg. Only considering the first face."
        ),
        format!("WARNING: No faces found in {k}/dogs.jpg. Ignoring file."),
    ] {
        assert!(err.lines().any(|l| l == w), "{w:?} in\n{err}");
    }
    assert_eq!(gallery_labels(&gallery), ["obama", "pair"]);
}

/// examples/demo/photos/biden-phone.jpg is stored sideways with EXIF Orientation 6, as a
/// phone writes it. facerec turns it upright by default; `--no-exif` reads the pixels as
/// stored, as face_recognition does (its CLIs find nobody there:
/// testdata/references/cli.json).
#[test]
fn rotated_phone_photos_are_turned_upright_unless_no_exif() {
    let phone = "examples/demo/photos/biden-phone.jpg";
    let o = run(&["identify", "examples/demo/known", phone]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), pairs(&[("biden-phone.jpg", "biden")]));
    let o = run(&["identify", "--no-exif", "examples/demo/known", phone]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        names(&stdout(&o)),
        pairs(&[("biden-phone.jpg", "no_persons_found")])
    );

    // detect: boxes in the upright picture (640×640 either way round), none without EXIF.
    let o = run(&["detect", "--upsample", "1", phone]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    let b: Vec<i64> = out
        .trim()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let (top, right, bottom, left) = (b[0], b[1], b[2], b[3]);
    assert!(top < bottom && left < right, "{out}");
    // Upright, the face sits in the upper half of the head-and-shoulders picture.
    assert!(bottom < 400, "{out}");
    let o = run(&["detect", "--upsample", "1", "--no-exif", phone]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

/// `--model retinaface` (or face_recognition's `cnn`) finds what HOG cannot and names it
/// against a gallery enrolled with HOG: a group photo shrunk until its faces are ~20 px.
#[test]
fn the_accurate_detector_finds_small_faces_and_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let known = tmp.path().join("known");
    copy_photos(&known, OBAMA_AND_BIDEN);
    let people = facerec_engine::load_image(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/faces/fr/examples/two_people.jpg"),
        &facerec_engine::LoadOptions::default(),
    )
    .unwrap();
    let small = image::imageops::resize(
        &people,
        people.width() / 6,
        people.height() / 6,
        image::imageops::FilterType::Triangle,
    );
    let photo = tmp.path().join("small.png");
    small.save(&photo).unwrap();
    let photo = photo.to_str().unwrap();
    let hog = run(&["identify", known.to_str().unwrap(), photo]);
    assert!(hog.status.success(), "{}", stderr(&hog));
    for model in ["retinaface", "cnn"] {
        let o = run(&["identify", "--model", model, known.to_str().unwrap(), photo]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            names(&stdout(&o)),
            pairs(&[("small.png", "biden"), ("small.png", "obama")]),
            "--model {model}"
        );
        let d = run(&["detect", "--model", model, photo]);
        assert_eq!(stdout(&d).lines().count(), 2, "{}", stdout(&d));
    }
    assert_ne!(
        names(&stdout(&hog)),
        pairs(&[("small.png", "biden"), ("small.png", "obama")]),
        "HOG should miss faces this small"
    );
}

#[test]
fn csv_lines_quote_a_path_with_a_comma_and_folders_name_what_they_skip() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_and_notes(tmp.path(), "obama, 2008.jpg");
    let o = run(&["detect", photos.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let quoted = format!("\"{}\",", photos.join("obama, 2008.jpg").display());
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with(&quoted), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "WARNING: {}: skipped: not an image file",
            photos.join("notes.txt").display()
        )),
        "{err}"
    );
}
