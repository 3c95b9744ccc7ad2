//! Bad input, end to end: every bad file is one error line naming it, the exit code is the
//! documented one (docs/cli.md), and the rest of the batch is still processed.

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

/// A folder of known people and one of mixed good and bad photos.
fn fixture(dir: &Path) {
    copy_photos(&dir.join("known"), &[("obama.jpg", "obama.jpg")]);
    let bad = dir.join("bad");
    copy_photos(&bad, &[("obama2.jpg", "good.jpg")]);
    std::fs::write(bad.join("notes.jpg"), "this is text, not a photo\n").unwrap();
    let jpeg = std::fs::read(examples().join("obama_small.jpg")).unwrap();
    std::fs::write(bad.join("truncated.jpg"), &jpeg[..300]).unwrap();
    std::fs::write(bad.join("huge.jpg"), huge_jpeg(60_000)).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
}

#[test]
fn identify_reports_each_bad_input_on_one_line_and_finishes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let o = run(&[
        "identify",
        &p("known"),
        &p("bad/notes.jpg"),
        &p("missing.jpg"),
        &p("bad/good.jpg"),
        &p("bad/truncated.jpg"),
        &p("empty"),
        &p("bad/huge.jpg"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), pairs(&[("good.jpg", "obama")]));
    let err = stderr(&o);
    let lines = error_lines(&err);
    assert_eq!(lines.len(), 5, "{err}");
    let line_for = |name: &str| {
        lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no error line naming {name}: {err}"))
            .to_string()
    };
    assert!(line_for("notes.jpg").contains("unsupported image format"));
    assert!(line_for("missing.jpg").contains("no such file"));
    assert!(line_for("empty").contains("no images"));
    assert!(line_for("huge.jpg").contains("over the limit"));
    assert!(line_for("truncated.jpg").contains("corrupt or truncated"));
}

#[test]
fn a_gallery_of_another_version_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let gallery = tmp.path().join("g.json");
    enroll_ok(tmp.path().join("known"), &gallery);
    let text = std::fs::read_to_string(&gallery).unwrap();
    let v2 = tmp.path().join("v2.json");
    std::fs::write(&v2, text.replace(r#""version":1"#, r#""version":2"#)).unwrap();
    for cmd in ["identify", "run"] {
        let args: Vec<String> = match cmd {
            "identify" => vec![
                "identify".into(),
                "--gallery".into(),
                v2.display().to_string(),
                tmp.path().join("bad/good.jpg").display().to_string(),
            ],
            _ => vec![
                "run".into(),
                tmp.path().join("bad").display().to_string(),
                "--gallery".into(),
                v2.display().to_string(),
                "--state".into(),
                tmp.path().join("s.sqlite").display().to_string(),
                "--out".into(),
                tmp.path().join("r.jsonl").display().to_string(),
            ],
        };
        let o = facerec().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains("v2.json") && err.contains("version 2"),
            "{cmd}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
    assert!(!tmp.path().join("r.jsonl").exists(), "nothing was run");
}

#[test]
fn empty_and_missing_folders_are_fatal_for_enroll_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let empty = tmp.path().join("empty").display().to_string();
    let out = tmp.path().join("g.json").display().to_string();
    for args in [
        vec!["enroll", &empty, "-o", &out],
        vec!["run", &empty, "--state", "/nonexistent-dir-never/x.sqlite"],
        vec!["enroll", "/no/such/folder", "-o", &out],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(args[1]), "{err}");
    }
}

#[test]
fn run_dead_letters_bad_photos_with_reasons_and_finishes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let bad = tmp.path().join("bad");
    copy_photos(&bad, &[("obama.jpg", "big-file.jpg")]);
    std::fs::write(bad.join("readme.txt"), "not a photo").unwrap();
    let gallery = tmp.path().join("g.json");
    enroll_ok(tmp.path().join("known"), &gallery);
    let results = tmp.path().join("r.jsonl");
    let o = run(&[
        "run",
        bad.to_str().unwrap(),
        "--gallery",
        gallery.to_str().unwrap(),
        "--out",
        results.to_str().unwrap(),
        "--state",
        tmp.path().join("state/run.sqlite").to_str().unwrap(),
        "--max-image-bytes",
        "200KiB",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines: Vec<Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_file = |name: &str| {
        lines
            .iter()
            .find(|l| l["image"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no line for {name}"))
    };
    assert_eq!(lines.len(), 5, "one line per photo: {lines:?}");
    assert_eq!(
        by_file("good.jpg")["faces"][0]["best_match"]["label"],
        "obama"
    );
    assert_eq!(by_file("notes.jpg")["error"]["code"], "unsupported_format");
    assert_eq!(by_file("huge.jpg")["error"]["code"], "decompression_bomb");
    assert_eq!(by_file("big-file.jpg")["error"]["code"], "oversized_image");
    assert_eq!(by_file("truncated.jpg")["error"]["code"], "corrupt_image");
    let summary = stdout(&o);
    assert!(
        summary.contains("5 images: 1 done, 4 dead-lettered"),
        "{summary}"
    );
    assert!(summary.contains("names: obama (1)"), "{summary}");
    for reason in [
        "notes.jpg: unsupported_format",
        "truncated.jpg: corrupt_image",
        "huge.jpg: decompression_bomb",
        "big-file.jpg: oversized_image",
    ] {
        assert!(summary.contains(reason), "{reason}: {summary}");
    }
    let err = stderr(&o);
    // A file that is not a photo is a warning, not a failed input.
    assert!(error_lines(&err).is_empty(), "{err}");
    assert!(
        err.lines().any(|l| l
            == format!(
                "WARNING: {}: skipped: not an image file (.jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff)",
                bad.join("readme.txt").display()
            )),
        "{err}"
    );
    assert!(
        summary.contains("1 file(s) skipped: not image files"),
        "{summary}"
    );
}

#[test]
fn detect_reports_each_bad_input_on_one_line_and_prints_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let o = run(&[
        "detect",
        "--cpus",
        "2",
        &p("bad/notes.jpg"),
        &p("missing.png"),
        &p("bad/good.jpg"),
        &p("bad/truncated.jpg"),
        &p("empty"),
        &p("bad/huge.jpg"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let boxes: Vec<&str> = out.lines().collect();
    assert_eq!(boxes.len(), 1, "one face in good.jpg: {out}");
    assert!(
        boxes[0].starts_with(&format!("{},", p("bad/good.jpg"))),
        "{out}"
    );
    assert_eq!(boxes[0].split(',').count(), 5, "{out}");
    let err = stderr(&o);
    let lines = error_lines(&err);
    assert_eq!(lines.len(), 5, "{err}");
    for (file, why) in [
        ("notes.jpg", "unsupported image format"),
        ("missing.png", "no such file"),
        ("truncated.jpg", "corrupt or truncated"),
        ("empty", "no images"),
        ("huge.jpg", "over the limit"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(file) && l.contains(why)),
            "{file}: {why}: {err}"
        );
    }
}

#[test]
fn a_bad_photo_among_the_known_people_is_one_error_line_and_the_rest_is_enrolled() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let known = tmp.path().join("known");
    std::fs::write(known.join("notes.jpg"), "text, not a photo").unwrap();
    let jpeg = std::fs::read(examples().join("biden.jpg")).unwrap();
    std::fs::write(known.join("biden.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    let jpeg = std::fs::read(examples().join("obama_small.jpg")).unwrap();
    std::fs::write(known.join("broken.jpg"), &jpeg[..300]).unwrap();
    let gallery = tmp.path().join("g.json");
    let o = enroll(&known, &gallery);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let lines = error_lines(&err);
    // notes.jpg, broken.jpg, and biden.jpg cut in half: refused as truncated, as
    // face_recognition (Pillow) refuses it, rather than padded with grey.
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("notes.jpg") && l.contains("unsupported")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("biden.jpg") && l.contains("truncated")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("broken.jpg") && l.contains("corrupt")),
        "{err}"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&gallery).unwrap()).unwrap();
    let mut labels: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, ["obama"], "{err}");

    let o = run(&[
        "identify",
        known.to_str().unwrap(),
        &tmp.path().join("bad/good.jpg").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(names(&stdout(&o)), pairs(&[("good.jpg", "obama")]));
    assert_eq!(error_lines(&stderr(&o)).len(), 3, "{}", stderr(&o));
}

#[test]
fn run_on_a_missing_folder_is_fatal_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-photos").display().to_string();
    let state = tmp.path().join("s/run.sqlite").display().to_string();
    let out = tmp.path().join("r.jsonl");
    let o = run(&[
        "run",
        &missing,
        "--state",
        &state,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        format!("facerec: {missing}: no such file or directory")
    );
    assert!(
        !out.exists() && !tmp.path().join("s").exists(),
        "nothing created"
    );
}

#[test]
fn other_files_beside_the_photos_are_warnings_and_leave_the_exit_code_at_0() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = photo_and_notes(tmp.path(), "obama_small.jpg");
    std::fs::write(photos.join("clip.mov"), "not a photo either").unwrap();
    let out = tmp.path().join("r.jsonl");
    let o = run(&[
        "run",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--state",
        tmp.path().join("s/run.sqlite").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(error_lines(&err).is_empty(), "{err}");
    for f in ["notes.txt", "clip.mov"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("WARNING: ") && l.contains(f) && l.contains("skipped")),
            "{f}: {err}"
        );
    }
    assert!(
        stdout(&o).contains("2 file(s) skipped: not image files"),
        "{}",
        stdout(&o)
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 1, "only the photo is a job: {lines}");
}
