//! `facerec run` end to end: the real binary, real models, the embedded queue and the
//! local worker pool; a re-run adds nothing; a run killed mid-way (SIGKILL) or stopped by
//! Ctrl-C (SIGINT) resumes with every photo exactly once in the results file.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

struct Setup {
    _tmp: tempfile::TempDir,
    photos: PathBuf,
    gallery: PathBuf,
    out: PathBuf,
    state: PathBuf,
}

/// `copies` × (two_people, obama2, obama-240p, alex-lacamoire) and a gallery of obama and biden.
fn setup(copies: usize) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    for i in 0..copies {
        let sub = photos.join(format!("set{i}"));
        copy_photos(
            &sub,
            &[
                ("two_people.jpg", "two_people.jpg"),
                ("obama2.jpg", "obama2.jpg"),
                ("obama-240p.jpg", "obama-240p.jpg"),
                ("alex-lacamoire.png", "alex.png"),
            ],
        );
    }
    let gallery = tmp.path().join("gallery.json");
    let o = run(&[
        "enroll",
        root().join("examples/demo/known").to_str().unwrap(),
        "-o",
        gallery.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    Setup {
        out: tmp.path().join("results.jsonl"),
        state: tmp.path().join("state/run.sqlite"),
        photos,
        gallery,
        _tmp: tmp,
    }
}

impl Setup {
    fn command(&self, workers: &str) -> Command {
        let mut c = facerec();
        c.args([
            "run",
            self.photos.to_str().unwrap(),
            "--gallery",
            self.gallery.to_str().unwrap(),
            "--out",
            self.out.to_str().unwrap(),
            "--state",
            self.state.to_str().unwrap(),
            "--workers",
            workers,
        ]);
        c
    }

    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    fn line_count(&self) -> usize {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Exactly one line per photo, each a result (no errors), names as in the photos.
    fn assert_complete(&self, copies: usize) {
        let lines = self.lines();
        let mut per_image: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for l in &lines {
            per_image
                .entry(l["image"].as_str().unwrap().to_string())
                .or_default()
                .push(l);
        }
        assert_eq!(per_image.len(), 4 * copies, "every photo has a line");
        for (image, ls) in &per_image {
            assert_eq!(ls.len(), 1, "{image} has {} lines", ls.len());
            let l = ls[0];
            assert!(l.get("error").is_none(), "{l}");
            let mut names: Vec<&str> = l["faces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    f["best_match"]["label"]
                        .as_str()
                        .unwrap_or("unknown_person")
                })
                .collect();
            names.sort();
            let expected: &[&str] = match Path::new(image).file_name().unwrap().to_str().unwrap() {
                "two_people.jpg" => &["biden", "obama"],
                "obama2.jpg" | "obama-240p.jpg" => &["obama"],
                "alex.png" => &["unknown_person"],
                other => panic!("unexpected {other}"),
            };
            assert_eq!(names, expected, "{image}");
        }
    }
}

#[test]
fn run_processes_a_folder_once_and_a_rerun_adds_nothing() {
    let s = setup(1);
    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    s.assert_complete(1);
    let summary = stdout(&o);
    assert!(
        summary.contains("4 images: 4 done, 0 dead-lettered"),
        "{summary}"
    );
    assert!(
        summary.contains("faces found: 5 (4 recognised, 1 unknown)"),
        "{summary}"
    );
    assert!(summary.contains("names: biden (1), obama (3)"), "{summary}");
    assert!(
        stderr(&o).contains("[4/4] 100.0%"),
        "progress line: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("img/s"));

    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 processed in this run"),
        "{}",
        stdout(&o)
    );
    assert_eq!(s.line_count(), 4);

    // A photo added later is the only one processed by the next run.
    copy_photos(&s.photos.join("set0"), &[("obama_small.jpg", "new.jpg")]);
    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 images: 5 done"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("1 processed in this run"),
        "{}",
        stdout(&o)
    );
    let last = s.lines().pop().unwrap();
    assert!(last["image"].as_str().unwrap().ends_with("new.jpg"));
    assert_eq!(last["faces"][0]["best_match"]["label"], "obama");

    // A second run on the same state at the same time is refused, not interleaved.
    let lock = std::fs::File::open(s.state.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let o = s.command("1").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another `facerec run`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_with_the_accurate_detector_names_the_same_people() {
    let boxes = |s: &Setup| -> BTreeMap<String, Vec<Value>> {
        s.lines()
            .iter()
            .map(|l| {
                let image = l["image"].as_str().unwrap().rsplit('/').next().unwrap();
                let b = l["faces"].as_array().unwrap().iter();
                (image.to_string(), b.map(|f| f["box"].clone()).collect())
            })
            .collect()
    };
    let hog = setup(1);
    let o = hog.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cnn = setup(1);
    let o = cnn.command("2").args(["--model", "cnn"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    cnn.assert_complete(1);
    // Same people, but another detector's boxes: the option reached the worker.
    assert_ne!(boxes(&hog), boxes(&cnn));
}

/// Start a run, wait until `min_lines` results are written, then send `signal`.
fn interrupt_after(s: &Setup, min_lines: usize, signal: &str) -> std::process::Output {
    let child = s
        .command("1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while s.line_count() < min_lines {
        assert!(t.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

#[test]
fn a_killed_run_resumes_with_nothing_lost_or_duplicated() {
    let copies = 3;
    let s = setup(copies);
    let o = interrupt_after(&s, 2, "-KILL");
    assert_eq!(o.status.code(), None, "killed by the signal");
    let before = s.line_count();
    assert!(
        before >= 2 && before < 4 * copies,
        "killed mid-run: {before} lines"
    );

    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    s.assert_complete(copies);
    let summary = stdout(&o);
    assert!(
        summary.contains(&format!("{} images: {} done", 4 * copies, 4 * copies)),
        "{summary}"
    );
}

#[test]
fn ctrl_c_stops_cleanly_with_exit_130_and_the_same_command_resumes() {
    let copies = 3;
    let s = setup(copies);
    let o = interrupt_after(&s, 1, "-INT");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("run the same command again to resume"));
    let before = s.line_count();
    assert!(before < 4 * copies, "interrupted mid-run: {before} lines");

    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    s.assert_complete(copies);
    assert!(stdout(&o).contains(&format!("{} processed in this run", 4 * copies - before)));
}

#[test]
fn a_rerun_with_other_answer_options_is_refused_not_stale() {
    let s = setup(1);
    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s.line_count(), 4);

    // Another gallery (biden only), same --out and --state: the stored answers name
    // obama, so the run refuses in one line instead of printing them again.
    let known = s.out.with_file_name("biden-only");
    copy_photos(&known, &[("biden.jpg", "biden.jpg")]);
    let o = run(&[
        "enroll",
        known.to_str().unwrap(),
        "-o",
        s.gallery.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = s.command("2").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("facerec: ")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("holds answers made with other options (gallery: "),
        "{err}"
    );
    assert!(!stdout(&o).contains("obama"), "{}", stdout(&o));
    assert_eq!(s.line_count(), 4, "nothing appended");

    // Another tolerance with fresh files is a fresh run: the biden-only gallery answers.
    let out = s.out.with_file_name("other.jsonl");
    let state = s.out.with_file_name("other-state/run.sqlite");
    let o = facerec()
        .args([
            "run",
            s.photos.to_str().unwrap(),
            "--gallery",
            s.gallery.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--tolerance",
            "0.5",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("names: biden (1)"), "{}", stdout(&o));
    // And the first files still refuse a changed tolerance, naming it.
    let mut c = s.command("2");
    c.args(["--tolerance", "0.5"]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("tolerance: 0.6 → 0.5"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn embeddings_go_into_the_lines_only_on_request() {
    let s = setup(1);
    let o = s.command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let faces = |lines: Vec<Value>| -> Vec<Value> {
        lines
            .iter()
            .flat_map(|l| l["faces"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let plain = faces(s.lines());
    assert!(plain.len() >= 4, "{plain:?}");
    assert!(plain.iter().all(|f| f.get("embedding").is_none()));

    // A rerun that asks for embeddings is another answer: refused on the same files …
    let mut c = s.command("2");
    c.arg("--embeddings");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("embeddings: false → true"),
        "{}",
        stderr(&o)
    );

    // … and on fresh ones every face carries its 128 numbers.
    let out = s.out.with_file_name("with-embeddings.jsonl");
    let state = s.out.with_file_name("with-embeddings/run.sqlite");
    let o = facerec()
        .args(["run", s.photos.to_str().unwrap(), "--gallery"])
        .arg(&s.gallery)
        .args(["--embeddings", "--out", out.to_str().unwrap()])
        .args(["--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with = faces(lines);
    assert_eq!(with.len(), plain.len());
    for f in &with {
        let e = f["embedding"].as_array().expect("an embedding");
        assert_eq!(e.len(), 128);
        assert!(e.iter().all(|v| v.as_f64().is_some_and(f64::is_finite)));
    }
}

/// The fields of one CSV line (RFC 4180; no line breaks inside fields in these tests).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[test]
fn csv_has_one_row_per_face_exactly_once_after_a_kill() {
    let copies = 3;
    let s = setup(copies);
    // A comma in a file name: the row must still have 11 fields.
    copy_photos(
        &s.photos.join("set0"),
        &[("obama2.jpg", "obama, again.jpg")],
    );
    let csv = s.out.with_file_name("results.csv");
    let ledger = s.out.with_file_name("results.csv.jsonl");
    let command = |workers: &str| {
        let mut c = facerec();
        c.args(["run", s.photos.to_str().unwrap(), "--gallery"])
            .arg(&s.gallery)
            .args(["--format", "csv", "--out", csv.to_str().unwrap()])
            .args(["--state", s.state.to_str().unwrap(), "--workers", workers]);
        c
    };
    let ledger_lines = || {
        std::fs::read_to_string(&ledger)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let child = command("1").stdout(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while ledger_lines() < 2 {
        assert!(t.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait_with_output();
    assert!(ledger_lines() < 4 * copies + 1, "killed mid-run");

    let o = command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("results: {}", csv.display())));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("image,job_id,face,top,right,bottom,left,name,distance,error,detail")
    );
    let mut per_image: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for l in lines {
        let f = csv_fields(l);
        assert_eq!(f.len(), 11, "{l}");
        per_image.entry(f[0].clone()).or_default().push(f);
    }
    assert_eq!(per_image.len(), 4 * copies + 1, "every photo, once");
    for (image, rows) in &per_image {
        let faces: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
        let expected_faces: Vec<String> = (0..rows.len()).map(|i| i.to_string()).collect();
        assert_eq!(faces, expected_faces, "{image}: each face once, in order");
        assert!(rows
            .iter()
            .all(|r| r[9].is_empty() && r[3].parse::<i64>().is_ok()));
        let mut names: Vec<&str> = rows.iter().map(|r| r[7].as_str()).collect();
        names.sort();
        let expected: &[&str] = match Path::new(image).file_name().unwrap().to_str().unwrap() {
            "two_people.jpg" => &["biden", "obama"],
            "obama2.jpg" | "obama-240p.jpg" | "obama, again.jpg" => &["obama"],
            "alex.png" => &[""],
            other => panic!("unexpected {other}"),
        };
        assert_eq!(names, expected, "{image}");
    }
    // A rerun with nothing to do rewrites the same CSV.
    let o = command("2").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);

    // Embeddings have no CSV columns: refused in one line, before any work.
    let o = command("2").arg("--embeddings").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "facerec: --embeddings needs --format jsonl (CSV rows carry no embeddings)"
    );
}
