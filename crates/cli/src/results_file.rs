//! The JSONL results file of `facerec run`, written exactly once per job.
//!
//! The file itself is the ledger of what was written: on open, every complete line's
//! `job_id` is read back, and a torn last line (the process killed mid-write) is cut off.
//! A job is appended only if its id is not in the file yet, so a crash at any moment and
//! a re-run leave exactly one line per job — no second bookkeeping store that could
//! disagree with the file.

use serde_json::Value;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

/// What the summary needs from one line.
#[derive(Debug, Clone, Default)]
pub struct LineSummary {
    pub faces: usize,
    /// Best-matching name per face (`None` = unknown person).
    pub names: Vec<Option<String>>,
    /// `(code, detail)` when the job was dead-lettered.
    pub error: Option<(String, String)>,
}

impl LineSummary {
    pub fn of(line: &Value) -> Self {
        if let Some(err) = line.get("error") {
            let s = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            return LineSummary {
                error: Some((s("code"), s("detail"))),
                ..Default::default()
            };
        }
        let faces = line
            .get("faces")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        LineSummary {
            faces: faces.len(),
            names: faces
                .iter()
                .map(|f| f["best_match"]["label"].as_str().map(str::to_string))
                .collect(),
            error: None,
        }
    }
}

pub struct ResultsFile {
    file: File,
    written: HashMap<String, LineSummary>,
}

impl ResultsFile {
    /// Open (creating) `path`, learning which jobs it already holds.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut written = HashMap::new();
        let mut good_len = 0u64;
        let mut reader = BufReader::new(&file);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break; // end, or a torn last line
            }
            good_len += n as u64;
            if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                if let Some(id) = v.get("job_id").and_then(Value::as_str) {
                    written.insert(id.to_string(), LineSummary::of(&v));
                }
            }
        }
        drop(reader);
        file.set_len(good_len)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Self { file, written })
    }

    pub fn get(&self, job_id: &str) -> Option<&LineSummary> {
        self.written.get(job_id)
    }

    /// Append `line` for `job_id` unless the file has it. Returns whether it was written.
    pub fn append(&mut self, job_id: &str, line: &Value) -> std::io::Result<bool> {
        if self.written.contains_key(job_id) {
            return Ok(false);
        }
        let mut text = serde_json::to_string(line)?;
        text.push('\n');
        // One write call per line: a kill leaves at most one torn line, cut on next open.
        self.file.write_all(text.as_bytes())?;
        self.written
            .insert(job_id.to_string(), LineSummary::of(line));
        Ok(true)
    }

    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reopening_skips_written_jobs_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut f = ResultsFile::open(&path).unwrap();
        assert!(f.append("a", &json!({"job_id": "a", "faces": []})).unwrap());
        assert!(!f.append("a", &json!({"job_id": "a", "faces": []})).unwrap());
        drop(f);
        // A kill in the middle of the next line.
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(br#"{"job_id": "b", "fa"#).unwrap();
        drop(raw);
        let mut f = ResultsFile::open(&path).unwrap();
        assert!(f.get("a").is_some());
        assert!(f.get("b").is_none());
        assert!(f
            .append(
                "b",
                &json!({"job_id": "b", "error": {"code": "corrupt_image", "detail": "x"}})
            )
            .unwrap());
        drop(f);
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["job_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let f = ResultsFile::open(&path).unwrap();
        assert_eq!(
            f.get("b").unwrap().error.as_ref().unwrap().0,
            "corrupt_image"
        );
    }
}
