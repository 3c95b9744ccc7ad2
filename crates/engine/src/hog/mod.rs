//! dlib's HOG frontal face detector (`get_frontal_face_detector()`, face_recognition's
//! default): `object_detector<scan_fhog_pyramid<pyramid_down<6>>>` with five linear
//! filters over Felzenszwalb HOG ("fhog") features, scanned over an image pyramid, followed
//! by dlib's greedy non-maximum suppression.

// Bin and lane loops index several parallel arrays, mirroring dlib's code for auditability.
#![allow(clippy::needless_range_loop)]

use crate::dlib_format::DlibReader;
use crate::error::ModelError;
use crate::geometry::Rect;
use crate::pyramid::{pyramid_down6_planes_into, pyramid_up2_planes, Planes};
use image::RgbImage;

#[allow(unsafe_code)] // SIMD intrinsics behind runtime feature checks
mod fhog;
#[allow(unsafe_code)] // SIMD intrinsics behind runtime feature checks
mod filter;
#[cfg(test)]
mod reference;
#[allow(unsafe_code)] // SIMD intrinsics behind runtime feature checks
mod votes;

use fhog::{fhog_planes_with, FhogBuffers, PLANES};

/// The loaded detector.
pub struct HogDetector {
    cell_size: usize,
    filter_h: usize,
    filter_w: usize,
    max_levels: usize,
    min_level_w: i64,
    min_level_h: i64,
    iou_thresh: f64,
    covered_thresh: f64,
    /// Per detector: its separable filter bank and threshold (bias).
    filters: Vec<(FilterBank, f64)>,
}

/// dlib's `fhog_filterbank`: each plane's filter as a sum of rank-1 (column × row) terms
/// from its SVD, dropping singular values below max(1e-4, 0.1% of the largest). dlib
/// scans with this approximation whenever it is cheaper, as it is for the face detector,
/// so we do too (scores then agree to ~1e-5, not ~1e-2).
struct FilterBank {
    /// For each plane, its (column filter, row filter) pairs.
    planes: Vec<Vec<(Vec<f32>, Vec<f32>)>>,
}

impl FilterBank {
    fn new(w: &[f64], fh: usize, fw: usize) -> Self {
        let planes = (0..PLANES)
            .map(|p| {
                let f = &w[p * fh * fw..(p + 1) * fh * fw];
                let (u, sv, v) = svd(f, fh, fw);
                let max = sv.iter().cloned().fold(0.0, f64::max);
                let thresh = (max * 0.001).max(1e-4);
                let mut terms = Vec::new();
                for (j, s) in sv.iter().enumerate() {
                    if s.abs() >= thresh {
                        let k = s.sqrt();
                        let col = (0..fh)
                            .map(|i| (u[i * fw.min(fh) + j] * k) as f32)
                            .collect();
                        let row = (0..fw)
                            .map(|i| (v[i * fw.min(fh) + j] * k) as f32)
                            .collect();
                        terms.push((col, row));
                    }
                }
                terms
            })
            .collect();
        FilterBank { planes }
    }
}

/// Thin SVD of a row-major `m × n` matrix (m ≥ n) by one-sided Jacobi: returns
/// U (m × n), singular values (descending) and V (n × n), all row-major.
fn svd(a: &[f64], m: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    assert!(m >= n);
    let mut u = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut off = 0.0f64;
        for p in 0..n {
            for q in p + 1..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for i in 0..m {
                    let (x, y) = (u[i * n + p], u[i * n + q]);
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if gamma == 0.0 {
                    continue;
                }
                off = off.max(gamma.abs() / (alpha * beta).sqrt().max(f64::MIN_POSITIVE));
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..m {
                    let (x, y) = (u[i * n + p], u[i * n + q]);
                    u[i * n + p] = c * x - s * y;
                    u[i * n + q] = s * x + c * y;
                }
                for i in 0..n {
                    let (x, y) = (v[i * n + p], v[i * n + q]);
                    v[i * n + p] = c * x - s * y;
                    v[i * n + q] = s * x + c * y;
                }
            }
        }
        if off < 1e-15 {
            break;
        }
    }
    let mut sv: Vec<f64> = (0..n)
        .map(|j| {
            (0..m)
                .map(|i| u[i * n + j] * u[i * n + j])
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    for j in 0..n {
        if sv[j] > 0.0 {
            for i in 0..m {
                u[i * n + j] /= sv[j];
            }
        }
    }
    // Sort columns by singular value, descending.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| sv[b].total_cmp(&sv[a]));
    let pick = |mat: &[f64], rows: usize| {
        let mut out = vec![0.0; rows * n];
        for i in 0..rows {
            for (jn, &jo) in order.iter().enumerate() {
                out[i * n + jn] = mat[i * n + jo];
            }
        }
        out
    };
    let (u2, v2) = (pick(&u, m), pick(&v, n));
    sv = order.iter().map(|&j| sv[j]).collect();
    (u2, sv, v2)
}

/// One raw detection, in the coordinates of the image given to [`HogDetector::detect`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub rect: Rect,
    pub score: f64,
    pub weight_index: usize,
}

fn div_trunc(a: i64, b: i64) -> i64 {
    a / b // Rust integer division truncates toward zero, like C++
}

impl HogDetector {
    pub fn from_bytes(data: &[u8]) -> Result<Self, ModelError> {
        let mut r = DlibReader::new(data, "hog_frontal_face_detector.svm");
        r.expect_int(2, "object_detector version")?;
        r.expect_int(1, "scan_fhog_pyramid version")?;
        // feats: an empty dlib::array (max_size, size)
        r.size()?;
        if r.size()? != 0 {
            return Err(r.error("saved scanner unexpectedly holds feature images"));
        }
        let cell_size = r.size()?;
        let padding = r.size()? as i64;
        let (ww, wh) = (r.size()? as i64, r.size()? as i64);
        let max_levels = r.size()?;
        let (min_level_w, min_level_h) = (r.size()? as i64, r.size()? as i64);
        r.float()?; // nuclear norm regularisation (training only)
        let dims = r.size()?;
        if cell_size == 0 || cell_size > 64 || ww <= 0 || wh <= 0 {
            return Err(r.error("bad scanner geometry"));
        }
        // compute_fhog_window_size: the window's extent in fhog cells, grown by padding.
        let cs = cell_size as i64;
        let to_fhog = |p: i64| div_trunc(p - 1, cs) - 1;
        let (l, t) = (-(ww / 2), -(wh / 2));
        let (rr, b) = (l + ww - 1, t + wh - 1);
        let filter_w = (to_fhog(rr) - to_fhog(l) + 1 + 2 * padding) as usize;
        let filter_h = (to_fhog(b) - to_fhog(t) + 1 + 2 * padding) as usize;
        if padding != 0 {
            return Err(r.error("only padding 0 scanners are supported"));
        }
        if dims != filter_w * filter_h * PLANES {
            return Err(r.error(format!(
                "{dims} dimensions, expected {}",
                filter_w * filter_h * PLANES
            )));
        }
        let iou_thresh = r.float()?;
        let covered_thresh = r.float()?;
        let n = r.size()?;
        if n == 0 || n > 64 {
            return Err(r.error(format!("{n} detectors")));
        }
        let mut filters = Vec::with_capacity(n);
        for _ in 0..n {
            let (nr, nc, w) = r.float_matrix_f64()?;
            if nr != dims + 1 || nc != 1 {
                return Err(r.error(format!("weight vector {nr}x{nc}, expected {}x1", dims + 1)));
            }
            let bias = w[dims];
            filters.push((FilterBank::new(&w[..dims], filter_h, filter_w), bias));
        }
        if !r.at_end() {
            return Err(r.error("trailing bytes after the detector"));
        }
        Ok(HogDetector {
            cell_size,
            filter_h,
            filter_w,
            max_levels,
            min_level_w,
            min_level_h,
            iou_thresh,
            covered_thresh,
            filters,
        })
    }

    /// face_recognition's `face_detector(img, upsample)`: upsample `upsample` times with
    /// `pyramid_up`, detect with threshold adjustment 0, map boxes back. Boxes are dlib
    /// rectangles (not yet trimmed to the image), strongest first.
    pub fn detect_upsampled(&self, img: &RgbImage, upsample: u32) -> Vec<Detection> {
        let mut planes = Planes::from_rgb(img);
        for _ in 0..upsample {
            planes = pyramid_up2_planes(&planes);
        }
        let mut dets = self.detect_planes(&planes, 0.0);
        for d in &mut dets {
            // pyramid_down<2>::rect_down, `upsample` times, then round to a rectangle.
            let down = |mut x: f64, off: f64| {
                for _ in 0..upsample {
                    x = x / 2.0 - off;
                }
                (x + 0.5).floor() as i64
            };
            d.rect = Rect {
                left: down(d.rect.left as f64, 1.25),
                top: down(d.rect.top as f64, 0.75),
                right: down(d.rect.right as f64, 1.25),
                bottom: down(d.rect.bottom as f64, 0.75),
            };
        }
        dets
    }

    /// dlib's `object_detector::operator()(img, dets, adjust_threshold)`.
    pub fn detect(&self, img: &RgbImage, adjust_threshold: f64) -> Vec<Detection> {
        self.detect_planes(&Planes::from_rgb(img), adjust_threshold)
    }

    fn detect_planes(&self, img: &Planes, adjust_threshold: f64) -> Vec<Detection> {
        // The pyramid: level 0 is the image itself, each next one 5/6 the size, while the
        // (rounded) mapped rectangle stays at least min_level in both sides.
        let mut levels = 0usize;
        let (mut rw, mut rh) = (img.w as f64 - 1.0, img.h as f64 - 1.0);
        let (mut l, mut t) = (0.0f64, 0.0f64);
        loop {
            // dlib's point_down: (p - 0.3) · ratio with ratio = (N - 1) / N computed first.
            let down = |p: f64| (p - 0.3) * (5.0 / 6.0);
            l = down(l);
            t = down(t);
            rw = down(rw);
            rh = down(rh);
            levels += 1;
            let round = |v: f64| (v + 0.5).floor() as i64;
            let (w, h) = (round(rw) - round(l) + 1, round(rh) - round(t) + 1);
            // dlib assigns the rect back to an integer rectangle each step.
            l = round(l) as f64;
            t = round(t) as f64;
            rw = round(rw) as f64;
            rh = round(rh) as f64;
            if !(w >= self.min_level_w && h >= self.min_level_h && levels < self.max_levels) {
                break;
            }
        }
        // Level by level, keeping two pyramid images and one features buffer (memory stays
        // near one up-sampled image's worth); the filters run in parallel over bands of
        // rows. Each level is resized into the buffer the level before last used, and the
        // features reuse theirs: levels only shrink, so only the first ones allocate.
        let mut per_filter: Vec<Vec<(f64, Rect)>> = vec![Vec::new(); self.filters.len()];
        let mut images = [Planes::new(0, 0), Planes::new(0, 0)];
        let mut bufs = FhogBuffers::default();
        for level in 0..levels {
            let im = match level {
                0 => img,
                1 => {
                    pyramid_down6_planes_into(img, &mut images[1]);
                    &images[1]
                }
                _ => {
                    let [a, b] = &mut images;
                    let (src, dst) = if level % 2 == 0 { (&*b, a) } else { (&*a, b) };
                    pyramid_down6_planes_into(src, dst);
                    &images[level % 2]
                }
            };
            let pad = (self.filter_h, self.filter_w);
            let f = fhog_planes_with(im, self.cell_size, pad, &mut bufs);
            let banks: Vec<&FilterBank> = self.filters.iter().map(|(b, _)| b).collect();
            let sals = filter::saliencies(&f, &banks, self.filter_h, self.filter_w);
            bufs.recycle(f);
            let found: Vec<Vec<(f64, Rect)>> = sals
                .iter()
                .zip(&self.filters)
                .map(|(sal, (_, bias))| {
                    let thresh = bias + adjust_threshold;
                    let mut out = Vec::new();
                    for r in 0..sal.rows {
                        for c in 0..sal.cols {
                            let s = sal.at(r, c) as f64;
                            if s >= thresh {
                                let (fr, fc) = ((sal.first_r + r) as i64, (sal.first_c + c) as i64);
                                out.push((s, self.to_image_rect(fr, fc, level)));
                            }
                        }
                    }
                    out
                })
                .collect();
            for (acc, mut dets) in per_filter.iter_mut().zip(found) {
                acc.append(&mut dets);
            }
        }
        let mut all = Vec::new();
        for (wi, (mut dets, (_, bias))) in per_filter.into_iter().zip(&self.filters).enumerate() {
            dets.sort_by(|a, b| b.0.total_cmp(&a.0));
            all.extend(dets.into_iter().map(|(s, rect)| Detection {
                rect,
                score: s - bias,
                weight_index: wi,
            }));
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<Detection> = Vec::new();
        for d in all {
            if !kept.iter().any(|k| self.overlaps(&k.rect, &d.rect)) {
                kept.push(d);
            }
        }
        kept
    }

    /// dlib's `test_box_overlap`: IoU against the bounding box of both, or either box
    /// mostly covered.
    fn overlaps(&self, a: &Rect, b: &Rect) -> bool {
        let inner = a.intersect(b).area() as f64;
        if inner == 0.0 {
            return false;
        }
        let outer = Rect {
            left: a.left.min(b.left),
            top: a.top.min(b.top),
            right: a.right.max(b.right),
            bottom: a.bottom.max(b.bottom),
        }
        .area() as f64;
        inner / outer > self.iou_thresh
            || inner / a.area() as f64 > self.covered_thresh
            || inner / b.area() as f64 > self.covered_thresh
    }

    /// Map a saliency position at a pyramid level to an image rectangle.
    fn to_image_rect(&self, r: i64, c: i64, level: usize) -> Rect {
        let (bw, bh) = (self.filter_w as i64, self.filter_h as i64);
        // centered_rect(point(c, r), w, h)
        let (l, t) = (c - bw / 2, r - bh / 2);
        let (rr, b) = (l + bw - 1, t + bh - 1);
        let cs = self.cell_size as i64;
        let (offx, offy) = ((bw - 1) / 2, (bh - 1) / 2);
        // fhog_to_image: the offset's signs follow the point's signs.
        let to_img = |x: i64, y: i64| {
            let px = (x + 1 - offx) * cs + 1;
            let py = (y + 1 - offy) * cs + 1;
            let ox = if px >= 0 { cs / 2 } else { -cs / 2 };
            let oy = if py >= 0 { cs / 2 } else { -cs / 2 };
            (px + ox, py + oy)
        };
        let (x0, y0) = to_img(l, t);
        let (x1, y1) = to_img(rr, b);
        // pyramid_down<6>::rect_up, `level` times: p · ratio + 0.3 with ratio = N / (N - 1)
        // as one double (1.2, inexact: multiplying by 6 then dividing by 5 rounds differently
        // and moved a box edge by a pixel), then round.
        let up = |mut v: f64| {
            for _ in 0..level {
                v = v * (6.0 / 5.0) + 0.3;
            }
            (v + 0.5).floor() as i64
        };
        Rect {
            left: up(x0 as f64),
            top: up(y0 as f64),
            right: up(x1 as f64),
            bottom: up(y1 as f64),
        }
    }
}
