//! Face detection as face_recognition does it: which detector, and the box clipping
//! (`_trim_css_to_bounds`) it applies. The detectors themselves are in [`crate::hog`] and
//! [`crate::retinaface`].

use crate::geometry::Rect;
use crate::hog::HogDetector;
use crate::retinaface::RetinaFace;
use image::RgbImage;

/// Which detector to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// dlib's HOG frontal face detector (face_recognition's default), after upsampling the
    /// image `upsample` times by 2 (face_recognition's default is 1).
    Hog { upsample: u32 },
    /// RetinaFace (MobileNet-0.25), the accurate detector for hard photos: turned, small
    /// or partly hidden faces. Its boxes are the ones dlib's HOG detector would draw
    /// around the faces it finds ([`RetinaFace::dlib_box`]), so landmarks, chips and
    /// embeddings are computed exactly as for HOG's. Detections whose landmarks are not
    /// laid out like a person's (an animal's face) are dropped
    /// ([`crate::retinaface::FaceGeometry::is_plausible`]).
    RetinaFace,
}

impl Default for Detector {
    fn default() -> Self {
        Detector::Hog { upsample: 1 }
    }
}

/// The detector's own rectangles, strongest first, not clipped (they may pass the edge).
/// `retinaface` is the loaded network when `detector` asks for it.
pub(crate) fn detect_raw(
    hog: &HogDetector,
    retinaface: Option<&RetinaFace>,
    img: &RgbImage,
    detector: Detector,
) -> Vec<Rect> {
    match detector {
        Detector::Hog { upsample } => hog
            .detect_upsampled(img, upsample)
            .into_iter()
            .map(|d| d.rect)
            .collect(),
        Detector::RetinaFace => retinaface
            .expect("the engine loads RetinaFace before detecting with it")
            .detect_faces(img, crate::retinaface::DEFAULT_THRESHOLD)
            .iter()
            .map(RetinaFace::dlib_box)
            .collect(),
    }
}

/// face_recognition's `_trim_css_to_bounds`: clip a box to the image. Note it clips the
/// right/bottom edge to the width/height (one past the last pixel), not width-1.
pub fn trim_to_bounds(r: Rect, width: u32, height: u32) -> Rect {
    Rect {
        top: r.top.max(0),
        right: r.right.min(width as i64),
        bottom: r.bottom.min(height as i64),
        left: r.left.max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_face_recognition() {
        let r = trim_to_bounds(
            Rect {
                left: -5,
                top: 10,
                right: 120,
                bottom: 300,
            },
            100,
            200,
        );
        assert_eq!(
            r,
            Rect {
                left: 0,
                top: 10,
                right: 100,
                bottom: 200
            }
        );
    }
}
