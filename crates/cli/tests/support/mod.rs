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
