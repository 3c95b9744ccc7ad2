//! The gallery file `facerec enroll` writes and `identify --gallery`, `run`, `submit` and
//! the worker read: versioned JSON (format in `facerec_job::contract`).
//!
//! ```json
//! {"format": "facerec-gallery", "version": 1, "model": "dlib_face_recognition_resnet_model_v1",
//!  "entries": [{"label": "obama", "encoding": [128 numbers], "source": "known/obama.jpg"}]}
//! ```
//! A person may have several entries (one per enrolled photo).

use facerec_engine::Embedding;
use facerec_job::{parse_gallery_document, GalleryEntry, GALLERY_FORMAT, GALLERY_VERSION};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The embedding model the embeddings come from (recorded for people, not checked).
pub const MODEL: &str = "dlib_face_recognition_resnet_model_v1";

/// One enrolled face.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub label: String,
    pub embedding: Embedding,
    pub source: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum GalleryFileError {
    #[error("{0}: gallery not found")]
    Missing(PathBuf),
    #[error("{0}: cannot read gallery: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Invalid(PathBuf, String),
    #[error("{0}: gallery has no entries")]
    Empty(PathBuf),
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    model: &'static str,
    created_by: String,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    label: &'a str,
    encoding: &'a [f32],
    source: String,
}

/// The gallery file's JSON.
pub fn to_json(entries: &[Enrolled]) -> String {
    let file = FileOut {
        format: GALLERY_FORMAT,
        version: GALLERY_VERSION,
        model: MODEL,
        created_by: format!("facerec {}", env!("CARGO_PKG_VERSION")),
        entries: entries
            .iter()
            .map(|e| EntryOut {
                label: &e.label,
                encoding: &e.embedding,
                source: e.source.display().to_string(),
            })
            .collect(),
    };
    serde_json::to_string(&file).expect("plain data serialises")
}

/// Write atomically (temp file + rename): a crash never leaves half a gallery.
pub fn write(path: &Path, entries: &[Enrolled]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, to_json(entries) + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Read and validate a gallery file (or a bare array of entries).
pub fn read(path: &Path) -> Result<Vec<GalleryEntry>, GalleryFileError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            GalleryFileError::Missing(path.to_path_buf())
        } else {
            GalleryFileError::Io(path.to_path_buf(), e)
        }
    })?;
    let entries = parse_gallery_document(&bytes)
        .map_err(|e| GalleryFileError::Invalid(path.to_path_buf(), e.detail))?;
    if entries.is_empty() {
        return Err(GalleryFileError::Empty(path.to_path_buf()));
    }
    Ok(entries)
}

/// A gallery file's entries with their `source`, to rewrite it with some entries added or
/// removed: the others keep their very embeddings (read back bit for bit) and sources.
/// A missing file is an empty gallery.
pub fn read_enrolled(path: &Path) -> Result<Vec<Enrolled>, GalleryFileError> {
    let entries = match read(path) {
        Ok(e) => e,
        Err(GalleryFileError::Missing(_)) | Err(GalleryFileError::Empty(_)) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    // `read` validated the document; the sources are a field the contract does not keep.
    let raw: serde_json::Value = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let raw_entries = if raw.is_array() {
        &raw
    } else {
        &raw["entries"]
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let embedding: Embedding = e.encoding.as_slice().try_into().map_err(|_| {
                GalleryFileError::Invalid(path.to_path_buf(), format!("entry {i}: not 128 numbers"))
            })?;
            let source = raw_entries[i]["source"].as_str().unwrap_or("").into();
            Ok(Enrolled {
                label: e.label,
                embedding,
                source,
            })
        })
        .collect()
}

/// Entries as (label, embedding) for matching.
pub fn to_known(entries: &[GalleryEntry]) -> Vec<(String, Embedding)> {
    entries
        .iter()
        .filter_map(|e| Some((e.label.clone(), e.encoding.as_slice().try_into().ok()?)))
        .collect()
}
