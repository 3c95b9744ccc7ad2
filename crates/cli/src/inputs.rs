//! Which files are images, how command-line inputs (files and folders) become image
//! paths, and the job id of an image.
//!
//! Folders are read like face_recognition's `image_files_in_folder`: not recursively,
//! joined to the folder as given — so printed paths are the ones face_recognition prints.
//! Unlike it, the list is sorted (its order is whatever the file system returns), the
//! names taken are every format the engine decodes (face_recognition takes .jpg, .jpeg
//! and .png only), and every other file of the folder is reported as skipped.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// File extensions treated as images when listing a folder: the engine's formats.
pub use facerec_engine::IMAGE_EXTENSIONS;

/// The extensions as messages list them.
pub const IMAGE_KINDS: &str = ".jpg, .jpeg, .png, .webp, .gif, .bmp, .tif, .tiff";

/// The warning for a file of a folder that is not taken as an image.
pub fn skipped_warning(path: &Path) -> String {
    format!(
        "WARNING: {}: skipped: not an image file ({IMAGE_KINDS})",
        path.display()
    )
}

pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// An input that yields no image at all. Displayed as one line naming the path.
#[derive(Debug)]
pub enum InputError {
    Missing(PathBuf),
    EmptyFolder(PathBuf),
    Unreadable(PathBuf, std::io::Error),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Missing(p) => write!(f, "{}: no such file or directory", p.display()),
            InputError::EmptyFolder(p) => {
                write!(f, "{}: folder holds no images ({IMAGE_KINDS})", p.display())
            }
            InputError::Unreadable(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
        }
    }
}

/// The image files directly inside `dir`, sorted.
pub fn image_files_in_folder(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    Ok(folder_files(dir)?.0)
}

/// The files directly inside `dir`, sorted: (images, the others). Hidden files are in
/// neither.
pub fn folder_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), InputError> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| InputError::Unreadable(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|n| dir.join(n))
        .partition(|p| has_image_extension(p)))
}

/// The immediate subfolders of `dir`, sorted (hidden ones skipped).
pub fn subfolders(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| InputError::Unreadable(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Command-line inputs as [`expand`] sorts them.
#[derive(Debug, Default)]
pub struct Expanded {
    pub images: Vec<PathBuf>,
    /// Inputs that yield no image at all (an error line each).
    pub errors: Vec<InputError>,
    /// Files of the folders given that are not images (a warning each).
    pub skipped: Vec<PathBuf>,
}

impl Expanded {
    /// Reports the errors (one line each, `facerec: …`) and the skipped files (one
    /// warning each) on stderr; whether there was an error.
    pub fn report(&self) -> bool {
        for e in &self.errors {
            crate::exit::report(e);
        }
        for p in &self.skipped {
            eprintln!("{}", skipped_warning(p));
        }
        !self.errors.is_empty()
    }
}

/// Files and folders from the command line → image paths (a file is taken whatever its
/// name; a folder contributes its images, and its other files are listed as skipped).
/// Inputs yielding nothing are reported, the rest still processed.
pub fn expand(inputs: &[PathBuf]) -> Expanded {
    let mut images = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        match std::fs::metadata(input) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                errors.push(InputError::Missing(input.clone()))
            }
            Err(e) => errors.push(InputError::Unreadable(input.clone(), e)),
            Ok(m) if m.is_dir() => match folder_files(input) {
                Ok((found, others)) => {
                    if found.is_empty() {
                        errors.push(InputError::EmptyFolder(input.clone()));
                    }
                    images.extend(found);
                    skipped.extend(others);
                }
                Err(e) => errors.push(e),
            },
            Ok(_) => images.push(input.clone()),
        }
    }
    Expanded {
        images,
        errors,
        skipped,
    }
}

/// A job id for an image: its name (for people reading results) and a hash of its path
/// and content, so the same file always maps to the same job — a re-run or re-submit
/// never duplicates it — while an edited file becomes a new job.
pub fn job_id(path: &Path, content: &[u8]) -> String {
    let content_hash = Sha256::digest(content);
    let mut h = Sha256::new();
    h.update(path.as_os_str().as_encoded_bytes());
    h.update([0u8]);
    h.update(content_hash);
    let hex: String = h
        .finalize()
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if name.is_empty() {
        hex
    } else {
        format!("{name}-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_follow_path_and_content() {
        let a = job_id(Path::new("/p/my photo.jpg"), b"one");
        assert!(a.starts_with("my_photo.jpg-"), "{a}");
        assert_eq!(a, job_id(Path::new("/p/my photo.jpg"), b"one"));
        assert_ne!(a, job_id(Path::new("/p/my photo.jpg"), b"two"));
        assert_ne!(a, job_id(Path::new("/q/my photo.jpg"), b"one"));
        facerec_job::validate_job_id(&a).unwrap();
        let long = job_id(Path::new(&"é".repeat(300)), b"x");
        facerec_job::validate_job_id(&long).unwrap();
    }

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(has_image_extension(Path::new("a/B.JPG")));
        assert!(has_image_extension(Path::new("c.png")));
        assert!(has_image_extension(Path::new("d.WebP")));
        assert!(has_image_extension(Path::new("e.tif")));
        assert!(!has_image_extension(Path::new("notes.txt")));
        assert!(!has_image_extension(Path::new("jpg")));
    }
}
