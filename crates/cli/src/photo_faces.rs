//! The faces of photos with their embeddings, for `cluster` and `search`: from a
//! `facerec run` results file (its boxes; a face's stored `embedding` when the line has
//! one, else computed on that very box) or detected afresh in photos and folders.

use crate::cmd::ImageOpts;
use crate::exit;
use facerec_engine::{load_image, Embedding, Engine, Rect, RgbImage};
use rayon::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Side of the face thumbnails kept for contact sheets.
pub const THUMB: u32 = 96;

/// One face of a photo.
pub struct PhotoFace {
    /// `[top, right, bottom, left]`, as every facerec output writes boxes.
    pub css: [i64; 4],
    pub embedding: Embedding,
    /// The gallery name the run gave it (`None`: unknown, or not from a run).
    pub name: Option<String>,
    /// A `THUMB`-square crop around the face, when asked for.
    pub thumb: Option<RgbImage>,
}

pub struct Photo {
    pub path: PathBuf,
    pub faces: Vec<PhotoFace>,
}

/// What a source yielded: the photos read, and whether any could not be (reported).
pub struct Faces {
    pub photos: Vec<Photo>,
    pub failed: bool,
}

/// A photo of a run's results: its absolute path (as `run` queues it), job id and faces.
pub struct RunLine {
    pub image: PathBuf,
    pub job_id: String,
    pub faces: Vec<LineFace>,
}

/// A face as a run's line holds it.
pub struct LineFace {
    pub rect: Rect,
    /// Its best gallery match (`None`: unknown).
    pub name: Option<String>,
    pub embedding: Option<Embedding>,
}

/// Every readable photo of a run's JSONL `results` (dead-lettered lines are skipped:
/// `run` reported them). `thumbs`: crop the faces too (loads every photo).
pub fn from_results(
    results: &Path,
    engine: &Engine,
    opts: &ImageOpts,
    thumbs: bool,
) -> anyhow::Result<Faces> {
    let lines = results_lines(results)?;
    let photos: Vec<Result<Photo, String>> = lines
        .into_par_iter()
        .map(
            |RunLine {
                 image: path, faces, ..
             }| from_line_faces(engine, opts, path, faces, thumbs),
        )
        .collect();
    Ok(settle(photos))
}

/// One photo of a run with its faces: each stored `embedding` kept, the missing ones
/// computed on their boxes (the photo is loaded only when one is missing or `thumbs`).
pub fn from_line_faces(
    engine: &Engine,
    opts: &ImageOpts,
    path: PathBuf,
    faces: Vec<LineFace>,
    thumbs: bool,
) -> Result<Photo, String> {
    let stored = faces.iter().all(|f| f.embedding.is_some());
    let img = if stored && !thumbs {
        None
    } else {
        Some(
            load_image(&path, &opts.load_options())
                .map_err(|e| format!("{}: {e}", path.display()))?,
        )
    };
    let missing: Vec<Rect> = faces
        .iter()
        .filter(|f| f.embedding.is_none())
        .map(|f| f.rect)
        .collect();
    let mut computed = match &img {
        Some(img) if !missing.is_empty() => engine.encode_faces(img, &missing),
        _ => Vec::new(),
    }
    .into_iter();
    let faces = faces
        .into_iter()
        .map(|f| PhotoFace {
            css: f.rect.css(),
            embedding: f
                .embedding
                .unwrap_or_else(|| computed.next().expect("one per box").embedding),
            name: f.name,
            thumb: img
                .as_ref()
                .filter(|_| thumbs)
                .map(|i| thumbnail(i, f.rect)),
        })
        .collect();
    Ok(Photo { path, faces })
}

/// The photos of a run's JSONL `results` with their faces; dead-lettered lines are
/// skipped (`run` reported them).
pub fn results_lines(results: &Path) -> anyhow::Result<Vec<RunLine>> {
    let text = std::fs::read_to_string(results)
        .map_err(|e| anyhow::anyhow!("{}: cannot read results: {e}", results.display()))?;
    let mut lines: Vec<RunLine> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!("{}:{}: not a results line: {e}", results.display(), n + 1)
        })?;
        if v.get("error").is_some() {
            continue;
        }
        let (Some(image), Some(faces)) = (v["image"].as_str(), v["faces"].as_array()) else {
            anyhow::bail!(
                "{}:{}: not a `facerec run` results line (no image or faces)",
                results.display(),
                n + 1
            );
        };
        if image.starts_with("s3://") {
            anyhow::bail!(
                "{}:{}: {image} is not a local photo",
                results.display(),
                n + 1
            );
        }
        lines.push(RunLine {
            image: PathBuf::from(image),
            job_id: v["job_id"].as_str().unwrap_or_default().to_string(),
            faces: faces.iter().map(line_face).collect(),
        });
    }
    Ok(lines)
}

fn line_face(f: &Value) -> LineFace {
    let b = &f["box"];
    let n = |k: &str, i: usize| b[k].as_i64().or_else(|| b[i].as_i64()).unwrap_or(0);
    let embedding = ["embedding", "encoding"]
        .iter()
        .find_map(|k| serde_json::from_value::<Vec<f32>>(f[*k].clone()).ok())
        .and_then(|v| Embedding::try_from(v.as_slice()).ok());
    LineFace {
        rect: Rect {
            top: n("top", 0),
            right: n("right", 1),
            bottom: n("bottom", 2),
            left: n("left", 3),
        },
        name: f["best_match"]["label"]
            .as_str()
            .or_else(|| f["name"].as_str())
            .filter(|n| *n != "unknown_person")
            .map(str::to_string),
        embedding,
    }
}

/// Detect and encode every face of `images`.
pub fn from_images(images: &[PathBuf], engine: &Engine, opts: &ImageOpts, thumbs: bool) -> Faces {
    let photos: Vec<Result<Photo, String>> = images
        .par_iter()
        .map(|path| {
            let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
            let img = load_image(path, &opts.load_options()).map_err(|e| err(&e))?;
            let faces = engine
                .encode_image(&img, opts.detector())
                .map_err(|e| err(&e))?
                .into_iter()
                .map(|f| PhotoFace {
                    css: f.rect.css(),
                    embedding: f.embedding,
                    name: None,
                    thumb: thumbs.then(|| thumbnail(&img, f.rect)),
                })
                .collect();
            Ok(Photo {
                path: path.clone(),
                faces,
            })
        })
        .collect();
    settle(photos)
}

fn settle(outcomes: Vec<Result<Photo, String>>) -> Faces {
    let mut failed = false;
    let mut photos = Vec::new();
    for o in outcomes {
        match o {
            Ok(p) => photos.push(p),
            Err(line) => {
                exit::report(line);
                failed = true;
            }
        }
    }
    Faces { photos, failed }
}

/// A square crop around `rect` with a fifth of margin, scaled to `THUMB`.
fn thumbnail(img: &RgbImage, rect: Rect) -> RgbImage {
    let side = rect.width().max(rect.height()) as f64 * 1.4;
    let cx = (rect.left + rect.right) as f64 / 2.0;
    let cy = (rect.top + rect.bottom) as f64 / 2.0;
    let clamp = |v: f64, max: u32| v.round().clamp(0.0, max.saturating_sub(1) as f64) as u32;
    let (x0, y0) = (
        clamp(cx - side / 2.0, img.width()),
        clamp(cy - side / 2.0, img.height()),
    );
    let (x1, y1) = (
        clamp(cx + side / 2.0, img.width()),
        clamp(cy + side / 2.0, img.height()),
    );
    let crop = image::imageops::crop_imm(img, x0, y0, (x1 - x0).max(1), (y1 - y0).max(1));
    image::imageops::resize(
        &crop.to_image(),
        THUMB,
        THUMB,
        image::imageops::FilterType::Triangle,
    )
}
