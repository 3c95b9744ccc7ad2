//! Points, rectangles and the similarity transform, with dlib's conventions (inclusive
//! rectangle corners, Umeyama's least-squares similarity).

use serde::{Deserialize, Serialize};

/// An integer pixel position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

/// A rectangle with inclusive corners, as dlib's `rectangle` (so width = right - left + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub left: i64,
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
}

impl Rect {
    pub fn width(&self) -> i64 {
        (self.right - self.left + 1).max(0)
    }
    pub fn height(&self) -> i64 {
        (self.bottom - self.top + 1).max(0)
    }
    pub fn area(&self) -> i64 {
        self.width() * self.height()
    }
    pub fn intersect(&self, o: &Rect) -> Rect {
        Rect {
            left: self.left.max(o.left),
            top: self.top.max(o.top),
            right: self.right.min(o.right),
            bottom: self.bottom.min(o.bottom),
        }
    }
    /// Intersection over union, with dlib's inclusive-pixel areas.
    pub fn iou(&self, o: &Rect) -> f64 {
        let i = self.intersect(o).area() as f64;
        let u = (self.area() + o.area()) as f64 - i;
        if u <= 0.0 {
            0.0
        } else {
            i / u
        }
    }
    /// face_recognition's `(top, right, bottom, left)` order.
    pub fn css(&self) -> [i64; 4] {
        [self.top, self.right, self.bottom, self.left]
    }
}

/// Least-squares similarity transform (rotation, uniform scale, translation) mapping
/// `from` points onto `to` points (Umeyama 1991, as dlib's `find_similarity_transform`).
/// Points are flattened `x0, y0, x1, y1, …`. Returns `([m00, m01, m10, m11], [tx, ty])`.
pub(crate) fn similarity_transform_full(from: &[f64], to: &[f64]) -> ([f64; 4], [f64; 2]) {
    let n = (from.len() / 2) as f64;
    let mean = |v: &[f64]| {
        let (mut x, mut y) = (0.0, 0.0);
        for p in v.chunks_exact(2) {
            x += p[0];
            y += p[1];
        }
        (x / n, y / n)
    };
    let (mfx, mfy) = mean(from);
    let (mtx, mty) = mean(to);
    let (mut sigma_from, mut c00, mut c01, mut c10, mut c11) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (f, t) in from.chunks_exact(2).zip(to.chunks_exact(2)) {
        let (fx, fy, tx, ty) = (f[0] - mfx, f[1] - mfy, t[0] - mtx, t[1] - mty);
        sigma_from += fx * fx + fy * fy;
        c00 += tx * fx;
        c01 += tx * fy;
        c10 += ty * fx;
        c11 += ty * fy;
    }
    sigma_from /= n;
    let (c00, c01, c10, c11) = (c00 / n, c01 / n, c10 / n, c11 / n);
    // In 2-D the best proper rotation maximises cos·(c00+c11) + sin·(c10−c01); the SVD
    // trace term trace(D·S) equals that maximum.
    let (a, b) = (c00 + c11, c10 - c01);
    let norm = (a * a + b * b).sqrt();
    let (cos, sin) = if norm > 0.0 {
        (a / norm, b / norm)
    } else {
        (1.0, 0.0)
    };
    let scale = if sigma_from != 0.0 {
        norm / sigma_from
    } else {
        1.0
    };
    let m = [scale * cos, -scale * sin, scale * sin, scale * cos];
    let t = [
        mtx - (m[0] * mfx + m[1] * mfy),
        mty - (m[2] * mfx + m[3] * mfy),
    ];
    (m, t)
}

/// The linear part of [`similarity_transform_full`] for f32 shapes.
pub(crate) fn similarity_transform(from: &[f32], to: &[f32]) -> [f64; 4] {
    let f: Vec<f64> = from.iter().map(|v| *v as f64).collect();
    let t: Vec<f64> = to.iter().map(|v| *v as f64).collect();
    similarity_transform_full(&f, &t).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_similarity() {
        let from = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 3.0];
        let (s, a, tx, ty) = (2.5f64, 0.3f64, 4.0, -1.0);
        let mut to = Vec::new();
        for p in from.chunks(2) {
            to.push(s * (a.cos() * p[0] - a.sin() * p[1]) + tx);
            to.push(s * (a.sin() * p[0] + a.cos() * p[1]) + ty);
        }
        let (m, t) = similarity_transform_full(&from, &to);
        assert!((m[0] - s * a.cos()).abs() < 1e-12 && (m[2] - s * a.sin()).abs() < 1e-12);
        assert!((t[0] - tx).abs() < 1e-12 && (t[1] - ty).abs() < 1e-12);
    }

    #[test]
    fn iou_uses_inclusive_pixels() {
        let a = Rect {
            left: 0,
            top: 0,
            right: 9,
            bottom: 9,
        };
        let b = Rect {
            left: 5,
            top: 0,
            right: 14,
            bottom: 9,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
    }
}
