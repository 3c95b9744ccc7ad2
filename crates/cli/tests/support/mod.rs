//! Shared by the `facerec` end-to-end tests: the real binary run from the repository root
//! (so `models/` and the committed photos are found), and small helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn examples() -> PathBuf {
    root().join("testdata/faces/fr/examples")
}

pub fn facerec() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_facerec"));
    c.current_dir(root());
    c
}

pub fn run(args: &[&str]) -> Output {
    facerec().args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `path,name` lines → (file name, name) pairs, sorted.
pub fn names(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let mut parts = l.split(',');
            let path = parts.next().unwrap();
            let name = parts.next().unwrap_or_else(|| panic!("no name in {l:?}"));
            let file = Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, name.to_string())
        })
        .collect();
    v.sort();
    v
}

pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// Obama's and Biden's committed photos under their own names, for `copy_photos`.
pub const OBAMA_AND_BIDEN: &[(&str, &str)] =
    &[("obama.jpg", "obama.jpg"), ("biden.jpg", "biden.jpg")];

/// Copy committed photos into `dir` (created), optionally renamed.
pub fn copy_photos(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (from, to) in files {
        std::fs::copy(examples().join(from), dir.join(to)).unwrap();
    }
}

/// A JPEG whose header claims `side`×`side` pixels (the SOF dimensions patched): the
/// decompression-bomb shape, refused before any pixel is decoded.
pub fn huge_jpeg(side: u16) -> Vec<u8> {
    let mut b = std::fs::read(examples().join("obama_small.jpg")).unwrap();
    let sof = (0..b.len() - 9)
        .find(|&i| b[i] == 0xFF && matches!(b[i + 1], 0xC0 | 0xC2))
        .expect("a SOF marker");
    b[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    b
}

/// A path as the `String` an argument list takes.
pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `facerec enroll KNOWN -o GALLERY`; the caller checks how it went.
pub fn enroll(known: impl AsRef<Path>, gallery: &Path) -> Output {
    run(&[
        "enroll",
        known.as_ref().to_str().unwrap(),
        "-o",
        gallery.to_str().unwrap(),
    ])
}

/// `facerec enroll KNOWN -o GALLERY`, asserting that it succeeded; its output.
pub fn enroll_ok(known: impl AsRef<Path>, gallery: &Path) -> Output {
    let o = enroll(known, gallery);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// The committed `photos` copied into `dir/known` (as `copy_photos` names them) and
/// enrolled into `dir/gallery.json`, asserting success; the gallery's path.
pub fn known_gallery(dir: &Path, photos: &[(&str, &str)]) -> PathBuf {
    let known = dir.join("known");
    copy_photos(&known, photos);
    let gallery = dir.join("gallery.json");
    enroll_ok(&known, &gallery);
    gallery
}

/// `facerec run PHOTOS --gallery GALLERY` into `dir/results.jsonl` (its state in
/// `dir/state/run.sqlite`), asserting success; the results' path.
pub fn run_results(dir: &Path, photos: &Path, gallery: &Path) -> PathBuf {
    let results = dir.join("results.jsonl");
    let o = run(&[
        "run",
        &s(photos),
        "--gallery",
        &s(gallery),
        "--out",
        &s(&results),
        "--state",
        &s(&dir.join("state/run.sqlite")),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    results
}

/// `dir/photos` holding the committed `obama_small.jpg` as `name` and a `notes.txt` that
/// is not a photo; the folder's path.
pub fn photo_and_notes(dir: &Path, name: &str) -> PathBuf {
    let photos = dir.join("photos");
    copy_photos(&photos, &[("obama_small.jpg", name)]);
    std::fs::write(photos.join("notes.txt"), "not a photo").unwrap();
    photos
}

/// The labels of a gallery file's entries, in their order.
pub fn gallery_labels(gallery: &Path) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(gallery).unwrap()).unwrap();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap().to_string())
        .collect()
}

/// stderr lines that are errors (not warnings or progress).
pub fn error_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("facerec: ")).collect()
}
