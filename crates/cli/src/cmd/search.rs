//! `facerec search NAME DIR… --gallery G`: every photo under DIR (subfolders included)
//! with a face of NAME, best first: one `path,distance` line per photo, the distance of
//! its face nearest to NAME's gallery embeddings (identify's distances), at most
//! `--tolerance`.
//!
//! `--results RUN.jsonl` reuses a `facerec run` of those photos: a photo the run holds,
//! unchanged since (its job id is a hash of path and content), is not detected again —
//! its faces are the run's boxes, with the run's stored embeddings where the line has them
//! (else computed on those boxes).

use super::ImageOpts;
use crate::photo_faces::{self, LineFace, Photo};
use crate::{exit, gallery_file, inputs};
use facerec_engine::Embedding;
use rayon::prelude::*;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The person, as the gallery names them.
    pub name: String,
    /// Folders (searched with their subfolders) or photos.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Gallery file from `facerec enroll` holding NAME.
    #[arg(long, value_name = "GALLERY")]
    pub gallery: PathBuf,
    /// A `facerec run` results file of these photos, to reuse instead of detecting again.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// A photo is listed when its nearest face is at most this far from NAME.
    #[arg(long, default_value_t = 0.6)]
    pub tolerance: f64,
    /// One JSON object per photo (`path`, `distance`, `box`) instead of CSV lines.
    #[arg(long)]
    pub json: bool,
    /// Worker threads; -1 = all cores.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
    #[command(flatten)]
    pub image: ImageOpts,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::require_positive("--tolerance", args.tolerance)?;
    super::thread_pool(args.cpus)?.install(|| search(&args))
}

/// Image files under `dir`, subfolders included, sorted; the other files are returned
/// as skipped.
fn walk(
    dir: &Path,
    images: &mut Vec<PathBuf>,
    skipped: &mut Vec<PathBuf>,
) -> Result<(), inputs::InputError> {
    let (found, others) = inputs::folder_files(dir)?;
    images.extend(found);
    skipped.extend(others);
    for sub in inputs::subfolders(dir)? {
        walk(&sub, images, skipped)?;
    }
    Ok(())
}

fn search(args: &Args) -> anyhow::Result<ExitCode> {
    let known: Vec<Embedding> = gallery_file::to_known(&gallery_file::read(&args.gallery)?)
        .into_iter()
        .filter(|(l, _)| *l == args.name)
        .map(|(_, e)| e)
        .collect();
    if known.is_empty() {
        anyhow::bail!(
            "{}: nobody named {:?} in the gallery",
            args.gallery.display(),
            args.name
        );
    }
    let mut failed = false;
    let mut images = Vec::new();
    for d in &args.dirs {
        if d.is_dir() {
            let mut skipped = Vec::new();
            let before = images.len();
            if let Err(e) = walk(d, &mut images, &mut skipped) {
                exit::report(e);
                failed = true;
            } else if images.len() == before {
                exit::report(inputs::InputError::EmptyFolder(d.clone()));
                failed = true;
            }
            for p in skipped {
                eprintln!("{}", inputs::skipped_warning(&p));
            }
        } else {
            let e = inputs::expand(std::slice::from_ref(d));
            failed |= e.report();
            images.extend(e.images);
        }
    }
    let engine = args.image.engine()?;
    let mut from_run: HashMap<PathBuf, (String, Vec<LineFace>)> = HashMap::new();
    if let Some(r) = &args.results {
        for l in photo_faces::results_lines(r)? {
            from_run.insert(l.image, (l.job_id, l.faces));
        }
    }
    let (reused, fresh): (Vec<_>, Vec<_>) = images
        .into_iter()
        .map(|p| {
            let hit = reusable(&p, &mut from_run);
            (p, hit)
        })
        .partition(|(_, hit)| hit.is_some());
    let fresh: Vec<PathBuf> = fresh.into_iter().map(|(p, _)| p).collect();
    if args.results.is_some() {
        eprintln!(
            "{} photos from the run's results, {} detected afresh",
            reused.len(),
            fresh.len()
        );
    }
    let mut photos: Vec<Result<Photo, String>> = reused
        .into_par_iter()
        .map(|(path, hit)| {
            photo_faces::from_line_faces(
                &engine,
                &args.image,
                path,
                hit.expect("partitioned"),
                false,
            )
        })
        .collect();
    let found = photo_faces::from_images(&fresh, &engine, &args.image, false);
    failed |= found.failed;
    photos.extend(found.photos.into_iter().map(Ok));
    let mut hits: Vec<(f64, String, [i64; 4])> = Vec::new();
    for p in photos {
        let p = match p {
            Ok(p) => p,
            Err(line) => {
                exit::report(line);
                failed = true;
                continue;
            }
        };
        let best = p
            .faces
            .iter()
            .map(|f| {
                let d = known
                    .iter()
                    .map(|k| super::identify::numpy_distance(k, &f.embedding))
                    .fold(f64::INFINITY, f64::min);
                (d, f.css)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((d, css)) = best.filter(|(d, _)| *d <= args.tolerance) {
            hits.push((d, p.path.display().to_string(), css));
        }
    }
    hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut out = std::io::stdout().lock();
    for (d, path, css) in &hits {
        if args.json {
            writeln!(out, "{}", json!({"path": path, "distance": d, "box": css}))?;
        } else {
            writeln!(
                out,
                "{},{}",
                crate::csv::field(path),
                super::identify::python_float(*d)
            )?;
        }
    }
    out.flush()?;
    Ok(exit::finished(failed))
}

/// The run's faces of `path` if the run processed this very file (same path and content).
fn reusable(
    path: &Path,
    from_run: &mut HashMap<PathBuf, (String, Vec<LineFace>)>,
) -> Option<Vec<LineFace>> {
    let abs = std::fs::canonicalize(path).ok()?;
    let (job_id, _) = from_run.get(&abs)?;
    let bytes = std::fs::read(path).ok()?;
    if inputs::job_id(&abs, &bytes) != *job_id {
        return None; // changed since the run
    }
    from_run.remove(&abs).map(|(_, faces)| faces)
}
