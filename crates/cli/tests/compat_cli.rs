//! `face_recognition` and `face_detection` invocations: `facerec` linked under those names,
//! and `facerec compat NAME`, given the very argument lists the installed Python programs
//! were given (testdata/references/compat.json, recorded by
//! scripts/python-baseline/compat_references.py), must print what they printed: the same
//! lines (a folder's photos sorted here, in `os.listdir` order there), distances within
//! the engine's 2e-5.

mod support;

use serde_json::Value;
use std::process::Command;
use support::*;

const DISTANCE_TOLERANCE: f64 = 2e-5;

/// Lines sorted, each split on commas.
fn canonical(lines: impl IntoIterator<Item = String>) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = lines
        .into_iter()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    v.sort();
    v
}

fn same(got: &[Vec<String>], want: &[Vec<String>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.len() == w.len()
                && g.iter().zip(w).all(|(a, b)| {
                    a == b
                        || matches!((a.parse::<f64>(), b.parse::<f64>()),
                            (Ok(x), Ok(y)) if a.contains('.') && (x - y).abs() <= DISTANCE_TOLERANCE)
                })
        })
}

#[test]
fn linked_names_and_compat_print_what_the_python_programs_print() {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/compat.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["meta"]["face_recognition"], "1.3.0");
    let tmp = tempfile::tempdir().unwrap();
    for name in ["face_recognition", "face_detection"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_facerec"), tmp.path().join(name)).unwrap();
    }
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    let mut failures = Vec::new();
    for case in cases {
        let argv: Vec<String> = serde_json::from_value(case["argv"].clone()).unwrap();
        let want: Vec<String> = serde_json::from_value(case["stdout"].clone()).unwrap();
        assert!(
            !want.is_empty(),
            "{argv:?}: an empty reference proves nothing"
        );
        let want = canonical(want);
        let linked = Command::new(tmp.path().join(&argv[0]))
            .args(&argv[1..])
            .current_dir(root())
            .output()
            .unwrap();
        let compat = facerec().arg("compat").args(&argv).output().unwrap();
        for (how, o) in [("linked", &linked), ("compat", &compat)] {
            assert_eq!(
                o.status.code(),
                case["exit_code"].as_i64().map(|c| c as i32),
                "{how} {argv:?}: {}",
                stderr(o)
            );
            let got = canonical(stdout(o).lines().map(str::to_string));
            if !same(&got, &want) {
                failures.push(format!(
                    "{how} {argv:?}:\n  facerec: {got:?}\n  python:  {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unknown_tool_is_refused() {
    let o = run(&["compat", "deepface", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("face_recognition"), "{}", stderr(&o));
}
