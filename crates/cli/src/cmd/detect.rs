//! `facerec detect`: face boxes only, one JSON line per image
//! (`{"path": …, "boxes": [[top, right, bottom, left], …]}`).

use super::ImageOpts;
use facerec_engine::load_image;
use rayon::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub image: ImageOpts,
    /// Images (JPEG or PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let engine = args.image.engine()?;
    let lines: Vec<(bool, serde_json::Value)> = args
        .images
        .par_iter()
        .map(|p| match load_image(p, &args.image.load_options()) {
            Ok(img) => {
                let boxes: Vec<[i64; 4]> = engine
                    .detect(&img, args.image.detector())
                    .iter()
                    .map(|r| r.css())
                    .collect();
                (
                    true,
                    json!({"path": p.display().to_string(), "boxes": boxes}),
                )
            }
            Err(e) => (
                false,
                json!({"path": p.display().to_string(), "error": e.to_string()}),
            ),
        })
        .collect();
    let mut ok = true;
    for (good, line) in lines {
        println!("{line}");
        ok &= good;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
