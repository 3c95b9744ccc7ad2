//! `facerec annotate`: boxed and named copies in the output folder, the originals
//! untouched; names from a gallery or from a run's results.

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

const KNOWN: [u8; 3] = [0, 200, 60];
const UNKNOWN: [u8; 3] = [230, 40, 40];

fn near(got: [u8; 3], want: [u8; 3], slack: i32) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, w)| (g as i32 - w as i32).abs() <= slack)
}

/// Boxes and names `identify --json` gives for `photo`.
fn faces(gallery: &Path, photo: &Path) -> Vec<([i64; 4], String)> {
    let o = run(&["identify", "--json", "--gallery", &s(gallery), &s(photo)]);
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    v["faces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let b = &f["box"];
            let side = |k: &str| b[k].as_i64().unwrap();
            (
                [side("top"), side("right"), side("bottom"), side("left")],
                f["best_match"]["label"]
                    .as_str()
                    .unwrap_or("unknown_person")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn annotated_copies_box_and_name_faces_and_leave_originals_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    copy_photos(
        &photos,
        &[
            ("two_people.jpg", "two_people.jpg"),
            ("alex-lacamoire.png", "alex.png"),
        ],
    );
    let gallery = known_gallery(tmp.path(), OBAMA_AND_BIDEN);
    let originals: Vec<Vec<u8>> = ["two_people.jpg", "alex.png"]
        .iter()
        .map(|f| std::fs::read(photos.join(f)).unwrap())
        .collect();

    let out = tmp.path().join("annotated");
    let o = run(&[
        "annotate",
        "--gallery",
        &s(&gallery),
        &s(&photos),
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (f, bytes) in ["two_people.jpg", "alex.png"].iter().zip(&originals) {
        assert_eq!(
            &std::fs::read(photos.join(f)).unwrap(),
            bytes,
            "{f} untouched"
        );
    }
    // PNG in, PNG out: exact colours. Alex is unknown: a red box.
    let alex = image::open(out.join("alex.png")).unwrap().to_rgb8();
    let original = image::open(photos.join("alex.png")).unwrap().to_rgb8();
    assert_eq!(alex.dimensions(), original.dimensions());
    let alex_faces = faces(&gallery, &photos.join("alex.png"));
    assert_eq!(alex_faces.len(), 1);
    let ([t, r, b, l], _) = alex_faces[0];
    let mid = ((l + r) / 2) as u32;
    assert_eq!(alex.get_pixel(mid, t as u32).0, UNKNOWN);
    assert_eq!(alex.get_pixel(l as u32, ((t + b) / 2) as u32).0, UNKNOWN);
    // The label band under the box holds white text on red.
    let band: Vec<[u8; 3]> = (b as u32 + 3..b as u32 + 12)
        .flat_map(|y| (l as u32..l as u32 + 40).map(move |x| (x, y)))
        .map(|(x, y)| alex.get_pixel(x, y).0)
        .collect();
    assert!(band.contains(&[255, 255, 255]), "white letters");
    assert!(band.contains(&UNKNOWN), "red band");
    // Inside the box the photo is as it was.
    let inner = (mid, ((t + b) / 2) as u32);
    assert_eq!(
        alex.get_pixel(inner.0, inner.1),
        original.get_pixel(inner.0, inner.1)
    );

    // JPEG: both faces named, so green boxes (within JPEG's loss).
    let two = image::open(out.join("two_people.jpg")).unwrap().to_rgb8();
    let two_faces = faces(&gallery, &photos.join("two_people.jpg"));
    assert_eq!(two_faces.len(), 2);
    for ([t, r, _, l], name) in &two_faces {
        assert_ne!(name, "unknown_person");
        let px = two.get_pixel(((l + r) / 2) as u32, *t as u32).0;
        assert!(near(px, KNOWN, 60), "{name}: {px:?}");
    }

    // The output folder may not be where the photos are: nothing is overwritten.
    let o = run(&["annotate", &s(&photos.join("alex.png")), "-o", &s(&photos)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would overwrite the original"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(photos.join("alex.png")).unwrap(),
        originals[1]
    );

    // From a run's results: its boxes and names, no gallery needed.
    let results = run_results(tmp.path(), &photos, &gallery);
    let from_run = tmp.path().join("from-run");
    let o = run(&["annotate", "--results", &s(&results), "-o", &s(&from_run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alex_run = image::open(from_run.join("alex.png")).unwrap().to_rgb8();
    assert_eq!(
        alex_run, alex,
        "the run's box and verdict draw the same picture"
    );
}
