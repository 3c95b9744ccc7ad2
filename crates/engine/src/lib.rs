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
//! Batches: [`Engine::encode_batch`] embeds many chips, several at a time through the
//! network (one GEMM per convolution for the batch), batches on rayon's pool;
//! [`Engine::encode_image`] and [`Engine::encode_faces`] batch all faces of a photo the same
//! way. The engine is `Send + Sync`, share one behind an `Arc`.
//!
//! ## Layout
//! - [`models`]: where model files are found ([`ModelPaths::discover`]).
//! - [`imageio`]: decoding (JPEG incl. CMYK, PNG, WebP, GIF, BMP, TIFF), EXIF orientation,
//!   pixel limit.
//! - [`detector`]: which detector ([`Detector`]) and face_recognition's box clipping.
//! - [`hog`]: dlib's HOG face detector (fhog features, 5/6 image pyramid, 5 filters, NMS).
//! - [`retinaface`] (feature `retinaface`, default): the accurate detector, on tract.
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
// `nn` calls gemm's kernels into buffers it sizes itself; `pyramid` and `hog`'s `fhog`,
// `votes` and `filter` use SIMD intrinsics behind runtime CPU feature checks.
#[allow(unsafe_code)]
mod nn;
#[allow(unsafe_code)] // SIMD intrinsics (see `nn` above)
pub mod pyramid;
pub mod resnet;
#[cfg(feature = "retinaface")]
pub mod retinaface;
#[cfg(not(feature = "retinaface"))]
pub mod retinaface {
    //! Built without the `retinaface` feature (no tract: `make demo`'s HOG-only build).
    //! The detector keeps its name, so jobs and flags that ask for it parse, but loading
    //! it is a one-line error.
    use crate::error::ModelError;
    use crate::geometry::Rect;
    use image::RgbImage;

    pub const RETINAFACE_FILE: &str = "retinaface_mnet025.onnx";
    pub const DEFAULT_SIZE: usize = 640;
    pub const DEFAULT_THRESHOLD: f32 = 0.9;

    /// No value exists: [`RetinaFace::from_bytes`] always fails.
    pub enum RetinaFace {}
    pub enum RetinaDetection {}

    impl RetinaFace {
        pub fn from_bytes(_onnx: &[u8], _size: usize) -> Result<Self, ModelError> {
            Err(ModelError::Unusable {
                model: RETINAFACE_FILE,
                detail: "this build has no RetinaFace (cargo feature `retinaface`; \
                         `make install` builds a facerec with it)"
                    .into(),
            })
        }
        pub fn detect_faces(&self, _img: &RgbImage, _threshold: f32) -> Vec<RetinaDetection> {
            match *self {}
        }
        pub fn dlib_box(d: &RetinaDetection) -> Rect {
            match *d {}
        }
    }
}

pub use chip::{extract_chip, face_chip_details, ChipDetails};
pub use detector::Detector;
pub use error::{EngineError, ImageError, ModelError};
pub use gallery::{face_distance, match_faces, Gallery, Match, DEFAULT_TOLERANCE};
pub use geometry::{Point, Rect};
pub use image::RgbImage;
pub use imageio::{
    decode_image, decode_image_draft, load_image, sniff_format, Draft, LoadOptions,
    IMAGE_EXTENSIONS,
};
pub use models::ModelPaths;

use hog::HogDetector;
use landmarks::ShapePredictor;
use rayon::prelude::*;
use resnet::FaceResNet;
use retinaface::RetinaFace;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A 128-d face embedding: the project's one word for it. dlib calls it a face
/// descriptor and face_recognition an encoding; only face_recognition-compatible output
/// (`encode`, the gallery's and the job's `encoding` fields) keeps that word.
pub type Embedding = [f32; resnet::EMBEDDING_LEN];

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
        let mut faces = self.encode_rects(img, &raw);
        for face in &mut faces {
            face.rect = detector::trim_to_bounds(face.rect, img.width(), img.height());
        }
        Ok(faces)
    }

    /// The RetinaFace network itself (loaded on first use), for raw detections with
    /// scores and the network's own landmarks.
    pub fn retinaface(&self) -> Result<&RetinaFace, ModelError> {
        Ok(self
            .retinaface_for(Detector::RetinaFace)?
            .expect("asked for RetinaFace"))
    }

    /// Landmarks and chips in parallel (one face per task), then the embeddings of all
    /// the faces in batches ([`Engine::embed`]).
    fn encode_rects(&self, img: &RgbImage, rects: &[Rect]) -> Vec<Face> {
        let aligned: Vec<(Vec<Point>, RgbImage)> = rects
            .par_iter()
            .map(|&rect| {
                let landmarks = self.landmarks(img, rect);
                let chip = self.face_chip(img, &landmarks);
                (landmarks, chip)
            })
            .collect();
        let chips: Vec<&[u8]> = aligned.iter().map(|(_, c)| c.as_raw().as_slice()).collect();
        let embeddings = self.embed(&chips);
        rects
            .iter()
            .zip(aligned)
            .zip(embeddings)
            .map(|((&rect, (landmarks, _)), embedding)| Face {
                rect,
                landmarks,
                embedding,
            })
            .collect()
    }

    /// Embed 150×150 RGB chips (checked by the callers), in order: batches of up to
    /// [`resnet::MAX_BATCH`] chips go through the network together (one GEMM per
    /// convolution for the whole batch), the batches spread over rayon's threads.
    fn embed(&self, chips: &[&[u8]]) -> Vec<Embedding> {
        if chips.is_empty() {
            return Vec::new();
        }
        let per_task = chips
            .len()
            .div_ceil(rayon::current_num_threads())
            .clamp(1, resnet::MAX_BATCH);
        chips
            .par_chunks(per_task)
            .flat_map_iter(|batch| self.resnet.embeddings(batch))
            .collect()
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
        Ok(self.resnet.embedding(chip.as_raw()))
    }

    /// Embed many aligned chips, in order: in batches through the network (each
    /// convolution one GEMM over a batch), the batches in parallel on rayon's pool.
    /// Same embeddings as [`Engine::encode_chip`] one at a time, at about half the CPU.
    pub fn encode_batch(&self, chips: &[RgbImage]) -> Result<Vec<Embedding>, ImageError> {
        for chip in chips {
            if chip.width() != CHIP_SIZE || chip.height() != CHIP_SIZE {
                return Err(ImageError::NotAChip {
                    expected: CHIP_SIZE,
                    width: chip.width(),
                    height: chip.height(),
                });
            }
        }
        let raw: Vec<&[u8]> = chips.iter().map(|c| c.as_raw().as_slice()).collect();
        Ok(self.embed(&raw))
    }

    /// Landmarks, chip and embedding for each box (what `face_encodings(img, boxes)` does);
    /// the faces' embeddings are computed as one batch ([`Engine::encode_batch`]).
    pub fn encode_faces(&self, img: &RgbImage, boxes: &[Rect]) -> Vec<Face> {
        self.encode_rects(img, boxes)
    }
}
