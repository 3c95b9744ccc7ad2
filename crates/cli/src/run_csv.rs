//! `facerec run --format csv`: the CSV is derived, never appended to. The run keeps its
//! JSONL ledger (`results_file`, exactly once per job) beside the CSV and, at the end of
//! every run — finished, interrupted or a rerun with nothing to do — rewrites the whole
//! CSV from it (a temporary file renamed over the old one). A CSV row cannot be torn or
//! duplicated by a kill, and a kill before the rewrite is repaired by the next run.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// `run`'s output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One result document per photo (docs/jobs.md).
    Jsonl,
    /// One row per face (docs/cli.md); rewritten from a JSONL ledger `<out>.jsonl`.
    Csv,
}

/// The columns, in order.
pub const HEADER: &str = "image,job_id,face,top,right,bottom,left,name,distance,error,detail";

/// The JSONL ledger kept beside the CSV `csv`.
pub fn ledger(csv: &Path) -> PathBuf {
    let mut p = csv.as_os_str().to_owned();
    p.push(".jsonl");
    PathBuf::from(p)
}

/// The temporary file the CSV is written to before it is renamed into place.
pub fn temporary(csv: &Path) -> PathBuf {
    let mut p = csv.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

/// The rows of one ledger line: one per face; one with empty face columns for a photo
/// without faces; one with `error` and `detail` for a dead-lettered photo.
fn rows(line: &Value) -> Vec<String> {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let image = s(&line["image"]);
    let job_id = s(&line["job_id"]);
    let row = |cells: &[String]| {
        let mut all = vec![image.clone(), job_id.clone()];
        all.extend_from_slice(cells);
        all.resize(11, String::new());
        let quoted: Vec<_> = all.iter().map(|c| crate::csv::field(c)).collect();
        quoted.join(",")
    };
    if let Some(err) = line.get("error") {
        let mut cells = vec![String::new(); 7];
        cells.extend([s(&err["code"]), s(&err["detail"])]);
        return vec![row(&cells)];
    }
    let faces = line["faces"].as_array().cloned().unwrap_or_default();
    if faces.is_empty() {
        return vec![row(&[])];
    }
    faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let b = &f["box"];
            row(&[
                i.to_string(),
                s(&b["top"]),
                s(&b["right"]),
                s(&b["bottom"]),
                s(&b["left"]),
                s(&f["best_match"]["label"]),
                s(&f["best_match"]["distance"]),
            ])
        })
        .collect()
}

/// Rewrite `csv` from the complete lines of `ledger`, photos in path order. Returns the
/// number of photos.
pub fn write(ledger: &Path, csv: &Path) -> std::io::Result<usize> {
    let mut lines: Vec<Value> = Vec::new();
    for l in BufReader::new(std::fs::File::open(ledger)?).lines() {
        // A torn last line (a kill mid-append) is not JSON: the next run cuts it and
        // writes that job again.
        if let Ok(v) = serde_json::from_str::<Value>(&l?) {
            lines.push(v);
        }
    }
    lines.sort_by(|a, b| {
        let key = |v: &Value| (v["image"].to_string(), v["job_id"].to_string());
        key(a).cmp(&key(b))
    });
    let tmp = temporary(csv);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(out, "{HEADER}")?;
    for line in &lines {
        for r in rows(line) {
            writeln!(out, "{r}")?;
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
    std::fs::rename(&tmp, csv)?;
    Ok(lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_row_per_face_photo_without_faces_or_error() {
        let two = json!({"job_id": "j1", "image": "/p/a, b.jpg", "faces": [
            {"box": {"top": 1, "right": 4, "bottom": 3, "left": 2},
             "best_match": {"label": "obama", "distance": 0.25}},
            {"box": {"top": 5, "right": 8, "bottom": 7, "left": 6}, "best_match": null}]});
        assert_eq!(
            rows(&two),
            [
                "\"/p/a, b.jpg\",j1,0,1,4,3,2,obama,0.25,,",
                "\"/p/a, b.jpg\",j1,1,5,8,7,6,,,,"
            ]
        );
        let none = json!({"job_id": "j2", "image": "/p/c.jpg", "faces": []});
        assert_eq!(rows(&none), ["/p/c.jpg,j2,,,,,,,,,"]);
        let bad = json!({"job_id": "j3", "image": "/p/d.jpg",
                         "error": {"code": "corrupt_image", "detail": "x, y"}});
        assert_eq!(rows(&bad), ["/p/d.jpg,j3,,,,,,,,corrupt_image,\"x, y\""]);
        assert_eq!(HEADER.split(',').count(), 11);
    }
}
