//! `facerec detect PATH…`: face boxes only, as face_detection prints them — one
//! `path,top,right,bottom,left` line per face, upsampling 0 times by default (its
//! default). Folders contribute their .jpg/.jpeg/.png files. `--json` prints one object
//! per image instead (`{"path": …, "boxes": [[top, right, bottom, left], …]}`).

use super::ImageOpts;
use crate::{exit, inputs};
use facerec_engine::load_image;
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub image: ImageOpts,
    /// One JSON object per image instead of CSV lines.
    #[arg(long)]
    pub json: bool,
    /// Worker threads; -1 = all cores (lines stay in input order either way).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub cpus: i32,
    /// Images (JPEG or PNG) or folders of them.
    #[arg(required = true, value_name = "PATH")]
    pub images: Vec<PathBuf>,
}

/// An image's boxes (`[top, right, bottom, left]`), or its one-line error.
type Detected = Result<Vec<[i64; 4]>, String>;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::thread_pool(args.cpus)?.install(|| run_in_pool(&args))
}

fn run_in_pool(args: &Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    let expanded = inputs::expand(&args.images);
    let input_failed = expanded.report();
    let images = expanded.images;
    let detector = args.image.detector_or(0);
    let found: Vec<(String, Detected)> = images
        .par_iter()
        .map(|p| {
            let path = p.display().to_string();
            let boxes = load_image(p, &args.image.load_options())
                .map_err(|e| format!("{path}: {e}"))
                .and_then(|img| {
                    engine
                        .detect(&img, detector)
                        .map(|rs| rs.iter().map(|r| r.css()).collect())
                        .map_err(|e| format!("{path}: {e}"))
                });
            (path, boxes)
        })
        .collect();
    let mut failed = input_failed;
    let mut out = std::io::stdout().lock();
    for (path, boxes) in found {
        match boxes {
            Ok(boxes) if args.json => {
                let faces: Vec<_> = boxes.into_iter().map(crate::face_json::detected).collect();
                writeln!(out, "{}", json!({"path": path, "faces": faces}))?
            }
            Ok(boxes) => {
                let path = crate::csv::field(&path);
                for [t, r, b, l] in boxes {
                    writeln!(out, "{path},{t},{r},{b},{l}")?;
                }
            }
            Err(line) => {
                exit::report_input(&mut out, args.json, &path, &line)?;
                failed = true;
            }
        }
    }
    Ok(exit::finished(failed))
}
