//! `facerec search NAME DIR`: the photos with that person under DIR (subfolders too), best
//! first, with identify's distances; with `--results`, a run's photos are not detected
//! again and its stored embeddings are what is compared.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use support::*;

/// (file name, distance) per line.
fn hits(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .map(|l| {
            let (path, d) = l.rsplit_once(',').unwrap();
            let name = Path::new(path).file_name().unwrap().to_str().unwrap();
            (name.to_string(), d.parse().unwrap())
        })
        .collect()
}

/// `facerec search obama LIB --gallery GALLERY --results RESULTS`, asserting success.
fn search_obama_reusing(lib: &Path, gallery: &Path, results: &Path) -> Output {
    let o = run(&[
        "search",
        "obama",
        &s(lib),
        "--gallery",
        &s(gallery),
        "--results",
        &s(results),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

#[test]
fn search_lists_the_persons_photos_best_first_and_reuses_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    copy_photos(
        &lib,
        &[
            ("obama2.jpg", "obama2.jpg"),
            ("two_people.jpg", "two_people.jpg"),
            ("biden.jpg", "biden.jpg"),
            ("alex-lacamoire.png", "alex.png"),
        ],
    );
    copy_photos(&lib.join("2009"), &[("obama-480p.jpg", "obama-480p.jpg")]);
    let gallery = known_gallery(tmp.path(), OBAMA_AND_BIDEN);

    let o = run(&["search", "obama", &s(&lib), "--gallery", &s(&gallery)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let found = hits(&stdout(&o));
    let mut files: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    files.sort();
    assert_eq!(files, ["obama-480p.jpg", "obama2.jpg", "two_people.jpg"]);
    assert!(
        found.windows(2).all(|w| w[0].1 <= w[1].1),
        "best first: {found:?}"
    );
    // The distance is identify's for the same face.
    let o = run(&[
        "identify",
        "--show-distance",
        "--gallery",
        &s(&gallery),
        &s(&lib.join("obama2.jpg")),
    ]);
    let line = stdout(&o);
    let identify_d: f64 = line.trim().rsplit_once(',').unwrap().1.parse().unwrap();
    let search_d = found.iter().find(|(f, _)| f == "obama2.jpg").unwrap().1;
    assert_eq!(search_d, identify_d, "{line}");

    // A run of the library, then the same search from its results.
    let results = run_results(tmp.path(), &lib, &gallery);
    let o = search_obama_reusing(&lib, &gallery, &results);
    assert!(
        stderr(&o).contains("5 photos from the run's results, 0 detected afresh"),
        "{}",
        stderr(&o)
    );
    let reused = hits(&stdout(&o));
    assert_eq!(reused.len(), found.len());
    for ((f1, d1), (f2, d2)) in reused.iter().zip(&found) {
        assert_eq!(f1, f2);
        assert!((d1 - d2).abs() < 1e-9, "{f1}: {d1} vs {d2}");
    }

    // A stored embedding is used as it is: give obama2's face Biden's encoding in the
    // results, and obama2 is no longer a photo of Obama.
    let biden: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let biden_enc = biden["entries"][0]["encoding"].clone();
    assert_eq!(biden["entries"][0]["label"], "biden");
    let text = std::fs::read_to_string(&results).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["image"].as_str().unwrap().ends_with("obama2.jpg") {
                v["faces"][0]["embedding"] = biden_enc.clone();
            }
            v.to_string()
        })
        .collect();
    std::fs::write(&results, edited.join("\n") + "\n").unwrap();
    // And a photo changed since the run is detected afresh.
    std::fs::copy(examples().join("obama.jpg"), lib.join("biden.jpg")).unwrap();
    let o = search_obama_reusing(&lib, &gallery, &results);
    assert!(
        stderr(&o).contains("4 photos from the run's results, 1 detected afresh"),
        "{}",
        stderr(&o)
    );
    let mut files: Vec<String> = hits(&stdout(&o)).into_iter().map(|(f, _)| f).collect();
    files.sort();
    assert_eq!(files, ["biden.jpg", "obama-480p.jpg", "two_people.jpg"]);

    let o = run(&["search", "nobody", &s(&lib), "--gallery", &s(&gallery)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nobody named \"nobody\""),
        "{}",
        stderr(&o)
    );
}
