//! What the engine's examples share: finding the photos under a path.

use std::path::{Path, PathBuf};

/// Appends the JPEG and PNG files at or under `p` to `out`, each folder in name order.
pub fn collect_photos(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            collect_photos(&e, out);
        }
    } else if matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("jpg" | "jpeg" | "png")
    ) {
        out.push(p.to_path_buf());
    }
}
