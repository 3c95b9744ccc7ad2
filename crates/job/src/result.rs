//! The result document v1, stored under the job id (docs/jobs.md, "Results").

use serde::{Deserialize, Serialize};

/// `top, right, bottom, left` in pixels, as face_recognition reports boxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
    pub left: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceMatch {
    pub label: String,
    pub distance: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceResult {
    #[serde(rename = "box")]
    pub bbox: FaceBox,
    /// The nearest gallery entry if it is within tolerance (whatever `top_k` is).
    pub best_match: Option<FaceMatch>,
    /// The `top_k` nearest gallery entries, nearest first, whatever their distance.
    pub nearest: Vec<FaceMatch>,
    /// The face's embedding, when the job asked for it (`options.embeddings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timings {
    pub fetch_ms: f64,
    pub decode_ms: f64,
    pub detect_ms: f64,
    pub encode_ms: f64,
    pub match_ms: f64,
    pub total_ms: f64,
}

/// Result document v1, stored under the job id. `width`/`height` are the image's own,
/// and boxes are in its pixels even when it was shrunk to detect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultV1 {
    pub version: u32,
    pub job_id: String,
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceResult>,
    pub timings: Timings,
    pub worker: String,
}
