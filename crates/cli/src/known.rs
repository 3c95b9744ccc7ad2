//! Enrolling a folder of known people, as face_recognition's CLI does, plus subfolders.
//!
//! * Flat folder (`known/obama.jpg`): the person is the file stem; only the first face of
//!   each photo is used (face_recognition's rule, with its warning).
//! * Subfolders (`known/obama/1.jpg`, `known/obama/2.jpg`): the person is the folder name
//!   and every photo adds an embedding; a photo with several faces is skipped (which face is
//!   the person is ambiguous — the rule of face_recognition's k-NN example).
//!
//! Both may be mixed. A photo without a face is skipped with a warning; an unreadable one
//! is one error line and the rest goes on.

use crate::cmd::ImageOpts;
use crate::gallery_file::Enrolled;
use crate::inputs::{image_files_in_folder, subfolders, InputError};
use facerec_engine::{load_image, Engine};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What enrolling a folder produced.
pub struct KnownScan {
    pub entries: Vec<Enrolled>,
    /// Image files found (0: an empty folder, which each caller judges).
    pub photos: usize,
    /// Photos that could not be read or decoded (already reported on stderr).
    pub failed: usize,
}

/// Enrol `dir`. Fails only when `dir` is not a readable folder.
pub fn scan(engine: &Engine, dir: &Path, opts: &ImageOpts) -> anyhow::Result<KnownScan> {
    match std::fs::metadata(dir) {
        Err(_) => return Err(InputError::Missing(dir.to_path_buf()).into_anyhow()),
        Ok(m) if !m.is_dir() => anyhow::bail!("{}: not a folder of known people", dir.display()),
        Ok(_) => {}
    }
    // (photo, person from its folder?)
    let mut photos: Vec<(PathBuf, Option<String>)> = image_files_in_folder(dir)
        .map_err(InputError::into_anyhow)?
        .into_iter()
        .map(|p| (p, None))
        .collect();
    for sub in subfolders(dir).map_err(InputError::into_anyhow)? {
        let person = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for p in image_files_in_folder(&sub).map_err(InputError::into_anyhow)? {
            photos.push((p, Some(person.clone())));
        }
    }
    let outcomes: Vec<Result<Option<Enrolled>, String>> = photos
        .par_iter()
        .map(|(path, person)| {
            let img = load_image(path, &opts.load_options())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let faces = engine
                .encode_image(&img, opts.detector())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let label = match person {
                Some(p) => p.clone(),
                None => path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            match (faces.len(), person) {
                (0, _) => {
                    eprintln!(
                        "WARNING: No faces found in {}. Ignoring file.",
                        path.display()
                    );
                    Ok(None)
                }
                (n, Some(_)) if n > 1 => {
                    eprintln!(
                        "WARNING: {n} faces found in {}. Ignoring file (which one is {label}?).",
                        path.display()
                    );
                    Ok(None)
                }
                (n, _) => {
                    if n > 1 {
                        eprintln!(
                            "WARNING: More than one face found in {}. Only considering the first face.",
                            path.display()
                        );
                    }
                    Ok(Some(Enrolled {
                        label,
                        embedding: faces[0].embedding,
                        source: path.clone(),
                    }))
                }
            }
        })
        .collect();
    let mut entries = Vec::new();
    let mut failed = 0;
    for o in outcomes {
        match o {
            Ok(Some(e)) => entries.push(e),
            Ok(None) => {}
            Err(line) => {
                crate::exit::report(line);
                failed += 1;
            }
        }
    }
    Ok(KnownScan {
        entries,
        photos: photos.len(),
        failed,
    })
}

impl InputError {
    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::anyhow!("{self}")
    }
}
