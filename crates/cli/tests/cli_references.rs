//! `facerec identify` and `facerec detect` against face_recognition's own command-line
//! programs: testdata/references/cli.json holds what `face_recognition` and
//! `face_detection` (1.3.0, its functions called by
//! scripts/python-baseline/cli_references.py) printed for the committed photos. Each case is
//! run here with the same arguments: names and boxes must be equal, distances equal to
//! `DISTANCE_TOLERANCE`, and face_recognition's warnings must appear (on stderr here).

mod support;

use serde_json::Value;
use std::path::Path;
use support::*;

/// The engine reproduces dlib's embeddings to about 1e-6 (docs/engine.md); distances
/// printed by `--show-distance` then agree to a few 1e-6.
const DISTANCE_TOLERANCE: f64 = 2e-5;

/// One `path,name[,distance]` line.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    path: String,
    name: String,
    distance: Option<f64>,
    raw: String,
}

fn parse(line: &str, show_distance: bool) -> Line {
    let parts: Vec<&str> = line.split(',').collect();
    let distance = if show_distance {
        assert_eq!(parts.len(), 3, "{line:?}");
        match parts[2] {
            "None" => None,
            d => Some(d.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"))),
        }
    } else {
        assert_eq!(parts.len(), 2, "{line:?}");
        None
    };
    Line {
        path: parts[0].to_string(),
        name: parts[1].to_string(),
        distance,
        raw: line.to_string(),
    }
}

/// Lines in a canonical order: face_recognition lists folders in `os.listdir` order and a
/// face's matches in that order of the known folder; facerec sorts both.
fn canonical(mut lines: Vec<Line>) -> Vec<Line> {
    lines.sort_by(|a, b| {
        (&a.path, &a.name).cmp(&(&b.path, &b.name)).then(
            a.distance
                .unwrap_or(-1.0)
                .total_cmp(&b.distance.unwrap_or(-1.0)),
        )
    });
    lines
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn check_identify(case: &str, args: &[String], expected: &[String], got: &str) -> Vec<String> {
    let show = args.iter().any(|a| a == "--show-distance");
    let want = canonical(expected.iter().map(|l| parse(l, show)).collect());
    let got = canonical(got.lines().map(|l| parse(l, show)).collect());
    let names = |v: &[Line]| {
        v.iter()
            .map(|l| format!("{},{}", l.path, l.name))
            .collect::<Vec<_>>()
    };
    if names(&got) != names(&want) {
        return vec![format!(
            "{case}: names differ:\n  facerec:          {:?}\n  face_recognition: {:?}",
            names(&got),
            names(&want)
        )];
    }
    let mut failures = Vec::new();
    for (g, w) in got.iter().zip(&want) {
        let tolerance = DISTANCE_TOLERANCE;
        let close = match (g.distance, w.distance) {
            (None, None) => true,
            (Some(g_d), Some(w_d)) => (g_d - w_d).abs() <= tolerance,
            _ => false,
        };
        if !close {
            failures.push(format!("{case}: {} vs face_recognition's {}", g.raw, w.raw));
        }
    }
    failures
}

fn check_detect(case: &str, args: &[String], expected: &[String], got: &str) -> Vec<String> {
    let mut got: Vec<String> = got.lines().map(str::to_string).collect();
    let mut want = expected.to_vec();
    // A folder is listed in os.listdir order there, sorted here.
    if args
        .iter()
        .any(|a| Path::new(a).is_dir() || root().join(a).is_dir())
    {
        got.sort();
        want.sort();
    }
    if got == want {
        return Vec::new();
    }
    vec![format!(
        "{case}: boxes differ:\n  facerec:          {got:?}\n  face_recognition: {want:?}"
    )]
}

#[test]
fn identify_and_detect_print_what_face_recognitions_clis_print() {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/references/cli.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["meta"]["face_recognition"], "1.3.0");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let command = case["command"].as_str().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let known = tmp.path().join("known");
        if let Some(files) = case["known_files"].as_array() {
            std::fs::create_dir_all(&known).unwrap();
            for f in files {
                let (from, to) = (f[0].as_str().unwrap(), f[1].as_str().unwrap());
                std::fs::copy(root().join(from), known.join(to)).unwrap();
            }
        }
        let known_str = known.display().to_string();
        let args: Vec<String> = strings(&case["args"])
            .into_iter()
            .map(|a| a.replace("{KNOWN}", &known_str))
            .collect();
        let mut command_line = vec![command.to_string()];
        command_line.extend(strings(&case["facerec_flags"]));
        command_line.extend(args.iter().cloned());
        let o = facerec().args(&command_line).output().unwrap();
        let (out, err) = (stdout(&o), stderr(&o));
        // face_recognition carries on with an empty known folder; facerec does too, and
        // says so with exit code 1 (docs/cli.md).
        let want_code = if name == "empty-known" { 1 } else { 0 };
        assert_eq!(
            o.status.code(),
            Some(want_code),
            "{name}: {command_line:?}\n{err}"
        );
        let expected = strings(&case["stdout"]);
        assert!(
            !expected.is_empty(),
            "{name}: an empty reference proves nothing"
        );
        failures.extend(match command {
            "identify" => check_identify(name, &args, &expected, &out),
            "detect" => check_detect(name, &args, &expected, &out),
            other => panic!("unknown command {other}"),
        });
        for w in strings(&case["warnings"]) {
            let w = w.replace("{KNOWN}", &known_str);
            if !err.lines().any(|l| l == w) {
                failures.push(format!(
                    "{name}: face_recognition warns {w:?}; facerec's stderr:\n{err}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
