//! `facerec cluster` end to end on dlib's own clustering photos (testdata/faces/dlib/johns:
//! five Johns, four photos each): the groups are the people, as
//! `dlib.chinese_whispers_clustering` groups them (testdata/references/clusters.json);
//! then a run's unknown faces are clustered and one cluster is named into the gallery.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use support::*;

/// The Johns' photos copied flat into `dir` as `PERSON__FILE`, in dlib's order.
fn johns(dir: &Path, people: usize, per_person: usize) -> Vec<(String, PathBuf)> {
    std::fs::create_dir_all(dir).unwrap();
    let src = root().join("testdata/faces/dlib/johns");
    let mut persons: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    persons.sort();
    let mut out = Vec::new();
    for person in persons.iter().take(people) {
        let mut files: Vec<_> = std::fs::read_dir(src.join(person))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        for f in files.iter().take(per_person) {
            let to = dir.join(format!("{person}__{f}"));
            std::fs::copy(src.join(person).join(f), &to).unwrap();
            out.push((person.clone(), to));
        }
    }
    out
}

fn person_of(file: &str) -> String {
    let name = Path::new(file).file_name().unwrap().to_str().unwrap();
    name.split("__").next().unwrap().to_string()
}

fn clusters(out: &Path) -> Vec<Value> {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("clusters.json")).unwrap()).unwrap();
    assert_eq!(doc["format"], "facerec-clusters");
    doc["clusters"].as_array().unwrap().clone()
}

#[test]
fn the_johns_cluster_into_the_five_people_dlib_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    johns(&photos, 5, 4);
    let out = tmp.path().join("out");
    let o = run(&[
        "cluster",
        photos.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = clusters(&out);
    // dlib's labels for the same 20 faces (the reference lists the Johns first, sorted).
    let refs: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/clusters.json")).unwrap(),
    )
    .unwrap();
    let run05 = refs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["threshold"] == 0.5)
        .unwrap();
    let mut dlib_groups: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (face, label) in refs["faces"]
        .as_array()
        .unwrap()
        .iter()
        .zip(run05["labels"].as_array().unwrap())
    {
        let file = face["file"].as_str().unwrap();
        if let Some(rest) = file.strip_prefix("testdata/faces/dlib/johns/") {
            let (person, f) = rest.split_once('/').unwrap();
            dlib_groups
                .entry(label.as_u64().unwrap())
                .or_default()
                .insert(format!("{person}__{f}"));
        }
    }
    let ours: BTreeSet<BTreeSet<String>> = got
        .iter()
        .map(|c| {
            c["faces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let p = f["file"].as_str().unwrap();
                    Path::new(p)
                        .file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        })
        .collect();
    let theirs: BTreeSet<BTreeSet<String>> = dlib_groups.into_values().collect();
    assert_eq!(ours, theirs);
    assert_eq!(got.len(), 5, "five people");
    for c in &got {
        let people: BTreeSet<String> = c["faces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| person_of(f["file"].as_str().unwrap()))
            .collect();
        assert_eq!(people.len(), 1, "one person per cluster: {people:?}");
        assert_eq!(c["size"], 4);
        assert_eq!(c["faces"][0]["encoding"].as_array().unwrap().len(), 128);
        // A contact sheet of the four faces in one row: 4 × (96 + 4) + 4 wide.
        let sheet = image::open(out.join(c["sheet"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        assert_eq!((sheet.width(), sheet.height()), (404, 104));
        // Not the background everywhere: faces were drawn into it.
        let centre = sheet.get_pixel(4 + 48, 4 + 48).0;
        assert_ne!(centre, [40, 40, 40]);
    }
}

#[test]
fn a_runs_unknown_faces_cluster_and_a_cluster_joins_the_gallery() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    // Two Johns, three photos each, plus Obama (in the gallery) and Obama with Biden.
    let files = johns(&photos, 2, 4);
    let held_out: Vec<(String, PathBuf)> = files
        .iter()
        .filter(|(_, p)| p.to_str().unwrap().ends_with(".jpg"))
        .cloned()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c[3].clone())
        .collect();
    let aside = tmp.path().join("aside");
    std::fs::create_dir_all(&aside).unwrap();
    for (_, p) in &held_out {
        std::fs::rename(p, aside.join(p.file_name().unwrap())).unwrap();
    }
    copy_photos(
        &photos,
        &[
            ("obama2.jpg", "obama2.jpg"),
            ("two_people.jpg", "two_people.jpg"),
        ],
    );
    let gallery = known_gallery(tmp.path(), &[("obama.jpg", "obama.jpg")]);
    let results = run_results(tmp.path(), &photos, &gallery);

    let out = tmp.path().join("clusters");
    let o = run(&["cluster", "--results", &s(&results), "-o", &s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = clusters(&out);
    let sizes: Vec<u64> = got.iter().map(|c| c["size"].as_u64().unwrap()).collect();
    // The Johns (3 + 3) and Biden; Obama's two faces were named by the run.
    assert_eq!(sizes, [3, 3, 1], "{got:?}");
    let files: Vec<&str> = got
        .iter()
        .flat_map(|c| c["faces"].as_array().unwrap())
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(
        !files.iter().any(|f| f.ends_with("obama2.jpg")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("two_people.jpg")),
        "{files:?}"
    );

    // Name cluster 0 after its person; their held-out photo is then recognised.
    let person = person_of(got[0]["faces"][0]["file"].as_str().unwrap());
    let before: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let o = run(&[
        "cluster",
        "name",
        "0",
        &person,
        "--gallery",
        &s(&gallery),
        "--clusters",
        &s(&out.join("clusters.json")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let entries = after["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        before["entries"].as_array().unwrap().len() + 3
    );
    assert_eq!(
        entries[0], before["entries"][0],
        "obama's entry kept as it was"
    );
    let held = &held_out.iter().find(|(p, _)| *p == person).unwrap().1;
    let held = aside.join(held.file_name().unwrap());
    let o = run(&["identify", "--gallery", &s(&gallery), &s(&held)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), format!("{},{person}", s(&held)));

    // A cluster that is not there: one line, gallery unchanged.
    let o = run(&[
        "cluster",
        "name",
        "9",
        "x",
        "--gallery",
        &s(&gallery),
        "--clusters",
        &s(&out.join("clusters.json")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no cluster 9"), "{}", stderr(&o));
    assert_eq!(
        serde_json::from_slice::<Value>(&std::fs::read(&gallery).unwrap()).unwrap(),
        after
    );
}
