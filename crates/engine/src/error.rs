//! Typed errors: one enum for model files, one for images, one umbrella for the engine.

use std::path::PathBuf;

/// A model file could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "model file {file} not found (looked in: {searched}); run scripts/fetch-models.sh \
         (or set FACEREC_MODELS to the folder holding it)"
    )]
    Missing {
        file: &'static str,
        searched: String,
    },
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model {model} cannot be used: {detail}")]
    Unusable { model: &'static str, detail: String },
    #[error("model {model} is corrupt or not the expected dlib model (at byte offset {offset}): {detail}")]
    Corrupt {
        model: &'static str,
        offset: usize,
        detail: String,
    },
}

/// An image could not be decoded or is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read image {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unsupported image format (accepted: JPEG, PNG, WebP, GIF, BMP, TIFF)")]
    UnsupportedFormat,
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit} pixels")]
    TooLarge {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("image is empty ({width}x{height})")]
    Empty { width: u32, height: u32 },
    #[error("corrupt or truncated image: {0}")]
    Decode(String),
    #[error("aligned chip must be {expected}x{expected} pixels, got {width}x{height}")]
    NotAChip {
        expected: u32,
        width: u32,
        height: u32,
    },
}

/// Any engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Image(#[from] ImageError),
}
