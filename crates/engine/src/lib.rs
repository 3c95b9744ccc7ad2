//! # facerec-engine
//!
//! Face recognition compatible with Python's `face_recognition` (dlib): same landmarks, same
//! aligned chips, same 128-d embeddings, so galleries built by face_recognition and its 0.6
//! tolerance keep working. Pure Rust except JPEG decoding (libjpeg-turbo via `mozjpeg`, for
//! pixels identical to Pillow's); no C++ or Python at run time.
//!
//! ## Using it
//! ```no_run
//! use facerec_engine::{Detector, Engine, ModelPaths, Gallery, LoadOptions, load_image, DEFAULT_TOLERANCE};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::load(&ModelPaths::discover()?)?;        // ~0.2 s, once per process
//! let img = load_image("photo.jpg".as_ref(), &LoadOptions::default())?;
//! let boxes = engine.detect(&img, Detector::Hog { upsample: 1 })?; // face_recognition's boxes
//! let faces = engine.encode_faces(&img, &boxes);              // landmarks → chip → embedding
//! let mut gallery = Gallery::new();
//! gallery.add("obama", &faces[0].embedding);
//! let m = gallery.best_match(&faces[0].embedding, DEFAULT_TOLERANCE);
//! # Ok(()) }
//! ```
//! Batches: [`Engine::encode_batch`] embeds many chips on rayon's pool (one chip per task);
//! the engine is `Send + Sync`, share one behind an `Arc`.
//!
//! ## Layout
//! - [`models`]: where model files are found ([`ModelPaths::discover`]).
//! - [`imageio`]: JPEG/PNG decoding, EXIF orientation, pixel limit.
//! - [`detector`]: which detector ([`Detector`]) and face_recognition's box clipping.
//! - [`hog`]: dlib's HOG face detector (fhog features, 5/6 image pyramid, 5 filters, NMS).
//! - [`landmarks`]: dlib's 5-point shape predictor.
//! - [`chip`]: `get_face_chip_details` + `extract_image_chip` (alignment to 150×150).
//! - [`resnet`]: the embedding network; `nn` holds its tensor operations.
//! - [`gallery`]: distances and matching.
//! - [`geometry`], [`pyramid`]: dlib's rectangle/transform conventions and image pyramid.
//! - `dlib_format`: the reader for dlib's serialization format.
//! - [`error`]: typed errors.

pub mod chip;
pub mod detector;
mod dlib_format;
pub mod error;
pub mod gallery;
pub mod geometry;
pub mod hog;
pub mod imageio;
pub mod landmarks;
pub mod models;
// The only unsafe code in the workspace, which otherwise denies it ([workspace.lints]):
// `nn` calls gemm's kernels into buffers it sizes itself; `pyramid` and `hog`'s `fhog`
// and `filter` use SIMD intrinsics behind runtime CPU feature checks.
#[allow(unsafe_code)]
mod nn;
#[allow(unsafe_code)] // SIMD intrinsics (see `nn` above)
pub mod pyramid;
pub mod resnet;
pub mod retinaface;

pub use chip::{extract_chip, face_chip_details, ChipDetails};
pub use detector::Detector;
pub use error::{EngineError, ImageError, ModelError};
pub use gallery::{face_distance, match_faces, Gallery, Match, DEFAULT_TOLERANCE};
pub use geometry::{Point, Rect};
pub use image::RgbImage;
pub use imageio::{decode_image, load_image, LoadOptions};
pub use models::ModelPaths;

use hog::HogDetector;
use landmarks::ShapePredictor;
use rayon::prelude::*;
use resnet::FaceResNet;
use retinaface::RetinaFace;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A 128-d face embedding (dlib's descriptor).
pub type Embedding = [f32; resnet::DESCRIPTOR_LEN];

/// Padding face_recognition (dlib's `compute_face_descriptor`) puts around the face chip.
pub const CHIP_PADDING: f64 = 0.25;
/// Side of an aligned chip.
pub const CHIP_SIZE: u32 = resnet::CHIP_SIZE as u32;

/// One encoded face.
#[derive(Debug, Clone)]
pub struct Face {
    /// The face's box (dlib coordinates, inclusive): for [`Engine::encode_image`] the
    /// detector's box clipped to the image, as face_recognition's `face_locations`.
    pub rect: Rect,
    /// The 5 landmarks: right eye outer/inner, left eye outer/inner, nose (dlib's order).
    pub landmarks: Vec<Point>,
    pub embedding: Embedding,
}

/// The loaded models. Cheap to share (`&Engine` across threads).
pub struct Engine {
    resnet: FaceResNet,
    shape_predictor: ShapePredictor,
    hog: HogDetector,
    /// RetinaFace is loaded the first time it is asked for (optimising it takes longer
    /// than loading everything else), once, whichever thread asks first.
    retinaface: OnceLock<Result<RetinaFace, String>>,
    retinaface_path: PathBuf,
}

impl Engine {
    /// Load the embedding, landmark and HOG models (in parallel).
    pub fn load(paths: &ModelPaths) -> Result<Self, ModelError> {
        let hog_bytes = models::read_model(&paths.hog, models::HOG_FILE)?;
        let ((resnet, sp), hog) = rayon::join(
            || {
                rayon::join(
                    || {
                        let bytes = models::read_model(&paths.resnet, models::RESNET_FILE)?;
                        FaceResNet::from_bytes(&bytes)
                    },
                    || {
                        let bytes = models::read_model(
                            &paths.shape_predictor,
                            models::SHAPE_PREDICTOR_FILE,
                        )?;
                        ShapePredictor::from_bytes(&bytes)
                    },
                )
            },
            || HogDetector::from_bytes(&hog_bytes),
        );
        let shape_predictor = sp?;
        if shape_predictor.num_parts() != 5 {
            return Err(ModelError::Corrupt {
                model: models::SHAPE_PREDICTOR_FILE,
                offset: 0,
                detail: format!(
                    "expected 5 landmarks, model has {}",
                    shape_predictor.num_parts()
                ),
            });
        }
        Ok(Engine {
            resnet: resnet?,
            shape_predictor,
            hog: hog?,
            retinaface: OnceLock::new(),
            retinaface_path: paths.retinaface.clone(),
        })
    }

    /// Make sure `detector` can run: loads RetinaFace's network (at its default size) on
    /// first use. Detecting calls this; call it up front to fail early.
    pub fn prepare(&self, detector: Detector) -> Result<(), ModelError> {
        self.retinaface_for(detector).map(|_| ())
    }

    fn retinaface_for(&self, detector: Detector) -> Result<Option<&RetinaFace>, ModelError> {
        if detector != Detector::RetinaFace {
            return Ok(None);
        }
        let loaded = self.retinaface.get_or_init(|| {
            models::read_model(&self.retinaface_path, models::RETINAFACE_FILE)
                .and_then(|bytes| RetinaFace::from_bytes(&bytes, retinaface::DEFAULT_SIZE))
                .map_err(|e| e.to_string())
        });
        match loaded {
            Ok(r) => Ok(Some(r)),
            Err(detail) => Err(ModelError::Unusable {
                model: models::RETINAFACE_FILE,
                detail: detail.clone(),
            }),
        }
    }

    /// Find faces, in face_recognition's order, boxes clipped as `_trim_css_to_bounds`
    /// does. Fails only if the detector's model cannot be loaded.
    pub fn detect(&self, img: &RgbImage, detector: Detector) -> Result<Vec<Rect>, ModelError> {
        let retinaface = self.retinaface_for(detector)?;
        Ok(detector::detect_raw(&self.hog, retinaface, img, detector)
            .into_iter()
            .map(|r| detector::trim_to_bounds(r, img.width(), img.height()))
            .collect())
    }

    /// The HOG detector, for raw detections with scores.
    pub fn hog(&self) -> &HogDetector {
        &self.hog
    }

    /// Detect, then encode every face: face_recognition's `face_encodings(img)` (what its
    /// command line runs). As there, the landmarks are placed on the detector's own
    /// rectangles, which may reach past the image's edge; each [`Face::rect`] is the box
    /// clipped as `face_locations` reports it. (`face_encodings(img, face_locations(img))`,
    /// landmarks on the clipped boxes, is [`Engine::encode_faces`] with [`Engine::detect`]'s
    /// boxes; the two differ only for faces cut by the edge.)
    pub fn encode_image(
        &self,
        img: &RgbImage,
        detector: Detector,
    ) -> Result<Vec<Face>, ModelError> {
        let retinaface = self.retinaface_for(detector)?;
        let raw = detector::detect_raw(&self.hog, retinaface, img, detector);
        Ok(raw
            .par_iter()
            .map(|&rect| {
                let mut face = self.encode_face(img, rect);
                face.rect = detector::trim_to_bounds(rect, img.width(), img.height());
                face
            })
            .collect())
    }

    /// The RetinaFace network itself (loaded on first use), for raw detections with
    /// scores and the network's own landmarks.
    pub fn retinaface(&self) -> Result<&RetinaFace, ModelError> {
        Ok(self
            .retinaface_for(Detector::RetinaFace)?
            .expect("asked for RetinaFace"))
    }

    fn encode_face(&self, img: &RgbImage, rect: Rect) -> Face {
        let landmarks = self.landmarks(img, rect);
        let chip = self.face_chip(img, &landmarks);
        let embedding = self.resnet.descriptor(chip.as_raw());
        Face {
            rect,
            landmarks,
            embedding,
        }
    }

    /// The 5 landmarks of the face in `rect`.
    pub fn landmarks(&self, img: &RgbImage, rect: Rect) -> Vec<Point> {
        self.shape_predictor.predict(img, rect)
    }

    /// The aligned 150×150 chip for 5 landmarks (dlib's padding 0.25).
    pub fn face_chip(&self, img: &RgbImage, landmarks: &[Point]) -> RgbImage {
        extract_chip(img, &face_chip_details(landmarks, CHIP_SIZE, CHIP_PADDING))
    }

    /// Embed one aligned chip.
    pub fn encode_chip(&self, chip: &RgbImage) -> Result<Embedding, ImageError> {
        if chip.width() != CHIP_SIZE || chip.height() != CHIP_SIZE {
            return Err(ImageError::NotAChip {
                expected: CHIP_SIZE,
                width: chip.width(),
                height: chip.height(),
            });
        }
        Ok(self.resnet.descriptor(chip.as_raw()))
    }

    /// Embed many aligned chips in parallel (rayon), in order.
    pub fn encode_batch(&self, chips: &[RgbImage]) -> Result<Vec<Embedding>, ImageError> {
        chips.par_iter().map(|c| self.encode_chip(c)).collect()
    }

    /// Landmarks, chip and embedding for each box (what `face_encodings(img, boxes)` does).
    pub fn encode_faces(&self, img: &RgbImage, boxes: &[Rect]) -> Vec<Face> {
        boxes
            .par_iter()
            .map(|&rect| self.encode_face(img, rect))
            .collect()
    }
}
