//! One job's work, top to bottom: decode and shrink → detect → encode → match.
//!
//! [`run`] is the whole data path of a job once its bytes are in memory; the worker (S3 or
//! a local file) and `facerec run` (the embedded queue) only fetch the bytes and store
//! what it returns. It is CPU-bound: call it on a blocking thread.

use std::time::Instant;

use facerec_engine::{Detector, Engine, Gallery, ImageError, LoadOptions};

use crate::contract::{Detector as JobDetector, GalleryEntry, JobOptions};
use crate::error::JobError;
use crate::result::{FaceBox, FaceMatch, FaceResult, Timings};

/// Input limits; beyond them a job is rejected as permanent.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest image file accepted (checked by whoever fetches the bytes).
    pub max_image_bytes: u64,
    /// Largest decoded image (width × height); bigger is a `decompression_bomb`.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_image_bytes: 25 << 20,
            max_pixels: LoadOptions::default().max_pixels,
        }
    }
}

/// What [`run`] found: the image's own size, its faces, and the time each stage took
/// (`fetch_ms` and `total_ms` are the caller's to fill).
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceResult>,
    pub timings: Timings,
}

/// The engine's gallery from the contract's entries (validated: 128 finite values each).
pub fn gallery_of(entries: &[GalleryEntry]) -> Gallery {
    let mut gallery = Gallery::new();
    for entry in entries {
        if let Ok(embedding) = entry.encoding.as_slice().try_into() {
            gallery.add(entry.label.clone(), &embedding);
        }
    }
    gallery
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Recognise the faces in `image` (the file's bytes) against `gallery`.
pub fn run(
    engine: &Engine,
    image: &[u8],
    gallery: &Gallery,
    options: &JobOptions,
    limits: &Limits,
) -> Result<JobResult, JobError> {
    let mut timings = Timings::default();

    // Decode. Decoders can panic on hostile input; a panic must become a reason, not a crash.
    let t = Instant::now();
    let load = LoadOptions {
        max_pixels: limits.max_pixels,
        ..LoadOptions::default()
    };
    // Shrink: detection cost and memory follow the pixels, so a giant photo is fitted to
    // `max_side` as it is decoded; boxes are scaled back to the original's pixels below.
    let fitted =
        std::panic::catch_unwind(|| crate::shrink::decode_fitted(image, &load, options.max_side))
            .map_err(|_| JobError::permanent("corrupt_image", "decoder panicked on this image"))?
            .map_err(image_error)?;
    let (width, height, scale) = (fitted.width, fitted.height, fitted.scale);
    let img = fitted.image;
    timings.decode_ms = ms(t);

    // Detect.
    let t = Instant::now();
    let detector = match options.detector {
        JobDetector::Hog => Detector::Hog {
            upsample: options.upsample,
        },
        // RetinaFace has no up-sampling: its smallest anchors already see 16 px faces.
        JobDetector::Retinaface => Detector::RetinaFace,
    };
    // Only RetinaFace can fail here (its network is loaded on first use). A worker without
    // it is misdeployed, not the job malformed: transient, so another worker (or this one,
    // fixed) gets it, and the DLQ names the reason if none can.
    let mut boxes = engine
        .detect(&img, detector)
        .map_err(|e| JobError::transient("model_unavailable", e.to_string()))?;
    // The detectors list their strongest faces first.
    boxes.truncate(options.max_faces);
    timings.detect_ms = ms(t);

    // Encode: landmarks, aligned chip, 128-d embedding per face.
    let t = Instant::now();
    let encoded = engine.encode_faces(&img, &boxes);
    timings.encode_ms = ms(t);

    // Match against the gallery.
    let t = Instant::now();
    let faces = encoded
        .iter()
        .map(|face| {
            // One pass over the gallery: the nearest entry decides the best match (equal
            // distances in gallery order, as `best_match` picks), even when top_k is 0.
            let mut nearest: Vec<FaceMatch> = gallery
                .nearest(&face.embedding, options.top_k.max(1))
                .into_iter()
                .map(|m| FaceMatch {
                    label: m.name,
                    distance: m.distance,
                })
                .collect();
            let best_match = nearest
                .first()
                .filter(|m| m.distance <= options.tolerance)
                .cloned();
            nearest.truncate(options.top_k);
            let back = |v: i64| (v as f64 * scale).round() as i64;
            FaceResult {
                bbox: FaceBox {
                    top: back(face.rect.top),
                    right: back(face.rect.right),
                    bottom: back(face.rect.bottom),
                    left: back(face.rect.left),
                },
                best_match,
                nearest,
                embedding: options.embeddings.then(|| face.embedding.to_vec()),
            }
        })
        .collect();
    timings.match_ms = ms(t);

    Ok(JobResult {
        width,
        height,
        faces,
        timings,
    })
}

/// An image that cannot be decoded is the job's fault, except an I/O error.
fn image_error(e: ImageError) -> JobError {
    match e {
        ImageError::TooLarge { .. } => JobError::permanent("decompression_bomb", e.to_string()),
        ImageError::UnsupportedFormat => JobError::permanent("unsupported_format", e.to_string()),
        ImageError::Io { .. } => JobError::transient("io_error", e.to_string()),
        other => JobError::permanent("corrupt_image", other.to_string()),
    }
}
