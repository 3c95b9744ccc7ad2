//! One module per subcommand, plus what they share (model and image options).

pub mod annotate;
pub mod cluster;
pub mod compat;
pub mod detect;
pub mod encode;
pub mod enroll;
pub mod identify;
#[cfg(feature = "fleet")]
pub mod results;
pub mod run;
pub mod search;
#[cfg(feature = "fleet")]
pub mod status;
#[cfg(feature = "fleet")]
pub mod submit;

use anyhow::Context;
use facerec_engine::{Detector, Engine, LoadOptions, ModelPaths};
use std::path::PathBuf;

/// Options every image-processing subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ImageOpts {
    /// Folder holding the model files (default: $FACEREC_MODELS, ./models, beside the binary).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Detection model.
    #[arg(long, value_enum, default_value_t = Model::Hog)]
    pub model: Model,
    /// How many times to upsample the image (×2 each) before detecting; finds smaller faces
    /// [default: 1, as face_recognition; `detect`: 0, as face_detection].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub upsample: Option<u32>,
    /// Ignore the EXIF orientation tag, as face_recognition does (default: turn photos
    /// upright first; see "Deliberate differences" in docs/cli.md).
    #[arg(long)]
    pub no_exif: bool,
    /// Refuse images larger than this many pixels (decompression-bomb guard).
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

/// `--max-pixels` of every subcommand, `run` included: the engine's own limit (64 Mpx:
/// a 48 Mpx phone photo passes, a decompression bomb does not).
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

/// Refuse a `FLAG` value that is not a positive, finite number (a fatal argument error).
pub fn require_positive(flag: &str, value: f64) -> anyhow::Result<()> {
    if !(value > 0.0 && value.is_finite()) {
        anyhow::bail!("{flag} must be a positive number, got {value}");
    }
    Ok(())
}

/// A rayon pool of `--cpus` threads (`-1` or `0`: one per core, as face_recognition's `-1`).
pub fn thread_pool(cpus: i32) -> anyhow::Result<rayon::ThreadPool> {
    let threads = usize::try_from(cpus).unwrap_or(0);
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?)
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// dlib's HOG frontal face detector (face_recognition's default).
    Hog,
    /// RetinaFace, the accurate CNN detector: turned, small and partly hidden faces.
    /// `cnn` (face_recognition's name for its accurate detector, dlib's MMOD) selects it
    /// too; its boxes are not MMOD's (docs/cli.md).
    #[value(alias = "cnn")]
    Retinaface,
}

impl ImageOpts {
    pub fn engine(&self) -> anyhow::Result<Engine> {
        let paths = match &self.models {
            Some(dir) => ModelPaths::in_dir(dir),
            None => ModelPaths::discover()?,
        };
        let engine = Engine::load(&paths).context("loading models")?;
        // Load the chosen detector's model now, so a missing one is one clear error
        // before any photo is read.
        engine.prepare(self.detector())?;
        Ok(engine)
    }

    /// The detector, upsampling once unless `--upsample` says otherwise.
    pub fn detector(&self) -> Detector {
        self.detector_or(1)
    }

    /// The detector with a command-specific default upsampling.
    pub fn detector_or(&self, default_upsample: u32) -> Detector {
        match self.model {
            Model::Hog => Detector::Hog {
                upsample: self.upsample.unwrap_or(default_upsample),
            },
            // RetinaFace has no up-sampling: its smallest anchors (16 px) already see
            // faces HOG needs two up-samplings for.
            Model::Retinaface => Detector::RetinaFace,
        }
    }

    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            max_pixels: self.max_pixels,
            apply_exif_orientation: !self.no_exif,
        }
    }
}
