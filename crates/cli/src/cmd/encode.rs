//! `facerec encode`: one output line per image with each face's box and encoding.
//! JSON lines: `{"path": …, "faces": [{"box": [top, right, bottom, left], "encoding": [128 floats]}]}`;
//! a failed image gives `{"path": …, "error": …}` and the exit status becomes 1.
//!
//! By default the encodings are face_recognition's `face_encodings(img)` (what its own
//! command line computes): landmarks on the detector's unclipped rectangles.
//! `--known-locations` gives `face_encodings(img, known_face_locations=face_locations(img))`
//! instead (what the fleet's worker computes): landmarks on the boxes clipped to the image.
//! The two differ only for a face crossing the image's border.

use super::ImageOpts;
use facerec_engine::{load_image, Engine, Rect};
use rayon::prelude::*;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON lines (otherwise a short human-readable summary).
    #[arg(long)]
    pub json: bool,
    /// Treat each input as an already aligned 150x150 face chip.
    #[arg(long)]
    pub aligned: bool,
    /// Place the landmarks on the boxes clipped to the image, as face_recognition's
    /// `face_encodings(img, known_face_locations=face_locations(img))` and the fleet's
    /// worker do. Default: face_recognition's `face_encodings(img)` (its command line's
    /// convention), landmarks on the detector's unclipped rectangles. Only a face crossing
    /// the image's border gets a different encoding; its box is the same clipped box.
    #[arg(long, conflicts_with = "aligned")]
    pub known_locations: bool,
    #[command(flatten)]
    pub image: ImageOpts,
    /// Images (JPEG or PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

#[derive(Serialize)]
struct FaceOut {
    #[serde(rename = "box")]
    css: [i64; 4],
    encoding: Vec<f32>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Line {
    Ok { path: String, faces: Vec<FaceOut> },
    Err { path: String, error: String },
}

fn encode_one(
    engine: &Engine,
    args: &Args,
    path: &std::path::Path,
) -> Result<Vec<FaceOut>, String> {
    let img = load_image(path, &args.image.load_options()).map_err(|e| e.to_string())?;
    if args.aligned {
        let e = engine.encode_chip(&img).map_err(|e| e.to_string())?;
        let whole = Rect {
            left: 0,
            top: 0,
            right: img.width() as i64,
            bottom: img.height() as i64,
        };
        return Ok(vec![FaceOut {
            css: whole.css(),
            encoding: e.to_vec(),
        }]);
    }
    let detector = args.image.detector();
    let faces = if args.known_locations {
        let boxes = engine.detect(&img, detector).map_err(|e| e.to_string())?;
        engine.encode_faces(&img, &boxes)
    } else {
        engine
            .encode_image(&img, detector)
            .map_err(|e| e.to_string())?
    };
    Ok(faces
        .into_iter()
        .map(|f| FaceOut {
            css: f.rect.css(),
            encoding: f.embedding.to_vec(),
        })
        .collect())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    // Images in parallel, printed in input order.
    let lines: Vec<Line> = args
        .images
        .par_iter()
        .map(|p| {
            let path = p.display().to_string();
            match encode_one(&engine, &args, p) {
                Ok(faces) => Line::Ok { path, faces },
                Err(error) => Line::Err { path, error },
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for line in &lines {
        if args.json {
            serde_json::to_writer(&mut out, line)?;
            writeln!(out)?;
        } else {
            match line {
                Line::Ok { path, faces } => {
                    writeln!(out, "{path}: {} face(s)", faces.len())?;
                    for f in faces {
                        writeln!(out, "  box (top, right, bottom, left) = {:?}", f.css)?;
                    }
                }
                Line::Err { path, error } => writeln!(out, "{path}: error: {error}")?,
            }
        }
        failed |= matches!(line, Line::Err { .. });
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
