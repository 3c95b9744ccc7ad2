//! The submit manifest: `submit` appends `{"job_id", "image", "local_path"}` for every
//! local photo it sent; `results` reads it to name each result by the path that was
//! submitted. A local file (copy it to read results on another machine) because nothing
//! the fleet hands back can carry it: the job contract rejects unknown fields
//! (docs/jobs.md) and result documents name only the job id and the S3 image.

use anyhow::Context;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where `submit` writes and `results` reads the manifest unless told otherwise.
pub const DEFAULT_MANIFEST: &str = ".facerec/submitted.jsonl";

/// Append one line per `(job id, image URI, local path)`, in one write.
pub fn append(manifest: &Path, sent: &[(String, String, PathBuf)]) -> anyhow::Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    if let Some(parent) = manifest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let mut text = String::new();
    for (id, image, local) in sent {
        let line = json!({"job_id": id, "image": image, "local_path": local.display().to_string()});
        text.push_str(&format!("{line}\n"));
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(manifest)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("{}: cannot append", manifest.display()))
}

/// job id → local path. A missing manifest is empty unless it was asked for by name.
pub fn read(manifest: &Path, named: bool) -> anyhow::Result<HashMap<String, String>> {
    let text = match std::fs::read_to_string(manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => return Ok(HashMap::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", manifest.display())),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((
                v.get("job_id")?.as_str()?.to_string(),
                v.get("local_path")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_lines_read_back_and_a_missing_default_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("sub/submitted.jsonl");
        assert!(read(&m, false).unwrap().is_empty());
        assert!(read(&m, true).is_err());
        append(
            &m,
            &[("a".into(), "s3://b/a.jpg".into(), "/p/a, 1.jpg".into())],
        )
        .unwrap();
        append(
            &m,
            &[("b".into(), "s3://b/b.jpg".into(), "/p/b.jpg".into())],
        )
        .unwrap();
        let got = read(&m, true).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["a"], "/p/a, 1.jpg");
    }
}
